use poem::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::TestApp;

/// A paid reservation of `quantity` on an item of `stock`: (offer, rep, reservation).
async fn paid(app: &TestApp, stock: i64, quantity: i64) -> (String, String, String, String) {
    let (_, rep, offer) = app.on_sale(stock).await;
    let buyer = app.create_user().await;
    let hold = app.reserve_now(&buyer, &offer, &rep, quantity).await;
    assert_eq!(hold["status"], "held");
    let id = hold["id"].as_str().unwrap().to_string();
    app.confirm(&id).await.expect(StatusCode::OK);
    (offer, rep, id, buyer)
}

async fn issue(app: &TestApp, reservation: &str) -> Vec<String> {
    boxoffice::services::issuance::issue(&app.db.pool, Uuid::parse_str(reservation).unwrap()).await.unwrap();
    let tickets = app.get(&format!("/api/reservations/{reservation}/tickets"), Some(&app.client)).await;
    tickets.expect(StatusCode::OK).as_array().unwrap().iter().map(|t| t["code"].as_str().unwrap().to_string()).collect()
}

async fn cancel(app: &TestApp, key: &str, id: &str) -> crate::support::Reply {
    let body = json!({"reason": "the buyer asked", "refund_reference": "re_123"});
    app.post(&format!("/api/reservations/{id}/cancel"), Some(key), body).await
}

async fn report_line(app: &TestApp, event: &str) -> Value {
    let report = app.get(&format!("/api/events/{event}/report"), Some(&app.admin)).await.expect(StatusCode::OK);
    report["lines"][0].clone()
}

#[tokio::test]
async fn a_cancellation_gives_the_stock_back_and_offers_it_to_the_list_in_its_transaction() {
    let app = TestApp::new().await;
    let (offer, rep, id, buyer) = paid(&app, 2, 2).await;
    let waiting = app.create_user().await;
    app.join_waitlist(&offer, &rep, &waiting, 1).await.expect(StatusCode::OK);
    let organizer = app.organizer_key("BILLY").await;

    let cancelled = cancel(&app, &organizer, &id).await.expect(StatusCode::OK);
    assert_eq!(cancelled["status"], "cancelled");
    // no worker runs here: the offer was made by the cancellation itself
    let entries = app.get(&format!("/api/users/{waiting}/waitlists"), Some(&app.client)).await.expect(StatusCode::OK);
    assert_eq!(entries[0]["status"], "offered", "{entries}");
    // one ticket went to the list, one is back on public sale
    assert_eq!(app.books(&offer, &rep).await, (2, 1, 1, 0));
    // the same answer again, and nothing moves
    assert_eq!(cancel(&app, &organizer, &id).await.expect(StatusCode::OK), cancelled);
    assert_eq!(app.books(&offer, &rep).await, (2, 1, 1, 0));
    // the buyer is told, once, with the reason and the refund's reference
    let told: Vec<Value> =
        sqlx::query_scalar("select payload from notifications where kind = 'tickets_voided' and user_id = $1")
            .bind(&buyer)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(told.len(), 1);
    assert_eq!(
        (told[0]["reason"].as_str(), told[0]["refund_reference"].as_str()),
        (Some("the buyer asked"), Some("re_123"))
    );
}

#[tokio::test]
async fn only_the_events_organizer_or_an_admin_cancels_and_only_what_was_paid() {
    let app = TestApp::new().await;
    let (offer, rep, id, _) = paid(&app, 3, 1).await;
    cancel(&app, &app.organizer_key("OTHER").await, &id).await.expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    cancel(&app, &app.client, &id).await.expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let buyer = app.create_user().await;
    let held = app.reserve_now(&buyer, &offer, &rep, 1).await;
    cancel(&app, &app.admin, held["id"].as_str().unwrap()).await.expect_error(StatusCode::CONFLICT, "NOT_CANCELLABLE");
    cancel(&app, &app.admin, &Uuid::new_v4().to_string()).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.post(&format!("/api/reservations/{id}/cancel"), Some(&app.admin), json!({"reason": "  "}))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(cancel(&app, &app.admin, &id).await.expect(StatusCode::OK)["status"], "cancelled");
}

#[tokio::test]
async fn a_voided_ticket_is_refused_at_the_door_its_unit_comes_back_and_the_report_counts_the_refunds() {
    let app = TestApp::new().await;
    let (offer, rep, id, _) = paid(&app, 3, 2).await;
    let event =
        app.get(&format!("/api/representations/{rep}/availability"), None).await.expect(StatusCode::OK)["event_id"]
            .as_str()
            .unwrap()
            .to_string();
    let codes = issue(&app, &id).await;
    assert_eq!(codes.len(), 2);
    let organizer = app.organizer_key("BILLY").await;
    let void = |code: String, key: String| {
        let app = &app;
        async move { app.post(&format!("/api/tickets/{code}/void"), Some(&key), json!({"reason": "duplicate"})).await }
    };

    let voided = void(codes[0].clone(), organizer.clone()).await.expect(StatusCode::OK);
    assert!(voided["voided_at"].is_string());
    assert_eq!(void(codes[0].clone(), organizer.clone()).await.expect(StatusCode::OK), voided, "idempotent");
    app.post(&format!("/api/tickets/{}/check-in", codes[0]), Some(&app.client), json!({}))
        .await
        .expect_error(StatusCode::CONFLICT, "TICKET_VOIDED");
    app.post(&format!("/api/tickets/{}/check-in", codes[1]), Some(&app.client), json!({})).await.expect(StatusCode::OK);
    assert_eq!(app.books(&offer, &rep).await, (3, 2, 0, 1));
    void(codes[1].clone(), app.organizer_key("OTHER").await)
        .await
        .expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    void("0000-0000-0000-0000-0000-0000-0000-0000".into(), organizer.clone())
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let line = report_line(&app, &event).await;
    assert_eq!((line["refunded"].as_i64(), line["refunded_minor"].as_i64()), (Some(1), Some(4500)));

    // cancelling the reservation refunds the rest, once
    cancel(&app, &organizer, &id).await.expect(StatusCode::OK);
    assert_eq!(app.books(&offer, &rep).await, (3, 3, 0, 0));
    let line = report_line(&app, &event).await;
    assert_eq!((line["refunded"].as_i64(), line["refunded_minor"].as_i64()), (Some(2), Some(9000)));
    assert_eq!(line["sold"], 0);
    app.post(&format!("/api/tickets/{}/check-in", codes[1]), Some(&app.client), json!({}))
        .await
        .expect_error(StatusCode::CONFLICT, "TICKET_VOIDED");
}
