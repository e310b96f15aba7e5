use serde::Deserialize;

use super::CatalogFile;
use crate::import::fields::Fields;

/// A row of `pools.csv`: capacity of a representation that several offers sell.
#[derive(Debug, Deserialize)]
pub(crate) struct PoolRow {
    pub id: String,
    pub representation_id: String,
    pub name: String,
    pub total_stock: String,
}

impl CatalogFile for PoolRow {
    const FILE: &str = "pools.csv";
    const REQUIRED: &[&str] = &["id", "representation_id", "name", "total_stock"];

    fn key(&self) -> String {
        self.id.clone()
    }
}

/// A pool ready to be written, once its event is known (see `check`).
#[derive(Debug)]
pub(crate) struct Pool {
    pub id: String,
    pub representation_id: String,
    pub name: String,
    pub total_stock: i32,
}

impl TryFrom<&PoolRow> for Pool {
    type Error = Vec<String>;

    fn try_from(row: &PoolRow) -> Result<Self, Self::Error> {
        let mut f = Fields::default();
        let id = f.id("id", &row.id);
        let representation_id = f.required("representation_id", &row.representation_id);
        let name = f.required("name", &row.name);
        if name.chars().count() > 200 {
            f.fail("name is longer than 200 characters");
        }
        // what the API accepts for a total
        let total = f.integer("total_stock", &row.total_stock, 1..=crate::domain::StockTotal::MAX);
        f.finish(|| Pool { id, representation_id, name, total_stock: total.unwrap_or_default() })
    }
}
