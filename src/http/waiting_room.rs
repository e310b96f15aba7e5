//! The waiting-room page a shop sends its buyers to: `GET /queue/{event_id}?entry=&token=` (the
//! entry's id and token, from joining). It shows the event, where the entry stands, and follows
//! the entry's stream; once admitted it sends the browser to the queue's `return_url` with
//! `queue_pass` and `entry` added. HTML, CSS and a little plain JavaScript, embedded in the binary.
//!
//! Without JavaScript the page reloads itself every [`REFRESH_SECS`] (and, admitted, goes to the
//! shop by the same means). The token is in the address: the page is never cached and sends no
//! referrer, and its content security policy lets it load only its own script and style.

use std::sync::Arc;

use chrono::SecondsFormat;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Response, handler};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::markup::escape;
use crate::domain::queue::EntryState;
use crate::services::Error;
use crate::services::virtual_queue::{self, PassKey, WaitingRoom};

const PAGE: &str = include_str!("waiting_room/page.html");
const SCRIPT: &str = include_str!("waiting_room/room.js");
const STYLE: &str = include_str!("waiting_room/room.css");

/// Without JavaScript, the page reloads itself this often (seconds).
const REFRESH_SECS: u32 = 10;

/// Where the page's own script and style are served.
pub const SCRIPT_PATH: &str = "/waiting-room/room.js";
pub const STYLE_PATH: &str = "/waiting-room/room.css";

/// What a path segment or a query value keeps as it is: RFC 3986's unreserved characters.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    entry: Option<String>,
    token: Option<String>,
}

#[handler]
pub async fn page(
    Path(event_id): Path<String>,
    Query(query): Query<PageQuery>,
    pool: Data<&PgPool>,
    passes: Data<&Arc<PassKey>>,
) -> Response {
    let entry = query.entry.as_deref().and_then(|e| Uuid::parse_str(e.trim()).ok());
    let (Some(entry_id), Some(token)) = (entry, query.token) else {
        return message(StatusCode::NOT_FOUND, "This waiting-room link is not complete", NOT_VALID);
    };
    match virtual_queue::waiting_room(&pool, &passes, &event_id, entry_id, token.trim()).await {
        Ok(room) => html(StatusCode::OK, render(&room, token.trim())),
        Err(Error::NotFound { .. } | Error::Conflict { .. }) => {
            message(StatusCode::NOT_FOUND, "This waiting-room link is not valid", NOT_VALID)
        }
        Err(Error::Unavailable(_)) => {
            let mut resp = message(StatusCode::SERVICE_UNAVAILABLE, "One moment", BUSY);
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "the waiting room could not be shown");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", BUSY)
        }
    }
}

const NOT_VALID: &str = "Go back to the shop and open the waiting room from there again.";
const BUSY: &str = "The waiting room cannot be shown right now. This page tries again in a few seconds.";

#[handler]
pub fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

#[handler]
pub fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    Response::builder()
        .content_type(content_type)
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(body)
}

fn html(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_SECURITY_POLICY, POLICY)
        .body(body)
}

/// A page that only says something (a bad link, a busy server), reloading itself when busy.
fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let refresh = if status.is_server_error() { "<meta http-equiv=\"refresh\" content=\"5\">\n" } else { "" };
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n{refresh}\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"{STYLE_PATH}\">\n</head>\n\
         <body>\n<main>\n<p class=\"kicker\">Waiting room</p>\n<h1>{title}</h1>\n<p>{text}</p>\n</main>\n</body>\n</html>\n",
        title = escape(title),
        text = escape(text),
    );
    html(status, body)
}

/// The shop's page with the pass, where an admitted buyer goes.
fn shop_with_pass(return_url: &str, pass: &str, entry_id: Uuid) -> Option<String> {
    let mut url = reqwest::Url::parse(return_url).ok()?;
    url.query_pairs_mut().append_pair("queue_pass", pass).append_pair("entry", &entry_id.to_string());
    Some(url.into())
}

