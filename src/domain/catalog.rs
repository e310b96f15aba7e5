//! Events, representations, offers, stock and seats: the rules a catalog change must follow.
//!
//! Each type is built by the HTTP edge from the request and then `validated()`, which normalizes
//! text and collects every broken rule. The database checks the same rules again.

use chrono::{DateTime, Utc};

use super::{GeoPoint, ValidationErrors, Validator};

pub const DEFAULT_HOLD_MINUTES: i32 = 10;
/// How long a hold may last, in minutes: what an event sets and what a reservation may ask for.
pub const HOLD_MINUTES: std::ops::RangeInclusive<i32> = 1..=20;
/// The longest id anything is referred to by (imported ids are kept as they are).
pub const MAX_ID_CHARS: usize = 100;
pub const DEFAULT_WAITLIST_OFFER_MINUTES: i32 = 30;
/// The time zone of an event that names none.
pub const DEFAULT_TIMEZONE: &str = "UTC";
/// The currency of an offer that names none.
pub const DEFAULT_CURRENCY: &str = "EUR";
/// The most tickets one order may ask for, unless the offer says otherwise.
pub const DEFAULT_MAX_PER_ORDER: i32 = 10;

/// A new event, owned by an organization.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub organization_id: String,
    pub title: String,
    pub description: String,
    pub thumbnail_url: Option<String>,
    pub venue_name: String,
    pub venue_address: String,
    pub venue_latitude: Option<f64>,
    pub venue_longitude: Option<f64>,
    pub timezone: String,
    pub hold_minutes: i32,
    pub waitlist_offer_minutes: i32,
    pub sales_open: bool,
    /// Tickets one order may hold over all its lines.
    pub max_tickets_per_order: i32,
}

impl NewEvent {
    pub fn validated(mut self) -> Result<Self, ValidationErrors> {
        let mut v = Validator::new("body");
        self.organization_id = v.required_text("organization_id", &self.organization_id, 100);
        self.title = v.required_text("title", &self.title, 300);
        self.venue_name = v.required_text("venue_name", &self.venue_name, 300);
        self.timezone = v.required_text("timezone", &self.timezone, 64);
        if let Some(at) = GeoPoint::validate_optional(
            &mut v,
            "venue_latitude",
            "venue_longitude",
            self.venue_latitude,
            self.venue_longitude,
        ) {
            (self.venue_latitude, self.venue_longitude) = (Some(at.latitude), Some(at.longitude));
        }
        check_hold_minutes(&mut v, self.hold_minutes);
        check_offer_minutes(&mut v, self.waitlist_offer_minutes);
        check_max_tickets(&mut v, self.max_tickets_per_order);
        v.finish().map(|()| self)
    }
}

/// A partial update of an event: only the fields given change.
#[derive(Debug, Clone, Default)]
pub struct EventPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub thumbnail_url: Option<String>,
    pub venue_name: Option<String>,
    pub venue_address: Option<String>,
    pub venue_latitude: Option<f64>,
    pub venue_longitude: Option<f64>,
    pub timezone: Option<String>,
    pub hold_minutes: Option<i32>,
    pub waitlist_offer_minutes: Option<i32>,
    pub sales_open: Option<bool>,
    pub max_tickets_per_order: Option<i32>,
}

impl EventPatch {
    pub fn validated(mut self) -> Result<Self, ValidationErrors> {
        let mut v = Validator::new("body");
        if let Some(title) = &self.title {
            self.title = Some(v.required_text("title", title, 300));
        }
        if let Some(name) = &self.venue_name {
            self.venue_name = Some(v.required_text("venue_name", name, 300));
        }
        if let Some(tz) = &self.timezone {
            self.timezone = Some(v.required_text("timezone", tz, 64));
        }
        // a move needs both coordinates, so a half-updated location cannot exist
        if let Some(at) = GeoPoint::validate_optional(
            &mut v,
            "venue_latitude",
            "venue_longitude",
            self.venue_latitude,
            self.venue_longitude,
        ) {
            (self.venue_latitude, self.venue_longitude) = (Some(at.latitude), Some(at.longitude));
        }
        if let Some(m) = self.hold_minutes {
            check_hold_minutes(&mut v, m);
        }
        if let Some(m) = self.waitlist_offer_minutes {
            check_offer_minutes(&mut v, m);
        }
        if let Some(max) = self.max_tickets_per_order {
            check_max_tickets(&mut v, max);
        }
        v.finish().map(|()| self)
    }
}

