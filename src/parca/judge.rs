//! The real Parca as the judge of a parca.yaml: start the binary on the file and see whether it
//! gets past loading it (parca.md A.8: a bad file at startup exits 1 with the reason; a good
//! one reaches `starting server`). Parca starts scraping as soon as it has loaded a file, so it
//! runs in a network namespace with only a (down) loopback interface: nothing leaves the
//! machine, whatever addresses the file names. It runs `--mode=scraper-only` against an
//! unreachable store: the file is validated exactly as in mode `all`, but no bucket is built,
//! so nothing is written where the file's FILESYSTEM directory points.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What Parca made of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParcaVerdict {
    /// It loaded the file and started serving.
    Accepted,
    /// It exited; the error it logged.
    Rejected(String),
}

/// The judge could not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    /// Could not write the file or start the process.
    #[error("cannot run {binary}: {source}")]
    Spawn {
        /// The binary.
        binary: String,
        /// Why.
        source: std::io::Error,
    },
    /// Neither verdict within the deadline.
    #[error("parca gave no verdict within {0:?}; last output: {1}")]
    Timeout(Duration, String),
    /// No network namespace could be made (needs root, or unprivileged user namespaces).
    #[error(
        "cannot isolate parca's network (unshare --net): {0}; the judge never lets parca scrape real addresses"
    )]
    NoIsolation(String),
}

/// Runs the real Parca on a file.
#[derive(Debug, Clone)]
pub struct ParcaJudge {
    binary: PathBuf,
    deadline: Duration,
}

impl ParcaJudge {
    /// A judge using this Parca binary.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            deadline: Duration::from_secs(20),
        }
    }

    /// Loads `yaml` in a fresh Parca and reports its verdict.
    pub fn judge(&self, yaml: &str) -> Result<ParcaVerdict, JudgeError> {
        let dir = tempdir()?;
        let file = dir.0.join("parca.yaml");
        std::fs::write(&file, yaml).map_err(|source| self.spawn_error(source))?;
        self.judge_file(&file)
    }

    /// Loads the file at `path` in a fresh Parca and reports its verdict.
    pub fn judge_file(&self, path: &Path) -> Result<ParcaVerdict, JudgeError> {
        let mut child = self.spawn(path)?;
        let result = self.watch(&mut child);
        // Accepted (or timed out): stop it; rejected: it has exited already.
        let _ = child.kill();
        let _ = child.wait();
        result
    }

    fn spawn(&self, config: &Path) -> Result<Child, JudgeError> {
        let mut command = Command::new("unshare");
        // As root a plain network namespace; otherwise inside a user namespace of our own.
        if !running_as_root() {
            command.arg("--map-root-user");
        }
        command
            .arg("--net")
            .arg("--")
            .arg(&self.binary)
            .arg(format!("--config-path={}", config.display()))
            .args([
                "--mode=scraper-only",
                "--store-address=127.0.0.1:9",
                "--insecure",
                "--http-address=127.0.0.1:0",
                "--log-format=logfmt",
            ])
            .current_dir(config.parent().unwrap_or(Path::new("/")))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().map_err(|source| self.spawn_error(source))
    }

    fn watch(&self, child: &mut Child) -> Result<ParcaVerdict, JudgeError> {
        let (lines, receive) = mpsc::channel::<String>();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if lines.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        drop(lines);
        let started = std::time::Instant::now();
        let mut last = String::new();
        loop {
            let left = self.deadline.saturating_sub(started.elapsed());
            match receive.recv_timeout(left) {
                Ok(line) => {
                    if line.contains("msg=\"starting server\"") {
                        return Ok(ParcaVerdict::Accepted);
                    }
                    if line.contains("unshare:") {
                        return Err(JudgeError::NoIsolation(line));
                    }
                    if line.contains("Program exited with error") {
                        return Ok(ParcaVerdict::Rejected(logfmt_value(&line, "err")));
                    }
                    if !line.trim().is_empty() {
                        last = line;
                    }
                }
                // Both streams closed: it exited without either line.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().ok();
                    return Ok(ParcaVerdict::Rejected(format!(
                        "exited ({}) without a verdict: {last}",
                        status.map_or_else(|| "?".to_owned(), |s| s.to_string())
                    )));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(JudgeError::Timeout(self.deadline, last));
                }
            }
        }
    }

    fn spawn_error(&self, source: std::io::Error) -> JudgeError {
        JudgeError::Spawn {
            binary: self.binary.display().to_string(),
            source,
        }
    }
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The value of `key=` in a logfmt line (quoted values unescaped).
fn logfmt_value(line: &str, key: &str) -> String {
    let Some(start) = line.find(&format!(" {key}=")) else {
        return line.to_owned();
    };
    let rest = &line[start + key.len() + 2..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                c => value.push(c),
            }
        }
        value
    } else {
        rest.split(' ').next().unwrap_or_default().to_owned()
    }
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> Result<TempDir, JudgeError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("parca-judge-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| JudgeError::Spawn {
        binary: dir.display().to_string(),
        source,
    })?;
    Ok(TempDir(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_values_are_unquoted() {
        let line = r#"level=error ts=x caller=main.go:66 msg="Program exited with error" err="parsing YAML: \"x\"\n  line 3""#;
        assert_eq!(logfmt_value(line, "err"), "parsing YAML: \"x\"\n  line 3");
        assert_eq!(logfmt_value("a=1 err=plain b=2", "err"), "plain");
    }
}
