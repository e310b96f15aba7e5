//! A queue's settings: validated, shown with the event, fixed once drawn; joins refused clearly.

use poem::http::StatusCode;
use serde_json::json;

use super::{in_seconds, queue_settings};
use crate::support::TestApp;

#[tokio::test]
async fn a_first_queue_needs_every_setting_and_the_event_shows_it_with_its_commitment() {
    let app = TestApp::new().await;
    let (event, _, _) = app.create_catalog("BILLY").await;
    let reply = app.set_queue(&event, json!({"enabled": true})).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let missing: Vec<&str> =
        reply.body["error"]["details"].as_array().unwrap().iter().map(|d| d["loc"][2].as_str().unwrap()).collect();
    assert_eq!(missing, ["prequeue_opens_at", "sale_opens_at", "admit_per_minute", "pass_minutes"]);

    let mut backwards = queue_settings(60);
    backwards["prequeue_opens_at"] = json!(in_seconds(7200));
    app.set_queue(&event, backwards).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");

    let shown = app.set_queue(&event, queue_settings(60)).await.expect(StatusCode::OK);
    let commitment = shown["queue"]["seed_commitment"].as_str().unwrap().to_string();
    assert_eq!(commitment.len(), 64);
    assert!(shown["queue"]["seed"].is_null(), "the seed stays secret until the draw: {shown:#}");
    // switched off and on again, the queue keeps its seed: the draw cannot be re-rolled
    app.set_queue(&event, json!({"enabled": false})).await.expect(StatusCode::OK);
    let again = app.set_queue(&event, json!({"enabled": true, "admit_per_minute": 120})).await.expect(StatusCode::OK);
    assert_eq!(again["queue"]["seed_commitment"], commitment.as_str());
    assert_eq!(again["queue"]["admit_per_minute"], 120);
    let read = app.get(&format!("/api/events/{event}"), None).await.expect(StatusCode::OK);
    assert_eq!(read["queue"]["seed_commitment"], commitment.as_str());
}

#[tokio::test]
async fn once_drawn_the_opening_times_are_fixed_but_the_rate_may_change() {
    let app = TestApp::new().await;
    let (event, _, _) = app.queued_sale(10, 60).await;
    app.joined(&event, &app.create_user().await).await;
    assert_eq!(app.open_sale(&event).await.drawn, 1);
    let reply = app.set_queue(&event, json!({"sale_opens_at": in_seconds(600)})).await;
    reply.expect_error(StatusCode::CONFLICT, "QUEUE_ALREADY_DRAWN");
    app.set_queue(&event, json!({"admit_per_minute": 6000})).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn joining_a_queue_that_does_not_exist_or_is_not_open_is_refused_in_words() {
    let app = TestApp::new().await;
    let user = app.create_user().await;
    let (plain, _, _) = app.on_sale(5).await;
    app.join_queue(&plain, &user).await.expect_error(StatusCode::CONFLICT, "QUEUE_NOT_ENABLED");
    app.get(&format!("/api/events/{plain}/queue"), None).await.expect_error(StatusCode::CONFLICT, "QUEUE_NOT_ENABLED");
    app.get(&format!("/api/events/{plain}/queue/draw"), None)
        .await
        .expect_error(StatusCode::CONFLICT, "QUEUE_NOT_ENABLED");
    app.join_queue("no-such-event", &user).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");

    let (event, _, _) = app.on_sale(5).await;
    let mut later = queue_settings(60);
    later["prequeue_opens_at"] = json!(in_seconds(600));
    app.set_queue(&event, later).await.expect(StatusCode::OK);
    let reply = app.join_queue(&event, &user).await;
    reply.expect_error(StatusCode::CONFLICT, "QUEUE_NOT_OPEN");
    assert!(reply.body["error"]["message"].as_str().unwrap().contains("opens at"), "{:#}", reply.body);

    app.set_queue(&event, json!({"prequeue_opens_at": in_seconds(-1), "enabled": false})).await.expect(StatusCode::OK);
    app.join_queue(&event, &user).await.expect_error(StatusCode::CONFLICT, "QUEUE_NOT_ENABLED");
    app.set_queue(&event, json!({"enabled": true})).await.expect(StatusCode::OK);
    app.join_queue(&event, "nobody").await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get(&format!("/api/events/{event}/queue/draw"), None)
        .await
        .expect_error(StatusCode::CONFLICT, "QUEUE_NOT_DRAWN");
    let entry = app.joined(&event, &user).await;
    app.get(&format!("/api/events/{event}/queue/{}", entry["id"].as_str().unwrap()), None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    app.get(&format!("/api/events/{event}/queue/not-an-id"), Some(&app.client))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}
