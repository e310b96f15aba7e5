//! A buyer's reservations and tickets, most recent first, in pages.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sqlx::PgPool;

use super::Tag;
use super::error::ApiError;
use super::events::page_limit;
use super::reservations::Reservation;
use super::security::ApiKey;
use super::tickets::Ticket;
use crate::services;

pub struct UserHistoryApi {
    pub pool: PgPool,
}

/// One page of a buyer's reservations.
#[derive(Object)]
struct ReservationPage {
    items: Vec<Reservation>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

/// One page of a buyer's tickets.
#[derive(Object)]
struct TicketPage {
    items: Vec<Ticket>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[oai(nullable)]
    next_cursor: Option<String>,
}

#[OpenApi(tag = "Tag::Users")]
impl UserHistoryApi {
    /// A buyer's reservations
    ///
    /// Most recent first, whatever their status.
    #[oai(path = "/users/:id/reservations", method = "get")]
    async fn reservations(
        &self,
        key: ApiKey,
        id: Path<String>,
        /// Reservations per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "0", exclusive), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page (opaque: any other value is refused with 422).
        cursor: Query<Option<String>>,
    ) -> Result<Json<ReservationPage>, ApiError> {
        let page =
            services::history::reservations_of(&self.pool, &key.0, &id, page_limit(limit.0), cursor.0.as_deref())
                .await?;
        Ok(Json(ReservationPage {
            items: page.items.into_iter().map(Reservation::from).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// A buyer's tickets
    ///
    /// Most recent first.
    #[oai(path = "/users/:id/tickets", method = "get")]
    async fn tickets(
        &self,
        key: ApiKey,
        id: Path<String>,
        /// Tickets per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "0", exclusive), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page (opaque: any other value is refused with 422).
        cursor: Query<Option<String>>,
    ) -> Result<Json<TicketPage>, ApiError> {
        let page =
            services::history::tickets_of(&self.pool, &key.0, &id, page_limit(limit.0), cursor.0.as_deref()).await?;
        Ok(Json(TicketPage {
            items: page.items.into_iter().map(Ticket::from).collect(),
            next_cursor: page.next_cursor,
        }))
    }
}
