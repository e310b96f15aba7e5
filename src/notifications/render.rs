//! What each kind of notification says: a plain-text email, and the webhook's JSON. Rendering
//! never fails: a key missing from the payload leaves its line out rather than blocking delivery.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::NotificationKind;

/// An email's subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

/// The webhook body: `{"id", "kind", "created_at", "user_id", "data"}`, `data` being the payload.
/// Built from stored values only, so every attempt sends the same bytes.
pub fn webhook_body(
    id: Uuid,
    kind: NotificationKind,
    user_id: &str,
    created_at: DateTime<Utc>,
    payload: &Value,
) -> Vec<u8> {
    let body = json!({
        "id": id,
        "kind": kind.as_str(),
        "created_at": created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "user_id": user_id,
        "data": payload,
    });
    serde_json::to_vec(&body).expect("JSON values serialize")
}

/// The email for `kind`, addressed to `first_name` (may be empty).
pub fn email(id: Uuid, kind: NotificationKind, first_name: &str, payload: &Value) -> Rendered {
    let title = text(payload, "event_title").unwrap_or_else(|| "your event".into());
    let quantity = payload.get("quantity").and_then(Value::as_i64);
    let tickets = |n: i64| if n == 1 { "1 ticket".to_string() } else { format!("{n} tickets") };
    let (subject, opening) = match kind {
        NotificationKind::TicketsIssued => (format!("Your tickets for {title}"), "Your tickets are ready.".to_string()),
        NotificationKind::HoldExpired => (
            format!("Your hold for {title} has expired"),
            format!(
                "Your hold on {} ended before it was confirmed, so they went back on sale. \
                 You can ask again while tickets are available.",
                quantity.map(tickets).unwrap_or_else(|| "your tickets".into())
            ),
        ),
        NotificationKind::TicketsVoided => {
            let reason = text(payload, "reason").map(|r| format!(" The organizer said: {r}.")).unwrap_or_default();
            let refund =
                text(payload, "refund_reference").map(|r| format!(" Refund reference: {r}.")).unwrap_or_default();
            (
                format!("Your tickets for {title} were cancelled"),
                format!("The organizer cancelled the tickets listed below; they no longer get in.{reason}{refund}"),
            )
        }
        NotificationKind::WaitlistOffer => {
            let until = time(payload, "offer_expires_at").map(|t| format!(" until {t}")).unwrap_or_default();
            (
                format!("Tickets are waiting for you: {title}"),
                format!(
                    "Good news from the waiting list: {} {} held for you{until}. Confirm before then, \
                     or they go to the next person in line.",
                    quantity.map(tickets).unwrap_or_else(|| "tickets".into()),
                    if quantity == Some(1) { "is" } else { "are" },
                ),
            )
        }
    };
    let greeting =
        if first_name.trim().is_empty() { "Hello,".to_string() } else { format!("Hello {},", first_name.trim()) };
    let mut lines = vec![greeting, String::new(), opening, String::new(), format!("Event: {title}")];
    lines.extend(time(payload, "performance_starts_at").map(|t| format!("Performance: {t}")));
    lines.extend(text(payload, "venue_name").map(|v| format!("Venue: {v}")));
    lines.extend(text(payload, "reservation_id").map(|r| format!("Reservation: {r}")));
    let codes: Vec<String> = payload
        .get("ticket_codes")
        .and_then(Value::as_array)
        .map(|codes| codes.iter().filter_map(|c| c.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if kind == NotificationKind::TicketsIssued && !codes.is_empty() {
        lines.push(String::new());
        lines.push(format!("Your ticket codes ({}):", codes.len()));
        lines.extend(codes.iter().map(|c| format!("  {c}")));
        lines.push(String::new());
        lines.push("Show a ticket's code or its QR code at the door: each admits one person, once.".into());
    }
    if kind == NotificationKind::TicketsVoided && !codes.is_empty() {
        lines.push(String::new());
        lines.push(format!("Cancelled ticket codes ({}):", codes.len()));
        lines.extend(codes.iter().map(|c| format!("  {c}")));
    }
    lines.push(String::new());
    lines.push(format!("Reference: {id}"));
    Rendered { subject, text: lines.join("\n") + "\n" }
}

fn text(payload: &Value, key: &str) -> Option<String> {
    match payload.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An RFC 3339 time as people read it, in the offset it was given in; anything else as it is.
fn time(payload: &Value, key: &str) -> Option<String> {
    let raw = text(payload, key)?;
    Some(match DateTime::parse_from_rfc3339(&raw) {
        Ok(t) => t.format("%A %-d %B %Y, %H:%M (UTC%:z)").to_string(),
        Err(_) => raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tickets_email_lists_every_code_and_the_performance() {
        let payload = json!({
            "event_title": "Jazz night", "performance_starts_at": "2027-06-01T20:00:00+02:00",
            "venue_name": "Olympia", "reservation_id": "r-1", "ticket_codes": ["AAAA-BBBB", "CCCC-DDDD"],
        });
        let email = email(Uuid::nil(), NotificationKind::TicketsIssued, "Ada", &payload);
        assert_eq!(email.subject, "Your tickets for Jazz night");
        for expected in
            ["Hello Ada,", "Tuesday 1 June 2027, 20:00 (UTC+02:00)", "Olympia", "  AAAA-BBBB", "  CCCC-DDDD"]
        {
            assert!(email.text.contains(expected), "{expected} missing from:\n{}", email.text);
        }
    }

    #[test]
    fn a_sparse_payload_still_renders() {
        let email = email(Uuid::nil(), NotificationKind::WaitlistOffer, "", &json!({"quantity": 1}));
        assert!(email.text.starts_with("Hello,\n"));
        assert!(email.text.contains("1 ticket is held for you"));
        assert!(email.subject.contains("your event"));
    }

    #[test]
    fn the_webhook_body_wraps_the_payload() {
        let at = DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z").unwrap().to_utc();
        let body = webhook_body(Uuid::nil(), NotificationKind::HoldExpired, "u1", at, &json!({"quantity": 2}));
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["kind"], "hold_expired");
        assert_eq!(value["data"]["quantity"], 2);
        assert_eq!(value["created_at"], "2027-01-01T00:00:00.000000Z");
    }
}
