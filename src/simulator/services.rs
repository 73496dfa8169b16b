//! Real services for the simulator (opt-in, `Model::run_services`): `systemctl start` runs the
//! unit file's `ExecStart` as a real child process, so the charm's `parca.service` and
//! `parca-broker.service` actually run under test. The subset of systemd the charm's units
//! use, and nothing more:
//!
//! * the unit file is read from `<root>/etc/systemd/system/<name>`; only `ExecStart=`,
//!   `WorkingDirectory=` and `StateDirectory=` are used (the rest, `Restart=` included, is
//!   ignored: a process that dies stays dead, which is what the charm's revival must notice);
//! * `ExecStart` is split on whitespace (no quoting, no `%` specifiers, no `$` expansion: the
//!   charm writes none); its first word runs as is, every other absolute path (a whole word or
//!   the value after `=`) is taken under the unit's root, as a chroot would;
//! * `StateDirectory=x` creates `<root>/var/lib/x`; `WorkingDirectory=` is under the root;
//! * the environment is systemd's clean one (`PATH`, `LANG`); stdout and stderr go to
//!   `<root>/var/log/<name>.log`;
//! * stop is SIGTERM, then SIGKILL after 10 s; `is-active` is "the process exists and is not a
//!   zombie".

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the simulator understood of a unit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    /// `ExecStart` words, paths already under the root.
    pub argv: Vec<String>,
    /// `WorkingDirectory`, under the root.
    pub working_directory: Option<PathBuf>,
    /// `StateDirectory`, under the root's `/var/lib`.
    pub state_directory: Option<PathBuf>,
}

/// Reads `<root>/etc/systemd/system/<name>`.
pub fn load_unit(root: &Path, name: &str) -> Result<UnitFile, String> {
    let path = root.join("etc/systemd/system").join(name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("Unit {name} not found ({}: {e}).", path.display()))?;
    let under_root = |p: &str| root.join(p.trim_start_matches('/'));
    let mut unit = UnitFile {
        argv: Vec::new(),
        working_directory: None,
        state_directory: None,
    };
    for line in text.lines().map(str::trim) {
        if let Some(command) = line.strip_prefix("ExecStart=") {
            unit.argv = command
                .split_whitespace()
                .enumerate()
                .map(|(i, word)| match (i, word.split_once('=')) {
                    (0, _) => word.to_owned(),
                    (_, Some((flag, value))) if value.starts_with('/') => {
                        format!("{flag}={}", under_root(value).display())
                    }
                    (_, _) if word.starts_with('/') => under_root(word).display().to_string(),
                    _ => word.to_owned(),
                })
                .collect();
        } else if let Some(dir) = line.strip_prefix("WorkingDirectory=") {
            unit.working_directory = Some(under_root(dir));
        } else if let Some(dir) = line.strip_prefix("StateDirectory=") {
            unit.state_directory = Some(root.join("var/lib").join(dir));
        }
    }
    if unit.argv.is_empty() {
        return Err(format!("Unit {name} has no ExecStart."));
    }
    Ok(unit)
}

/// Starts the unit; returns the process id.
pub fn start(root: &Path, name: &str) -> Result<u32, String> {
    let unit = load_unit(root, name)?;
    for dir in [&unit.state_directory, &unit.working_directory]
        .into_iter()
        .flatten()
    {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let log_dir = root.join("var/log");
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    let log_path = log_dir.join(format!("{name}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err_log = log.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(&unit.argv[0]);
    // systemd's clean environment: nothing of the hook's (JUJU_DISPATCH_PATH would make the
    // broker binary think it runs a hook).
    command
        .args(&unit.argv[1..])
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log);
    if let Some(dir) = &unit.working_directory {
        command.current_dir(dir);
    }
    // Its own process group: a test's Ctrl-C does not reach it; the model stops it on drop.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command
        .spawn()
        .map_err(|e| format!("Failed to start {name}: {}: {e}", unit.argv[0]))?;
    Ok(child.id())
}

/// Is the process alive (not gone, not a zombie)?
pub fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // "pid (comm) S …": the state follows the last ')'.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// SIGTERM, then SIGKILL after 10 s.
pub fn stop(pid: u32) {
    let signal = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    };
    if !is_running(pid) {
        return;
    }
    signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if is_running(pid) {
        signal("-KILL");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_start_paths_go_under_the_root_but_the_program_does_not() {
        let root = std::env::temp_dir().join(format!("sim-services-{}", std::process::id()));
        let dir = root.join("etc/systemd/system");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("x.service"),
            "[Service]\nExecStart=/bin/sleep 30 --config-path=/etc/p.yaml /var/lib/s --mode=all\n\
             WorkingDirectory=/var/lib/x\nStateDirectory=x\n",
        )
        .unwrap();
        let unit = load_unit(&root, "x.service").unwrap();
        let r = root.display();
        assert_eq!(
            unit.argv,
            [
                "/bin/sleep".to_owned(),
                "30".into(),
                format!("--config-path={r}/etc/p.yaml"),
                format!("{r}/var/lib/s"),
                "--mode=all".into()
            ]
        );
        assert_eq!(unit.working_directory, Some(root.join("var/lib/x")));
        assert!(load_unit(&root, "missing.service").is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
