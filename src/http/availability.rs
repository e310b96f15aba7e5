//! Availability of one representation: public.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::Tag;
use super::error::ApiError;
use crate::domain::SeatState;
use crate::domain::seating::section_asked;
use crate::services;
use crate::services::availability::SeatListing;
use crate::services::reads::Reads;

pub struct AvailabilityApi {
    /// Availability may lag a little: a replica may serve it.
    pub reads: Reads,
}

#[derive(Object)]
pub(super) struct Availability {
    representation_id: String,
    event_id: String,
    offers: Vec<OfferAvailability>,
    /// Counts per section of a seated representation, in the order laid out (empty without
    /// seats).
    sections: Vec<SectionAvailability>,
    /// The seats asked for (`?section=S` or `?seats=all`), by label; absent otherwise.
    #[oai(skip_serializing_if_is_none)]
    seats: Option<Vec<SeatAvailability>>,
    /// When these counts last changed, by the database's clock.
    as_of: chrono::DateTime<chrono::Utc>,
}

/// One section's seats: `available + held + sold` of them.
#[derive(Object)]
struct SectionAvailability {
    /// Null for the seats of a hall without sections.
    #[oai(nullable)]
    section: Option<String>,
    available: i32,
    held: i32,
    sold: i32,
}

/// `?seats=all`: every seat listed.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum ListSeats {
    All,
}

/// Counts for one offer: `total = available + held + sold`. They are its pool's: offers that share a
/// pool (Adult and Child of the same stalls) show the same counts, and go down together.
#[derive(Object)]
struct OfferAvailability {
    offer_id: String,
    /// The capacity pool the offer draws from at this representation.
    pool_id: String,
    offer_name: String,
    total: i32,
    available: i32,
    held: i32,
    sold: i32,
    seated: bool,
}

#[derive(Enum)]
#[oai(rename_all = "UPPERCASE")]
pub(super) enum SeatStatus {
    Available,
    Held,
    Sold,
}

#[derive(Object)]
struct SeatAvailability {
    label: String,
    offer_id: String,
    status: SeatStatus,
    /// When the hold on a `HELD` seat ends.
    #[oai(nullable)]
    hold_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub(super) fn status_of(state: SeatState) -> SeatStatus {
    match state {
        SeatState::Available => SeatStatus::Available,
        SeatState::Held => SeatStatus::Held,
        SeatState::Sold => SeatStatus::Sold,
    }
}

#[OpenApi(tag = "Tag::Inventory")]
impl AvailabilityApi {
    /// Availability of a representation
    ///
    /// Public: per offer and per section the counts. Seats are listed only when asked for: one
    /// section's with `?section=S` (404 for a section the hall does not have), every seat's
    /// with `?seats=all`.
    #[oai(path = "/representations/:id/availability", method = "get")]
    async fn availability(
        &self,
        id: Path<String>,
        /// List this section's seats.
        section: Query<Option<String>>,
        /// `all`: list every seat (a stadium's are megabytes: prefer `section`).
        seats: Query<Option<ListSeats>>,
    ) -> Result<Json<Availability>, ApiError> {
        let listing = match (section.0, seats.0) {
            (Some(section), _) => SeatListing::Section(section_asked(&section)),
            (None, Some(ListSeats::All)) => SeatListing::All,
            (None, None) => SeatListing::None,
        };
        let id = id.0.as_str();
        let a = self.reads.run(|pool| {
            let listing = listing.clone();
            async move { services::availability::for_representation(&pool, id, listing).await }
        });
        Ok(Json(availability_of(a.await?)))
    }
}

/// The JSON of an availability (the answer of `GET .../availability` and the data of its stream's
/// events).
pub(super) fn availability_of(a: services::availability::Availability) -> Availability {
    Availability {
        representation_id: a.representation_id,
        event_id: a.event_id,
        offers: a
            .offers
            .into_iter()
            .map(|o| OfferAvailability {
                offer_id: o.offer_id,
                pool_id: o.pool_id,
                offer_name: o.offer_name,
                total: o.total_stock,
                available: o.available,
                held: o.held,
                sold: o.sold,
                seated: o.seated,
            })
            .collect(),
        sections: a
            .sections
            .into_iter()
            .map(|s| SectionAvailability { section: s.section, available: s.available, held: s.held, sold: s.sold })
            .collect(),
        seats: a.seats.map(|seats| {
            seats
                .into_iter()
                .map(|s| SeatAvailability {
                    status: status_of(s.status),
                    label: s.label,
                    offer_id: s.offer_id,
                    hold_expires_at: s.hold_expires_at,
                })
                .collect()
        }),
        as_of: a.as_of,
    }
}
