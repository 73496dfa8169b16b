//! The demo, as a newcomer runs it: the real binary, the built-in model, the live service.
//! With `PARCA_BROKER_CHROMIUM` set (scripts/test installs Debian's chromium and sets it), the
//! status page is also rendered in headless Chromium and its DOM checked.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure report

mod common;

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Demo {
    child: Child,
    base: String,
    out: std::path::PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn get(url: &str) -> Option<String> {
    let output = Command::new("curl")
        .args(["-sf", "--max-time", "5", url])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Starts the demo (with the real Parca binary, if given) and waits until every target has
/// been probed.
fn start_demo(name: &str, parca: Option<&std::path::Path>) -> Demo {
    let port = common::free_port();
    let out = std::env::temp_dir().join(format!("parca-broker-demo-{name}-{}", std::process::id()));
    let child = Command::new(env!("CARGO_BIN_EXE_parca-broker"))
        .args([
            "demo",
            "--out",
            out.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--exit-after",
            "120",
        ])
        .args(parca.map(|p| format!("--parca={}", p.display())))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut demo = Demo {
        child,
        base: format!("http://127.0.0.1:{port}"),
        out,
    };
    // The demo prints its URLs once the model is built and the files are in place.
    let stdout = demo.child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    loop {
        let line = lines
            .next()
            .expect("the demo exited before it was ready")
            .unwrap();
        if line == "Press Ctrl-C to stop." {
            break;
        }
    }
    let started = Instant::now();
    loop {
        if let Some(status) = get(&format!("{}/api/v1/status", demo.base)) {
            let status: Value = serde_json::from_str(&status).unwrap();
            let probed = status["targets_up"].as_u64().unwrap_or(0)
                + status["targets_down"].as_u64().unwrap_or(0);
            // The model is complete (both drops reported) and every target was probed.
            let dropped = status["dropped"].as_array().map_or(0, Vec::len);
            if status["targets"].as_u64() == Some(7) && probed == 7 && dropped == 2 {
                return demo;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "demo did not become ready"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn demo_runs_the_pipeline_and_serves_live_health() {
    let demo = start_demo("api", Some(&common::parca_binary()));
    let status: Value =
        serde_json::from_str(&get(&format!("{}/api/v1/status", demo.base)).unwrap()).unwrap();
    assert_eq!(
        (
            status["targets_up"].as_u64(),
            status["targets_down"].as_u64()
        ),
        (Some(5), Some(2))
    );
    let dropped: Vec<&str> = status["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["app"].as_str().unwrap())
        .collect();
    assert_eq!(dropped, ["broken-exporter", "promstyle"]);
    let targets: Value =
        serde_json::from_str(&get(&format!("{}/api/v1/targets", demo.base)).unwrap()).unwrap();
    let down: Vec<&Value> = targets
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["health"]["up"] == false)
        .collect();
    assert!(
        down.iter().all(|t| t["app"] == "legacy-api"),
        "only the deliberately dead app is down"
    );
    assert!(
        down[0]["health"]["last_error"]
            .as_str()
            .unwrap()
            .starts_with("connection failed")
    );
    // The files a newcomer looks at: parca.yaml (which Parca accepts) and the agent flags.
    let parca_yaml = std::fs::read_to_string(demo.out.join("parca.yaml")).unwrap();
    assert!(parca_broker::render::validate::check_yaml(&parca_yaml).is_ok());
    assert_eq!(
        parca_broker::parca::ParcaJudge::new(common::parca_binary())
            .judge(&parca_yaml)
            .unwrap(),
        parca_broker::parca::ParcaVerdict::Accepted,
        "the real Parca loads the demo's parca.yaml"
    );
    assert!(parca_yaml.contains("127.0.0.11:") && !parca_yaml.contains("promstyle"));
    // The Prometheus config the Prometheus charm would render from metrics-endpoint: Prometheus'
    // own checker accepts it and its rule file.
    let checked = std::process::Command::new(
        std::env::var_os("PARCA_BROKER_PROMTOOL").unwrap_or_else(|| "promtool".into()),
    )
    .args(["check", "config"])
    .arg(demo.out.join("prometheus.yml"))
    .output()
    .expect("promtool (Debian package prometheus; ./scripts/test installs it)");
    let text = String::from_utf8_lossy(&checked.stdout).into_owned()
        + &String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{text}");
    assert!(text.contains("SUCCESS: 8 rules found"), "{text}");
    // With a real Parca the store is a second real Parca on loopback, in plaintext.
    let agent = std::fs::read_to_string(demo.out.join("parca-agent.args")).unwrap();
    assert!(
        agent.starts_with("--remote-store-address=127.0.0.1:")
            && agent.ends_with(
                "\n--remote-store-bearer-token-file=/etc/parca-broker/store-token\n--remote-store-insecure\n"
            ),
        "{agent}"
    );
    // The charm's Parca scrapes the demo's targets (their profiles are small but real pprof):
    // the service shows Parca's view of each, beside its own probe.
    let started = Instant::now();
    loop {
        let targets: Value =
            serde_json::from_str(&get(&format!("{}/api/v1/targets", demo.base)).unwrap()).unwrap();
        let count = |app: &str, health: &str| {
            targets
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["app"] == app && t["parca"]["health"] == health)
                .count()
        };
        if count("zinc", "good") == 3 && count("legacy-api", "bad") == 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Parca's view never showed zinc good and legacy-api bad: {targets}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let store = get(&format!("{}/api/v1/store", demo.base)).unwrap();
    assert!(store.contains("<redacted>") && !store.contains("demo-token"));
}

#[test]
fn status_page_renders_in_headless_chromium() {
    let Ok(chromium) = std::env::var("PARCA_BROKER_CHROMIUM") else {
        eprintln!("PARCA_BROKER_CHROMIUM not set: browser check skipped (scripts/test sets it)");
        return;
    };
    let demo = start_demo("browser", None);
    let profile = demo.out.join("chromium-profile");
    let shot = demo.out.join("status-page.png");
    // Headless, and nothing that reaches for the network (this machine's network is closed).
    let chromium_flags = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let dom = Command::new(&chromium)
        .args(&chromium_flags)
        .args(["--dump-dom", &format!("{}/", demo.base)])
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8(dom.stdout).unwrap();
    // What a person sees: status, counts, both kinds of health, the dropped items, the store.
    assert!(
        dom.contains("id=\"status\" class=\"pill blocked\""),
        "{dom}"
    );
    assert!(
        dom.contains("<b id=\"count-targets\">7</b>")
            && dom.contains("<b id=\"count-up\">5</b>")
            && dom.contains("<b id=\"count-down\">2</b>")
    );
    assert_eq!(dom.matches("data-health=\"up\"").count(), 5);
    assert_eq!(dom.matches("data-health=\"down\"").count(), 2);
    assert_eq!(dom.matches("class=\"dropped-row\"").count(), 2);
    assert!(dom.contains(
        "scrape timeout must be greater than the interval: demo_8d5d1f3b_promstyle_habit"
    ));
    assert!(
        dom.contains("juju_unit=zinc/2")
            && dom.contains("&lt;redacted&gt;")
            && !dom.contains("demo-token")
    );
    assert!(
        !dom.contains("never</b>"),
        "the last reconcile time is shown"
    );
    let screenshot = Command::new(&chromium)
        .args(&chromium_flags)
        .args([
            "--window-size=1400,1600",
            &format!("--screenshot={}", shot.display()),
            &format!("{}/", demo.base),
        ])
        .output()
        .unwrap();
    assert!(screenshot.status.success());
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );
}