/// An ISO 4217 code as written by the standard: three capital letters (`EUR`, not `eur`). The
/// API and the importer both go through here.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// The highest price, in minor units: with at most [`StockTotal::MAX`] units an item's revenue
/// (10^18) fits a 64-bit integer.
pub const MAX_PRICE_MINOR: i64 = 1_000_000_000_000;

pub(crate) fn check_price(v: &mut Validator, price_minor: i64) {
    v.check(price_minor > 0, "price_minor", "ensure this value is greater than 0");
    v.check(
        price_minor <= MAX_PRICE_MINOR,
        "price_minor",
        format!("ensure this value is less than or equal to {MAX_PRICE_MINOR}"),
    );
}

/// The hold time an event sets or a reservation asks for.
pub(crate) fn check_hold_minutes(v: &mut Validator, minutes: i32) {
    let (low, high) = (HOLD_MINUTES.start(), HOLD_MINUTES.end());
    v.check(HOLD_MINUTES.contains(&minutes), "hold_minutes", format!("must be between {low} and {high}"));
}

/// The default of an event's `max_tickets_per_order`.
pub const DEFAULT_MAX_TICKETS_PER_ORDER: i32 = 10;

fn check_max_tickets(v: &mut Validator, max: i32) {
    v.check((1..=1000).contains(&max), "max_tickets_per_order", "must be between 1 and 1000");
}

fn check_offer_minutes(v: &mut Validator, minutes: i32) {
    v.check((1..=1440).contains(&minutes), "waitlist_offer_minutes", "must be between 1 and 1440");
}

/// A dated performance of an event.
#[derive(Debug, Clone)]
pub struct NewRepresentation {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl NewRepresentation {
    pub fn validated(self) -> Result<Self, ValidationErrors> {
        let mut v = Validator::new("body");
        v.check(self.ends_at > self.starts_at, "ends_at", "must be after starts_at");
        v.finish().map(|()| self)
    }
}

impl Default for NewEvent {
    /// The product's defaults for what a new event does not say: in UTC, holds of
    /// [`DEFAULT_HOLD_MINUTES`], waiting-list offers of [`DEFAULT_WAITLIST_OFFER_MINUTES`], sales
    /// open.
    fn default() -> Self {
        NewEvent {
            organization_id: String::new(),
            title: String::new(),
            description: String::new(),
            thumbnail_url: None,
            venue_name: String::new(),
            venue_address: String::new(),
            venue_latitude: None,
            venue_longitude: None,
            timezone: DEFAULT_TIMEZONE.to_owned(),
            hold_minutes: DEFAULT_HOLD_MINUTES,
            waitlist_offer_minutes: DEFAULT_WAITLIST_OFFER_MINUTES,
            max_tickets_per_order: DEFAULT_MAX_TICKETS_PER_ORDER,
            sales_open: true,
        }
    }
}

/// A ticket type of an event.
#[derive(Debug, Clone)]
pub struct NewOffer {
    pub name: String,
    pub description: String,
    /// Price in minor units (cents); the API always sets one, an imported offer may have none.
    pub price_minor: Option<i64>,
    pub currency: String,
    pub max_quantity_per_order: i32,
}

impl NewOffer {
    pub fn validated(mut self) -> Result<Self, ValidationErrors> {
        let mut v = Validator::new("body");
        self.name = v.required_text("name", &self.name, 200);
        if let Some(price) = self.price_minor {
            check_price(&mut v, price);
        }
        v.check(
            is_currency_code(&self.currency),
            "currency",
            "must be a three-letter ISO 4217 code in capitals, like EUR",
        );
        v.check(
            (1..=100).contains(&self.max_quantity_per_order),
            "max_quantity_per_order",
            "must be between 1 and 100",
        );
        v.finish().map(|()| self)
    }
}

/// The total stock of a general-admission inventory item: at least one ticket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StockTotal(i32);

impl StockTotal {
    /// Units an item holds at most (seats included): see [`MAX_PRICE_MINOR`].
    pub const MAX: i32 = 1_000_000;

