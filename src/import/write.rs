//! Writing a checked catalog. Every upsert leaves an identical row alone and says what it did.

use sqlx::PgConnection;
use sqlx::postgres::PgDatabaseError;

use super::check::Plan;
use super::rows::{CatalogFile, Line};
use super::rows::{EventRow, InventoryRow, OfferRow, PoolRow, RepresentationRow, Source, UserRow};
use super::{Counts, ImportError, ImportSummary, RowError};
use crate::db::{self, Upserted};

/// Writes the plan, parents before children, through the same `db` functions as the API's. A row
/// the database refuses fails the whole import, reported with the row's file and line.
pub(crate) async fn write(conn: &mut PgConnection, plan: &Plan) -> Result<ImportSummary, ImportError> {
    let mut summary = ImportSummary::default();
    for Line { line, row } in &plan.events {
        let done = db::events::upsert(conn, &row.id, &row.event).await;
        count(&mut summary.events, done.map_err(refused::<EventRow>(*line))?);
    }
    for Line { line, row } in &plan.representations {
        let done = db::representations::upsert(conn, &row.id, &row.event_id, &row.representation).await;
        count(&mut summary.representations, done.map_err(refused::<RepresentationRow>(*line))?);
    }
    for Line { line, row } in &plan.offers {
        let done = db::offers::upsert(conn, &row.id, &row.event_id, &row.kind, &row.offer).await;
        count(&mut summary.offers, done.map_err(refused::<OfferRow>(*line))?);
    }
    for Line { line, row } in &plan.pools {
        let p = &row.pool;
        let done = db::pools::import(conn, &p.id, &p.representation_id, &row.event_id, &p.name, p.total_stock).await;
        count(&mut summary.pools, done.map_err(refused::<PoolRow>(*line))?);
    }
    for Line { line, row } in &plan.inventory {
        let s = &row.stock;
        let item = (s.offer_id.as_str(), s.representation_id.as_str());
        let done = match &s.source {
            Source::Own { total_stock, available } => {
                db::inventory::import_stock(conn, item, &row.event_id, *total_stock, *available).await
            }
            Source::Pool(pool_id) => match attach(conn, item, &row.event_id, pool_id).await {
                Ok(Ok(done)) => Ok(done),
                Ok(Err(reason)) => {
                    return Err(ImportError::Rows(vec![RowError { file: InventoryRow::FILE, line: *line, reason }]));
                }
                Err(e) => Err(e),
            },
        };
        count(&mut summary.inventory, done.map_err(refused::<InventoryRow>(*line))?);
    }
    for Line { line, row } in &plan.users {
        let done = db::users::upsert(conn, &row.id, &row.user).await;
        count(&mut summary.users, done.map_err(refused::<UserRow>(*line))?);
    }
    Ok(summary)
}

/// Makes the item draw from the pool, as the API's attach does: a new item, or one that moves
/// only when nothing of it is held, sold or being decided (else the reason, for its row).
async fn attach(
    conn: &mut PgConnection,
    (offer_id, representation_id): (&str, &str),
    event_id: &str,
    pool_id: &str,
) -> sqlx::Result<Result<Upserted, String>> {
    let Some(current) = db::pools::of_item(conn, offer_id, representation_id).await? else {
        db::inventory::insert(conn, offer_id, representation_id, event_id, pool_id).await?;
        return Ok(Ok(Upserted::Inserted));
    };
    if current == pool_id {
        return Ok(Ok(Upserted::Unchanged));
    }
    db::inventory::lock_for_move(conn, offer_id, representation_id).await?;
    if db::reservations::item_committed(conn, offer_id, representation_id).await? {
        return Ok(Err(format!(
            "{offer_id} for {representation_id} has tickets held, sold or being decided in pool {current}: it stays \
             in that pool"
        )));
    }
    if db::pools::find(conn, &current).await?.is_some_and(|p| p.seated) {
        return Ok(Err(format!(
            "{offer_id} for {representation_id} sells the seats of pool {current}: it stays in it"
        )));
    }
    db::inventory::move_to(conn, offer_id, representation_id, pool_id).await?;
    db::pools::retire_if_unused(conn, &current).await?;
    Ok(Ok(Upserted::Updated))
}

fn count(counts: &mut Counts, done: Upserted) {
    match done {
        Upserted::Inserted => counts.inserted += 1,
        Upserted::Updated => counts.updated += 1,
        Upserted::Unchanged => counts.unchanged += 1,
    }
}

/// Maps an error the row caused (SQLSTATE classes 22, data exception, and 23, integrity
/// constraint violation) to a row error; any other error is the database's own.
fn refused<R: CatalogFile>(line: u64) -> impl FnOnce(sqlx::Error) -> ImportError {
    move |error| {
        let Some(db) = error.as_database_error() else {
            return ImportError::Database(error);
        };
        let code = db.code().unwrap_or_default();
        if !(code.starts_with("22") || code.starts_with("23")) {
            return ImportError::Database(error);
        }
        let detail = db.try_downcast_ref::<PgDatabaseError>().and_then(|e| e.detail());
        let reason = match detail {
            Some(detail) => format!("refused by the database: {} ({detail})", db.message()),
            None => format!("refused by the database: {}", db.message()),
        };
        ImportError::Rows(vec![RowError { file: R::FILE, line, reason }])
    }
}
