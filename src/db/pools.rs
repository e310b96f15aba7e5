//! Capacity pools: the books (total = available + held + sold) of stock that one or more items
//! sell, and the lock every writer of that stock takes. Writers that need several pools lock them
//! in ascending id order ([`lock_many`]), so two writers never wait for each other in a circle.

use sqlx::PgConnection;

use crate::domain::records::Pool;

/// The columns of [`Pool`], with the offers attached.
macro_rules! columns {
    () => {
        "p.id, p.representation_id, p.event_id, p.name, p.total_stock, p.available, p.held, p.sold, p.seated,
         p.updated_at,
         array(select i.offer_id from inventory i where i.pool_id = p.id order by i.offer_id) as offers"
    };
}

/// A new general-admission pool of the representation.
pub async fn insert(
    conn: &mut PgConnection,
    id: &str,
    representation_id: &str,
    event_id: &str,
    name: &str,
    total: i32,
) -> sqlx::Result<Option<Pool>> {
    sqlx::query_as(concat!(
        "with p as (
             insert into pools (id, representation_id, event_id, name, total_stock, available)
             values ($1, $2, $3, $4, $5, $5)
             on conflict (id) do nothing
             returning *
         )
         select ",
        columns!(),
        " from p"
    ))
    .bind(id)
    .bind(representation_id)
    .bind(event_id)
    .bind(name)
    .bind(total)
    .fetch_optional(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<Pool>> {
    sqlx::query_as(concat!("select ", columns!(), " from pools p where p.id = $1")).bind(id).fetch_optional(conn).await
}

/// The pools of a representation, by name then id.
pub async fn of_representation(conn: &mut PgConnection, representation_id: &str) -> sqlx::Result<Vec<Pool>> {
    sqlx::query_as(concat!("select ", columns!(), " from pools p where p.representation_id = $1 order by p.name, p.id"))
        .bind(representation_id)
        .fetch_all(conn)
        .await
}

/// Locks a pool for a transaction that moves its books. `no key update`, not `update`: rows being
/// inserted meanwhile that reference it only take a key-share lock, which this does not block.
pub async fn lock(conn: &mut PgConnection, id: &str) -> sqlx::Result<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("select 1 from pools where id = $1 for no key update").bind(id).fetch_optional(conn).await?;
    Ok(found.is_some())
}

/// Locks the pool an item draws from; its id, `None` when the item has no stock set.
pub async fn lock_of_item(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "select p.id from pools p join inventory i on i.pool_id = p.id
         where i.offer_id = $1 and i.representation_id = $2
         for no key update of p",
    )
    .bind(offer_id)
    .bind(representation_id)
    .fetch_optional(conn)
    .await
}

/// Locks pools in ascending id order (rows are locked in the order the statement returns them):
/// the one order every writer of several pools follows. Returns those that exist.
pub async fn lock_many(conn: &mut PgConnection, ids: &[String]) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select id from pools where id = any($1) order by id for no key update")
        .bind(ids)
        .fetch_all(conn)
        .await
}

/// Like [`lock`], but gives up at once when another transaction has it.
pub async fn try_lock(conn: &mut PgConnection, id: &str) -> sqlx::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar("select 1 from pools where id = $1 for no key update skip locked")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// The pool an item draws from.
pub async fn of_item(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select pool_id from inventory where offer_id = $1 and representation_id = $2")
        .bind(offer_id)
        .bind(representation_id)
        .fetch_optional(conn)
        .await
}

/// The pool an item draws from, and whether it is seated.
pub async fn of_item_seated(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
) -> sqlx::Result<Option<(String, bool)>> {
    sqlx::query_as(
        "select p.id, p.seated from inventory i join pools p on p.id = i.pool_id
         where i.offer_id = $1 and i.representation_id = $2",
    )
    .bind(offer_id)
    .bind(representation_id)
    .fetch_optional(conn)
    .await
}

/// Moves each pool's books by the deltas given, one statement for them all:
/// `(pool, available, held, sold)`. The table's checks refuse any move that would oversell.
pub async fn adjust(conn: &mut PgConnection, moves: &[(String, i32, i32, i32)]) -> sqlx::Result<()> {
    let moves: Vec<_> = moves.iter().filter(|m| (m.1, m.2, m.3) != (0, 0, 0)).collect();
    if moves.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = moves.iter().map(|m| m.0.as_str()).collect();
    let available: Vec<i32> = moves.iter().map(|m| m.1).collect();
    let held: Vec<i32> = moves.iter().map(|m| m.2).collect();
    let sold: Vec<i32> = moves.iter().map(|m| m.3).collect();
    sqlx::query(
        "update pools p set available = p.available + m.available, held = p.held + m.held, sold = p.sold + m.sold,
             updated_at = now()
         from (select id, sum(available) as available, sum(held) as held, sum(sold) as sold
               from unnest($1::text[], $2::int[], $3::int[], $4::int[]) as m(id, available, held, sold)
               group by id) m
         where p.id = m.id",
    )
    .bind(&ids)
    .bind(&available)
    .bind(&held)
    .bind(&sold)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves `units` from available to held (holds were granted).
pub async fn hold_units(conn: &mut PgConnection, id: &str, units: i32) -> sqlx::Result<()> {
    adjust(conn, &[(id.to_string(), -units, units, 0)]).await
}

/// Puts `units` sold back on sale (a cancellation or a voided ticket).
pub async fn unsell(conn: &mut PgConnection, id: &str, units: i32) -> sqlx::Result<()> {
    adjust(conn, &[(id.to_string(), units, 0, -units)]).await
}

/// Sets the total of a general-admission pool; what is held and sold stays, the table's checks
/// refuse a total below it. `None` when the pool is seated or does not exist.
pub async fn set_total(conn: &mut PgConnection, id: &str, total: i32) -> sqlx::Result<Option<Pool>> {
    sqlx::query_as(concat!(
        "with p as (
             update pools set total_stock = $2, available = $2 - held - sold, updated_at = now()
             where id = $1 and not seated
             returning *
         )
         select ",
        columns!(),
        " from p"
    ))
    .bind(id)
    .bind(total)
    .fetch_optional(conn)
    .await
}

