//! Waiting lists: the existing service's contract, exact ranks, automatic promotion.

use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp};

fn list_path(offer: &str, rep: &str) -> String {
    format!("/api/offers/{offer}/representations/{rep}/waitlist")
}

/// A sold-out item: `stock` tickets all held by one buyer. Returns (offer, rep, the hold's id).
async fn sold_out(app: &TestApp, stock: i64) -> (String, String, String) {
    let (_, rep, offer) = app.on_sale(stock).await;
    let buyer = app.create_user().await;
    let body = json!({"user_id": buyer, "offer_id": offer, "representation_id": rep, "quantity": stock});
    let id = app.post("/api/reservations", Some(&app.client), body).await.expect(StatusCode::ACCEPTED)["id"]
        .as_str()
        .unwrap()
        .to_string();
    boxoffice::services::allocation::allocate_item(&app.db.pool, &offer, &rep).await.unwrap();
    (offer, rep, id)
}

async fn join(app: &TestApp, offer: &str, rep: &str, user: &str, quantity: i64) -> Value {
    app.post(&format!("{}?user_id={user}&quantity={quantity}", list_path(offer, rep)), Some(&app.client), json!(null))
        .await
        .expect(StatusCode::OK)
}

async fn entry_status(app: &TestApp, user: &str) -> Vec<Value> {
    app.get(&format!("/api/users/{user}/waitlists"), Some(&app.client))
        .await
        .expect(StatusCode::OK)
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn joining_answers_200_with_the_position_and_a_message() {
    let app = TestApp::new().await;
    let (offer, rep, _) = sold_out(&app, 2).await;
    let (ann, bob) = (app.create_user().await, app.create_user().await);
    let first = join(&app, &offer, &rep, &ann, 2).await;
    assert_eq!(first["position"], 1);
    assert_eq!(first["message"], "Successfully joined waitlist at position 1");
    assert!(first["id"].is_string());
    // a JSON body works too
    let second =
        app.post(&list_path(&offer, &rep), Some(&app.client), json!({"user_id": bob})).await.expect(StatusCode::OK);
    assert_eq!((second["position"].as_i64(), second["requested_quantity"].as_i64()), (Some(2), Some(1)));
    let position =
        app.get(&format!("{}/{bob}", list_path(&offer, &rep)), Some(&app.client)).await.expect(StatusCode::OK);
    assert_eq!(
        position,
        json!({"user_id": bob, "offer_id": offer, "representation_id": rep, "position": 2, "requested_quantity": 1})
    );
}

/// The old service's clients compare the name, the code and the message, word for word; only
/// validation errors carry details.
#[track_caller]
fn expect_contract_error(reply: &Reply, status: StatusCode, name: &str, message: &str) {
    reply.expect_error(status, name);
    assert_eq!(reply.body["error"]["message"], message, "{:#}", reply.body);
    assert_eq!(reply.body["error"]["code"], status.as_u16());
    if name != "VALIDATION_ERROR" {
        assert!(reply.body["error"]["details"].is_null(), "{:#}", reply.body);
    }
}

#[tokio::test]
async fn each_contract_error_has_its_code_and_name_in_the_order_of_checks() {
    let app = TestApp::new().await;
    let (offer, rep, _) = sold_out(&app, 2).await;
    let (_, open_rep, open_offer) = app.on_sale(5).await;
    let user = app.create_user().await;
    let a = &app;
    let post = |path: String| async move { a.post(&path, Some(&a.client), json!(null)).await };
    // the user is checked first, even with a bad offer
    let reply = post(format!("{}?user_id=nobody", list_path("off_nope", &rep))).await;
    expect_contract_error(&reply, StatusCode::NOT_FOUND, "USER_DOES_NOT_EXIST", "User does not exist");
    let reply = post(format!("{}?user_id={user}", list_path("off_nope", &rep))).await;
    expect_contract_error(&reply, StatusCode::NOT_FOUND, "INVALID_REFERENCE", "Offer off_nope does not exist");
    let reply = post(format!("{}?user_id={user}", list_path(&offer, "rep_nope"))).await;
    expect_contract_error(&reply, StatusCode::NOT_FOUND, "INVALID_REFERENCE", "Representation rep_nope does not exist");
    post(format!("{}?user_id={user}", list_path(&offer, &open_rep)))
        .await
        .expect_error(StatusCode::NOT_FOUND, "INVALID_REFERENCE");
    // still on sale is checked before the quantity
    let reply = post(format!("{}?user_id={user}&quantity=0", list_path(&open_offer, &open_rep))).await;
    let still_on_sale = "Waitlist is not available - tickets are still on sale";
    expect_contract_error(&reply, StatusCode::BAD_REQUEST, "WAITLIST_NOT_AVAILABLE", still_on_sale);
    for (quantity, message) in [
        (0, "Quantity must be greater than 0"),
        (-1, "Quantity must be greater than 0"),
        (5, "Quantity exceeds maximum of 4"),
    ] {
        let reply = post(format!("{}?user_id={user}&quantity={quantity}", list_path(&offer, &rep))).await;
        expect_contract_error(&reply, StatusCode::BAD_REQUEST, "INVALID_QUANTITY", message);
    }
    join(&app, &offer, &rep, &user, 1).await;
    post(format!("{}?user_id={user}&quantity=9", list_path(&offer, &rep)))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "INVALID_QUANTITY");
    let reply = post(format!("{}?user_id={user}", list_path(&offer, &rep))).await;
    expect_contract_error(&reply, StatusCode::CONFLICT, "USER_ALREADY_ON_WAITLIST", "User is already on this waitlist");
    let stranger = app.create_user().await;
    let path = format!("{}/{stranger}", list_path(&offer, &rep));
    let not_on_list = "User is not on this waitlist";
    let reply = app.get(&path, Some(&app.client)).await;
    expect_contract_error(&reply, StatusCode::NOT_FOUND, "USER_NOT_ON_WAITLIST", not_on_list);
    let reply = app.request(poem::http::Method::DELETE, &path, Some(&app.client), None).await;
    expect_contract_error(&reply, StatusCode::NOT_FOUND, "USER_NOT_ON_WAITLIST", not_on_list);
    for query in ["limit=abc", "limit=0", "limit=101", "page=0"] {
        let reply = app.get(&format!("{}?{query}", list_path(&offer, &rep)), Some(&app.client)).await;
        expect_contract_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR", "Validation error");
        assert_eq!(reply.body["error"]["details"][0]["loc"][0], "query", "{query}");
    }
}