    pub fn parse(total: i64) -> Result<StockTotal, ValidationErrors> {
        let mut v = Validator::new("body");
        v.check(total > 0, "total_stock", "ensure this value is greater than 0");
        v.check(total <= i64::from(Self::MAX), "total_stock", "ensure this value is less than or equal to 1000000");
        v.finish().map(|()| StockTotal(total as i32))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// Seat labels as stored: trimmed, upper-cased, unique within the request.
#[derive(Debug, Clone, PartialEq)]
pub struct SeatLabels(Vec<String>);

impl SeatLabels {
    pub const MAX_PER_REQUEST: usize = 10_000;

    /// Normalizes every label (`" c5 "` becomes `C5`). Empty labels are a validation error;
    /// two labels that normalize to the same seat are reported by the caller as a conflict.
    pub fn parse(raw: &[String]) -> Result<(SeatLabels, Vec<String>), ValidationErrors> {
        let mut v = Validator::new("body");
        v.check(!raw.is_empty(), "labels", "must list at least one seat");
        v.check(
            raw.len() <= Self::MAX_PER_REQUEST,
            "labels",
            format!("at most {} seats per request", Self::MAX_PER_REQUEST),
        );
        let mut labels = Vec::with_capacity(raw.len());
        let mut duplicates = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, label) in raw.iter().enumerate() {
            let too_long = label.chars().count() > 32;
            let label = super::validation::trim_blank(label).to_uppercase();
            if label.is_empty() || too_long {
                v.push(&format!("labels.{i}"), "a seat label has 1 to 32 characters");
            } else if !seen.insert(label.clone()) {
                duplicates.push(label);
            } else {
                labels.push(label);
            }
        }
        v.finish().map(|()| (SeatLabels(labels), duplicates))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_labels_are_trimmed_and_upper_cased() {
        let (labels, dups) = SeatLabels::parse(&[" c5 ".into(), "A1".into()]).unwrap();
        assert_eq!(labels.as_slice(), ["C5", "A1"]);
        assert!(dups.is_empty());
    }

    #[test]
    fn seat_labels_that_normalize_to_the_same_seat_are_duplicates() {
        let (_, dups) = SeatLabels::parse(&["c5".into(), " C5".into()]).unwrap();
        assert_eq!(dups, ["C5"]);
    }

    #[test]
    fn a_representation_ending_before_it_starts_is_rejected() {
        let now = Utc::now();
        let rep = NewRepresentation { starts_at: now, ends_at: now - chrono::Duration::hours(1) };
        assert!(rep.validated().is_err());
    }
}

/// What the catalog says of an offer and a representation named together (an item), read in one
/// query: each one's event (`None` when it does not exist) and what the sale of the pair depends
/// on. The fields of the offer's event and of the stock are `None` when those do not exist.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ItemRefs {
    pub offer_event: Option<String>,
    pub representation_event: Option<String>,
    /// The organization of the offer's event.
    pub organization_id: Option<String>,
    pub max_quantity_per_order: Option<i32>,
    pub sales_open: Option<bool>,
    /// The event's hold time, in minutes.
    pub hold_minutes: Option<i32>,
    /// The representation has ended.
    pub representation_over: Option<bool>,
    /// Whether the item's stock is seats; `None` when no stock is set.
    pub seated: Option<bool>,
    /// The pool the item draws from; `None` when no stock is set.
    pub pool_id: Option<String>,
    /// The event's limit of tickets in one order, over all its lines.
    pub max_tickets_per_order: Option<i32>,
    /// The event has its virtual queue on: reservations need a queue pass.
    pub queue_enabled: Option<bool>,
}

/// Why an offer and a representation named together are not an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAnItem {
    NoOffer,
    NoRepresentation,
    DifferentEvents,
}

impl ItemRefs {
    /// The one event the offer and the representation both belong to.
    pub fn event(&self) -> Result<&str, NotAnItem> {
        let offer = self.offer_event.as_deref().ok_or(NotAnItem::NoOffer)?;
        let representation = self.representation_event.as_deref().ok_or(NotAnItem::NoRepresentation)?;
        if offer == representation { Ok(offer) } else { Err(NotAnItem::DifferentEvents) }
    }
}

/// Where a seat stands for buyers: free, held by someone (until the hold ends), or sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "UPPERCASE")]
pub enum SeatState {
    Available,
    Held,
    Sold,
}
