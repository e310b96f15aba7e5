//! Writing a checked catalog. Every upsert leaves an identical row alone and says what it did.

use sqlx::PgConnection;
use sqlx::postgres::PgDatabaseError;

use super::check::Plan;
use super::rows::{CatalogFile, Line};
use super::rows::{EventRow, InventoryRow, OfferRow, RepresentationRow, UserRow};
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
    for Line { line, row } in &plan.inventory {
        let s = &row.stock;
        let item = (s.offer_id.as_str(), s.representation_id.as_str());
        let done = db::inventory::import_stock(conn, item, &row.event_id, s.total_stock, s.available).await;
        count(&mut summary.inventory, done.map_err(refused::<InventoryRow>(*line))?);
    }
    for Line { line, row } in &plan.users {
        let done = db::users::upsert(conn, &row.id, &row.user).await;
        count(&mut summary.users, done.map_err(refused::<UserRow>(*line))?);
    }
    Ok(summary)
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
