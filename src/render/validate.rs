//! Parca's config validation (parca.md A.7, schema rules S1–S7), in Parca's own words.
//!
//! [`check_yaml`] loads any parca.yaml as Parca would (strict keys, no repeated keys) and then
//! runs every rule; [`job_problems`] checks one job, which the renderer uses to drop only the
//! jobs Parca would reject (F8). Deliberately stricter than Parca where Parca loads something it
//! then crashes on or silently mis-scrapes (zero interval, null items, custom profiles without
//! a path, paths with `?`); accepting what Parca rejects is never allowed.

use super::parca_config::{HttpClientConfig, ParcaConfig, RelabelRule, ScrapeConfig, TlsConfig};
use std::collections::BTreeMap;

/// One reason Parca would refuse the file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `line 3 column 1`, `scrape_configs[2] (job x)`, `object_storage`, …
    pub location: String,
    /// Parca's message (or ours, where we are stricter).
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Loads `text` as Parca does and validates it. `Ok` only when Parca would accept the file.
pub fn check_yaml(text: &str) -> Result<ParcaConfig, Vec<Problem>> {
    if text.trim().is_empty() {
        return Err(vec![Problem {
            location: "file".into(),
            message: "EOF (the file is empty)".into(),
        }]);
    }
    let config: ParcaConfig =
        serde_saphyr::from_str(text).map_err(|err| vec![decode_problem(&err.to_string())])?;
    let problems = config_problems(&config);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

/// Parca's wording for a decode error: `field x not found` for unknown keys,
/// `ObjectStorage: cannot be blank.` for the missing block.
fn decode_problem(raw: &str) -> Problem {
    let raw = raw.trim().trim_start_matches("error: ");
    let (location, message) = match raw.split_once(": ") {
        Some((loc, msg)) if loc.starts_with("line ") => (loc.to_owned(), msg.to_owned()),
        _ => ("file".to_owned(), raw.to_owned()),
    };
    let message = if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default();
        format!("field {field} not found ({message})")
    } else if message.contains("missing field `object_storage`") {
        "ObjectStorage: cannot be blank.".to_owned()
    } else if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or_default();
        format!("mapping key \"{key}\" already defined at {location}")
    } else {
        message
    };
    Problem { location, message }
}

/// Every rule over a decoded config.
pub fn config_problems(config: &ParcaConfig) -> Vec<Problem> {
    let mut problems = jobs_problems(&config.scrape_configs);
    problems.extend(file_problems(config));
    problems
}

/// [`job_problems`] of each job, located as `scrape_configs[i] (job name)`.
pub fn jobs_problems(jobs: &[ScrapeConfig]) -> Vec<Problem> {
    jobs.iter()
        .enumerate()
        .flat_map(|(i, job)| {
            let location = format!("scrape_configs[{i}] (job {})", job.job_name);
            job_problems(job).into_iter().map(move |message| Problem {
                location: location.clone(),
                message,
            })
        })
        .collect()
}

/// The rules over the whole file that [`job_problems`] does not check: object storage and
/// unique job names.
pub fn file_problems(config: &ParcaConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    let bucket = &config.object_storage.bucket;
    let storage = |message: &str| Problem {
        location: "object_storage.bucket".into(),
        message: message.to_owned(),
    };
    if bucket.kind.trim().is_empty() {
        problems.push(storage(
            "ObjectStorage: (Bucket: (Type: cannot be blank.).).",
        ));
    } else if !BUCKET_TYPES.contains(&bucket.kind.to_uppercase().as_str()) {
        problems.push(storage(&format!(
            "bucket with type {} is not supported",
            bucket.kind
        )));
    }
    if bucket.config.is_empty() {
        problems.push(storage(
            "ObjectStorage: (Bucket: (Config: cannot be blank.).).",
        ));
    } else if bucket.kind.eq_ignore_ascii_case("FILESYSTEM")
        && !bucket.config.contains_key("directory")
    {
        problems.push(storage("missing directory for filesystem bucket"));
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for job in &config.scrape_configs {
        *names.entry(job.job_name.as_str()).or_default() += 1;
    }
    let duplicates: Vec<&str> = names
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(name, _)| *name)
        .collect();
    if !duplicates.is_empty() {
        problems.push(Problem {
            location: "scrape_configs".into(),
            message: format!(
                "ScrapeConfigs: duplicate job_name found in scrape configs: {}.",
                duplicates.join(", ")
            ),
        });
    }
    problems
}

