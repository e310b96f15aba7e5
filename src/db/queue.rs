//! The virtual queues of events and their entries.
//!
//! `queue_entries` grows from nothing to 100,000s of rows within minutes of a queue opening,
//! faster than statistics follow (or with autovacuum off, never). A statement prepared while it was
//! empty keeps a generic plan that scans the table for every joiner of a batch, and a join that took
//! a millisecond takes seconds. The statements whose plan depends on its size are therefore not
//! prepared (`persistent(false)`): each is planned for the table as it is, for a millisecond.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::queue::QueueSettings;

/// An event's queue as stored, with the database's clock.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueueRow {
    pub event_id: String,
    pub organization_id: String,
    pub enabled: bool,
    pub prequeue_opens_at: DateTime<Utc>,
    pub sale_opens_at: DateTime<Utc>,
    pub admit_per_minute: i32,
    pub pass_minutes: i32,
    pub seed: Vec<u8>,
    pub drawn_at: Option<DateTime<Utc>>,
    pub last_place: i64,
    pub admitted_through: i64,
    pub credit_from: Option<DateTime<Utc>>,
    pub sold_out_since: Option<DateTime<Utc>>,
    pub return_url: Option<String>,
    pub now: DateTime<Utc>,
}

impl QueueRow {
    pub fn settings(&self) -> QueueSettings {
        QueueSettings {
            enabled: self.enabled,
            prequeue_opens_at: self.prequeue_opens_at,
            sale_opens_at: self.sale_opens_at,
            admit_per_minute: self.admit_per_minute,
            pass_minutes: self.pass_minutes,
            return_url: self.return_url.clone(),
        }
    }
}

/// The select of a queue, its organization and the clock, for `concat!`.
macro_rules! queue {
    () => {
        "select q.event_id, e.organization_id, q.enabled, q.prequeue_opens_at, q.sale_opens_at,
            q.admit_per_minute, q.pass_minutes, q.seed, q.drawn_at, q.last_place, q.admitted_through,
            q.credit_from, q.sold_out_since, q.return_url, clock_timestamp() as now
     from event_queues q join events e on e.id = q.event_id"
    };
}

pub async fn find(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<Option<QueueRow>> {
    sqlx::query_as(concat!(queue!(), " where q.event_id = $1")).bind(event_id).fetch_optional(conn).await
}

/// The queue, locked until the transaction ends: settings changes, joins and admissions of one
/// queue go one after another.
pub async fn lock(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<Option<QueueRow>> {
    sqlx::query_as(concat!(queue!(), " where q.event_id = $1 for update of q"))
        .bind(event_id)
        .fetch_optional(conn)
        .await
}

/// The queues of `event_ids`, locked, in a fixed order (so two batches cannot deadlock).
pub async fn lock_many(conn: &mut PgConnection, event_ids: &[&str]) -> sqlx::Result<Vec<QueueRow>> {
    sqlx::query_as(concat!(queue!(), " where q.event_id = any($1) order by q.event_id for update of q"))
        .bind(event_ids)
        .fetch_all(conn)
        .await
}

/// The queue, locked, unless another transaction (another scheduler's sweep) has it.
pub async fn lock_unless_busy(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<Option<QueueRow>> {
    sqlx::query_as(concat!(queue!(), " where q.event_id = $1 for update of q skip locked"))
        .bind(event_id)
        .fetch_optional(conn)
        .await
}

/// Writes the settings; `seed` is stored only by the first write, and kept by every later one.
pub async fn save(conn: &mut PgConnection, event_id: &str, s: &QueueSettings, seed: &[u8]) -> sqlx::Result<()> {
    sqlx::query(
        "insert into event_queues (event_id, enabled, prequeue_opens_at, sale_opens_at, admit_per_minute,
             pass_minutes, seed, return_url)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (event_id) do update set
             (enabled, prequeue_opens_at, sale_opens_at, admit_per_minute, pass_minutes, return_url, updated_at)
           = (excluded.enabled, excluded.prequeue_opens_at, excluded.sale_opens_at,
              excluded.admit_per_minute, excluded.pass_minutes, excluded.return_url, now())",
    )
    .bind(event_id)
    .bind(s.enabled)
    .bind(s.prequeue_opens_at)
    .bind(s.sale_opens_at)
    .bind(s.admit_per_minute)
    .bind(s.pass_minutes)
    .bind(seed)
    .bind(&s.return_url)
    .execute(conn)
    .await?;
    Ok(())
}

/// Enabled queues whose sale has opened: what admission looks at.
pub async fn opened(conn: &mut PgConnection) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select event_id from event_queues where enabled and sale_opens_at <= now() order by event_id")
        .fetch_all(conn)
        .await
}

/// A join to store: the entry's id, the queue's event, the user, and whether it is in the pre-queue.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub id: Uuid,
    pub event_id: String,
    pub user_id: String,
    pub prequeue: bool,
}

