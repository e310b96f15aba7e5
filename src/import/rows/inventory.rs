use serde::Deserialize;

use super::CatalogFile;
use crate::import::fields::Fields;

/// A row of `inventory.csv`: the stock of an offer for a representation.
#[derive(Debug, Deserialize)]
pub(crate) struct InventoryRow {
    /// The legacy system's id: only used in messages.
    pub inventory_id: Option<String>,
    pub offer_id: String,
    pub representation_id: String,
    pub total_stock: String,
    pub available_stock: String,
    /// A pool of `pools.csv` (or the database) to draw from; then the stock columns are empty.
    pub pool_id: Option<String>,
}

impl CatalogFile for InventoryRow {
    const FILE: &str = "inventory.csv";
    const REQUIRED: &[&str] = &["offer_id", "representation_id", "total_stock", "available_stock"];

    fn key(&self) -> String {
        format!("{} for {}", self.offer_id, self.representation_id)
    }
}

/// Stock ready to be written, once its event is known (see `check`).
#[derive(Debug)]
pub(crate) struct Stock {
    pub offer_id: String,
    pub representation_id: String,
    pub source: Source,
}

/// Where an item's stock comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    /// A total of its own (a pool of its own), `available` of it not sold elsewhere.
    Own { total_stock: i32, available: i32 },
    /// A pool shared with other items.
    Pool(String),
}

impl TryFrom<&InventoryRow> for Stock {
    type Error = Vec<String>;

    fn try_from(row: &InventoryRow) -> Result<Self, Self::Error> {
        let mut f = Fields::default();
        let offer_id = f.required("offer_id", &row.offer_id);
        let representation_id = f.required("representation_id", &row.representation_id);
        if let Some(pool_id) = row.pool_id.as_deref().filter(|p| !p.is_empty()) {
            if !row.total_stock.is_empty() || !row.available_stock.is_empty() {
                f.fail("give total_stock and available_stock, or pool_id with them empty, not both");
            }
            let source = Source::Pool(pool_id.to_owned());
            return f.finish(|| Stock { offer_id, representation_id, source });
        }
        // what the API accepts for a total
        let total = f.integer("total_stock", &row.total_stock, 1..=crate::domain::StockTotal::MAX);
        let available = f.integer("available_stock", &row.available_stock, 0..=i32::MAX);
        if let (Some(total), Some(available)) = (total, available)
            && available > total
        {
            f.fail(format!("available_stock {available} is more than total_stock {total}"));
        }
        let source = Source::Own { total_stock: total.unwrap_or_default(), available: available.unwrap_or_default() };
        f.finish(|| Stock { offer_id, representation_id, source })
    }
}
