//! Reservations: ask, read, confirm, release.

use std::time::Duration;

use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sqlx::PgPool;
use uuid::Uuid;

use super::Tag;
use super::error::ApiError;
use super::idempotency::NewId;
use super::middleware::RequestId;
use super::optional_json::OptionalJson;
use super::security::ApiKey;
use super::text::{NotBlank, Text, WaitSeconds, plain_all};
use crate::domain::records;
use crate::domain::{
    BestAvailableRequest, FieldError, LineRequest, OrderRequest, ReservationRequest, ValidOrder, ValidationErrors,
    Validator,
};
use crate::services::items::Facts;
use crate::services::reservations::NewIds;
use crate::services::{self, Error, intake::Intake, writer::Writer};

pub struct ReservationsApi {
    pub pool: PgPool,
    pub intake: Intake,
    pub writer: Writer,
    pub facts: Facts,
}

/// A request for tickets: a `quantity` (general admission), `seats` by label (their count is the
/// quantity), or `best_available` (seated: the worker picks the seats at the request's turn), of
/// one offer at one representation; or `lines`, an order of several such items of one event,
/// decided all or nothing.
#[derive(Object)]
struct CreateReservation {
    #[oai(validator(max_length = 100, custom = "super::text::NotBlankCheck"))]
    user_id: NotBlank,
    /// Required unless `lines` is given.
    #[oai(nullable, validator(max_length = 100, custom = "super::text::NotBlankCheck"))]
    offer_id: Option<NotBlank>,
    /// Required unless `lines` is given.
    #[oai(nullable, validator(max_length = 100, custom = "super::text::NotBlankCheck"))]
    representation_id: Option<NotBlank>,
    /// 1 to the offer's `max_quantity_per_order`.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "100")))]
    quantity: Option<i32>,
    /// Seat labels (normalized: `" c5 "` is `C5`); all or nothing.
    #[oai(nullable, validator(min_items = 1, max_items = 100, max_length = 32, custom = "super::text::NotBlankCheck"))]
    seats: Option<Vec<NotBlank>>,
    /// The best seats free at the request's turn; without `quantity` or `seats`.
    #[oai(nullable)]
    best_available: Option<BestAvailable>,
    /// An order of 1 to 10 lines of one event (different representations allowed), instead of
    /// `offer_id`, `representation_id` and their quantity: held only if every line fits at the
    /// order's turn, else rejected naming the first line that did not (`line`). Each line within
    /// its offer's `max_quantity_per_order`; all lines within the event's `max_tickets_per_order`.
    #[oai(nullable, validator(min_items = 1, max_items = 10))]
    lines: Option<Vec<CreateLine>>,
    /// Minutes the tickets are held once granted, 1 to 20 (default: the event's hold time).
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "20")))]
    hold_minutes: Option<i32>,
    /// For an event behind a virtual queue: the `pass` of the user's admitted queue entry. It is
    /// checked without a database round trip; one reservation per pass may be waiting or held at
    /// a time.
    #[oai(nullable, validator(max_length = 2000))]
    queue_pass: Option<String>,
}

/// One line of an order: an item and a `quantity`, `seats` or `best_available`.
#[derive(Object)]
struct CreateLine {
    #[oai(validator(max_length = 100, custom = "super::text::NotBlankCheck"))]
    offer_id: NotBlank,
    #[oai(validator(max_length = 100, custom = "super::text::NotBlankCheck"))]
    representation_id: NotBlank,
    /// 1 to the offer's `max_quantity_per_order`.
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "100")))]
    quantity: Option<i32>,
    /// Seat labels (normalized); all or nothing.
    #[oai(nullable, validator(min_items = 1, max_items = 100, max_length = 32, custom = "super::text::NotBlankCheck"))]
    seats: Option<Vec<NotBlank>>,
    /// The best seats free at the order's turn; without `quantity` or `seats`.
    #[oai(nullable)]
    best_available: Option<BestAvailable>,
}

