//! Notifications: recorded in the caller's transaction, delivered over a real webhook receiver and
//! a real SMTP server on loopback, retried with backoff, failed for good after the last attempt,
//! and put back by an admin.

use std::time::Duration;

use boxoffice::domain::{NewNotification, NotificationKind};
use boxoffice::notifications::{NotificationConfig, SmtpTls};
use boxoffice::services::notify;
use hmac::{Hmac, Mac};
use poem::http::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::support::TestApp;
use crate::support::smtp_server::SmtpServer;
use crate::support::webhook_receiver::{WebhookReceiver, unused_port};

const SECRET: &str = "test-webhook-secret";

fn webhook(url: &str, max_attempts: i32, backoff_base_ms: u64) -> NotificationConfig {
    NotificationConfig {
        webhook_url: Some(url.parse().unwrap()),
        webhook_secret: Some(SECRET.into()),
        notify_max_attempts: max_attempts,
        notify_backoff_base_ms: backoff_base_ms,
        ..Default::default()
    }
}

fn tickets_issued(user: &str, codes: &[&str]) -> NewNotification {
    let reservation = Uuid::new_v4();
    NewNotification {
        kind: NotificationKind::TicketsIssued,
        user_id: user.into(),
        payload: json!({
            "event_title": "Jazz night", "performance_starts_at": "2027-06-01T20:00:00+02:00",
            "venue_name": "Olympia", "reservation_id": reservation, "quantity": codes.len(), "ticket_codes": codes,
        }),
        dedupe_key: format!("tickets_issued:{reservation}"),
    }
}

