//! Configuration, typed and read from the command line or the environment (and `.env` in
//! development). Every variable is listed in `.env.example`.

use crate::domain::RatePolicy;
use std::net::SocketAddr;
use std::time::Duration;

/// What is wrong with the configuration, or with the database it names.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/boxoffice); `boxoffice dev` runs without it"
    )]
    MissingDatabaseUrl,
    /// The URL does not parse, or the database does not answer.
    #[error("cannot connect to the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("RATE_LIMIT_PER_IP: {0}")]
    RatePerIp(String),
    #[error(
        "REQUEST_TIMEOUT_SECS must be at most {max_secs} (half the {takeover_secs} s after which an idempotency claim is taken over)"
    )]
    RequestTimeoutTooLong { max_secs: u64, takeover_secs: u64 },
}

/// Where the database is.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseConfig {
    /// PostgreSQL URL. `boxoffice dev` starts a private server when it is not set.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Connections in this process's pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 20)]
    pub database_max_connections: u32,
    /// Milliseconds one statement may run before PostgreSQL cancels it.
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_MS", default_value_t = 10_000)]
    pub database_statement_timeout_ms: u64,
    /// Milliseconds a statement may wait for a row lock before PostgreSQL gives up.
    #[arg(long, env = "DATABASE_LOCK_TIMEOUT_MS", default_value_t = 5_000)]
    pub database_lock_timeout_ms: u64,
}

impl DatabaseConfig {
    /// A pool of `max_connections` on the configured database, with the configured timeouts.
    pub async fn connect(&self, max_connections: u32) -> Result<sqlx::PgPool, ConfigError> {
        self.connect_to(self.required_url()?, max_connections).await
    }

    /// [`DatabaseConfig::connect`] on another URL (dev mode's private server).
    pub async fn connect_to(&self, url: &str, max_connections: u32) -> Result<sqlx::PgPool, ConfigError> {
        Ok(crate::db::connect_with(url, max_connections, self.timeouts()).await?)
    }

    fn timeouts(&self) -> crate::db::Timeouts {
        crate::db::Timeouts {
            statement: Duration::from_millis(self.database_statement_timeout_ms),
            lock: Duration::from_millis(self.database_lock_timeout_ms),
        }
    }

    /// The URL, or one clear line saying what to set.
    pub fn required_url(&self) -> Result<&str, ConfigError> {
        self.database_url.as_deref().ok_or(ConfigError::MissingDatabaseUrl)
    }
}

/// Where public reads may go (catalog search, availability, seat maps, a queue's public view).
#[derive(Debug, Clone, clap::Args)]
pub struct ReplicaConfig {
    /// PostgreSQL URL of a read replica (HAProxy's replica port in front of a Patroni cluster).
    /// Without it, every read goes to `DATABASE_URL`.
    #[arg(long, env = "DATABASE_REPLICA_URL", hide_env_values = true)]
    pub database_replica_url: Option<String>,
    /// Milliseconds the replica may lag behind the primary before public reads go back to the
    /// primary (they go to the replica again once it has caught up).
    #[arg(long, env = "REPLICA_MAX_LAG_MS", default_value_t = 1_000)]
    pub replica_max_lag_ms: u64,
}

impl ReplicaConfig {
    /// The replica, opened lazily with `database`'s statement timeout and pool size: the API starts
    /// while the replica is down.
    pub fn replica(&self, database: &DatabaseConfig) -> Result<Option<crate::services::reads::Replica>, ConfigError> {
        let Some(url) = &self.database_replica_url else { return Ok(None) };
        let pool = crate::db::replica::connect(url, database.database_max_connections, database.timeouts())?;
        Ok(Some(crate::services::reads::Replica { pool, max_lag: Duration::from_millis(self.replica_max_lag_ms) }))
    }
}

/// Largest request body accepted (bulk seat lists are the biggest legitimate bodies).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// What bounds every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body accepted, in bytes.
    pub body_bytes: usize,
    /// Longest a request may take before it is cut short with a 503; its transaction rolls back.
    pub deadline: Duration,
    /// How long a valid API key is remembered (a revoked key works at most this long).
    pub key_cache: Duration,
    /// The quota of each client address for requests without a known key; `None`: unlimited.
    pub per_ip: Option<RatePolicy>,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded: bool,
    /// Live stream subscribers this process serves at most; beyond, a 503.
    pub max_subscribers: usize,
}

/// A person browsing never makes 600 requests a minute; a scraper does.
pub const DEFAULT_PER_IP: RatePolicy = RatePolicy { requests: 600, window_secs: 60 };

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: DEFAULT_BODY_LIMIT,
            deadline: Duration::from_secs(45),
            key_cache: Duration::from_secs(30),
            per_ip: Some(DEFAULT_PER_IP),
            trust_forwarded: false,
            max_subscribers: DEFAULT_MAX_SUBSCRIBERS,
        }
    }
}

/// Live stream subscribers per API process: a subscriber costs a connection and a few kilobytes.
pub const DEFAULT_MAX_SUBSCRIBERS: usize = 20_000;