const BUCKET_TYPES: [&str; 10] = [
    "FILESYSTEM",
    "GCS",
    "S3",
    "AZURE",
    "SWIFT",
    "COS",
    "ALIYUNOSS",
    "BOS",
    "OCI",
    "OBS",
];

/// Parca's default scrape interval.
const DEFAULT_INTERVAL_MS: u64 = 10_000;
/// Parca's default timeout is the interval plus this.
const TIMEOUT_EXTRA_MS: u64 = 3_000;

/// Every problem with one job, in the order Parca checks (A.7).
pub fn job_problems(job: &ScrapeConfig) -> Vec<String> {
    let mut problems = Vec::new();
    let name = &job.job_name;
    if name.is_empty() {
        problems.push("job_name is empty".to_owned());
    }
    problems.extend(http_client_problems(&job.http_client));
    if let Some(scheme) = &job.scheme
        && !["http", "https"].contains(&scheme.as_str())
    {
        problems.push(format!("scheme {scheme:?} is not http or https"));
    }
    if job.relabel_configs.is_empty() {
        for target in job
            .static_configs
            .iter()
            .flatten()
            .flat_map(|sc| sc.targets.iter())
        {
            if target.contains('/') {
                problems.push(format!("{target:?} is not a valid hostname"));
            }
        }
    }
    for sc in &job.static_configs {
        match sc {
            None => problems.push("empty or null section in static_configs".to_owned()),
            // Prometheus' target group loader (UTF-8 label names): any name but the empty one;
            // Parca refuses the whole file over it.
            Some(sc) if sc.labels.get("").is_some() => {
                problems.push("\"\" is not a valid label name".to_owned())
            }
            Some(_) => {}
        }
    }
    for rule in &job.relabel_configs {
        match rule {
            None => {
                problems.push("empty or null target relabeling rule in scrape config".to_owned())
            }
            Some(rule) => problems.extend(relabel_problems(rule)),
        }
    }
    let duration = |key: &str, text: &Option<String>, problems: &mut Vec<String>| -> Option<u64> {
        let text = text.as_deref()?;
        match parse_duration(text) {
            Ok(ms) => Some(ms),
            Err(err) => {
                problems.push(format!("{key}: {err}"));
                None
            }
        }
    };
    let interval = duration("scrape_interval", &job.scrape_interval, &mut problems)
        .unwrap_or(DEFAULT_INTERVAL_MS);
    let timeout = match duration("scrape_timeout", &job.scrape_timeout, &mut problems) {
        Some(0) | None => interval + TIMEOUT_EXTRA_MS,
        Some(ms) => ms,
    };
    if interval == 0 {
        // Parca loads it, then divides by it when scheduling.
        problems.push(format!("scrape interval must be greater than 0: {name}"));
    }
    if timeout <= interval {
        problems.push(format!(
            "scrape timeout must be greater than the interval: {name}"
        ));
    }
    let process_cpu_enabled = job
        .profiling_config
        .as_ref()
        .and_then(|p| p.pprof_config.as_ref())
        .and_then(|m| m.get("process_cpu"))
        .and_then(|p| p.as_ref())
        .and_then(|p| p.enabled)
        .unwrap_or(true);
    if process_cpu_enabled && timeout < 2_000 {
        problems.push(format!(
            "process_cpu scrape_timeout must be at least 2 seconds in {name}"
        ));
    }
    if let Some(profiling) = &job.profiling_config {
        for (profile, settings) in profiling.pprof_config.iter().flatten() {
            let builtin = BUILTIN_PROFILES.contains(&profile.as_str());
            match settings {
                None if builtin => {}
                None => problems.push(format!(
                    "pprof_config.{profile}: a null custom profile crashes Parca"
                )),
                Some(p) => {
                    if let Some(path) = &p.path
                        && (!path.starts_with('/') || path.contains('?'))
                    {
                        problems.push(format!("pprof_config.{profile}.path {path:?} must start with '/' and have no '?'"));
                    }
                    if !builtin
                        && p.enabled == Some(true)
                        && p.path.as_deref().unwrap_or("").is_empty()
                    {
                        problems.push(format!(
                            "pprof_config.{profile}: a custom profile needs a path"
                        ));
                    }
                }
            }
        }
        if let Some(prefix) = &profiling.path_prefix
            && prefix.contains('?')
        {
            problems.push(format!(
                "profiling_config.path_prefix {prefix:?} must have no '?'"
            ));
        }
    }
    for sd in &job.http_sd_configs {
        let scheme = sd
            .url
            .split("://")
            .next()
            .unwrap_or_default()
            .to_lowercase();
        if !sd.url.contains("://") || !["http", "https"].contains(&scheme.as_str()) {
            problems.push("URL scheme must be 'http' or 'https'".to_owned());
        }
        problems.extend(http_client_problems(&sd.http_client));
        if let Err(err) = sd
            .refresh_interval
            .as_deref()
            .map(parse_duration)
            .transpose()
        {
            problems.push(format!("http_sd_configs refresh_interval: {err}"));
        }
    }
    for sd in &job.kubernetes_sd_configs {
        if ![
            "pod",
            "service",
            "endpoints",
            "endpointslice",
            "node",
            "ingress",
        ]
        .contains(&sd.role.as_str())
        {
            problems.push(
                "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)"
                    .to_owned(),
            );
        }
        let mut roles = std::collections::BTreeSet::new();
        for selector in &sd.selectors {
            if !roles.insert(selector.role.as_str()) {
                problems.push(format!("duplicated selector role: {}", selector.role));
            }
        }
        problems.extend(http_client_problems(&sd.http_client));
    }
    for sd in &job.file_sd_configs {
        if sd.files.is_empty() {
            problems.push(
                "file service discovery config must contain at least one path name".to_owned(),
            );
        }
        for file in &sd.files {
            let name = file.rsplit('/').next().unwrap_or_default();
            let valid = [".json", ".yml", ".yaml"]
                .iter()
                .any(|ext| name.ends_with(ext) && name.len() > ext.len());
            if !valid {
                problems.push(format!(
                    "path name {file:?} is not valid for file discovery"
                ));
            }
        }
    }
    for sd in &job.dns_sd_configs {
        let kind = sd.kind.as_deref().unwrap_or("SRV").to_uppercase();
        if kind != "SRV" && sd.port.is_none() {
            problems.push(
                "a port is required in DNS-SD configs for all record types except SRV".to_owned(),
            );
        }
        if sd.names.is_empty() {
            problems.push("DNS-SD config must contain at least one SRV record name".to_owned());
        }
    }
    for (mechanism, list) in job.other_sd_configs.iter() {
        if list.iter().any(BTreeMap::is_empty) {
            problems.push(format!("{mechanism}: an empty discovery config"));
        }
    }
    problems
}

