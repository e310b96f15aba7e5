//! What the database already holds of the catalog being imported.

use std::collections::{HashMap, HashSet};

use sqlx::PgConnection;

use super::read::Catalog;

/// What the database holds of what the catalog defines or refers to.
#[derive(Debug, Default)]
pub(crate) struct Existing {
    /// Ids of events.
    pub events: HashSet<String>,
    /// Representation id -> its event id.
    pub representations: HashMap<String, String>,
    /// Offer id -> its event id.
    pub offers: HashMap<String, String>,
    /// (offer id, representation id) -> its stock.
    pub inventory: HashMap<(String, String), Books>,
    /// The time zones of events.csv that PostgreSQL knows (the API asks it too).
    pub timezones: HashSet<String>,
}

/// The stock of an existing inventory row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Books {
    pub total_stock: i32,
    pub held: i32,
    pub sold: i32,
    /// Of `sold`, the units the last import said were sold elsewhere.
    pub imported_sold: i32,
    pub seated: bool,
}

/// What the database holds of what `catalog` defines or refers to. The inventory rows are
/// locked until the transaction ends, so that the holds checked are the holds overwritten.
pub(crate) async fn load_existing(conn: &mut PgConnection, catalog: &Catalog) -> Result<Existing, sqlx::Error> {
    let reps = catalog.representations.iter().map(|l| &l.row);
    let offers = catalog.offers.iter().map(|l| &l.row);
    let stock = catalog.inventory.iter().map(|l| &l.row);

    let event_ids: Vec<&str> =
        (reps.clone().map(|r| r.event_id.as_str())).chain(offers.clone().map(|o| o.event_id.as_str())).collect();
    let rep_ids: Vec<&str> =
        (reps.map(|r| r.id.as_str())).chain(stock.clone().map(|s| s.representation_id.as_str())).collect();
    let offer_ids: Vec<&str> =
        (offers.map(|o| o.offer_id.as_str())).chain(stock.clone().map(|s| s.offer_id.as_str())).collect();
    let (stock_offers, stock_reps): (Vec<&str>, Vec<&str>) =
        stock.map(|s| (s.offer_id.as_str(), s.representation_id.as_str())).unzip();

    let events: Vec<String> =
        sqlx::query_scalar("select id from events where id = any($1)").bind(&event_ids).fetch_all(&mut *conn).await?;
    let representations: Vec<(String, String)> =
        sqlx::query_as("select id, event_id from representations where id = any($1)")
            .bind(&rep_ids)
            .fetch_all(&mut *conn)
            .await?;
    let offers: Vec<(String, String)> = sqlx::query_as("select id, event_id from offers where id = any($1)")
        .bind(&offer_ids)
        .fetch_all(&mut *conn)
        .await?;
    let inventory: Vec<(String, String, i32, i32, i32, i32, bool)> = sqlx::query_as(
        "select i.offer_id, i.representation_id, i.total_stock, i.held, i.sold, i.imported_sold, i.seated
         from inventory i
         join unnest($1::text[], $2::text[]) as k (offer_id, representation_id)
           on (k.offer_id, k.representation_id) = (i.offer_id, i.representation_id)
         for update of i",
    )
    .bind(&stock_offers)
    .bind(&stock_reps)
    .fetch_all(&mut *conn)
    .await?;

    let zones: Vec<&str> = catalog.events.iter().map(|l| l.row.timezone.as_str()).collect();
    let timezones: Vec<String> = sqlx::query_scalar("select name from pg_timezone_names where name = any($1)")
        .bind(&zones)
        .fetch_all(&mut *conn)
        .await?;

    Ok(Existing {
        timezones: timezones.into_iter().collect(),
        events: events.into_iter().collect(),
        representations: representations.into_iter().collect(),
        offers: offers.into_iter().collect(),
        inventory: (inventory.into_iter())
            .map(|(offer, rep, total_stock, held, sold, imported_sold, seated)| {
                let books = Books { total_stock, held, sold, imported_sold, seated };
                ((offer, rep), books)
            })
            .collect(),
    })
}
