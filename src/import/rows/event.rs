use serde::Deserialize;

use super::CatalogFile;
use crate::domain::{DEFAULT_HOLD_MINUTES, DEFAULT_WAITLIST_OFFER_MINUTES, NewEvent};
use crate::import::fields::Fields;
use crate::import::values;

/// A row of `events.csv`.
#[derive(Debug, Deserialize)]
pub(crate) struct EventRow {
    pub id: String,
    pub organization_id: String,
    pub title: String,
    pub description: Option<String>,
    pub thumbnail_url: Option<String>,
    pub venue_name: String,
    pub venue_address: Option<String>,
    pub timezone: String,
    pub venue_latitude: Option<String>,
    pub venue_longitude: Option<String>,
}

impl CatalogFile for EventRow {
    const FILE: &str = "events.csv";
    const REQUIRED: &[&str] = &["id", "organization_id", "title", "venue_name", "timezone"];

    fn key(&self) -> String {
        self.id.clone()
    }
}

/// An event ready to be written.
#[derive(Debug)]
pub(crate) struct Event {
    pub id: String,
    pub organization_id: String,
    pub title: String,
    pub description: String,
    pub thumbnail_url: Option<String>,
    pub venue_name: String,
    pub venue_address: String,
    pub location: Option<(f64, f64)>,
    pub timezone: String,
}

impl TryFrom<&EventRow> for Event {
    type Error = Vec<String>;

    fn try_from(row: &EventRow) -> Result<Self, Self::Error> {
        let mut f = Fields::default();
        let id = f.id("id", &row.id);
        let organization_id = f.required("organization_id", &row.organization_id);
        let title = f.required("title", &row.title);
        let venue_name = f.required("venue_name", &row.venue_name);
        let timezone = f.take(values::timezone(&row.timezone));
        let location = f.location(
            ("venue_latitude", row.venue_latitude.as_deref()),
            ("venue_longitude", row.venue_longitude.as_deref()),
        );
        let timezone = timezone.unwrap_or_default();
        // the API's own rules on the event it would build (lengths, ranges...)
        let checked = f.is_clean().then(|| NewEvent {
            organization_id,
            title,
            description: row.description.clone().unwrap_or_default(),
            thumbnail_url: row.thumbnail_url.clone(),
            venue_name,
            venue_address: row.venue_address.clone().unwrap_or_default(),
            venue_latitude: location.map(|(lat, _)| lat),
            venue_longitude: location.map(|(_, lon)| lon),
            timezone,
            hold_minutes: DEFAULT_HOLD_MINUTES,
            waitlist_offer_minutes: DEFAULT_WAITLIST_OFFER_MINUTES,
            sales_open: true,
        });
        let event = checked.and_then(|e| f.domain(e.validated()));
        f.finish(|| {
            let e = event.expect("a row without problems has its event");
            Event {
                id,
                organization_id: e.organization_id,
                title: e.title,
                description: e.description,
                thumbnail_url: e.thumbnail_url,
                venue_name: e.venue_name,
                venue_address: e.venue_address,
                location,
                timezone: e.timezone,
            }
        })
    }
}
