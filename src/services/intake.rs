//! The API's way into the reservation queue, built for an on-sale.
//!
//! One transaction per request would spend a commit (and a job insert through apalis's NOTIFY
//! trigger) per buyer. Instead, requests are handed to a batcher: it stores every request waiting
//! at that moment and one allocation job per item touched, in one statement (one round trip,
//! atomic on its own), and answers each caller. Batches are written one after another, so within
//! this process arrival order (`seq`) is commit order, which keeps allocation FIFO.
//!
//! It also answers callers who wait for a decision (`?wait=`): one query per tick for all of them.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

use super::{Error, Result};
use crate::db;
use crate::db::reservations::NewReservation;
use crate::domain::job::AllocateItem;
use crate::domain::records::Reservation;

/// Requests stored per transaction at most.
const MAX_BATCH: usize = 1000;
/// How often waiting callers are checked for a decision.
const WAIT_TICK: Duration = Duration::from_millis(20);

type Reply = oneshot::Sender<Result<Reservation>>;

/// Handle to the batcher and the decision watcher. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    submissions: mpsc::Sender<(NewReservation, Reply)>,
    waiters: std::sync::Arc<Mutex<HashMap<Uuid, Vec<oneshot::Sender<Reservation>>>>>,
}

impl Intake {
    /// Starts the batcher and the watcher on the current runtime.
    pub fn start(pool: PgPool) -> Intake {
        let (submissions, rx) = mpsc::channel(MAX_BATCH * 4);
        let intake = Intake { submissions, waiters: Default::default() };
        tokio::spawn(run_batcher(pool.clone(), rx));
        tokio::spawn(run_watcher(pool, intake.waiters.clone()));
        intake
    }

    /// Stores the reservation as pending (with its allocation job) and returns it.
    pub async fn submit(&self, reservation: NewReservation) -> Result<Reservation> {
        let (reply, answer) = oneshot::channel();
        self.submissions
            .send((reservation, reply))
            .await
            .map_err(|_| anyhow::anyhow!("the reservation batcher stopped"))?;
        answer.await.map_err(|_| anyhow::anyhow!("the reservation batcher dropped a request"))?
    }

    /// Waits up to `timeout` for the reservation to be decided; `None` if it still is not.
    pub async fn wait_for_decision(&self, id: Uuid, timeout: Duration) -> Option<Reservation> {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().await.entry(id).or_default().push(tx);
        let decided = tokio::time::timeout(timeout, rx).await.ok().and_then(Result::ok);
        if decided.is_none() {
            let mut waiters = self.waiters.lock().await;
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

async fn run_batcher(pool: PgPool, mut rx: mpsc::Receiver<(NewReservation, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // recv_many waits for at least one, then takes whatever else is already queued
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (reservations, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let answers = store_isolating(&pool, &reservations).await;
        for (answer, reply) in answers.into_iter().zip(replies) {
            let _ = reply.send(answer);
        }
    }
}

/// Stores the batch; when the database refuses a row, splits the batch in halves (in order, so
/// arrival order is kept) until the rows it refuses are alone: one caller's bad row fails only
/// that caller. A failure no row explains (the database is down) fails the batch at once.
async fn store_isolating(pool: &PgPool, reservations: &[NewReservation]) -> Vec<Result<Reservation>> {
    match store(pool, reservations).await {
        Ok(rows) => {
            let mut stored: HashMap<Uuid, Reservation> = rows.into_iter().map(|r| (r.id, r)).collect();
            let answer = |r: &NewReservation| stored.remove(&r.id).ok_or_else(|| Error::not_found("user", &r.user_id));
            reservations.iter().map(answer).collect()
        }
        Err(e) if reservations.len() > 1 && caused_by_a_row(&e) => {
            let (first, second) = reservations.split_at(reservations.len() / 2);
            let mut answers = Box::pin(store_isolating(pool, first)).await;
            answers.extend(Box::pin(store_isolating(pool, second)).await);
            answers
        }
        Err(e) if caused_by_a_row(&e) => {
            tracing::warn!(error = %e, "the database refused a reservation");
            vec![Err(Error::from(e))]
        }
        Err(e) => {
            tracing::error!(error = ?e, batch = reservations.len(), "storing a batch of reservations failed");
            reservations
                .iter()
                .map(|_| Err(Error::Internal(anyhow::anyhow!("storing the reservation failed"))))
                .collect()
        }
    }
}

/// Data exceptions (class 22) and integrity violations (class 23) are about the rows written.
fn caused_by_a_row(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|db| db.code()).is_some_and(|code| code.starts_with("22") || code.starts_with("23"))
}

/// One statement: the reservations, and one allocation job per item they touch.
async fn store(pool: &PgPool, reservations: &[NewReservation]) -> sqlx::Result<Vec<Reservation>> {
    let started = std::time::Instant::now();
    // per item, the first request of the batch: the one that woke it
    let mut items: BTreeMap<(&str, &str), Option<&str>> = BTreeMap::new();
    for r in reservations {
        items.entry((r.offer_id.as_str(), r.representation_id.as_str())).or_insert(r.request_id.as_deref());
    }
    let jobs: Vec<AllocateItem> = items
        .into_iter()
        .map(|((offer_id, representation_id), request_id)| AllocateItem {
            offer_id: offer_id.into(),
            representation_id: representation_id.into(),
            request_id: request_id.map(str::to_string),
        })
        .collect();
    let mut conn = pool.acquire().await?;
    let rows = db::reservations::insert_many(&mut conn, reservations, &jobs).await?;
    metrics::counter!("reservations_total", "outcome" => "accepted").increment(rows.len() as u64);
    tracing::debug!(batch = reservations.len(), ms = started.elapsed().as_millis() as u64, "stored a batch");
    Ok(rows)
}

async fn run_watcher(pool: PgPool, waiters: std::sync::Arc<Mutex<HashMap<Uuid, Vec<oneshot::Sender<Reservation>>>>>) {
    let mut tick = tokio::time::interval(WAIT_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ids: Vec<Uuid> = waiters.lock().await.keys().copied().collect();
        if ids.is_empty() {
            continue;
        }
        let decided = match pool.acquire().await {
            Ok(mut conn) => db::reservations::find_decided(&mut conn, &ids).await,
            Err(e) => Err(e),
        };
        match decided {
            Ok(rows) => {
                let mut waiters = waiters.lock().await;
                for row in rows {
                    for w in waiters.remove(&row.id).unwrap_or_default() {
                        let _ = w.send(row.clone());
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "checking reservations for decisions failed"),
        }
    }
}
