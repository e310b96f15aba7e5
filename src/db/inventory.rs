use crate::domain::records::Inventory;
use sqlx::PgConnection;

/// Sets the total of a general-admission item, creating it if needed. What is held and sold stays;
/// the available count absorbs the change, and the table's checks refuse a total below held + sold.
/// Returns `None` when the item is seated (its total is its seats).
pub async fn set_total(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    event_id: &str,
    total: i32,
) -> sqlx::Result<Option<Inventory>> {
    sqlx::query_as(
        "insert into inventory (offer_id, representation_id, event_id, total_stock, available)
         values ($1, $2, $3, $4, $4)
         on conflict (offer_id, representation_id) do update
             set total_stock = excluded.total_stock,
                 available = excluded.total_stock - inventory.held - inventory.sold,
                 updated_at = now()
             where not inventory.seated
         returning *",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(event_id)
    .bind(total)
    .fetch_optional(conn)
    .await
}

/// Makes the item seated (creating it empty if needed) and locks it for the seats being added.
/// Returns `None` when it already holds general-admission stock.
pub async fn lock_seated(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    event_id: &str,
) -> sqlx::Result<Option<Inventory>> {
    sqlx::query_as(
        "insert into inventory (offer_id, representation_id, event_id, total_stock, available, seated)
         values ($1, $2, $3, 0, 0, true)
         on conflict (offer_id, representation_id) do update
             set seated = true, updated_at = now()
             where inventory.seated or inventory.total_stock = 0
         returning *",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(event_id)
    .fetch_optional(conn)
    .await
}

/// New seats are new available stock.
pub async fn add_seated_stock(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    added: i32,
) -> sqlx::Result<Inventory> {
    sqlx::query_as(
        "update inventory
         set total_stock = total_stock + $3, available = available + $3, updated_at = now()
         where offer_id = $1 and representation_id = $2
         returning *",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(added)
    .fetch_one(conn)
    .await
}

/// Locks the item for a transaction that moves its books: every writer takes this lock first, so
/// writers of one item never deadlock and decide in turn. `no key update`, not `update`: the
/// reservations being inserted meanwhile check their foreign key with a key-share lock on this
/// row, which `for update` would make wait for the whole allocation.
pub async fn lock(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> sqlx::Result<Option<Inventory>> {
    sqlx::query_as("select * from inventory where offer_id = $1 and representation_id = $2 for no key update")
        .bind(offer_id)
        .bind(representation_id)
        .fetch_optional(conn)
        .await
}

/// Like [`lock`], but gives up at once when another transaction has it (sweeps move on).
pub async fn try_lock(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
) -> sqlx::Result<Option<Inventory>> {
    sqlx::query_as(
        "select * from inventory where offer_id = $1 and representation_id = $2 for no key update skip locked",
    )
    .bind(offer_id)
    .bind(representation_id)
    .fetch_optional(conn)
    .await
}

/// Moves `quantity` units of a hold to the books' `sold` (confirm) or `available` (release).
pub async fn end_hold(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    quantity: i32,
    sold: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "update inventory
         set held = held - $3,
             sold = sold + case when $4 then $3 else 0 end,
             available = available + case when $4 then 0 else $3 end,
             updated_at = now()
         where offer_id = $1 and representation_id = $2",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(quantity)
    .bind(sold)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> sqlx::Result<Option<Inventory>> {
    sqlx::query_as("select * from inventory where offer_id = $1 and representation_id = $2")
        .bind(offer_id)
        .bind(representation_id)
        .fetch_optional(conn)
        .await
}

/// Moves `units` from available to held (a hold was granted).
pub async fn hold_units(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    units: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "update inventory set available = available - $3, held = held + $3, updated_at = now()
         where offer_id = $1 and representation_id = $2",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(units)
    .execute(conn)
    .await?;
    Ok(())
}

/// What a writer holding the item's lock needs to hand out its stock: the books, and whether its
/// sale is open, judged on the clock read now (after the lock), not when the transaction began.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemState {
    pub available: i32,
    pub seated: bool,
    /// The event's sales are open.
    pub sales_open: bool,
    /// The performance has ended.
    pub over: bool,
    /// How long a waiting-list offer holds, in minutes.
    pub waitlist_offer_minutes: i32,
    /// People who ever joined the item's waiting list: the next one gets line number + 1.
    pub line_joined: i32,
    /// People on the list now (waiting or offered).
    pub line_length: i32,
}

impl ItemState {
    /// Why nothing of this item may be granted now, if so.
    pub fn closed(&self) -> Option<crate::domain::RejectionReason> {
        use crate::domain::RejectionReason;
        if !self.sales_open {
            Some(RejectionReason::SalesClosed)
        } else if self.over {
            Some(RejectionReason::RepresentationOver)
        } else {
            None
        }
    }
}

pub async fn state(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
) -> sqlx::Result<Option<ItemState>> {
    sqlx::query_as(
        "select i.available, i.seated, e.sales_open, rp.ends_at <= clock_timestamp() as over, e.waitlist_offer_minutes,
                i.line_joined, i.line_length
         from inventory i
         join events e on e.id = i.event_id
         join representations rp on rp.id = i.representation_id
         where i.offer_id = $1 and i.representation_id = $2",
    )
    .bind(offer_id)
    .bind(representation_id)
    .fetch_optional(conn)
    .await
}

/// The books of an existing general-admission or seated item, as an import compares them.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Books {
    pub total_stock: i32,
    pub held: i32,
    pub sold: i32,
    /// Of `sold`, the units the last import said were sold elsewhere.
    pub imported_sold: i32,
    pub seated: bool,
}

/// The books of the items `(offer, representation)` of `items` that exist, locked until the
/// transaction ends (what is checked is what is overwritten).
pub async fn books_for_update(
    conn: &mut PgConnection,
    items: &[(&str, &str)],
) -> sqlx::Result<Vec<((String, String), Books)>> {
    let (offers, reps): (Vec<&str>, Vec<&str>) = items.iter().copied().unzip();
    let rows: Vec<(String, String, i32, i32, i32, i32, bool)> = sqlx::query_as(
        "select i.offer_id, i.representation_id, i.total_stock, i.held, i.sold, i.imported_sold, i.seated
         from inventory i
         join unnest($1::text[], $2::text[]) as k (offer_id, representation_id)
           on (k.offer_id, k.representation_id) = (i.offer_id, i.representation_id)
         for update of i",
    )
    .bind(&offers)
    .bind(&reps)
    .fetch_all(conn)
    .await?;
    Ok((rows.into_iter())
        .map(|(offer, rep, total_stock, held, sold, imported_sold, seated)| {
            ((offer, rep), Books { total_stock, held, sold, imported_sold, seated })
        })
        .collect())
}

/// Writes the general-admission stock of an item as a catalog import describes it: `total_stock`
/// units of which `available` are not sold elsewhere. New stock: every unit not available was
/// sold elsewhere. Existing stock: the units sold elsewhere replace the last import's, and what
/// boxoffice holds and sold stays (the table's checks refuse a total too small for it). Seated
/// stock is left alone: its seats are its books.
pub async fn import_stock(
    conn: &mut PgConnection,
    (offer_id, representation_id): (&str, &str),
    event_id: &str,
    total_stock: i32,
    available: i32,
) -> sqlx::Result<super::Upserted> {
    let fresh = sqlx::query_scalar(
        "insert into inventory as i (offer_id, representation_id, event_id, total_stock,
             available, held, sold, imported_sold)
         values ($1, $2, $3, $4, $5, 0, $6, $6)
         on conflict (offer_id, representation_id) do update set
             (total_stock, sold, available, imported_sold, updated_at)
           = (excluded.total_stock, i.sold - i.imported_sold + excluded.imported_sold,
              excluded.total_stock - i.held - (i.sold - i.imported_sold + excluded.imported_sold),
              excluded.imported_sold, now())
         where not i.seated
           and (i.total_stock, i.imported_sold) is distinct from
               (excluded.total_stock, excluded.imported_sold)
         returning (xmax = 0)",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(event_id)
    .bind(total_stock)
    .bind(available)
    .bind(total_stock - available)
    .fetch_optional(conn)
    .await?;
    Ok(super::Upserted::from_xmax(fresh))
}

/// Puts `units` sold back on sale (a cancellation or a voided ticket). The caller holds the item's
/// lock; the books' checks refuse more than was sold.
pub async fn unsell(conn: &mut PgConnection, offer_id: &str, representation_id: &str, units: i32) -> sqlx::Result<()> {
    sqlx::query(
        "update inventory set sold = sold - $3, available = available + $3, updated_at = now()
         where offer_id = $1 and representation_id = $2",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(units)
    .execute(conn)
    .await?;
    Ok(())
}
