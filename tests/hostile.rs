//! Issue 11, the hostile-input matrix: every class of bad remote data in
//! `docs/hostile-inputs.md`, on both interfaces and both roles (and the COS and peer
//! endpoints), run through the real hook under the simulator. For each class: every hook
//! exits 0; the offending relation, unit or job is dropped with a report naming relation id,
//! app and key (or the value is rendered safely, or ignored, as the class says); the other
//! provider still renders; the written parca.yaml passes `check-config`; the status names what
//! was dropped; and nothing reaches the flag files or the agents' databag unless it was valid.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::model::Databag;
use parca_broker::simulator::Model;
use serde_json::{Value, json};

const UNIT: &str = "parca-broker/0";
const UUID: &str = "8d5d1f3b-3d4a-4c8e-9a52-6b1f2e7c9d10";

/// Where a class's data is written.
enum Input {
    /// A new application on profiling-endpoint (parca_scrape, we are the requirer): its app
    /// bag and one bag per unit.
    Provider { app: Databag, units: Vec<Databag> },
    /// The upstream store's app bag (parca_store, we are the requirer).
    Store(Databag),
    /// A new agent on parca-store-endpoint (parca_store, we are the provider) writes these.
    Agent { app: Databag, unit: Databag },
    /// A new Parca on self-profiling-endpoint (parca_scrape, we are the provider) writes these.
    Scraper { app: Databag, unit: Databag },
    /// A new Prometheus on metrics-endpoint (prometheus_scrape provider side) writes these.
    Prometheus { app: Databag, unit: Databag },
    /// A new Grafana on grafana-dashboard (grafana_dashboard provider side) writes these.
    Grafana { app: Databag, unit: Databag },
}

