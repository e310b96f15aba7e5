//! A hold is decided against the clock read after the item's lock is taken: a confirm that waited
//! for the lock past the hold's end is refused.

use std::time::Duration;

use poem::http::StatusCode;
use sqlx::Connection;

use crate::support::TestApp;

/// Holds the item's lock from another connection for `hold_for`, the way a busy worker would.
async fn busy_item(app: &TestApp, offer: &str, rep: &str, hold_for: Duration) {
    let mut conn = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("select 1 from inventory where offer_id = $1 and representation_id = $2 for no key update")
        .bind(offer)
        .bind(rep)
        .execute(&mut *tx)
        .await
        .unwrap();
    tokio::time::sleep(hold_for).await;
    tx.commit().await.unwrap();
}

/// Makes a hold end `in_ms` from now.
async fn ends_soon(app: &TestApp, id: &str, in_ms: i64) {
    sqlx::query(
        "update reservations set hold_expires_at = clock_timestamp() + make_interval(secs => $2::float8 / 1000)
         where id = $1::uuid",
    )
    .bind(id)
    .bind(in_ms)
    .execute(&app.db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_confirm_that_waits_for_the_lock_past_the_holds_end_is_refused_hold_expired() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(1).await;
    let buyer = app.create_user().await;
    let hold = app.reserve_now(&buyer, &offer, &rep, 1).await;
    let id = hold["id"].as_str().unwrap();
    ends_soon(&app, id, 1500).await;
    let busy = busy_item(&app, &offer, &rep, Duration::from_millis(3000));
    let confirm = async {
        // starts while the hold is still live, then waits for the lock
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.confirm(id).await
    };
    let ((), reply) = tokio::join!(busy, confirm);
    reply.expect_error(StatusCode::CONFLICT, "HOLD_EXPIRED");
    assert_eq!(app.reservation(id).await["status"], "expired");
    assert_eq!(app.books(&offer, &rep).await, (1, 1, 0, 0));
}

#[tokio::test]
async fn a_release_that_waits_for_the_lock_past_the_holds_end_finds_it_expired() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(1).await;
    let buyer = app.create_user().await;
    let id = app.reserve_now(&buyer, &offer, &rep, 1).await["id"].as_str().unwrap().to_string();
    ends_soon(&app, &id, 1500).await;
    let busy = busy_item(&app, &offer, &rep, Duration::from_millis(3000));
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.release(&id).await
    };
    let ((), reply) = tokio::join!(busy, release);
    assert_eq!(reply.expect(StatusCode::OK)["status"], "expired");
    assert_eq!(app.books(&offer, &rep).await, (1, 1, 0, 0));
}
