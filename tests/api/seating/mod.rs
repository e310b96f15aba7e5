//! Seated halls: seats laid out in sections and rows, best available picked by the worker in
//! arrival order, the seat map.

mod best_available;
mod kept_halls;
mod layout;
mod public_reads;
mod seatmap;
mod sections;

use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp};

impl TestApp {
    /// Adds `rows` (`(row, from, to)`) of `section` under the offer; returns the reply body.
    pub async fn add_rows(&self, offer: &str, rep: &str, section: Option<&str>, rows: &[(&str, i32, i32)]) -> Value {
        let rows: Vec<Value> = rows.iter().map(|(row, from, to)| json!({"row": row, "from": from, "to": to})).collect();
        let body = json!({"offer_id": offer, "section": section, "rows": rows});
        self.post(&format!("/api/representations/{rep}/seats"), Some(&self.admin), body)
            .await
            .expect(StatusCode::CREATED)
    }

    /// Asks for the best seats: `best` is the `best_available` object.
    pub async fn reserve_best(&self, user: &str, offer: &str, rep: &str, best: Value) -> Reply {
        let body = json!({"user_id": user, "offer_id": offer, "representation_id": rep, "best_available": best});
        self.post("/api/reservations", Some(&self.client), body).await
    }

    /// Asks for `quantity` best seats and has them decided; returns the decided reservation.
    pub async fn reserve_best_now(&self, user: &str, offer: &str, rep: &str, quantity: i32) -> Value {
        let reply = self.reserve_best(user, offer, rep, json!({"quantity": quantity})).await;
        let id = reply.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
        self.allocate(offer, rep).await;
        self.reservation(&id).await
    }
}

/// An event with a representation and an offer (up to 4 per order) but no stock yet.
async fn hall_item(app: &TestApp) -> (String, String, String) {
    app.create_catalog("BILLY").await
}

/// The labels of a decided reservation's seats.
fn seats_of(reservation: &Value) -> Vec<String> {
    reservation["seats"]
        .as_array()
        .map(|s| s.iter().map(|l| l.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}
