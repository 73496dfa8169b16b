//! Property tests: address round trips, order independence of the consumer, provider databags
//! that decode to the same jobs, stable topology identifiers, unique job names, and our JSON
//! encoder against the real CPython `json.dumps`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::fixes::FixSet;
use parca_broker::interfaces::parca_scrape::{ScrapeProvider, render_jobs, render_jobs_with, wire};
use parca_broker::interfaces::topology::{JujuTopology, ModelUuid};
use parca_broker::model::{Host, HostPort, RelationId, RelationSnapshot};
use parca_broker::pyjson;
use proptest::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

mod common;
use common::generators::{job, job_with_settings, provider_relations};

const UUID: &str = "3cdca972-b819-4f03-8d90-9c7a36d234c9";

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        any::<u32>().prop_map(|ip| Host::Ip(IpAddr::V4(Ipv4Addr::from(ip)))),
        any::<u128>().prop_map(|ip| Host::Ip(IpAddr::V6(Ipv6Addr::from(ip)))),
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}".prop_map(Host::Name),
    ]
}

fn uuid() -> impl Strategy<Value = ModelUuid> {
    (any::<u128>(), 0u8..4).prop_map(|(bits, variant)| {
        let hex = format!("{bits:032x}");
        let text = format!(
            "{}-{}-4{}-{}{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            ['8', '9', 'a', 'b'][variant as usize],
            &hex[17..20],
            &hex[20..32]
        );
        ModelUuid::parse(&text).unwrap()
    })
}

/// A relation with a provider app written by our own provider code, plus random units.
fn relation(id: u64) -> impl Strategy<Value = RelationSnapshot> {
    (
        "[a-z]{1,6}",
        proptest::collection::vec(job(), 0..3),
        proptest::collection::btree_map(0u64..20, proptest::option::of(host()), 0..5),
        prop_oneof![4 => Just(None), 1 => Just(Some("{broken"))],
    )
        .prop_map(move |(app, jobs, units, corrupt)| {
            let valid_jobs: Vec<Value> = jobs.iter().filter(|j| j.is_object()).cloned().collect();
            let topology = JujuTopology {
                model: "m".into(),
                model_uuid: ModelUuid::parse(UUID).unwrap(),
                application: app.clone(),
                unit: format!("{app}/0"),
                charm_name: "c".into(),
            };
            let mut bag = ScrapeProvider::new(&valid_jobs)
                .unwrap()
                .app_databag(&topology);
            if jobs.len() != valid_jobs.len() {
                // A non-Rust provider may publish jobs ours would refuse.
                bag.insert(wire::SCRAPE_JOBS.into(), pyjson::dumps(&Value::Array(jobs)));
            }
            if let Some(text) = corrupt {
                bag.insert(wire::SCRAPE_METADATA.into(), text.into());
            }
            let units = units
                .into_iter()
                .map(|(n, host)| {
                    let name = format!("{app}/{n}");
                    let mut unit = BTreeMap::new();
                    if let Some(host) = host {
                        unit.insert(wire::UNIT_ADDRESS.to_owned(), host.to_string());
                    }
                    (name, unit)
                })
                .collect();
            RelationSnapshot {
                id: RelationId::new("profiling-endpoint", id),
                remote_app: app,
                app: bag,
                units,
            }
        })
}

fn relations() -> impl Strategy<Value = Vec<RelationSnapshot>> {
    (0usize..5).prop_flat_map(|n| (0..n as u64).map(relation).collect::<Vec<_>>())
}

fn rendered_bytes(relations: &[RelationSnapshot]) -> (String, Vec<String>) {
    let out = render_jobs(relations, FixSet::ALL);
    (
        pyjson::dumps(&Value::Array(out.to_python_jobs())),
        out.rejections.iter().map(ToString::to_string).collect(),
    )
}

