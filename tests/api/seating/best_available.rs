//! Best available: the worker picks adjacent seats at the request's turn, in arrival order,
//! leaving no single seat alone when it can.

use futures::future::join_all;
use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{hall_item, seats_of};
use crate::support::TestApp;

#[tokio::test]
async fn best_available_holds_adjacent_seats_in_the_front_row_nearest_the_middle() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    app.add_rows(&offer, &rep, Some("stalls"), &[("1", 1, 10), ("2", 1, 10)]).await;
    let user = app.create_user().await;
    let held = app.reserve_best_now(&user, &offer, &rep, 3).await;
    assert_eq!(held["status"], "held", "{held}");
    assert_eq!(seats_of(&held), ["STALLS-1-4", "STALLS-1-5", "STALLS-1-6"]);
    assert_eq!(held["best_available"], json!({"quantity": 3, "section": null, "together": true}));
    assert_eq!(app.books(&offer, &rep).await, (20, 17, 3, 0));
}

#[tokio::test]
async fn an_aisle_is_a_number_left_out_and_a_block_never_crosses_it() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    // 1-3, aisle, 5-7
    app.add_rows(&offer, &rep, None, &[("A", 1, 3), ("A", 5, 7)]).await;
    let user = app.create_user().await;
    let rejected = app.reserve_best_now(&user, &offer, &rep, 4).await;
    assert_eq!((&rejected["status"], &rejected["reason"]), (&json!("rejected"), &json!("SEATS_NOT_TOGETHER")));
    let reply = app.reserve_best(&user, &offer, &rep, json!({"quantity": 4, "together": false})).await;
    let id = reply.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string();
    app.allocate(&offer, &rep).await;
    let apart = app.reservation(&id).await;
    assert_eq!(apart["status"], "held");
    assert_eq!(seats_of(&apart), ["A-2", "A-3", "A-5", "A-6"], "the four closest together, nearest the middle");
}

#[tokio::test]
async fn a_block_that_would_leave_a_lonely_seat_is_passed_over_unless_every_block_would() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    // row 1: seats 1-3 free, 4 sold by name; row 2: 1-4 free
    app.add_rows(&offer, &rep, None, &[("1", 1, 4), ("2", 1, 4)]).await;
    let user = app.create_user().await;
    assert_eq!(app.reserve_seats_now(&user, &offer, &rep, &["1-4"]).await["status"], "held");
    // a pair in row 1 would leave one seat alone: row 2 has a pair that does not
    let pair = app.reserve_best_now(&user, &offer, &rep, 2).await;
    assert_eq!(seats_of(&pair), ["2-1", "2-2"]);
    // now row 1 (1-3) and row 2 (3-4): 2-3..2-4 leaves nothing alone
    assert_eq!(seats_of(&app.reserve_best_now(&user, &offer, &rep, 2).await), ["2-3", "2-4"]);
    // only row 1 is left, and any pair there leaves one alone: the best pair anyway
    assert_eq!(seats_of(&app.reserve_best_now(&user, &offer, &rep, 2).await), ["1-2", "1-3"]);
    assert_eq!(seats_of(&app.reserve_best_now(&user, &offer, &rep, 1).await), ["1-1"]);
    assert_eq!(app.books(&offer, &rep).await, (8, 0, 8, 0));
}

#[tokio::test]
async fn requests_are_served_in_arrival_order_each_with_the_best_block_left() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    app.add_rows(&offer, &rep, None, &[("1", 1, 4), ("2", 1, 4), ("3", 1, 4)]).await;
    let users = app.create_users(4).await;
    let mut ids = Vec::new();
    for user in &users {
        // queued before any worker decides
        let reply = app.reserve_best(user, &offer, &rep, json!({"quantity": 4})).await;
        ids.push(reply.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string());
    }
    let _workers = app.start_workers();
    let mut rows = Vec::new();
    for id in &ids {
        let r = app.decided(id).await;
        rows.push(
            seats_of(&r).first().map(|s| s.split('-').next().unwrap().to_string()).unwrap_or(r["reason"].to_string()),
        );
    }
    assert_eq!(rows, ["1", "2", "3", "\"SOLD_OUT\""]);
}

#[tokio::test]
async fn a_best_available_hold_is_confirmed_and_ticketed_per_seat_and_expires_like_any_hold() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    app.add_rows(&offer, &rep, Some("A"), &[("1", 1, 6)]).await;
    let (_, id) =
        crate::tickets::confirmed(&app, &offer, &rep, json!({"best_available": {"quantity": 2, "section": "a"}})).await;
    crate::tickets::issue(&app, &id).await;
    let tickets = crate::tickets::tickets_of(&app, &id).await;
    let seats: Vec<&str> = tickets.iter().map(|t| t["seat"].as_str().unwrap()).collect();
    assert_eq!(seats, ["A-1-3", "A-1-4"]);
    let user = app.create_user().await;
    let other = app.reserve_best_now(&user, &offer, &rep, 2).await;
    sqlx::query("update reservations set hold_expires_at = now() - interval '1 second' where id = $1::uuid")
        .bind(other["id"].as_str().unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    let map = app.get(&format!("/api/representations/{rep}/seatmap"), None).await.expect(StatusCode::OK);
    let statuses: Vec<&str> = map["sections"][0]["rows"][0]["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["AVAILABLE", "AVAILABLE", "SOLD", "SOLD", "AVAILABLE", "AVAILABLE"],
        "the lapsed hold's seats"
    );
    // its seats are free again at the next decision
    let again = app.reserve_best_now(&user, &offer, &rep, 2).await;
    assert_eq!(again["status"], "held");
    assert_eq!(app.books(&offer, &rep).await, (6, 2, 2, 2));
}

