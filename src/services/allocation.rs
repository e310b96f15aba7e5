//! The reservation worker's decision: one item's pending reservations, in arrival order, many per
//! transaction under the item's lock. Each is granted if it still fits at its turn.

use sqlx::PgPool;
use tracing::instrument;

use super::stock;
use crate::db::{self, allocation::Decisions};
use crate::domain::hall::{BestAvailable, Hall};
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
    let seated = pending.iter().any(|p| p.seat_labels.is_some() || p.best_available);
    let mut hall = if seated && item.closed().is_none() {
        Hall::new(db::seats::hall(&mut tx, offer_id, representation_id).await?)
    } else {
        Hall::new(vec![])
    };
    let decisions = match item.closed() {
        Some(reason) => reject_all(&pending, reason),
        None => decide(&pending, item.available, &mut hall),
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
        d.picked.push(None);
    }
    d
}

/// In arrival order: grant what fits, reject the rest. Seats are taken in `hall` as they are
/// granted, so each request sees the hall as the ones before it left it. Pure, so FIFO is plain
/// to see and test.
fn decide(pending: &[db::allocation::Pending], mut available: i32, hall: &mut Hall) -> Decisions {
    let mut d = Decisions::default();
    for p in pending {
        let verdict = if p.quantity > available {
            Err(if p.seat_labels.is_some() { RejectionReason::SeatUnavailable } else { RejectionReason::SoldOut })
        } else if let Some(labels) = &p.seat_labels {
            hall.take_named(labels).ok_or(RejectionReason::SeatUnavailable)
        } else if p.best_available {
            let ask = BestAvailable {
                quantity: p.quantity as usize,
                section: p.best_section.clone(),
                together: p.best_together,
            };
            hall.take_best(&ask)
        } else {
            Ok(vec![])
        };
        d.ids.push(p.id);
        d.hold_minutes.push(p.hold_minutes);
        match verdict {
            Ok(seats) => {
                available -= p.quantity;
                d.granted += p.quantity;
                d.seat_holds.extend(seats.iter().map(|&i| (p.id, hall.seat(i).id)));
                d.picked.push(p.best_available.then(|| seats.iter().map(|&i| hall.seat(i).label.clone()).collect()));
                d.statuses.push(ReservationStatus::Held);
                d.reasons.push(None);
            }
            Err(reason) => {
                d.statuses.push(ReservationStatus::Rejected);
                d.reasons.push(Some(reason));
                d.picked.push(None);
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hall::HallSeat;
    use ReservationStatus::{Held, Rejected};
    use db::allocation::Pending;
    use uuid::Uuid;

    fn ga(quantity: i32) -> Pending {
        Pending {
            id: Uuid::new_v4(),
            created_at: chrono::Utc::now(),
            quantity,
            seat_labels: None,
            hold_minutes: 10,
            best_available: false,
            best_section: None,
            best_together: true,
        }
    }

    fn seated(labels: &[&str]) -> Pending {
        let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        Pending {
            id: Uuid::new_v4(),
            created_at: chrono::Utc::now(),
            quantity: labels.len() as i32,
            seat_labels: Some(labels),
            ..ga(1)
        }
    }

    #[test]
    fn requests_are_granted_in_arrival_order_while_they_fit() {
        let d = decide(&[ga(2), ga(2), ga(1), ga(1)], 3, &mut Hall::new(vec![]));
        assert_eq!(d.statuses, [Held, Rejected, Held, Rejected]);
        assert_eq!(d.reasons[1], Some(RejectionReason::SoldOut));
        assert_eq!(d.granted, 3);
    }

    #[test]
    fn seat_requests_are_all_or_nothing() {
        let mut hall = Hall::new(vec![seat("A1", 1, false), seat("A2", 2, false), seat("A3", 3, true)]);
        let d = decide(&[seated(&["A1", "A2"]), seated(&["A2"]), seated(&["A3"])], 10, &mut hall);
        assert_eq!(d.statuses, [Held, Rejected, Rejected]);
        assert_eq!(d.reasons[1], Some(RejectionReason::SeatUnavailable));
        assert_eq!(d.seat_holds.len(), 2);
        assert_eq!(d.picked, [None, None, None], "named seats keep the labels asked for");
    }

    fn seat(label: &str, number: i32, taken: bool) -> HallSeat {
        HallSeat {
            id: Uuid::new_v4(),
            label: label.into(),
            section: None,
            row: Some("A".into()),
            number: Some(number),
            rank: None,
            position: number,
            taken,
        }
    }

    fn best(quantity: i32) -> Pending {
        Pending { quantity, best_available: true, ..ga(1) }
    }

    #[test]
    fn best_available_requests_take_the_best_seats_left_at_their_turn_and_say_which() {
        let mut hall = Hall::new((1..=6).map(|n| seat(&format!("A{n}"), n, false)).collect());
        let d = decide(&[best(2), seated(&["A4"]), best(2), best(2), best(1)], 6, &mut hall);
        assert_eq!(d.statuses, [Held, Rejected, Held, Held, Rejected]);
        assert_eq!(d.picked[0].as_deref(), Some(&["A3".to_string(), "A4".to_string()][..]));
        assert_eq!(d.picked[2].as_deref(), Some(&["A1".to_string(), "A2".to_string()][..]));
        assert_eq!(d.picked[3].as_deref(), Some(&["A5".to_string(), "A6".to_string()][..]));
        assert_eq!(d.reasons[4], Some(RejectionReason::SoldOut));
        assert_eq!(d.granted, 6);
    }
}
