//! Callers waiting for their reservation's decision (`POST /reservations?wait=`), answered as
//! soon as it is made.
//!
//! One watcher per API process reads, every tick, the decided ones among every waiting
//! reservation in one query (on a pooled connection; the query is not prepared, see
//! `db::reservations::find_decided`). A `NOTIFY` from each decision batch instead of the tick was
//! measured no faster under 200 closed-loop buyers: the one-second tail came from workers missing
//! their wake-ups (see `jobs::wakeups`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::batch::Tasks;
use crate::db;
use crate::domain::records::Reservation;

/// How often the waiting ones are checked.
const TICK: Duration = Duration::from_millis(20);
/// How long to wait before trying again after the database failed the watcher.
const RETRY_AFTER: Duration = Duration::from_millis(500);

type Waiters = Arc<Mutex<HashMap<Uuid, Vec<oneshot::Sender<Reservation>>>>>;

/// Handle to the watcher. Cheap to clone.
#[derive(Clone)]
pub struct Decisions {
    waiters: Waiters,
}

impl Decisions {
    /// Starts the watcher on `tasks`.
    pub fn start(pool: PgPool, tasks: &Tasks) -> Decisions {
        let waiters = Waiters::default();
        tasks.tracker.spawn(watch(pool, waiters.clone(), tasks.shutdown.clone()));
        Decisions { waiters }
    }

    /// Waits up to `timeout` for the reservation to be decided; `None` if it still is not (or the
    /// server is shutting down).
    pub async fn wait(&self, id: Uuid, timeout: Duration) -> Option<Reservation> {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().expect("waiters lock").entry(id).or_default().push(tx);
        let decided = tokio::time::timeout(timeout, rx).await.ok().and_then(Result::ok);
        if decided.is_none() {
            let mut waiters = self.waiters.lock().expect("waiters lock");
            if let Some(list) = waiters.get_mut(&id) {
                list.retain(|w| !w.is_closed());
                if list.is_empty() {
                    waiters.remove(&id);
                }
            }
        }
        decided
    }
}

async fn watch(pool: PgPool, waiters: Waiters, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = answer_decided(&pool, &waiters).await {
            // the callers still waiting are answered once it answers again, or at the end of
            // their wait with the reservation as it stands
            tracing::warn!(error = %e, "the decision watcher could not read the database; trying again");
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(RETRY_AFTER) => {}
            }
        }
    }
    // nobody is answered any more: each waiting caller answers with the reservation as it stands
    waiters.lock().expect("waiters lock").clear();
}

/// Answers every waiting caller whose reservation is decided.
async fn answer_decided(pool: &PgPool, waiters: &Waiters) -> sqlx::Result<()> {
    let ids: Vec<Uuid> = waiters.lock().expect("waiters lock").keys().copied().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let decided = db::reservations::find_decided(&mut *pool.acquire().await?, &ids).await?;
    let mut waiters = waiters.lock().expect("waiters lock");
    for row in decided {
        for w in waiters.remove(&row.id).unwrap_or_default() {
            let _ = w.send(row.clone());
        }
    }
    Ok(())
}
