//! The API's way into the reservation queue, built for an on-sale.
//!
//! One transaction per request would spend a commit (and a job insert through apalis's NOTIFY
//! trigger) per buyer. Instead, requests go through a [`Batcher`]: each batch stores every request
//! waiting at that moment and one allocation job per item touched, in one statement (one round
//! trip, atomic on its own), and answers each caller. Batches are written one after another, so
//! within this process arrival order (`seq`) is commit order, which keeps allocation FIFO.
//!
//! It also answers callers who wait for a decision (`?wait=`): see [`super::decisions`].

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use super::batch::{Batch, Batcher, Call, Tasks, each_caller};
use super::decisions::Decisions;
use super::{Error, Result};
use crate::db;
use crate::db::reservations::NewReservation;
use crate::domain::job::AllocateItem;
use crate::domain::records::Reservation;

/// Handle to the intake's batcher and its decision watcher. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    batcher: Batcher<Call<NewReservation, Reservation>>,
    decisions: Decisions,
}

impl Intake {
    /// Starts the batcher and the decision watcher on `tasks`.
    pub fn start(pool: PgPool, tasks: &Tasks) -> Intake {
        let decisions = Decisions::start(pool.clone(), tasks);
        Intake { batcher: Batcher::start("reservations", Store { pool }, tasks), decisions }
    }

    /// Stores the reservation as pending (with its allocation job) and returns it.
    pub async fn submit(&self, reservation: NewReservation) -> Result<Reservation> {
        self.batcher.ask(reservation).await
    }

    /// Waits up to `timeout` for the reservation to be decided; `None` if it still is not.
    pub async fn wait_for_decision(&self, id: Uuid, timeout: Duration) -> Option<Reservation> {
        self.decisions.wait(id, timeout).await
    }
}

/// A batch of the intake: the reservations stored, each caller answered.
struct Store {
    pool: PgPool,
}

impl Batch for Store {
    type Request = Call<NewReservation, Reservation>;

    async fn run(&self, mut calls: Vec<Self::Request>) {
        // a caller that gave up before its turn was told nothing was done
        calls.retain(|c| !c.reply.caller_gone());
        if calls.is_empty() {
            return;
        }
        let (reservations, replies): (Vec<_>, Vec<_>) = calls.into_iter().map(|c| (c.input, c.reply)).unzip();
        let answers = store_isolating(&self.pool, &reservations).await;
        for (answer, reply) in answers.into_iter().zip(replies) {
            reply.send(answer);
        }
    }
}

/// Stores the batch; when the database refuses a row, splits the batch in halves (in order, so
/// arrival order is kept) until the rows it refuses are alone: one caller's bad row fails only
/// that caller, with the error it would get alone. A failure no row explains (the database is
/// down, busy or read-only) fails the batch at once, every caller with that error's class.
async fn store_isolating(pool: &PgPool, reservations: &[NewReservation]) -> Vec<Result<Reservation>> {
    match store(pool, reservations).await {
        Ok(rows) => {
            let mut stored: HashMap<Uuid, Reservation> = rows.into_iter().map(|r| (r.id, r)).collect();
            let mut answers = Vec::with_capacity(reservations.len());
            for r in reservations {
                answers.push(match stored.remove(&r.id) {
                    Some(row) => Ok(row),
                    None => stored_before(pool, r).await,
                });
            }
            answers
        }
        Err(e) if reservations.len() > 1 && caused_by_a_row(&e) => {
            let (first, second) = reservations.split_at(reservations.len() / 2);
            let mut answers = Box::pin(store_isolating(pool, first)).await;
            answers.extend(Box::pin(store_isolating(pool, second)).await);
            answers
        }
        Err(e) => each_caller("reservations", Error::from(e), reservations.len()).into_iter().map(Err).collect(),
    }
}

/// A reservation the batch left out: its id is taken by an earlier attempt of the same request
/// (one whose answer was lost: the id comes from the request's idempotency claim), which is the
/// answer; or its buyer is unknown.
async fn stored_before(pool: &PgPool, r: &NewReservation) -> Result<Reservation> {
    let mut conn = pool.acquire().await?;
    match db::reservations::find(&mut conn, r.id).await? {
        Some(found) if found.user_id == r.user_id => Ok(found),
        // ids are made by this service, one per claim: never another buyer's
        Some(_) => Err(anyhow::anyhow!("reservation {} is another buyer's", r.id).into()),
        None => Err(Error::not_found("user", &r.user_id)),
    }
}

/// Data exceptions (class 22) and integrity violations (class 23) are about the rows written.
fn caused_by_a_row(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|db| db.code()).is_some_and(|code| code.starts_with("22") || code.starts_with("23"))
}

/// One statement: the reservations, and one allocation job per pool they touch.
async fn store(pool: &PgPool, reservations: &[NewReservation]) -> sqlx::Result<Vec<Reservation>> {
    let started = std::time::Instant::now();
    // per item, the first request of the batch: the one that woke it
    let mut items: BTreeMap<(&str, &str), Option<&str>> = BTreeMap::new();
    // one wake-up per pool touched (items sharing a pool are decided by the same run): the
    // first item of the batch seen in it stands for the pool
    let mut pools = std::collections::HashSet::new();
    for r in reservations {
        for line in &r.lines {
            if line.pool_id.as_ref().is_some_and(|pool| !pools.insert(pool.as_str())) {
                continue;
            }
            let item = (line.offer_id.as_str(), line.representation_id.as_str());
            items.entry(item).or_insert(r.request_id.as_deref());
        }
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
