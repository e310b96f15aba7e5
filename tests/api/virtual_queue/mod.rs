//! The virtual queue: joining, the draw, admission at the rate while there is stock, passes.

mod browser;
mod draw;
mod live;
mod passes;
mod settings;
mod states;

use boxoffice::services::virtual_queue::admission::{self, Swept};
use chrono::{Duration, SecondsFormat, Utc};
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp};

/// A time `seconds` from now, as the API takes it.
fn in_seconds(seconds: i64) -> String {
    (Utc::now() + Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Queue settings: the pre-queue open since a minute, the sale in an hour.
fn queue_settings(admit_per_minute: i32) -> Value {
    json!({
        "enabled": true,
        "prequeue_opens_at": in_seconds(-60),
        "sale_opens_at": in_seconds(3600),
        "admit_per_minute": admit_per_minute,
        "pass_minutes": 10,
    })
}

impl TestApp {
    /// Changes the event's queue; returns the event.
    async fn set_queue(&self, event: &str, queue: Value) -> Reply {
        self.patch(&format!("/api/events/{event}"), Some(&self.admin), json!({"queue": queue})).await
    }

    /// An item on sale with `stock` tickets behind a queue admitting `rate` a minute, its sale in
    /// an hour. Returns (event, representation, offer).
    async fn queued_sale(&self, stock: i64, rate: i32) -> (String, String, String) {
        let (event, rep, offer) = self.on_sale(stock).await;
        self.set_queue(&event, queue_settings(rate)).await.expect(StatusCode::OK);
        (event, rep, offer)
    }

    async fn join_queue(&self, event: &str, user: &str) -> Reply {
        self.post(&format!("/api/events/{event}/queue"), Some(&self.client), json!({"user_id": user})).await
    }

    /// Joins and returns the entry.
    async fn joined(&self, event: &str, user: &str) -> Value {
        self.join_queue(event, user).await.expect(StatusCode::CREATED)
    }

    async fn queue_entry(&self, event: &str, entry: &Value) -> Value {
        let id = entry["id"].as_str().unwrap();
        self.get(&format!("/api/events/{event}/queue/{id}"), Some(&self.client)).await.expect(StatusCode::OK)
    }

    async fn sweep_queues(&self) -> Swept {
        admission::sweep(&self.db.pool).await.unwrap()
    }

    /// Opens the sale now and runs the sweep that draws the pre-queue.
    async fn open_sale(&self, event: &str) -> Swept {
        self.set_queue(event, json!({"sale_opens_at": in_seconds(0)})).await.expect(StatusCode::OK);
        self.sweep_queues().await
    }

    /// Moves the queue's admission credit `seconds` back, as if that much time had passed.
    async fn let_time_pass(&self, event: &str, seconds: i64) {
        sqlx::query(
            "update event_queues set credit_from = credit_from - make_interval(secs => $2) where event_id = $1",
        )
        .bind(event)
        .bind(seconds as f64)
        .execute(&self.db.pool)
        .await
        .unwrap();
    }

    /// Reserves one ticket with a queue pass; the reply as it came.
    async fn reserve_with_pass(&self, user: &str, offer: &str, rep: &str, pass: Option<&str>) -> Reply {
        let body =
            json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": 1, "queue_pass": pass});
        self.post("/api/reservations", Some(&self.client), body).await
    }
}

fn state(entry: &Value) -> &str {
    entry["state"].as_str().unwrap()
}
