//! Nothing a buyer paid for is left behind: issuance that ran out of attempts is put back by the
//! scheduler, and a notification whose dispatch gave up reads `failed`.

use std::time::Duration;

use boxoffice::domain::job::{DeliverNotification, Job};
use boxoffice::domain::{NewNotification, NotificationKind};
use boxoffice::jobs::sweeps;
use boxoffice::notifications::NotificationConfig;
use boxoffice::services::notify;
use poem::http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::support::TestApp;
use crate::support::webhook_receiver::WebhookReceiver;

/// A confirmed reservation of 2 whose issuance job ran out of attempts a minute ago.
async fn confirmed_with_issuance_exhausted(app: &TestApp) -> String {
    let (_, rep, offer) = app.on_sale(5).await;
    let buyer = app.create_user().await;
    let id = app.reserve_now(&buyer, &offer, &rep, 2).await["id"].as_str().unwrap().to_string();
    app.confirm(&id).await.expect(StatusCode::OK);
    sqlx::query(
        "update apalis.jobs set status = 'Failed', attempts = max_attempts, last_result = '{\"Err\": \"signing key unreachable\"}'
         where job_type = 'fulfillment' and idempotency_key = 'issue:' || $1",
    )
    .bind(&id)
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query("update reservations set confirmed_at = now() - interval '1 minute' where id = $1::uuid")
        .bind(&id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    id
}

async fn tickets_of(app: &TestApp, id: &str) -> usize {
    let reply = app.get(&format!("/api/reservations/{id}/tickets"), Some(&app.client)).await;
    reply.expect(StatusCode::OK).as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_confirmed_reservation_whose_issuance_ran_out_of_attempts_is_requeued_and_gets_its_tickets() {
    let app = TestApp::new().await;
    let id = confirmed_with_issuance_exhausted(&app).await;
    let queues = app.get("/api/admin/queues", Some(&app.admin)).await.expect(StatusCode::OK);
    assert_eq!(
        (queues["confirmed_without_tickets"].as_i64(), queues["issuance_requeued"].as_i64()),
        (Some(1), Some(0))
    );

    assert_eq!(sweeps::requeue_stalled_issuance(&app.db.pool).await.unwrap(), 1);
    // the job is live again, so a second sweep (or a second scheduler) leaves it alone
    assert_eq!(sweeps::requeue_stalled_issuance(&app.db.pool).await.unwrap(), 0);
    let queues = app.get("/api/admin/queues", Some(&app.admin)).await.expect(StatusCode::OK);
    assert_eq!(queues["issuance_requeued"], 1);
    let fulfillment =
        queues["queues"].as_array().unwrap().iter().find(|q| q["queue"] == "fulfillment").unwrap().clone();
    assert_eq!(fulfillment["pending"], 1, "{queues:#}");

    let _workers = app.start_workers();
    for _ in 0..200 {
        if app.reservation(&id).await["status"] == "fulfilled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.reservation(&id).await["status"], "fulfilled");
    assert_eq!(tickets_of(&app, &id).await, 2);
}

#[tokio::test]
async fn an_issuance_job_pruned_away_is_put_back_too() {
    let app = TestApp::new().await;
    let id = confirmed_with_issuance_exhausted(&app).await;
    sqlx::query("delete from apalis.jobs where job_type = 'fulfillment'").execute(&app.db.pool).await.unwrap();
    assert_eq!(sweeps::requeue_stalled_issuance(&app.db.pool).await.unwrap(), 1);
    let live: i64 = sqlx::query_scalar(
        "select count(*) from apalis.jobs where idempotency_key = 'issue:' || $1 and status = 'Pending' and attempts = 0",
    )
    .bind(&id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(live, 1);
}

#[tokio::test]
async fn a_notification_whose_dispatch_gave_up_reads_failed() {
    let app = TestApp::new().await;
    let user = app.create_user().await;
    // dispatching writes delivery rows: make that fail, and give the dispatch a single attempt
    for ddl in [
        "create function refuse() returns trigger language plpgsql as $$ begin raise exception 'disk full'; end $$",
        "create trigger refuse before insert on notification_deliveries for each row execute function refuse()",
    ] {
        sqlx::query(ddl).execute(&app.db.pool).await.unwrap();
    }
    let mut tx = app.db.pool.begin().await.unwrap();
    let reservation = Uuid::new_v4();
    let n = NewNotification {
        kind: NotificationKind::HoldExpired,
        user_id: user.clone(),
        payload: json!({"event_title": "Jazz night", "venue_name": "Olympia", "reservation_id": reservation}),
        dedupe_key: format!("hold_expired:{reservation}"),
    };
    let id = notify::record(&mut tx, n).await.unwrap();
    tx.commit().await.unwrap();
    sqlx::query("update apalis.jobs set max_attempts = 1 where job_type = $1")
        .bind(DeliverNotification::QUEUE)
        .execute(&app.db.pool)
        .await
        .unwrap();

    let receiver = WebhookReceiver::start("127.0.0.1:0", 0).await;
    let config = NotificationConfig {
        webhook_url: Some(receiver.url.parse().unwrap()),
        webhook_secret: Some("s".into()),
        ..Default::default()
    };
    let _workers = app.start_notification_workers(config);
    let mut state = String::new();
    for _ in 0..200 {
        state = sqlx::query_scalar("select state from notifications where id = $1")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        if state != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "failed");
    let error: Option<String> = sqlx::query_scalar("select last_error from notifications where id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(error.unwrap_or_default().contains("disk full"));
}
