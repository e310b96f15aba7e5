//! A queue entry, live: its stream (with the client's key or the entry's token) and the
//! waiting-room page.

use std::time::Duration;

use poem::http::{Method, StatusCode};
use poem::{Endpoint, Request};
use serde_json::Value;

use super::state;
use crate::live::{Events, open, open_with};
use crate::support::TestApp;

fn stream_path(event: &str, entry: &Value) -> String {
    format!("/api/events/{event}/queue/{}/stream", entry["id"].as_str().unwrap())
}

fn with_token(event: &str, entry: &Value, token: &Value) -> String {
    format!("{}?token={}", stream_path(event, entry), token.as_str().unwrap())
}

/// The status of opening `path` without a key (the stream is dropped at once).
async fn opening(app: &TestApp, path: &str) -> StatusCode {
    let req = Request::builder().method(Method::GET).uri(path.parse().unwrap()).finish();
    app.endpoint().call(req).await.unwrap().status()
}

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let req = Request::builder().method(Method::GET).uri(path.parse().unwrap()).finish();
    let resp = app.endpoint().call(req).await.unwrap();
    let status = resp.status();
    (status, resp.into_body().into_string().await.unwrap())
}

/// Admits one more place: one second of credit exactly (whatever time passed since the last
/// sweep), and a sweep.
pub(super) async fn admit_one(app: &TestApp, event: &str) {
    sqlx::query("update event_queues set credit_from = now() - interval '1 second' where event_id = $1")
        .bind(event)
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(app.sweep_queues().await.admitted, 1);
}

#[tokio::test]
async fn an_entry_stream_follows_the_pre_queue_the_draw_each_admission_and_the_pass() {
    let app = TestApp::new().await;
    let (event, _, _) = app.queued_sale(10, 60).await;
    let mut entries = Vec::new();
    for _ in 0..4 {
        let user = app.create_user().await;
        entries.push(app.joined(&event, &user).await);
    }
    let mine = &entries[0];
    let mut events = open_with(&app, &stream_path(&event, mine), Some(&app.client), None).await;
    let first = events.next().await;
    assert_eq!((first.event.as_str(), state(&first.data)), ("entry", "pre-queue"));
    assert_eq!(first.data["id"], mine["id"]);
    assert!(first.data["as_of"].is_string() && first.id.parse::<i64>().is_ok(), "{first:?}");

    app.open_sale(&event).await;
    let drawn = events.next().await;
    assert_eq!(state(&drawn.data), "waiting", "{drawn:?}");
    assert!(drawn.id.parse::<i64>().unwrap() > first.id.parse::<i64>().unwrap(), "ids grow");
    let mut position = drawn.data["position"].as_i64().unwrap();
    assert_eq!(position, app.queue_entry(&event, mine).await["position"].as_i64().unwrap());
    // each admission moves it up one place, until its own
    while position > 1 {
        admit_one(&app, &event).await;
        let moved = events.next().await;
        assert_eq!((state(&moved.data), moved.data["position"].as_i64()), ("waiting", Some(position - 1)));
        position -= 1;
    }
    admit_one(&app, &event).await;
    let admitted = events.next().await;
    assert_eq!(state(&admitted.data), "admitted", "{admitted:?}");
    assert!(admitted.data["pass"].as_str().is_some_and(|p| p.contains('.')));
    assert!(admitted.data["pass_expires_at"].is_string());
    // admitting someone else (a late arrival, behind everyone) changes nothing it shows: no event
    let late = app.create_user().await;
    app.joined(&event, &late).await;
    admit_one(&app, &event).await;
    assert!(events.next_within(Duration::from_millis(1500)).await.is_none());
}

