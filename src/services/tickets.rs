//! Tickets from the buyer's and the door's side: read them, draw their QR code, check them in.

use qrcode::QrCode;
use qrcode::render::svg;
use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

use super::auth::{require_buyer_agent, require_buyer_agent_of};
use super::{Error, Result};
use crate::db;
use crate::domain::records::Ticket;
use crate::domain::{Principal, TicketCode, qr_content};

/// A code as typed (any case, dashes or not), or 404: a malformed code names no ticket.
pub(super) fn parse_code(raw: &str) -> Result<TicketCode> {
    TicketCode::parse(raw).ok_or_else(|| Error::not_found("ticket", raw))
}

/// A reservation's tickets: empty until issued, so clients can poll after confirming.
pub async fn for_reservation(pool: &PgPool, who: &Principal, reservation_id: Uuid) -> Result<Vec<Ticket>> {
    require_buyer_agent(who)?;
    let mut conn = pool.acquire().await?;
    let Some(r) = db::reservations::find(&mut conn, reservation_id).await? else {
        return Err(Error::not_found("reservation", &reservation_id.to_string()));
    };
    require_buyer_agent_of(who, &r.organization_id)?;
    Ok(db::tickets::for_reservation(&mut conn, reservation_id).await?)
}

pub async fn get(pool: &PgPool, who: &Principal, raw_code: &str) -> Result<Ticket> {
    require_buyer_agent(who)?;
    let code = parse_code(raw_code)?;
    let mut conn = pool.acquire().await?;
    let ticket =
        db::tickets::find(&mut conn, code.as_str()).await?.ok_or_else(|| Error::not_found("ticket", code.as_str()))?;
    require_buyer_agent_of(who, &ticket.organization_id)?;
    Ok(ticket)
}

/// What the ticket's QR code holds: its signed payload.
pub fn qr_of(t: &Ticket) -> String {
    qr_content(&t.payload, &t.signature)
}

/// The ticket's QR code as an SVG image, with a quiet zone, large enough to scan from a screen.
pub async fn qr_svg(pool: &PgPool, who: &Principal, raw_code: &str) -> Result<String> {
    let ticket = get(pool, who, raw_code).await?;
    let code = QrCode::new(qr_of(&ticket).as_bytes()).map_err(|e| anyhow::anyhow!("QR encoding failed: {e}"))?;
    Ok(code.render::<svg::Color>().min_dimensions(320, 320).build())
}

/// Checks a ticket in at the door. The first scan wins (a conditional update); any later one is
/// a 409 `ALREADY_CHECKED_IN` saying when the first was; a voided ticket is a 409 `TICKET_VOIDED`.
#[instrument(skip_all)]
pub async fn check_in(pool: &PgPool, who: &Principal, raw_code: &str) -> Result<Ticket> {
    require_buyer_agent(who)?;
    let code = parse_code(raw_code)?;
    let mut conn = pool.acquire().await?;
    // whose door it is, before anything changes
    let ticket =
        db::tickets::find(&mut conn, code.as_str()).await?.ok_or_else(|| Error::not_found("ticket", code.as_str()))?;
    require_buyer_agent_of(who, &ticket.organization_id)?;
    if let Some(done) = db::tickets::check_in(&mut conn, code.as_str()).await? {
        tracing::info!(ticket.code = %code, "checked in");
        return Ok(done);
    }
    let ticket =
        db::tickets::find(&mut conn, code.as_str()).await?.ok_or_else(|| Error::not_found("ticket", code.as_str()))?;
    if ticket.voided_at.is_some() {
        return Err(Error::conflict("TICKET_VOIDED", format!("ticket {code} was voided: it cannot get in")));
    }
    match ticket.checked_in_at {
        // the time as the API writes times, so a client can match it with the first answer
        Some(first) => Err(Error::conflict(
            "ALREADY_CHECKED_IN",
            format!("ticket {code} was already checked in at {}", first.to_rfc3339()),
        )),
        None => {
            Err(anyhow::anyhow!("ticket {code} could not be checked in, yet is neither checked in nor voided").into())
        }
    }
}
