//! The one place that touches the machine's files: atomic writes under a root prefix.
//!
//! Write = temporary file in the same directory, fsync, rename over the target, fsync the
//! directory; so a reader (Parca's file watch) sees the old file or the new one, never half.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the service unit lives (machines).
pub const SYSTEMD_UNIT: &str = "/etc/systemd/system/parca-broker.service";
/// The managed Parca's unit (machines).
pub const PARCA_UNIT: &str = "/etc/systemd/system/parca.service";
/// Flags for a Parca server scraping for the upstream store (one per line).
pub const SCRAPER_ARGS: &str = "/etc/parca-broker/parca-scraper.args";
/// Flags for a parca-agent pushing to the upstream store (one per line).
pub const AGENT_ARGS: &str = "/etc/parca-broker/parca-agent.args";
/// The upstream store's bearer token (mode 0600), referenced by the flags, never on argv.
pub const STORE_TOKEN: &str = "/etc/parca-broker/store-token";
/// Where the service reads the broker's state.
pub const STATE_FILE: &str = "/var/lib/parca-broker/state.json";
/// What the unit last read from its relations (see `reconcile::cache`), mode 0600.
pub const CACHE_FILE: &str = "/var/lib/parca-broker/remote-cache.json";

/// `root` + an absolute logical path.
pub fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// A file's content, or `None` if it does not exist or cannot be read.
pub fn read(root: &Path, path: &str) -> Option<Vec<u8>> {
    fs::read(under(root, path)).ok()
}

/// A file's length and SHA-256: enough to tell whether new content differs, without holding
/// the old text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDigest {
    len: u64,
    sha256: [u8; 32],
}

impl FileDigest {
    /// The digest of `content`.
    pub fn of(content: &[u8]) -> FileDigest {
        use sha2::{Digest, Sha256};
        FileDigest {
            len: content.len() as u64,
            sha256: Sha256::digest(content).into(),
        }
    }

    /// Is `content` the file's content? A different length answers without hashing.
    pub fn matches(&self, content: &[u8]) -> bool {
        self.len == content.len() as u64 && *self == FileDigest::of(content)
    }
}

/// A file's digest, read in 64 KiB pieces (`None` if it does not exist or cannot be read).
pub fn digest(root: &Path, path: &str) -> Option<FileDigest> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = fs::File::open(under(root, path)).ok()?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buffer[..n]);
                len += n as u64;
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(FileDigest {
        len,
        sha256: hasher.finalize().into(),
    })
}

/// Modification time of a file, Unix seconds (`None`: absent).
pub fn modified_unix(root: &Path, path: &str) -> Option<f64> {
    let modified = fs::metadata(under(root, path)).ok()?.modified().ok()?;
    Some(
        modified
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs_f64(),
    )
}

/// Removes a file (absent already is fine).
pub fn remove(root: &Path, path: &str) -> std::io::Result<()> {
    match fs::remove_file(under(root, path)) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// Adds the execute bits (u+x, g+x, o+x where read is allowed) to a file outside the root
/// (a Juju resource).
pub fn make_executable(path: &Path) -> std::io::Result<()> {
    let mode = fs::metadata(path)?.permissions().mode();
    fs::set_permissions(
        path,
        fs::Permissions::from_mode(mode | ((mode & 0o444) >> 2)),
    )
}

/// Writes `content` to `path` atomically with `mode`, creating parent directories.
pub fn write_atomic(root: &Path, path: &str, content: &[u8], mode: u32) -> std::io::Result<()> {
    let target = under(root, path);
    let dir = target.parent().ok_or_else(|| {
        std::io::Error::other(format!("{} has no parent directory", target.display()))
    })?;
    fs::create_dir_all(dir)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(content)?;
        // The mode given at creation is filtered by the umask; set it exactly.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&temp, &target)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp); // best effort: never leave a half-written temp file
    } else {
        // A writer killed mid-write (SIGKILL, power loss) leaves its temp file behind, named
        // after its pid; the next good write of the same file clears them.
        let prefix = format!(".{name}.tmp-");
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_dirs_sets_mode_and_replaces() {
        let root = std::env::temp_dir().join(format!("parca-broker-files-{}", std::process::id()));
        write_atomic(&root, "/etc/parca/parca.yaml", b"one", 0o640).unwrap();
        write_atomic(&root, "/etc/parca/parca.yaml", b"two", 0o640).unwrap();
        assert_eq!(read(&root, "/etc/parca/parca.yaml").unwrap(), b"two");
        let meta = fs::metadata(under(&root, "/etc/parca/parca.yaml")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        let leftovers: Vec<_> = fs::read_dir(under(&root, "/etc/parca")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_digest_read_in_pieces_matches_only_the_same_content() {
        let root = std::env::temp_dir().join(format!("parca-broker-digest-{}", std::process::id()));
        // Over two 64 KiB pieces, so the streaming read is exercised.
        let content: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        write_atomic(&root, "/var/lib/parca-broker/state.json", &content, 0o640).unwrap();
        let seen = digest(&root, "/var/lib/parca-broker/state.json").unwrap();
        assert_eq!(seen, FileDigest::of(&content));
        assert!(seen.matches(&content));
        let mut changed = content.clone();
        changed[100_000] ^= 1;
        assert!(!seen.matches(&changed), "same length, one bit differs");
        assert!(!seen.matches(&content[..content.len() - 1]));
        assert_eq!(digest(&root, "/var/lib/parca-broker/missing.json"), None);
        fs::remove_dir_all(&root).unwrap();
    }
}
