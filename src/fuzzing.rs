//! The checks the fuzz targets (`fuzz/fuzz_targets/*.rs`, nightly, `scripts/fuzz`) run on
//! arbitrary bytes, kept in the library so that `tests/fuzz_regressions.rs` replays every saved
//! input on the stable toolchain. Each check panics only on a real defect: a panic in our code,
//! or a broken promise (a rendered parca.yaml the validator refuses, a store relayed although
//! it could add a flag line, a host:port that does not round-trip).
//!
//! Inputs with several fields separate them with byte 0x1E (ASCII record separator); each
//! field is read as UTF-8, lossily, as Juju hands charms text.

use crate::fixes::FixSet;
use crate::interfaces::parca_scrape::render_jobs;
use crate::interfaces::parca_store::{StoreConfig, Token};
use crate::model::{Databag, HostPort, RelationId, RelationSnapshot};
use crate::render::{Discovery, ObjectStorage, ParcaConfig, render_config, validate};

/// The byte between fields.
pub const FIELD_SEPARATOR: u8 = 0x1e;

/// The names of the fuzz targets, each a function of this module.
pub const TARGETS: [&str; 6] = [
    "consumer",
    "store",
    "host_port",
    "duration",
    "config",
    "hook_env",
];

/// Runs the named target's check (the regression test replays saved inputs through this).
pub fn run(target: &str, data: &[u8]) {
    match target {
        "consumer" => consumer(data),
        "store" => store(data),
        "host_port" => host_port(data),
        "duration" => duration(data),
        "config" => config(data),
        "hook_env" => hook_env(data),
        other => panic!("no fuzz target {other}"),
    }
}