proptest! {
    #[test]
    fn host_port_round_trips_through_its_text(host in host(), port in proptest::option::of(any::<u16>())) {
        let addr = HostPort { host, port };
        let text = addr.to_string();
        prop_assert_eq!(text.parse::<HostPort>().unwrap(), addr);
    }

    #[test]
    fn consumer_output_does_not_depend_on_relation_order(
        rels in relations(),
        rotate in 0usize..5,
    ) {
        let mut shuffled = rels.clone();
        shuffled.reverse();
        if !shuffled.is_empty() {
            let k = rotate % shuffled.len();
            shuffled.rotate_left(k);
        }
        prop_assert_eq!(rendered_bytes(&rels), rendered_bytes(&shuffled));
    }

    #[test]
    fn rendered_job_names_are_unique(rels in relations()) {
        let out = render_jobs(&rels, FixSet::ALL);
        let names: BTreeSet<&str> = out.jobs.iter().map(|j| j.job_name.as_str()).collect();
        prop_assert_eq!(names.len(), out.jobs.len());
    }

    #[test]
    fn provider_databag_decodes_to_the_sanitised_jobs(jobs in proptest::collection::vec(job(), 0..4)) {
        let jobs: Vec<Value> = jobs.into_iter().filter(Value::is_object).collect();
        let provider = ScrapeProvider::new(&jobs).unwrap();
        let topology = JujuTopology {
            model: "m".into(),
            model_uuid: ModelUuid::parse(UUID).unwrap(),
            application: "a".into(),
            unit: "a/0".into(),
            charm_name: "c".into(),
        };
        let bag = provider.app_databag(&topology);
        let decoded = pyjson::loads(&bag[wire::SCRAPE_JOBS]).unwrap();
        let expected: Vec<Value> = provider.jobs().iter().cloned().map(Value::Object).collect();
        prop_assert_eq!(pyjson::dumps(&decoded), pyjson::dumps(&Value::Array(expected)));
        for job in decoded.as_array().unwrap() {
            let keys: Vec<&String> = job.as_object().unwrap().keys().collect();
            prop_assert_eq!(keys[0], "static_configs");
            prop_assert!(keys.iter().all(|k| wire::ALLOWED_KEYS.contains(&k.as_str())));
        }
    }

    #[test]
    fn topology_identifier_is_stable_and_slash_free(
        model in "[a-z/]{0,8}", app in "[a-z/-]{1,8}", uuid in uuid(),
    ) {
        let topology = JujuTopology {
            model: model.clone(),
            model_uuid: uuid.clone(),
            application: app.clone(),
            unit: String::new(),
            charm_name: String::new(),
        };
        let id = topology.identifier();
        prop_assert_eq!(&id, &topology.clone().identifier());
        prop_assert!(!id.contains('/'));
        prop_assert_eq!(id, format!("{model}_{}_{app}", &uuid.as_str()[..8]).replace('/', "_"));
    }
}

/// Arbitrary JSON, including non-ASCII text, control characters and awkward floats.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just(1e16),
            Just(1e-5),
            Just(0.1),
            Just(-0.0),
            Just(1e15),
            Just(123.456e-9)
        ]
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[\\x00-\\x7f]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((any::<String>(), inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// Runs `script` with one input per stdin line; its stdout lines.
fn python_lines(script: &str, inputs: impl Iterator<Item = String>) -> Vec<String> {
    let mut python = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (with PyYAML) is needed for this test (scripts/test installs it)");
    let mut input = String::new();
    for line in inputs {
        input.push_str(&line);
        input.push('\n');
    }
    // Write from a thread: Python answers line by line, and both pipes have finite buffers.
    let mut stdin = python.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = python.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "{script} failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn dumps_is_byte_identical_to_cpython_json_dumps() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let values: Vec<Value> = (0..3000)
        .map(|_| json_value().new_tree(&mut runner).unwrap().current())
        .collect();
    let lines = python_lines(
        "import json,sys\nfor line in sys.stdin: print(json.dumps(json.loads(line)))",
        values.iter().map(|v| serde_json::to_string(v).unwrap()),
    );
    assert_eq!(lines.len(), values.len());
    for (value, python_line) in values.iter().zip(lines) {
        let ours = pyjson::dumps(&pyjson::loads(&serde_json::to_string(value).unwrap()).unwrap());
        assert_eq!(ours, python_line, "value {value}");
    }
}

#[test]
fn parallel_rendering_gives_the_same_bytes_and_rejections_as_one_thread() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    // Well above the threshold where rendering is split across threads, with bad data mixed in.
    let relations: Vec<RelationSnapshot> = (0..600)
        .map(|id| relation(id).new_tree(&mut runner).unwrap().current())
        .collect();
    let summary = |workers| {
        let out = render_jobs_with(&relations, FixSet::ALL, workers);
        (
            pyjson::dumps(&Value::Array(out.to_python_jobs())),
            out.rejections
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
    };
    let one = summary(1);
    assert!(
        !one.1.is_empty(),
        "the generated model includes rejected data"
    );
    assert_eq!(one, summary(2));
    assert_eq!(one, summary(4));
}

proptest! {
    #[test]
    fn whatever_is_rendered_parca_accepts(
        jobs in proptest::collection::vec(proptest::collection::vec(job_with_settings(), 0..4), 1..4),
    ) {
        use parca_broker::render::{Discovery, ObjectStorage, ParcaConfig, render_config};
        use parca_broker::render::validate::check_yaml;
        let relations = provider_relations(jobs);
        let out = render_jobs(&relations, FixSet::ALL);
        let base = ParcaConfig { object_storage: ObjectStorage::default(), scrape_configs: Vec::new() };
        for discovery in [Discovery::Static, Discovery::HttpSd { base_url: "http://10.0.0.5:7075".into() }] {
            let rendered = render_config(&base, &out.jobs, &discovery);
            prop_assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
            let checked = check_yaml(&rendered.yaml);
            prop_assert!(checked.is_ok(), "{:?}\n{}", checked.err(), rendered.yaml);
            prop_assert_eq!(rendered.config.scrape_configs.len() + rendered.dropped.len(), out.jobs.len());
        }
    }
}

/// Strings that look like YAML's other types, its syntax, or are anything at all.
fn yaml_tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[-+.0-9eExob_:]{0,8}",
        "[-+]?[0-9_]{1,3}(:[0-9]{1,2}){1,2}(\\.[0-9_]*)?",
        "(?i)(y|n|yes|no|on|off|true|false|null|~|\\.inf|\\.nan|<<|=)",
        "[ -~]{0,12}",
        "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9:.Z+-]{0,12})?",
        any::<String>(),
    ]
}