impl CreateReservation {
    /// The order the body asks for: its `lines`, or the single item at its top level.
    fn order(self) -> Result<ValidOrder, ValidationErrors> {
        let best = |b: BestAvailable| BestAvailableRequest {
            quantity: b.quantity,
            section: b.section.map(String::from),
            together: b.together,
        };
        if let Some(lines) = self.lines {
            let mut v = Validator::new("body");
            for field in
                [("offer_id", self.offer_id.is_some()), ("representation_id", self.representation_id.is_some())]
            {
                v.check(!field.1, field.0, "give the item in each line, not at the top level, when giving lines");
            }
            v.check(self.quantity.is_none(), "quantity", "give quantities in the lines");
            v.check(self.seats.is_none(), "seats", "give seats in the lines");
            v.check(self.best_available.is_none(), "best_available", "give best_available in the lines");
            v.finish()?;
            let lines = (lines.into_iter())
                .map(|l| LineRequest {
                    offer_id: l.offer_id.into(),
                    representation_id: l.representation_id.into(),
                    quantity: l.quantity,
                    seats: l.seats.map(plain_all),
                    best_available: l.best_available.map(best),
                })
                .collect();
            return OrderRequest { user_id: self.user_id.into(), lines, hold_minutes: self.hold_minutes }.validated();
        }
        let missing = |field: &str| FieldError {
            loc: vec!["body".into(), field.into()],
            msg: "field required".into(),
            kind: "value_error.missing".into(),
        };
        let (offer_id, representation_id) = match (self.offer_id, self.representation_id) {
            (Some(offer), Some(rep)) => (offer, rep),
            (offer, rep) => {
                let fields = [("offer_id", offer.is_none()), ("representation_id", rep.is_none())];
                return Err(ValidationErrors(fields.iter().filter(|f| f.1).map(|f| missing(f.0)).collect()));
            }
        };
        let request = ReservationRequest {
            user_id: self.user_id.into(),
            offer_id: offer_id.into(),
            representation_id: representation_id.into(),
            quantity: self.quantity,
            seats: self.seats.map(plain_all),
            best_available: self.best_available.map(best),
            hold_minutes: self.hold_minutes,
        };
        Ok(request.validated()?.into())
    }
}

/// Best available: `quantity` adjacent seats in one row, the best block free at the request's turn
/// that leaves no single seat alone (or the best block anyway when every block would). With no
/// adjacent block free the request is rejected `SEATS_NOT_TOGETHER`, unless `together` is false:
/// then it gets the best seats close to each other.
#[derive(Object)]
struct BestAvailable {
    /// 1 to the offer's `max_quantity_per_order`.
    #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
    quantity: i32,
    /// Only seats of this section (of this offer).
    #[oai(nullable, validator(max_length = 16, custom = "super::text::NotBlankCheck"))]
    section: Option<NotBlank>,
    /// Default true: adjacent seats or nothing.
    #[oai(nullable)]
    together: Option<bool>,
}

/// What a best-available reservation asked for.
#[derive(Object)]
struct BestAvailableAsked {
    quantity: i32,
    #[oai(nullable)]
    section: Option<String>,
    together: bool,
}

#[derive(Object)]
struct ConfirmReservation {
    /// The payment's reference in the shop's payment system (at most 200 characters).
    #[oai(nullable, validator(max_length = 200))]
    payment_reference: Option<Text>,
}

/// Why a reservation is cancelled, and the refund made for it.
#[derive(Object)]
struct CancelReservation {
    /// Why, for the buyer and the report (1 to 500 characters).
    #[oai(validator(max_length = 500, custom = "super::text::NotBlankCheck"))]
    reason: NotBlank,
    /// The payment provider's reference of the refund, if any.
    #[oai(nullable, validator(max_length = 200))]
    refund_reference: Option<Text>,
}