fn fields(data: &[u8]) -> Vec<String> {
    data.split(|b| *b == FIELD_SEPARATOR)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// A provider's bags (parca_scrape consumer input): fields are `scrape_jobs`,
/// `scrape_metadata`, then pairs of unit address and unit name. Beside it a good provider:
/// whatever the fuzzed one sends, the good one still renders, and the parca.yaml rendered
/// from both (static and http_sd) passes the validator.
pub fn consumer(data: &[u8]) {
    let fields = fields(data);
    let field = |n: usize| fields.get(n).cloned();
    let mut app = Databag::new();
    if let Some(jobs) = field(0) {
        app.insert("scrape_jobs".into(), jobs);
    }
    if let Some(metadata) = field(1) {
        app.insert("scrape_metadata".into(), metadata);
    }
    let units = fields
        .get(2..)
        .unwrap_or_default()
        .chunks(2)
        .enumerate()
        .map(|(n, pair)| {
            let mut bag = Databag::new();
            bag.insert("parca_scrape_unit_address".into(), pair[0].clone());
            if let Some(name) = pair.get(1) {
                bag.insert("parca_scrape_unit_name".into(), name.clone());
            }
            (format!("fuzzed/{n}"), bag)
        })
        .collect();
    let fuzzed = RelationSnapshot {
        id: RelationId::new("profiling-endpoint", 2),
        remote_app: "fuzzed".into(),
        app,
        units,
    };
    let relations = [good_provider(), fuzzed];
    let out = render_jobs(&relations, FixSet::ALL);
    assert!(
        out.jobs
            .iter()
            .any(|job| job.targets().any(|(target, _)| target == "10.66.0.1:6060")),
        "the good provider's target is gone"
    );
    let base = ParcaConfig {
        object_storage: ObjectStorage::default(),
        scrape_configs: Vec::new(),
    };
    for discovery in [
        Discovery::Static,
        Discovery::HttpSd {
            base_url: "http://10.0.0.5:7075".into(),
        },
    ] {
        let rendered = render_config(&base, &out.jobs, &discovery);
        // A file with problems is not written; one without must load.
        if rendered.problems.is_empty()
            && let Err(problems) = validate::check_yaml(&rendered.yaml)
        {
            panic!(
                "rendered parca.yaml refused: {problems:?}\n{}",
                rendered.yaml
            );
        }
    }
}

/// The good provider beside the fuzzed one.
fn good_provider() -> RelationSnapshot {
    let mut app = Databag::new();
    app.insert(
        "scrape_jobs".into(),
        r#"[{"job_name": "good", "static_configs": [{"targets": ["*:6060"]}]}]"#.into(),
    );
    app.insert(
        "scrape_metadata".into(),
        r#"{"model": "cos", "model_uuid": "8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10", "application": "good", "unit": "good/0", "charm_name": "good-k8s"}"#.into(),
    );
    let mut unit = Databag::new();
    unit.insert("parca_scrape_unit_address".into(), "10.66.0.1".into());
    unit.insert("parca_scrape_unit_name".into(), "good/0".into());
    RelationSnapshot {
        id: RelationId::new("profiling-endpoint", 1),
        remote_app: "good".into(),
        app,
        units: [("good/0".to_owned(), unit)].into_iter().collect(),
    }
}

/// A store's settings (parca_store requirer input): address, token, insecure. Settings without
/// problems must be safe on a command line: one flag per line, an address that parses.
pub fn store(data: &[u8]) {
    let fields = fields(data);
    let field = |n: usize| fields.get(n).cloned().unwrap_or_default();
    let store = StoreConfig {
        address: field(0),
        token: Token::new(field(1)),
        insecure: field(2),
    };
    if !store.problems().is_empty() {
        return;
    }
    if !store.address.is_empty() {
        let parsed: Result<HostPort, _> = store.address.parse();
        assert!(
            parsed.is_ok(),
            "relayable address {:?} does not parse",
            store.address
        );
    }
    let token_file = "/etc/parca-broker/store-token";
    for flags in [
        crate::render::flags::agent_flags(&store, token_file),
        crate::render::flags::parca_scraper_flags(&store, token_file),
    ] {
        let flags = flags.unwrap_or_else(|e| panic!("accepted settings give no flags: {e}"));

        for flag in flags {
            assert_flag_safe(&flag);
        }
    }
}

/// One flag stays one flag: no whitespace or control character to split it. (The token is
/// never formatted into a flag at all: only the token file's path is.)
fn assert_flag_safe(flag: &str) {
    assert!(
        !flag.chars().any(|c| c.is_control() || c.is_whitespace()),
        "flag {flag:?} could split into more flags"
    );
}

/// `host:port` parsing: what parses prints back to text that parses to the same value.
pub fn host_port(data: &[u8]) {
    let text = text(data);
    if let Ok(parsed) = text.parse::<HostPort>() {
        let printed = parsed.to_string();
        let again: HostPort = printed.parse().unwrap_or_else(|e| {
            panic!("{text:?} printed as {printed:?}, which does not parse: {e}")
        });
        assert_eq!(again, parsed, "{text:?} → {printed:?}");
    }
}

/// Go/Prometheus durations: never a panic (overflow included).
pub fn duration(data: &[u8]) {
    let _ = validate::parse_duration(&text(data));
}

/// The config validator on any text: never a panic, and bounded (the YAML budget). A file it
/// accepts goes through our YAML writer: what it writes must read back and be written again
/// byte for byte (idempotence, not equality: a `.nan` bucket setting is not equal to itself).
pub fn config(data: &[u8]) {
    let Ok(config) = validate::check_yaml(&text(data)) else {
        return;
    };
    let Ok(written) = crate::render::yaml::to_string(&config) else {
        return; // a key over YAML's 1,024-character limit: reported, nothing written
    };
    let back: ParcaConfig = match serde_saphyr::from_str(&written) {
        Ok(back) => back,
        Err(err) => panic!("our parca.yaml does not read back: {err}\n{written}"),
    };
    let again = crate::render::yaml::to_string(&back).ok();
    assert_eq!(
        again.as_deref(),
        Some(written.as_str()),
        "written twice, the parca.yaml differs"
    );
}

/// The hook environment parser: `NAME=value` lines. Never a panic; a context it accepts has a
/// unit name of the form `<app>/<n>` and the app taken from it.
pub fn hook_env(data: &[u8]) {
    let text = text(data);
    let vars: std::collections::BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .collect();
    if let Ok(context) =
        crate::juju::JujuContext::from_env(|name| vars.get(name).map(|v| (*v).to_owned()))
    {
        assert!(
            context.unit.starts_with(&format!("{}/", context.app)),
            "unit {} of app {}",
            context.unit,
            context.app
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_runs_on_empty_and_on_a_good_input() {
        for target in TARGETS {
            run(target, b"");
        }
        let mut good = Vec::new();
        good.extend_from_slice(br#"[{"static_configs": [{"targets": ["*:7070"]}]}]"#);
        good.push(FIELD_SEPARATOR);
        good.extend_from_slice(br#"{"model": "m", "model_uuid": "8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d11", "application": "fuzzed", "unit": "fuzzed/0", "charm_name": "c"}"#);
        good.push(FIELD_SEPARATOR);
        good.extend_from_slice(b"10.1.1.1");
        good.push(FIELD_SEPARATOR);
        good.extend_from_slice(b"fuzzed/0");
        consumer(&good);
        store(b"store.example:7070\x1etok\x1efalse");
        host_port(b"[fd00::1]:80");
    }

    #[test]
    #[should_panic(expected = "could split")]
    fn a_flag_with_a_newline_is_caught() {
        assert_flag_safe("--remote-store-address=x:1\n--insecure");
    }
}
