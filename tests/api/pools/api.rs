//! Pools through the API: created, listed, resized, attached to, and the rules that keep their
//! books honest.

use poem::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn a_pool_is_created_listed_resized_and_shared_by_the_items_attached() {
    let app = TestApp::new().await;
    let (event, rep, adult) = app.create_catalog("BILLY").await;
    let child = app.named_offer(&event, "Child", 2500, 4).await;
    let created = app.create_pool(&rep, "stalls", "Stalls", 500).await;
    assert_eq!(
        created,
        json!({"id": "stalls", "representation_id": rep, "name": "Stalls", "total_stock": 500, "available": 500,
               "held": 0, "sold": 0, "seated": false, "offers": [], "updated_at": created["updated_at"]})
    );
    let attached = app.attach(&adult, &rep, "stalls").await;
    assert_eq!((attached["pool_id"].as_str(), attached["total_stock"].as_i64()), (Some("stalls"), Some(500)));
    app.attach(&child, &rep, "stalls").await;
    let listed = app.get(&format!("/api/representations/{rep}/pools"), Some(&app.admin)).await.expect(StatusCode::OK);
    let mut offers = vec![adult.clone(), child.clone()];
    offers.sort();
    assert_eq!(listed[0]["offers"], json!(offers));

    // resized: never below what is held and sold
    let user = app.create_user().await;
    app.reserve_now(&user, &child, &rep, 4).await;
    let path = format!("/api/representations/{rep}/pools/stalls");
    app.patch(&path, Some(&app.admin), json!({"total_stock": 3}))
        .await
        .expect_error(StatusCode::CONFLICT, "STOCK_BELOW_COMMITTED");
    let resized = app.patch(&path, Some(&app.admin), json!({"total_stock": 4})).await.expect(StatusCode::OK);
    assert_eq!((resized["available"].as_i64(), resized["held"].as_i64()), (Some(0), Some(4)));

    // the id is the pool's; the body is checked
    let again = json!({"id": "stalls", "name": "Stalls", "total_stock": 5});
    let reply = app.post(&format!("/api/representations/{rep}/pools"), Some(&app.admin), again).await;
    reply.expect_error(StatusCode::CONFLICT, "ALREADY_EXISTS");
    let bad = json!({"name": " ", "total_stock": 0});
    let reply = app.post(&format!("/api/representations/{rep}/pools"), Some(&app.admin), bad).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let nowhere = app.post("/api/representations/nope/pools", Some(&app.admin), json!({"name": "x", "total_stock": 1}));
    nowhere.await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn an_item_attaches_only_to_a_pool_of_its_representation_and_moves_only_when_nothing_is_committed() {
    let app = TestApp::new().await;
    let (event, rep, adult) = app.create_catalog("BILLY").await;
    let other_rep = app.create_representation(&event, "2027-06-02T20:00:00Z", "2027-06-02T23:00:00Z").await;
    app.create_pool(&other_rep, "elsewhere", "Elsewhere", 10).await;
    let path = format!("/api/offers/{adult}/representations/{rep}/inventory");
    let reply = app.put(&path, Some(&app.admin), json!({"pool_id": "elsewhere"})).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["body", "pool_id"]));
    let reply = app.put(&path, Some(&app.admin), json!({"pool_id": "missing"})).await;
    reply.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let reply = app.put(&path, Some(&app.admin), json!({"pool_id": "elsewhere", "total_stock": 3})).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let reply = app.put(&path, Some(&app.admin), json!({})).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");

    // a total of its own, then a shared pool while nothing is held or sold
    let own = app.put(&path, Some(&app.admin), json!({"total_stock": 10})).await.expect(StatusCode::OK);
    app.create_pool(&rep, "stalls", "Stalls", 20).await;
    let moved = app.attach(&adult, &rep, "stalls").await;
    assert_eq!(moved["pool_id"], "stalls");
    let pools = app.get(&format!("/api/representations/{rep}/pools"), Some(&app.admin)).await.expect(StatusCode::OK);
    assert!(
        pools.as_array().unwrap().iter().all(|p| p["id"] != own["pool_id"]),
        "the pool it left, unused, is gone: {pools}"
    );
    // alone in its pool, a total of its own resizes that pool
    let resized = app.put(&path, Some(&app.admin), json!({"total_stock": 30})).await.expect(StatusCode::OK);
    assert_eq!((resized["pool_id"].as_str(), resized["total_stock"].as_i64()), (Some("stalls"), Some(30)));
    // shared, it leaves the pool for one of its own; once a unit is held, it stays where its
    // units are counted
    let child = app.named_offer(&event, "Child", 2500, 4).await;
    app.attach(&child, &rep, "stalls").await;
    let user = app.create_user().await;
    app.reserve_now(&user, &adult, &rep, 1).await;
    let reply = app.put(&path, Some(&app.admin), json!({"total_stock": 5})).await;
    reply.expect_error(StatusCode::CONFLICT, "ITEM_COMMITTED");
    let child_path = format!("/api/offers/{child}/representations/{rep}/inventory");
    let apart = app.put(&child_path, Some(&app.admin), json!({"total_stock": 5})).await.expect(StatusCode::OK);
    assert_ne!(apart["pool_id"], "stalls");
    assert_eq!(apart["available"], 5);
    assert_eq!(app.pool_books("stalls").await, (30, 29, 1, 0));
}

#[tokio::test]
async fn a_request_stored_with_the_pool_its_item_left_is_refused_by_the_database() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let user = app.create_user().await;
    let old_pool = app.books_pool(&offer, &rep).await;
    app.create_pool(&rep, "stalls", "Stalls", 20).await;
    app.attach(&offer, &rep, "stalls").await;
    // an API process that read the item a moment before the move stores its request
    let mut stale = crate::support::buyer::one_ticket(&user, &offer, &rep);
    stale.lines[0].pool_id = Some(old_pool);
    let mut conn = app.db.pool.acquire().await.unwrap();
    let jobs: [boxoffice::domain::job::AllocateItem; 0] = [];
    let refused = boxoffice::db::reservations::insert_many(&mut conn, &[stale], &jobs).await.unwrap_err();
    let error = boxoffice::services::Error::from(refused);
    assert!(matches!(error, boxoffice::services::Error::Conflict { status: "STOCK_CHANGED", .. }), "{error:?}");
    // the same request with the item's pool goes in
    let fresh = crate::support::buyer::one_ticket(&user, &offer, &rep);
    let stored = boxoffice::db::reservations::insert_many(&mut conn, &[fresh], &jobs).await.unwrap();
    assert_eq!(stored[0].pool_id, "stalls");
}