/// What a writer holding a pool's lock needs to hand out its stock, judged on the clock read now
/// (after the lock), not when the transaction began.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PoolState {
    pub id: String,
    pub available: i32,
    pub seated: bool,
    /// The event's sales are open.
    pub sales_open: bool,
    /// The performance has ended.
    pub over: bool,
    /// How long a waiting-list offer holds, in minutes.
    pub waitlist_offer_minutes: i32,
    /// People on the waiting lists of the pool's items now (waiting or offered).
    pub line_length: i64,
}

impl PoolState {
    /// Why nothing of this pool may be granted now, if so.
    pub fn closed(&self) -> Option<crate::domain::RejectionReason> {
        crate::domain::RejectionReason::of_sale(self.sales_open, self.over)
    }
}

pub async fn state(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<PoolState>> {
    sqlx::query_as(
        "select p.id, p.available, p.seated, e.sales_open, rp.ends_at <= clock_timestamp() as over,
                e.waitlist_offer_minutes,
                (select coalesce(sum(i.line_length), 0)::int8 from inventory i where i.pool_id = p.id) as line_length
         from pools p
         join events e on e.id = p.event_id
         join representations rp on rp.id = p.representation_id
         where p.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// New seats are new available stock of their (seated) pool, and a new layout: a worker's copy of
/// the hall is read again whole.
pub async fn add_seated(conn: &mut PgConnection, id: &str, added: i32) -> sqlx::Result<()> {
    sqlx::query(
        "update pools set total_stock = total_stock + $2, available = available + $2,
                          layout_version = layout_version + 1, updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(added)
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes the pool seated for the seats about to be added; `false` when it holds
/// general-admission stock already.
pub async fn make_seated(conn: &mut PgConnection, id: &str) -> sqlx::Result<bool> {
    let done =
        sqlx::query("update pools set seated = true, updated_at = now() where id = $1 and (seated or total_stock = 0)")
            .bind(id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether items other than `(offer, representation)` draw from the pool.
pub async fn shared_beyond(
    conn: &mut PgConnection,
    id: &str,
    offer_id: &str,
    representation_id: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from inventory where pool_id = $1
                        and (offer_id, representation_id) <> ($2, $3))",
    )
    .bind(id)
    .bind(offer_id)
    .bind(representation_id)
    .fetch_one(conn)
    .await
}

/// A pool no item draws from any more (its last item moved to another): deleted when nothing
/// ever referred to it, else emptied, so that its stock stops counting as on sale.
pub async fn retire_if_unused(conn: &mut PgConnection, id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "with unused as (
             select id from pools p where p.id = $1
               and not exists (select 1 from inventory i where i.pool_id = p.id)
               and not exists (select 1 from seats s where s.pool_id = p.id)
         ),
         deleted as (
             delete from pools where id in (select id from unused)
               and not exists (select 1 from reservations r where r.pool_id = $1)
             returning id
         )
         update pools set total_stock = held + sold, available = 0, updated_at = now()
         where id in (select id from unused) and id not in (select id from deleted)",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A pool's books as a catalog import compares them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PoolBooks {
    pub id: String,
    pub representation_id: String,
    pub total_stock: i32,
    pub held: i32,
    pub sold: i32,
    pub seated: bool,
}

/// The books of the pools among `ids` that exist, locked until the transaction ends (what is
/// checked is what is overwritten).
pub async fn books_for_update(conn: &mut PgConnection, ids: &[&str]) -> sqlx::Result<Vec<PoolBooks>> {
    sqlx::query_as(
        "select id, representation_id, total_stock, held, sold, seated from pools where id = any($1)
         order by id for no key update",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Writes a pool as a catalog import describes it: created, or its name and total updated (a
/// seated pool's total is its seats, left alone; the table's checks refuse a total below what is
/// held and sold).
pub async fn import(
    conn: &mut PgConnection,
    id: &str,
    representation_id: &str,
    event_id: &str,
    name: &str,
    total: i32,
) -> sqlx::Result<super::Upserted> {
    let inserted: Option<bool> = sqlx::query_scalar(
        "insert into pools as p (id, representation_id, event_id, name, total_stock, available)
         values ($1, $2, $3, $4, $5, $5)
         on conflict (id) do update set
             name = excluded.name,
             total_stock = case when p.seated then p.total_stock else excluded.total_stock end,
             available = case when p.seated then p.available else excluded.total_stock - p.held - p.sold end,
             updated_at = now()
         where (p.name, p.total_stock)
               is distinct from (excluded.name, case when p.seated then p.total_stock else excluded.total_stock end)
         returning (xmax = 0)",
    )
    .bind(id)
    .bind(representation_id)
    .bind(event_id)
    .bind(name)
    .bind(total)
    .fetch_optional(conn)
    .await?;
    Ok(match inserted {
        Some(true) => super::Upserted::Inserted,
        Some(false) => super::Upserted::Updated,
        None => super::Upserted::Unchanged,
    })
}
