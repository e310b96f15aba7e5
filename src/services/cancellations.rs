//! Cancel a paid reservation, or void one ticket: what an organizer does when a buyer is refunded.
//! Either voids the tickets, gives the units back to the stock, offers them to the waiting list
//! first, records the refund and tells the buyer, all in one transaction under the item's lock
//! (as every writer of an item). Both are idempotent: doing it again answers the same.

use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

use super::auth::require_manager_of;
use super::tickets::parse_code;
use super::{Error, Result, notify, stock};
use crate::db::{self, refunds::NewRefund};
use crate::domain::records::{Reservation, Ticket};
use crate::domain::{Principal, ReservationStatus};

/// Cancels a confirmed or fulfilled reservation of the caller's organization (admins: any).
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
    db::inventory::lock(&mut tx, &r.offer_id, &r.representation_id).await?;
    let status = db::reservations::lock_status(&mut tx, id).await?.ok_or_else(not_found)?;
    match status {
        ReservationStatus::Cancelled => {}
        ReservationStatus::Confirmed | ReservationStatus::Fulfilled => {
            let codes = db::tickets::void_of_reservation(&mut tx, id, reason).await?;
            let units = r.quantity - db::refunds::units_refunded(&mut tx, id).await?;
            if !db::reservations::cancel(&mut tx, id, reason).await? {
                return Err(anyhow::anyhow!("reservation {id} stopped being paid under its lock").into());
            }
            db::inventory::unsell(&mut tx, &r.offer_id, &r.representation_id, units).await?;
            let refund = NewRefund {
                reservation_id: id,
                ticket_code: None,
                offer_id: &r.offer_id,
                representation_id: &r.representation_id,
                units,
                reason,
                reference: refund_reference,
            };
            db::refunds::insert(&mut tx, &refund).await?;
            stock::promote(&mut tx, &r.offer_id, &r.representation_id).await?;
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

/// Voids one ticket of the caller's organization (admins: any); its unit comes back on sale.
#[instrument(skip_all)]
pub async fn void_ticket(pool: &PgPool, who: &Principal, raw_code: &str, reason: &str) -> Result<Ticket> {
    let code = parse_code(raw_code)?;
    let not_found = || Error::not_found("ticket", code.as_str());
    let mut tx = pool.begin().await?;
    let ticket = db::tickets::find(&mut tx, code.as_str()).await?.ok_or_else(not_found)?;
    require_manager_of(who, &ticket.organization_id)?;
    db::inventory::lock(&mut tx, &ticket.offer_id, &ticket.representation_id).await?;
    db::reservations::lock_status(&mut tx, ticket.reservation_id).await?;
    if db::tickets::void_one(&mut tx, code.as_str(), reason).await? {
        if let Some(label) = &ticket.seat_label {
            db::reservations::free_seat(&mut tx, ticket.reservation_id, label).await?;
        }
        db::inventory::unsell(&mut tx, &ticket.offer_id, &ticket.representation_id, 1).await?;
        let refund = NewRefund {
            reservation_id: ticket.reservation_id,
            ticket_code: Some(code.as_str()),
            offer_id: &ticket.offer_id,
            representation_id: &ticket.representation_id,
            units: 1,
            reason,
            reference: None,
        };
        db::refunds::insert(&mut tx, &refund).await?;
        stock::promote(&mut tx, &ticket.offer_id, &ticket.representation_id).await?;
        let codes = [code.to_string()];
        notify::tickets_voided(&mut tx, ticket.reservation_id, code.as_str(), &codes, reason, None).await?;
        tracing::info!(ticket.code = %code, "ticket voided");
    }
    let voided = db::tickets::find(&mut tx, code.as_str()).await?.ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(voided)
}