/// Stores the entries of users who have none in their queue yet (of unknown users, none).
pub async fn insert_entries(conn: &mut PgConnection, entries: &[NewEntry]) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = entries.iter().map(|e| e.id).collect();
    let events: Vec<&str> = entries.iter().map(|e| e.event_id.as_str()).collect();
    let users: Vec<&str> = entries.iter().map(|e| e.user_id.as_str()).collect();
    let prequeue: Vec<bool> = entries.iter().map(|e| e.prequeue).collect();
    let done = sqlx::query(
        "insert into queue_entries (id, event_id, user_id, prequeue)
         select id, event_id, user_id, prequeue
         from unnest($1::uuid[], $2::text[], $3::text[], $4::bool[]) with ordinality as t(id, event_id, user_id, prequeue, n)
         where exists (select 1 from users u where u.id = t.user_id)
         order by n
         on conflict (event_id, user_id) do nothing",
    )
    .persistent(false)
    .bind(&ids)
    .bind(&events)
    .bind(&users)
    .bind(&prequeue)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Gives the unplaced entries of a queue the next places: after the draw, in arrival order;
/// at the draw, the pre-queue first, ordered by SHA-256(seed || id as text), then the others in
/// arrival order. The queue must be locked. Returns the last place given.
pub async fn place_unplaced(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "with q as (select seed, last_place from event_queues where event_id = $1),
         ordered as (
             select e.id, q.last_place + row_number() over (
                 order by e.prequeue desc,
                          case when e.prequeue then sha256(q.seed || convert_to(e.id::text, 'UTF8')) end,
                          e.seq) as place
             from queue_entries e, q
             where e.event_id = $1 and e.place is null
         ),
         placed as (
             update queue_entries e set place = o.place from ordered o where e.id = o.id returning e.place
         )
         update event_queues set last_place = greatest(last_place, (select coalesce(max(place), 0) from placed))
         where event_id = $1
         returning last_place",
    )
    .persistent(false)
    .bind(event_id)
    .fetch_one(conn)
    .await
}

