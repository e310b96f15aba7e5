//! Reservations: the FIFO queue of requests, holds, and their ends.
//!
//! Every read goes through `effective status`: a hold whose time has passed reads as `expired`
//! even before a job has released its stock.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::jobs::{self, insert_jobs_due_now};
use crate::domain::ReservationStatus;
use crate::domain::hall::BestAvailable;
use crate::domain::job::Job;
use crate::domain::records::Reservation;

/// The columns of [`Reservation`], with the effective status.
macro_rules! columns {
    () => {
        "r.id, r.seq, r.user_id, r.offer_id, r.representation_id, r.quantity, r.seat_labels, r.hold_minutes,
         case when r.status = 'held' and r.hold_expires_at <= clock_timestamp() then 'expired' else r.status end as status,
         r.reason, r.hold_expires_at, r.payment_reference, r.created_at, r.decided_at, r.confirmed_at, r.ended_at,
         r.from_waitlist, r.best_available, r.best_section, r.best_together,
         (select e.organization_id from offers o join events e on e.id = o.event_id where o.id = r.offer_id)
            as organization_id"
    };
}

/// A reservation to store as pending.
#[derive(Debug, Clone)]
pub struct NewReservation {
    pub id: Uuid,
    pub user_id: String,
    pub offer_id: String,
    pub representation_id: String,
    pub quantity: i32,
    pub seat_labels: Option<Vec<String>>,
    /// Seats for the worker to pick at the request's turn.
    pub best_available: Option<BestAvailable>,
    pub hold_minutes: i32,
    pub api_key_id: Uuid,
    pub request_id: Option<String>,
    /// The queue entry whose pass came with the request, and when that pass expires.
    pub queue_pass: Option<(Uuid, DateTime<Utc>)>,
}

