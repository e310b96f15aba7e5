//! Capacity pools shared by offers, and orders of several lines decided all or nothing.

mod api;
mod import;
mod orders;
mod report;
mod sharing;

use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

/// A representation whose stalls (a pool) are sold as Adult and Child, and whose parking is a
/// pool of its own sold by a Parking offer.
pub struct Stalls {
    pub event: String,
    pub rep: String,
    pub adult: String,
    pub child: String,
    pub parking: String,
    pub stalls: String,
    pub parking_pool: String,
}

impl TestApp {
    /// An offer of the event named `name`, at most `max` per order.
    pub async fn named_offer(&self, event: &str, name: &str, price_minor: i64, max: i64) -> String {
        let body = json!({"name": name, "price_minor": price_minor, "max_quantity_per_order": max});
        let reply = self.post(&format!("/api/events/{event}/offers"), Some(&self.admin), body).await;
        reply.expect(StatusCode::CREATED)["id"].as_str().unwrap().to_string()
    }

    /// Creates the pool `id` of the representation.
    pub async fn create_pool(&self, rep: &str, id: &str, name: &str, total: i64) -> Value {
        let body = json!({"id": id, "name": name, "total_stock": total});
        self.post(&format!("/api/representations/{rep}/pools"), Some(&self.admin), body)
            .await
            .expect(StatusCode::CREATED)
    }

    /// Attaches the item to the pool.
    pub async fn attach(&self, offer: &str, rep: &str, pool: &str) -> Value {
        let path = format!("/api/offers/{offer}/representations/{rep}/inventory");
        self.put(&path, Some(&self.admin), json!({"pool_id": pool})).await.expect(StatusCode::OK)
    }

    /// Stalls of `stalls` places sold as Adult and Child, and `parking` places of parking.
    pub async fn stalls(&self, stalls: i64, parking: i64) -> Stalls {
        let event = self.create_event("BILLY", json!({})).await;
        let rep = self.create_representation(&event, "2027-06-01T20:00:00Z", "2027-06-01T23:00:00Z").await;
        let adult = self.named_offer(&event, "Adult", 4500, 6).await;
        let child = self.named_offer(&event, "Child", 2500, 6).await;
        let parking_offer = self.named_offer(&event, "Parking", 1000, 2).await;
        self.create_pool(&rep, "stalls", "Stalls", stalls).await;
        self.create_pool(&rep, "parking", "Parking", parking).await;
        self.attach(&adult, &rep, "stalls").await;
        self.attach(&child, &rep, "stalls").await;
        self.attach(&parking_offer, &rep, "parking").await;
        Stalls {
            event,
            rep,
            adult,
            child,
            parking: parking_offer,
            stalls: "stalls".into(),
            parking_pool: "parking".into(),
        }
    }

    /// Sends an order of `lines` (offer, representation, quantity) for `user`; the reply as it came.
    pub async fn order(&self, user: &str, lines: &[(&str, &str, i64)]) -> crate::support::Reply {
        let lines: Vec<Value> = (lines.iter())
            .map(|(offer, rep, quantity)| json!({"offer_id": offer, "representation_id": rep, "quantity": quantity}))
            .collect();
        self.post("/api/reservations", Some(&self.client), json!({"user_id": user, "lines": lines})).await
    }

    /// The pool the item draws from.
    pub async fn books_pool(&self, offer: &str, rep: &str) -> String {
        sqlx::query_scalar("select pool_id from inventory where offer_id = $1 and representation_id = $2")
            .bind(offer)
            .bind(rep)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// The pool's books: (total, available, held, sold), checking they balance.
    pub async fn pool_books(&self, pool: &str) -> (i32, i32, i32, i32) {
        let row: (i32, i32, i32, i32) =
            sqlx::query_as("select total_stock, available, held, sold from pools where id = $1")
                .bind(pool)
                .fetch_one(&self.db.pool)
                .await
                .unwrap();
        assert_eq!(row.0, row.1 + row.2 + row.3, "the books of {pool} balance");
        row
    }

    /// Lines of reservations (rows) whose status differs from their order's first line: a partial
    /// order, which must never exist.
    pub async fn partial_orders(&self) -> i64 {
        sqlx::query_scalar(
            "select count(*) from reservations l join reservations o on o.id = l.order_id
             where l.status <> o.status or l.hold_expires_at is distinct from o.hold_expires_at",
        )
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }
}
