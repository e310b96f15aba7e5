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
use crate::domain::records::{Reservation, ReservationLine};

/// The columns of [`Reservation`], with the effective status.
macro_rules! columns {
    () => {
        "r.id, r.seq, r.user_id, r.offer_id, r.representation_id, r.quantity, r.seat_labels, r.hold_minutes,
         case when r.status = 'held' and r.hold_expires_at <= clock_timestamp() then 'expired' else r.status end as status,
         r.reason, r.hold_expires_at, r.payment_reference, r.created_at, r.decided_at, r.confirmed_at, r.ended_at,
         r.from_waitlist, r.best_available, r.best_section, r.best_together,
         r.pool_id, r.order_id, r.line_no, r.rejected_line,
         (select e.organization_id from offers o join events e on e.id = o.event_id where o.id = r.offer_id)
            as organization_id"
    };
}

/// A reservation to store as pending: one line, or an order of several.
#[derive(Debug, Clone)]
pub struct NewReservation {
    pub id: Uuid,
    pub user_id: String,
    /// At least one; several make an order, decided all or nothing.
    pub lines: Vec<NewLine>,
    pub hold_minutes: i32,
    pub api_key_id: Uuid,
    pub request_id: Option<String>,
    /// The queue entry whose pass came with the request, and when that pass expires.
    pub queue_pass: Option<(Uuid, DateTime<Utc>)>,
}

/// One line of a [`NewReservation`].
#[derive(Debug, Clone)]
pub struct NewLine {
    /// The pool the API saw the item draw from, to wake the pool's worker once per batch (the row
    /// itself takes its pool from the item when stored).
    pub pool_id: Option<String>,
    pub offer_id: String,
    pub representation_id: String,
    pub quantity: i32,
    pub seat_labels: Option<Vec<String>>,
    /// Seats for the worker to pick at the request's turn.
    pub best_available: Option<BestAvailable>,
}

/// A row to insert: a line of a reservation, with the order it belongs to.
struct Row<'a> {
    id: Uuid,
    order: Option<(Uuid, i16)>,
    r: &'a NewReservation,
    line: &'a NewLine,
}

fn rows_of(batch: &[NewReservation]) -> Vec<Row<'_>> {
    let mut rows = Vec::new();
    for r in batch {
        let order = r.lines.len() > 1;
        for (n, line) in r.lines.iter().enumerate() {
            // derived from the order's, so that a retry of the request makes the same ids (the
            // primary key then leaves out the whole order, not only its first line); two ids of
            // the same millisecond sharing all but their last 7 random bits are not to be met
            let id = Uuid::from_u128(r.id.as_u128() ^ n as u128);
            rows.push(Row { id, order: order.then_some((r.id, n as i16)), r, line });
        }
    }
    rows
}

