//! Configuration, typed and read from the command line or the environment (and `.env` in
//! development). Every variable is listed in `.env.example`.

use std::net::SocketAddr;
use std::time::Duration;

/// Where the database is.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseConfig {
    /// PostgreSQL URL. `boxoffice dev` starts a private server when it is not set.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Connections in this process's pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 20)]
    pub database_max_connections: u32,
}

impl DatabaseConfig {
    /// The URL, or one clear line saying what to set.
    pub fn required_url(&self) -> anyhow::Result<&str> {
        self.database_url
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/boxoffice); `boxoffice dev` runs without it"))
    }
}

/// How the API serves.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpConfig {
    /// Address to listen on.
    #[arg(long = "bind", env = "BIND_ADDR", default_value = "127.0.0.1:8000")]
    pub bind_addr: SocketAddr,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = crate::http::DEFAULT_BODY_LIMIT)]
    pub body_limit_bytes: usize,
    /// Seconds in-flight requests get to finish on shutdown.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,
}

impl HttpConfig {
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}
