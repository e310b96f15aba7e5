use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::CatalogFile;
use crate::import::fields::Fields;

/// A row of `representations.csv`: one performance of an event.
#[derive(Debug, Deserialize)]
pub(crate) struct RepresentationRow {
    pub id: String,
    pub event_id: String,
    pub start_datetime: String,
    pub end_datetime: String,
}

impl CatalogFile for RepresentationRow {
    const FILE: &str = "representations.csv";
    const REQUIRED: &[&str] = &["id", "event_id", "start_datetime", "end_datetime"];

    fn key(&self) -> String {
        self.id.clone()
    }
}

/// A representation ready to be written.
#[derive(Debug)]
pub(crate) struct Representation {
    pub id: String,
    pub event_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl TryFrom<&RepresentationRow> for Representation {
    type Error = Vec<String>;

    fn try_from(row: &RepresentationRow) -> Result<Self, Self::Error> {
        let mut f = Fields::default();
        let id = f.required("id", &row.id);
        let event_id = f.required("event_id", &row.event_id);
        let starts_at = f.datetime("start_datetime", &row.start_datetime);
        let ends_at = f.datetime("end_datetime", &row.end_datetime);
        if let (Some(start), Some(end)) = (starts_at, ends_at)
            && end <= start
        {
            f.fail(format!("end_datetime {} is not after start_datetime {}", row.end_datetime, row.start_datetime));
        }
        f.finish(|| Representation {
            id,
            event_id,
            starts_at: starts_at.unwrap_or_default(),
            ends_at: ends_at.unwrap_or_default(),
        })
    }
}
