//! IPv6-safe `host[:port]` (F3). The Python libraries split on `:` and crash on `[fd00::1]:80`,
//! and print IPv6 addresses unbracketed (`fd00::1:7070`), which no client can parse.
//! Here an IPv6 host is always printed in brackets, and parsing accepts the bracketed form.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// A host: an IP address or a name. Names are checked only for characters that would make the
/// `host:port` text ambiguous; anything else is the resolver's business.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A DNS name or anything else without address syntax.
    Name(String),
}

impl Host {
    /// Parses a host without a port: `10.0.0.1`, `fd00::1`, `[fd00::1]`, `zinc-0.zinc`.
    pub fn parse(text: &str) -> Result<Host, HostPortError> {
        Ok(match Host::classify(text)? {
            Some(ip) => Host::Ip(ip),
            None => Host::Name(text.to_owned()),
        })
    }

    /// Checks a host without allocating: `Some(ip)` for an address, `None` for a valid name.
    pub fn classify(text: &str) -> Result<Option<IpAddr>, HostPortError> {
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| HostPortError::new(text, "unclosed '['"))?;
            return inner
                .parse::<Ipv6Addr>()
                .map(|ip| Some(IpAddr::V6(ip)))
                .map_err(|_| HostPortError::new(text, "brackets must hold an IPv6 address"));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Some(ip));
        }
        if text.is_empty() {
            return Err(HostPortError::new(text, "empty host"));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "/:[]@?#".contains(*c))
        {
            return Err(HostPortError::new(
                text,
                format!(
                    "host contains {bad:?} (an IPv6 address with a port needs brackets: [addr]:port)"
                ),
            ));
        }
        Ok(None)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// A host with an optional port. A missing port is allowed: Parca applies the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// The host.
    pub host: Host,
    /// The port, if given.
    pub port: Option<u16>,
}

impl HostPort {
    /// A host with a port.
    pub fn new(host: Host, port: u16) -> Self {
        HostPort {
            host,
            port: Some(port),
        }
    }
}

impl FromStr for HostPort {
    type Err = HostPortError;

    /// `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address (no port).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.starts_with('[') {
            let close = text
                .find(']')
                .ok_or_else(|| HostPortError::new(text, "unclosed '['"))?;
            let host = Host::parse(&text[..=close])?;
            let port = match &text[close + 1..] {
                "" => None,
                rest => Some(parse_port(
                    text,
                    rest.strip_prefix(':')
                        .ok_or_else(|| HostPortError::new(text, "expected ':port' after ']'"))?,
                )?),
            };
            return Ok(HostPort { host, port });
        }
        match text.matches(':').count() {
            0 => Ok(HostPort {
                host: Host::parse(text)?,
                port: None,
            }),
            1 => {
                let (host, port) = text.split_once(':').unwrap_or((text, ""));
                Ok(HostPort {
                    host: Host::parse(host)?,
                    port: Some(parse_port(text, port)?),
                })
            }
            _ => match text.parse::<Ipv6Addr>() {
                Ok(ip) => Ok(HostPort {
                    host: Host::Ip(IpAddr::V6(ip)),
                    port: None,
                }),
                Err(_) => Err(HostPortError::new(
                    text,
                    "too many ':' (an IPv6 address with a port needs brackets: [addr]:port)",
                )),
            },
        }
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

fn parse_port(text: &str, port: &str) -> Result<u16, HostPortError> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostPortError::new(
            text,
            format!("port {port:?} is not a number from 0 to 65535"),
        ));
    }
    match port.parse() {
        Ok(0) => Err(HostPortError::new(text, "port 0 cannot be scraped")),
        Ok(port) => Ok(port),
        Err(_) => Err(HostPortError::new(
            text,
            format!("port {port} is out of range"),
        )),
    }
}

/// A scrape target as a provider writes it: `*:port` (every unit) or a fixed `host[:port]`,
/// optionally followed by a path, which the Python consumer keeps verbatim (Q-C7).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `*[:port][/path]`: one target per unit, on that unit's address.
    Wildcard {
        /// The port, if given.
        port: Option<u16>,
        /// A path suffix including its leading `/`, or empty.
        path: String,
    },
    /// A fixed address, used as is, without unit labels.
    Fixed {
        /// The address.
        addr: HostPort,
        /// A path suffix including its leading `/`, or empty.
        path: String,
    },
}

