//! Checks of `inventory.csv`: the offer and the representation must exist and share an event,
//! and stock that is being sold is not rewritten.

use super::{Known, each, merge, unknown};
use crate::import::Problems;
use crate::import::existing::Books;
use crate::import::rows::{CatalogFile, Line};
use crate::import::rows::{InventoryRow, OfferRow, PoolRow, RepresentationRow, Source, Stock};

/// Stock with the event its offer and representation share, ready to be written.
#[derive(Debug)]
pub(crate) struct Inventory {
    pub stock: Stock,
    pub event_id: String,
}

pub(super) fn check(rows: &[Line<InventoryRow>], known: &Known, problems: &mut Problems) -> Vec<Line<Inventory>> {
    each(rows, problems, |_, row| {
        let (offer, rep) = (row.offer_id.as_str(), row.representation_id.as_str());
        let offer_event = known.offer_event(offer);
        let rep_event = known.representation_event(rep);
        let mut reasons = Vec::new();
        if offer_event.is_none() && !offer.is_empty() && known.complete(OfferRow::FILE) {
            reasons.push(unknown("offer_id", offer, OfferRow::FILE));
        }
        if rep_event.is_none() && !rep.is_empty() && known.complete(RepresentationRow::FILE) {
            reasons.push(unknown("representation_id", rep, RepresentationRow::FILE));
        }
        if let (Some(o), Some(r)) = (offer_event, rep_event)
            && o != r
        {
            reasons.push(format!("offer {offer} is for event {o} but representation {rep} is for event {r}"));
        }
        if let Some(pool) = row.pool_id.as_deref().filter(|p| !p.is_empty()) {
            match known.pool_representation(pool) {
                Some(of) if of != rep && !rep.is_empty() => {
                    reasons.push(format!("pool {pool} is of representation {of}, not {rep}"))
                }
                None if known.complete(PoolRow::FILE) => reasons.push(unknown("pool_id", pool, PoolRow::FILE)),
                _ => {}
            }
        }
        let stock = merge(Stock::try_from(row), reasons)?;

        let key = (offer.to_owned(), rep.to_owned());
        if let Some(books) = known.existing.inventory.get(&key) {
            let what = match &row.inventory_id {
                Some(id) => format!("stock {id} ({offer} for {rep})"),
                None => format!("stock of {offer} for {rep}"),
            };
            if let Source::Own { total_stock, available } = &stock.source {
                refuse_rewrite(&what, books, *total_stock, *available)?;
            }
        }
        let event_id = offer_event.unwrap_or_default().to_owned();
        Ok(Inventory { stock, event_id })
    })
}

/// A re-import moves the books by what changed in the file only: the new total, and the units
/// sold elsewhere (`total_stock - available_stock`) instead of the last import's. What was held
/// and sold through boxoffice stays as it is; a total that leaves no room for it is refused, and
/// seated stock follows its seats, not the file.
fn refuse_rewrite(what: &str, books: &Books, total_stock: i32, available: i32) -> Result<(), Vec<String>> {
    let imported_sold = total_stock - available;
    if books.total_stock == total_stock && books.imported_sold == imported_sold {
        return Ok(());
    }
    if books.seated {
        return Err(vec![format!("{what} is seated: its stock follows its seats, not the import")]);
    }
    if books.shared {
        return Err(vec![format!(
            "{what} draws from pool {}, shared with other offers: set the pool's total in pools.csv, or give its \
             pool_id",
            books.pool_id
        )]);
    }
    let ours = books.sold - books.imported_sold;
    let committed = books.held + ours + imported_sold;
    if committed > total_stock {
        return Err(vec![format!(
            "{what}: total_stock {} leaves no room for {} units held and {} sold through boxoffice \
             besides the {imported_sold} sold elsewhere; at least {committed} are needed",
            total_stock, books.held, ours
        )]);
    }
    Ok(())
}