const BUILTIN_PROFILES: [&str; 5] = ["memory", "block", "goroutine", "mutex", "process_cpu"];

/// prometheus/common HTTP client validation (parca.md A.5).
fn http_client_problems(c: &HttpClientConfig) -> Vec<String> {
    let mut problems = Vec::new();
    let bearer = is_set(&c.bearer_token) || is_set(&c.bearer_token_file);
    if is_set(&c.bearer_token) && is_set(&c.bearer_token_file) {
        problems
            .push("at most one of bearer_token & bearer_token_file must be configured".to_owned());
    }
    if [c.basic_auth.is_some(), c.oauth2.is_some(), bearer]
        .iter()
        .filter(|b| **b)
        .count()
        > 1
    {
        problems.push("at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".to_owned());
    }
    if c.authorization.is_some() && bearer {
        problems.push(
            "authorization is not compatible with bearer_token & bearer_token_file".to_owned(),
        );
    }
    if [
        c.basic_auth.is_some(),
        c.oauth2.is_some(),
        c.authorization.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count()
        > 1
    {
        problems.push(
            "at most one of basic_auth, oauth2 & authorization must be configured".to_owned(),
        );
    }
    if let Some(auth) = &c.authorization {
        if is_set(&auth.credentials) && is_set(&auth.credentials_file) {
            problems.push(
                "at most one of authorization credentials & credentials_file must be configured"
                    .to_owned(),
            );
        }
        if auth
            .kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("basic"))
        {
            problems.push(
                "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                    .to_owned(),
            );
        }
    }
    if let Some(basic) = &c.basic_auth {
        if is_set(&basic.username) && is_set(&basic.username_file) {
            problems.push(
                "at most one of basic_auth username & username_file must be configured".to_owned(),
            );
        }
        if is_set(&basic.password) && is_set(&basic.password_file) {
            problems.push(
                "at most one of basic_auth password & password_file must be configured".to_owned(),
            );
        }
    }
    if let Some(oauth) = &c.oauth2 {
        if !is_set(&oauth.client_id) {
            problems.push("oauth2 client_id must be configured".to_owned());
        }
        if !is_set(&oauth.token_url) {
            problems.push("oauth2 token_url must be configured".to_owned());
        }
    }
    if let Some(tls) = &c.tls_config {
        problems.extend(tls_problems(tls));
    }
    if c.proxy_from_environment == Some(true) && is_set(&c.proxy_url) {
        problems.push(
            "if proxy_from_environment is configured, proxy_url must not be configured".to_owned(),
        );
    }
    if c.proxy_from_environment == Some(true) && is_set(&c.no_proxy) {
        problems.push(
            "if proxy_from_environment is configured, no_proxy must not be configured".to_owned(),
        );
    }
    if is_set(&c.no_proxy) && !is_set(&c.proxy_url) {
        problems.push("if no_proxy is configured, proxy_url must also be configured".to_owned());
    }
    if c.proxy_connect_header
        .as_ref()
        .is_some_and(|h| !h.is_empty())
        && !is_set(&c.proxy_url)
        && c.proxy_from_environment != Some(true)
    {
        problems.push("if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured".to_owned());
    }
    for header in c.http_headers.iter().flat_map(|h| h.keys()) {
        if RESERVED_HEADERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(header))
        {
            problems.push(format!("setting header {header:?} is not allowed"));
        }
    }
    problems
}

