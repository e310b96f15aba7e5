//! `GET /api/representations/{id}/seatmap/stream`: the whole map first, then the seats that
//! changed; a fresh map for a client that missed a state.

use std::time::Duration;

use poem::http::StatusCode;
use serde_json::json;

use super::open;
use crate::support::TestApp;

#[tokio::test]
async fn the_seat_map_comes_first_then_only_the_seats_that_changed() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    app.add_seats(&offer, &rep, &["A1", "A2", "A3", "B1"]).await;
    let _workers = app.start_workers();
    let path = format!("/api/representations/{rep}/seatmap/stream");
    let mut events = open(&app, &path, None).await;

    let first = events.next().await;
    assert_eq!(first.event, "seatmap");
    let mut map = app.get(&format!("/api/representations/{rep}/seatmap"), None).await.expect(StatusCode::OK);
    map.as_object_mut().unwrap().insert("as_of".into(), first.data["as_of"].clone());
    assert_eq!(first.data, map, "the JSON of GET .../seatmap, with as_of");

    let user = app.create_user().await;
    assert_eq!(app.reserve_seats_now(&user, &offer, &rep, &["A2", "A3"]).await["status"], "held");
    let change = events.next().await;
    assert_eq!(change.event, "seats");
    assert_eq!(change.data["changes"], json!([{"label": "A2", "status": "HELD"}, {"label": "A3", "status": "HELD"}]));
    assert!(change.id.parse::<i64>().unwrap() > first.id.parse::<i64>().unwrap());

    // resumed behind the latest: a fresh map; at the latest: nothing until the next change
    let mut behind = open(&app, &path, Some(&first.id)).await;
    let fresh = behind.next().await;
    assert_eq!(fresh.event, "seatmap");
    assert_eq!(fresh.id, change.id);
    let mut current = open(&app, &path, Some(&change.id)).await;
    assert!(current.next_within(Duration::from_millis(500)).await.is_none());
    let other = app.create_user().await;
    assert_eq!(app.reserve_seats_now(&other, &offer, &rep, &["B1"]).await["status"], "held");
    let next = current.next().await;
    assert_eq!((next.event.as_str(), &next.data["changes"]), ("seats", &json!([{"label": "B1", "status": "HELD"}])));
}
