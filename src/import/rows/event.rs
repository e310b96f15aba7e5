use serde::Deserialize;

use crate::import::fields::Fields;
use crate::import::read::CatalogFile;
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
        let id = f.required("id", &row.id);
        let organization_id = f.required("organization_id", &row.organization_id);
        let title = f.required("title", &row.title);
        let venue_name = f.required("venue_name", &row.venue_name);
        let timezone = f.take(values::timezone(&row.timezone));
        let location = f.location(
            ("venue_latitude", row.venue_latitude.as_deref()),
            ("venue_longitude", row.venue_longitude.as_deref()),
        );
        f.finish(|| Event {
            id,
            organization_id,
            title,
            description: row.description.clone().unwrap_or_default(),
            thumbnail_url: row.thumbnail_url.clone(),
            venue_name,
            venue_address: row.venue_address.clone().unwrap_or_default(),
            location,
            timezone: timezone.unwrap_or_default(),
        })
    }
}
