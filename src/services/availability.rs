//! What is left to sell for one representation.

use sqlx::PgPool;

use super::{Error, Result};
use crate::db::{
    self,
    availability::{OfferStock, SeatRow},
};
use crate::domain::records::SectionStock;

#[derive(Debug, Clone)]
pub struct Availability {
    pub representation_id: String,
    pub event_id: String,
    pub offers: Vec<OfferStock>,
    pub sections: Vec<SectionStock>,
    /// Listed only when asked for: a stadium's seats are megabytes.
    pub seats: Option<Vec<SeatRow>>,
    /// When the counts or seats last changed, by the database's clock.
    pub as_of: chrono::DateTime<chrono::Utc>,
}

/// Which seats to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatListing {
    None,
    All,
    /// One section's (normalized); 404 if the representation has no seat in it.
    Section(String),
}

/// Read in one snapshot (repeatable read) so the counts and the seats agree with each other.
pub async fn for_representation(pool: &PgPool, representation_id: &str, listing: SeatListing) -> Result<Availability> {
    let mut tx = db::snapshot(pool).await?;
    let rep = db::representations::find(&mut tx, representation_id)
        .await?
        .ok_or_else(|| Error::not_found("representation", representation_id))?;
    let offers = db::availability::offers(&mut tx, representation_id).await?;
    let sections = db::availability::sections(&mut tx, representation_id).await?;
    let as_of = db::live::representation_changed_at(&mut tx, representation_id).await?;
    let seats = match &listing {
        SeatListing::None => None,
        SeatListing::All => Some(db::availability::seats(&mut tx, representation_id, None).await?),
        SeatListing::Section(section) => {
            if !sections.iter().any(|s| s.section.as_deref() == Some(section.as_str())) {
                return Err(Error::not_found("section", section));
            }
            Some(db::availability::seats(&mut tx, representation_id, Some(section)).await?)
        }
    };
    tx.commit().await?;
    Ok(Availability { representation_id: rep.id, event_id: rep.event_id, offers, sections, seats, as_of })
}