#[tokio::test]
async fn bad_best_available_requests_are_422s_with_details() {
    let app = TestApp::new().await;
    let (event, rep, offer) = hall_item(&app).await;
    app.add_rows(&offer, &rep, Some("stalls"), &[("1", 1, 10)]).await;
    let vip = app.create_offer(&event, 9000).await;
    app.add_rows(&vip, &rep, Some("boxes"), &[("1", 1, 4)]).await;
    let (_, ga_rep, ga_offer) = app.on_sale(10).await;
    let user = app.create_user().await;
    let ask = |body: Value| {
        let mut full = json!({"user_id": user, "offer_id": offer, "representation_id": rep});
        full.as_object_mut().unwrap().extend(body.as_object().cloned().unwrap());
        app.post("/api/reservations", Some(&app.client), full)
    };
    let cases = [
        (json!({"best_available": {"quantity": 0}}), "quantity"),
        (json!({"best_available": {"quantity": 5}}), "quantity"),
        (json!({"best_available": {"quantity": 2, "section": "balcony"}}), "no section 'BALCONY'"),
        (json!({"best_available": {"quantity": 2, "section": "boxes"}}), "another offer"),
        (json!({"best_available": {"quantity": 2}, "seats": ["STALLS-1-1", "STALLS-1-2"]}), "seats"),
        (json!({"best_available": {"quantity": 2}, "quantity": 2}), "quantity"),
        (json!({"quantity": 2}), "best_available"),
    ];
    for (body, expect) in cases {
        let reply = ask(body.clone()).await;
        assert!(
            matches!(reply.status, StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST),
            "{body}: {:#}",
            reply.body
        );
        assert!(reply.body["error"]["details"].to_string().contains(expect), "{body}: {:#}", reply.body);
    }
    let on_ga = json!({"user_id": user, "offer_id": ga_offer, "representation_id": ga_rep,
                       "best_available": {"quantity": 1}});
    let reply = app.post("/api/reservations", Some(&app.client), on_ga).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(app.books(&offer, &rep).await, (10, 10, 0, 0));
}

/// Each seat's place in the default order of a hall of rows of 10 without sections: front rows
/// first, then nearest the middle, then the lower number.
fn preference(row: i64, number: i64) -> i64 {
    row * 100 + (2 * number - 11).abs() * 10 + number
}

#[tokio::test]
async fn many_best_available_requests_at_once_with_three_workers_never_sell_a_seat_twice() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    let rows: Vec<(String, i32, i32)> = (1..=12).map(|r| (r.to_string(), 1, 10)).collect();
    let rows: Vec<(&str, i32, i32)> = rows.iter().map(|(r, a, b)| (r.as_str(), *a, *b)).collect();
    app.add_rows(&offer, &rep, None, &rows).await;
    let users = app.create_users(100).await;
    let _workers = app.start_worker_processes(3);
    let replies = join_all(users.iter().map(|u| app.reserve_best(u, &offer, &rep, json!({"quantity": 2})))).await;
    let ids: Vec<String> =
        replies.into_iter().map(|r| r.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string()).collect();
    let mut decided = Vec::new();
    for id in &ids {
        decided.push(app.decided(id).await);
    }
    let held: Vec<&Value> = decided.iter().filter(|r| r["status"] == "held").collect();
    assert_eq!(held.len(), 60, "120 seats, 2 each");
    assert!(decided.iter().filter(|r| r["status"] == "rejected").all(|r| r["reason"] == "SOLD_OUT"));
    // no seat twice, every pair adjacent in one row
    let mut all: Vec<String> = held.iter().flat_map(|r| seats_of(r)).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 120);
    let place = |label: &str| {
        let (row, number) = label.split_once('-').unwrap();
        (row.parse::<i64>().unwrap(), number.parse::<i64>().unwrap())
    };
    for r in &held {
        let seats: Vec<(i64, i64)> = seats_of(r).iter().map(|l| place(l)).collect();
        assert!(seats[0].0 == seats[1].0 && seats[1].1 == seats[0].1 + 1, "{r}");
    }
    // arrival order: a later request never got a better pair than an earlier one (with pairs in
    // rows of 10 from an empty hall no pair ever leaves a seat alone, so the best pair left is
    // always the next in the order of preference)
    let seqs: Vec<(String, i64)> = sqlx::query_as("select id::text, seq from reservations where status = 'held'")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    let seq_of: std::collections::HashMap<String, i64> = seqs.into_iter().collect();
    let mut scored: Vec<(i64, i64)> = held
        .iter()
        .map(|r| {
            let score = seats_of(r).iter().map(|l| place(l)).map(|(row, n)| preference(row, n)).sum();
            (seq_of[r["id"].as_str().unwrap()], score)
        })
        .collect();
    scored.sort();
    assert!(scored.windows(2).all(|w| w[0].1 < w[1].1), "scores in arrival order: {scored:?}");
    let active: i64 = sqlx::query_scalar("select count(*) from reservation_seats where active")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(active, 120);
    assert_eq!(app.books(&offer, &rep).await, (120, 0, 120, 0));
}
