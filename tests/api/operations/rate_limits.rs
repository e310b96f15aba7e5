use std::time::Duration;

use boxoffice::domain::{RatePolicy, Role};
use boxoffice::http::Limits;
use poem::http::StatusCode;

use crate::support::{Reply, TestApp};

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply.headers.get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
}

async fn app_with_ip_quota(requests: u32, window_secs: u32) -> TestApp {
    let per_ip = Some(RatePolicy { requests, window_secs });
    TestApp::with_limits(Limits { per_ip, ..Limits::default() }).await
}

#[tokio::test]
async fn a_burst_of_public_requests_is_a_429_with_the_headers_and_service_returns_after_the_window() {
    let app = app_with_ip_quota(3, 1).await;
    for remaining in [2, 1, 0] {
        let ok = app.get("/api/events", None).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(header(&ok, "ratelimit-policy"), "\"ip\";q=3;w=1");
        assert!(header(&ok, "ratelimit").starts_with(&format!("\"ip\";r={remaining};t=")));
    }
    let limited = app.get("/api/events", None).await;
    limited.expect_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    assert_eq!(header(&limited, "retry-after"), "1");
    assert_eq!(header(&limited, "ratelimit"), "\"ip\";r=0;t=1");
    assert_eq!(header(&limited, "ratelimit-policy"), "\"ip\";q=3;w=1");
    assert!(limited.body["error"]["message"].as_str().unwrap().contains("retry in 1 s"));

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.get("/api/events", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_flood_without_a_known_key_is_turned_away_without_the_database() {
    let app = app_with_ip_quota(2, 60).await;
    // guessed keys, unknown to this process: limited per address like anyone without a key
    for _ in 0..2 {
        app.get("/api/users/u1/reservations", Some("bo_guessed"))
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
    app.db.pool.close().await;
    // the database is gone: what is still answered, is answered from memory
    for _ in 0..50 {
        app.get("/api/users/u1/reservations", Some("bo_guessed"))
            .await
            .expect_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
        app.get("/api/events/ev_1", None).await.expect_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    }
}

#[tokio::test]
async fn a_shops_key_has_no_quota_unless_given_one() {
    let app = app_with_ip_quota(2, 60).await;
    // the shop's key, once known (its first request), is not limited per address: it speaks for
    // thousands of buyers
    app.get("/api/users/nobody", Some(&app.client)).await;
    for _ in 0..50 {
        let reply = app.get("/api/users/nobody", Some(&app.client)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert!(reply.headers.get("ratelimit").is_none());
    }
    let created = boxoffice::services::auth::create_key(
        &app.db.pool,
        Role::Client,
        None,
        Some(RatePolicy { requests: 2, window_secs: 60 }),
    )
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let reply = app.get("/api/users/nobody", Some(&created.key)).await;
        statuses.push(reply.status.as_u16());
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(header(&reply, "ratelimit-policy"), "\"key\";q=2;w=60");
            assert!(reply.body["error"]["message"].as_str().unwrap().contains("this API key"));
        }
    }
    // the first request was checked against the address (the key was not known yet: the address's
    // last token), then 2 per key
    assert_eq!(statuses, [404, 404, 404, 429]);
    // the shop's key is unaffected
    assert_eq!(app.get("/api/users/nobody", Some(&app.client)).await.status, StatusCode::NOT_FOUND);
}
