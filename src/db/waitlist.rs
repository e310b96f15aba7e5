//! Waiting-list entries. A position is computed, never stored: the rank by `seq` among the active
//! entries (waiting or offered) of the list.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: Uuid,
    pub user_id: String,
    pub offer_id: String,
    pub representation_id: String,
    pub requested_quantity: i32,
    pub status: String,
    pub reservation_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub offered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Rank among the active entries; null once the entry has ended.
    pub position: Option<i64>,
    /// The open offer's end, while offered.
    pub offer_expires_at: Option<DateTime<Utc>>,
}

/// Columns of [`EntryRow`] for an entry `e` (the rank is a correlated count on the line index).
macro_rules! entry_columns {
    () => {
        "e.id, e.user_id, e.offer_id, e.representation_id, e.requested_quantity, e.status, e.reservation_id,
         e.created_at, e.offered_at, e.ended_at,
         case when e.status in ('waiting', 'offered') then
             (select count(*) from waitlist_entries o
              where o.offer_id = e.offer_id and o.representation_id = e.representation_id
                and o.status in ('waiting', 'offered') and o.seq <= e.seq)
         end as position,
         (select r.hold_expires_at from reservations r where r.id = e.reservation_id and e.status = 'offered') as offer_expires_at"
    };
}

/// Adds a person at the end of the line; returns the entry with its rank (read by a second
/// statement: a statement does not see its own insert in a subquery).
pub async fn insert(
    conn: &mut PgConnection,
    user_id: &str,
    offer_id: &str,
    representation_id: &str,
    quantity: i32,
) -> sqlx::Result<EntryRow> {
    sqlx::query(
        "insert into waitlist_entries (id, user_id, offer_id, representation_id, requested_quantity)
         values (gen_random_uuid(), $1, $2, $3, $4)",
    )
    .bind(user_id)
    .bind(offer_id)
    .bind(representation_id)
    .bind(quantity)
    .execute(&mut *conn)
    .await?;
    active_of_user(conn, offer_id, representation_id, user_id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// The user's active entry on the list, with its rank.
pub async fn active_of_user(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    user_id: &str,
) -> sqlx::Result<Option<EntryRow>> {
    sqlx::query_as(concat!(
        "select ",
        entry_columns!(),
        " from waitlist_entries e
         where e.offer_id = $1 and e.representation_id = $2 and e.user_id = $3 and e.status in ('waiting', 'offered')"
    ))
    .bind(offer_id)
    .bind(representation_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// A page of the line, with ranks, and the line's length.
pub async fn page(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<EntryRow>, i64)> {
    let rows = sqlx::query_as(
        "select e.id, e.user_id, e.offer_id, e.representation_id, e.requested_quantity, e.status, e.reservation_id,
                e.created_at, e.offered_at, e.ended_at,
                row_number() over (order by e.seq) as position,
                (select r.hold_expires_at from reservations r where r.id = e.reservation_id and e.status = 'offered')
                    as offer_expires_at
         from waitlist_entries e
         where e.offer_id = $1 and e.representation_id = $2 and e.status in ('waiting', 'offered')
         order by e.seq
         limit $3 offset $4",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar(
        "select count(*) from waitlist_entries
         where offer_id = $1 and representation_id = $2 and status in ('waiting', 'offered')",
    )
    .bind(offer_id)
    .bind(representation_id)
    .fetch_one(conn)
    .await?;
    Ok((rows, total))
}

/// Every entry of a user, newest first.
pub async fn of_user(
    conn: &mut PgConnection,
    user_id: &str,
    organization: Option<&str>,
) -> sqlx::Result<Vec<EntryRow>> {
    sqlx::query_as(concat!(
        "select ",
        entry_columns!(),
        " from waitlist_entries e where e.user_id = $1
           and ($2::text is null or e.offer_id in
                (select o.id from offers o join events ev on ev.id = o.event_id where ev.organization_id = $2))
         order by e.created_at desc, e.seq desc"
    ))
    .bind(user_id)
    .bind(organization)
    .fetch_all(conn)
    .await
}

/// Leaves the line (a waiting entry only). Returns whether there was one.
pub async fn leave_waiting(conn: &mut PgConnection, entry_id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update waitlist_entries set status = 'left', ended_at = now() where id = $1 and status = 'waiting'",
    )
    .bind(entry_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Waiting {
    pub id: Uuid,
    pub seq: i64,
    pub user_id: String,
    pub requested_quantity: i32,
}

/// The people waiting (not yet offered) after `after_seq` whose quantity is at most `fits`, in
/// line order: those further back are reached too, however many ahead of them want more.
pub async fn waiting_who_fit(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    fits: i32,
    after_seq: i64,
    limit: i64,
) -> sqlx::Result<Vec<Waiting>> {
    sqlx::query_as(
        "select id, seq, user_id, requested_quantity from waitlist_entries
         where offer_id = $1 and representation_id = $2 and status = 'waiting'
           and requested_quantity <= $3 and seq > $4
         order by seq limit $5",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(fits)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Marks entries offered, each with its hold.
pub async fn mark_offered(conn: &mut PgConnection, entries: &[Uuid], reservations: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query(
        "update waitlist_entries e set status = 'offered', offered_at = now(), reservation_id = o.reservation_id
         from unnest($1::uuid[], $2::uuid[]) as o(entry_id, reservation_id)
         where e.id = o.entry_id and e.status = 'waiting'",
    )
    .bind(entries)
    .bind(reservations)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the open offers made through these holds: `converted`, `expired` or `declined`.
pub async fn end_offers(conn: &mut PgConnection, reservations: &[Uuid], status: &str) -> sqlx::Result<u64> {
    if reservations.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "update waitlist_entries set status = $2, ended_at = now()
         where reservation_id = any($1) and status = 'offered'",
    )
    .bind(reservations)
    .bind(status)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Items on sale where someone waiting fits in the available stock: what promotion missed (a
/// reopened sale, a crash between freeing and offering).
pub async fn items_to_promote(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "select i.offer_id, i.representation_id
         from inventory i
         join events e on e.id = i.event_id
         join representations rp on rp.id = i.representation_id
         where i.available > 0 and not i.seated and e.sales_open and rp.ends_at > now()
           and exists (select 1 from waitlist_entries w
                       where w.offer_id = i.offer_id and w.representation_id = i.representation_id
                         and w.status = 'waiting' and w.requested_quantity <= i.available)
         limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}
