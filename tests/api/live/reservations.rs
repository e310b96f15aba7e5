//! `GET /api/reservations/{id}/stream`: the reservation's JSON on every change of status, ending
//! after a settled state; readable by the keys that may read the reservation, no other.

use std::time::Duration;

use poem::http::StatusCode;

use super::open_with;
use crate::support::TestApp;

#[tokio::test]
async fn a_reservation_is_followed_from_pending_to_its_tickets_and_the_stream_ends() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(5).await;
    let user = app.create_user().await;
    let id = app.reserve(&user, &offer, &rep, 2).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    let path = format!("/api/reservations/{id}/stream");
    let mut events = open_with(&app, &path, Some(&app.client), None).await;

    let pending = events.next().await;
    assert_eq!((pending.event.as_str(), pending.data["status"].as_str()), ("reservation", Some("pending")));
    let read = app.get(&format!("/api/reservations/{id}"), Some(&app.client)).await.expect(StatusCode::OK);
    let mut without_as_of = pending.data.clone();
    without_as_of.as_object_mut().unwrap().remove("as_of");
    assert_eq!(without_as_of, read, "the JSON of GET /reservations/{{id}}, with as_of");
    assert_eq!(pending.data["as_of"], read["created_at"]);

    let _workers = app.start_workers();
    let held = events.next().await;
    assert_eq!(held.data["status"], "held");
    assert_eq!(held.data["as_of"], held.data["decided_at"]);
    app.confirm(&id).await.expect(StatusCode::OK);
    let mut statuses = vec![];
    while let Some(event) = events.next_within(Duration::from_secs(10)).await {
        statuses.push(event.data["status"].as_str().unwrap().to_string());
        if statuses.last().is_some_and(|s| s == "fulfilled") {
            break;
        }
    }
    // confirmed may be coalesced into fulfilled when the tickets come within 100 ms
    assert_eq!(statuses.last().map(String::as_str), Some("fulfilled"), "{statuses:?}");
    assert!(events.ends_within(Duration::from_secs(2)).await, "the stream ends after a settled state");

    // resumed at its settled state: nothing follows, the stream ends at once
    let settled = open_with(&app, &path, Some(&app.client), None).await.next().await;
    let mut resumed = open_with(&app, &path, Some(&app.client), Some(&settled.id)).await;
    assert!(resumed.ends_within(Duration::from_secs(2)).await);
}

#[tokio::test]
async fn a_reservation_stream_needs_a_key_that_may_read_the_reservation() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(5).await;
    let user = app.create_user().await;
    let id = app.reserve(&user, &offer, &rep, 1).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    let path = format!("/api/reservations/{id}/stream");
    app.get(&path, None).await.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    // another organization's organizer reads neither the reservation nor its stream
    let stranger = app.organizer_key("SOMEONE_ELSE").await;
    let read = app.get(&format!("/api/reservations/{id}"), Some(&stranger)).await;
    let streamed = app.get(&path, Some(&stranger)).await;
    assert!(read.status.is_client_error(), "{:?}", read.body);
    assert_eq!((streamed.status, streamed.error_status()), (read.status, read.error_status()));
    let unknown = app.get("/api/reservations/not-a-uuid/stream", Some(&app.client)).await;
    let read = app.get("/api/reservations/not-a-uuid", Some(&app.client)).await;
    assert_eq!((unknown.status, unknown.error_status()), (read.status, read.error_status()), "as GET answers");
}
