//! Crash-safe writes: a process writing large parca.yaml files through `files::write_atomic`
//! is SIGKILLed at random points, many times; the file on disk is always the old or the new
//! complete content, never partial or empty, and the next good write clears the killed
//! writers' temp files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

use parca_broker::reconcile::files;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const PATH: &str = "/etc/parca/parca.yaml";
const WRITER_ENV: &str = "PARCA_BROKER_CRASH_SAFE_WRITER";

/// Two large, different, complete configs (about 4 MB each).
fn contents() -> [Vec<u8>; 2] {
    let config = |tag: &str| {
        let mut text = String::from("scrape_configs:\n");
        for i in 0..40_000 {
            text.push_str(&format!(
                "- job_name: {tag}_{i:06}\n  static_configs: [{{targets: ['10.0.{}.{}:7000']}}]\n",
                i / 250,
                i % 250
            ));
        }
        text.into_bytes()
    };
    [config("old"), config("new")]
}

/// The child: writes the two contents in turn, forever (until killed).
fn writer(root: &Path) -> ! {
    let [a, b] = contents();
    loop {
        files::write_atomic(root, PATH, &a, 0o640).unwrap();
        files::write_atomic(root, PATH, &b, 0o640).unwrap();
    }
}

#[test]
fn a_writer_killed_at_any_point_leaves_the_old_or_the_new_file() {
    if let Some(root) = std::env::var_os(WRITER_ENV) {
        writer(Path::new(&root));
    }
    let root = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("crash-safe");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let [a, b] = contents();
    // A deterministic spread of kill points from 1 ms to ~300 ms (seeded LCG).
    let mut seed: u64 = 0x5eed;
    let mut seen = [0usize; 2];
    for _ in 0..60 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = Duration::from_millis(1 + (seed >> 33) % 300);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_writer_killed_at_any_point_leaves_the_old_or_the_new_file",
            ])
            .env(WRITER_ENV, &root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        match files::read(&root, PATH) {
            None => {} // killed before its first rename
            Some(content) if content == a => seen[0] += 1,
            Some(content) if content == b => seen[1] += 1,
            Some(content) => panic!(
                "after a kill at {delay:?}: {} bytes on disk, neither complete version",
                content.len()
            ),
        }
    }
    assert!(
        seen[0] + seen[1] >= 30,
        "kills mostly after a write: {seen:?}"
    );
    // Killed writers left temp files; the next good write removes them.
    files::write_atomic(&root, PATH, &a, 0o640).unwrap();
    let leftovers: Vec<String> = std::fs::read_dir(root.join("etc/parca"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "parca.yaml")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
