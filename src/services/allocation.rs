//! The reservation worker's decision: one item's pending reservations, in arrival order, many per
//! transaction under the item's lock. Each is granted if it still fits at its turn.

use std::collections::{HashMap, HashSet};

use sqlx::PgPool;
use tracing::instrument;

use super::stock;
use crate::db::{self, allocation::Decisions};
use crate::domain::job::ExpireHolds;
use crate::domain::{RejectionReason, ReservationStatus};

/// Reservations decided per transaction at most: bounds the lock time and the statement sizes.
const BATCH: i64 = 2000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub held: usize,
    pub rejected: usize,
    /// Holds found past their time and ended on the way.
    pub expired: usize,
}

/// Decides every pending reservation of the item. Safe to run any number of times, concurrently:
/// runs serialize on the item's lock and find nothing left to do.
#[instrument(skip_all, fields(offer.id = %offer_id, representation.id = %representation_id))]
pub async fn allocate_item(pool: &PgPool, offer_id: &str, representation_id: &str) -> sqlx::Result<Outcome> {
    let mut total = Outcome::default();
    loop {
        let (outcome, more) = allocate_batch(pool, offer_id, representation_id).await?;
        total.held += outcome.held;
        total.rejected += outcome.rejected;
        total.expired += outcome.expired;
        if !more {
            return Ok(total);
        }
    }
}

async fn allocate_batch(pool: &PgPool, offer_id: &str, representation_id: &str) -> sqlx::Result<(Outcome, bool)> {
    let mut tx = pool.begin().await?;
    let Some(_) = db::inventory::lock(&mut tx, offer_id, representation_id).await? else {
        return Ok((Outcome::default(), false));
    };
    // stock of holds past their time is available, and goes to the waiting list first; what is
    // left after the list is on public sale
    let settled = stock::settle(&mut tx, offer_id, representation_id).await?;
    let expired = settled.expired;
    let pending = db::allocation::pending(&mut tx, offer_id, representation_id, BATCH).await?;
    if pending.is_empty() {
        tx.commit().await?;
        return Ok((Outcome { expired: expired.len(), ..Outcome::default() }, false));
    }
    let Some(item) = settled.item else {
        // inventory rows are never deleted: a retry will find it, or say the same
        tracing::error!(offer.id = offer_id, representation.id = representation_id, "the item vanished under its lock");
        return Err(sqlx::Error::RowNotFound);
    };
    let labels: Vec<String> = pending.iter().flat_map(|p| p.seat_labels.iter().flatten().cloned()).collect();
    let seats = if labels.is_empty() {
        vec![]
    } else {
        db::allocation::seats(&mut tx, offer_id, representation_id, &labels).await?
    };
    let decisions = match item.closed() {
        Some(reason) => reject_all(&pending, reason),
        None => decide(&pending, item.available, &seats),
    };
    db::allocation::apply(&mut tx, offer_id, representation_id, &decisions).await?;
    let held: Vec<_> = decisions
        .ids
        .iter()
        .zip(&decisions.statuses)
        .filter(|(_, s)| **s == ReservationStatus::Held)
        .map(|(id, _)| *id)
        .collect();
    for due_at in db::allocation::hold_ends(&mut tx, &held).await? {
        let job = ExpireHolds { offer_id: offer_id.into(), representation_id: representation_id.into(), due_at };
        db::jobs::enqueue(&mut tx, &job, Some(due_at)).await?;
    }
    tx.commit().await?;
    let outcome = Outcome { held: held.len(), rejected: pending.len() - held.len(), expired: expired.len() };
    let now = chrono::Utc::now();
    for p in &pending {
        metrics::histogram!("reservation_decision_seconds").record(crate::observe::seconds_since(p.created_at, now));
    }
    metrics::counter!("reservations_total", "outcome" => "held").increment(outcome.held as u64);
    metrics::counter!("reservations_total", "outcome" => "rejected").increment(outcome.rejected as u64);
    metrics::histogram!("allocation_batch_decisions").record(pending.len() as f64);
    Ok((outcome, pending.len() as i64 == BATCH))
}

/// The sale is closed (or the performance over): nothing is granted.
fn reject_all(pending: &[db::allocation::Pending], reason: RejectionReason) -> Decisions {
    let mut d = Decisions::default();
    for p in pending {
        d.ids.push(p.id);
        d.hold_minutes.push(p.hold_minutes);
        d.statuses.push(ReservationStatus::Rejected);
        d.reasons.push(Some(reason));
    }
    d
}

/// In arrival order: grant what fits, reject the rest. Pure, so FIFO is plain to see and test.
fn decide(pending: &[db::allocation::Pending], mut available: i32, seats: &[db::allocation::SeatTaken]) -> Decisions {
    let by_label: HashMap<&str, &db::allocation::SeatTaken> = seats.iter().map(|s| (s.label.as_str(), s)).collect();
    let mut taken: HashSet<&str> = seats.iter().filter(|s| s.taken).map(|s| s.label.as_str()).collect();
    let mut d = Decisions::default();
    for p in pending {
        let verdict = match &p.seat_labels {
            None if p.quantity <= available => Ok(vec![]),
            None => Err(RejectionReason::SoldOut),
            Some(labels) => {
                let free = labels.iter().all(|l| by_label.contains_key(l.as_str()) && !taken.contains(l.as_str()));
                if free && p.quantity <= available { Ok(labels.clone()) } else { Err(RejectionReason::SeatUnavailable) }
            }
        };
        d.ids.push(p.id);
        d.hold_minutes.push(p.hold_minutes);
        match verdict {
            Ok(labels) => {
                available -= p.quantity;
                d.granted += p.quantity;
                for label in labels {
                    let seat = by_label[label.as_str()];
                    taken.insert(seat.label.as_str());
                    d.seat_holds.push((p.id, seat.id));
                }
                d.statuses.push(ReservationStatus::Held);
                d.reasons.push(None);
            }
            Err(reason) => {
                d.statuses.push(ReservationStatus::Rejected);
                d.reasons.push(Some(reason));
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReservationStatus::{Held, Rejected};
    use db::allocation::{Pending, SeatTaken};
    use uuid::Uuid;

    fn ga(quantity: i32) -> Pending {
        Pending { id: Uuid::new_v4(), created_at: chrono::Utc::now(), quantity, seat_labels: None, hold_minutes: 10 }
    }

    fn seated(labels: &[&str]) -> Pending {
        let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        Pending {
            id: Uuid::new_v4(),
            created_at: chrono::Utc::now(),
            quantity: labels.len() as i32,
            seat_labels: Some(labels),
            hold_minutes: 10,
        }
    }

    #[test]
    fn requests_are_granted_in_arrival_order_while_they_fit() {
        let d = decide(&[ga(2), ga(2), ga(1), ga(1)], 3, &[]);
        assert_eq!(d.statuses, [Held, Rejected, Held, Rejected]);
        assert_eq!(d.reasons[1], Some(RejectionReason::SoldOut));
        assert_eq!(d.granted, 3);
    }

    #[test]
    fn seat_requests_are_all_or_nothing() {
        let seat = |label: &str, taken| SeatTaken { id: Uuid::new_v4(), label: label.into(), taken };
        let seats = [seat("A1", false), seat("A2", false), seat("A3", true)];
        let d = decide(&[seated(&["A1", "A2"]), seated(&["A2"]), seated(&["A3"])], 10, &seats);
        assert_eq!(d.statuses, [Held, Rejected, Rejected]);
        assert_eq!(d.reasons[1], Some(RejectionReason::SeatUnavailable));
        assert_eq!(d.seat_holds.len(), 2);
    }
}
