//! The charm's Grafana dashboards against Grafana's own dashboard schema: no Grafana server can
//! be installed from the registries here, but npm has `@grafana/schema`, the TypeScript types
//! Grafana generates from its dashboard schema. Each dashboard becomes a typed object literal
//! (`const d: Dashboard = <json>`) and `tsc --strict` checks it: unknown keys, wrong types and
//! missing required fields fail. Needs node and npm (on the machine; `npm install` runs once).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory with the pinned `@grafana/schema` and `typescript` installed.
fn checker() -> PathBuf {
    // Both tests need it; install once.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-schema");
    std::fs::create_dir_all(&dir).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard-schema");
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    if !dir.join("node_modules/.bin/tsc").exists() {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm is needed to install @grafana/schema");
        assert!(
            out.status.success(),
            "npm ci: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// `tsc` over one dashboard; `Err(diagnostics)` when it does not type-check.
fn type_check(dir: &Path, name: &str, json: &str) -> Result<(), String> {
    let source = format!(
        "import type {{ Dashboard }} from \"@grafana/schema\";\nexport const dashboard: Dashboard = {json};\n"
    );
    let file = format!("{name}.ts");
    std::fs::write(dir.join(&file), source).unwrap();
    // The file alone (tests run side by side), strict.
    let out = Command::new(dir.join("node_modules/.bin/tsc"))
        .args([
            "--strict",
            "--noEmit",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
        ])
        .args(["--target", "es2022", "--skipLibCheck", &file])
        .current_dir(dir)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[test]
fn every_shipped_dashboard_type_checks_against_grafanas_dashboard_schema() {
    let dir = checker();
    let dashboards = Path::new(env!("CARGO_MANIFEST_DIR")).join("charm/grafana_dashboards");
    let mut checked = 0;
    for entry in std::fs::read_dir(dashboards).unwrap().flatten() {
        let json = std::fs::read_to_string(entry.path()).unwrap();
        let name = entry
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('-', "_");
        if let Err(diagnostics) = type_check(&dir, &name, &json) {
            panic!("{}:\n{diagnostics}", entry.path().display());
        }
        checked += 1;
    }
    assert!(checked >= 1);
}

#[test]
fn the_check_fails_on_an_unknown_key_and_a_wrong_type() {
    let dir = checker();
    let err = type_check(&dir, "unknown_key", r#"{"titel": "x"}"#).unwrap_err();
    assert!(err.contains("'\"titel\"' does not exist"), "{err}");
    let err = type_check(&dir, "wrong_type", r#"{"title": 3}"#).unwrap_err();
    assert!(err.contains("TS2322"), "{err}");
}