#[tokio::test]
async fn an_entry_stream_tells_when_the_pass_expires_though_nothing_notifies_it() {
    let app = TestApp::new().await;
    let (event, _, _) = app.queued_sale(10, 60).await;
    let user = app.create_user().await;
    let mine = app.joined(&event, &user).await;
    app.open_sale(&event).await;
    admit_one(&app, &event).await;
    let mut events = open_with(&app, &stream_path(&event, &mine), Some(&app.client), None).await;
    assert_eq!(state(&events.next().await.data), "admitted");
    sqlx::query("update queue_entries set pass_expires_at = now() where id = $1::uuid")
        .bind(mine["id"].as_str().unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    let expired = events.next_within(Duration::from_secs(5)).await.expect("the expiry within seconds");
    assert_eq!(state(&expired.data), "expired");
    assert!(expired.data["pass"].is_null());
}

#[tokio::test]
async fn a_resumed_entry_stream_waits_for_a_change_unless_it_missed_one() {
    let app = TestApp::new().await;
    let (event, _, _) = app.queued_sale(10, 60).await;
    let (ann, bob) = (app.create_user().await, app.create_user().await);
    app.open_sale(&event).await;
    // after the draw, arrivals queue in arrival order: ann first, bob second
    app.joined(&event, &ann).await;
    let bobs = app.joined(&event, &bob).await;
    let path = stream_path(&event, &bobs);
    let first = open_with(&app, &path, Some(&app.client), None).await.next().await;
    assert_eq!(first.data["position"], 2);

    let mut resumed = open_with(&app, &path, Some(&app.client), Some(&first.id)).await;
    assert!(resumed.next_within(Duration::from_millis(1500)).await.is_none(), "it had the latest");
    admit_one(&app, &event).await;
    let moved = resumed.next().await;
    assert_eq!(moved.data["position"], 1);

    let mut behind: Events = open_with(&app, &path, Some(&app.client), Some(&first.id)).await;
    let caught_up = behind.next().await;
    assert_eq!((caught_up.id, caught_up.data["position"].as_i64()), (moved.id, Some(1)));
}

#[tokio::test]
async fn an_entry_token_opens_its_own_stream_and_page_and_nothing_else() {
    let app = TestApp::new().await;
    let (event, _, _) = app.queued_sale(10, 60).await;
    let (ann, bob) = (app.create_user().await, app.create_user().await);
    let (anns, bobs) = (app.joined(&event, &ann).await, app.joined(&event, &bob).await);
    let token = &anns["token"];
    assert!(token.as_str().is_some_and(|t| t.len() >= 40), "joining answers a token: {anns:#}");
    assert_ne!(token, &bobs["token"]);
    assert_eq!(app.queue_entry(&event, &anns).await["token"], *token, "reading the entry shows it too");

    let mut events = open(&app, &with_token(&event, &anns, token), None).await;
    assert_eq!(events.next().await.data["id"], anns["id"]);
    // another entry, a token cut short, no credential at all, another event's path
    assert_eq!(opening(&app, &with_token(&event, &bobs, token)).await, StatusCode::NOT_FOUND);
    let cut = Value::from(&token.as_str().unwrap()[1..]);
    assert_eq!(opening(&app, &with_token(&event, &anns, &cut)).await, StatusCode::NOT_FOUND);
    assert_eq!(opening(&app, &stream_path(&event, &anns)).await, StatusCode::UNAUTHORIZED);
    let (other_event, _, _) = app.queued_sale(5, 60).await;
    assert_eq!(opening(&app, &with_token(&other_event, &anns, token)).await, StatusCode::NOT_FOUND);

    // the page: its own entry only
    let id = |e: &Value| e["id"].as_str().unwrap().to_string();
    let t = token.as_str().unwrap();
    let (status, html) = page(&app, &format!("/queue/{event}?entry={}&token={t}", id(&anns))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("You are in the pre-queue") && html.contains(&format!("token={t}")), "{html}");
    let (status, html) = page(&app, &format!("/queue/{event}?entry={}&token={t}", id(&bobs))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("not valid") && !html.contains(&id(&bobs)), "{html}");
    assert_eq!(page(&app, &format!("/queue/{event}?entry={}", id(&anns))).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_waiting_room_page_shows_the_state_and_sends_an_admitted_buyer_to_the_shop() {
    let app = TestApp::new().await;
    let (event, _, _) = app.queued_sale(10, 60).await;
    app.set_queue(&event, serde_json::json!({"return_url": "https://shop.example/back?step=2"}))
        .await
        .expect(StatusCode::OK);
    let (ann, bob) = (app.create_user().await, app.create_user().await);
    app.open_sale(&event).await;
    let (anns, bobs) = (app.joined(&event, &ann).await, app.joined(&event, &bob).await);
    let url = |e: &Value| {
        format!("/queue/{event}?entry={}&token={}", e["id"].as_str().unwrap(), e["token"].as_str().unwrap())
    };
    let (status, html) = page(&app, &url(&bobs)).await;
    assert_eq!(status, StatusCode::OK);
    // the waiting section shown with the position, the others hidden; a refresh without JavaScript
    assert!(html.contains("<section data-state=\"waiting\">"), "{html}");
    assert!(html.contains("<section data-state=\"pre-queue\" hidden>"));
    assert!(html.contains("<span class=\"position\" aria-labelledby=\"position-label\">2</span>"));
    assert!(html.contains("<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>"));

    admit_one(&app, &event).await;
    let pass = app.queue_entry(&event, &anns).await["pass"].as_str().unwrap().to_string();
    let (_, html) = page(&app, &url(&anns)).await;
    let shop =
        format!("https://shop.example/back?step=2&amp;queue_pass={pass}&amp;entry={}", anns["id"].as_str().unwrap());
    assert!(html.contains(&format!("<meta http-equiv=\"refresh\" content=\"0;url={shop}\">")), "{html}");
    assert!(html.contains("<section data-state=\"admitted\">"));
}