/// Stores many pending reservations and enqueues `jobs` due now, in one statement: atomic on its
/// own, so a batch costs one round trip and no transaction. The reservations' `seq` is in the
/// order given; those of unknown users are not stored (not in the result).
pub async fn insert_many<J: Job>(
    conn: &mut PgConnection,
    batch: &[NewReservation],
    jobs: &[J],
) -> sqlx::Result<Vec<Reservation>> {
    let ids: Vec<Uuid> = batch.iter().map(|r| r.id).collect();
    let users: Vec<&str> = batch.iter().map(|r| r.user_id.as_str()).collect();
    let offers: Vec<&str> = batch.iter().map(|r| r.offer_id.as_str()).collect();
    let reps: Vec<&str> = batch.iter().map(|r| r.representation_id.as_str()).collect();
    let quantities: Vec<i32> = batch.iter().map(|r| r.quantity).collect();
    // arrays of arrays must be rectangular in PostgreSQL: seats travel as JSON
    let seats: Vec<Option<serde_json::Value>> =
        batch.iter().map(|r| r.seat_labels.as_ref().map(|s| serde_json::json!(s))).collect();
    let holds: Vec<i32> = batch.iter().map(|r| r.hold_minutes).collect();
    let keys: Vec<Uuid> = batch.iter().map(|r| r.api_key_id).collect();
    let request_ids: Vec<Option<&str>> = batch.iter().map(|r| r.request_id.as_deref()).collect();
    let best: Vec<bool> = batch.iter().map(|r| r.best_available.is_some()).collect();
    let best_sections: Vec<Option<&str>> =
        batch.iter().map(|r| r.best_available.as_ref().and_then(|b| b.section.as_deref())).collect();
    let best_together: Vec<bool> = batch.iter().map(|r| r.best_available.as_ref().is_none_or(|b| b.together)).collect();
    let queue_entries: Vec<Option<Uuid>> = batch.iter().map(|r| r.queue_pass.map(|p| p.0)).collect();
    let pass_expiries: Vec<Option<DateTime<Utc>>> = batch.iter().map(|r| r.queue_pass.map(|p| p.1)).collect();
    let (job_keys, job_payloads) = jobs::rows_of(jobs);
    sqlx::query_as(concat!(
        "with inserted as (
             insert into reservations (id, user_id, offer_id, representation_id, quantity, seat_labels,
                 hold_minutes, api_key_id, request_id, best_available, best_section, best_together,
                 queue_entry_id, queue_pass_expires_at)
             select id, user_id, offer_id, representation_id, quantity,
                    case when seats is null then null else array(select jsonb_array_elements_text(seats)) end,
                    hold_minutes, api_key_id, request_id, best_available, best_section, best_together,
                    queue_entry_id, queue_pass_expires_at
             from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::jsonb[], $7::int[], $8::uuid[],
                         $9::text[], $10::bool[], $11::text[], $12::bool[], $13::uuid[], $14::timestamptz[])
                 with ordinality as t(id, user_id, offer_id, representation_id, quantity, seats, hold_minutes, api_key_id,
                                      request_id, best_available, best_section, best_together, queue_entry_id,
                                      queue_pass_expires_at, n)
             -- an unknown buyer is left out (and told so) rather than failing the whole batch
             where exists (select 1 from users u where u.id = t.user_id)
             order by n
             returning *
         ), enqueued as (",
        insert_jobs_due_now!("$15", "$16", "$17", "$18"),
        ")
         select ",
        columns!(),
        " from inserted r order by r.seq"
    ))
    .bind(&ids)
    .bind(&users)
    .bind(&offers)
    .bind(&reps)
    .bind(&quantities)
    .bind(&seats)
    .bind(&holds)
    .bind(&keys)
    .bind(&request_ids)
    .bind(&best)
    .bind(&best_sections)
    .bind(&best_together)
    .bind(&queue_entries)
    .bind(&pass_expiries)
    .bind(J::QUEUE)
    .bind(&job_keys)
    .bind(&job_payloads)
    .bind(J::MAX_ATTEMPTS)
    .fetch_all(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Reservation>> {
    sqlx::query_as(concat!("select ", columns!(), " from reservations r where r.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The decided ones among `ids`, for callers waiting on a decision. Not prepared: read 50 times a
/// second on the same connections, a prepared statement soon runs PostgreSQL's generic plan for
/// `id = any($1)`, measured much slower than a plan for the ids at hand (200 closed-loop buyers:
/// answers p50 62 ms against 40 ms).
pub async fn find_decided(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Reservation>> {
    sqlx::query_as(concat!(
        "select ",
        columns!(),
        " from reservations r where r.id = any($1) and r.status <> 'pending'"
    ))
    .persistent(false)
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Several reservations by id, as they stand (those that exist).
pub async fn find_many(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Reservation>> {
    sqlx::query_as(concat!("select ", columns!(), " from reservations r where r.id = any($1)"))
        .bind(ids)
        .fetch_all(conn)
        .await
}

/// Confirms the live holds among `ids` (of one item, whose lock the caller holds), each with its
/// payment reference; returns those confirmed now.
pub async fn confirm_held(
    conn: &mut PgConnection,
    ids: &[Uuid],
    payment_references: &[Option<String>],
) -> sqlx::Result<Vec<Reservation>> {
    sqlx::query_as(concat!(
        "with done as (
             update reservations r set status = 'confirmed', confirmed_at = clock_timestamp(),
                 payment_reference = coalesce(p.reference, r.payment_reference)
             from unnest($1::uuid[], $2::text[]) as p(id, reference)
             where r.id = p.id and r.status = 'held' and r.hold_expires_at > clock_timestamp()
             returning r.*
         )
         select ",
        columns!(),
        " from done r"
    ))
    .bind(ids)
    .bind(payment_references)
    .fetch_all(conn)
    .await
}

/// Releases the live holds among `ids` (of one item, whose lock the caller holds), freeing their
/// seats; returns those released now.
pub async fn release_held(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Reservation>> {
    sqlx::query_as(concat!(
        "with done as (
             update reservations set status = 'released', ended_at = clock_timestamp()
             where id = any($1) and status = 'held' and hold_expires_at > clock_timestamp()
             returning *
         ), freed as (
             update reservation_seats set active = false
             where reservation_id in (select id from done) and active
         )
         select ",
        columns!(),
        " from done r"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Ends every hold of the item whose time has passed and gives its stock back, in one statement.
/// Returns the ids of the holds it ended, each with how late it ended (seconds past its end).
/// The caller holds the item's lock.
pub async fn expire_due_holds(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
) -> sqlx::Result<Vec<(Uuid, f64)>> {
    sqlx::query_as(
        "with expired as (
             -- the clock read once, as a bound of the open-holds index
             update reservations set status = 'expired', ended_at = clock_timestamp()
             where offer_id = $1 and representation_id = $2 and status = 'held'
               and hold_expires_at <= (select clock_timestamp())
             returning id, quantity, extract(epoch from ended_at - hold_expires_at)::float8 as lag
         ), freed as (
             update reservation_seats set active = false
             where reservation_id in (select id from expired) and active
         ), books as (
             update inventory
             set held = held - (select coalesce(sum(quantity), 0) from expired),
                 available = available + (select coalesce(sum(quantity), 0) from expired),
                 updated_at = now()
             where offer_id = $1 and representation_id = $2 and exists (select 1 from expired)
         )
         select id, lag from expired",
    )
    .bind(offer_id)
    .bind(representation_id)
    .fetch_all(conn)
    .await
}

/// Items with holds past their time, oldest first: what the expiry sweep has to do.
pub async fn items_with_due_holds(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "select offer_id, representation_id from reservations
         where status = 'held' and hold_expires_at <= now()
         group by offer_id, representation_id
         order by min(hold_expires_at)
         limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Items with reservations pending for longer than `older_than_ms`: a wake-up was missed.
pub async fn items_with_stale_pending(
    conn: &mut PgConnection,
    older_than_ms: i64,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "select distinct offer_id, representation_id from reservations
         where status = 'pending' and created_at < now() - make_interval(secs => $1::float8 / 1000)",
    )
    .bind(older_than_ms)
    .fetch_all(conn)
    .await
}

/// Creates holds for people of a waiting list: `(reservation id, user, quantity)`, each held for
/// `minutes`. Returns when they end (one time for the whole set).
pub async fn insert_offer_holds(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    holds: &[(Uuid, String, i32)],
    minutes: i32,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let ids: Vec<Uuid> = holds.iter().map(|h| h.0).collect();
    let users: Vec<&str> = holds.iter().map(|h| h.1.as_str()).collect();
    let quantities: Vec<i32> = holds.iter().map(|h| h.2).collect();
    sqlx::query_scalar(
        "with inserted as (
             insert into reservations (id, user_id, offer_id, representation_id, quantity, hold_minutes, status,
                 decided_at, hold_expires_at, from_waitlist)
             select id, user_id, $1, $2, quantity, $3, 'held', clock_timestamp(),
                    clock_timestamp() + make_interval(mins => $3), true
             from unnest($4::uuid[], $5::text[], $6::int[]) as t(id, user_id, quantity)
             returning hold_expires_at
         )
         select max(hold_expires_at) from inserted",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(minutes)
    .bind(&ids)
    .bind(&users)
    .bind(&quantities)
    .fetch_one(conn)
    .await
}

/// Marks a confirmed reservation fulfilled: its tickets are issued. False if it was not confirmed.
pub async fn mark_fulfilled(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("update reservations set status = 'fulfilled' where id = $1 and status = 'confirmed'")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A buyer's reservations, most recent first, after the `(created_at, seq)` cursor.
pub async fn for_user(
    conn: &mut PgConnection,
    user_id: &str,
    organization: Option<&str>,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<Reservation>> {
    let (after_at, after_seq) = after.unzip();
    sqlx::query_as(concat!(
        "select ",
        columns!(),
        " from reservations r
         where r.user_id = $1 and ($2::timestamptz is null or (r.created_at, r.seq) < ($2, $3::int8))
           and ($5::text is null or r.offer_id in
                (select o.id from offers o join events e on e.id = o.event_id where e.organization_id = $5))
         order by r.created_at desc, r.seq desc
         limit $4"
    ))
    .bind(user_id)
    .bind(after_at)
    .bind(after_seq)
    .bind(limit)
    .bind(organization)
    .fetch_all(conn)
    .await
}

/// Confirmed reservations still without tickets whose issuance job will not run again by itself
/// (it failed for good, or is gone) and whose next requeue is due; locked, skipping those another
/// sweep holds.
pub async fn stalled_issuance(conn: &mut PgConnection, queue: &str, limit: i64) -> sqlx::Result<Vec<Uuid>> {
    // the job is looked up by its key, one reservation at a time (a subquery per row): an
    // anti-join could walk the whole job table
    sqlx::query_scalar(
        "select r.id from reservations r
         where r.status = 'confirmed' and r.confirmed_at < now() - interval '30 seconds'
           and (r.issuance_requeue_at is null or r.issuance_requeue_at <= now())
           and not coalesce((
               select j.status in ('Pending', 'Queued', 'Running') or (j.status = 'Failed' and j.attempts < j.max_attempts)
               from apalis.jobs j where j.job_type = $1 and j.idempotency_key = 'issue:' || r.id), false)
         order by r.confirmed_at
         limit $2
         for update of r skip locked",
    )
    .bind(queue)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Counts a requeue of their issuance; the next one waits 1, 2, 4... minutes, at most an hour.
pub async fn count_issuance_requeue(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query(
        "update reservations set issuance_requeues = issuance_requeues + 1,
             issuance_requeue_at = now() + least(make_interval(mins => 1) * power(2, issuance_requeues), interval '1 hour')
         where id = any($1)",
    )
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// Confirmed reservations without tickets yet, and how many of them a sweep has had to requeue.
pub async fn issuance_backlog(conn: &mut PgConnection) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "select count(*), count(*) filter (where issuance_requeues > 0) from reservations where status = 'confirmed'",
    )
    .fetch_one(conn)
    .await
}

/// The stored status of a reservation, its row locked (after the item's lock) against issuance
/// and other cancellations.
pub async fn lock_status(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<ReservationStatus>> {
    sqlx::query_scalar("select status from reservations where id = $1 for update").bind(id).fetch_optional(conn).await
}

/// Cancels a paid reservation and frees its seats. `false` if it was not confirmed or fulfilled.
pub async fn cancel(conn: &mut PgConnection, id: Uuid, reason: &str) -> sqlx::Result<bool> {
    let cancelled: Option<Uuid> = sqlx::query_scalar(
        "update reservations set status = 'cancelled', cancelled_at = clock_timestamp(), cancel_reason = $2
         where id = $1 and status in ('confirmed', 'fulfilled')
         returning id",
    )
    .bind(id)
    .bind(reason)
    .fetch_optional(&mut *conn)
    .await?;
    if cancelled.is_none() {
        return Ok(false);
    }
    sqlx::query("update reservation_seats set active = false where reservation_id = $1 and active")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(true)
}

/// Frees the seat `label` of a reservation (its ticket was voided).
pub async fn free_seat(conn: &mut PgConnection, id: Uuid, label: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update reservation_seats rs set active = false
         from seats s
         where rs.reservation_id = $1 and rs.seat_id = s.id and s.label = $2 and rs.active",
    )
    .bind(id)
    .bind(label)
    .execute(conn)
    .await?;
    Ok(())
}
