//! Finding events by place, date and availability.

use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

fn titles(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap().to_string()).collect()
}

/// Olympia (Paris), Zénith (Paris, 4.6 km away), Lyon (392 km), and one without a location.
async fn venues(app: &TestApp) -> [String; 4] {
    let olympia = app.create_event("BILLY", json!({"title": "Olympia"})).await;
    let zenith = app
        .create_event("BILLY", json!({"title": "Zenith", "venue_latitude": 48.8941, "venue_longitude": 2.3933}))
        .await;
    let lyon =
        app.create_event("BILLY", json!({"title": "Lyon", "venue_latitude": 45.764, "venue_longitude": 4.8357})).await;
    let nowhere =
        app.create_event("BILLY", json!({"title": "Online", "venue_latitude": null, "venue_longitude": null})).await;
    [olympia, zenith, lyon, nowhere]
}

#[tokio::test]
async fn events_near_a_point_come_nearest_first_with_their_distance() {
    let app = TestApp::new().await;
    venues(&app).await;
    // from the Eiffel tower
    let page = app.get("/api/events?near=48.8584,2.2945&radius_km=20", None).await.expect(StatusCode::OK);
    assert_eq!(titles(&page), ["Olympia", "Zenith"]);
    let d0 = page["items"][0]["distance_km"].as_f64().unwrap();
    let d1 = page["items"][1]["distance_km"].as_f64().unwrap();
    assert!((2.0..4.0).contains(&d0) && d0 < d1, "{d0} {d1}");
    let page = app.get("/api/events?near=48.8584,2.2945&radius_km=500", None).await.expect(StatusCode::OK);
    assert_eq!(titles(&page), ["Olympia", "Zenith", "Lyon"]);
    let all = app.get("/api/events", None).await.expect(StatusCode::OK);
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    assert!(all["items"][0]["distance_km"].is_null());
}

#[tokio::test]
async fn pages_follow_the_cursor_without_repeating_or_skipping() {
    let app = TestApp::new().await;
    venues(&app).await;
    let mut seen = Vec::new();
    let mut path = "/api/events?near=48.8584,2.2945&radius_km=1000&limit=1".to_string();
    loop {
        let page = app.get(&path, None).await.expect(StatusCode::OK);
        seen.extend(titles(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/events?near=48.8584,2.2945&radius_km=1000&limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["Olympia", "Zenith", "Lyon"]);
    let page = app.get("/api/events?limit=3", None).await.expect(StatusCode::OK);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/api/events?limit=3&cursor={cursor}"), None).await.expect(StatusCode::OK);
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
}

#[tokio::test]
async fn the_date_window_and_availability_filter_events() {
    let app = TestApp::new().await;
    let [olympia, zenith, ..] = venues(&app).await;
    let rep_o = app.create_representation(&olympia, "2027-03-01T20:00:00Z", "2027-03-01T22:00:00Z").await;
    let offer_o = app.create_offer(&olympia, 1000).await;
    let rep_z = app.create_representation(&zenith, "2027-05-01T20:00:00Z", "2027-05-01T22:00:00Z").await;
    let offer_z = app.create_offer(&zenith, 1000).await;
    app.put(
        &format!("/api/offers/{offer_o}/representations/{rep_o}/inventory"),
        Some(&app.admin),
        json!({"total_stock": 5}),
    )
    .await
    .expect(StatusCode::OK);
    app.put(
        &format!("/api/offers/{offer_z}/representations/{rep_z}/inventory"),
        Some(&app.admin),
        json!({"total_stock": 5}),
    )
    .await
    .expect(StatusCode::OK);
    sqlx::query("update pools set available = 0, sold = 5 where representation_id = $1")
        .bind(&rep_z)
        .execute(&app.db.pool)
        .await
        .unwrap();

    let march =
        app.get("/api/events?from=2027-03-01T00:00:00Z&to=2027-04-01T00:00:00Z", None).await.expect(StatusCode::OK);
    assert_eq!(titles(&march), ["Olympia"]);
    let available = app.get("/api/events?available=true", None).await.expect(StatusCode::OK);
    assert_eq!(titles(&available), ["Olympia"]);
    app.patch(&format!("/api/events/{olympia}"), Some(&app.admin), json!({"sales_open": false}))
        .await
        .expect(StatusCode::OK);
    let available = app.get("/api/events?available=true", None).await.expect(StatusCode::OK);
    assert!(titles(&available).is_empty());
}

#[tokio::test]
async fn a_bad_radius_limit_point_or_cursor_is_a_validation_error() {
    let app = TestApp::new().await;
    for query in [
        "near=48.8,2.3&radius_km=0",
        "near=48.8,2.3&radius_km=-5",
        "near=48.8,2.3&radius_km=100000",
        "limit=0",
        "limit=1000",
        "near=91,2.3",
        "near=48.8,181",
        "near=paris",
        "cursor=garbage",
        "from=2027-02-01T00:00:00Z&to=2027-01-01T00:00:00Z",
    ] {
        let reply = app.get(&format!("/api/events?{query}"), None).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {:#}", reply.body);
        assert_eq!(reply.error_status(), "VALIDATION_ERROR", "{query}");
        assert!(reply.body["error"]["details"][0]["loc"][0] == "query", "{query}: {:#}", reply.body);
    }
}