/// Stores many pending reservations and enqueues `jobs` due now, in one statement: atomic on its
/// own, so a batch costs one round trip and no transaction. The rows' `seq` is in the order given
/// (the lines of an order are consecutive); those of unknown users, and those whose id is taken,
/// are not stored (not in the result). Each row draws from its item's pool as the item says now.
pub async fn insert_many<J: Job>(
    conn: &mut PgConnection,
    batch: &[NewReservation],
    jobs: &[J],
) -> sqlx::Result<Vec<Reservation>> {
    let rows = rows_of(batch);
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let orders: Vec<Option<Uuid>> = rows.iter().map(|r| r.order.map(|o| o.0)).collect();
    let line_nos: Vec<Option<i16>> = rows.iter().map(|r| r.order.map(|o| o.1)).collect();
    let pools: Vec<Option<&str>> = rows.iter().map(|r| r.line.pool_id.as_deref()).collect();
    let users: Vec<&str> = rows.iter().map(|r| r.r.user_id.as_str()).collect();
    let offers: Vec<&str> = rows.iter().map(|r| r.line.offer_id.as_str()).collect();
    let reps: Vec<&str> = rows.iter().map(|r| r.line.representation_id.as_str()).collect();
    let quantities: Vec<i32> = rows.iter().map(|r| r.line.quantity).collect();
    // arrays of arrays must be rectangular in PostgreSQL: seats travel as JSON
    let seats: Vec<Option<serde_json::Value>> =
        rows.iter().map(|r| r.line.seat_labels.as_ref().map(|s| serde_json::json!(s))).collect();
    let holds: Vec<i32> = rows.iter().map(|r| r.r.hold_minutes).collect();
    let keys: Vec<Uuid> = rows.iter().map(|r| r.r.api_key_id).collect();
    let request_ids: Vec<Option<&str>> = rows.iter().map(|r| r.r.request_id.as_deref()).collect();
    let best: Vec<bool> = rows.iter().map(|r| r.line.best_available.is_some()).collect();
    let best_sections: Vec<Option<&str>> =
        rows.iter().map(|r| r.line.best_available.as_ref().and_then(|b| b.section.as_deref())).collect();
    let best_together: Vec<bool> =
        rows.iter().map(|r| r.line.best_available.as_ref().is_none_or(|b| b.together)).collect();
    // the pass is spent by the order once: its first line carries it (one in flight per pass)
    let first = |r: &Row| r.order.is_none_or(|(_, n)| n == 0);
    let queue_entries: Vec<Option<Uuid>> =
        rows.iter().map(|r| r.r.queue_pass.filter(|_| first(r)).map(|p| p.0)).collect();
    let pass_expiries: Vec<Option<DateTime<Utc>>> =
        rows.iter().map(|r| r.r.queue_pass.filter(|_| first(r)).map(|p| p.1)).collect();
    let (job_keys, job_payloads) = jobs::rows_of(jobs);
    let stored: Vec<Reservation> = sqlx::query_as(concat!(
        "with inserted as (
             insert into reservations (id, user_id, offer_id, representation_id, quantity, seat_labels,
                 hold_minutes, api_key_id, request_id, best_available, best_section, best_together,
                 queue_entry_id, queue_pass_expires_at, order_id, line_no, pool_id)
             select id, user_id, offer_id, representation_id, quantity,
                    case when seats is null then null else array(select jsonb_array_elements_text(seats)) end,
                    hold_minutes, api_key_id, request_id, best_available, best_section, best_together,
                    queue_entry_id, queue_pass_expires_at, order_id, line_no,
                    -- the pool the API saw (the foreign key refuses one the item has left), else the
                    -- item's; null (refused by the column) when the item has no stock set
                    coalesce(t.pool_id, (select i.pool_id from inventory i
                     where (i.offer_id, i.representation_id) = (t.offer_id, t.representation_id)))
             from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::jsonb[], $7::int[], $8::uuid[],
                         $9::text[], $10::bool[], $11::text[], $12::bool[], $13::uuid[], $14::timestamptz[],
                         $19::uuid[], $20::int2[], $21::text[])
                 with ordinality as t(id, user_id, offer_id, representation_id, quantity, seats, hold_minutes, api_key_id,
                                      request_id, best_available, best_section, best_together, queue_entry_id,
                                      queue_pass_expires_at, order_id, line_no, pool_id, n)
             -- an unknown buyer is left out (and told so) rather than failing the whole batch
             where exists (select 1 from users u where u.id = t.user_id)
             order by n
             -- stored already by an earlier attempt of the same request (see `services::intake`)
             on conflict (id) do nothing
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
    .bind(&orders)
    .bind(&line_nos)
    .bind(&pools)
    .fetch_all(&mut *conn)
    .await?;
    Ok(assemble(stored))
}

/// Gathers the rows of each order into one reservation (its lines in order, its units and seats
/// summed up); a reservation of one line is its own line. Rows are kept in the order given, an
/// order where its first line is; a line whose order's first line is missing is dropped.
pub fn assemble(rows: Vec<Reservation>) -> Vec<Reservation> {
    use std::collections::HashMap;
    let mut lines: HashMap<Uuid, Vec<Reservation>> = HashMap::new();
    let mut out = Vec::new();
    for row in rows {
        match row.order_id {
            Some(order) if row.line_no != Some(0) => lines.entry(order).or_default().push(row),
            _ => out.push(row),
        }
    }
    for r in &mut out {
        r.lines = vec![line_of(r)];
        let Some(order) = r.order_id else { continue };
        let mut rest = lines.remove(&order).unwrap_or_default();
        rest.sort_by_key(|l| l.line_no);
        for l in &rest {
            r.lines.push(line_of(l));
            r.quantity += l.quantity;
        }
        if r.lines.iter().any(|l| l.seat_labels.is_some()) {
            r.seat_labels = Some(r.lines.iter().flat_map(|l| l.seat_labels.clone().unwrap_or_default()).collect());
        }
    }
    out
}

fn line_of(r: &Reservation) -> ReservationLine {
    ReservationLine {
        row_id: r.id,
        offer_id: r.offer_id.clone(),
        representation_id: r.representation_id.clone(),
        pool_id: r.pool_id.clone(),
        quantity: r.quantity,
        seat_labels: r.seat_labels.clone(),
    }
}

/// Reads the other lines of the orders among `rows` (reservations as read: first lines and
/// single ones) and assembles them.
async fn with_lines(conn: &mut PgConnection, mut rows: Vec<Reservation>) -> sqlx::Result<Vec<Reservation>> {
    let orders: Vec<Uuid> = rows.iter().filter_map(|r| r.order_id).collect();
    if !orders.is_empty() {
        let more: Vec<Reservation> = sqlx::query_as(concat!(
            "select ",
            columns!(),
            " from reservations r where r.order_id = any($1) and r.line_no > 0"
        ))
        .bind(&orders)
        .fetch_all(conn)
        .await?;
        rows.extend(more);
    }
    Ok(assemble(rows))
}

/// Where a reservation is its row: a single line, or the first line of an order (the others are
/// read with it).
macro_rules! is_reservation {
    () => {
        "(r.line_no is null or r.line_no = 0)"
    };
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Reservation>> {
    let row: Option<Reservation> =
        sqlx::query_as(concat!("select ", columns!(), " from reservations r where r.id = $1 and ", is_reservation!()))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(with_lines(conn, row.into_iter().collect()).await?.pop())
}

/// The decided ones among `ids`, for callers waiting on a decision. Not prepared: read 50 times a
/// second on the same connections, a prepared statement soon runs PostgreSQL's generic plan for
/// `id = any($1)`, measured much slower than a plan for the ids at hand (200 closed-loop buyers:
/// answers p50 62 ms against 40 ms).
pub async fn find_decided(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Reservation>> {
    let rows = sqlx::query_as(concat!(
        "select ",
        columns!(),
        " from reservations r where r.id = any($1) and r.status <> 'pending' and ",
        is_reservation!()
    ))
    .persistent(false)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    with_lines(conn, rows).await
}

/// Several reservations by id, as they stand (those that exist).
pub async fn find_many(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Reservation>> {
    let rows = sqlx::query_as(concat!(
        "select ",
        columns!(),
        " from reservations r where r.id = any($1) and ",
        is_reservation!()
    ))
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    with_lines(conn, rows).await
}

/// Confirms the live holds among `ids` (every line of each; the caller holds their pools'
/// locks), each with its payment reference; returns those confirmed now.
pub async fn confirm_held(
    conn: &mut PgConnection,
    ids: &[Uuid],
    payment_references: &[Option<String>],
) -> sqlx::Result<Vec<Reservation>> {
    let rows = sqlx::query_as(concat!(
        "with done as (
             update reservations r set status = 'confirmed', confirmed_at = clock_timestamp(),
                 payment_reference = coalesce(p.reference, r.payment_reference)
             from unnest($1::uuid[], $2::text[]) as p(id, reference)
             where coalesce(r.order_id, r.id) = p.id and (r.id = any($1) or r.order_id = any($1))
               and r.status = 'held' and r.hold_expires_at > clock_timestamp()
             returning r.*
         )
         select ",
        columns!(),
        " from done r"
    ))
    .bind(ids)
    .bind(payment_references)
    .fetch_all(conn)
    .await?;
    Ok(assemble(rows))
}

/// Releases the live holds among `ids` (every line of each; the caller holds their pools'
/// locks), freeing their seats; returns those released now.
pub async fn release_held(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Reservation>> {
    let rows = sqlx::query_as(concat!(
        "with done as (
             update reservations set status = 'released', ended_at = clock_timestamp()
             where (id = any($1) or order_id = any($1)) and status = 'held' and hold_expires_at > clock_timestamp()
             returning *
         ), bumped as (
             -- the pool's copy of the hall in a worker must see these seats free
             update pools set seats_version = seats_version + 1
             where id in (select pool_id from done) and seated
             returning id, seats_version
         ), freed as (
             update reservation_seats rs set active = false, changed_version = v.seats_version
             from done d, bumped v
             where rs.reservation_id = d.id and rs.active and v.id = rs.pool_id
         )
         select ",
        columns!(),
        " from done r"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(assemble(rows))
}

/// A hold ended by [`expire_due_holds`].
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Ended {
    /// The reservation (an order's id for each of its lines).
    pub id: Uuid,
    /// Seconds past its end.
    pub lag: f64,
}

/// Ends every hold of the pools `pools` (locked by the caller) whose time has passed and gives its
/// stock back, in one statement: single lines, and orders all of whose pools are among `pools`
/// (an order that also draws from another pool is left to [`orders_due`]'s caller, who locks
/// them all). Returns the reservations it ended, one entry each.
pub async fn expire_due_holds(conn: &mut PgConnection, pools: &[String]) -> sqlx::Result<Vec<Ended>> {
    sqlx::query_as(
        "with clock as materialized (select clock_timestamp() as at),
         due as (
             -- the clock read once, as a bound of the open-holds index
             select r.id, r.order_id from reservations r
             where r.pool_id = any($1) and r.status = 'held' and r.hold_expires_at <= (select at from clock)
         ), expired as (
             -- the rows by primary key (an `or` of two lists here had the planner pass over every
             -- open hold of the pool, each batch, with nothing due)
             update reservations r set status = 'expired', ended_at = (select at from clock)
             where r.status = 'held'
               and r.id = any (array(
                   select id from due where order_id is null
                   union all
                   select o.id from (select distinct order_id from due where order_id is not null) d
                   join reservations o on o.order_id = d.order_id
                   where not exists (select 1 from reservations x
                                     where x.order_id = d.order_id and x.pool_id <> all($1))))
             returning r.id, r.order_id, r.pool_id, r.quantity,
                       extract(epoch from r.ended_at - r.hold_expires_at)::float8 as lag
         ), books as (
             update pools p
             set held = held - e.units, available = available + e.units, updated_at = now(),
                 seats_version = seats_version + case when p.seated then 1 else 0 end
             from (select pool_id, sum(quantity)::int as units from expired group by pool_id) e
             where p.id = e.pool_id
             returning p.id, p.seats_version
         ), freed as (
             update reservation_seats rs set active = false, changed_version = b.seats_version
             from expired e, books b
             where rs.reservation_id = e.id and rs.active and b.id = rs.pool_id
         )
         select coalesce(order_id, id) as id, max(lag) as lag from expired group by 1",
    )
    .bind(pools)
    .fetch_all(conn)
    .await
}

/// Orders held in `pool` whose time has passed and that also draw from other pools: each with
/// all its pools, to be locked together and expired.
pub async fn orders_due(conn: &mut PgConnection, pool: &str) -> sqlx::Result<Vec<(Uuid, Vec<String>)>> {
    sqlx::query_as(
        "select d.order_id, array(select distinct o.pool_id from reservations o where o.order_id = d.order_id
                                  order by 1)
         from (select distinct order_id from reservations
               where pool_id = $1 and status = 'held' and hold_expires_at <= now() and order_id is not null) d",
    )
    .bind(pool)
    .fetch_all(conn)
    .await
}

/// Pools with holds past their time, oldest first: what the expiry sweep has to do.
pub async fn pools_with_due_holds(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select pool_id from reservations
         where status = 'held' and hold_expires_at <= now()
         group by pool_id
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
        "select distinct on (pool_id) offer_id, representation_id from reservations
         where status = 'pending' and created_at < now() - make_interval(secs => $1::float8 / 1000)",
    )
    .bind(older_than_ms)
    .fetch_all(conn)
    .await
}

/// A hold offered to someone of a waiting list.
#[derive(Debug, Clone)]
pub struct OfferHold {
    pub id: Uuid,
    pub user_id: String,
    pub offer_id: String,
    pub representation_id: String,
    pub quantity: i32,
}

/// Creates holds for people of a pool's waiting lists, each held for `minutes`. Returns when they
/// end (one time for the whole set).
pub async fn insert_offer_holds(
    conn: &mut PgConnection,
    pool_id: &str,
    holds: &[OfferHold],
    minutes: i32,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let ids: Vec<Uuid> = holds.iter().map(|h| h.id).collect();
    let users: Vec<&str> = holds.iter().map(|h| h.user_id.as_str()).collect();
    let offers: Vec<&str> = holds.iter().map(|h| h.offer_id.as_str()).collect();
    let reps: Vec<&str> = holds.iter().map(|h| h.representation_id.as_str()).collect();
    let quantities: Vec<i32> = holds.iter().map(|h| h.quantity).collect();
    sqlx::query_scalar(
        "with inserted as (
             insert into reservations (id, user_id, offer_id, representation_id, pool_id, quantity, hold_minutes,
                 status, decided_at, hold_expires_at, from_waitlist)
             select id, user_id, offer_id, representation_id, $1, quantity, $2, 'held', clock_timestamp(),
                    clock_timestamp() + make_interval(mins => $2), true
             from unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::int[])
                  as t(id, user_id, offer_id, representation_id, quantity)
             returning hold_expires_at
         )
         select max(hold_expires_at) from inserted",
    )
    .bind(pool_id)
    .bind(minutes)
    .bind(&ids)
    .bind(&users)
    .bind(&offers)
    .bind(&reps)
    .bind(&quantities)
    .fetch_one(conn)
    .await
}

/// Marks a confirmed reservation fulfilled: its tickets are issued. False if it was not confirmed.
pub async fn mark_fulfilled(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update reservations set status = 'fulfilled', fulfilled_at = now()
         where (id = $1 or order_id = $1) and status = 'confirmed'",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
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
    let rows = sqlx::query_as(concat!(
        "select ",
        columns!(),
        " from reservations r
         where r.user_id = $1 and ($2::timestamptz is null or (r.created_at, r.seq) < ($2, $3::int8))
           and (r.line_no is null or r.line_no = 0)
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
    .fetch_all(&mut *conn)
    .await?;
    with_lines(conn, rows).await
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
           and (r.line_no is null or r.line_no = 0)
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
        "select count(*), count(*) filter (where issuance_requeues > 0) from reservations
         where status = 'confirmed' and (line_no is null or line_no = 0)",
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
         where (id = $1 or order_id = $1) and status in ('confirmed', 'fulfilled')
         returning id",
    )
    .bind(id)
    .bind(reason)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .next();
    if cancelled.is_none() {
        return Ok(false);
    }
    sqlx::query(
        "with lines as (select id, pool_id from reservations where id = $1 or order_id = $1),
         bumped as (
             update pools set seats_version = seats_version + 1
             where id in (select pool_id from lines) and seated
             returning id, seats_version
         )
         update reservation_seats rs set active = false, changed_version = v.seats_version
         from lines l, bumped v
         where rs.reservation_id = l.id and rs.active and v.id = rs.pool_id",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(true)
}

/// Frees the seat `label` of a reservation (its ticket was voided).
pub async fn free_seat(conn: &mut PgConnection, id: Uuid, label: &str) -> sqlx::Result<()> {
    sqlx::query(
        "with seat as (
             select rs.reservation_id, rs.seat_id, rs.pool_id from reservation_seats rs join seats s on s.id = rs.seat_id
             where rs.reservation_id in (select id from reservations where id = $1 or order_id = $1)
               and s.label = $2 and rs.active
         ), bumped as (
             update pools set seats_version = seats_version + 1
             where id in (select pool_id from seat)
             returning id, seats_version
         )
         update reservation_seats rs set active = false, changed_version = v.seats_version
         from seat, bumped v
         where (rs.reservation_id, rs.seat_id) = (seat.reservation_id, seat.seat_id) and v.id = rs.pool_id",
    )
    .bind(id)
    .bind(label)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the item has units its pool counts for it: requests waiting for their turn, holds
/// (lapsed ones included until settled) and sales not cancelled.
pub async fn item_committed(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from reservations where offer_id = $1 and representation_id = $2
                        and status in ('pending', 'held', 'confirmed', 'fulfilled'))",
    )
    .bind(offer_id)
    .bind(representation_id)
    .fetch_one(conn)
    .await
}
