//! The loopback cluster of `deploy/ha` (Patroni, etcd, HAProxy), for the tests that need a
//! primary and its standbys: brought up on ports of its own, stopped and removed when dropped.

#![allow(dead_code, reason = "each test binary that includes this module uses a part of it")]

use std::path::PathBuf;
use std::process::Command;

pub struct Cluster {
    dir: PathBuf,
    /// HAProxy's primary port; +1 its replica port; the nodes' PostgreSQL at +10, +11...
    pub base: u16,
    nodes: u16,
}

impl Cluster {
    /// A cluster of `nodes` brought up, or `None` (the test is then skipped, or fails in CI) when
    /// its packages are missing and cannot be installed.
    pub fn up(name: &str, nodes: u16) -> Option<Cluster> {
        let root_user = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
        if !have_the_packages() && !root_user {
            crate::server_binaries::missing(
                &"patroni, etcd-server and haproxy are not installed (deploy/ha/up installs them as root)",
            );
            return None;
        }
        let dir = std::env::temp_dir().join(format!("boxoffice-{name}-{}", std::process::id()));
        let cluster = Cluster { dir, base: free_base(), nodes };
        let started = std::time::Instant::now();
        cluster.run("up", &[]);
        println!("{name}: the cluster of {nodes} came up in {:.1} s", started.elapsed().as_secs_f64());
        Some(cluster)
    }

    pub fn script(&self, name: &str) -> Command {
        let mut command = Command::new("bash");
        command
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/ha").join(name))
            .env("HA_DIR", &self.dir)
            .env("HA_BASE_PORT", self.base.to_string())
            .env("NODES", self.nodes.to_string());
        command
    }

    /// Runs a script of `deploy/ha`; its output.
    pub fn run(&self, name: &str, args: &[&str]) -> String {
        let out = self.script(name).args(args).output().expect("bash runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "deploy/ha/{name}: {text}{}", String::from_utf8_lossy(&out.stderr));
        text
    }

    /// The `boxoffice` database through HAProxy's primary port.
    pub fn primary_url(&self) -> String {
        self.url(self.base)
    }

    /// The `boxoffice` database through HAProxy's replica port.
    pub fn replica_url(&self) -> String {
        self.url(self.base + 1)
    }

    /// The ports of the nodes' PostgreSQL servers.
    pub fn node_ports(&self) -> Vec<u16> {
        (1..=self.nodes).map(|n| self.base + 9 + n).collect()
    }

    pub fn url(&self, port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/boxoffice")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.script("down").output();
    }
}

/// A base port whose 32 ports are free now.
fn free_base() -> u16 {
    (26_000..40_000)
        .step_by(100)
        .find(|&base| (base..base + 32).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()))
        .expect("a free range of ports")
}

fn have_the_packages() -> bool {
    ["patroni", "etcd", "haproxy"].iter().all(|tool| {
        Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
    })
}
