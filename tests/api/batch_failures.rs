//! A failure inside a batch keeps its class: every caller of a batch the database could not serve
//! gets the 503 a lone request would get (nothing done, `Retry-After`), and after shutdown the
//! batchers refuse new requests the same way.

use std::time::Duration;

use boxoffice::db::Timeouts;
use boxoffice::services::batch::Tasks;
use futures::future::join_all;
use poem::http::StatusCode;
use sqlx::postgres::PgPoolOptions;

use crate::support::{Reply, TestApp};

#[track_caller]
fn assert_unavailable(reply: &Reply) {
    reply.expect_error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE");
    assert!(reply.headers.contains_key("retry-after"), "a 503 says when to retry: {:?}", reply.headers);
}

async fn reservations_of(app: &TestApp, users: &[String]) -> i64 {
    sqlx::query_scalar("select count(*) from reservations where user_id = any($1)")
        .bind(users)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pool_exhausted_mid_batch_answers_503_to_every_member_and_stores_nothing() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(100).await;
    let users = app.create_users(20).await;
    let small = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_millis(300))
        .connect(&app.db.url)
        .await
        .unwrap();
    let app = app.rewired(small.clone(), &Tasks::default());
    // the key and the item are known (cached) before the pool runs dry
    app.reserve(&users[0], &offer, &rep, 1).await.expect(StatusCode::ACCEPTED);
    // every connection the pool will give is taken
    let mut taken = Vec::new();
    while let Ok(conn) = small.acquire().await {
        taken.push(conn);
    }

    let members = &users[1..];
    let replies = join_all(members.iter().map(|u| app.reserve(u, &offer, &rep, 1))).await;
    for reply in &replies {
        assert_unavailable(reply);
    }
    drop(taken);
    assert_eq!(reservations_of(&app, members).await, 0, "nothing was done for them");
    // the same requests go through once the database answers again
    for u in members {
        app.reserve(u, &offer, &rep, 1).await.expect(StatusCode::ACCEPTED);
    }
}

#[tokio::test]
async fn a_lock_timeout_in_a_batch_answers_503_to_its_members_and_they_succeed_later() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(100).await;
    let users = app.create_users(10).await;
    let mut holds = Vec::new();
    for u in &users[..5] {
        let hold = app.reserve_now(u, &offer, &rep, 1).await;
        holds.push(hold["id"].as_str().unwrap().to_string());
    }
    let timeouts = Timeouts { statement: Duration::from_secs(10), lock: Duration::from_millis(200) };
    let impatient = boxoffice::db::connect_with(&app.db.url, 10, timeouts).await.unwrap();
    let app = app.rewired(impatient, &Tasks::default());

    // an organizer's transaction holds the item's row and its pool's while the batches come
    let mut organizer = app.db.pool.begin().await.unwrap();
    sqlx::query(
        "select 1 from pools p join inventory i on i.pool_id = p.id
         where i.offer_id = $1 and i.representation_id = $2 for update",
    )
    .bind(&offer)
    .bind(&rep)
    .execute(&mut *organizer)
    .await
    .unwrap();
    let confirms = join_all(holds.iter().map(|id| app.confirm(id))).await;
    let reservations = join_all(users[5..].iter().map(|u| app.reserve(u, &offer, &rep, 1))).await;
    for reply in confirms.iter().chain(&reservations) {
        assert_unavailable(reply);
    }
    organizer.rollback().await.unwrap();

    assert_eq!(reservations_of(&app, &users[5..]).await, 0, "no reservation was stored");
    for id in &holds {
        assert_eq!(app.reservation(id).await["status"], "held", "no hold was confirmed");
        assert_eq!(app.confirm(id).await.expect(StatusCode::OK)["status"], "confirmed");
    }
    for u in &users[5..] {
        app.reserve(u, &offer, &rep, 1).await.expect(StatusCode::ACCEPTED);
    }
}

#[tokio::test]
async fn after_shutdown_the_batched_routes_answer_503_and_do_nothing() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let users = app.create_users(2).await;
    let tasks = Tasks::default();
    let pool = app.db.pool.clone();
    let app = app.rewired(pool, &tasks);
    let hold = app.reserve_now(&users[0], &offer, &rep, 1).await;

    tasks.shutdown.cancel();
    assert_unavailable(&app.reserve(&users[1], &offer, &rep, 1).await);
    assert_unavailable(&app.confirm(hold["id"].as_str().unwrap()).await);
    assert_unavailable(&app.join_waitlist(&offer, &rep, &users[1], 1).await);
    tokio::time::timeout(Duration::from_secs(10), tasks.drained()).await.expect("the batchers ended");
    assert_eq!(reservations_of(&app, &users[1..]).await, 0);
    assert_eq!(app.reservation(hold["id"].as_str().unwrap()).await["status"], "held");
}
