use serde::Deserialize;

use super::CatalogFile;
use crate::domain::NewEvent;
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

/// An event ready to be written: the value the API would build for the same fields.
#[derive(Debug)]
pub(crate) struct Event {
    pub id: String,
    pub event: NewEvent,
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
        // the API's defaults and its own rules (lengths, ranges...)
        let checked = f.is_clean().then(|| NewEvent {
            organization_id,
            title,
            description: row.description.clone().unwrap_or_default(),
            thumbnail_url: row.thumbnail_url.clone(),
            venue_name,
            venue_address: row.venue_address.clone().unwrap_or_default(),
            venue_latitude: location.map(|(lat, _)| lat),
            venue_longitude: location.map(|(_, lon)| lon),
            timezone: timezone.unwrap_or_default(),
            ..NewEvent::default()
        });
        let event = checked.and_then(|e| f.domain(e.validated()));
        f.finish(|| Event { id, event: event.expect("a row without problems has its event") })
    }
}