/// A string option that is present and not empty (what counts as "configured").
fn is_set(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|s| !s.is_empty())
}

const RESERVED_HEADERS: [&str; 19] = [
    "Authorization",
    "Host",
    "Content-Encoding",
    "Content-Length",
    "Content-Type",
    "User-Agent",
    "Connection",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Www-Authenticate",
    "Accept-Encoding",
    "X-Prometheus-Remote-Write-Version",
    "X-Prometheus-Remote-Read-Version",
    "X-Prometheus-Scrape-Timeout-Seconds",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
    "Upgrade",
];

fn tls_problems(tls: &TlsConfig) -> Vec<String> {
    let mut problems = Vec::new();
    for (what, a, b) in [
        ("ca", &tls.ca, &tls.ca_file),
        ("cert", &tls.cert, &tls.cert_file),
        ("key", &tls.key, &tls.key_file),
    ] {
        if is_set(a) && is_set(b) {
            problems.push(format!(
                "at most one of {what} and {what}_file must be configured"
            ));
        }
    }
    let cert = is_set(&tls.cert) || is_set(&tls.cert_file);
    let key = is_set(&tls.key) || is_set(&tls.key_file);
    if cert && !key {
        problems.push("exactly one of key or key_file must be configured when a client certificate is configured".to_owned());
    }
    if key && !cert {
        problems.push(
            "exactly one of cert or cert_file must be configured when a client key is configured"
                .to_owned(),
        );
    }
    for version in [&tls.min_version, &tls.max_version].into_iter().flatten() {
        if !["TLS10", "TLS11", "TLS12", "TLS13"].contains(&version.as_str()) {
            problems.push(format!("unknown TLS version: {version}"));
        }
    }
    problems
}

const RELABEL_ACTIONS: [&str; 11] = [
    "replace",
    "keep",
    "drop",
    "keepequal",
    "dropequal",
    "hashmod",
    "labelmap",
    "labeldrop",
    "labelkeep",
    "lowercase",
    "uppercase",
];

