use poem::Request;
use poem::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

/// The payloads of the jobs on `queue`.
async fn payloads(app: &TestApp, queue: &str) -> Vec<Value> {
    sqlx::query_scalar("select convert_from(job, 'UTF8')::jsonb from apalis.jobs where job_type = $1")
        .bind(queue)
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
}

async fn post_as(app: &TestApp, request_id: &str, path: &str, body: Value) -> crate::support::Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path.parse().unwrap())
        .content_type("application/json")
        .header("authorization", format!("Bearer {}", app.client))
        .header("x-request-id", request_id)
        .body(serde_json::to_vec(&body).unwrap());
    app.call(req).await
}

#[tokio::test]
async fn the_jobs_a_request_causes_carry_its_request_id_so_a_buyers_path_can_be_followed() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(5).await;
    let buyer = app.create_user().await;
    let body = json!({"user_id": buyer, "offer_id": offer, "representation_id": rep, "quantity": 1});
    let id = post_as(&app, "req-reserve-1", "/api/reservations", body).await.expect(StatusCode::ACCEPTED)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let allocations = payloads(&app, "reservations").await;
    assert!(allocations.iter().any(|p| p["request_id"] == "req-reserve-1"), "{allocations:?}");

    app.allocate(&offer, &rep).await;
    post_as(&app, "req-confirm-1", &format!("/api/reservations/{id}/confirm"), json!({})).await.expect(StatusCode::OK);
    let issuances = payloads(&app, "fulfillment").await;
    assert_eq!(issuances.len(), 1);
    assert_eq!(issuances[0]["request_id"], "req-confirm-1");
    assert_eq!(issuances[0]["reservation_id"], id.as_str());
}
