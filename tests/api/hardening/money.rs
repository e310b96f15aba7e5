//! Prices and stock are bounded so that no accepted input makes a figure overflow.

use poem::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn a_price_above_10_to_the_12_minor_units_is_refused() {
    let app = TestApp::new().await;
    let event = app.create_event("BILLY", json!({})).await;
    let path = format!("/api/events/{event}/offers");
    for price in [9_000_000_000_000_000_000_i64, 1_000_000_000_001, 0, -5] {
        let reply = app.post(&path, Some(&app.admin), json!({"name": "VIP", "price_minor": price})).await;
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    }
    app.post(&path, Some(&app.admin), json!({"name": "VIP", "price_minor": 1_000_000_000_000_i64}))
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn the_report_of_the_largest_sale_accepted_adds_up_without_overflow() {
    let app = TestApp::new().await;
    let event = app.create_event("BILLY", json!({})).await;
    let rep = app.create_representation(&event, "2027-06-01T20:00:00Z", "2027-06-01T23:00:00Z").await;
    let body = json!({"name": "VIP", "price_minor": 1_000_000_000_000_i64});
    let offer = app
        .post(&format!("/api/events/{event}/offers"), Some(&app.admin), body)
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stock = format!("/api/offers/{offer}/representations/{rep}/inventory");
    app.put(&stock, Some(&app.admin), json!({"total_stock": 1_000_001}))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    app.put(&stock, Some(&app.admin), json!({"total_stock": 1_000_000})).await.expect(StatusCode::OK);
    // every unit sold at the highest price
    sqlx::query(
        "update pools set available = 0, sold = total_stock
         where id = (select pool_id from inventory where offer_id = $1)",
    )
    .bind(&offer)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let report = app.get(&format!("/api/events/{event}/report"), Some(&app.admin)).await.expect(StatusCode::OK);
    assert_eq!(report["lines"][0]["revenue_minor"], json!(1_000_000_000_000_000_000_i64));
}

#[tokio::test]
async fn seats_beyond_the_stock_bound_are_refused_by_the_database_as_a_422() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    app.add_seats(&offer, &rep, &["A1"]).await;
    // the bound holds whatever path writes the books
    sqlx::query(
        "update pools set total_stock = 999999, available = 999999
         where id = (select pool_id from inventory where offer_id = $1)",
    )
    .bind(&offer)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let body = json!({"offer_id": offer, "labels": ["B1", "B2"]});
    let reply = app.post(&format!("/api/representations/{rep}/seats"), Some(&app.admin), body).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
}