/// Why Prometheus would not compile `regex` (anchored as it anchors it), or `None`. Compiling
/// a regex costs ~0.1 ms and every relation job carries the same few rules, so each distinct
/// pattern is compiled once per thread.
fn regex_error(regex: &str) -> Option<String> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CHECKED: RefCell<HashMap<String, Option<String>>> = RefCell::new(HashMap::new());
    }
    CHECKED.with(|checked| {
        if let Some(known) = checked.borrow().get(regex) {
            return known.clone();
        }
        let verdict = regex::Regex::new(&format!("^(?s:{regex})$"))
            .err()
            .map(|e| e.to_string());
        let mut checked = checked.borrow_mut();
        // Bounded: patterns come from remote data, so never let them grow memory without end.
        if checked.len() >= 1024 {
            checked.clear();
        }
        checked.insert(regex.to_owned(), verdict.clone());
        verdict
    })
}

/// Prometheus 3.5 relabel rule validation (parca.md A.6).
fn relabel_problems(rule: &RelabelRule) -> Vec<String> {
    let mut problems = Vec::new();
    let action = rule
        .action
        .as_deref()
        .map_or("replace".to_owned(), str::to_lowercase);
    if !RELABEL_ACTIONS.contains(&action.as_str()) {
        problems.push(format!(
            "unknown relabel action {:?}",
            rule.action.as_deref().unwrap_or_default()
        ));
        return problems;
    }
    if let Some(regex) = &rule.regex
        && let Some(err) = regex_error(regex)
    {
        problems.push(format!("error parsing regexp: {err}"));
    }
    let target = rule.target_label.as_deref().unwrap_or("");
    if action == "hashmod" && rule.modulus.unwrap_or(0) == 0 {
        problems.push("relabel configuration for hashmod requires non-zero modulus".to_owned());
    }
    if [
        "replace",
        "hashmod",
        "lowercase",
        "uppercase",
        "keepequal",
        "dropequal",
    ]
    .contains(&action.as_str())
        && target.is_empty()
    {
        problems.push(format!(
            "relabel configuration for {action} action requires 'target_label' value"
        ));
    }
    let replacement_set = rule.replacement.as_deref().is_some_and(|r| r != "$1");
    if ["lowercase", "uppercase", "keepequal", "dropequal"].contains(&action.as_str())
        && replacement_set
    {
        problems.push(format!("'replacement' can not be set for {action} action"));
    }
    if ["keepequal", "dropequal"].contains(&action.as_str())
        && (rule.regex.is_some()
            || rule.modulus.is_some()
            || rule.separator.as_deref().is_some_and(|s| s != ";"))
    {
        problems.push(format!(
            "{action} action requires only 'source_labels' and `target_label`, and no other fields"
        ));
    }
    if ["labeldrop", "labelkeep"].contains(&action.as_str())
        && (rule.source_labels.is_some()
            || !target.is_empty()
            || rule.modulus.is_some()
            || rule.separator.as_deref().is_some_and(|s| s != ";")
            || replacement_set)
    {
        problems.push(format!(
            "{action} action requires only 'regex', and no other fields"
        ));
    }
    if action == "labelmap" && rule.replacement.as_deref().is_some_and(str::is_empty) {
        problems.push("\"\" is invalid 'replacement' for labelmap action".to_owned());
    }
    problems
}

