use serde::Deserialize;

use super::CatalogFile;
use crate::domain::NewRepresentation;
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

/// A representation ready to be written: the value the API would build for the same fields.
#[derive(Debug)]
pub(crate) struct Representation {
    pub id: String,
    pub event_id: String,
    pub representation: NewRepresentation,
}

impl TryFrom<&RepresentationRow> for Representation {
    type Error = Vec<String>;

    fn try_from(row: &RepresentationRow) -> Result<Self, Self::Error> {
        let mut f = Fields::default();
        let id = f.id("id", &row.id);
        let event_id = f.required("event_id", &row.event_id);
        let starts_at = f.datetime("start_datetime", &row.start_datetime);
        let ends_at = f.datetime("end_datetime", &row.end_datetime);
        let representation = match (starts_at, ends_at) {
            // the file's own words for the API's rule
            (Some(start), Some(end)) if end <= start => {
                f.fail(format!("end_datetime {} is not after start_datetime {}", row.end_datetime, row.start_datetime));
                None
            }
            (Some(starts_at), Some(ends_at)) => f.domain(NewRepresentation { starts_at, ends_at }.validated()),
            _ => None,
        };
        f.finish(|| Representation {
            id,
            event_id,
            representation: representation.expect("a row without problems has its representation"),
        })
    }
}
