//! Tickets: read them, their QR code, check them in at the door, and the key that verifies them.

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use sqlx::PgPool;
use uuid::Uuid;

use super::Tag;
use super::error::ApiError;
use super::reservations::reservation_id;
use super::security::ApiKey;
use crate::domain::records;
use crate::services::{self, signing::PublicKey};

pub struct TicketsApi {
    pub pool: PgPool,
}

/// A ticket: one seat or one unit of a fulfilled reservation.
#[derive(Object)]
struct VoidTicket {
    /// Why, for the buyer and the report (1 to 500 characters).
    #[oai(validator(max_length = 500, custom = "super::text::NotBlankCheck"))]
    reason: super::text::NotBlank,
}

#[derive(Object)]
pub struct Ticket {
    /// What the holder shows or reads out: 32 Crockford base32 characters in groups of four.
    /// Lookups accept it in any case, without dashes, and with O for 0 and I or L for 1.
    code: String,
    reservation_id: Uuid,
    /// The holder: the buyer who reserved it.
    user_id: String,
    event_id: String,
    representation_id: String,
    offer_id: String,
    /// The seat's label; null for general admission.
    #[oai(nullable)]
    seat: Option<String>,
    /// `valid`, `checked_in` or `voided`.
    status: String,
    issued_at: DateTime<Utc>,
    /// When it was scanned in at the door, the first and only time.
    #[oai(nullable)]
    checked_in_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    voided_at: Option<DateTime<Utc>>,
    /// What the QR code holds: `base64url(payload) "." base64url(signature)` (no padding), where
    /// the payload is canonical JSON (`code`, `event_id`, `holder`, `issued_at`, `offer_id`,
    /// `representation_id`, `seat`) and the signature is Ed25519 by the key at
    /// `/api/tickets/public-key`: a scanner can check it offline.
    qr_content: String,
}

impl From<records::Ticket> for Ticket {
    fn from(t: records::Ticket) -> Self {
        let qr_content = services::tickets::qr_of(&t);
        let status = match (t.voided_at, t.checked_in_at) {
            (Some(_), _) => "voided",
            (None, Some(_)) => "checked_in",
            (None, None) => "valid",
        };
        Ticket {
            code: t.code,
            reservation_id: t.reservation_id,
            user_id: t.user_id,
            event_id: t.event_id,
            representation_id: t.representation_id,
            offer_id: t.offer_id,
            seat: t.seat_label,
            status: status.into(),
            issued_at: t.issued_at,
            checked_in_at: t.checked_in_at,
            voided_at: t.voided_at,
            qr_content,
        }
    }
}

/// The key that verifies every ticket's QR signature.
#[derive(Object)]
pub(super) struct TicketPublicKey {
    /// `Ed25519`.
    algorithm: String,
    /// The 32-byte public key in base64url, without padding.
    public_key_base64url: String,
    /// The same key in lower-case hex.
    public_key_hex: String,
}

impl From<PublicKey> for TicketPublicKey {
    fn from(k: PublicKey) -> Self {
        TicketPublicKey { algorithm: k.algorithm.into(), public_key_base64url: k.base64url, public_key_hex: k.hex }
    }
}

#[derive(ApiResponse)]
enum QrImage {
    /// The QR code of the ticket's signed payload, as an SVG image.
    #[oai(status = 200, content_type = "image/svg+xml")]
    Svg(Binary<Vec<u8>>),
}

#[OpenApi(tag = "Tag::Tickets")]
impl TicketsApi {
    /// A reservation's tickets
    ///
    /// In seat (or unit) order. Empty until the fulfillment worker has issued them, moments after
    /// the confirmation; the reservation then reads `fulfilled`.
    #[oai(path = "/reservations/:id/tickets", method = "get")]
    async fn for_reservation(&self, key: ApiKey, id: Path<String>) -> Result<Json<Vec<Ticket>>, ApiError> {
        let id = reservation_id(&id)?;
        let tickets = services::tickets::for_reservation(&self.pool, &key.0, id).await?;
        Ok(Json(tickets.into_iter().map(Ticket::from).collect()))
    }

    /// The key that verifies tickets
    ///
    /// Public: door scanners fetch it once and verify QR codes offline.
    #[oai(path = "/tickets/public-key", method = "get")]
    async fn public_key(&self) -> Result<Json<TicketPublicKey>, ApiError> {
        Ok(Json(services::signing::ticket_public_key(&self.pool).await?.into()))
    }

    /// Read a ticket
    #[oai(path = "/tickets/:code", method = "get")]
    async fn get(&self, key: ApiKey, code: Path<String>) -> Result<Json<Ticket>, ApiError> {
        Ok(Json(services::tickets::get(&self.pool, &key.0, &code).await?.into()))
    }

    /// A ticket's QR code
    ///
    /// An SVG image of `qr_content`, to show on a screen or print.
    #[oai(path = "/tickets/:code/qr.svg", method = "get")]
    async fn qr_svg(&self, key: ApiKey, code: Path<String>) -> Result<QrImage, ApiError> {
        let svg = services::tickets::qr_svg(&self.pool, &key.0, &code).await?;
        Ok(QrImage::Svg(Binary(svg.into_bytes())))
    }

    /// Void one ticket (refund)
    ///
    /// Organizers (their own events) and admins. The ticket is refused at the door from now on
    /// (409 `TICKET_VOIDED`); its unit (or seat) goes back to the stock and, in the same
    /// transaction, to the waiting list first; the refund is recorded for the report and the buyer
    /// is notified. Idempotent: voiding again answers the same.
    #[oai(path = "/tickets/:code/void", method = "post")]
    async fn void(&self, key: ApiKey, code: Path<String>, body: Json<VoidTicket>) -> Result<Json<Ticket>, ApiError> {
        let ticket =
            services::cancellations::void_ticket(&self.pool, &key.0, &code, body.0.reason.as_ref().trim()).await?;
        Ok(Json(ticket.into()))
    }

    /// Check a ticket in at the door
    ///
    /// The first scan succeeds and records `checked_in_at`. Any later scan is a 409
    /// `ALREADY_CHECKED_IN` whose message gives the time of the first; a voided ticket is a 409
    /// `TICKET_VOIDED`.
    #[oai(path = "/tickets/:code/check-in", method = "post")]
    async fn check_in(&self, key: ApiKey, code: Path<String>) -> Result<Json<Ticket>, ApiError> {
        Ok(Json(services::tickets::check_in(&self.pool, &key.0, &code).await?.into()))
    }
}