fn wait_text(seconds: Option<i64>) -> String {
    match seconds {
        None => String::new(),
        Some(s) if s < 60 => "less than a minute".into(),
        Some(s) if (s + 30) / 60 == 1 => "about a minute".into(),
        Some(s) => format!("about {} minutes", (s + 30) / 60),
    }
}

fn render(room: &WaitingRoom, token: &str) -> String {
    let entry = &room.entry;
    let state = entry.standing.state;
    let next = match (state, &entry.pass, &room.return_url) {
        (EntryState::Admitted, Some(pass), Some(back)) => shop_with_pass(back, pass, entry.id),
        _ => None,
    };
    let refresh = match (&next, state) {
        (Some(url), _) => format!("<meta http-equiv=\"refresh\" content=\"0;url={}\">", escape(url)),
        (None, EntryState::Expired) => String::new(),
        (None, _) => format!("<noscript><meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\"></noscript>"),
    };
    let go = match (&next, &entry.pass) {
        (Some(url), _) => {
            format!("Taking you to the shop\u{2026} <a href=\"{}\">Continue to the shop</a>", escape(url))
        }
        (None, Some(pass)) => format!("Go back to the shop and reserve with your pass: <code>{}</code>", escape(pass)),
        (None, None) => String::new(),
    };
    let shop_link = match &room.return_url {
        Some(back) => format!(" <a href=\"{}\">Back to the shop</a>", escape(back)),
        None => String::new(),
    };
    let stream = format!(
        "/api/events/{}/queue/{}/stream?token={}",
        utf8_percent_encode(&entry.event_id, ENCODED),
        entry.id,
        utf8_percent_encode(token, ENCODED),
    );
    let hidden = |shown: EntryState| if shown == state { "" } else { " hidden" };
    let status = match state {
        EntryState::Expired => String::new(),
        _ => format!("Without JavaScript, this page refreshes every {REFRESH_SECS} seconds."),
    };
    let fills: [(&str, String); 17] = [
        ("{{title}}", escape(&room.event_title)),
        ("{{refresh}}", refresh),
        ("{{stream}}", escape(&stream)),
        ("{{return_url}}", escape(room.return_url.as_deref().unwrap_or(""))),
        ("{{entry}}", entry.id.to_string()),
        ("{{hidden_pre_queue}}", hidden(EntryState::PreQueue).into()),
        ("{{hidden_waiting}}", hidden(EntryState::Waiting).into()),
        ("{{hidden_admitted}}", hidden(EntryState::Admitted).into()),
        ("{{hidden_sold_out}}", hidden(EntryState::SoldOut).into()),
        ("{{hidden_expired}}", hidden(EntryState::Expired).into()),
        ("{{sale_opens_at}}", room.sale_opens_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        ("{{sale_opens_at_text}}", room.sale_opens_at.format("%A %-d %B %Y, %H:%M UTC").to_string()),
        ("{{position}}", entry.standing.position.map(|p| p.to_string()).unwrap_or_default()),
        ("{{wait}}", wait_text(entry.standing.estimated_wait_seconds)),
        ("{{go}}", go),
        ("{{shop_link}}", shop_link),
        ("{{status}}", status),
    ];
    // filled in one pass, so that nothing a value contains is taken for a placeholder
    let mut out = String::with_capacity(PAGE.len() + 512);
    let mut rest = PAGE;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").map_or(rest.len(), |e| start + e + 2);
        let name = &rest[start..end];
        match fills.iter().find(|(placeholder, _)| *placeholder == name) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(name),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shop_gets_the_pass_and_the_entry_added_to_its_own_query() {
        let id = Uuid::nil();
        let url = shop_with_pass("https://shop.example/back?step=2", "a.b", id).unwrap();
        assert_eq!(url, format!("https://shop.example/back?step=2&queue_pass=a.b&entry={id}"));
    }

    #[test]
    fn the_wait_reads_in_minutes() {
        assert_eq!(wait_text(Some(10)), "less than a minute");
        assert_eq!(wait_text(Some(80)), "about a minute");
        assert_eq!(wait_text(Some(600)), "about 10 minutes");
        assert_eq!(wait_text(None), "");
    }
}
