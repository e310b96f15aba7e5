//! Issuance: exactly once, whatever the queue does.

use std::collections::HashSet;

use boxoffice::domain::TicketCode;
use boxoffice::services::issuance::Issuance;
use poem::http::StatusCode;
use serde_json::json;

use super::{confirmed, issue, tickets_of};
use crate::support::TestApp;

#[tokio::test]
async fn confirming_queues_the_issuance_once_in_the_same_transaction() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let (_, id) = confirmed(&app, &offer, &rep, json!({"quantity": 2})).await;
    app.confirm(&id).await.expect(StatusCode::OK);
    let jobs: Vec<String> =
        sqlx::query_scalar("select idempotency_key from apalis.jobs where job_type = 'fulfillment'")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(jobs, [format!("issue:{id}")]);
}

#[tokio::test]
async fn issuance_run_twice_concurrently_then_again_gives_exactly_quantity_tickets() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let (user, id) = confirmed(&app, &offer, &rep, json!({"quantity": 3})).await;
    let (a, b) = tokio::join!(issue(&app, &id), issue(&app, &id));
    let mut outcomes = [a, b];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [Issuance::AlreadyFulfilled, Issuance::Issued(3)]);
    assert_eq!(issue(&app, &id).await, Issuance::AlreadyFulfilled);

    let tickets = tickets_of(&app, &id).await;
    assert_eq!(tickets.len(), 3);
    let codes: HashSet<&str> = tickets.iter().map(|t| t["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 3, "codes are unique");
    for t in &tickets {
        assert_eq!(TicketCode::parse(t["code"].as_str().unwrap()).unwrap().as_str(), t["code"]);
        assert_eq!(
            (&t["user_id"], &t["offer_id"], &t["seat"], &t["status"]),
            (&json!(user), &json!(offer), &json!(null), &json!("valid"))
        );
    }
    let stored: i64 = sqlx::query_scalar("select count(*) from tickets").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(stored, 3);
    let reservation = app.reservation(&id).await;
    assert_eq!(reservation["status"], "fulfilled");
    // the buyer is told once, with the codes, in the issuing transaction
    let told: Vec<serde_json::Value> =
        sqlx::query_scalar("select payload -> 'ticket_codes' from notifications where kind = 'tickets_issued'")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(told.len(), 1);
    let told: HashSet<&str> = told[0].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(told, codes);
}

#[tokio::test]
async fn the_database_refuses_a_second_ticket_for_a_unit_and_a_unit_beyond_the_quantity() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let (_, id) = confirmed(&app, &offer, &rep, json!({"quantity": 2})).await;
    issue(&app, &id).await;
    // a copy of ticket 1 with a new code, as a buggy second issuer would write it
    let copy = |unit: i32, quantity_delta: i32| {
        sqlx::query(
            "insert into tickets (code, reservation_id, quantity, unit, user_id, event_id, representation_id,
                 offer_id, payload, signature, issued_at)
             select $2, reservation_id, quantity + $4, $3, user_id, event_id, representation_id, offer_id, payload,
                 signature, now()
             from tickets where reservation_id = $1::uuid and unit = 1",
        )
        .bind(&id)
        .bind(TicketCode::generate().to_string())
        .bind(unit)
        .bind(quantity_delta)
        .execute(&app.db.pool)
    };
    let constraint = |e: sqlx::Error| e.as_database_error().unwrap().constraint().unwrap().to_string();
    assert_eq!(constraint(copy(1, 0).await.unwrap_err()), "tickets_one_per_unit");
    assert_eq!(constraint(copy(3, 0).await.unwrap_err()), "tickets_unit_in_quantity");
    assert_eq!(constraint(copy(3, 1).await.unwrap_err()), "tickets_of_reservation");
    assert_eq!(tickets_of(&app, &id).await.len(), 2);
}

#[tokio::test]
async fn a_seated_reservation_gets_one_ticket_per_seat_with_its_label() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    let seats = json!({"offer_id": offer, "labels": ["A1", "A2", "B2"]});
    app.post(&format!("/api/representations/{rep}/seats"), Some(&app.admin), seats).await.expect(StatusCode::CREATED);
    let (_, id) = confirmed(&app, &offer, &rep, json!({"seats": ["b2", " a1 "]})).await;
    assert_eq!(issue(&app, &id).await, Issuance::Issued(2));
    let tickets = tickets_of(&app, &id).await;
    let labels: Vec<&str> = tickets.iter().map(|t| t["seat"].as_str().unwrap()).collect();
    assert_eq!(labels, ["B2", "A1"]);
}

#[tokio::test]
async fn only_a_confirmed_reservation_is_issued() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let user = app.create_user().await;
    let body = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": 1});
    let held = app.post("/api/reservations", Some(&app.client), body).await.expect(StatusCode::ACCEPTED);
    boxoffice::services::allocation::allocate_item(&app.db.pool, &offer, &rep).await.unwrap();
    let id = uuid::Uuid::parse_str(held["id"].as_str().unwrap()).unwrap();
    let refused = boxoffice::services::issuance::issue(&app.db.pool, id).await.unwrap_err();
    assert!(matches!(refused, boxoffice::services::Error::Conflict { status: "NOT_CONFIRMED", .. }), "{refused:?}");
    assert!(tickets_of(&app, &id.to_string()).await.is_empty());
}

#[tokio::test]
async fn confirming_through_the_api_with_workers_running_issues_the_tickets() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let user = app.create_user().await;
    let _workers = app.start_workers();
    let body = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": 2});
    let held = app.post("/api/reservations?wait=10", Some(&app.client), body).await.expect(StatusCode::OK);
    let id = held["id"].as_str().unwrap();
    app.confirm(id).await.expect(StatusCode::OK);
    let mut tickets = vec![];
    for _ in 0..200 {
        tickets = tickets_of(&app, id).await;
        if !tickets.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(tickets.len(), 2, "issued within 10 s");
    let reservation = app.reservation(id).await;
    assert_eq!(reservation["status"], "fulfilled");
}
