//! The real Parca (v0.28.0, built by scripts/install-parca) as the judge of every parca.yaml the
//! tests have: the 20 recorded config vectors, the golden files, and files rendered from
//! generated provider data. Where our `check-config` and Parca disagree, Parca is right.
//! Parca runs in a network namespace with no interface up (see `parca::judge`): whatever
//! addresses a file names, nothing is scraped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use parca_broker::fixes::FixSet;
use parca_broker::interfaces::parca_scrape::render_jobs;
use parca_broker::parca::{ParcaJudge, ParcaVerdict};
use parca_broker::render::validate::check_yaml;
use parca_broker::render::{Discovery, ObjectStorage, ParcaConfig, render_config};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

/// Judges every (name, yaml) on a few threads; returns Parca's verdicts in input order.
fn judge_all(files: &[(String, String)]) -> Vec<ParcaVerdict> {
    let judge = ParcaJudge::new(common::parca_binary());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let verdicts = std::sync::Mutex::new(vec![None; files.len()]);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((name, yaml)) = files.get(i) else {
                        break;
                    };
                    let verdict = judge
                        .judge(yaml)
                        .unwrap_or_else(|e| panic!("{name}: no verdict from parca: {e}"));
                    verdicts.lock().unwrap()[i] = Some(verdict);
                }
            });
        }
    });
    verdicts
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

#[test]
fn parca_and_check_config_agree_on_the_twenty_config_vectors() {
    let file: Value = serde_json::from_str(include_str!("vectors/parca_configs.json")).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    let files: Vec<(String, String)> = vectors
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                serde_json::to_string_pretty(&v["config"]).unwrap(),
            )
        })
        .collect();
    let verdicts = judge_all(&files);
    let mut accepted = 0;
    for ((vector, (name, yaml)), verdict) in vectors.iter().zip(&files).zip(&verdicts) {
        let labelled_valid = vector["valid"].as_bool().unwrap();
        let ours = check_yaml(yaml);
        match verdict {
            ParcaVerdict::Accepted => {
                accepted += 1;
                assert!(
                    labelled_valid,
                    "{name}: Parca loads it, the vector says invalid"
                );
                assert!(
                    ours.is_ok(),
                    "{name}: Parca loads it, check-config refuses: {ours:?}"
                );
            }
            ParcaVerdict::Rejected(err) => {
                assert!(
                    !labelled_valid,
                    "{name}: Parca refuses a valid vector: {err}"
                );
                assert!(
                    ours.is_err(),
                    "{name}: Parca refuses ({err}), check-config accepts"
                );
                // The recorded error is Parca's own words (parca.md): it must be in what it says.
                let recorded = vector["parca_error"].as_str().unwrap_or_default();
                let core = recorded.rsplit(": ").next().unwrap_or(recorded);
                assert!(
                    err.contains(core),
                    "{name}: Parca said {err:?}, the vector recorded {recorded:?}"
                );
            }
        }
    }
    assert_eq!(accepted, 10, "ten valid vectors");
}

#[test]
fn parca_loads_every_golden_parca_yaml() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        // insta's header (--- … ---), then the content.
        let body = text.splitn(3, "---\n").nth(2).unwrap_or_default();
        if body.starts_with("object_storage:") {
            files.push((name, body.to_owned()));
        }
    }
    assert!(
        !files.is_empty(),
        "no parca.yaml goldens in {}",
        dir.display()
    );
    for ((name, yaml), verdict) in files.iter().zip(judge_all(&files)) {
        assert_eq!(verdict, ParcaVerdict::Accepted, "{name}:\n{yaml}");
        assert!(check_yaml(yaml).is_ok(), "{name}");
    }
}

/// Provider data from the property tests' generator (valid and invalid jobs, Prometheus
/// habits, strict settings), rendered in both discovery modes: whatever we write, Parca loads.
#[test]
fn parca_loads_what_we_render_from_generated_provider_data() {
    let strategy = proptest::collection::vec(
        proptest::collection::vec(common::generators::job_with_settings(), 0..4),
        1..4,
    );
    // A fixed seed: the same 40 models on every run (the property test explores further).
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let base = ParcaConfig {
        object_storage: ObjectStorage::default(),
        scrape_configs: Vec::new(),
    };
    let mut files = Vec::new();
    for case in 0..40 {
        let jobs = strategy.new_tree(&mut runner).unwrap().current();
        let out = render_jobs(&common::generators::provider_relations(jobs), FixSet::ALL);
        for (mode, discovery) in [
            ("static", Discovery::Static),
            (
                "http-sd",
                Discovery::HttpSd {
                    base_url: "http://10.0.0.5:7075".into(),
                },
            ),
        ] {
            let rendered = render_config(&base, &out.jobs, &discovery);
            assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
            files.push((format!("case {case} ({mode})"), rendered.yaml));
        }
    }
    let jobs: usize = files
        .iter()
        .map(|(_, y)| y.matches("job_name:").count())
        .sum();
    assert!(jobs > 40, "the generated files hold jobs ({jobs})");
    for ((name, yaml), verdict) in files.iter().zip(judge_all(&files)) {
        assert_eq!(verdict, ParcaVerdict::Accepted, "{name}:\n{yaml}");
    }
}

