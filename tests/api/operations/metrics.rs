use std::time::Duration;

use boxoffice::domain::RatePolicy;
use boxoffice::http::Limits;
use poem::http::StatusCode;

use crate::support::TestApp;

/// Families shown from the process's start, at 0 (counters that should stay there, and each
/// queue's job counters): their presence is the promise, whatever happened.
const SHOWN_AT_ZERO: &[&str] = &[
    "db_invariant_violations_total",
    "job_failures_total",
    "job_retries_total",
    "job_runs_total",
    "rate_limited_total",
];

/// The sum of the samples of `name` whose labels include each of `labels` (`queue="fulfillment"`),
/// 0 when there is none. The recorder is the process's, shared with the tests running alongside:
/// a test compares what it reads before and after, and counts only go up.
fn value(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, sample) = l.rsplit_once(' ')?;
            let (family, rest) = series.split_once('{').unwrap_or((series, ""));
            let wanted = family == name && labels.iter().all(|label| rest.contains(label));
            if wanted { sample.parse::<f64>().ok() } else { None }
        })
        .sum()
}

async fn metrics_text(app: &TestApp) -> String {
    let reply = app.get("/metrics", Some(&app.admin)).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.body.as_str().expect("the Prometheus text").to_string()
}

#[tokio::test]
async fn an_on_sale_makes_each_of_its_metrics_grow_and_none_carries_a_secret_or_a_buyer() {
    let app = TestApp::with_limits(Limits {
        per_ip: Some(RatePolicy { requests: 20, window_secs: 60 }),
        ..Limits::default()
    })
    .await;
    let before = metrics_text(&app).await;
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
    // the confirmed hold's tickets are issued by the fulfillment worker
    let mut fulfilled = false;
    for _ in 0..200 {
        fulfilled = app.reservation(held[0]).await["status"] == "fulfilled";
        if fulfilled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(fulfilled, "the tickets of {} were not issued", held[0]);
    // a public burst over the quota
    let mut limited = 0;
    for _ in 0..30 {
        if app.get("/api/events", None).await.status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited > 0, "the burst was never limited");

    let text = metrics_text(&app).await;
    let confirm_route = "route=\"/api/reservations/{id}/confirm\"";
    // (family, labels, how much this test alone made it grow at least)
    let grown: &[(&str, &[&str], f64)] = &[
        ("http_requests_total", &[confirm_route, "status=\"200\""], 1.0),
        ("http_requests_total", &["status=\"429\""], f64::from(limited)),
        ("http_request_duration_seconds_count", &[confirm_route], 1.0),
        ("reservations_total", &["outcome=\"accepted\""], 4.0),
        ("reservations_total", &["outcome=\"held\""], 2.0),
        ("reservations_total", &["outcome=\"rejected\""], 2.0),
        ("reservation_decision_seconds_count", &[], 4.0),
        ("allocation_batch_decisions_count", &[], 1.0),
        ("hold_expiry_lag_seconds_count", &[], 1.0),
        ("waitlist_promotion_lag_seconds_count", &[], 1.0),
        ("job_runs_total", &["queue=\"fulfillment\""], 1.0),
        ("rate_limited_total", &["scope=\"ip\""], f64::from(limited)),
    ];
    for (family, labels, at_least) in grown {
        let grew = value(&text, family, labels) - value(&before, family, labels);
        assert!(grew >= *at_least, "{family}{labels:?} grew by {grew}, not at least {at_least}:\n{text}");
    }
    for family in SHOWN_AT_ZERO {
        assert!(before.lines().any(|l| l.starts_with(family)), "{family} missing from:\n{before}");
    }
    for secret in [app.admin.as_str(), app.client.as_str(), rep.as_str(), buyers[0].as_str(), held[0]] {
        assert!(!text.contains(secret), "the metrics show {secret}");
    }
}

/// The queue gauges have no before and after to compare, so they are read from a recorder of the
/// test's own, set for this thread (the test's runtime) while the gauges are recorded.
#[tokio::test]
async fn the_queue_gauges_are_set_for_every_queue_from_the_queue_table() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(2).await;
    let buyer = app.create_user().await;
    app.reserve(&buyer, &offer, &rep, 1).await.expect(StatusCode::ACCEPTED);
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    {
        let _ours = metrics::set_default_local_recorder(&recorder);
        boxoffice::services::sweeps::record_queue_gauges(&app.db.pool).await.unwrap();
    }
    let text = handle.render();
    for queue in boxoffice::domain::job::QUEUES {
        let queue = format!("queue=\"{queue}\"");
        for family in ["job_queue_depth", "job_queue_oldest_age_seconds"] {
            assert!(
                text.lines().any(|l| l.starts_with(family) && l.contains(&queue)),
                "no {family}{{{queue}}} in:\n{text}"
            );
        }
    }
    // the one reservation waiting for its decision is the reservations queue's one job
    assert_eq!(value(&text, "job_queue_depth", &["queue=\"reservations\""]), 1.0, "{text}");
    assert!(value(&text, "job_queue_oldest_age_seconds", &["queue=\"reservations\""]) >= 0.0);
}
