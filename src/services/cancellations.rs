//! Cancel a paid reservation, or void one ticket: what an organizer does when a buyer is refunded.
//! Either voids the tickets, gives the units back to their pools, offers them to the waiting lists
//! first, records the refund and tells the buyer, all in one transaction under the pools' locks
//! (as every writer of a pool). Both are idempotent: doing it again answers the same.

use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

use super::auth::require_manager_of;
use super::tickets::parse_code;
use super::{Error, Result, notify, stock};
use crate::db::{self, refunds::NewRefund};
use crate::domain::records::{Reservation, Ticket};
use crate::domain::{Principal, ReservationStatus};

/// Cancels a confirmed or fulfilled reservation of the caller's organization (admins: any): every
/// line of an order at once.
#[instrument(skip_all, fields(reservation.id = %id))]
pub async fn cancel(
    pool: &PgPool,
    who: &Principal,
    id: Uuid,
    reason: &str,
    refund_reference: Option<&str>,
) -> Result<Reservation> {
    let not_found = || Error::not_found("reservation", &id.to_string());
    let mut tx = pool.begin().await?;
    let r = db::reservations::find(&mut tx, id).await?.ok_or_else(not_found)?;
    require_manager_of(who, &r.organization_id)?;
    let pools = r.pools();
    db::pools::lock_many(&mut tx, &pools).await?;
    let status = db::reservations::lock_status(&mut tx, id).await?.ok_or_else(not_found)?;
    match status {
        ReservationStatus::Cancelled => {}
        ReservationStatus::Confirmed | ReservationStatus::Fulfilled => {
            let codes = db::tickets::void_of_reservation(&mut tx, id, reason).await?;
            if !db::reservations::cancel(&mut tx, id, reason).await? {
                return Err(anyhow::anyhow!("reservation {id} stopped being paid under its lock").into());
            }
            // each line gives back what its voided tickets have not given back already, and
            // records its refund (one per line: a line's refund names its offer and price)
            let mut moves = Vec::new();
            let mut units = 0;
            for line in &r.lines {
                let back = line.quantity - db::refunds::units_refunded(&mut tx, line.row_id).await?;
                moves.push((line.pool_id.clone(), back, 0, -back));
                units += back;
                let refund = NewRefund {
                    reservation_id: line.row_id,
                    ticket_code: None,
                    offer_id: &line.offer_id,
                    representation_id: &line.representation_id,
                    units: back,
                    reason,
                    reference: refund_reference,
                };
                db::refunds::insert(&mut tx, &refund).await?;
            }
            db::pools::adjust(&mut tx, &moves).await?;
            for pool_id in &pools {
                stock::promote(&mut tx, pool_id).await?;
            }
            notify::tickets_voided(&mut tx, id, "cancelled", &codes, reason, refund_reference).await?;
            tracing::info!(units, tickets = codes.len(), "reservation cancelled");
        }
        ReservationStatus::Pending
        | ReservationStatus::Held
        | ReservationStatus::Rejected
        | ReservationStatus::Expired
        | ReservationStatus::Released => {
            let message =
                format!("only a confirmed or fulfilled reservation can be cancelled; this one is {}", r.status);
            return Err(Error::conflict("NOT_CANCELLABLE", message));
        }
    }
    let cancelled = db::reservations::find(&mut tx, id).await?.ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(cancelled)
}

/// Voids one ticket of the caller's organization (admins: any); its unit comes back on sale, to
/// the pool its line draws from.
#[instrument(skip_all)]
pub async fn void_ticket(pool: &PgPool, who: &Principal, raw_code: &str, reason: &str) -> Result<Ticket> {
    let code = parse_code(raw_code)?;
    let not_found = || Error::not_found("ticket", code.as_str());
    let mut tx = pool.begin().await?;
    let ticket = db::tickets::find(&mut tx, code.as_str()).await?.ok_or_else(not_found)?;
    require_manager_of(who, &ticket.organization_id)?;
    let pool_id = db::pools::lock_of_item(&mut tx, &ticket.offer_id, &ticket.representation_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("ticket {code} has an item without a pool"))?;
    db::reservations::lock_status(&mut tx, ticket.reservation_id).await?;
    if db::tickets::void_one(&mut tx, code.as_str(), reason).await? {
        if let Some(label) = &ticket.seat_label {
            db::reservations::free_seat(&mut tx, ticket.reservation_id, label).await?;
        }
        db::pools::unsell(&mut tx, &pool_id, 1).await?;
        let refund = NewRefund {
            reservation_id: ticket.line_id,
            ticket_code: Some(code.as_str()),
            offer_id: &ticket.offer_id,
            representation_id: &ticket.representation_id,
            units: 1,
            reason,
            reference: None,
        };
        db::refunds::insert(&mut tx, &refund).await?;
        stock::promote(&mut tx, &pool_id).await?;
        let codes = [code.to_string()];
        notify::tickets_voided(&mut tx, ticket.reservation_id, code.as_str(), &codes, reason, None).await?;
        tracing::info!(ticket.code = %code, "ticket voided");
    }
    let voided = db::tickets::find(&mut tx, code.as_str()).await?.ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(voided)
}
