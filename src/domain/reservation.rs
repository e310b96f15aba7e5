//! What a reservation asks for, and the states it goes through.

use super::hall::BestAvailable;
use super::{MAX_ID_CHARS, SeatLabels, ValidationErrors, Validator, trim_blank};

/// ```text
/// pending --(worker allocates)--> held --(confirm)--> confirmed --(tickets issued)--> fulfilled
///    \--(no stock / seat taken)--> rejected   \--(hold_expires_at passes)--> expired
///                                              \--(release)----------------> released
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum ReservationStatus {
    Pending,
    Held,
    Confirmed,
    Fulfilled,
    Rejected,
    Expired,
    Released,
    /// Paid, then cancelled by the organizer: its tickets are void, its stock back on sale.
    Cancelled,
}

impl ReservationStatus {
    /// The name the API and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Held => "held",
            Self::Confirmed => "confirmed",
            Self::Fulfilled => "fulfilled",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Released => "released",
            Self::Cancelled => "cancelled",
        }
    }

    /// Decided: no longer waiting for a worker.
    pub fn is_decided(self) -> bool {
        self != Self::Pending
    }

    /// How far along its life a reservation is. Every change of status moves it strictly
    /// forward (pending, then held or rejected, then confirmed, expired or released, then
    /// fulfilled, then cancelled), so the stage orders the states a live stream shows.
    pub fn stage(self) -> i64 {
        match self {
            Self::Pending => 0,
            Self::Held | Self::Rejected => 1,
            Self::Confirmed | Self::Expired | Self::Released => 2,
            Self::Fulfilled => 3,
            Self::Cancelled => 4,
        }
    }

    /// Nothing a buyer waits for follows: refused, ended, or its tickets issued (a cancellation
    /// by the organizer may still come, days later).
    pub fn is_settled(self) -> bool {
        !matches!(self, Self::Pending | Self::Held | Self::Confirmed)
    }
}

impl std::fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a worker rejected a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectionReason {
    /// Not enough tickets left at its turn.
    SoldOut,
    /// At least one of the seats asked for is held or sold.
    SeatUnavailable,
    /// Best available, together: enough seats are free, but no block of adjacent ones.
    SeatsNotTogether,
    /// The event's sales were closed at its turn.
    SalesClosed,
    /// The performance had ended at its turn.
    RepresentationOver,
}

impl RejectionReason {
    /// Why nothing may be granted now: sales closed, or the performance over; `None` when on sale.
    pub fn of_sale(sales_open: bool, over: bool) -> Option<RejectionReason> {
        if !sales_open {
            Some(RejectionReason::SalesClosed)
        } else if over {
            Some(RejectionReason::RepresentationOver)
        } else {
            None
        }
    }

    /// The name the API and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SoldOut => "SOLD_OUT",
            Self::SeatUnavailable => "SEAT_UNAVAILABLE",
            Self::SeatsNotTogether => "SEATS_NOT_TOGETHER",
            Self::SalesClosed => "SALES_CLOSED",
            Self::RepresentationOver => "REPRESENTATION_OVER",
        }
    }
}

/// A reservation as the client sends it: a quantity, or seats (whose count is the quantity), or
/// the best seats available.
#[derive(Debug, Clone)]
pub struct ReservationRequest {
    pub user_id: String,
    pub offer_id: String,
    pub representation_id: String,
    pub quantity: Option<i32>,
    pub seats: Option<Vec<String>>,
    pub best_available: Option<BestAvailableRequest>,
    pub hold_minutes: Option<i32>,
}

/// Best available as the client asks for it.
#[derive(Debug, Clone)]
pub struct BestAvailableRequest {
    pub quantity: i32,
    pub section: Option<String>,
    /// Default true.
    pub together: Option<bool>,
}

/// A request whose shape is right: what the catalog still has to agree with.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidReservation {
    pub user_id: String,
    pub offer_id: String,
    pub representation_id: String,
    pub quantity: i32,
    /// Normalized labels, for a seated request.
    pub seat_labels: Option<Vec<String>>,
    /// What the worker is to pick, for a best-available request (section normalized).
    pub best_available: Option<BestAvailable>,
    /// `None` takes the event's hold time.
    pub hold_minutes: Option<i32>,
}