impl Target {
    /// Parses a provider's target. Whitespace around a wildcard's `*` and port is ignored, as in
    /// the Python library; a fixed target must be exact.
    pub fn parse(text: &str) -> Result<Target, HostPortError> {
        if text.contains("://") {
            return Err(HostPortError::new(
                text,
                "a target has no scheme; set the job's `scheme` instead",
            ));
        }
        let (addr, path) = match text.find('/') {
            Some(i) => text.split_at(i),
            None => (text, ""),
        };
        let trimmed = addr.trim();
        if let Some(rest) = trimmed.strip_prefix('*') {
            let rest = rest.trim_start();
            let port = match rest {
                "" => None,
                _ => Some(parse_port(
                    text,
                    rest.strip_prefix(':')
                        .ok_or_else(|| HostPortError::new(text, "expected ':port' after '*'"))?
                        .trim(),
                )?),
            };
            return Ok(Target::Wildcard {
                port,
                path: path.trim_end().to_owned(),
            });
        }
        Ok(Target::Fixed {
            addr: addr.parse()?,
            path: path.to_owned(),
        })
    }

    /// What follows a unit's address in this wildcard's per-unit targets (`:port[/path]`, or
    /// just the path without a port); `None` for a fixed target.
    pub fn unit_suffix(&self) -> Option<String> {
        match self {
            Target::Wildcard {
                port: Some(p),
                path,
            } => Some(format!(":{p}{path}")),
            Target::Wildcard { port: None, path } => Some(path.clone()),
            Target::Fixed { .. } => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Wildcard {
                port: Some(p),
                path,
            } => write!(f, "*:{p}{path}"),
            Target::Wildcard { port: None, path } => write!(f, "*{path}"),
            Target::Fixed { addr, path } => write!(f, "{addr}{path}"),
        }
    }
}

/// A `host:port` text that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address {text:?}: {reason}")]
pub struct HostPortError {
    /// The text as given.
    pub text: String,
    /// Why it is not usable.
    pub reason: String,
}

impl HostPortError {
    fn new(text: &str, reason: impl Into<String>) -> Self {
        HostPortError {
            text: text.to_owned(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn port_zero_is_refused_everywhere() {
        for text in ["*:0", "h.example:0", "[fd00::1]:0", "10.0.0.1:00"] {
            let err = Target::parse(text).unwrap_err().to_string();
            assert!(err.contains("port 0 cannot be scraped"), "{text}: {err}");
        }
        assert!(Target::parse("*:1").is_ok());
    }

    use super::*;

    fn hp(text: &str) -> HostPort {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_with_port_needs_brackets_and_prints_them() {
        let v6 = hp("[fd00::1]:7000");
        assert_eq!(v6.port, Some(7000));
        assert_eq!(v6.to_string(), "[fd00::1]:7000");
        assert_eq!(hp("fd00::1").to_string(), "[fd00::1]");
        assert_eq!(hp("[fd00::1]").port, None);
    }

    #[test]
    fn names_and_ipv4_parse_with_and_without_port() {
        assert_eq!(hp("10.0.0.1:80").to_string(), "10.0.0.1:80");
        assert_eq!(
            hp("zinc-0.zinc:4080").host,
            Host::Name("zinc-0.zinc".into())
        );
        assert_eq!(hp("host.example").port, None);
    }

    #[test]
    fn bad_addresses_are_rejected_with_a_reason() {
        for bad in [
            "h:",
            "h:99999",
            "h:x",
            "[fd00::1",
            "[10.0.0.1]:80",
            "a:b:c",
            ":80",
            "h :80",
        ] {
            let err = bad.parse::<HostPort>().unwrap_err();
            assert!(!err.reason.is_empty(), "{bad}");
        }
    }

    #[test]
    fn targets_parse_wildcards_paths_and_schemes() {
        assert_eq!(
            Target::parse(" * : 8000 ").unwrap(),
            Target::Wildcard {
                port: Some(8000),
                path: String::new()
            }
        );
        let with_path = Target::parse("*:81/pprof").unwrap();
        assert_eq!(with_path.unit_suffix().unwrap(), ":81/pprof");
        assert_eq!(Target::parse("*").unwrap().unit_suffix().unwrap(), "");
        assert_eq!(Target::parse("h:1").unwrap().unit_suffix(), None);
        assert_eq!(
            Target::parse("h.example:80/debug").unwrap().to_string(),
            "h.example:80/debug"
        );
        assert!(Target::parse("http://h:80").is_err());
        assert!(Target::parse("*:http").is_err());
    }
}
