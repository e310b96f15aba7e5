use std::time::Duration;

use boxoffice::domain::RatePolicy;
use boxoffice::http::Limits;
use poem::http::StatusCode;

use crate::support::TestApp;

const FAMILIES: &[&str] = &[
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "reservations_total",
    "reservation_decision_seconds_bucket",
    "job_queue_depth",
    "job_queue_oldest_age_seconds",
    "job_runs_total",
    "job_failures_total",
    "job_retries_total",
    "hold_expiry_lag_seconds_bucket",
    "waitlist_promotion_lag_seconds_bucket",
    "allocation_batch_decisions_bucket",
    "db_invariant_violations_total",
    "rate_limited_total",
];

async fn metrics_text(app: &TestApp) -> String {
    let reply = app.get("/metrics", Some(&app.admin)).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.body.as_str().expect("the Prometheus text").to_string()
}

#[tokio::test]
async fn every_metric_family_is_there_after_an_on_sale_and_none_carries_a_secret_or_a_buyer() {
    let app = TestApp::with_limits(Limits {
        per_ip: Some(RatePolicy { requests: 20, window_secs: 60 }),
        ..Limits::default()
    })
    .await;
    let _workers = app.start_workers();
    let (_, rep, offer) = app.on_sale(2).await;
    let buyers = app.create_users(4).await;
    let mut ids = Vec::new();
    for buyer in &buyers {
        ids.push(
            app.reserve(buyer, &offer, &rep, 1).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string(),
        );
    }
    let decided: Vec<_> = futures::future::join_all(ids.iter().map(|id| app.decided(id))).await;
    let held: Vec<&str> = decided.iter().filter(|r| r["status"] == "held").map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(held.len(), 2);
    // the refused join the list; one holder pays, the other's hold lapses and goes to the list
    let refused: Vec<&str> =
        decided.iter().filter(|r| r["status"] == "rejected").map(|r| r["user_id"].as_str().unwrap()).collect();
    app.join_waitlist(&offer, &rep, refused[0], 1).await.expect(StatusCode::OK);
    app.confirm(held[0]).await.expect(StatusCode::OK);
    sqlx::query("update reservations set hold_expires_at = now() - interval '1 second' where id = $1::uuid")
        .bind(held[1])
        .execute(&app.db.pool)
        .await
        .unwrap();
    boxoffice::services::expiry::sweep(&app.db.pool).await.unwrap();
    boxoffice::services::sweeps::record_queue_gauges(&app.db.pool).await.unwrap();
    // tickets issued by the fulfillment worker
    for _ in 0..200 {
        let text = metrics_text(&app).await;
        let runs = text
            .lines()
            .find_map(|l| l.strip_prefix("job_runs_total{queue=\"fulfillment\"} "))
            .and_then(|n| n.parse::<f64>().ok());
        if runs.unwrap_or(0.0) >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // a public burst over the quota
    let mut limited = false;
    for _ in 0..30 {
        limited |= app.get("/api/events", None).await.status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited);

    let text = metrics_text(&app).await;
    for family in FAMILIES {
        assert!(text.lines().any(|l| l.starts_with(family)), "{family} missing from:\n{text}");
    }
    assert!(text.contains("reservations_total{outcome=\"accepted\"}"));
    assert!(text.contains("reservations_total{outcome=\"held\"}"));
    assert!(text.contains("reservations_total{outcome=\"rejected\"}"));
    assert!(text.contains("route=\"/api/reservations/{id}/confirm\""), "routes are templates");
    assert!(text.contains("rate_limited_total{scope=\"ip\"}"));
    for secret in [app.admin.as_str(), app.client.as_str(), rep.as_str(), buyers[0].as_str(), held[0]] {
        assert!(!text.contains(secret), "the metrics show {secret}");
    }
}