#[tokio::test]
async fn the_same_person_asking_their_position_many_times_at_once_is_answered_every_time() {
    let app = TestApp::new().await;
    let (offer, rep, _) = sold_out(&app, 1).await;
    let (ann, bob) = (app.create_user().await, app.create_user().await);
    join(&app, &offer, &rep, &ann, 1).await;
    join(&app, &offer, &rep, &bob, 1).await;
    // lookups waiting at one moment are read in one batch, where a person may appear many times
    let asks = (0..200).map(|i| {
        let user = if i % 2 == 0 { &ann } else { &bob };
        let path = format!("{}/{user}", list_path(&offer, &rep));
        let app = &app;
        async move { (i, app.get(&path, Some(&app.client)).await.expect(StatusCode::OK)) }
    });
    for (i, answer) in futures::future::join_all(asks).await {
        assert_eq!(answer["position"], if i % 2 == 0 { 1 } else { 2 });
    }
}

#[tokio::test]
async fn ranks_stay_exact_after_people_in_the_middle_leave_and_pages_agree() {
    let app = TestApp::new().await;
    let (offer, rep, _) = sold_out(&app, 1).await;
    let mut users = Vec::new();
    for _ in 0..5 {
        let user = app.create_user().await;
        join(&app, &offer, &rep, &user, 1).await;
        users.push(user);
    }
    for leaver in [&users[1], &users[3]] {
        let left = app
            .request(
                poem::http::Method::DELETE,
                &format!("{}/{leaver}", list_path(&offer, &rep)),
                Some(&app.client),
                None,
            )
            .await;
        assert_eq!(left.expect(StatusCode::OK), json!({"message": "Successfully left the waitlist", "success": true}));
    }
    for (user, rank) in [(&users[0], 1), (&users[2], 2), (&users[4], 3)] {
        let p = app.get(&format!("{}/{user}", list_path(&offer, &rep)), Some(&app.client)).await.expect(StatusCode::OK);
        assert_eq!(p["position"], rank);
    }
    let page1 =
        app.get(&format!("{}?limit=2&page=1", list_path(&offer, &rep)), Some(&app.client)).await.expect(StatusCode::OK);
    let page2 =
        app.get(&format!("{}?limit=2&page=2", list_path(&offer, &rep)), Some(&app.client)).await.expect(StatusCode::OK);
    let ranks = |p: &Value| {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["user_id"].as_str().unwrap().to_string(), e["position"].as_i64().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ranks(&page1), [(users[0].clone(), 1), (users[2].clone(), 2)]);
    assert_eq!(ranks(&page2), [(users[4].clone(), 3)]);
    assert_eq!(
        page1["page_info"],
        json!({"has_next_page": true, "has_previous_page": false, "total_count": 3, "page": 1, "page_size": 2, "total_pages": 2})
    );
    assert_eq!(page2["page_info"]["has_next_page"], false);
    assert_eq!(page2["page_info"]["has_previous_page"], true);
    // leaving and joining again puts you last
    app.request(
        poem::http::Method::DELETE,
        &format!("{}/{}", list_path(&offer, &rep), users[0]),
        Some(&app.client),
        None,
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(join(&app, &offer, &rep, &users[0], 1).await["position"], 3);
    let empty = app.get(&format!("{}?page=9", list_path(&offer, &rep)), Some(&app.client)).await.expect(StatusCode::OK);
    assert_eq!((empty["items"].as_array().unwrap().len(), empty["page_info"]["page"].as_i64()), (0, Some(9)));
}

#[tokio::test]
async fn freed_stock_cascades_through_the_list_as_offers_expire() {
    let app = TestApp::new().await;
    let (offer, rep, hold) = sold_out(&app, 2).await;
    let users = [app.create_user().await, app.create_user().await, app.create_user().await];
    for (user, quantity) in users.iter().zip([2, 1, 1]) {
        join(&app, &offer, &rep, user, quantity).await;
    }
    // 2 tickets are released: the first in line gets an offer for 2, at once
    app.release(&hold).await.expect(StatusCode::OK);
    let first = entry_status(&app, &users[0]).await;
    assert_eq!(first[0]["status"], "offered");
    assert!(first[0]["offer_expires_at"].is_string());
    let offer_hold = first[0]["reservation_id"].as_str().unwrap().to_string();
    let held = app.reservation(&offer_hold).await;
    assert_eq!(
        (held["status"].as_str(), held["quantity"].as_i64(), held["hold_minutes"].as_i64()),
        (Some("held"), Some(2), Some(30))
    );
    assert_eq!(entry_status(&app, &users[1]).await[0]["status"], "waiting");
    assert_eq!(app.books(&offer, &rep).await, (2, 0, 2, 0));
    // the offer lapses: the next two get an offer for 1 each, in the same transaction
    sqlx::query("update reservations set hold_expires_at = now() - interval '1 second' where id = $1::uuid")
        .bind(&offer_hold)
        .execute(&app.db.pool)
        .await
        .unwrap();
    boxoffice::services::expiry::expire_item(&app.db.pool, &offer, &rep).await.unwrap();
    assert_eq!(entry_status(&app, &users[0]).await[0]["status"], "expired");
    for user in &users[1..] {
        let entry = &entry_status(&app, user).await[0];
        assert_eq!(entry["status"], "offered", "{entry}");
    }
    assert_eq!(app.books(&offer, &rep).await, (2, 0, 2, 0));
    // each offer and the lapsed hold were told, in the outbox, by the transactions that made them
    let mut offered: Vec<String> =
        sqlx::query_scalar("select user_id from notifications where kind = 'waitlist_offer'")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    offered.sort();
    let mut expected = users.to_vec();
    expected.sort();
    assert_eq!(offered, expected);
    let lapsed: Vec<String> = sqlx::query_scalar("select user_id from notifications where kind = 'hold_expired'")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(lapsed, [users[0].clone()]);
    // confirming an offer converts the entry; declining (release) ends it
    let second_hold = entry_status(&app, &users[1]).await[0]["reservation_id"].as_str().unwrap().to_string();
    let third_hold = entry_status(&app, &users[2]).await[0]["reservation_id"].as_str().unwrap().to_string();
    app.confirm(&second_hold).await.expect(StatusCode::OK);
    app.release(&third_hold).await.expect(StatusCode::OK);
    assert_eq!(entry_status(&app, &users[1]).await[0]["status"], "converted");
    assert_eq!(entry_status(&app, &users[2]).await[0]["status"], "declined");
    assert_eq!(app.books(&offer, &rep).await, (2, 1, 0, 1));
}

#[tokio::test]
async fn freed_stock_goes_to_the_list_first_and_what_nobody_waiting_fits_goes_on_public_sale() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(2).await;
    let (a, b, waiting, outsider) =
        (app.create_user().await, app.create_user().await, app.create_user().await, app.create_user().await);
    let _workers = app.start_workers();
    let ask = |user: &str| {
        app.post(
            "/api/reservations?wait=10",
            Some(&app.client),
            json!({"user_id": user, "offer_id": offer, "representation_id": rep, "quantity": 1}),
        )
    };
    let hold_a = ask(&a).await.expect(StatusCode::OK)["id"].as_str().unwrap().to_string();
    let hold_b = ask(&b).await.expect(StatusCode::OK)["id"].as_str().unwrap().to_string();
    join(&app, &offer, &rep, &waiting, 1).await;
    // one ticket comes back: the person waiting fits, so it is theirs, not the public's
    app.release(&hold_a).await.expect(StatusCode::OK);
    assert_eq!(entry_status(&app, &waiting).await[0]["status"], "offered");
    let public = ask(&outsider).await.expect(StatusCode::OK);
    assert_eq!((public["status"].as_str(), public["reason"].as_str()), (Some("rejected"), Some("SOLD_OUT")));
    // the next one comes back with nobody waiting: the public gets it
    app.release(&hold_b).await.expect(StatusCode::OK);
    let public = ask(&outsider).await.expect(StatusCode::OK);
    assert_eq!(public["status"], "held");
    assert_eq!(app.books(&offer, &rep).await, (2, 0, 2, 0));
}