/// A Prometheus duration (`1h30m`, `500ms`, `0`) in milliseconds, with Prometheus's errors.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    match text {
        "0" => return Ok(0),
        "" => return Err("empty duration string".to_owned()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {text:?}");
    let mut rest = text;
    let mut total_ms: u128 = 0;
    let mut last_unit = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let value: u128 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        if unit_len == 0 {
            return Err(invalid());
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let position = UNITS
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(|| format!("unknown unit {unit:?} in duration {text:?}"))?;
        if last_unit.is_some_and(|last| position <= last) {
            return Err(invalid()); // units must go from biggest to smallest
        }
        last_unit = Some(position);
        // Must fit in int64 nanoseconds; checked: 39 digits fit in u128, times a unit do not
        // (found by fuzzing: a panic in debug builds, a wrapped value in release).
        let out_of_range = || "duration out of range".to_owned();
        total_ms = value
            .checked_mul(u128::from(UNITS[position].1))
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(out_of_range)?;
        if total_ms
            .checked_mul(1_000_000)
            .is_none_or(|ns| ns > i64::MAX as u128)
        {
            return Err(out_of_range());
        }
    }
    u64::try_from(total_ms).map_err(|_| "duration out of range".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_prometheus() {
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("0"), Ok(0));
        // Found by fuzzing: 33 digits times a unit overflowed u128.
        assert_eq!(
            parse_duration("1h122222222222222222222222222222222m13ms"),
            Err("duration out of range".to_owned())
        );
        assert_eq!(
            parse_duration("10sec").unwrap_err(),
            "unknown unit \"sec\" in duration \"10sec\""
        );
        assert_eq!(
            parse_duration("10").unwrap_err(),
            "not a valid duration string: \"10\""
        );
        assert_eq!(
            parse_duration("30s1m").unwrap_err(),
            "not a valid duration string: \"30s1m\""
        );
        assert_eq!(parse_duration("").unwrap_err(), "empty duration string");
        assert_eq!(parse_duration("300y").unwrap_err(), "duration out of range");
    }

    fn job(yaml: &str) -> ScrapeConfig {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn prometheus_habit_15s_10s_is_rejected_in_parcas_words() {
        let problems = job_problems(&job(
            "job_name: zinc\nscrape_interval: 15s\nscrape_timeout: 10s\n",
        ));
        assert_eq!(
            problems,
            ["scrape timeout must be greater than the interval: zinc"]
        );
        assert!(
            job_problems(&job("job_name: ok\nscrape_interval: 15s\n")).is_empty(),
            "default timeout is 18s"
        );
        assert!(
            job_problems(&job(
                "job_name: z\nscrape_interval: 1m30s\nscrape_timeout: '0'\n"
            ))
            .is_empty()
        );
    }

    #[test]
    fn process_cpu_needs_two_seconds_unless_disabled() {
        let fast = "job_name: f\nscrape_interval: 500ms\nscrape_timeout: 1s\n";
        assert_eq!(
            job_problems(&job(fast)),
            ["process_cpu scrape_timeout must be at least 2 seconds in f"]
        );
        let off = format!(
            "{fast}profiling_config:\n  pprof_config:\n    process_cpu:\n      enabled: false\n"
        );
        assert!(job_problems(&job(&off)).is_empty());
    }

    #[test]
    fn relabel_rules_are_checked() {
        let problems = job_problems(&job(
            "job_name: r\nrelabel_configs:\n- source_labels: [a]\n- action: hashmod\n  target_label: t\n- action: Nope\n- regex: '('\n  target_label: x\n",
        ));
        assert_eq!(
            problems[..3],
            [
                "relabel configuration for replace action requires 'target_label' value",
                "relabel configuration for hashmod requires non-zero modulus",
                "unknown relabel action \"Nope\"",
            ]
        );
        assert!(
            problems[3].starts_with("error parsing regexp:")
                && problems[3].ends_with("unclosed group"),
            "{}",
            problems[3]
        );
        assert_eq!(problems.len(), 4);
    }

    #[test]
    fn targets_with_a_path_need_relabel_configs() {
        let yaml =
            "job_name: u\nstatic_configs:\n- targets: ['http://localhost:8080/debug/pprof']\n";
        assert_eq!(
            job_problems(&job(yaml)),
            ["\"http://localhost:8080/debug/pprof\" is not a valid hostname"]
        );
    }

    #[test]
    fn an_empty_label_name_is_refused_as_parca_refuses_it() {
        // Parca v0.28: `parsing YAML file …: "" is not a valid label name`; other UTF-8 names
        // (`bad-name`, `1team`, `é`) load.
        let yaml = "job_name: l\nstatic_configs:\n- targets: ['h:1']\n  labels: {'': x}\n";
        assert_eq!(job_problems(&job(yaml)), ["\"\" is not a valid label name"]);
        let yaml =
            "job_name: l\nstatic_configs:\n- targets: ['h:1']\n  labels: {bad-name: x, 1team: y}\n";
        assert!(job_problems(&job(yaml)).is_empty());
    }
}
