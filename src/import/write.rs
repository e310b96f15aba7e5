//! The upserts of the import. Every upsert leaves an identical row alone and says what it did with
//! `returning (xmax = 0)`: true for an insert, false for an update, no row when unchanged.

use sqlx::PgConnection;
use sqlx::postgres::PgDatabaseError;

use super::check::Plan;
use super::rows::{CatalogFile, Line};
use super::rows::{EventRow, InventoryRow, OfferRow, RepresentationRow, UserRow};
use super::{Counts, ImportError, ImportSummary, RowError};

/// Writes the plan, parents before children. A row the database refuses fails the whole
/// import, reported with the row's file and line.
pub(crate) async fn write(conn: &mut PgConnection, plan: &Plan) -> Result<ImportSummary, ImportError> {
    let mut summary = ImportSummary::default();
    for Line { line, row: e } in &plan.events {
        let outcome = sqlx::query_scalar(
            "insert into events as e (id, organization_id, title, description, thumbnail_url,
                 venue_name, venue_address, venue_latitude, venue_longitude, timezone)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             on conflict (id) do update set
                 (organization_id, title, description, thumbnail_url, venue_name, venue_address,
                  venue_latitude, venue_longitude, timezone, updated_at)
               = (excluded.organization_id, excluded.title, excluded.description,
                  excluded.thumbnail_url, excluded.venue_name, excluded.venue_address,
                  excluded.venue_latitude, excluded.venue_longitude, excluded.timezone, now())
             where (e.organization_id, e.title, e.description, e.thumbnail_url, e.venue_name,
                    e.venue_address, e.venue_latitude, e.venue_longitude, e.timezone)
                   is distinct from
                   (excluded.organization_id, excluded.title, excluded.description,
                    excluded.thumbnail_url, excluded.venue_name, excluded.venue_address,
                    excluded.venue_latitude, excluded.venue_longitude, excluded.timezone)
             returning (xmax = 0)",
        )
        .bind(&e.id)
        .bind(&e.organization_id)
        .bind(&e.title)
        .bind(&e.description)
        .bind(&e.thumbnail_url)
        .bind(&e.venue_name)
        .bind(&e.venue_address)
        .bind(e.location.map(|(lat, _)| lat))
        .bind(e.location.map(|(_, lon)| lon))
        .bind(&e.timezone)
        .fetch_optional(&mut *conn)
        .await
        .map_err(refused::<EventRow>(*line))?;
        count(&mut summary.events, outcome);
    }

    for Line { line, row: r } in &plan.representations {
        // the event is not updated: `check` refuses moves
        let outcome = sqlx::query_scalar(
            "insert into representations as r (id, event_id, starts_at, ends_at)
             values ($1, $2, $3, $4)
             on conflict (id) do update set (starts_at, ends_at) = (excluded.starts_at, excluded.ends_at)
             where (r.starts_at, r.ends_at) is distinct from (excluded.starts_at, excluded.ends_at)
             returning (xmax = 0)",
        )
        .bind(&r.id)
        .bind(&r.event_id)
        .bind(r.starts_at)
        .bind(r.ends_at)
        .fetch_optional(&mut *conn)
        .await
        .map_err(refused::<RepresentationRow>(*line))?;
        count(&mut summary.representations, outcome);
    }

    for Line { line, row: o } in &plan.offers {
        let outcome = sqlx::query_scalar(
            "insert into offers as o (id, event_id, name, description, kind, price_minor,
                 currency, max_quantity_per_order)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict (id) do update set
                 (name, description, kind, price_minor, currency, max_quantity_per_order)
               = (excluded.name, excluded.description, excluded.kind, excluded.price_minor,
                  excluded.currency, excluded.max_quantity_per_order)
             where (o.name, o.description, o.kind, o.price_minor, o.currency,
                    o.max_quantity_per_order)
                   is distinct from
                   (excluded.name, excluded.description, excluded.kind, excluded.price_minor,
                    excluded.currency, excluded.max_quantity_per_order)
             returning (xmax = 0)",
        )
        .bind(&o.id)
        .bind(&o.event_id)
        .bind(&o.name)
        .bind(&o.description)
        .bind(&o.kind)
        .bind(o.price_minor)
        .bind(&o.currency)
        .bind(o.max_quantity_per_order)
        .fetch_optional(&mut *conn)
        .await
        .map_err(refused::<OfferRow>(*line))?;
        count(&mut summary.offers, outcome);
    }

    for Line { line, row: i } in &plan.inventory {
        let s = &i.stock;
        // New stock: every unit not available was sold elsewhere. Existing stock: the units
        // sold elsewhere replace the last import's, and what boxoffice holds and sold stays (see
        // `check`, which refused a total too small for it; the table's checks refuse it again).
        let outcome = sqlx::query_scalar(
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
        .bind(&s.offer_id)
        .bind(&s.representation_id)
        .bind(&i.event_id)
        .bind(s.total_stock)
        .bind(s.available)
        .bind(s.total_stock - s.available)
        .fetch_optional(&mut *conn)
        .await
        .map_err(refused::<InventoryRow>(*line))?;
        count(&mut summary.inventory, outcome);
    }

    for Line { line, row: u } in &plan.users {
        let outcome = sqlx::query_scalar(
            "insert into users as u (id, email, first_name, last_name)
             values ($1, $2, $3, $4)
             on conflict (id) do update set
                 (email, first_name, last_name)
               = (excluded.email, excluded.first_name, excluded.last_name)
             where (u.email, u.first_name, u.last_name)
                   is distinct from (excluded.email, excluded.first_name, excluded.last_name)
             returning (xmax = 0)",
        )
        .bind(&u.id)
        .bind(&u.email)
        .bind(&u.first_name)
        .bind(&u.last_name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(refused::<UserRow>(*line))?;
        count(&mut summary.users, outcome);
    }
    Ok(summary)
}

fn count(counts: &mut Counts, outcome: Option<bool>) {
    match outcome {
        Some(true) => counts.inserted += 1,
        Some(false) => counts.updated += 1,
        None => counts.unchanged += 1,
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