#[tokio::test]
async fn stock_added_by_the_organizer_goes_to_the_list_first() {
    let app = TestApp::new().await;
    let (offer, rep, _) = sold_out(&app, 2).await;
    let waiting = app.create_user().await;
    join(&app, &offer, &rep, &waiting, 3).await;
    let path = format!("/api/offers/{offer}/representations/{rep}/inventory");
    let item = app.put(&path, Some(&app.admin), json!({"total_stock": 5})).await.expect(StatusCode::OK);
    assert_eq!((item["available"].as_i64(), item["held"].as_i64()), (Some(0), Some(5)));
    assert_eq!(entry_status(&app, &waiting).await[0]["status"], "offered");
}

#[tokio::test]
async fn with_two_schedulers_and_two_workers_no_entry_or_ticket_is_offered_twice() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(10).await;
    let buyers = app.create_users(10).await;
    for buyer in &buyers {
        let body = json!({"user_id": buyer, "offer_id": offer, "representation_id": rep, "quantity": 1});
        app.post("/api/reservations", Some(&app.client), body).await.expect(StatusCode::ACCEPTED);
    }
    boxoffice::services::allocation::allocate_item(&app.db.pool, &offer, &rep).await.unwrap();
    let waiting = app.create_users(25).await;
    for user in &waiting {
        join(&app, &offer, &rep, user, 1).await;
    }
    // every hold lapses at once; two worker processes and two schedulers race to hand them on
    sqlx::query("update reservations set hold_expires_at = now() - interval '1 second' where status = 'held'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let _processes = app.start_worker_processes(2);
    let (s1, s2) = (app.start_workers(), app.start_workers());
    let mut offered = 0;
    for _ in 0..200 {
        offered = sqlx::query_scalar::<_, i64>("select count(*) from waitlist_entries where status = 'offered'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        if offered == 10 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // whatever the racing workers were handed is done before the books are read
    app.due_jobs_done().await;
    drop((s1, s2));
    assert_eq!(offered, 10);
    let distinct: i64 =
        sqlx::query_scalar("select count(distinct reservation_id) from waitlist_entries where status = 'offered'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(distinct, 10);
    let offers: i64 = sqlx::query_scalar("select count(*) from reservations where from_waitlist")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(offers, 10, "one hold per offer, none twice");
    // the first ten in line got them
    let first_ten: Vec<String> =
        sqlx::query_scalar("select user_id from waitlist_entries where status = 'offered' order by seq")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(first_ten, waiting[..10]);
    assert_eq!(app.books(&offer, &rep).await, (10, 0, 10, 0));
}