/// Marks the queue drawn; admission credit starts now.
pub async fn mark_drawn(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<()> {
    sqlx::query("update event_queues set drawn_at = now(), credit_from = now() where event_id = $1")
        .bind(event_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Tickets still for sale in the whole event (every offer of every representation).
pub async fn stock_of_event(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("select coalesce(sum(available), 0)::bigint from pools where event_id = $1")
        .bind(event_id)
        .fetch_one(conn)
        .await
}

/// Records that the event sold out (admission stops, no credit accrues) or has stock again.
pub async fn set_sold_out(conn: &mut PgConnection, event_id: &str, sold_out: bool) -> sqlx::Result<()> {
    sqlx::query(
        "update event_queues set
             sold_out_since = case when $2 then coalesce(sold_out_since, now()) end,
             credit_from = case when $2 then now() else credit_from end
         where event_id = $1",
    )
    .bind(event_id)
    .bind(sold_out)
    .execute(conn)
    .await?;
    Ok(())
}

/// Admits the next `n` places, passes lasting the queue's pass time, and moves the admission
/// cursor and the credit. The queue must be locked.
pub async fn admit(conn: &mut PgConnection, event_id: &str, n: i64, credit_from: DateTime<Utc>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "update queue_entries e set admitted_at = now(),
                pass_expires_at = now() + make_interval(mins => q.pass_minutes)
         from event_queues q
         where q.event_id = $1 and e.event_id = $1
           and e.place > q.admitted_through and e.place <= q.admitted_through + $2",
    )
    .persistent(false)
    .bind(event_id)
    .bind(n)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "update event_queues set admitted_through = admitted_through + $2, credit_from = $3 where event_id = $1",
    )
    .bind(event_id)
    .bind(done.rows_affected() as i64)
    .bind(credit_from)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// An entry with what its standing is computed from, at one instant of the database's clock.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: Uuid,
    pub event_id: String,
    pub organization_id: String,
    pub user_id: String,
    pub prequeue: bool,
    pub place: Option<i64>,
    pub joined_at: DateTime<Utc>,
    pub admitted_at: Option<DateTime<Utc>>,
    pub pass_expires_at: Option<DateTime<Utc>>,
    pub admitted_through: i64,
    pub admit_per_minute: i32,
    /// The event has nothing left to sell at this instant.
    pub sold_out: bool,
    /// The last change to what the queue's entries show (see migration 0018).
    pub queue_changed_at: DateTime<Utc>,
    /// The last change to the stock of the event (its pools'); none without pools. Read for the
    /// live streams only ([`entries`]): a join's batch has no use for it.
    pub stock_changed_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// The select of an entry with its queue's facts and the clock, for `concat!`.
macro_rules! entry {
    () => {
        entry!("null::timestamptz")
    };
    // `stock_changed_at`: what only the live streams need, left off the joins' batches
    ($stock_changed_at:literal) => {
        concat!(
            "select e.id, e.event_id, ev.organization_id, e.user_id, e.prequeue, e.place, e.joined_at,
            e.admitted_at, e.pass_expires_at, q.admitted_through, q.admit_per_minute,
            not exists (select 1 from pools p where p.event_id = e.event_id and p.available > 0) as sold_out,
            q.changed_at as queue_changed_at, ",
            $stock_changed_at,
            " as stock_changed_at,
            clock_timestamp() as now
     from queue_entries e
     join event_queues q on q.event_id = e.event_id
     join events ev on ev.id = e.event_id"
        )
    };
}

pub async fn entry(conn: &mut PgConnection, event_id: &str, entry_id: Uuid) -> sqlx::Result<Option<EntryRow>> {
    sqlx::query_as(concat!(entry!(), " where e.id = $1 and e.event_id = $2"))
        .bind(entry_id)
        .bind(event_id)
        .fetch_optional(conn)
        .await
}

/// The entries among `ids` that exist, for the live streams following them.
pub async fn entries(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<EntryRow>> {
    sqlx::query_as(concat!(
        entry!("(select max(p.changed_at) from pools p where p.event_id = e.event_id)"),
        " where e.id = any($1)"
    ))
    .persistent(false)
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// The entries of these (event, user) pairs that exist.
pub async fn entries_of_users(conn: &mut PgConnection, pairs: &[(&str, &str)]) -> sqlx::Result<Vec<EntryRow>> {
    let events: Vec<&str> = pairs.iter().map(|p| p.0).collect();
    let users: Vec<&str> = pairs.iter().map(|p| p.1).collect();
    sqlx::query_as(concat!(
        entry!(),
        " join unnest($1::text[], $2::text[]) as t(event_id, user_id)
                 on t.event_id = e.event_id and t.user_id = e.user_id"
    ))
    .persistent(false)
    .bind(&events)
    .bind(&users)
    .fetch_all(conn)
    .await
}

/// How many entries stand where, at the database's clock.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Counts {
    pub prequeue: i64,
    pub waiting: i64,
    pub admitted: i64,
    pub expired: i64,
}

pub async fn counts(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<Counts> {
    sqlx::query_as(
        "select count(*) filter (where place is null) as prequeue,
                count(*) filter (where place is not null and admitted_at is null) as waiting,
                count(*) filter (where pass_expires_at > clock_timestamp()) as admitted,
                count(*) filter (where pass_expires_at <= clock_timestamp()) as expired
         from queue_entries where event_id = $1",
    )
    .bind(event_id)
    .fetch_one(conn)
    .await
}

/// The pre-queue's entries in drawn order.
pub async fn drawn_order(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "select id from queue_entries where event_id = $1 and prequeue and place is not null order by place",
    )
    .bind(event_id)
    .fetch_all(conn)
    .await
}

/// The items (offer id, representation id) the event sells: where its waiting lists are.
pub async fn items_of_event(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "select offer_id, representation_id from inventory where event_id = $1 order by offer_id, representation_id",
    )
    .bind(event_id)
    .fetch_all(conn)
    .await
}
