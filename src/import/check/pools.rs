//! Checks of `pools.csv`: the representation must exist, a pool stays with its representation,
//! and a new total leaves room for what is held and sold.

use super::{Known, each, merge, unknown};
use crate::import::Problems;
use crate::import::rows::{CatalogFile, Line, Pool, PoolRow, RepresentationRow};

/// A pool with its representation's event, ready to be written.
#[derive(Debug)]
pub(crate) struct PoolPlan {
    pub pool: Pool,
    pub event_id: String,
}

pub(super) fn check(rows: &[Line<PoolRow>], known: &Known, problems: &mut Problems) -> Vec<Line<PoolPlan>> {
    each(rows, problems, |_, row| {
        let rep = row.representation_id.as_str();
        let rep_event = known.representation_event(rep);
        let mut reasons = Vec::new();
        if rep_event.is_none() && !rep.is_empty() && known.complete(RepresentationRow::FILE) {
            reasons.push(unknown("representation_id", rep, RepresentationRow::FILE));
        }
        let pool = merge(Pool::try_from(row), reasons)?;
        if let Some(books) = known.existing.pools.get(&pool.id) {
            if books.representation_id != pool.representation_id {
                return Err(vec![format!(
                    "pool {} belongs to representation {} in the database and cannot move to {}",
                    pool.id, books.representation_id, pool.representation_id
                )]);
            }
            let committed = books.held + books.sold;
            if !books.seated && books.total_stock != pool.total_stock && committed > pool.total_stock {
                return Err(vec![format!(
                    "pool {}: total_stock {} leaves no room for {} units held and {} sold; at least {committed} are \
                     needed",
                    pool.id, pool.total_stock, books.held, books.sold
                )]);
            }
        }
        let event_id = rep_event.unwrap_or_default().to_owned();
        Ok(PoolPlan { pool, event_id })
    })
}
