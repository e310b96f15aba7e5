//! Reservation requests that must be refused at once, in the envelope.

use poem::http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn bad_quantities_and_hold_times_are_validation_errors() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let user = app.create_user().await;
    for (extra, field) in [
        (json!({"quantity": 0}), "quantity"),
        (json!({"quantity": 5}), "quantity"),
        (json!({"quantity": 1, "hold_minutes": 0}), "hold_minutes"),
        (json!({"quantity": 1, "hold_minutes": 21}), "hold_minutes"),
        (json!({}), "quantity"),
    ] {
        let mut body = json!({"user_id": user, "offer_id": offer, "representation_id": rep});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let reply = app.post("/api/reservations", Some(&app.client), body).await;
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["body", field]), "{extra}");
    }
}

#[tokio::test]
async fn unknown_seats_and_seats_of_another_representation_are_refused() {
    let app = TestApp::new().await;
    let (event, rep, offer) = app.create_catalog("BILLY").await;
    let other_rep = app.create_representation(&event, "2027-06-02T20:00:00Z", "2027-06-02T23:00:00Z").await;
    app.post(
        &format!("/api/representations/{rep}/seats"),
        Some(&app.admin),
        json!({"offer_id": offer, "labels": ["A1"]}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        &format!("/api/representations/{other_rep}/seats"),
        Some(&app.admin),
        json!({"offer_id": offer, "labels": ["B1"]}),
    )
    .await
    .expect(StatusCode::CREATED);
    let user = app.create_user().await;
    for seats in [json!(["Z9"]), json!(["B1"]), json!(["A1", "B1"])] {
        let body = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "seats": seats});
        let reply = app.post("/api/reservations", Some(&app.client), body).await;
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        assert!(
            reply.body["error"]["details"][0]["msg"].as_str().unwrap().contains("no such seats"),
            "{:#}",
            reply.body
        );
    }
    let body = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": 1});
    app.post("/api/reservations", Some(&app.client), body)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}

#[tokio::test]
async fn a_closed_sale_or_an_item_without_stock_is_a_409() {
    let app = TestApp::new().await;
    let (event, rep, offer) = app.on_sale(10).await;
    let user = app.create_user().await;
    app.patch(&format!("/api/events/{event}"), Some(&app.admin), json!({"sales_open": false}))
        .await
        .expect(StatusCode::OK);
    let body = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": 1});
    app.post("/api/reservations", Some(&app.client), body).await.expect_error(StatusCode::CONFLICT, "SALES_CLOSED");
    let (_, rep2, offer2) = app.create_catalog("BILLY").await;
    let body = json!({"user_id": user, "offer_id": offer2, "representation_id": rep2, "quantity": 1});
    app.post("/api/reservations", Some(&app.client), body).await.expect_error(StatusCode::CONFLICT, "NOT_ON_SALE");
}

#[tokio::test]
async fn a_representation_that_is_over_takes_no_reservations() {
    let app = TestApp::new().await;
    let event = app.create_event("BILLY", json!({})).await;
    let rep = app.create_representation(&event, "2020-01-01T20:00:00Z", "2020-01-01T22:00:00Z").await;
    let offer = app.create_offer(&event, 1000).await;
    app.put(
        &format!("/api/offers/{offer}/representations/{rep}/inventory"),
        Some(&app.admin),
        json!({"total_stock": 5}),
    )
    .await
    .expect(StatusCode::OK);
    let user = app.create_user().await;
    let body = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": 1});
    app.post("/api/reservations", Some(&app.client), body)
        .await
        .expect_error(StatusCode::CONFLICT, "REPRESENTATION_OVER");
}

#[tokio::test]
async fn unknown_users_offers_and_representations_are_404_and_a_malformed_body_is_422() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let user = app.create_user().await;
    for (u, o, r) in [
        ("nobody", offer.as_str(), rep.as_str()),
        (user.as_str(), "off_nope", rep.as_str()),
        (user.as_str(), offer.as_str(), "rep_nope"),
    ] {
        let body = json!({"user_id": u, "offer_id": o, "representation_id": r, "quantity": 1});
        app.post("/api/reservations", Some(&app.client), body).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    let reply = app
        .send_raw(Method::POST, "/api/reservations", Some(&app.client), "application/json", b"{\"user_id\": ".to_vec())
        .await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let reply = app.post("/api/reservations?wait=forever", Some(&app.client), json!({})).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let organizer = app.organizer_key("BILLY").await;
    let body = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": 1});
    app.post("/api/reservations", Some(&organizer), body)
        .await
        .expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
}