impl ReservationRequest {
    /// Checks what can be checked without the catalog.
    pub fn validated(self) -> Result<ValidReservation, ValidationErrors> {
        let mut v = Validator::new("body");
        let user_id = v.required_text("user_id", &self.user_id, MAX_ID_CHARS);
        let offer_id = v.required_text("offer_id", &self.offer_id, MAX_ID_CHARS);
        let representation_id = v.required_text("representation_id", &self.representation_id, MAX_ID_CHARS);
        if let Some(m) = self.hold_minutes {
            super::catalog::check_hold_minutes(&mut v, m);
        }
        if let Some(best) = self.best_available {
            v.check(self.quantity.is_none(), "quantity", "give either a quantity or best_available, not both");
            v.check(self.seats.is_none(), "seats", "give either seats or best_available, not both");
            v.check(best.quantity >= 1, "best_available.quantity", "ensure this value is greater than 0");
            let section = best.section.as_deref().map(|s| trim_blank(s).to_uppercase());
            v.check(section.as_ref().is_none_or(|s| !s.is_empty()), "best_available.section", "must not be empty");
            v.finish()?;
            let together = best.together.unwrap_or(true);
            return Ok(ValidReservation {
                user_id,
                offer_id,
                representation_id,
                quantity: best.quantity,
                seat_labels: None,
                best_available: Some(BestAvailable { quantity: best.quantity as usize, section, together }),
                hold_minutes: self.hold_minutes,
            });
        }
        let (quantity, seat_labels) = match (self.quantity, self.seats) {
            (_, Some(seats)) => {
                let labels = match SeatLabels::parse(&seats) {
                    Ok((labels, duplicates)) => {
                        v.check(
                            duplicates.is_empty(),
                            "seats",
                            format!("seats listed twice: {}", duplicates.join(", ")),
                        );
                        labels.as_slice().to_vec()
                    }
                    Err(errors) => {
                        for e in errors.0 {
                            let field = e.loc[1..].join(".").replacen("labels", "seats", 1);
                            v.push(&field, e.msg);
                        }
                        vec![]
                    }
                };
                v.check(labels.len() <= 100, "seats", "at most 100 seats per reservation");
                if let Some(q) = self.quantity {
                    v.check(q as usize == seats.len(), "quantity", "must equal the number of seats, or be left out");
                }
                (labels.len() as i32, Some(labels))
            }
            (Some(q), None) => {
                v.check(q >= 1, "quantity", "ensure this value is greater than 0");
                (q, None)
            }
            (None, None) => {
                v.push("quantity", "give a quantity, a list of seats, or best_available");
                (0, None)
            }
        };
        v.finish()?;
        Ok(ValidReservation {
            user_id,
            offer_id,
            representation_id,
            quantity,
            seat_labels,
            best_available: None,
            hold_minutes: self.hold_minutes,
        })
    }
}

/// Lines an order may have.
pub const MAX_LINES: usize = 10;

/// An order of several lines as the client sends it (`lines`), all of one event.
#[derive(Debug, Clone)]
pub struct OrderRequest {
    pub user_id: String,
    pub lines: Vec<LineRequest>,
    pub hold_minutes: Option<i32>,
}

/// One line of an [`OrderRequest`]: a quantity, seats, or the best seats available of an item.
#[derive(Debug, Clone)]
pub struct LineRequest {
    pub offer_id: String,
    pub representation_id: String,
    pub quantity: Option<i32>,
    pub seats: Option<Vec<String>>,
    pub best_available: Option<BestAvailableRequest>,
}

/// An order whose shape is right: one line for today's single-item body, or its `lines`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidOrder {
    pub user_id: String,
    /// Each line as a reservation of its own would be (same user, no hold time of its own).
    pub lines: Vec<ValidReservation>,
    pub hold_minutes: Option<i32>,
    /// The client sent `lines`: problems are named by line (`body.lines.1.quantity`).
    pub as_lines: bool,
}

impl ValidOrder {
    /// Where a problem of line `i`'s field `field` is reported: `body.lines.i.field` for an order
    /// sent as lines, `body.field` for a single-item body.
    pub fn loc(&self, i: usize, field: &[&str]) -> Vec<String> {
        let mut loc = vec!["body".to_string()];
        if self.as_lines {
            loc.extend(["lines".to_string(), i.to_string()]);
        }
        loc.extend(field.iter().map(|f| f.to_string()));
        loc
    }

    /// Tickets over all lines.
    pub fn tickets(&self) -> i64 {
        self.lines.iter().map(|l| i64::from(l.quantity)).sum()
    }
}

