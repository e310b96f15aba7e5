//! Validated values and the rules of the catalog. No I/O here: everything is checked before it
//! reaches the database, and the database checks it again.

mod auth;
mod catalog;
mod geo;
pub mod hall;
pub mod idempotency;
pub mod job;
mod notification;
pub mod queue;
pub mod records;
mod reservation;
pub mod seating;
pub mod signed;
mod ticket;
mod user;
mod validation;
mod waitlist;

pub use auth::{Principal, RatePolicy, Role};
pub use catalog::{
    DEFAULT_CURRENCY, DEFAULT_HOLD_MINUTES, DEFAULT_MAX_PER_ORDER, DEFAULT_TIMEZONE, DEFAULT_WAITLIST_OFFER_MINUTES,
    EventPatch, HOLD_MINUTES, ItemRefs, MAX_ID_CHARS, MAX_PRICE_MINOR, NewEvent, NewOffer, NewRepresentation,
    NotAnItem, SeatLabels, SeatState, StockTotal, is_currency_code,
};
pub use geo::{GeoPoint, SearchRadius};
pub use notification::{Attempted, Channel, DeliveryState, NewNotification, NotificationKind};
pub use reservation::{
    BestAvailableRequest, LineRequest, OrderRequest, RejectionReason, ReservationRequest, ReservationStatus,
    ValidOrder, ValidReservation,
};
pub use ticket::{QrError, TicketCode, TicketPayload, qr_content, sign, verify_qr};
pub use user::{NewUser, normalized_email};
pub use validation::{FieldError, ValidationErrors, Validator, trim_blank};
pub use waitlist::EntryStatus;
