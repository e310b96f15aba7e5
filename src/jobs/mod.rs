//! Jobs on the apalis-postgres queue, in the same database.
//!
//! Every job type says its queue and is idempotent: it may run twice, concurrently, or after a
//! crash halfway, and the outcome is the same. Jobs are enqueued with plain SQL inside the caller's
//! transaction (so a rollback leaves no job), with `max_attempts` set and, where a duplicate would
//! be pure waste, an idempotency key (`on conflict do nothing`, which does not abort the caller).
//!
//! Traps of apalis 1.0 handled here (see ../shared/notes/APALIS.md): retries, timeouts and panics
//! are done in the handler ([`guard`]); queue names are explicit; worker names are unique per
//! process; the orphan window is short; finished jobs are pruned by the scheduler.

mod guard;
mod handlers;
pub mod runtime;
pub mod sweeps;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

pub use guard::{JobError, backoff, guard, guard_then, guard_with};

/// Wakes a reservation worker to decide the pending reservations of an item.
pub const RESERVATIONS: &str = "reservations";
/// Ends the holds of an item when their time has come.
pub const EXPIRATIONS: &str = "expirations";
/// Issues the tickets of confirmed reservations (only [`IssueTickets`]: a queue carries one
/// payload type, or its worker would choke on the other's jobs).
pub const FULFILLMENT: &str = "fulfillment";

/// Decide the pending reservations of one item. Deciding nothing is fine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AllocateItem {
    pub offer_id: String,
    pub representation_id: String,
}

/// End the holds of one item due at `due_at` (and any other due by then).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpireHolds {
    pub offer_id: String,
    pub representation_id: String,
    pub due_at: DateTime<Utc>,
}

/// Issue the tickets of one confirmed reservation. Deduplicated per reservation; running it again
/// finds the reservation fulfilled and does nothing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueTickets {
    pub reservation_id: Uuid,
}

/// Inserts a job row as apalis would, in the caller's transaction.
pub(crate) async fn enqueue(
    conn: &mut PgConnection,
    queue: &str,
    payload: &impl Serialize,
    run_at: Option<DateTime<Utc>>,
    max_attempts: i32,
    idempotency_key: Option<&str>,
) -> sqlx::Result<()> {
    let job = serde_json::to_vec(payload).expect("job payloads serialize");
    sqlx::query(
        "insert into apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
         values (apalis.generate_ulid(), $1, $2, 'Pending', 0, $3, coalesce($4, now()), 0, $5)
         on conflict (job_type, idempotency_key) do nothing",
    )
    .bind(queue)
    .bind(job)
    .bind(max_attempts)
    .bind(run_at)
    .bind(idempotency_key)
    .execute(conn)
    .await?;
    Ok(())
}

/// One wake-up per batch of requests: a duplicate costs one empty run, a missing one is caught by
/// the scheduler's sweep.
pub async fn enqueue_allocation(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> sqlx::Result<()> {
    let job = AllocateItem { offer_id: offer_id.into(), representation_id: representation_id.into() };
    enqueue(conn, RESERVATIONS, &job, None, 10, None).await
}

/// One expiry per item and due time: holds decided together end together.
pub async fn enqueue_expiry(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    due_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let key = format!("expire:{offer_id}:{representation_id}:{}", due_at.timestamp_micros());
    let job = ExpireHolds { offer_id: offer_id.into(), representation_id: representation_id.into(), due_at };
    enqueue(conn, EXPIRATIONS, &job, Some(due_at), 10, Some(&key)).await
}

/// The key that makes a reservation's issuance one job.
fn issuance_key(reservation_id: Uuid) -> String {
    format!("issue:{reservation_id}")
}

/// Attempts of one issuance job: about an hour with the backoff, then the scheduler's sweep puts
/// it back ([`sweeps::requeue_stalled_issuance`]).
const ISSUANCE_ATTEMPTS: i32 = 20;

/// Once per reservation, in the confirming transaction: a confirmed reservation always has its
/// issuance queued. Generous attempts: a buyer has paid.
/// Puts the issuance of these reservations back in the queue (their job failed for good or was
/// pruned), with every attempt available again.
pub async fn requeue_issuance(conn: &mut PgConnection, reservations: &[Uuid]) -> sqlx::Result<u64> {
    let jobs: Vec<(String, Vec<u8>)> = reservations
        .iter()
        .map(|&reservation_id| {
            let payload = serde_json::to_vec(&IssueTickets { reservation_id }).expect("job payloads serialize");
            (issuance_key(reservation_id), payload)
        })
        .collect();
    crate::db::jobs::requeue_by_key(conn, FULFILLMENT, &jobs, ISSUANCE_ATTEMPTS).await
}

/// [`enqueue_issuance`] for many reservations, in one statement.
pub async fn enqueue_issuances(conn: &mut PgConnection, reservations: &[Uuid]) -> sqlx::Result<u64> {
    let jobs: Vec<(Option<String>, Vec<u8>)> = reservations
        .iter()
        .map(|&reservation_id| {
            let payload = serde_json::to_vec(&IssueTickets { reservation_id }).expect("job payloads serialize");
            (Some(issuance_key(reservation_id)), payload)
        })
        .collect();
    crate::db::jobs::enqueue_many(conn, FULFILLMENT, &jobs, ISSUANCE_ATTEMPTS).await
}

pub async fn enqueue_issuance(conn: &mut PgConnection, reservation_id: Uuid) -> sqlx::Result<()> {
    let key = issuance_key(reservation_id);
    enqueue(conn, FULFILLMENT, &IssueTickets { reservation_id }, None, ISSUANCE_ATTEMPTS, Some(&key)).await
}
