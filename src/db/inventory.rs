//! Items: an offer sold at a representation, drawing from one pool ([`super::pools`]). The item
//! keeps what is its own (its waiting list's counters); the books are its pool's.

use crate::domain::records::Inventory;
use sqlx::PgConnection;

/// An item with its pool's books.
macro_rules! item_columns {
    () => {
        "i.offer_id, i.representation_id, i.event_id, i.pool_id, p.total_stock, p.available, p.held, p.sold,
         p.seated, p.updated_at"
    };
}

pub async fn find(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> sqlx::Result<Option<Inventory>> {
    sqlx::query_as(concat!(
        "select ",
        item_columns!(),
        " from inventory i join pools p on p.id = i.pool_id
         where i.offer_id = $1 and i.representation_id = $2"
    ))
    .bind(offer_id)
    .bind(representation_id)
    .fetch_optional(conn)
    .await
}

/// Creates the item, drawing from `pool_id`; `false` when it exists already.
pub async fn insert(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    event_id: &str,
    pool_id: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "insert into inventory (offer_id, representation_id, event_id, pool_id) values ($1, $2, $3, $4)
         on conflict (offer_id, representation_id) do nothing",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(event_id)
    .bind(pool_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Locks the item's row against requests being stored for it (their foreign key takes a key-share
/// lock on it): taken before checking that nothing of the item is committed and moving it, so no
/// request slips into the pool it leaves.
pub async fn lock_for_move(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> sqlx::Result<()> {
    sqlx::query("select 1 from inventory where offer_id = $1 and representation_id = $2 for update")
        .bind(offer_id)
        .bind(representation_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes the item draw from another pool (the caller checked that nothing of it is committed).
pub async fn move_to(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    pool_id: &str,
) -> sqlx::Result<()> {
    sqlx::query("update inventory set pool_id = $3 where offer_id = $1 and representation_id = $2")
        .bind(offer_id)
        .bind(representation_id)
        .bind(pool_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A new pool for one item, named after its offer: what `total_stock` on an item, or its first
/// seats, make.
pub async fn insert_own_pool(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    event_id: &str,
    total: i32,
    seated: bool,
) -> sqlx::Result<String> {
    sqlx::query_scalar(
        "insert into pools (id, representation_id, event_id, name, total_stock, available, seated)
         select gen_random_uuid()::text, $2, $3, o.name, $4, $4, $5 from offers o where o.id = $1
         returning id",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(event_id)
    .bind(total)
    .bind(seated)
    .fetch_one(conn)
    .await
}

/// What a writer holding an item's pool needs for its waiting list: the pool's state, and the
/// list's own counters.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListState {
    pub available: i32,
    pub seated: bool,
    pub sales_open: bool,
    pub over: bool,
    /// People who ever joined the item's waiting list: the next one gets line number + 1.
    pub line_joined: i32,
    /// People on the list now (waiting or offered).
    pub line_length: i32,
}

impl ListState {
    /// Why nothing of this item may be granted now, if so.
    pub fn closed(&self) -> Option<crate::domain::RejectionReason> {
        crate::domain::RejectionReason::of_sale(self.sales_open, self.over)
    }
}

pub async fn list_state(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
) -> sqlx::Result<Option<ListState>> {
    sqlx::query_as(
        "select p.available, p.seated, e.sales_open, rp.ends_at <= clock_timestamp() as over,
                i.line_joined, i.line_length
         from inventory i
         join pools p on p.id = i.pool_id
         join events e on e.id = i.event_id
         join representations rp on rp.id = i.representation_id
         where i.offer_id = $1 and i.representation_id = $2",
    )
    .bind(offer_id)
    .bind(representation_id)
    .fetch_optional(conn)
    .await
}

/// The books of an existing item's pool, as an import compares them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Books {
    pub pool_id: String,
    pub total_stock: i32,
    pub held: i32,
    pub sold: i32,
    /// Of `sold`, the units the last import said were sold elsewhere.
    pub imported_sold: i32,
    pub seated: bool,
    /// Other items draw from the same pool.
    pub shared: bool,
}

/// The pools the items `(offer, representation)` of `items` that exist draw from.
pub async fn pools_of_items(conn: &mut PgConnection, items: &[(&str, &str)]) -> sqlx::Result<Vec<String>> {
    let (offers, reps): (Vec<&str>, Vec<&str>) = items.iter().copied().unzip();
    sqlx::query_scalar(
        "select distinct i.pool_id from inventory i
         join unnest($1::text[], $2::text[]) as k (offer_id, representation_id)
           on (k.offer_id, k.representation_id) = (i.offer_id, i.representation_id)",
    )
    .bind(&offers)
    .bind(&reps)
    .fetch_all(conn)
    .await
}

/// The books of the pools of the items `(offer, representation)` of `items` that exist, locked
/// until the transaction ends (what is checked is what is overwritten).
pub async fn books_for_update(
    conn: &mut PgConnection,
    items: &[(&str, &str)],
) -> sqlx::Result<Vec<((String, String), Books)>> {
    let (offers, reps): (Vec<&str>, Vec<&str>) = items.iter().copied().unzip();
    #[derive(sqlx::FromRow)]
    struct Row {
        offer_id: String,
        representation_id: String,
        #[sqlx(flatten)]
        books: Books,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "select i.offer_id, i.representation_id, p.id as pool_id, p.total_stock, p.held, p.sold, p.imported_sold, p.seated,
                exists (select 1 from inventory o where o.pool_id = p.id
                        and (o.offer_id, o.representation_id) <> (i.offer_id, i.representation_id)) as shared
         from inventory i
         join pools p on p.id = i.pool_id
         join unnest($1::text[], $2::text[]) as k (offer_id, representation_id)
           on (k.offer_id, k.representation_id) = (i.offer_id, i.representation_id)
         order by p.id
         for no key update of p",
    )
    .bind(&offers)
    .bind(&reps)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| ((r.offer_id, r.representation_id), r.books)).collect())
}

/// Writes the general-admission stock of an item as a catalog import describes it: `total_stock`
/// units of which `available` are not sold elsewhere, in the item's pool (a new pool of its own
/// for a new item). New stock: every unit not available was sold elsewhere. Existing stock: the
/// units sold elsewhere replace the last import's, and what boxoffice holds and sold stays (the
/// table's checks refuse a total too small for it). Seated stock is left alone: its seats are its
/// books.
pub async fn import_stock(
    conn: &mut PgConnection,
    (offer_id, representation_id): (&str, &str),
    event_id: &str,
    total_stock: i32,
    available: i32,
) -> sqlx::Result<super::Upserted> {
    let sold_elsewhere = total_stock - available;
    let Some(pool_id) = super::pools::of_item(conn, offer_id, representation_id).await? else {
        let pool_id = insert_own_pool(conn, offer_id, representation_id, event_id, total_stock, false).await?;
        super::pools::adjust(conn, &[(pool_id.clone(), -sold_elsewhere, 0, sold_elsewhere)]).await?;
        sqlx::query("update pools set imported_sold = $2 where id = $1")
            .bind(&pool_id)
            .bind(sold_elsewhere)
            .execute(&mut *conn)
            .await?;
        insert(conn, offer_id, representation_id, event_id, &pool_id).await?;
        return Ok(super::Upserted::Inserted);
    };
    let changed: Option<String> = sqlx::query_scalar(
        "update pools p set
             (total_stock, sold, available, imported_sold, updated_at)
           = ($2, p.sold - p.imported_sold + $3, $2 - p.held - (p.sold - p.imported_sold + $3), $3, now())
         where p.id = $1 and not p.seated and (p.total_stock, p.imported_sold) is distinct from ($2, $3)
         returning p.id",
    )
    .bind(&pool_id)
    .bind(total_stock)
    .bind(sold_elsewhere)
    .fetch_optional(conn)
    .await?;
    Ok(if changed.is_some() { super::Upserted::Updated } else { super::Upserted::Unchanged })
}
