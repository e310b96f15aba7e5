//! Stock, seats and availability.

use poem::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

fn inventory_path(offer: &str, rep: &str) -> String {
    format!("/api/offers/{offer}/representations/{rep}/inventory")
}

#[tokio::test]
async fn stock_set_by_an_organizer_shows_in_availability() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    let body = app
        .put(&inventory_path(&offer, &rep), Some(&app.admin), json!({"total_stock": 100}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["available"], 100);
    let availability = app.get(&format!("/api/representations/{rep}/availability"), None).await.expect(StatusCode::OK);
    let line = &availability["offers"][0];
    assert_eq!(
        (line["total"].as_i64(), line["available"].as_i64(), line["held"].as_i64(), line["sold"].as_i64()),
        (Some(100), Some(100), Some(0), Some(0))
    );
}

#[tokio::test]
async fn zero_or_negative_stock_is_rejected() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    for total in [0, -5] {
        let reply = app.put(&inventory_path(&offer, &rep), Some(&app.admin), json!({"total_stock": total})).await;
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["body", "total_stock"]));
    }
}

#[tokio::test]
async fn stock_cannot_go_below_what_is_held_and_sold() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    app.put(&inventory_path(&offer, &rep), Some(&app.admin), json!({"total_stock": 10})).await.expect(StatusCode::OK);
    // reservations arrive with a later issue: move the books by hand, as a sale would
    sqlx::query("update pools set available = available - 7, held = held + 3, sold = sold + 4")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let reply = app.put(&inventory_path(&offer, &rep), Some(&app.admin), json!({"total_stock": 6})).await;
    reply.expect_error(StatusCode::CONFLICT, "STOCK_BELOW_COMMITTED");
    let body = app
        .put(&inventory_path(&offer, &rep), Some(&app.admin), json!({"total_stock": 7}))
        .await
        .expect(StatusCode::OK);
    assert_eq!((body["available"].as_i64(), body["held"].as_i64(), body["sold"].as_i64()), (Some(0), Some(3), Some(4)));
    let body = app
        .put(&inventory_path(&offer, &rep), Some(&app.admin), json!({"total_stock": 20}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(body["available"], 13);
}

#[tokio::test]
async fn the_database_refuses_books_that_do_not_balance() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    app.put(&inventory_path(&offer, &rep), Some(&app.admin), json!({"total_stock": 10})).await.expect(StatusCode::OK);
    let oversell = sqlx::query("update pools set sold = sold + 1").execute(&app.db.pool).await;
    assert!(oversell.is_err(), "total = available + held + sold is a constraint");
    let negative =
        sqlx::query("update pools set available = available - 11, sold = sold + 11").execute(&app.db.pool).await;
    assert!(negative.is_err(), "counts cannot go negative");
}

#[tokio::test]
async fn stock_for_unknown_or_mismatched_ids_is_refused() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    app.put(&inventory_path("off_nope", &rep), Some(&app.admin), json!({"total_stock": 1}))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.put(&inventory_path(&offer, "rep_nope"), Some(&app.admin), json!({"total_stock": 1}))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let (_, other_rep, _) = app.create_catalog("BILLY").await;
    app.put(&inventory_path(&offer, &other_rep), Some(&app.admin), json!({"total_stock": 1}))
        .await
        .expect_error(StatusCode::NOT_FOUND, "INVALID_REFERENCE");
    app.get("/api/representations/rep_nope/availability", None).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn seat_labels_are_normalized_and_become_stock() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    let body = json!({"offer_id": offer, "labels": [" c5 ", "a1", "B2"]});
    let inventory = app
        .post(&format!("/api/representations/{rep}/seats"), Some(&app.admin), body)
        .await
        .expect(StatusCode::CREATED);
    assert_eq!((inventory["total_stock"].as_i64(), inventory["available"].as_i64()), (Some(3), Some(3)));
    assert_eq!(inventory["seated"], true);
    let availability = app.get(&format!("/api/representations/{rep}/availability"), None).await.expect(StatusCode::OK);
    assert!(availability.get("seats").is_none(), "seats are listed only when asked for");
    assert_eq!(availability["sections"], json!([{"section": null, "available": 3, "held": 0, "sold": 0}]));
    let availability =
        app.get(&format!("/api/representations/{rep}/availability?seats=all"), None).await.expect(StatusCode::OK);
    let labels: Vec<&str> =
        availability["seats"].as_array().unwrap().iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["A1", "B2", "C5"]);
    assert!(availability["seats"].as_array().unwrap().iter().all(|s| s["status"] == "AVAILABLE"));
}

