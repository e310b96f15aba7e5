//! Events: create, read, patch.

use poem::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn an_event_is_created_and_read_back_with_its_representations_and_offers() {
    let app = TestApp::new().await;
    let (event, rep, offer) = app.create_catalog("BILLY").await;
    let body = app.get(&format!("/api/events/{event}"), None).await.expect(StatusCode::OK);
    assert_eq!(body["title"], "Jazz night");
    assert_eq!(body["hold_minutes"], 10);
    assert_eq!(body["waitlist_offer_minutes"], 30);
    assert_eq!(body["sales_open"], true);
    assert_eq!(body["representations"][0]["id"], rep.as_str());
    assert_eq!(body["offers"][0]["id"], offer.as_str());
    assert_eq!(body["offers"][0]["price_minor"], 4500);
}

#[tokio::test]
async fn an_unknown_event_is_a_404() {
    let app = TestApp::new().await;
    app.get("/api/events/ev_nope", None).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.patch("/api/events/ev_nope", Some(&app.admin), json!({"title": "x"}))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.post("/api/events/ev_nope/offers", Some(&app.admin), json!({"name": "x", "price_minor": 1}))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let body = json!({"starts_at": "2027-01-01T20:00:00Z", "ends_at": "2027-01-01T22:00:00Z"});
    app.post("/api/events/ev_nope/representations", Some(&app.admin), body)
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn a_latitude_or_longitude_out_of_range_is_rejected() {
    let app = TestApp::new().await;
    let base = json!({"organization_id": "BILLY", "title": "x", "venue_name": "y"});
    for (lat, lon, field) in [
        (91.0, 2.0, "venue_latitude"),
        (-90.5, 2.0, "venue_latitude"),
        (48.0, 180.5, "venue_longitude"),
        (48.0, -181.0, "venue_longitude"),
    ] {
        let mut body = base.clone();
        body["venue_latitude"] = json!(lat);
        body["venue_longitude"] = json!(lon);
        let reply = app.post("/api/events", Some(&app.admin), body).await;
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["body", field]));
    }
    let mut half = base.clone();
    half["venue_latitude"] = json!(48.0);
    app.post("/api/events", Some(&app.admin), half)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}

#[tokio::test]
async fn an_unknown_time_zone_or_hold_time_out_of_range_is_rejected() {
    let app = TestApp::new().await;
    let body = json!({"organization_id": "BILLY", "title": "x", "venue_name": "y", "timezone": "Mars/Olympus"});
    app.post("/api/events", Some(&app.admin), body)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let body = json!({"organization_id": "BILLY", "title": "x", "venue_name": "y", "hold_minutes": 21});
    app.post("/api/events", Some(&app.admin), body)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let body = json!({"organization_id": "BILLY", "title": "  ", "venue_name": "y"});
    app.post("/api/events", Some(&app.admin), body)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}

#[tokio::test]
async fn an_admin_must_say_which_organization_an_event_belongs_to() {
    let app = TestApp::new().await;
    let reply = app.post("/api/events", Some(&app.admin), json!({"title": "x", "venue_name": "y"})).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["body", "organization_id"]));
}

#[tokio::test]
async fn a_patch_changes_only_the_fields_given() {
    let app = TestApp::new().await;
    let event = app.create_event("BILLY", json!({"description": "kept"})).await;
    let body = app
        .patch(
            &format!("/api/events/{event}"),
            Some(&app.admin),
            json!({"title": "Renamed", "hold_minutes": 5, "sales_open": false}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["title"], "Renamed");
    assert_eq!(body["hold_minutes"], 5);
    assert_eq!(body["sales_open"], false);
    assert_eq!(body["description"], "kept");
    assert_eq!(body["venue_name"], "Olympia");
}

#[tokio::test]
async fn a_representation_ending_before_it_starts_is_rejected() {
    let app = TestApp::new().await;
    let event = app.create_event("BILLY", json!({})).await;
    let body = json!({"starts_at": "2027-01-01T22:00:00Z", "ends_at": "2027-01-01T20:00:00Z"});
    let reply = app.post(&format!("/api/events/{event}/representations"), Some(&app.admin), body).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["body", "ends_at"]));
}

#[tokio::test]
async fn a_zero_or_negative_price_is_rejected() {
    let app = TestApp::new().await;
    let event = app.create_event("BILLY", json!({})).await;
    for price in [0, -100] {
        let reply = app
            .post(&format!("/api/events/{event}/offers"), Some(&app.admin), json!({"name": "x", "price_minor": price}))
            .await;
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["body", "price_minor"]));
    }
    let body = json!({"name": "x", "price_minor": 100, "max_quantity_per_order": 0});
    app.post(&format!("/api/events/{event}/offers"), Some(&app.admin), body)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}