/// Our YAML writer's quoting and escapes, read by Parca's own YAML library (yaml.v3): label
/// values and a job name that plain YAML would retype or misparse, control characters,
/// line separators and astral characters. Each must load.
#[test]
fn parca_loads_the_strings_our_yaml_writer_quotes() {
    use parca_broker::render::ScrapeConfig;
    use parca_broker::render::parca_config::StaticConfig;
    let tricky = [
        "yes",
        "No",
        "~",
        "null",
        "0x1F",
        "0o17",
        "1:30",
        "1_000",
        "10.0.0.1",
        ".inf",
        "2001-12-14",
        "<<",
        "=",
        "- a",
        "a: b",
        "a #b",
        "#a",
        "[a]",
        "{a}",
        "*a",
        "&a",
        "!a",
        "|",
        ">",
        "'a",
        "\"a",
        "%a",
        "@a",
        "`a",
        " lead",
        "trail ",
        "a:",
        "tab\there",
        "two\nlines",
        "\u{85}",
        "\u{2028}",
        "\u{feff}bom",
        "bell\u{7}",
        "😀 astral",
        "back\\slash",
        "",
    ];
    let config = ParcaConfig {
        object_storage: ObjectStorage::default(),
        scrape_configs: vec![ScrapeConfig {
            job_name: "yes".into(),
            static_configs: vec![Some(StaticConfig {
                targets: vec!["10.0.0.1:6060".to_owned()].into(),
                labels: tricky
                    .iter()
                    .enumerate()
                    .map(|(i, value)| (format!("l{i}"), (*value).to_owned()))
                    .collect(),
            })],
            ..Default::default()
        }],
    };
    let yaml = parca_broker::render::yaml::to_string(&config).unwrap();
    assert!(
        yaml.contains("job_name: \"yes\"") && yaml.contains("\"\\u2028\""),
        "{yaml}"
    );
    let back: ParcaConfig = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(back, config);
    let verdicts = judge_all(&[("tricky strings".to_owned(), yaml.clone())]);
    assert_eq!(verdicts[0], ParcaVerdict::Accepted, "{yaml}");
}

/// The judge itself can fail: a file Parca refuses comes back rejected with Parca's reason.
#[test]
fn the_judge_reports_parcas_reason_for_a_bad_file() {
    let files = vec![(
        "unknown key".to_owned(),
        "object_storage:\n  bucket:\n    type: FILESYSTEM\n    config: {directory: ./d}\nscrape_configs:\n- job_name: a\n  bogus: 1\n".to_owned(),
    )];
    match &judge_all(&files)[0] {
        ParcaVerdict::Rejected(err) => assert!(err.contains("field bogus not found"), "{err}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// `check-config --with-parca PATH`: our verdict and Parca's, exit 0 only if both accept.
#[test]
fn check_config_with_parca_asks_the_real_one_too() {
    let dir = std::env::temp_dir().join(format!("parca-broker-judge-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let parca = common::parca_binary();
    let run = |name: &str, yaml: &str| {
        let path = dir.join(name);
        std::fs::write(&path, yaml).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_parca-broker"))
            .args(["check-config", "--with-parca"])
            .arg(&parca)
            .arg(&path)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let storage =
        "object_storage:\n  bucket:\n    type: FILESYSTEM\n    config: {directory: ./d}\n";
    let (code, text) = run(
        "good.yaml",
        &format!(
            "{storage}scrape_configs:\n- job_name: a\n  static_configs: [{{targets: ['h:6060']}}]\n"
        ),
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("loads it"), "{text}");
    let (code, text) = run(
        "bad.yaml",
        &format!("{storage}scrape_configs:\n- job_name: a\n- job_name: a\n"),
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("refuses it: ScrapeConfigs: duplicate job_name"),
        "{text}"
    );
    assert!(!text.contains("disagree"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The README's "stricter" rows: files Parca loads and `check-config` refuses on purpose. If
/// Parca starts refusing one, we are no longer stricter there and the README must say so.
#[test]
fn we_are_stricter_than_parca_only_where_the_readme_says() {
    let storage =
        "object_storage:\n  bucket:\n    type: FILESYSTEM\n    config: {directory: ./d}\n";
    let files: Vec<(String, String)> = [
        ("interval 0", "scrape_configs:\n- job_name: a\n  scrape_interval: 0\n"),
        (
            "null custom profile",
            "scrape_configs:\n- job_name: a\n  profiling_config:\n    pprof_config:\n      custom: null\n",
        ),
        (
            "profile path with '?'",
            "scrape_configs:\n- job_name: a\n  profiling_config:\n    pprof_config:\n      memory: {path: 'debug?x'}\n",
        ),
    ]
    .into_iter()
    .map(|(name, jobs)| (name.to_owned(), format!("{storage}{jobs}")))
    .collect();
    for ((name, yaml), verdict) in files.iter().zip(judge_all(&files)) {
        assert_eq!(
            verdict,
            ParcaVerdict::Accepted,
            "{name}: Parca refuses it too"
        );
        assert!(check_yaml(yaml).is_err(), "{name}: check-config accepts it");
    }
}
