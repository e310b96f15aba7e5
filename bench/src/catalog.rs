//! What an organizer sets up before an on-sale, through the API like a real one: an event, one
//! representation, one offer, its stock. And the buyers, straight into SQL (there is no bulk
//! endpoint, and creating 50,000 users is not what is being measured).

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::setup::Environment;

/// The inventory item under load: one (offer, representation).
#[derive(Clone)]
pub struct Item {
    pub event_id: String,
    pub offer_id: String,
    pub representation_id: String,
}

/// Creates a fresh event with one item of `stock` tickets. A fresh event per run keeps runs
/// against a long-lived `--target` apart: every check filters by this item.
pub async fn create_item(env: &Environment, title: &str, stock: i32) -> anyhow::Result<Item> {
    let item = create_unstocked(env, title, "General admission", 10).await?;
    let url =
        env.api.join(&format!("/api/offers/{}/representations/{}/inventory", item.offer_id, item.representation_id))?;
    let answer = env.http.put(url).bearer_auth(&env.admin_key).json(&json!({"total_stock": stock})).send().await?;
    expect_success(answer, "setting the stock").await?;
    Ok(item)
}

/// Creates a fresh event with a seated item: each section's rows (`rows` as the API takes them)
/// added in order, one request per section.
pub async fn create_hall(env: &Environment, title: &str, sections: &[(&str, Vec<Value>)]) -> anyhow::Result<Item> {
    let item = create_unstocked(env, title, "Seated", 4).await?;
    for (section, rows) in sections {
        let body = json!({"offer_id": item.offer_id, "section": section, "rows": rows});
        post(env, &format!("/api/representations/{}/seats", item.representation_id), body).await?;
    }
    Ok(item)
}

/// An event with one representation and one offer, and no stock yet.
pub async fn create_unstocked(
    env: &Environment,
    title: &str,
    offer_name: &str,
    max_per_order: i32,
) -> anyhow::Result<Item> {
    let event = post(
        env,
        "/api/events",
        json!({"organization_id": "org_bench", "title": title, "venue_name": "Bench Arena", "timezone": "UTC"}),
    )
    .await?;
    let event_id = id_of(&event)?;
    let starts_at = Utc::now() + Duration::days(30);
    let representation = post(
        env,
        &format!("/api/events/{event_id}/representations"),
        json!({"starts_at": starts_at.to_rfc3339(), "ends_at": (starts_at + Duration::hours(3)).to_rfc3339()}),
    )
    .await?;
    let offer = post(
        env,
        &format!("/api/events/{event_id}/offers"),
        json!({"name": offer_name, "price_minor": 4500, "max_quantity_per_order": max_per_order}),
    )
    .await?;
    Ok(Item { event_id, offer_id: id_of(&offer)?, representation_id: id_of(&representation)? })
}

/// Buyers `u1`..`uN`. Existing ones are kept, so a `--target` system can be driven twice.
pub async fn insert_users(pool: &PgPool, count: u32) -> anyhow::Result<()> {
    sqlx::query(
        "insert into users (id, email) select 'u' || g, 'u' || g || '@bench.test' from generate_series(1, $1) g \
         on conflict do nothing",
    )
    .bind(i32::try_from(count)?)
    .execute(pool)
    .await
    .context("inserting the buyers")?;
    Ok(())
}

/// The user id of buyer `i` (0-based), matching [`insert_users`].
pub fn user_id(i: u32) -> String {
    format!("u{}", i + 1)
}

pub async fn post(env: &Environment, path: &str, body: Value) -> anyhow::Result<Value> {
    let answer = env.http.post(env.api.join(path)?).bearer_auth(&env.admin_key).json(&body).send().await?;
    expect_success(answer, &format!("POST {path}")).await
}

pub async fn expect_success(answer: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = answer.status();
    let body = answer.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{what} answered {status}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("{what} answered something that is not JSON: {body}"))
}

pub fn id_of(value: &Value) -> anyhow::Result<String> {
    value["id"].as_str().map(str::to_string).with_context(|| format!("no id in {value}"))
}