impl Limits {
    /// A request must end well before its idempotency claim could be taken over, or a retry could
    /// run it a second time while it still runs.
    pub fn check(&self) -> Result<(), ConfigError> {
        let takeover = crate::domain::idempotency::ABANDONED_AFTER;
        if self.deadline * 2 > takeover {
            return Err(ConfigError::RequestTimeoutTooLong {
                max_secs: takeover.as_secs() / 2,
                takeover_secs: takeover.as_secs(),
            });
        }
        Ok(())
    }
}

/// How the API serves.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpConfig {
    /// Address to listen on.
    #[arg(long = "bind", env = "BIND_ADDR", default_value = "127.0.0.1:8000")]
    pub bind_addr: SocketAddr,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = DEFAULT_BODY_LIMIT)]
    pub body_limit_bytes: usize,
    /// Seconds in-flight requests get to finish on shutdown.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,
    /// Seconds any request may take before it is cut short (503): it must stay well under the
    /// time after which an idempotency claim counts as abandoned.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 45)]
    pub request_timeout_secs: u64,
    /// Seconds a valid API key is remembered by this process: a revoked key works at most this
    /// long after its revocation.
    #[arg(long, env = "KEY_CACHE_SECS", default_value_t = 30)]
    pub key_cache_secs: u64,
    /// Quota per client address for requests without a known API key (the public routes):
    /// N per minute, N/S for N per S seconds, or `off`.
    #[arg(long, env = "RATE_LIMIT_PER_IP", default_value = "600/60")]
    pub rate_limit_per_ip: String,
    /// Take the client address from `X-Forwarded-For`: set it only behind a proxy that sets it.
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,
    /// Live stream subscribers this process serves at most; beyond, new ones get a 503.
    #[arg(long, env = "STREAM_MAX_SUBSCRIBERS", default_value_t = DEFAULT_MAX_SUBSCRIBERS)]
    pub stream_max_subscribers: usize,
}

impl HttpConfig {
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// What the HTTP application is built with, checked.
    pub fn limits(&self) -> Result<Limits, ConfigError> {
        let limits = Limits {
            body_bytes: self.body_limit_bytes,
            deadline: Duration::from_secs(self.request_timeout_secs),
            key_cache: Duration::from_secs(self.key_cache_secs),
            per_ip: match self.rate_limit_per_ip.trim() {
                "off" | "0" => None,
                rate => Some(rate.parse::<RatePolicy>().map_err(ConfigError::RatePerIp)?),
            },
            trust_forwarded: self.trust_forwarded_for,
            max_subscribers: self.stream_max_subscribers,
        };
        limits.check()?;
        Ok(limits)
    }
}

/// How a worker process takes part in the job queue.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerConfig {
    /// Seconds between a worker's heartbeats: a worker silent for six of them is taken for dead
    /// and its jobs are given to others.
    #[arg(long, env = "JOB_HEARTBEAT_SECS", default_value_t = 5)]
    pub job_heartbeat_secs: u64,
    /// Serve this process's metrics (Prometheus text) at `GET /metrics` on this address.
    #[arg(long, env = "METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
}

impl WorkerConfig {
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.job_heartbeat_secs.max(1))
    }

    /// Starts the metrics endpoint if `METRICS_BIND` asks for one.
    pub fn serve_metrics(&self) {
        if let Some(addr) = self.metrics_bind {
            tokio::spawn(async move {
                if let Err(e) = crate::observe::serve(addr).await {
                    tracing::error!(%addr, error = %e, "the metrics endpoint stopped");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(request_timeout_secs: u64, rate_limit_per_ip: &str) -> HttpConfig {
        HttpConfig {
            bind_addr: "127.0.0.1:0".parse().expect("an address"),
            body_limit_bytes: DEFAULT_BODY_LIMIT,
            shutdown_timeout_secs: 10,
            request_timeout_secs,
            key_cache_secs: 30,
            rate_limit_per_ip: rate_limit_per_ip.into(),
            trust_forwarded_for: false,
            stream_max_subscribers: DEFAULT_MAX_SUBSCRIBERS,
        }
    }

    #[test]
    fn the_default_http_settings_are_accepted() {
        assert!(http(45, "600/60").limits().is_ok());
    }

    #[test]
    fn a_request_timeout_past_half_the_idempotency_takeover_is_refused() {
        let takeover = crate::domain::idempotency::ABANDONED_AFTER.as_secs();
        let refused = http(takeover / 2 + 1, "off").limits();
        assert!(matches!(refused, Err(ConfigError::RequestTimeoutTooLong { .. })), "{refused:?}");
    }

    #[test]
    fn a_per_ip_rate_that_is_not_a_rate_is_refused_naming_the_variable() {
        let refused = http(45, "many").limits().expect_err("not a rate");
        assert!(matches!(refused, ConfigError::RatePerIp(_)));
        assert!(refused.to_string().starts_with("RATE_LIMIT_PER_IP: "), "{refused}");
    }

    #[test]
    fn a_missing_database_url_is_named_as_such() {
        let config = DatabaseConfig {
            database_url: None,
            database_max_connections: 1,
            database_statement_timeout_ms: 1,
            database_lock_timeout_ms: 1,
        };
        assert!(matches!(config.required_url(), Err(ConfigError::MissingDatabaseUrl)));
    }
}
