//! What the system holds, as services return it: read from the database (each derives
//! `sqlx::FromRow`), shown by the HTTP edge in its own shapes. No I/O here.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::job::JobStatus;
use super::{Channel, DeliveryState, EntryStatus, NotificationKind, RejectionReason, ReservationStatus, SeatState};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Reservation {
    pub id: Uuid,
    pub seq: i64,
    pub user_id: String,
    pub offer_id: String,
    pub representation_id: String,
    pub quantity: i32,
    pub seat_labels: Option<Vec<String>>,
    pub hold_minutes: i32,
    /// The effective status: a hold past its time reads `expired` at once (see `db::reservations`).
    pub status: ReservationStatus,
    pub reason: Option<RejectionReason>,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub payment_reference: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// An offer made to someone on the waiting list.
    pub from_waitlist: bool,
    /// Best available: the worker picks the seats (`seat_labels` once held).
    pub best_available: bool,
    pub best_section: Option<String>,
    pub best_together: bool,
    /// The organization whose event it is for: who may act on it.
    pub organization_id: String,
    /// The pool this row draws from (of the first line, for an order).
    pub pool_id: String,
    /// The order this row is a line of; `None` for a reservation of one line.
    pub order_id: Option<Uuid>,
    /// Its place in its order.
    pub line_no: Option<i16>,
    /// A rejected order: the first line that did not fit at its turn.
    pub rejected_line: Option<i16>,
    /// Every line, in order (one for a reservation of one line); filled by `db::reservations`.
    #[sqlx(skip)]
    pub lines: Vec<ReservationLine>,
}

/// One line of a reservation: an item, how many, which seats. Its own row of `reservations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationLine {
    /// The row's id (the reservation's own id for line 0).
    pub row_id: Uuid,
    pub offer_id: String,
    pub representation_id: String,
    pub pool_id: String,
    pub quantity: i32,
    pub seat_labels: Option<Vec<String>>,
}

impl Reservation {
    /// The units of each pool the reservation draws (several lines may share one).
    pub fn units_by_pool(&self) -> Vec<(String, i32)> {
        let mut units: std::collections::BTreeMap<&str, i32> = std::collections::BTreeMap::new();
        for line in &self.lines {
            *units.entry(line.pool_id.as_str()).or_default() += line.quantity;
        }
        units.into_iter().map(|(pool, n)| (pool.to_string(), n)).collect()
    }