/// What the broker must do with it.
enum Expect {
    /// Dropped with a report on that relation whose key starts with this.
    Dropped(&'static str),
    /// Rendered: no report, and a value in the loaded parca.yaml contains this string
    /// (escaped as YAML needs, read back unchanged).
    Rendered(&'static str),
    /// Rendered as the Python library renders it, without a report (odd but harmless).
    Accepted,
    /// The job renders; the protocol drops this key, reported at debug level (`ignored`).
    KeyIgnored(&'static str),
    /// Not relayed: the store's settings are refused naming this key; the last good store
    /// stays with the agents and in the flag files.
    Refused(&'static str),
    /// Nothing the broker reads: no report, nothing changes.
    Ignored,
}

struct Class {
    name: &'static str,
    input: Input,
    expect: Expect,
}

fn bag(pairs: &[(&str, &str)]) -> Databag {
    common::bag(pairs)
}

/// Good `scrape_metadata` for `app`.
fn metadata(app: &str) -> String {
    json!({"model": "cos", "model_uuid": UUID, "application": app, "unit": format!("{app}/0"), "charm_name": format!("{app}-k8s")}).to_string()
}

/// Good unit bags for `app` (two units).
fn good_units(app: &str) -> Vec<Databag> {
    (0..2)
        .map(|n| {
            bag(&[
                ("parca_scrape_unit_address", &format!("10.77.0.{}", n + 1)),
                ("parca_scrape_unit_name", &format!("{app}/{n}")),
            ])
        })
        .collect()
}

/// A provider whose `scrape_jobs` is `jobs` (raw text), with good metadata and units. The
/// app name is filled in when the class runs.
fn jobs_raw(jobs: &str) -> Input {
    Input::Provider {
        app: bag(&[("scrape_jobs", jobs), ("scrape_metadata", "@META@")]),
        units: Vec::new(),
    }
}

fn jobs(value: Value) -> Input {
    jobs_raw(&value.to_string())
}

/// One job `{"job_name": "j", "static_configs": [{"targets": ["*:6060"]}]}` with `key` set.
fn job_with(key: &str, value: Value) -> Input {
    let mut job = json!({"job_name": "j", "static_configs": [{"targets": ["*:6060"]}]});
    job[key] = value;
    jobs(json!([job]))
}

/// One job whose static config has these targets.
fn targets(targets: Value) -> Input {
    jobs(json!([{"job_name": "j", "static_configs": [{"targets": targets}]}]))
}

/// One job whose static config has these labels.
fn labels(labels: Value) -> Input {
    jobs(json!([{"job_name": "j", "static_configs": [{"targets": ["*:6060"], "labels": labels}]}]))
}

/// A provider with good jobs and this raw `scrape_metadata`.
fn metadata_raw(raw: &str) -> Input {
    Input::Provider {
        app: bag(&[
            (
                "scrape_jobs",
                r#"[{"static_configs": [{"targets": ["*:6060"]}]}]"#,
            ),
            ("scrape_metadata", raw),
        ]),
        units: Vec::new(),
    }
}

/// Good metadata with `key` replaced.
fn metadata_with(key: &str, value: Value) -> Input {
    let mut meta: Value = serde_json::from_str(&metadata("@APP@")).unwrap();
    meta[key] = value;
    metadata_raw(&meta.to_string())
}

/// A provider with good app data whose units' bags are these (`@APP@` becomes the app name).
fn units(bags: Vec<Vec<(&str, &str)>>) -> Input {
    Input::Provider {
        app: bag(&[
            (
                "scrape_jobs",
                r#"[{"static_configs": [{"targets": ["*:6060"]}]}]"#,
            ),
            ("scrape_metadata", "@META@"),
        ]),
        units: bags.iter().map(|pairs| bag(pairs)).collect(),
    }
}

/// The good store with `key` set to `value`.
fn store_with(key: &str, value: &str) -> Input {
    let mut store = good_store();
    store.insert(key.to_owned(), value.to_owned());
    Input::Store(store)
}

fn good_store() -> Databag {
    bag(&[
        ("remote-store-address", "store.example:7070"),
        ("remote-store-bearer-token", "tok-good"),
        ("remote-store-insecure", "false"),
    ])
}

fn junk() -> Databag {
    bag(&[
        ("scrape_jobs", "{{{"),
        ("remote-store-address", "evil:1\n--insecure"),
        ("alert_rules", "not json"),
        ("dashboards", "\u{0}"),
        ("egress-subnets", "garbage"),
    ])
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn classes() -> Vec<Class> {
    use Expect::*;
    let c = |name, input, expect| Class {
        name,
        input,
        expect,
    };
    let many_jobs: Vec<Value> = (0..150)
        .map(|i| json!({"job_name": format!("j{i}"), "static_configs": [{"targets": [format!("*:{}", 7000 + i)]}]}))
        .collect();
    let many_targets: Vec<String> = (0..10_001)
        .map(|i| format!("10.9.{}.{}:80", i / 250, i % 250 + 1))
        .collect();
    vec![
        // scrape_jobs: the document
        c(
            "scrape_jobs is not JSON",
            jobs_raw("not json"),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs is truncated JSON",
            jobs_raw(r#"[{"static_configs": ["#),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs is JSON null",
            jobs_raw("null"),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs is a number",
            jobs_raw("42"),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs is a string",
            jobs_raw(r#""jobs""#),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs is an object",
            jobs_raw(r#"{"job_name": "j"}"#),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs empty (Juju deletes an empty key: no jobs)",
            jobs_raw(""),
            Ignored,
        ),
        c(
            "scrape_jobs holds a string",
            jobs(json!(["job"])),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs holds a number",
            jobs(json!([1])),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs holds null",
            jobs(json!([null])),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs nested 10,000 deep",
            jobs_raw(&nested(10_000)),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs nested 100 deep",
            jobs_raw(&nested(100)),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs with a lone surrogate",
            jobs_raw(r#"[{"job_name": "\ud800", "static_configs": [{"targets": ["*:6060"]}]}]"#),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_jobs with invalid UTF-8 escapes",
            jobs_raw(r#"[{"job_name": "\x41"}]"#),
            Dropped("scrape_jobs"),
        ),
        c(
            "150 jobs in one relation",
            jobs(Value::Array(many_jobs)),
            Dropped("scrape_jobs"),
        ),
        c(
            "an app bag over 512 KiB",
            jobs(
                json!([{"job_name": "j", "padding": "p".repeat(600 * 1024), "static_configs": [{"targets": ["*:6060"]}]}]),
            ),
            Dropped("app databag"),
        ),
        // a job's keys
        c(
            "job_name a number (rendered `…_123`, as Python)",
            job_with("job_name", json!(123)),
            Accepted,
        ),
        c(
            "job_name is an object",
            job_with("job_name", json!({"a": 1})),
            Dropped("scrape_jobs"),
        ),
        c(
            "job_name with a newline",
            job_with("job_name", json!("j\n- job_name: evil")),
            Rendered("j\n- job_name: evil"),
        ),
        c(
            "job_name with NUL and control characters (escaped; Parca loads it)",
            job_with("job_name", json!("j\u{0}\u{1b}[31m")),
            Accepted,
        ),
        c(
            "job_name YAML anchor and alias",
            job_with("job_name", json!("&a *a")),
            Rendered("&a *a"),
        ),
        c(
            "job_name YAML tag",
            job_with("job_name", json!("!!python/object:os.system")),
            Rendered("!!python/object:os.system"),
        ),
        c(
            "job_name YAML flow and comment",
            job_with("job_name", json!("{a: [b]} # c")),
            Rendered("{a: [b]} # c"),
        ),
        c(
            "job_name YAML document marker",
            job_with("job_name", json!("---\n...")),
            Rendered("---\n..."),
        ),
        c(
            "job_name YAML booleans and null",
            job_with("job_name", json!("yes")),
            Rendered("yes"),
        ),
        c(
            "job_name that looks like a number",
            job_with("job_name", json!("0x1F")),
            Rendered("0x1F"),
        ),
        c(
            "static_configs is a string",
            job_with("static_configs", json!("*:6060")),
            Dropped("scrape_jobs"),
        ),
        c(
            "static_configs is an object",
            job_with("static_configs", json!({"targets": ["*:6060"]})),
            Dropped("scrape_jobs"),
        ),
        c(
            "static_configs holds a string",
            job_with("static_configs", json!(["*:6060"])),
            Dropped("scrape_jobs"),
        ),
        c(
            "static_configs holds null",
            job_with("static_configs", json!([null])),
            Dropped("scrape_jobs"),
        ),
        c(
            "a job with no static_configs (the default `*:80`, as Python)",
            jobs(json!([{"job_name": "j"}])),
            Accepted,
        ),
        c(
            "scrape_interval not a duration",
            job_with("scrape_interval", json!("fast")),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_interval a number",
            job_with("scrape_interval", json!(15)),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_interval negative",
            job_with("scrape_interval", json!("-1s")),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_interval zero",
            job_with("scrape_interval", json!("0s")),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_interval overflowing",
            job_with("scrape_interval", json!("999999999999y")),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_timeout under scrape_interval (Prometheus' 15s/10s)",
            jobs(
                json!([{"job_name": "j", "scrape_interval": "15s", "scrape_timeout": "10s", "static_configs": [{"targets": ["*:6060"]}]}]),
            ),
            Dropped("scrape_jobs"),
        ),
        c(
            "scrape_timeout equal to scrape_interval",
            jobs(
                json!([{"job_name": "j", "scrape_interval": "10s", "scrape_timeout": "10s", "static_configs": [{"targets": ["*:6060"]}]}]),
            ),
            Dropped("scrape_jobs"),
        ),
        c(
            "scheme not http(s)",
            job_with("scheme", json!("ftp")),
            Dropped("scrape_jobs"),
        ),
        c(
            "scheme a list",
            job_with("scheme", json!(["https"])),
            Dropped("scrape_jobs"),
        ),
        c(
            "metrics_path (not a Parca key)",
            job_with("metrics_path", json!(7)),
            KeyIgnored("metrics_path"),
        ),
        c(
            "profiling_config a string",
            job_with("profiling_config", json!("cpu")),
            Dropped("scrape_jobs"),
        ),
        c(
            "profiling_config with an unknown profile shape",
            job_with(
                "profiling_config",
                json!({"pprof_config": {"memory": "on"}}),
            ),
            Dropped("scrape_jobs"),
        ),
        c(
            "tls_config a string",
            job_with("tls_config", json!("insecure")),
            Dropped("scrape_jobs"),
        ),
        c(
            "relabel_configs (dropped by the protocol)",
            job_with("relabel_configs", json!([{"action": "drop", "regex": "("}])),
            KeyIgnored("relabel_configs"),
        ),
        c(
            "an unknown job key (dropped by the protocol)",
            job_with("evil_key", json!("x")),
            KeyIgnored("evil_key"),
        ),
        // targets
        c(
            "targets a string",
            targets(json!("*:6060")),
            Dropped("scrape_jobs"),
        ),
        c(
            "targets holds a number",
            targets(json!([6060])),
            Dropped("scrape_jobs"),
        ),
        c(
            "targets holds null",
            targets(json!([null])),
            Dropped("scrape_jobs"),
        ),
        c(
            "target port 0",
            targets(json!(["*:0"])),
            Dropped("scrape_jobs"),
        ),
        c(
            "target port over 65535",
            targets(json!(["*:99999"])),
            Dropped("scrape_jobs"),
        ),
        c(
            "target port not a number",
            targets(json!(["*:http"])),
            Dropped("scrape_jobs"),
        ),
        c(
            "target with a path",
            targets(json!(["host.example:6060/debug/pprof"])),
            Dropped("scrape_jobs"),
        ),
        c(
            "target with a scheme",
            targets(json!(["http://host.example:6060"])),
            Dropped("scrape_jobs"),
        ),
        c("target empty", targets(json!([""])), Dropped("scrape_jobs")),
        c(
            "target with a newline",
            targets(json!(["*:6060\n- evil:1"])),
            Dropped("scrape_jobs"),
        ),
        c(
            "target with NUL",
            targets(json!(["host\u{0}.example:6060"])),
            Dropped("scrape_jobs"),
        ),
        c(
            "target bare IPv6 (an address without port, bracketed: F3)",
            targets(json!(["fd00::1:6060"])),
            Rendered("[fd00::1:6060]"),
        ),
        c(
            "target with spaces",
            targets(json!(["a b:6060"])),
            Dropped("scrape_jobs"),
        ),
        c(
            "10,001 targets in one job",
            targets(json!(many_targets)),
            Dropped("scrape_jobs"),
        ),
        // labels
        c(
            "labels a list",
            labels(json!(["a", "b"])),
            Dropped("scrape_jobs"),
        ),
        c(
            "label value a number (rendered as text)",
            labels(json!({"team": 7})),
            Accepted,
        ),
        c(
            "label value null (rendered as text)",
            labels(json!({"team": null})),
            Accepted,
        ),
        c(
            "label name with a hyphen (UTF-8 label names load in Parca)",
            labels(json!({"bad-name": "x"})),
            Accepted,
        ),
        c(
            "label name starting with a digit (loads in Parca)",
            labels(json!({"1team": "x"})),
            Accepted,
        ),
        c(
            "label name empty (Parca refuses the whole file: F8 drops the job)",
            labels(json!({"": "x"})),
            Dropped("scrape_jobs"),
        ),
        c(
            "label value of 5 KiB",
            labels(json!({"team": "x".repeat(5 * 1024)})),
            Dropped("scrape_jobs"),
        ),
        c(
            "label value YAML-special",
            labels(json!({"team": "*alias &anchor !tag: [x] # y"})),
            Rendered("*alias &anchor !tag: [x] # y"),
        ),
        c(
            "label value with a newline",
            labels(json!({"team": "a\nb: c"})),
            Rendered("a\nb: c"),
        ),
        c(
            "label value with NUL (escaped; Parca loads it)",
            labels(json!({"team": "a\u{0}b"})),
            Accepted,
        ),
        c(
            "label overriding juju_application (the topology label wins)",
            labels(json!({"juju_application": "someone-else"})),
            Accepted,
        ),
        // scrape_metadata
        c(
            "scrape_metadata missing",
            Input::Provider {
                app: bag(&[(
                    "scrape_jobs",
                    r#"[{"static_configs": [{"targets": ["*:6060"]}]}]"#,
                )]),
                units: Vec::new(),
            },
            Dropped("scrape_metadata"),
        ),
        c(
            "scrape_metadata not JSON",
            metadata_raw("{model"),
            Dropped("scrape_metadata"),
        ),
        c(
            "scrape_metadata a list",
            metadata_raw("[]"),
            Dropped("scrape_metadata"),
        ),
        c(
            "scrape_metadata null",
            metadata_raw("null"),
            Dropped("scrape_metadata"),
        ),
        c(
            "model_uuid not v4",
            metadata_with("model_uuid", json!("8d5d1f3b-3d4a-1c8e-9a52-6b1f2e7c9d10")),
            Dropped("scrape_metadata"),
        ),
        c(
            "model_uuid upper case",
            metadata_with("model_uuid", json!(UUID.to_uppercase())),
            Dropped("scrape_metadata"),
        ),
        c(
            "model_uuid garbage",
            metadata_with("model_uuid", json!("x")),
            Dropped("scrape_metadata"),
        ),
        c(
            "model missing",
            metadata_with("model", Value::Null),
            Dropped("scrape_metadata"),
        ),
        c(
            "application a number",
            metadata_with("application", json!(123)),
            Dropped("scrape_metadata"),
        ),
        c(
            "application with a newline (escaped, as Python)",
            metadata_with("application", json!("a\nb")),
            Accepted,
        ),
        c(
            "application claiming the other provider",
            metadata_with("application", json!("good")),
            Dropped("scrape_metadata"),
        ),
        c(
            "model with YAML-special text",
            metadata_with("model", json!("*m: [x]")),
            Rendered("*m: [x]"),
        ),
        // unit bags
        c(
            "unit address not yet published (the unit is skipped)",
            units(vec![vec![("parca_scrape_unit_name", "@APP@/0")]]),
            Ignored,
        ),
        c(
            "unit address garbage",
            units(vec![vec![
                ("parca_scrape_unit_address", "not an address!"),
                ("parca_scrape_unit_name", "@APP@/0"),
            ]]),
            Dropped("parca_scrape_unit_address"),
        ),
        c(
            "unit address with a port",
            units(vec![vec![
                ("parca_scrape_unit_address", "10.77.0.1:80"),
                ("parca_scrape_unit_name", "@APP@/0"),
            ]]),
            Dropped("parca_scrape_unit_address"),
        ),
        c(
            "unit address with a newline",
            units(vec![vec![
                ("parca_scrape_unit_address", "10.77.0.1\n- evil"),
                ("parca_scrape_unit_name", "@APP@/0"),
            ]]),
            Dropped("parca_scrape_unit_address"),
        ),
        c(
            "unit address with NUL",
            units(vec![vec![
                ("parca_scrape_unit_address", "10.77.0.1\u{0}"),
                ("parca_scrape_unit_name", "@APP@/0"),
            ]]),
            Dropped("parca_scrape_unit_address"),
        ),
        c(
            "unit name of another app's unit",
            units(vec![vec![
                ("parca_scrape_unit_address", "10.77.0.1"),
                ("parca_scrape_unit_name", "good/0"),
            ]]),
            Dropped("parca_scrape_unit_name"),
        ),
        c(
            "unit name with a newline (escaped, as Python)",
            units(vec![vec![
                ("parca_scrape_unit_address", "10.77.0.1"),
                ("parca_scrape_unit_name", "@APP@/0\nx"),
            ]]),
            Accepted,
        ),
        c(
            "two units claiming one name",
            units(vec![
                vec![
                    ("parca_scrape_unit_address", "10.77.0.1"),
                    ("parca_scrape_unit_name", "@APP@/0"),
                ],
                vec![
                    ("parca_scrape_unit_address", "10.77.0.2"),
                    ("parca_scrape_unit_name", "@APP@/0"),
                ],
            ]),
            Dropped("parca_scrape_unit_name"),
        ),
        c(
            "a unit bag over 16 KiB",
            units(vec![vec![
                ("parca_scrape_unit_address", "10.77.0.1"),
                ("parca_scrape_unit_name", "@APP@/0"),
                ("padding", &"p".repeat(20 * 1024)),
            ]]),
            Dropped("unit databag"),
        ),
        // the upstream store (we are the parca_store requirer)
        c(
            "store address with a flag line",
            store_with(
                "remote-store-address",
                "parca.example:7070\n--insecure-skip-verify",
            ),
            Refused("remote-store-address"),
        ),
        c(
            "store address with a path",
            store_with("remote-store-address", "parca.example:7070/api"),
            Refused("remote-store-address"),
        ),
        c(
            "store address without a port",
            store_with("remote-store-address", "parca.example"),
            Refused("remote-store-address"),
        ),
        c(
            "store address port 0",
            store_with("remote-store-address", "parca.example:0"),
            Refused("remote-store-address"),
        ),
        c(
            "store address port out of range",
            store_with("remote-store-address", "parca.example:99999"),
            Refused("remote-store-address"),
        ),
        c(
            "store address bare IPv6",
            store_with("remote-store-address", "fd00::1"),
            Refused("remote-store-address"),
        ),
        c(
            "store address JSON",
            store_with("remote-store-address", r#"{"address": "x"}"#),
            Refused("remote-store-address"),
        ),
        c(
            "store address with spaces",
            store_with("remote-store-address", "garbage with spaces"),
            Refused("remote-store-address"),
        ),
        c(
            "store address with NUL",
            store_with("remote-store-address", "parca.example\u{0}:7070"),
            Refused("remote-store-address"),
        ),
        c(
            "store insecure not a boolean",
            store_with("remote-store-insecure", "maybe"),
            Refused("remote-store-insecure"),
        ),
        c(
            "store insecure YAML boolean",
            store_with("remote-store-insecure", "yes"),
            Refused("remote-store-insecure"),
        ),
        c(
            "store token with a newline",
            store_with("remote-store-bearer-token", "t0k3n\n--insecure"),
            Refused("remote-store-bearer-token"),
        ),
        c(
            "store token over 8 KiB",
            store_with("remote-store-bearer-token", &"t".repeat(9 * 1024)),
            Refused("remote-store-bearer-token"),
        ),
        c(
            "store token in clear to a remote address",
            store_with("remote-store-insecure", "true"),
            Refused("the bearer token would be sent without TLS"),
        ),
        // the other endpoints: what the remote side writes is not read
        c(
            "an agent writes junk",
            Input::Agent {
                app: junk(),
                unit: junk(),
            },
            Ignored,
        ),
        c(
            "a scraping Parca writes junk",
            Input::Scraper {
                app: junk(),
                unit: junk(),
            },
            Ignored,
        ),
        c(
            "a Prometheus writes junk",
            Input::Prometheus {
                app: junk(),
                unit: junk(),
            },
            Ignored,
        ),
        c(
            "a Grafana writes junk",
            Input::Grafana {
                app: junk(),
                unit: junk(),
            },
            Ignored,
        ),
    ]
}

/// Letters for the n-th class's application name (Juju names have no digit after a hyphen).
fn app_name(n: usize) -> String {
    let mut name = String::new();
    let mut n = n;
    loop {
        name.insert(0, char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            break;
        }
        n -= 1;
    }
    format!("hostile-{name}")
}

struct Baseline {
    agents_bag: Databag,
    flag_files: Vec<Option<String>>,
}

fn flag_files(m: &Model) -> Vec<Option<String>> {
    [
        "/etc/parca-broker/parca-scraper.args",
        "/etc/parca-broker/parca-agent.args",
        "/etc/parca-broker/store-token",
    ]
    .iter()
    .map(|path| m.file(UNIT, path))
    .collect()
}

fn state(m: &Model) -> Value {
    serde_json::from_str(&m.file(UNIT, "/var/lib/parca-broker/state.json").unwrap()).unwrap()
}

/// Every string in a JSON value.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out)
        }),
        _ => {}
    }
}

/// The rendered jobs whose name mentions `app`, as JSON (for messages).
fn jobs_of(snapshot: &Value, app: &str) -> String {
    let jobs: Vec<&Value> = snapshot["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|job| job.to_string().contains(app))
        .collect();
    if jobs.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&jobs).unwrap()
    }
}

/// Checks that hold after every class: hooks exited 0, parca.yaml loads in check-config and
/// still has the good provider's targets.
fn common_checks(m: &Model, runs_before: usize, name: &str) -> Vec<String> {
    for run in &m.runs()[runs_before..] {
        assert_eq!(
            run.code, 0,
            "{name}: {} on {}: {}",
            run.hook, run.unit, run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{name}: {}", run.stderr);
    }
    let yaml = m.file(UNIT, "/etc/parca/parca.yaml").unwrap();
    let loaded = parca_broker::render::validate::check_yaml(&yaml)
        .unwrap_or_else(|problems| panic!("{name}: check-config refuses parca.yaml: {problems:?}"));
    for address in ["10.66.0.1:6060", "10.66.0.2:6060"] {
        assert!(
            yaml.contains(address),
            "{name}: the good provider's {address} is gone"
        );
    }
    let mut values = Vec::new();
    strings(&serde_json::to_value(&loaded).unwrap(), &mut values);
    values
}

#[test]
fn every_hostile_input_class_is_contained() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile");
    let _ = std::fs::remove_dir_all(&dir);
    let mut m = common::charm_model(&dir);
    // A reachable listen-address: self-profiling-endpoint and metrics-endpoint need one.
    // (Services are not run: state only.)
    let settings = json!({"listen-address": "10.0.0.5:7075"});
    m.deploy_charm("parca-broker", 1, settings.as_object().unwrap().clone())
        .unwrap();
    m.add_remote_app("good", 2).unwrap();
    let good = m
        .relate(
            "parca-broker",
            "profiling-endpoint",
            "good",
            "profiling-endpoint",
        )
        .unwrap();
    let mut good_app = bag(&[(
        "scrape_jobs",
        r#"[{"job_name": "good", "static_configs": [{"targets": ["*:6060"]}]}]"#,
    )]);
    good_app.insert("scrape_metadata".into(), metadata("good"));
    m.set_app_data(good, "good", good_app).unwrap();
    for n in 0..2 {
        m.set_unit_data(
            good,
            &format!("good/{n}"),
            bag(&[
                ("parca_scrape_unit_address", &format!("10.66.0.{}", n + 1)),
                ("parca_scrape_unit_name", &format!("good/{n}")),
            ]),
        )
        .unwrap();
    }
    let agents = common::relate_agent(&mut m, "agent");
    m.add_remote_app("upstream", 1).unwrap();
    let upstream = m
        .relate(
            "parca-broker",
            "external-parca-store-endpoint",
            "upstream",
            "parca-store-endpoint",
        )
        .unwrap();
    m.set_app_data(upstream, "upstream", good_store()).unwrap();
    common_checks(&m, 0, "baseline");
    let status = m.status(UNIT).unwrap().clone();
    assert_eq!(status.status, "active", "{}", status.message);
    let baseline = Baseline {
        agents_bag: m.app_bag(agents, "parca-broker"),
        flag_files: flag_files(&m),
    };
    assert_eq!(baseline.agents_bag, good_store());

    let classes = classes();
    assert!(classes.len() >= 80, "{} classes", classes.len());
    // docs/hostile-inputs.md lists every class (the README links it).
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/hostile-inputs.md"),
    )
    .unwrap();
    for class in &classes {
        assert!(
            doc.contains(&format!("| {} |", class.name.replace('|', "\\|"))),
            "docs/hostile-inputs.md does not list {:?}",
            class.name
        );
    }
    let mut names = std::collections::BTreeSet::new();
    let mut failures: Vec<String> = Vec::new();
    for (n, class) in classes.into_iter().enumerate() {
        assert!(names.insert(class.name), "duplicate class {}", class.name);
        let name = class.name;
        let app = app_name(n);
        let runs_before = m.runs().len();
        let fill = |b: &Databag| -> Databag {
            b.iter()
                .map(|(k, v)| {
                    let v = if v == "@META@" {
                        metadata(&app)
                    } else {
                        v.replace("@APP@", &app)
                    };
                    (k.clone(), v)
                })
                .collect()
        };
        // Write the class's data; `relation` is what to remove afterwards.
        let (relation, endpoint) = match &class.input {
            Input::Provider {
                app: app_bag,
                units,
            } => {
                let units = if units.is_empty() {
                    good_units(&app)
                } else {
                    units.clone()
                };
                m.add_remote_app(&app, units.len() as u32).unwrap();
                let id = m
                    .relate(
                        "parca-broker",
                        "profiling-endpoint",
                        &app,
                        "profiling-endpoint",
                    )
                    .unwrap();
                m.set_app_data(id, &app, fill(app_bag)).unwrap();
                for (i, unit_bag) in units.iter().enumerate() {
                    m.set_unit_data(id, &format!("{app}/{i}"), fill(unit_bag))
                        .unwrap();
                }
                (Some(id), "profiling-endpoint")
            }
            Input::Store(store) => {
                m.set_app_data(upstream, "upstream", store.clone()).unwrap();
                (None, "external-parca-store-endpoint")
            }
            Input::Agent { app: a, unit }
            | Input::Scraper { app: a, unit }
            | Input::Prometheus { app: a, unit }
            | Input::Grafana { app: a, unit } => {
                let (ours, theirs) = match &class.input {
                    Input::Agent { .. } => ("parca-store-endpoint", "parca-store-endpoint"),
                    Input::Scraper { .. } => ("self-profiling-endpoint", "profiling-endpoint"),
                    Input::Prometheus { .. } => ("metrics-endpoint", "metrics-endpoint"),
                    _ => ("grafana-dashboard", "grafana-dashboard"),
                };
                m.add_remote_app(&app, 1).unwrap();
                let id = m.relate("parca-broker", ours, &app, theirs).unwrap();
                m.set_app_data(id, &app, a.clone()).unwrap();
                m.set_unit_data(id, &format!("{app}/0"), unit.clone())
                    .unwrap();
                (Some(id), ours)
            }
        };
        let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let values = common_checks(&m, runs_before, name);
            let snapshot = state(&m);
            let reports: Vec<&Value> = snapshot["dropped"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| relation.is_some_and(|id| d["relation"] == format!("{endpoint}:{id}")))
                .collect();
            let status = m.status(UNIT).unwrap().clone();
            match class.expect {
                Expect::Dropped(key) => {
                    let id = relation.unwrap();
                    assert!(
                        reports.iter().any(|d| d["app"] == app.as_str()
                            && d["key"].as_str().unwrap().starts_with(key)),
                        "{name}: no report on {endpoint}:{id} (app {app}) for key {key}: {:#}; rendered: {}",
                        snapshot["dropped"],
                        jobs_of(&snapshot, &app)
                    );
                    assert_eq!(status.status, "blocked", "{name}: {}", status.message);
                    assert!(
                        status
                            .message
                            .contains(&format!("{endpoint}:{id} (app {app}")),
                        "{name}: {}",
                        status.message
                    );
                }
                Expect::Rendered(value) => {
                    assert!(reports.is_empty(), "{name}: reported {reports:?}");
                    assert!(
                        values.iter().any(|v| v.contains(value)),
                        "{name}: {value:?} is not in parca.yaml: {}",
                        jobs_of(&snapshot, &app)
                    );
                    assert_eq!(status.status, "active", "{name}: {}", status.message);
                }
                Expect::Accepted => {
                    assert!(reports.is_empty(), "{name}: reported {reports:?}");
                    assert!(
                        !jobs_of(&snapshot, &app).is_empty(),
                        "{name}: nothing rendered"
                    );
                    assert_eq!(status.status, "active", "{name}: {}", status.message);
                }
                Expect::KeyIgnored(key) => {
                    assert!(reports.is_empty(), "{name}: reported {reports:?}");
                    let ignored = snapshot["ignored"].to_string();
                    assert!(
                        ignored.contains(key) && ignored.contains(app.as_str()),
                        "{name}: {key} of {app} not in ignored: {ignored}"
                    );
                    assert!(
                        !jobs_of(&snapshot, &app).is_empty(),
                        "{name}: nothing rendered"
                    );
                    assert_eq!(status.status, "active", "{name}: {}", status.message);
                }
                Expect::Refused(key) => {
                    assert_eq!(status.status, "blocked", "{name}: {}", status.message);
                    assert!(
                        status.message.starts_with(&format!(
                            "store from upstream ({endpoint}:{upstream}) not relayed: {key}"
                        )),
                        "{name}: {}",
                        status.message
                    );
                }
                Expect::Ignored => {
                    assert!(reports.is_empty(), "{name}: reported {reports:?}");
                    assert_eq!(status.status, "active", "{name}: {}", status.message);
                }
            }
            // Nothing unvalidated reached the agents or the flag files.
            assert_eq!(
                m.app_bag(agents, "parca-broker"),
                baseline.agents_bag,
                "{name}: the agents' bag"
            );
            assert_eq!(
                flag_files(&m),
                baseline.flag_files,
                "{name}: the flag files"
            );
        }));
        // Back to the baseline for the next class.
        match relation {
            Some(id) => m.remove_relation(id).unwrap(),
            None => m.set_app_data(upstream, "upstream", good_store()).unwrap(),
        }
        let undone = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            common_checks(&m, runs_before, name);
            let status = m.status(UNIT).unwrap();
            assert_eq!(
                status.status, "active",
                "{name}, undone: {}",
                status.message
            );
        }));
        for outcome in [failure, undone] {
            if let Err(panic) = outcome {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(message);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} classes failed:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );
}
