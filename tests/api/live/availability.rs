//! `GET /api/representations/{id}/availability/stream`: the current availability at once, an event
//! per change, resumption with `Last-Event-ID`, and the subscriber limit.

use std::time::Duration;

use poem::http::StatusCode;
use serde_json::json;

use super::open;
use crate::support::TestApp;

fn stream_of(rep: &str) -> String {
    format!("/api/representations/{rep}/availability/stream")
}

#[tokio::test]
async fn the_first_event_is_the_availability_now_and_each_change_follows() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(5).await;
    let _workers = app.start_workers();
    let mut events = open(&app, &stream_of(&rep), None).await;

    let first = events.next().await;
    assert_eq!(first.event, "availability");
    let now = app.get(&format!("/api/representations/{rep}/availability"), None).await.expect(StatusCode::OK);
    assert_eq!(first.data, now, "the same JSON as GET .../availability");
    assert_eq!(first.data["offers"][0]["available"], 5);
    assert_eq!(
        first.id,
        chrono::DateTime::parse_from_rfc3339(now["as_of"].as_str().unwrap()).unwrap().timestamp_micros().to_string()
    );

    let user = app.create_user().await;
    assert_eq!(app.reserve_now(&user, &offer, &rep, 2).await["status"], "held");
    let after = events.next().await;
    assert_eq!(after.data["offers"][0]["available"], 3, "{:#}", after.data);
    assert_eq!(after.data["offers"][0]["held"], 2);
    assert!(after.id.parse::<i64>().unwrap() > first.id.parse::<i64>().unwrap(), "ids increase");
    assert!(after.data["as_of"].as_str().unwrap() > first.data["as_of"].as_str().unwrap());
}

/// What the last of the events that come at once says is available (a change committed a moment
/// ago may reach the stream just after its first event).
async fn latest_available(events: &mut super::Events) -> i64 {
    let mut available = events.next().await.data["offers"][0]["available"].as_i64().unwrap();
    while let Some(event) = events.next_within(Duration::from_millis(300)).await {
        available = event.data["offers"][0]["available"].as_i64().unwrap();
    }
    available
}

#[tokio::test]
async fn last_event_id_resumes_with_nothing_if_nothing_changed_and_the_current_state_otherwise() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(5).await;
    let _workers = app.start_workers();
    let first = open(&app, &stream_of(&rep), None).await.next().await;

    // nothing changed since: nothing is sent until the next change
    let mut resumed = open(&app, &stream_of(&rep), Some(&first.id)).await;
    assert!(resumed.next_within(Duration::from_millis(500)).await.is_none(), "nothing new to send");
    let path = format!("/api/offers/{offer}/representations/{rep}/inventory");
    app.put(&path, Some(&app.admin), json!({"total_stock": 7})).await.expect(StatusCode::OK);
    assert_eq!(resumed.next().await.data["offers"][0]["available"], 7, "then the change");

    // a change since the id: the current state at once
    let user = app.create_user().await;
    assert_eq!(app.reserve_now(&user, &offer, &rep, 1).await["status"], "held");
    let mut behind = open(&app, &stream_of(&rep), Some(&first.id)).await;
    assert_eq!(latest_available(&mut behind).await, 6);
    // an id that is not ours: the current state too
    let mut odd = open(&app, &stream_of(&rep), Some("yesterday")).await;
    assert_eq!(latest_available(&mut odd).await, 6);
}

#[tokio::test]
async fn many_changes_in_a_moment_arrive_coalesced_ending_on_the_latest() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(100).await;
    let mut events = open(&app, &stream_of(&rep), None).await;
    events.next().await;
    let path = format!("/api/offers/{offer}/representations/{rep}/inventory");
    for total in 101..=130 {
        app.put(&path, Some(&app.admin), json!({"total_stock": total})).await.expect(StatusCode::OK);
    }
    let mut received = Vec::new();
    while let Some(event) = events.next_within(Duration::from_millis(800)).await {
        received.push(event.data["offers"][0]["total"].as_i64().unwrap());
    }
    assert_eq!(received.last(), Some(&130), "the latest state arrives: {received:?}");
    assert!(received.len() < 30, "30 changes are not 30 events: {received:?}");
    assert!(received.windows(2).all(|w| w[0] < w[1]), "never an older state after a newer: {received:?}");
}

#[tokio::test]
async fn a_representation_that_does_not_exist_is_a_404() {
    let app = TestApp::new().await;
    app.get(&stream_of("nope"), None).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn beyond_the_subscriber_limit_a_stream_is_refused_with_503_and_retry_after() {
    let limits = boxoffice::http::Limits { max_subscribers: 2, ..Default::default() };
    let app = TestApp::with_limits(limits).await;
    let (_, rep, _) = app.on_sale(5).await;
    let one = open(&app, &stream_of(&rep), None).await;
    let _two = open(&app, &stream_of(&rep), None).await;
    let refused = app.get(&stream_of(&rep), None).await;
    refused.expect_error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE");
    assert!(refused.headers.contains_key("retry-after"));
    // a subscriber who leaves makes room
    drop(one);
    open(&app, &stream_of(&rep), None).await.next().await;
}

#[tokio::test]
async fn when_the_change_feed_is_cut_subscribers_get_the_current_state_once_it_is_heard_again() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(5).await;
    let mut events = open(&app, &stream_of(&rep), None).await;
    events.next().await;
    // the process's listening connection is cut, as when the database restarts; what changes
    // meanwhile is not heard, and is read again once the API listens again
    let cut: i64 = sqlx::query_scalar(
        "select count(pg_terminate_backend(pid)) from pg_stat_activity
         where datname = current_database() and query ilike 'listen%'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(cut, 1, "one listening connection per API process");
    let path = format!("/api/offers/{offer}/representations/{rep}/inventory");
    app.put(&path, Some(&app.admin), json!({"total_stock": 9})).await.expect(StatusCode::OK);
    let mut total = 0;
    while let Some(event) = events.next_within(Duration::from_secs(5)).await {
        total = event.data["offers"][0]["total"].as_i64().unwrap();
        if total == 9 {
            break;
        }
    }
    assert_eq!(total, 9, "the current state arrives after the listener is back");
}
