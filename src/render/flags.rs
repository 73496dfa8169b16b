//! Command-line flags for the upstream store (parca.md A.9, B): for a Parca server scraping
//! and forwarding to it, and for a parca-agent pushing to it. The token is never on argv: it
//! goes through a file (`--bearer-token-file`), which the caller writes with mode 0600. Empty
//! values produce no flag. Pure.

use crate::interfaces::parca_store::StoreConfig;

/// The store's `insecure` value is not a boolean Go would parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("remote-store-insecure {0:?} is not a boolean (true/false)")]
pub struct BadInsecure(pub String);

fn insecure(store: &StoreConfig) -> Result<bool, BadInsecure> {
    if store.insecure.is_empty() {
        return Ok(false);
    }
    store
        .insecure_bool()
        .ok_or_else(|| BadInsecure(store.insecure.clone()))
}

/// Flags for `parca` as a scraper forwarding to the store: `--mode=scraper-only`,
/// `--store-address`, `--bearer-token-file`, `--insecure`. No address: no flags.
pub fn parca_scraper_flags(
    store: &StoreConfig,
    token_file: &str,
) -> Result<Vec<String>, BadInsecure> {
    if store.address.is_empty() {
        return Ok(Vec::new());
    }
    let mut flags = vec![
        "--mode=scraper-only".to_owned(),
        format!("--store-address={}", store.address),
    ];
    if !store.token.is_empty() {
        flags.push(format!("--bearer-token-file={token_file}"));
    }
    if insecure(store)? {
        flags.push("--insecure".to_owned());
    }
    Ok(flags)
}

/// Flags for `parca-agent`: `--remote-store-address`, `--remote-store-bearer-token-file`,
/// `--remote-store-insecure`. No address: no flags.
pub fn agent_flags(store: &StoreConfig, token_file: &str) -> Result<Vec<String>, BadInsecure> {
    if store.address.is_empty() {
        return Ok(Vec::new());
    }
    let mut flags = vec![format!("--remote-store-address={}", store.address)];
    if !store.token.is_empty() {
        flags.push(format!("--remote-store-bearer-token-file={token_file}"));
    }
    if insecure(store)? {
        flags.push("--remote-store-insecure".to_owned());
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::parca_store::Token;

    fn store(address: &str, token: &str, insecure: &str) -> StoreConfig {
        StoreConfig {
            address: address.into(),
            token: Token::new(token),
            insecure: insecure.into(),
        }
    }

    #[test]
    fn empty_values_give_no_flags_and_the_token_is_never_on_argv() {
        assert!(
            parca_scraper_flags(&store("", "t", "true"), "/f")
                .unwrap()
                .is_empty()
        );
        let flags = agent_flags(
            &store("grpc.polarsignals.com:443", "deadbeef", "false"),
            "/etc/t",
        )
        .unwrap();
        assert_eq!(
            flags,
            [
                "--remote-store-address=grpc.polarsignals.com:443",
                "--remote-store-bearer-token-file=/etc/t"
            ]
        );
        assert!(flags.iter().all(|f| !f.contains("deadbeef")));
        assert!(agent_flags(&store("a:1", "", "yes"), "/t").is_err());
    }
}
