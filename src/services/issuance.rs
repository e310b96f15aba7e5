//! Issuing a confirmed reservation's tickets, exactly once: one per unit (or seat), each with its
//! code and signed payload, and the reservation becomes `fulfilled`, all in one transaction.
//!
//! Exactly once holds whatever the job queue does: runs of one reservation queue on its row lock,
//! and a run that finds it `fulfilled` has nothing to do; the table's unique (reservation, unit)
//! refuses a second ticket for a unit even if that lock were skipped; and a crash before the
//! commit leaves nothing behind, so the retry starts from scratch.

use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

use super::{Error, Result, signing};
use crate::db::{self, tickets::Issuable, tickets::NewTicket};
use crate::domain::{ReservationStatus, TicketCode, TicketPayload, sign};

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuance {
    /// The tickets were issued now (how many rows this run inserted).
    Issued(u64),
    /// Another run had issued them: nothing to do.
    AlreadyFulfilled,
    /// Cancelled before its tickets were issued: none are.
    Cancelled,
}

/// Issues the reservation's tickets. Safe to run any number of times, concurrently. A reservation
/// that is neither confirmed nor fulfilled is a conflict: confirm is what enqueues issuance and no
/// confirmed reservation goes back, so that is a bug somewhere, and retrying cannot mend it.
#[instrument(skip_all, fields(reservation.id = %id))]
pub async fn issue(pool: &PgPool, id: Uuid) -> Result<Issuance> {
    let key = signing::ticket_key(pool).await?;
    let mut tx = pool.begin().await?;
    let lines = db::tickets::lock_issuable(&mut tx, id).await?;
    let r = lines.first().ok_or_else(|| Error::not_found("reservation", &id.to_string()))?;
    match r.status {
        ReservationStatus::Fulfilled => return Ok(Issuance::AlreadyFulfilled),
        ReservationStatus::Cancelled => return Ok(Issuance::Cancelled),
        ReservationStatus::Confirmed => {}
        ReservationStatus::Pending
        | ReservationStatus::Held
        | ReservationStatus::Rejected
        | ReservationStatus::Expired
        | ReservationStatus::Released => {
            let message = format!("reservation {id} is {}: only confirmed reservations get tickets", r.status);
            return Err(Error::conflict("NOT_CONFIRMED", message));
        }
    }
    let mut inserted = 0;
    for line in &lines {
        let tickets: Vec<NewTicket> = (1..=line.quantity).map(|unit| new_ticket(line, unit, &key)).collect();
        inserted += db::tickets::insert_missing(&mut tx, line, &tickets).await?;
    }
    let codes: Vec<String> = db::tickets::for_reservation(&mut tx, id).await?.into_iter().map(|t| t.code).collect();
    let issued = codes.len();
    let units: i32 = lines.iter().map(|line| line.quantity).sum();
    if issued != units as usize {
        // the constraints bound the count from above; this bounds it from below before committing
        return Err(anyhow::anyhow!("reservation {id} has {issued} tickets for {units} units").into());
    }
    if !db::reservations::mark_fulfilled(&mut tx, id).await? {
        return Err(anyhow::anyhow!("reservation {id} stopped being confirmed under its lock").into());
    }
    super::notify::tickets_issued(&mut tx, id, &codes).await?;
    tx.commit().await?;
    tracing::info!(reservation.id = %id, tickets = issued, "tickets issued");
    Ok(Issuance::Issued(inserted))
}

fn new_ticket(r: &Issuable, unit: i32, key: &ed25519_dalek::SigningKey) -> NewTicket {
    let code = TicketCode::generate().to_string();
    // seats are issued in the order the buyer listed them
    let seat = r.seat_labels.as_ref().and_then(|labels| labels.get(unit as usize - 1)).cloned();
    let payload = TicketPayload {
        code: code.clone(),
        event_id: r.event_id.clone(),
        holder: r.user_id.clone(),
        issued_at: TicketPayload::issued_at(r.now),
        offer_id: r.offer_id.clone(),
        representation_id: r.representation_id.clone(),
        seat: seat.clone(),
    }
    .canonical_json();
    let signature = sign(key, &payload).to_vec();
    NewTicket { code, unit, seat_label: seat, payload, signature }
}
