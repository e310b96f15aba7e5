//! The loopback Patroni cluster of `--ha` (`deploy/ha`: three nodes in strict synchronous mode
//! behind HAProxy), brought up for the run and taken down at its end, also on failure (`Drop`):
//! the scenario and pgbench both go through HAProxy's primary port, so the ratio shows the cost of
//! synchronous replication next to the single server's.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// HAProxy's primary port; the cluster takes the 32 ports from here (`deploy/ha/up`).
const BASE_PORT: u16 = 25_000;

pub struct Cluster {
    dir: PathBuf,
    running: bool,
}

impl Cluster {
    pub fn up() -> anyhow::Result<Cluster> {
        let dir = std::env::temp_dir().join(format!("boxoffice-bench-ha-{}", std::process::id()));
        let mut cluster = Cluster { dir, running: true };
        note!("ha: bringing up the loopback cluster (deploy/ha/up, three nodes)");
        let out = cluster.script("up").output().context("running bash deploy/ha/up")?;
        if !out.status.success() {
            cluster.running = false;
            let _ = cluster.script("down").output();
            bail!(
                "deploy/ha/up failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(cluster)
    }

    /// An admin connection through HAProxy's primary port.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{BASE_PORT}/postgres")
    }

    fn script(&self, name: &str) -> Command {
        let mut command = Command::new("bash");
        command
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/ha").join(name))
            .env("HA_DIR", &self.dir)
            .env("HA_BASE_PORT", BASE_PORT.to_string());
        command
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            match self.script("down").output() {
                Ok(out) if out.status.success() => note!("ha: the cluster is down"),
                _ => note!("ha: deploy/ha/down failed; state in {}", self.dir.display()),
            }
        }
    }
}