#[test]
fn yaml_1_1_reads_back_every_string_we_write() {
    // PyYAML is a YAML 1.1 reader, like the yaml.v2 lineage: it takes `yes`, `1:30`, `0o17`
    // or `10.0.0.1` for other types unless they are quoted. Our writer must quote them.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strings: Vec<String> = (0..4000)
        .map(|_| {
            yaml_tricky_string()
                .new_tree(&mut runner)
                .unwrap()
                .current()
        })
        .collect();
    // Each string as a value and as a key, in the layouts parca.yaml uses.
    let docs: Vec<String> = strings
        .iter()
        .map(|s| {
            let doc = BTreeMap::from([
                ("list".to_owned(), serde_json::json!([s])),
                ("map".to_owned(), serde_json::json!({ s: s })),
            ]);
            parca_broker::render::yaml::to_string(&doc).unwrap()
        })
        .collect();
    let lines = python_lines(
        "import json,sys,yaml\nfor line in sys.stdin:\n    print(json.dumps(yaml.safe_load(json.loads(line)), default=repr))",
        docs.iter().map(|doc| serde_json::to_string(doc).unwrap()),
    );
    assert_eq!(lines.len(), strings.len());
    for ((s, doc), line) in strings.iter().zip(&docs).zip(lines) {
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"list": [s], "map": { s: s }}),
            "{s:?} written as\n{doc}"
        );
    }
}

proptest! {
    #[test]
    fn the_yaml_writer_round_trips_parca_config_shapes(
        entries in proptest::collection::btree_map(yaml_tricky_string(), proptest::collection::vec(yaml_tricky_string(), 0..3), 0..4),
        float in any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan()),
        number in any::<i64>(),
        flag in any::<bool>(),
    ) {
        use parca_broker::render::PlainValue;
        let config: BTreeMap<String, PlainValue> = entries
            .iter()
            .map(|(k, v)| (k.clone(), PlainValue::List(v.iter().cloned().map(PlainValue::Str).collect())))
            .chain([
                ("float".to_owned(), PlainValue::Float(float)),
                ("int".to_owned(), PlainValue::Int(number)),
                ("bool".to_owned(), PlainValue::Bool(flag)),
                ("nested".to_owned(), PlainValue::Map(BTreeMap::from([("empty".to_owned(), PlainValue::List(vec![]))]))),
            ])
            .collect();
        let text = parca_broker::render::yaml::to_string(&config).unwrap();
        let back: BTreeMap<String, PlainValue> = serde_saphyr::from_str(&text).unwrap();
        prop_assert_eq!(back, config, "{}", text);
    }
}
