//! Tickets: issued exactly once per unit or seat, signed, served with their QR code, checked in
//! once, and listed per buyer.

mod check_in;
mod history;
mod issuance;
mod qr;

use boxoffice::services::issuance::Issuance;
use poem::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::TestApp;

/// A confirmed reservation, decided by calling the allocation directly (no workers run), so its
/// issuance job waits in the queue. Returns (user, reservation).
pub async fn confirmed(app: &TestApp, offer: &str, rep: &str, what: Value) -> (String, String) {
    let user = app.create_user().await;
    confirmed_for(app, &user, offer, rep, what).await
}

pub async fn confirmed_for(app: &TestApp, user: &str, offer: &str, rep: &str, what: Value) -> (String, String) {
    let mut body = json!({"user_id": user, "offer_id": offer, "representation_id": rep});
    body.as_object_mut().unwrap().extend(what.as_object().cloned().unwrap());
    let reply = app.post("/api/reservations", Some(&app.client), body).await.expect(StatusCode::ACCEPTED);
    let id = reply["id"].as_str().unwrap().to_string();
    boxoffice::services::allocation::allocate_item(&app.db.pool, offer, rep).await.unwrap();
    let confirmed = app.confirm(&id).await.expect(StatusCode::OK);
    assert_eq!(confirmed["status"], "confirmed");
    (user.to_string(), id)
}

/// Runs the issuance as its job would.
pub async fn issue(app: &TestApp, reservation: &str) -> Issuance {
    boxoffice::services::issuance::issue(&app.db.pool, Uuid::parse_str(reservation).unwrap()).await.unwrap()
}

/// A fulfilled reservation of `quantity` general-admission tickets; returns (user, reservation,
/// its tickets).
pub async fn fulfilled(app: &TestApp, quantity: i32) -> (String, String, Vec<Value>) {
    let (_, rep, offer) = app.on_sale(10).await;
    let (user, id) = confirmed(app, &offer, &rep, json!({"quantity": quantity})).await;
    issue(app, &id).await;
    (user, id.clone(), tickets_of(app, &id).await)
}

pub async fn tickets_of(app: &TestApp, reservation: &str) -> Vec<Value> {
    let reply = app.get(&format!("/api/reservations/{reservation}/tickets"), Some(&app.client)).await;
    reply.expect(StatusCode::OK).as_array().unwrap().clone()
}