    /// Its pools, in the order they are locked.
    pub fn pools(&self) -> Vec<String> {
        self.units_by_pool().into_iter().map(|(pool, _)| pool).collect()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WaitlistEntry {
    pub id: Uuid,
    pub user_id: String,
    pub offer_id: String,
    pub representation_id: String,
    pub requested_quantity: i32,
    pub status: EntryStatus,
    pub reservation_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub offered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Rank among the active entries; null once the entry has ended.
    pub position: Option<i64>,
    /// The open offer's end, while offered.
    pub offer_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    pub id: String,
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FoundEvent {
    #[sqlx(flatten)]
    pub event: Event,
    /// Kilometres from the search point, when there is one.
    pub distance_km: Option<f64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Inventory {
    pub offer_id: String,
    pub representation_id: String,
    pub event_id: String,
    /// The pool whose books these are.
    pub pool_id: String,
    pub total_stock: i32,
    pub available: i32,
    pub held: i32,
    pub sold: i32,
    pub seated: bool,
    pub updated_at: DateTime<Utc>,
}

/// Capacity several items may share: the books and the lock of their stock.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Pool {
    pub id: String,
    pub representation_id: String,
    pub event_id: String,
    pub name: String,
    pub total_stock: i32,
    pub available: i32,
    pub held: i32,
    pub sold: i32,
    pub seated: bool,
    pub updated_at: DateTime<Utc>,
    /// The offers whose items draw from it.
    pub offers: Vec<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Offer {
    pub id: String,
    pub event_id: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub price_minor: Option<i64>,
    pub currency: String,
    pub max_quantity_per_order: i32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Representation {
    pub id: String,
    pub event_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// A pool's figures in an event's report.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PoolReport {
    pub pool_id: String,
    pub representation_id: String,
    pub starts_at: DateTime<Utc>,
    pub name: String,
    pub seated: bool,
    pub total: i32,
    pub available: i32,
    pub held: i32,
    pub sold: i32,
    /// The offers selling it.
    pub offers: Vec<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportLine {
    pub representation_id: String,
    pub starts_at: DateTime<Utc>,
    pub offer_id: String,
    pub offer_name: String,
    pub currency: String,
    /// The pool the offer draws from: `total`, `available` and `held` are the pool's.
    pub pool_id: String,
    pub total: i32,
    pub available: i32,
    pub held: i32,
    pub sold: i32,
    /// sold x price, in minor units (0 for offers without a price).
    pub revenue_minor: i64,
    /// Units given back by cancellations and voided tickets, and their refunded amount.
    pub refunded: i64,
    pub refunded_minor: i64,
    pub holds_expired: i64,
    pub waitlist_joined: i64,
    pub waitlist_offered: i64,
    pub waitlist_converted: i64,
    pub waitlist_declined: i64,
    pub waitlist_expired: i64,
    pub waitlist_left: i64,
    pub waitlist_waiting: i64,
    /// Median seconds from an offer to its confirmation.
    pub median_offer_to_conversion_secs: Option<f64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Ticket {
    pub code: String,
    pub seq: i64,
    /// The reservation (for an order, the order's id).
    pub reservation_id: Uuid,
    /// The row of the line it was issued for (the reservation's own id unless an order's later line).
    pub line_id: Uuid,
    pub unit: i32,
    pub user_id: String,
    pub event_id: String,
    pub representation_id: String,
    pub offer_id: String,
    pub seat_label: Option<String>,
    /// The canonical JSON that was signed.
    pub payload: String,
    pub signature: Vec<u8>,
    pub issued_at: DateTime<Utc>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    /// The organization whose event it is for: who may act on it.
    pub organization_id: String,
}

/// A job as the admin endpoints show it.
#[derive(Debug, sqlx::FromRow)]
pub struct JobRecord {
    pub id: String,
    pub queue: String,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub last_error: Option<String>,
    pub run_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    /// For jobs of the notifications queue: what they deliver, and over which channel (none:
    /// the dispatch).
    pub notification_id: Option<Uuid>,
    pub channel: Option<Channel>,
}

/// One queue's figures.
#[derive(Debug, sqlx::FromRow)]
pub struct QueueStats {
    pub queue: String,
    /// Waiting for their first run (delayed ones included).
    pub pending: i64,
    /// Failed, waiting for their next attempt.
    pub retrying: i64,
    /// Taken by a worker.
    pub running: i64,
    /// Failed for good.
    pub failed: i64,
    /// Done and not yet pruned.
    pub done: i64,
    /// How long the longest-waiting job that is due (pending or retrying) has waited past its time.
    pub oldest_pending_age_secs: Option<f64>,
}

/// One section's seats now (`section` null: the seats of a hall without sections).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SectionStock {
    pub section: Option<String>,
    pub available: i32,
    pub held: i32,
    pub sold: i32,
}

/// A seat of a representation as the public sees it: where it is and whether it can be had.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MapSeat {
    pub id: Uuid,
    pub label: String,
    pub offer_id: String,
    pub section: Option<String>,
    pub row_label: Option<String>,
    pub number: Option<i32>,
    pub rank: Option<i32>,
    pub status: SeatState,
    pub hold_expires_at: Option<DateTime<Utc>>,
    /// When the seat's section first appeared in the layout: sections are shown in that order.
    pub section_order: i32,
    /// The same for its row within the section: front to back.
    pub row_order: i32,
}

/// A notification as a delivery needs it.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredNotification {
    pub id: Uuid,
    pub kind: NotificationKind,
    pub user_id: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub email: String,
    pub first_name: String,
    /// The state of the channel asked for, if it has a delivery row.
    pub delivery_state: Option<DeliveryState>,
}
