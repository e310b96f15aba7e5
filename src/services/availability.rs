//! What is left to sell for one representation.

use sqlx::PgPool;

use super::{Error, Result};
use crate::db::{
    self,
    availability::{OfferStock, SeatRow},
};

#[derive(Debug, Clone)]
pub struct Availability {
    pub representation_id: String,
    pub event_id: String,
    pub offers: Vec<OfferStock>,
    pub seats: Vec<SeatRow>,
}

/// Read in one snapshot (repeatable read) so the counts and the seats agree with each other.
pub async fn for_representation(pool: &PgPool, representation_id: &str) -> Result<Availability> {
    let mut tx = db::snapshot(pool).await?;
    let rep = db::representations::find(&mut tx, representation_id)
        .await?
        .ok_or_else(|| Error::not_found("representation", representation_id))?;
    let offers = db::availability::offers(&mut tx, representation_id).await?;
    let seats = db::availability::seats(&mut tx, representation_id).await?;
    tx.commit().await?;
    Ok(Availability { representation_id: rep.id, event_id: rep.event_id, offers, seats })
}
