//! Helpers shared by integration tests (each test file that uses them says `mod common;`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // not every test uses every helper

pub mod generators;

use std::path::PathBuf;
use std::process::Command;

/// The real Parca binary: `$PARCA_BROKER_PARCA` (scripts/test sets it), else what
/// `scripts/install-parca` prints (it builds Parca once, about 10 minutes, then reuses it).
/// Tests that need Parca never skip: without it they fail and say how to get it.
pub fn parca_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PARCA_BROKER_PARCA") {
        return PathBuf::from(path);
    }
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/install-parca");
            let out = Command::new(&script)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                out.status.success(),
                "scripts/install-parca failed (the real Parca is needed; run ./scripts/test): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
}