/// Records in a transaction of our own, as a caller would in its.
async fn record(app: &TestApp, n: NewNotification) -> Uuid {
    let mut tx = app.db.pool.begin().await.unwrap();
    let id = notify::record(&mut tx, n).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// The outbox row: (state, attempts, last_error, delivered).
async fn outbox(app: &TestApp, id: Uuid) -> (String, i32, Option<String>, bool) {
    sqlx::query_as("select state, attempts, last_error, delivered_at is not null from notifications where id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn wait_for_state(app: &TestApp, id: Uuid, state: &str) -> (String, i32, Option<String>, bool) {
    for _ in 0..600 {
        let row = outbox(app, id).await;
        if row.0 == state {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("notification {id} is still {:?}, not {state}", outbox(app, id).await);
}

/// Returns once every job of the notifications queue is done: none waits, runs or will be
/// retried, so no further attempt can come (20 s at most).
async fn queue_is_done(app: &TestApp) {
    for _ in 0..400 {
        let (left, done): (i64, i64) = sqlx::query_as(
            "select count(*) filter (where status <> 'Done'), count(*) filter (where status = 'Done')
             from apalis.jobs where job_type = 'notifications'",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        if left == 0 && done > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the notifications queue still has jobs to run after 20 s");
}

/// The notification's job in the failed listing. The worker reports a job's status just after
/// the attempt is counted in the outbox, so it may take a moment to show.
async fn failed_job_of(app: &TestApp, id: Uuid) -> Value {
    for _ in 0..100 {
        let listed = app.get("/api/admin/jobs?status=failed", Some(&app.admin)).await.expect(StatusCode::OK);
        if let Some(job) = listed["jobs"].as_array().unwrap().iter().find(|j| j["notification_id"] == json!(id)) {
            return job.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the job of notification {id} is not listed as failed");
}

#[tokio::test]
async fn a_webhook_refused_twice_is_delivered_on_the_third_attempt_with_one_id_a_valid_signature_and_backoff() {
    let app = TestApp::new().await;
    let receiver = WebhookReceiver::start("127.0.0.1:0", 2).await;
    let base = Duration::from_millis(400);
    let _workers = app.start_notification_workers(webhook(&receiver.url, 5, base.as_millis() as u64));
    let user = app.create_user().await;
    let id = record(&app, tickets_issued(&user, &["K7QM-2XWP-9RTA"])).await;

    let (state, attempts, _, delivered) = wait_for_state(&app, id, "delivered").await;
    assert_eq!((state.as_str(), attempts, delivered), ("delivered", 3, true));
    // nothing more comes: no job of the queue is left to run
    queue_is_done(&app).await;
    let received = receiver.received();
    assert_eq!(received.len(), 3, "two refusals, then exactly one delivery");
    for r in &received {
        assert_eq!(r.id, id.to_string(), "every attempt carries the notification id");
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{}.{}.", r.id, r.timestamp).as_bytes());
        mac.update(&r.body);
        let expected = data_encoding::BASE64.encode(&mac.finalize().into_bytes());
        assert_eq!(r.signature, format!("v1,{expected}"), "the signature verifies with the secret");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            (body["id"].as_str(), body["kind"].as_str()),
            (Some(id.to_string().as_str()), Some("tickets_issued"))
        );
        assert_eq!(body["data"]["ticket_codes"], json!(["K7QM-2XWP-9RTA"]));
    }
    assert_eq!(received[0].body, received[2].body, "the same body on every attempt");
    // exponential backoff between attempts (arrival instants; a little slack for clocks)
    let slack = Duration::from_millis(50);
    let gaps = [received[1].at - received[0].at, received[2].at - received[1].at];
    assert!(gaps[0] + slack >= base, "first wait {:?} is at least the base {base:?}", gaps[0]);
    assert!(gaps[1] + slack >= base * 2, "second wait {:?} is at least twice the base", gaps[1]);
}

#[tokio::test]
async fn a_webhook_that_never_gets_through_fails_is_listed_and_is_delivered_once_retried() {
    let app = TestApp::new().await;
    let port = unused_port();
    let _workers = app.start_notification_workers(webhook(&format!("http://127.0.0.1:{port}/hook"), 3, 100));
    let user = app.create_user().await;
    let id = record(&app, tickets_issued(&user, &["AAAA-BBBB-CCCC"])).await;

    let (_, attempts, last_error, delivered) = wait_for_state(&app, id, "failed").await;
    assert_eq!((attempts, delivered), (3, false));
    assert!(last_error.unwrap().contains("webhook not delivered"));
    let job = failed_job_of(&app, id).await;
    assert_eq!((job["queue"].as_str(), job["channel"].as_str()), (Some("notifications"), Some("webhook")));
    assert_eq!((job["attempts"].as_i64(), job["max_attempts"].as_i64()), (Some(3), Some(3)));
    assert!(job["last_error"].as_str().is_some_and(|e| e.contains("webhook not delivered")), "{job:#}");
    assert_eq!(job["status"], "failed", "not killed: it stays listed until retried");
    let other = app.get("/api/admin/jobs?status=failed&queue=reservations", Some(&app.admin)).await;
    assert_eq!(other.expect(StatusCode::OK)["jobs"], json!([]));

    let receiver = WebhookReceiver::start(&format!("127.0.0.1:{port}"), 0).await;
    let path = format!("/api/admin/jobs/{}/retry", job["id"].as_str().unwrap());
    let retried = app.post(&path, Some(&app.admin), json!({})).await.expect(StatusCode::OK);
    assert_eq!((retried["status"].as_str(), retried["attempts"].as_i64()), (Some("pending"), Some(0)));
    app.post(&path, Some(&app.admin), json!({})).await.expect_error(StatusCode::CONFLICT, "JOB_NOT_FAILED");

    let (_, attempts, _, delivered) = wait_for_state(&app, id, "delivered").await;
    assert_eq!((attempts, delivered), (4, true));
    let received = receiver.wait_for(1).await;
    assert_eq!((received.len(), received[0].id.as_str()), (1, id.to_string().as_str()));
}

#[tokio::test]
async fn each_configured_channel_delivers_and_the_email_carries_the_ticket_codes() {
    let app = TestApp::new().await;
    let smtp = SmtpServer::start().await;
    let receiver = WebhookReceiver::start("127.0.0.1:0", 0).await;
    let config = NotificationConfig {
        smtp_host: Some("127.0.0.1".into()),
        smtp_port: Some(smtp.port),
        smtp_from: Some("Boxoffice <tickets@boxoffice.test>".into()),
        smtp_tls: SmtpTls::None,
        ..webhook(&receiver.url, 5, 100)
    };
    let _workers = app.start_notification_workers(config);
    let user = app.create_user().await;
    let email: String =
        sqlx::query_scalar("select email from users where id = $1").bind(&user).fetch_one(&app.db.pool).await.unwrap();
    let id = record(&app, tickets_issued(&user, &["K7QM-2XWP-9RTA", "M3NB-Q8ZD-4HVE"])).await;

    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!((mail.from.as_str(), mail.to.clone()), ("tickets@boxoffice.test", vec![email]));
    for expected in ["Subject: Your tickets for Jazz night", "K7QM-2XWP-9RTA", "M3NB-Q8ZD-4HVE", "Olympia", "20:00"] {
        assert!(mail.data.contains(expected), "{expected} is not in the email:\n{}", mail.data);
    }
    assert!(mail.data.contains(&format!("Message-ID: <{id}@boxoffice.test>")), "{}", mail.data);
    assert_eq!(receiver.wait_for(1).await[0].id, id.to_string());
    let (_, attempts, _, delivered) = wait_for_state(&app, id, "delivered").await;
    assert_eq!((attempts, delivered), (2, true), "one attempt per channel");
}

#[tokio::test]
async fn without_a_channel_a_notification_is_kept_as_unsent_and_recording_the_same_fact_twice_makes_one() {
    let app = TestApp::new().await;
    let _workers = app.start_notification_workers(NotificationConfig::default());
    let user = app.create_user().await;
    let first = tickets_issued(&user, &["AAAA-BBBB-CCCC"]);
    let again = NewNotification { payload: json!({"something": "else"}), ..first.clone() };
    let id = record(&app, first).await;
    assert_eq!(record(&app, again).await, id, "the same dedupe key is the same notification");

    let (_, attempts, last_error, delivered) = wait_for_state(&app, id, "unsent").await;
    assert_eq!((attempts, delivered), (0, false));
    assert_eq!(last_error.as_deref(), Some("no delivery channel configured"));
    let (rows, jobs, codes): (i64, i64, Value) = sqlx::query_as(
        "select (select count(*) from notifications), (select count(*) from apalis.jobs where job_type = 'notifications'),
                (select payload -> 'ticket_codes' from notifications where id = $1)",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!((rows, jobs, codes), (1, 1, json!(["AAAA-BBBB-CCCC"])), "one notification, its payload kept");
}

#[tokio::test]
async fn a_notification_recorded_in_a_transaction_rolled_back_leaves_no_trace() {
    let app = TestApp::new().await;
    let user = app.create_user().await;
    let mut tx = app.db.pool.begin().await.unwrap();
    notify::record(&mut tx, tickets_issued(&user, &["AAAA"])).await.unwrap();
    tx.rollback().await.unwrap();
    let (rows, jobs): (i64, i64) = sqlx::query_as(
        "select (select count(*) from notifications), (select count(*) from apalis.jobs where job_type = 'notifications')",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!((rows, jobs), (0, 0));
}

#[tokio::test]
async fn the_admin_endpoints_are_for_admin_keys_and_list_every_queue_with_its_depth_and_age() {
    let app = TestApp::new().await;
    for path in ["/api/admin/queues", "/api/admin/jobs?status=failed"] {
        app.get(path, Some(&app.client)).await.expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
        app.get(path, None).await.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
    let retry = app.post("/api/admin/jobs/01JXYZ/retry", Some(&app.client), json!({})).await;
    retry.expect_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let unknown = app.post("/api/admin/jobs/01JXYZ/retry", Some(&app.admin), json!({})).await;
    unknown.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get("/api/admin/jobs?status=done", Some(&app.admin))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    app.get("/api/admin/jobs?limit=0", Some(&app.admin))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");

    // no worker runs here: the notification's dispatch waits in its queue
    let user = app.create_user().await;
    record(&app, tickets_issued(&user, &["AAAA"])).await;
    let listing = app.get("/api/admin/queues", Some(&app.admin)).await.expect(StatusCode::OK);
    let queues = listing["queues"].as_array().unwrap();
    let names: Vec<_> = queues.iter().map(|q| q["queue"].as_str().unwrap()).collect();
    for known in ["expirations", "notifications", "reservations"] {
        assert!(names.contains(&known), "{known} is listed: {names:?}");
    }
    let notifications = queues.iter().find(|q| q["queue"] == "notifications").unwrap();
    for count in ["pending", "retrying", "running", "failed", "done"] {
        assert!(notifications[count].is_i64(), "{count} is a count: {notifications:#}");
    }
    assert_eq!(notifications["pending"], 1);
    assert!(notifications["oldest_pending_age_secs"].as_f64().is_some_and(|age| age >= 0.0), "{notifications:#}");
    let expirations = queues.iter().find(|q| q["queue"] == "expirations").unwrap();
    assert_eq!((expirations["pending"].as_i64(), expirations["oldest_pending_age_secs"].is_null()), (Some(0), true));
}
