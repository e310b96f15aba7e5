//! Where public reads go: to a read replica when one is configured and close enough behind the
//! primary, to the primary otherwise. Only reads that may lag a little come here (catalog search,
//! availability, seat maps, a queue's public view); everything that writes, and every read that
//! decides, takes the primary's pool directly.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::batch::Tasks;
use super::{Error, Result};
use crate::db;

/// How often the replica's lag is read.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// A replica to read from, and how far behind the primary its reads may be.
#[derive(Clone)]
pub struct Replica {
    pub pool: PgPool,
    pub max_lag: Duration,
}

/// The pools public reads are served from.
#[derive(Clone)]
pub struct Reads {
    primary: PgPool,
    replica: Option<Arc<Watched>>,
}

struct Watched {
    pool: PgPool,
    /// Answered its last lag check, within the allowed lag.
    usable: AtomicBool,
}

impl Reads {
    /// Every read on the primary.
    pub fn primary(primary: PgPool) -> Reads {
        Reads { primary, replica: None }
    }

    /// Reads on `replica` while it answers within its allowed lag, watched from a task on `tasks`.
    pub fn with_replica(primary: PgPool, replica: Replica, tasks: &Tasks) -> Reads {
        let watched = Arc::new(Watched { pool: replica.pool, usable: AtomicBool::new(false) });
        tasks.tracker.spawn(watch(watched.clone(), replica.max_lag, tasks.shutdown.clone()));
        Reads { primary, replica: Some(watched) }
    }

    /// Runs `read` on the replica when it is usable, else (or when the replica fails it: out of
    /// reach, a query cancelled by a conflict with replay) on the primary. An answer about what was
    /// asked (not found, invalid) is the answer.
    pub async fn run<T, F, Fut>(&self, read: F) -> Result<T>
    where
        F: Fn(PgPool) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if let Some(replica) = self.replica.as_ref().filter(|r| r.usable.load(Ordering::Relaxed)) {
            match read(replica.pool.clone()).await {
                Err(e @ (Error::Unavailable(_) | Error::Internal(_))) => {
                    if replica.usable.swap(false, Ordering::Relaxed) {
                        tracing::warn!(error = %e, "a read failed on the replica: public reads go to the primary");
                    }
                }
                answer => {
                    metrics::counter!("replica_reads_total", "served_by" => "replica").increment(1);
                    return answer;
                }
            }
        }
        if self.replica.is_some() {
            metrics::counter!("replica_reads_total", "served_by" => "primary").increment(1);
        }
        read(self.primary.clone()).await
    }
}

/// Reads the replica's lag every [`WATCH_EVERY`]: reads go there only while it answers within
/// `max_lag`. Each change of mind is logged once.
async fn watch(replica: Arc<Watched>, max_lag: Duration, shutdown: CancellationToken) {
    let mut was_usable = None;
    loop {
        let lag = tokio::time::timeout(max_lag.max(WATCH_EVERY), db::replica::replay_lag(&replica.pool)).await;
        let usable = match &lag {
            Ok(Ok(lag)) => {
                metrics::gauge!("replica_lag_seconds").set(lag.as_secs_f64());
                *lag <= max_lag
            }
            _ => false,
        };
        metrics::gauge!("replica_usable").set(if usable { 1.0 } else { 0.0 });
        replica.usable.store(usable, Ordering::Relaxed);
        if was_usable.replace(usable) != Some(usable) {
            match (usable, lag) {
                (true, _) => tracing::info!("the replica is within its allowed lag: public reads go to it"),
                (false, Ok(Ok(lag))) => tracing::warn!(
                    lag_ms = lag.as_millis() as u64,
                    max_lag_ms = max_lag.as_millis() as u64,
                    "the replica lags too far behind: public reads go to the primary"
                ),
                (false, Ok(Err(e))) => {
                    tracing::warn!(error = %e, "the replica does not answer: public reads go to the primary")
                }
                (false, Err(_)) => tracing::warn!("the replica did not answer in time: public reads go to the primary"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(WATCH_EVERY) => {}
        }
    }
}
