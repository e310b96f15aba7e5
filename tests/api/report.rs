//! The organizer's report: sales and the waiting list's funnel, as JSON or CSV.

use poem::Request;
use poem::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn the_report_counts_sales_expired_holds_and_the_waiting_list_funnel() {
    let app = TestApp::new().await;
    let (event, rep, offer) = app.on_sale(2).await;
    let buyer = app.create_user().await;
    let body = json!({"user_id": buyer, "offer_id": offer, "representation_id": rep, "quantity": 2});
    let hold = app.post("/api/reservations", Some(&app.client), body).await.expect(StatusCode::ACCEPTED)["id"]
        .as_str()
        .unwrap()
        .to_string();
    boxoffice::services::allocation::allocate_item(&app.db.pool, &offer, &rep).await.unwrap();
    let users = [app.create_user().await, app.create_user().await, app.create_user().await];
    for (user, quantity) in users.iter().zip([2, 1, 1]) {
        let path = format!("/api/offers/{offer}/representations/{rep}/waitlist?user_id={user}&quantity={quantity}");
        app.post(&path, Some(&app.client), json!(null)).await.expect(StatusCode::OK);
    }
    // released: the first gets 2; it lapses: the two others get 1 each; one buys, one declines
    app.release(&hold).await.expect(StatusCode::OK);
    sqlx::query(
        "update reservations set hold_expires_at = now() - interval '1 second' where from_waitlist and status = 'held'",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    boxoffice::services::expiry::expire_item(&app.db.pool, &offer, &rep).await.unwrap();
    let holds: Vec<String> =
        sqlx::query_scalar("select reservation_id::text from waitlist_entries where status = 'offered' order by seq")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    app.post(&format!("/api/reservations/{}/confirm", holds[0]), Some(&app.client), json!({}))
        .await
        .expect(StatusCode::OK);
    app.post(&format!("/api/reservations/{}/release", holds[1]), Some(&app.client), json!({}))
        .await
        .expect(StatusCode::OK);

    let organizer = app.organizer_key("BILLY").await;
    let report = app.get(&format!("/api/events/{event}/report"), Some(&organizer)).await.expect(StatusCode::OK);
    let line = &report["lines"][0];
    assert_eq!(
        (line["total"].as_i64(), line["available"].as_i64(), line["held"].as_i64(), line["sold"].as_i64()),
        (Some(2), Some(1), Some(0), Some(1))
    );
    assert_eq!(line["revenue_minor"], 4500);
    assert_eq!(line["holds_expired"], 1);
    let funnel = &line["waitlist"];
    assert_eq!(
        [
            &funnel["joined"],
            &funnel["offered"],
            &funnel["converted"],
            &funnel["declined"],
            &funnel["expired"],
            &funnel["waiting"]
        ]
        .map(|v| v.as_i64().unwrap()),
        [3, 3, 1, 1, 1, 0]
    );
    assert!(funnel["median_offer_to_conversion_secs"].as_f64().unwrap() >= 0.0);

    let csv = app
        .call(
            Request::builder()
                .uri(format!("/api/events/{event}/report").parse().unwrap())
                .header("authorization", format!("Bearer {organizer}"))
                .header("accept", "text/csv")
                .finish(),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/csv"));
    let text = csv.body.as_str().unwrap();
    assert!(text.starts_with("representation_id,starts_at,offer_id"), "{text}");
    assert_eq!(text.lines().count(), 2);

    let other = app.organizer_key("OTHER").await;
    app.get(&format!("/api/events/{event}/report"), Some(&other))
        .await
        .expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    app.get(&format!("/api/events/{event}/report"), Some(&app.client))
        .await
        .expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    app.get("/api/events/ev_nope/report", Some(&organizer)).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}