/// A reservation and where it stands.
#[derive(Object)]
pub(super) struct Reservation {
    id: Uuid,
    /// `pending`, `held`, `confirmed`, `fulfilled`, `rejected`, `expired`, `released` or
    /// `cancelled`. A hold
    /// past its time reads `expired` at once; a confirmed one reads `fulfilled` once its tickets
    /// are issued.
    status: String,
    /// Why it was rejected: `SOLD_OUT`, `SEAT_UNAVAILABLE`, `SEATS_NOT_TOGETHER`, `SALES_CLOSED`,
    /// `REPRESENTATION_OVER`.
    #[oai(nullable)]
    reason: Option<String>,
    user_id: String,
    offer_id: String,
    representation_id: String,
    quantity: i32,
    /// The seats asked for, or, for best available, the seats picked once decided.
    #[oai(nullable)]
    seats: Option<Vec<String>>,
    /// For a best-available request: what it asked for.
    #[oai(nullable)]
    best_available: Option<BestAvailableAsked>,
    hold_minutes: i32,
    /// When a hold ends unless confirmed (the database's clock).
    #[oai(nullable)]
    hold_expires_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    payment_reference: Option<String>,
    created_at: DateTime<Utc>,
    #[oai(nullable)]
    decided_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    confirmed_at: Option<DateTime<Utc>>,
    /// When the hold expired or was released.
    #[oai(nullable)]
    ended_at: Option<DateTime<Utc>>,
    /// Every line (one for a reservation of one item). For an order, the top-level `offer_id` and
    /// `representation_id` are its first line's, `quantity` counts every line's and `seats` lists
    /// every line's.
    lines: Vec<ReservationLine>,
    /// A rejected order: the index of the first line that did not fit at its turn.
    #[oai(nullable)]
    line: Option<i32>,
}

/// One line of a reservation.
#[derive(Object)]
struct ReservationLine {
    offer_id: String,
    representation_id: String,
    quantity: i32,
    /// The seats asked for, or picked once decided.
    #[oai(nullable)]
    seats: Option<Vec<String>>,
}

impl From<records::Reservation> for Reservation {
    fn from(r: records::Reservation) -> Self {
        let order = r.lines.len() > 1;
        let (quantity, seats) = if order {
            let seats: Vec<String> = r.lines.iter().flat_map(|l| l.seat_labels.iter().flatten().cloned()).collect();
            (r.lines.iter().map(|l| l.quantity).sum(), (!seats.is_empty()).then_some(seats))
        } else {
            (r.quantity, r.seat_labels.clone())
        };
        let lines = (r.lines.iter())
            .map(|l| ReservationLine {
                offer_id: l.offer_id.clone(),
                representation_id: l.representation_id.clone(),
                quantity: l.quantity,
                seats: l.seat_labels.clone(),
            })
            .collect();
        Reservation {
            id: r.id,
            status: r.status.as_str().to_owned(),
            reason: r.reason.map(|reason| reason.as_str().to_owned()),
            user_id: r.user_id,
            offer_id: r.offer_id,
            representation_id: r.representation_id,
            quantity,
            seats,
            best_available: r.best_available.then_some(BestAvailableAsked {
                quantity: r.quantity,
                section: r.best_section,
                together: r.best_together,
            }),
            hold_minutes: r.hold_minutes,
            hold_expires_at: r.hold_expires_at,
            payment_reference: r.payment_reference,
            created_at: r.created_at,
            decided_at: r.decided_at,
            confirmed_at: r.confirmed_at,
            ended_at: r.ended_at,
            lines,
            line: r.rejected_line.map(i32::from),
        }
    }
}

#[derive(ApiResponse)]
enum Created {
    /// Decided (when asked to wait and the decision came in time).
    #[oai(status = 200)]
    Decided(Json<Reservation>),
    /// Queued: poll `Location` for the decision.
    #[oai(status = 202)]
    Accepted(Json<Reservation>, #[oai(header = "Location")] String),
}

/// The longest a caller may wait for a decision.
const MAX_WAIT_SECS: f64 = 30.0;

/// `5`, `5s` or `2.5`: seconds, 0 to 30.
fn parse_wait(raw: &str) -> Result<Duration, ValidationErrors> {
    let seconds = raw.trim().trim_end_matches('s').parse::<f64>().ok().filter(|s| s.is_finite());
    match seconds {
        Some(s) if (0.0..=MAX_WAIT_SECS).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(ValidationErrors::single(&["query", "wait"], "seconds to wait, from 0 to 30 (e.g. 5 or 5s)")),
    }
}

/// Ids are UUIDs; anything else names no reservation.
pub(super) fn reservation_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError(Error::not_found("reservation", raw)))
}