#[tokio::test]
async fn adding_seats_answers_the_seats_and_listing_them_shows_each_ones_status() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    let body = json!({"offer_id": offer, "labels": [" b2", "a1 "]});
    let added = app
        .post(&format!("/api/representations/{rep}/seats"), Some(&app.admin), body)
        .await
        .expect(StatusCode::CREATED);
    let new: Vec<(&str, &str)> = added["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["label"].as_str().unwrap(), s["id"].as_str().unwrap()))
        .collect();
    assert_eq!(new.iter().map(|(label, _)| *label).collect::<Vec<_>>(), ["A1", "B2"]);
    assert_eq!((added["total_stock"].as_i64(), added["available"].as_i64()), (Some(2), Some(2)));

    let buyer = app.create_user().await;
    let hold = app.reserve_seats_now(&buyer, &offer, &rep, &["A1"]).await;
    assert_eq!(hold["status"], "held");
    let listed = app.get(&format!("/api/representations/{rep}/seats"), None).await.expect(StatusCode::OK);
    let mut seats = listed["seats"].as_array().unwrap().clone();
    assert_eq!(seats.len(), 2);
    // listed in hall order (row B was laid out first); by label here
    seats.sort_by_key(|s| s["label"].as_str().unwrap().to_string());
    for (seat, (label, id)) in seats.iter().zip(&new) {
        assert_eq!((seat["label"].as_str().unwrap(), seat["id"].as_str().unwrap()), (*label, *id));
        assert_eq!(seat["offer_id"], offer.as_str());
    }
    assert_eq!((seats[0]["status"].as_str(), seats[1]["status"].as_str()), (Some("HELD"), Some("AVAILABLE")));
    assert!(seats.iter().all(|s| s.get("user_id").is_none()), "no buyer data in a public listing");
    app.get("/api/representations/rep_nope/seats", None).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn duplicate_seat_labels_in_one_request_are_a_409_and_nothing_is_added() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    let body = json!({"offer_id": offer, "labels": ["A1", " a1", "A2"]});
    let reply = app.post(&format!("/api/representations/{rep}/seats"), Some(&app.admin), body).await;
    reply.expect_error(StatusCode::CONFLICT, "DUPLICATE_SEAT");
    assert!(reply.body["error"]["message"].as_str().unwrap().contains("A1"));
    let availability =
        app.get(&format!("/api/representations/{rep}/availability?seats=all"), None).await.expect(StatusCode::OK);
    assert!(availability["seats"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn duplicate_seat_labels_across_requests_are_a_409() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    let path = format!("/api/representations/{rep}/seats");
    app.post(&path, Some(&app.admin), json!({"offer_id": offer, "labels": ["A1", "A2"]}))
        .await
        .expect(StatusCode::CREATED);
    let reply = app.post(&path, Some(&app.admin), json!({"offer_id": offer, "labels": ["a2", "A3"]})).await;
    reply.expect_error(StatusCode::CONFLICT, "DUPLICATE_SEAT");
    let availability = app.get(&format!("/api/representations/{rep}/availability"), None).await.expect(StatusCode::OK);
    assert_eq!(availability["offers"][0]["total"], 2);
}

#[tokio::test]
async fn an_empty_seat_label_is_a_validation_error() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    let reply = app
        .post(
            &format!("/api/representations/{rep}/seats"),
            Some(&app.admin),
            json!({"offer_id": offer, "labels": ["  "]}),
        )
        .await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}

#[tokio::test]
async fn seated_stock_is_not_set_by_hand_and_general_admission_takes_no_seats() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    app.post(
        &format!("/api/representations/{rep}/seats"),
        Some(&app.admin),
        json!({"offer_id": offer, "labels": ["A1"]}),
    )
    .await
    .expect(StatusCode::CREATED);
    app.put(&inventory_path(&offer, &rep), Some(&app.admin), json!({"total_stock": 5}))
        .await
        .expect_error(StatusCode::CONFLICT, "SEATED_INVENTORY");
    let (_, rep2, offer2) = app.create_catalog("BILLY").await;
    app.put(&inventory_path(&offer2, &rep2), Some(&app.admin), json!({"total_stock": 5})).await.expect(StatusCode::OK);
    app.post(
        &format!("/api/representations/{rep2}/seats"),
        Some(&app.admin),
        json!({"offer_id": offer2, "labels": ["A1"]}),
    )
    .await
    .expect_error(StatusCode::CONFLICT, "GENERAL_ADMISSION_INVENTORY");
}
