//! Reservations: FIFO allocation by the workers, holds, confirm and release.

use futures::future::join_all;
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

fn reserve(user: &str, offer: &str, rep: &str, quantity: i32) -> Value {
    json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": quantity})
}

#[tokio::test]
async fn the_last_50_tickets_go_to_exactly_50_of_200_concurrent_buyers_with_3_workers() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(50).await;
    let users = app.create_users(200).await;
    let _workers = app.start_worker_processes(3);
    let requests = users.iter().map(|u| app.reserve(u, &offer, &rep, 1));
    let replies = join_all(requests).await;
    let ids: Vec<String> =
        replies.into_iter().map(|r| r.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string()).collect();
    let mut decided = Vec::new();
    for id in &ids {
        decided.push(app.decided(id).await);
    }
    let held = decided.iter().filter(|r| r["status"] == "held").count();
    let sold_out = decided.iter().filter(|r| r["status"] == "rejected" && r["reason"] == "SOLD_OUT").count();
    assert_eq!((held, sold_out), (50, 150));
    assert_eq!(app.books(&offer, &rep).await, (50, 0, 50, 0));
}

#[tokio::test]
async fn requests_are_decided_in_arrival_order() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(5).await;
    let user = app.create_user().await;
    // queued in a known order before any worker runs
    let mut ids = Vec::new();
    for quantity in [3, 3, 2, 1, 1] {
        let reply = app.reserve(&user, &offer, &rep, quantity).await;
        ids.push(reply.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string());
    }
    let _workers = app.start_workers();
    let mut statuses = Vec::new();
    for id in &ids {
        statuses.push(app.decided(id).await["status"].as_str().unwrap().to_string());
    }
    // 3 fits (2 left), 3 does not, 2 fits (0 left), then nothing fits
    assert_eq!(statuses, ["held", "rejected", "held", "rejected", "rejected"]);
    assert_eq!(app.books(&offer, &rep).await, (5, 0, 5, 0));
}

#[tokio::test]
async fn two_buyers_racing_for_the_same_seats_one_wins_whole_the_other_loses_whole() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    let seats = json!({"offer_id": offer, "labels": ["A1", "A2", "A3", "A4"]});
    app.post(&format!("/api/representations/{rep}/seats"), Some(&app.admin), seats).await.expect(StatusCode::CREATED);
    let (ann, bob) = (app.create_user().await, app.create_user().await);
    let _workers = app.start_workers();
    let ask = |user: &str, seats: Value| {
        app.post(
            "/api/reservations?wait=10",
            Some(&app.client),
            json!({"user_id": user, "offer_id": offer, "representation_id": rep, "seats": seats}),
        )
    };
    let (a, b) = tokio::join!(ask(&ann, json!(["a1", "A2"])), ask(&bob, json!(["A2", "a3"])));
    let (a, b) = (a.expect(StatusCode::OK), b.expect(StatusCode::OK));
    let mut statuses = [a["status"].as_str().unwrap(), b["status"].as_str().unwrap()];
    statuses.sort();
    assert_eq!(statuses, ["held", "rejected"]);
    let loser = if a["status"] == "rejected" { &a } else { &b };
    assert_eq!(loser["reason"], "SEAT_UNAVAILABLE");
    let winner_seats = if a["status"] == "held" { &a["seats"] } else { &b["seats"] };
    let availability =
        app.get(&format!("/api/representations/{rep}/availability?seats=all"), None).await.expect(StatusCode::OK);
    for seat in availability["seats"].as_array().unwrap() {
        let held = winner_seats.as_array().unwrap().contains(&seat["label"]);
        assert_eq!(seat["status"], if held { "HELD" } else { "AVAILABLE" }, "{seat}");
        assert_eq!(seat["hold_expires_at"].is_string(), held);
    }
    assert_eq!(app.books(&offer, &rep).await, (4, 2, 2, 0));
}

#[tokio::test]
async fn waiting_for_the_decision_answers_200_once_decided() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let user = app.create_user().await;
    let _workers = app.start_workers();
    let reply = app.post("/api/reservations?wait=10s", Some(&app.client), reserve(&user, &offer, &rep, 2)).await;
    let body = reply.expect(StatusCode::OK);
    assert_eq!(body["status"], "held");
    assert!(body["hold_expires_at"].is_string());
    assert_eq!(body["hold_minutes"], 10);
}

#[tokio::test]
async fn a_pending_reservation_answers_202_with_where_to_poll() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let user = app.create_user().await;
    let reply = app.reserve(&user, &offer, &rep, 1).await;
    let location = reply.headers.get("location").unwrap().to_str().unwrap().to_string();
    let body = reply.expect(StatusCode::ACCEPTED);
    assert_eq!(body["status"], "pending");
    assert_eq!(location, format!("/api/reservations/{}", body["id"].as_str().unwrap()));
}

#[tokio::test]
async fn confirm_and_release_are_idempotent_and_move_the_books() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let user = app.create_user().await;
    let _workers = app.start_workers();
    let ask = || app.post("/api/reservations?wait=10", Some(&app.client), reserve(&user, &offer, &rep, 2));
    let first = ask().await.expect(StatusCode::OK);
    let second = ask().await.expect(StatusCode::OK);
    let (one, two) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());
    assert_eq!(app.books(&offer, &rep).await, (10, 6, 4, 0));

    let confirm = json!({"payment_reference": "pay_123"});
    let confirmed = app
        .post(&format!("/api/reservations/{one}/confirm"), Some(&app.client), confirm.clone())
        .await
        .expect(StatusCode::OK);
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["payment_reference"], "pay_123");
    let again = app.confirm(one).await.expect(StatusCode::OK);
    assert_eq!(again["confirmed_at"], confirmed["confirmed_at"]);
    assert_eq!(app.books(&offer, &rep).await, (10, 6, 2, 2));

    let released = app.release(two).await.expect(StatusCode::OK);
    assert_eq!(released["status"], "released");
    let again = app.release(two).await.expect(StatusCode::OK);
    assert_eq!(again["ended_at"], released["ended_at"]);
    assert_eq!(app.books(&offer, &rep).await, (10, 8, 0, 2));

    app.release(one).await.expect_error(StatusCode::CONFLICT, "ALREADY_CONFIRMED");
    app.confirm(two).await.expect_error(StatusCode::CONFLICT, "RESERVATION_RELEASED");
}

#[tokio::test]
async fn confirming_a_pending_reservation_is_refused() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let user = app.create_user().await;
    let pending = app.reserve(&user, &offer, &rep, 1).await.expect(StatusCode::ACCEPTED);
    let id = pending["id"].as_str().unwrap();
    app.confirm(id).await.expect_error(StatusCode::CONFLICT, "NOT_DECIDED");
}

#[tokio::test]
async fn unknown_reservations_are_404() {
    let app = TestApp::new().await;
    for path in ["/api/reservations/nope", "/api/reservations/6f1c1b0e-1d2a-4c55-9a63-0e1e2f3a4b5c"] {
        app.get(path, Some(&app.client)).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
        app.post(&format!("{path}/confirm"), Some(&app.client), json!({}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
        app.post(&format!("{path}/release"), Some(&app.client), json!({}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    }
}
