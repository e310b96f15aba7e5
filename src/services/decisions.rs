//! Callers waiting for their reservation's decision (`POST /reservations?wait=`), answered as
//! soon as it is made.
//!
//! The reservation workers `NOTIFY` [`db::allocation::DECIDED`] once per batch they decide (see
//! `db::allocation::apply`); one watcher per API process `LISTEN`s on its own connection and, on
//! each notification, reads the decided ones among every waiting reservation in one query, on a
//! connection of its own too: a pool emptied by an on-sale's requests never delays an answer
//! that is ready. A short tick catches what a notification cannot tell (a decision made before
//! its caller started waiting, a notification lost while the listener reconnected).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{Acquire, PgConnection, PgPool};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::batch::Tasks;
use crate::db;
use crate::domain::records::Reservation;

/// How often the waiting ones are checked without a notification.
const TICK: Duration = Duration::from_millis(50);
/// How long to wait before connecting again after the database failed the watcher.
const RECONNECT_AFTER: Duration = Duration::from_millis(500);

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
    while !shutdown.is_cancelled() {
        if let Err(e) = watch_connected(&pool, &waiters, &shutdown).await {
            tracing::warn!(error = %e, "the decision watcher lost the database; connecting again");
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(RECONNECT_AFTER) => {}
            }
        }
    }
    // nobody is answered any more: each waiting caller answers with the reservation as it stands
    waiters.lock().expect("waiters lock").clear();
}

/// Watches until shutdown or a database failure.
async fn watch_connected(pool: &PgPool, waiters: &Waiters, shutdown: &CancellationToken) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(db::allocation::DECIDED).await?;
    let mut conn = pool.acquire().await?.detach();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            notified = listener.recv() => { notified?; }
            _ = tick.tick() => {}
        }
        // notifications that came meanwhile are answered by the same query
        while listener.next_buffered().is_some() {}
        answer_decided(&mut conn, waiters).await?;
    }
}

/// Answers every waiting caller whose reservation is decided.
async fn answer_decided(conn: &mut PgConnection, waiters: &Waiters) -> sqlx::Result<()> {
    let ids: Vec<Uuid> = waiters.lock().expect("waiters lock").keys().copied().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let decided = db::reservations::find_decided(conn.acquire().await?, &ids).await?;
    let mut waiters = waiters.lock().expect("waiters lock");
    for row in decided {
        for w in waiters.remove(&row.id).unwrap_or_default() {
            let _ = w.send(row.clone());
        }
    }
    Ok(())
}
