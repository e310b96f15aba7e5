use serde::Deserialize;

use super::CatalogFile;
use crate::domain::{DEFAULT_CURRENCY, NewOffer};
use crate::import::fields::Fields;
use crate::import::values;

/// A row of `offers.csv`: a ticket type of an event.
#[derive(Debug, Deserialize)]
pub(crate) struct OfferRow {
    pub offer_id: String,
    pub event_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub max_quantity_per_order: String,
    pub description: Option<String>,
    pub price: Option<String>,
    pub currency: Option<String>,
}

impl CatalogFile for OfferRow {
    const FILE: &str = "offers.csv";
    const REQUIRED: &[&str] = &["offer_id", "event_id", "name", "max_quantity_per_order"];

    fn key(&self) -> String {
        self.offer_id.clone()
    }
}

/// An offer ready to be written: the value the API would build for the same fields, with the
/// offer's kind, which only imports set.
#[derive(Debug)]
pub(crate) struct Offer {
    pub id: String,
    pub event_id: String,
    pub kind: String,
    pub offer: NewOffer,
}

impl TryFrom<&OfferRow> for Offer {
    type Error = Vec<String>;

    fn try_from(row: &OfferRow) -> Result<Self, Self::Error> {
        let mut f = Fields::default();
        let id = f.id("offer_id", &row.offer_id);
        let event_id = f.required("event_id", &row.event_id);
        let name = f.required("name", &row.name);
        let max = f.integer("max_quantity_per_order", &row.max_quantity_per_order, 1..=100);
        let price_minor = row.price.as_deref().and_then(|p| f.take(values::price_minor(p)));
        let currency = row.currency.as_deref().and_then(|c| f.take(values::currency(c)));
        // the API's defaults and its own rules
        let checked = f.is_clean().then(|| NewOffer {
            name,
            description: row.description.clone().unwrap_or_default(),
            price_minor,
            // written explicitly, so that the CSV stays the whole truth
            currency: currency.unwrap_or_else(|| DEFAULT_CURRENCY.to_owned()),
            max_quantity_per_order: max.unwrap_or_default(),
        });
        let offer = checked.and_then(|o| f.domain(o.validated()));
        f.finish(|| Offer {
            id,
            event_id,
            kind: row.kind.clone().unwrap_or_else(|| "ticket".to_owned()),
            offer: offer.expect("a row without problems has its offer"),
        })
    }
}
