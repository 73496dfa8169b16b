//! A real Parca as a profile store: mode `all`, in memory, on a free loopback port, with no
//! scrape jobs of its own. The demo and the end-to-end test forward to it. Stopped on drop.

use std::path::Path;
use std::time::{Duration, Instant};

/// A running Parca store.
#[derive(Debug)]
pub struct ParcaStore {
    child: std::process::Child,
    /// Its HTTP and gRPC address.
    pub address: std::net::SocketAddr,
}

impl Drop for ParcaStore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ParcaStore {
    /// Starts `binary` in `dir` (its parca.yaml and `parca-store.log` go there) and waits up to
    /// 20 s for its `/metrics` to answer.
    pub fn start(binary: &Path, dir: &Path) -> std::io::Result<ParcaStore> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join("parca.yaml"),
            "object_storage:\n  bucket:\n    type: FILESYSTEM\n    config: {directory: ./data}\nscrape_configs: []\n",
        )?;
        let address = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log_path = dir.join("parca-store.log");
        let log = std::fs::File::create(&log_path)?;
        let child = std::process::Command::new(binary)
            .arg("--config-path=parca.yaml")
            .arg(format!("--http-address={address}"))
            .current_dir(dir)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        // Owned from here: an early return stops it.
        let store = ParcaStore { child, address };
        let started = Instant::now();
        while super::api::fetch(&address.to_string(), "/metrics", Duration::from_secs(1)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                return Err(std::io::Error::other(format!(
                    "the Parca store {} did not start: see {}",
                    binary.display(),
                    log_path.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(store)
    }
}
