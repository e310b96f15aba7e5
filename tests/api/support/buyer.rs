//! What a shop does for its buyers, as typed helpers: reserve, confirm, release, join a list.

use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{Reply, TestApp};

/// One general-admission ticket as the intake stores it, past the HTTP checks.
pub fn one_ticket(user_id: &str, offer: &str, rep: &str) -> boxoffice::db::reservations::NewReservation {
    boxoffice::db::reservations::NewReservation {
        id: uuid::Uuid::now_v7(),
        user_id: user_id.to_string(),
        lines: vec![boxoffice::db::reservations::NewLine {
            pool_id: None,
            offer_id: offer.to_string(),
            representation_id: rep.to_string(),
            quantity: 1,
            seat_labels: None,
            best_available: None,
        }],
        hold_minutes: 10,
        api_key_id: uuid::Uuid::nil(),
        request_id: None,
        queue_pass: None,
    }
}

pub fn waitlist_path(offer: &str, rep: &str) -> String {
    format!("/api/offers/{offer}/representations/{rep}/waitlist")
}

impl TestApp {
    /// Asks for `quantity` general-admission tickets; the reply as it came (202 when queued).
    pub async fn reserve(&self, user: &str, offer: &str, rep: &str, quantity: i64) -> Reply {
        let body = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": quantity});
        self.post("/api/reservations", Some(&self.client), body).await
    }

    /// Asks for seats by label; the reply as it came.
    pub async fn reserve_seats(&self, user: &str, offer: &str, rep: &str, seats: &[&str]) -> Reply {
        let body = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "seats": seats});
        self.post("/api/reservations", Some(&self.client), body).await
    }

    /// Decides the item's pending reservations now, as a reservation worker would.
    pub async fn allocate(&self, offer: &str, rep: &str) {
        boxoffice::services::allocation::allocate_item(&self.db.pool, offer, rep).await.unwrap();
    }

    /// Reserves `quantity` tickets and has them decided; returns the decided reservation.
    pub async fn reserve_now(&self, user: &str, offer: &str, rep: &str, quantity: i64) -> Value {
        let id = self.reserve(user, offer, rep, quantity).await.expect(StatusCode::ACCEPTED)["id"].clone();
        self.allocate(offer, rep).await;
        self.reservation(id.as_str().unwrap()).await
    }

    /// Reserves seats and has them decided; returns the decided reservation.
    pub async fn reserve_seats_now(&self, user: &str, offer: &str, rep: &str, seats: &[&str]) -> Value {
        let id = self.reserve_seats(user, offer, rep, seats).await.expect(StatusCode::ACCEPTED)["id"].clone();
        self.allocate(offer, rep).await;
        self.reservation(id.as_str().unwrap()).await
    }

    pub async fn reservation(&self, id: &str) -> Value {
        self.get(&format!("/api/reservations/{id}"), Some(&self.client)).await.expect(StatusCode::OK)
    }

    pub async fn confirm(&self, id: &str) -> Reply {
        self.post(&format!("/api/reservations/{id}/confirm"), Some(&self.client), json!({})).await
    }

    pub async fn release(&self, id: &str) -> Reply {
        self.post(&format!("/api/reservations/{id}/release"), Some(&self.client), json!({})).await
    }

    pub async fn join_waitlist(&self, offer: &str, rep: &str, user: &str, quantity: i64) -> Reply {
        let path = format!("{}?user_id={user}&quantity={quantity}", waitlist_path(offer, rep));
        self.post(&path, Some(&self.client), Value::Null).await
    }

    pub async fn leave_waitlist(&self, offer: &str, rep: &str, user: &str) -> Reply {
        let path = format!("{}/{user}", waitlist_path(offer, rep));
        self.request(poem::http::Method::DELETE, &path, Some(&self.client), None).await
    }

    /// A user's waiting-list entries, newest first.
    pub async fn waitlist_entries_of(&self, user: &str) -> Vec<Value> {
        let reply = self.get(&format!("/api/users/{user}/waitlists"), Some(&self.client)).await;
        reply.expect(StatusCode::OK).as_array().unwrap().clone()
    }

    /// Adds seats to an item (making it seated).
    pub async fn add_seats(&self, offer: &str, rep: &str, labels: &[&str]) -> Value {
        let body = json!({"offer_id": offer, "labels": labels});
        self.post(&format!("/api/representations/{rep}/seats"), Some(&self.admin), body)
            .await
            .expect(StatusCode::CREATED)
    }

    /// Opens or closes the event's sales.
    pub async fn set_sales_open(&self, event: &str, open: bool) {
        self.patch(&format!("/api/events/{event}"), Some(&self.admin), json!({"sales_open": open}))
            .await
            .expect(StatusCode::OK);
    }
}