impl From<ValidReservation> for ValidOrder {
    fn from(line: ValidReservation) -> Self {
        ValidOrder {
            user_id: line.user_id.clone(),
            hold_minutes: line.hold_minutes,
            lines: vec![line],
            as_lines: false,
        }
    }
}

impl OrderRequest {
    /// Checks what can be checked without the catalog: each line as a single request would be
    /// checked, its problems named by line, and no seat asked twice across lines.
    pub fn validated(self) -> Result<ValidOrder, ValidationErrors> {
        let mut v = Validator::new("body");
        let user_id = v.required_text("user_id", &self.user_id, MAX_ID_CHARS);
        if let Some(m) = self.hold_minutes {
            super::catalog::check_hold_minutes(&mut v, m);
        }
        v.check(!self.lines.is_empty(), "lines", "give at least one line");
        v.check(self.lines.len() <= MAX_LINES, "lines", format!("at most {MAX_LINES} lines per order"));
        let mut lines = Vec::with_capacity(self.lines.len());
        let mut seen_seats = std::collections::HashSet::new();
        for (i, line) in self.lines.into_iter().enumerate() {
            let single = ReservationRequest {
                // the order's user is checked once, above
                user_id: "-".into(),
                offer_id: line.offer_id,
                representation_id: line.representation_id,
                quantity: line.quantity,
                seats: line.seats,
                best_available: line.best_available,
                hold_minutes: None,
            };
            match single.validated() {
                Ok(valid) => {
                    let repeated: Vec<&str> = (valid.seat_labels.iter().flatten())
                        .filter(|label| !seen_seats.insert((valid.representation_id.clone(), (*label).clone())))
                        .map(String::as_str)
                        .collect();
                    if !repeated.is_empty() {
                        v.push(
                            &format!("lines.{i}.seats"),
                            format!("seats asked by another line: {}", repeated.join(", ")),
                        );
                    }
                    lines.push(ValidReservation { user_id: user_id.clone(), hold_minutes: self.hold_minutes, ..valid });
                }
                Err(errors) => {
                    for e in errors.0 {
                        v.push(&format!("lines.{i}.{}", e.loc[1..].join(".")), e.msg);
                    }
                }
            }
        }
        v.finish()?;
        Ok(ValidOrder { user_id, lines, hold_minutes: self.hold_minutes, as_lines: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(quantity: Option<i32>, seats: Option<Vec<&str>>, hold: Option<i32>) -> ReservationRequest {
        ReservationRequest {
            user_id: "u".into(),
            offer_id: "o".into(),
            representation_id: "r".into(),
            quantity,
            seats: seats.map(|s| s.into_iter().map(String::from).collect()),
            best_available: None,
            hold_minutes: hold,
        }
    }

    #[test]
    fn a_zero_quantity_or_a_hold_out_of_range_is_rejected() {
        assert!(request(Some(0), None, None).validated().is_err());
        assert!(request(Some(1), None, Some(0)).validated().is_err());
        assert!(request(Some(1), None, Some(21)).validated().is_err());
        assert!(request(None, None, None).validated().is_err());
    }

    #[test]
    fn seats_are_normalized_and_give_the_quantity() {
        let valid = request(None, Some(vec![" a1", "b2 "]), Some(5)).validated().unwrap();
        assert_eq!(valid.quantity, 2);
        assert_eq!(valid.seat_labels.unwrap(), ["A1", "B2"]);
    }

    #[test]
    fn best_available_goes_alone_and_asks_for_at_least_one_seat() {
        let best = |quantity| BestAvailableRequest { quantity, section: Some(" stalls ".into()), together: None };
        let with = |r: ReservationRequest, b| ReservationRequest { best_available: Some(b), ..r };
        let valid = with(request(None, None, None), best(2)).validated().unwrap();
        assert_eq!(
            valid.best_available,
            Some(BestAvailable { quantity: 2, section: Some("STALLS".into()), together: true })
        );
        assert!(with(request(None, None, None), best(0)).validated().is_err());
        assert!(with(request(Some(2), None, None), best(2)).validated().is_err());
        assert!(with(request(None, Some(vec!["A1"]), None), best(1)).validated().is_err());
    }

    #[test]
    fn a_seat_listed_twice_is_rejected() {
        assert!(request(None, Some(vec!["a1", "A1"]), None).validated().is_err());
    }
}