#[OpenApi(tag = "Tag::Reservations")]
impl ReservationsApi {
    /// Ask for tickets
    ///
    /// Validated at once; a valid request is queued as `pending` and decided by a reservation
    /// worker in arrival order: `held` (until `hold_expires_at`) or `rejected` with a reason.
    /// With `wait`, the answer comes as soon as it is decided (200), or at the end of the wait
    /// still pending (202).
    #[oai(path = "/reservations", method = "post")]
    async fn create(
        &self,
        req: &Request,
        key: ApiKey,
        /// Seconds to wait for the decision, 0 to 30 (`5`, `5s`, `2.5`).
        wait: Query<Option<WaitSeconds>>,
        body: Json<CreateReservation>,
    ) -> Result<Created, ApiError> {
        let wait = wait.0.map(|raw| parse_wait(&raw.0)).transpose()?;
        let mut b = body.0;
        let pass = b.queue_pass.take();
        let order = b.order()?;
        let ids =
            NewIds { reservation: NewId::of(req), request: req.extensions().get::<RequestId>().map(|r| r.0.clone()) };
        let row =
            services::reservations::create(&self.pool, &self.intake, &key.0, &self.facts, order, pass.as_deref(), ids)
                .await?;
        if let Some(wait) = wait
            && let Some(decided) = self.intake.wait_for_decision(row.id, wait).await
        {
            return Ok(Created::Decided(Json(decided.into())));
        }
        let location = format!("/api/reservations/{}", row.id);
        Ok(Created::Accepted(Json(row.into()), location))
    }

    /// Read a reservation
    #[oai(path = "/reservations/:id", method = "get")]
    async fn get(&self, key: ApiKey, id: Path<String>) -> Result<Json<Reservation>, ApiError> {
        let id = reservation_id(&id)?;
        Ok(Json(services::reservations::get(&self.pool, &key.0, id).await?.into()))
    }

    /// Confirm a hold
    ///
    /// The held tickets become sold. Idempotent: confirming again returns the reservation as it is.
    /// A hold past its time is refused (409 `HOLD_EXPIRED`) and reads `expired`. The body
    /// (a payment reference) is optional.
    #[oai(path = "/reservations/:id/confirm", method = "post")]
    async fn confirm(
        &self,
        key: ApiKey,
        id: Path<String>,
        body: OptionalJson<ConfirmReservation>,
    ) -> Result<Json<Reservation>, ApiError> {
        let id = reservation_id(&id)?;
        let reference = body.0.and_then(|b| b.payment_reference).map(String::from);
        let reference = reference.as_deref().map(str::trim).filter(|r| !r.is_empty());
        let reference = reference.map(str::to_string);
        Ok(Json(self.writer.confirm(&key.0, id, reference).await?.into()))
    }

    /// Cancel a paid reservation (refund)
    ///
    /// Organizers (their own events) and admins. A confirmed or fulfilled reservation becomes
    /// `cancelled`: its tickets are voided (refused at the door, 409 `TICKET_VOIDED`), its units
    /// go back to the stock and, in the same transaction, to the waiting list first; the refund is
    /// recorded for the report and the buyer is notified. Idempotent: cancelling again answers the
    /// same. Any other status is a 409 `NOT_CANCELLABLE`.
    #[oai(path = "/reservations/:id/cancel", method = "post")]
    async fn cancel(
        &self,
        key: ApiKey,
        id: Path<String>,
        body: Json<CancelReservation>,
    ) -> Result<Json<Reservation>, ApiError> {
        let id = reservation_id(&id)?;
        let CancelReservation { reason, refund_reference } = body.0;
        let reference = refund_reference.map(String::from);
        let reference = reference.as_deref().map(str::trim).filter(|r| !r.is_empty());
        let cancelled =
            services::cancellations::cancel(&self.pool, &key.0, id, reason.as_ref().trim(), reference).await?;
        Ok(Json(cancelled.into()))
    }

    /// Release a hold
    ///
    /// The held tickets go back on sale. Idempotent: releasing again returns the reservation as it
    /// is. A confirmed reservation cannot be released (409 `ALREADY_CONFIRMED`).
    #[oai(path = "/reservations/:id/release", method = "post")]
    async fn release(&self, key: ApiKey, id: Path<String>) -> Result<Json<Reservation>, ApiError> {
        let id = reservation_id(&id)?;
        Ok(Json(self.writer.release(&key.0, id).await?.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_takes_seconds_with_or_without_a_unit() {
        assert_eq!(parse_wait("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_wait("2.5").unwrap(), Duration::from_millis(2500));
        assert!(parse_wait("31").is_err());
        assert!(parse_wait("-1").is_err());
        assert!(parse_wait("soon").is_err());
    }
}
