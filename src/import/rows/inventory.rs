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
    pub total_stock: i32,
    pub available: i32,
}

impl TryFrom<&InventoryRow> for Stock {
    type Error = Vec<String>;

    fn try_from(row: &InventoryRow) -> Result<Self, Self::Error> {
        let mut f = Fields::default();
        let offer_id = f.required("offer_id", &row.offer_id);
        let representation_id = f.required("representation_id", &row.representation_id);
        // what the API accepts for a total
        let total = f.integer("total_stock", &row.total_stock, 1..=crate::domain::StockTotal::MAX);
        let available = f.integer("available_stock", &row.available_stock, 0..=i32::MAX);
        if let (Some(total), Some(available)) = (total, available)
            && available > total
        {
            f.fail(format!("available_stock {available} is more than total_stock {total}"));
        }
        f.finish(|| Stock {
            offer_id,
            representation_id,
            total_stock: total.unwrap_or_default(),
            available: available.unwrap_or_default(),
        })
    }
}
