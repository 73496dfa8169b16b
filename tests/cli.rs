//! The `parca-broker vectors` command, run as a real process.

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
