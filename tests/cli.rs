//! The command line (`parca-broker vectors`, `check-config`, `serve`), run as real processes;
//! and `dispatch` handing a command line it is given to `parca-broker`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use serde_json::Value;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parca-broker"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn bundled_vectors_all_pass_with_a_summary_line() {
    let output = run(&["vectors"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert_eq!(text.lines().last().unwrap(), "107 passed, 0 failed");
    assert!(text.contains("fixed F3   c_ipv6_unit_address"));
    assert!(text.contains("fixed F10  srx_two_relations_config_crashes"));
    assert!(!text.contains("FAIL"));
}

#[test]
fn a_vector_that_differs_from_us_fails_with_a_diff_and_exit_status_1() {
    let all: Vec<Value> =
        serde_json::from_str(include_str!("vectors/scrape_vectors.json")).unwrap();
    let mut vector = all
        .into_iter()
        .find(|v| v["name"] == "c_named_job_with_labels")
        .unwrap();
    vector["output"]["jobs"][0]["job_name"] = "something-else".into();
    let path = std::env::temp_dir().join(format!("parca-broker-cli-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_string(&[vector]).unwrap()).unwrap();
    let output = run(&["vectors", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.starts_with("FAIL       c_named_job_with_labels"),
        "{text}"
    );
    assert!(
        text.contains(".jobs[0].job_name: expected \"something-else\""),
        "{text}"
    );
    assert_eq!(text.lines().last().unwrap(), "0 passed, 1 failed");
}

#[test]
fn emit_prints_our_outputs_as_json() {
    let output = run(&["vectors", "--emit"]);
    assert!(output.status.success());
    let emitted: Vec<Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(emitted.len(), 107);
    let ipv6 = emitted
        .iter()
        .find(|e| e["name"] == "c_ipv6_unit_address")
        .unwrap();
    assert_eq!(
        ipv6["output"]["jobs"][0]["static_configs"][0]["targets"][0],
        "[fd00::10]:8000"
    );
    assert_eq!(ipv6["verdict"], "fixed F3");
}

#[test]
fn an_unreadable_file_is_an_error_naming_it() {
    let output = run(&["vectors", "/nonexistent/vectors.json"]);
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(
        err.contains("cannot read /nonexistent/vectors.json"),
        "{err}"
    );
}

#[test]
fn check_config_accepts_a_valid_file_and_names_every_problem_of_a_bad_one() {
    let dir = std::env::temp_dir().join(format!("parca-broker-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.yaml");
    std::fs::write(&good, "object_storage:\n  bucket:\n    type: FILESYSTEM\n    config: {directory: ./data}\nscrape_configs:\n- job_name: a\n  static_configs: [{targets: ['h:6060']}]\n").unwrap();
    let output = run(&["check-config", good.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(stdout(&output).ends_with("ok (1 scrape configs, object storage FILESYSTEM)\n"));

    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "object_storage:\n  bucket:\n    type: FILESYSTEM\n    config: {directory: ./data}\nscrape_configs:\n- job_name: a\n  scrape_interval: 15s\n  scrape_timeout: 10s\n- job_name: a\n").unwrap();
    let output = run(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains(
            "scrape_configs[0] (job a): scrape timeout must be greater than the interval: a"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "scrape_configs: ScrapeConfigs: duplicate job_name found in scrape configs: a."
        ),
        "{text}"
    );
    assert!(
        text.ends_with("2 problem(s); Parca would refuse this file\n"),
        "{text}"
    );

    let typo = dir.join("typo.yaml");
    std::fs::write(&typo, "object_storage:\n  bucket:\n    type: FILESYSTEM\n    config: {directory: ./data}\ndebug_info: {}\n").unwrap();
    let text = stdout(&run(&["check-config", typo.to_str().unwrap()]));
    assert!(
        text.contains("line 5 column 1: field debug_info not found"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_refuses_probe_intervals_out_of_range() {
    for value in ["0", "86401", "18446744073709551615"] {
        let output = run(&["serve", "--probe-interval", value]);
        assert_eq!(output.status.code(), Some(2), "{value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--probe-interval"), "{value}: {stderr}");
    }
}

#[test]
fn dispatch_hands_a_command_line_to_the_full_binary_with_its_exit_status() {
    // A service unit written by an older charm runs `<charm dir>/dispatch serve …`.
    let dispatch = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_dispatch"))
            .env_remove("JUJU_DISPATCH_PATH")
            .args(args)
            .output()
            .unwrap()
    };
    let version = dispatch(&["--version"]);
    assert!(version.status.success());
    assert_eq!(stdout(&version), stdout(&run(&["--version"])));
    // The service's own refusal, exit status 2, as `parca-broker serve` gives it.
    let output = dispatch(&["serve", "--probe-interval", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--probe-interval"));
    // Without arguments and outside Juju it is a hook without its context: exit 1, saying so.
    let output = Command::new(env!("CARGO_BIN_EXE_dispatch"))
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("JUJU_UNIT_NAME is not set"));
}
