//! Joins, leaves, confirms and releases are written many per item per transaction (the writer);
//! FIFO, exact ranks and every invariant stay as they were one at a time, and one caller's bad
//! request fails nobody else's.

use futures::future::join_all;
use poem::http::StatusCode;
use serde_json::Value;

use crate::support::TestApp;
use crate::support::buyer::waitlist_path;

/// A sold-out item of `stock` tickets, all held by one buyer (4 at a time, the offer's maximum).
async fn sold_out(app: &TestApp, stock: i64) -> (String, String, Vec<String>) {
    let (_, rep, offer) = app.on_sale(stock).await;
    let holder = app.create_user().await;
    let mut holds = Vec::new();
    for start in (0..stock).step_by(4) {
        let hold = app.reserve_now(&holder, &offer, &rep, (stock - start).min(4)).await;
        assert_eq!(hold["status"], "held");
        holds.push(hold["id"].as_str().unwrap().to_string());
    }
    (offer, rep, holds)
}

/// Every active entry of the list by rank, through the API's pages: (user, position).
async fn line(app: &TestApp, offer: &str, rep: &str) -> Vec<(String, i64)> {
    let mut all = Vec::new();
    for page in 1.. {
        let reply = app.get(&format!("{}?limit=100&page={page}", waitlist_path(offer, rep)), Some(&app.client)).await;
        let body = reply.expect(StatusCode::OK);
        let items = body["items"].as_array().unwrap();
        all.extend(items.iter().map(|e| (e["user_id"].as_str().unwrap().to_string(), e["position"].as_i64().unwrap())));
        if !body["page_info"]["has_next_page"].as_bool().unwrap() {
            assert_eq!(body["page_info"]["total_count"].as_i64().unwrap(), all.len() as i64);
            return all;
        }
    }
    unreachable!()
}

async fn position_of(app: &TestApp, offer: &str, rep: &str, user: &str) -> i64 {
    let reply = app.get(&format!("{}/{user}", waitlist_path(offer, rep)), Some(&app.client)).await;
    reply.expect(StatusCode::OK)["position"].as_i64().unwrap()
}

#[tokio::test]
async fn three_hundred_concurrent_joins_get_the_ranks_1_to_300_in_line_order() {
    let app = TestApp::new().await;
    let (offer, rep, _) = sold_out(&app, 2).await;
    let users = app.create_users(300).await;
    let app = &app;
    let joined: Vec<Value> = join_all(users.iter().map(|u| {
        let (offer, rep) = (offer.clone(), rep.clone());
        async move { app.join_waitlist(&offer, &rep, u, 1).await.expect(StatusCode::OK) }
    }))
    .await;
    let mut positions: Vec<i64> = joined.iter().map(|j| j["position"].as_i64().unwrap()).collect();
    positions.sort();
    assert_eq!(positions, (1..=300).collect::<Vec<_>>(), "no gap, no duplicate");
    // the line is in the order of the ranks handed out, and lookups agree with both
    let listed = line(app, &offer, &rep).await;
    for (rank, (user, position)) in listed.iter().enumerate() {
        assert_eq!(*position, rank as i64 + 1);
        let answered = joined.iter().find(|j| j["user_id"] == user.as_str()).unwrap();
        assert_eq!(answered["position"].as_i64().unwrap(), *position);
    }
    assert_eq!(position_of(app, &offer, &rep, &listed[149].0).await, 150);
}

#[tokio::test]
async fn ranks_stay_exact_through_concurrent_joins_and_leaves() {
    let app = TestApp::new().await;
    let (offer, rep, _) = sold_out(&app, 1).await;
    let users = app.create_users(400).await;
    for u in &users[..200] {
        app.join_waitlist(&offer, &rep, u, 1).await.expect(StatusCode::OK);
    }
    let app = &app;
    // 200 more join while every third of the first 200 leaves
    let leaving: Vec<&String> = users[..200].iter().step_by(3).collect();
    let joins = join_all(users[200..].iter().map(|u| {
        let (offer, rep) = (offer.clone(), rep.clone());
        async move { app.join_waitlist(&offer, &rep, u, 1).await.expect(StatusCode::OK) }
    }));
    let leaves = join_all(leaving.iter().map(|u| {
        let (offer, rep) = (offer.clone(), rep.clone());
        async move { app.leave_waitlist(&offer, &rep, u).await.expect(StatusCode::OK) }
    }));
    let (_, _) = tokio::join!(joins, leaves);
    let listed = line(app, &offer, &rep).await;
    assert_eq!(listed.len(), 400 - leaving.len());
    let expected: Vec<&String> =
        users[..200].iter().filter(|u| !leaving.contains(u)).chain(users[200..].iter()).collect();
    let mut later: Vec<&String> = expected[200 - leaving.len()..].to_vec();
    later.sort();
    // the first 200 keep their order; every rank is 1..n; each lookup agrees with the page
    for (rank, (user, position)) in listed.iter().enumerate() {
        assert_eq!(*position, rank as i64 + 1);
        if rank < 200 - leaving.len() {
            assert_eq!(user, expected[rank]);
        }
    }
    for (user, position) in listed.iter().step_by(17) {
        assert_eq!(position_of(app, &offer, &rep, user).await, *position, "{user}");
    }
    let mut joined_later: Vec<&String> = listed[200 - leaving.len()..].iter().map(|(u, _)| u).collect();
    joined_later.sort();
    assert_eq!(joined_later, later);
}

#[tokio::test]
async fn a_bad_join_in_a_batch_fails_only_itself() {
    let app = TestApp::new().await;
    let (offer, rep, _) = sold_out(&app, 1).await;
    let users = app.create_users(60).await;
    let app = &app;
    let replies = join_all((0..60).map(|i| {
        let (offer, rep) = (offer.clone(), rep.clone());
        let user = match i {
            7 => "nobody".to_string(),
            13 => users[12].clone(), // the same person twice
            _ => users[i].clone(),
        };
        let quantity = if i == 21 { 0 } else { 1 };
        async move { app.join_waitlist(&offer, &rep, &user, quantity).await }
    }))
    .await;
    let mut ok = 0;
    for (i, reply) in replies.iter().enumerate() {
        match i {
            7 => reply.expect_error(StatusCode::NOT_FOUND, "USER_DOES_NOT_EXIST"),
            21 => reply.expect_error(StatusCode::BAD_REQUEST, "INVALID_QUANTITY"),
            12 | 13 if reply.status != StatusCode::OK => {
                reply.expect_error(StatusCode::CONFLICT, "USER_ALREADY_ON_WAITLIST")
            }
            _ => {
                assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
                ok += 1;
            }
        }
    }
    assert_eq!(ok, 57, "everyone else joined");
    assert_eq!(line(app, &offer, &rep).await.len(), 57);
}

#[tokio::test]
async fn concurrent_confirms_and_releases_keep_the_books_and_offer_freed_tickets_to_the_list_first() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(120).await;
    let buyers = app.create_users(120).await;
    let mut holds = Vec::new();
    for b in &buyers {
        holds.push(
            app.reserve(b, &offer, &rep, 1).await.expect(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_string(),
        );
    }
    app.allocate(&offer, &rep).await;
    let waiting = app.create_users(30).await;
    for w in &waiting {
        app.join_waitlist(&offer, &rep, w, 1).await.expect(StatusCode::OK);
    }
    let app = &app;
    // 80 pay (one of them twice), 40 let go (one of them twice), all at once
    let confirms = join_all(holds[..80].iter().chain([&holds[0]]).map(|id| async move { app.confirm(id).await }));
    let releases = join_all(holds[80..].iter().chain([&holds[80]]).map(|id| async move { app.release(id).await }));
    let (confirmed, released) = tokio::join!(confirms, releases);
    for reply in confirmed {
        assert_eq!(reply.expect(StatusCode::OK)["status"], "confirmed");
    }
    for reply in released {
        assert_eq!(reply.expect(StatusCode::OK)["status"], "released");
    }
    // the 40 freed tickets went to the 30 people waiting first, the other 10 are on sale
    assert_eq!(app.books(&offer, &rep).await, (120, 10, 30, 80));
    for w in &waiting {
        assert_eq!(app.waitlist_entries_of(w).await[0]["status"], "offered");
    }
    let issuances: i64 = sqlx::query_scalar("select count(*) from apalis.jobs where job_type = 'fulfillment'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(issuances, 80, "one issuance per confirmed reservation");
    // confirming a released hold, and releasing a confirmed one, are refused as before
    app.confirm(&holds[100]).await.expect_error(StatusCode::CONFLICT, "RESERVATION_RELEASED");
    app.release(&holds[1]).await.expect_error(StatusCode::CONFLICT, "ALREADY_CONFIRMED");
}

#[tokio::test]
async fn ranks_match_a_count_of_the_line_after_random_joins_leaves_offers_and_conversions() {
    let app = TestApp::new().await;
    let (offer, rep, holds) = sold_out(&app, 20).await;
    let users = app.create_users(150).await;
    for (i, u) in users.iter().enumerate() {
        app.join_waitlist(&offer, &rep, u, 1 + (i % 3) as i64).await.expect(StatusCode::OK);
    }
    // a deterministic shuffle of leaves, then freed stock offered down the line
    for i in (0..150).filter(|i| (i * 37 + 11) % 7 == 0) {
        app.leave_waitlist(&offer, &rep, &users[i]).await.expect(StatusCode::OK);
    }
    for hold in &holds {
        app.release(hold).await.expect(StatusCode::OK);
    }
    let offered: Vec<String> = sqlx::query_scalar(
        "select reservation_id::text from waitlist_entries where status = 'offered' order by line_no",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert!(!offered.is_empty());
    for (k, id) in offered.iter().enumerate() {
        if k % 2 == 0 {
            app.confirm(id).await.expect(StatusCode::OK)
        } else {
            app.release(id).await.expect(StatusCode::OK)
        };
    }
    // the ranks the tree gives are a count of the active line
    let counted: Vec<(String, i64)> = sqlx::query_as(
        "select user_id, row_number() over (order by line_no) from waitlist_entries
         where offer_id = $1 and representation_id = $2 and status in ('waiting', 'offered') order by line_no",
    )
    .bind(&offer)
    .bind(&rep)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert!(counted.len() > 50);
    for (user, rank) in &counted {
        assert_eq!(position_of(&app, &offer, &rep, user).await, *rank, "{user}");
    }
    assert_eq!(line(&app, &offer, &rep).await, counted);
}

#[tokio::test]
async fn a_join_the_database_refuses_fails_alone_and_its_batch_is_written() {
    let app = TestApp::new().await;
    let (offer, rep, _) = sold_out(&app, 1).await;
    let users = app.create_users(40).await;
    let poisoned = users[17].clone();
    // the database refuses this one person's entry (a stand-in for any row-level failure)
    for ddl in [
        format!(
            "create function refuse_one() returns trigger language plpgsql as $$ begin
               if new.user_id = '{poisoned}' then raise exception 'refused'; end if; return new; end $$"
        ),
        "create trigger refuse_one before insert on waitlist_entries for each row execute function refuse_one()".into(),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(&app.db.pool).await.unwrap();
    }
    let app = &app;
    let replies = join_all(users.iter().map(|u| {
        let (offer, rep) = (offer.clone(), rep.clone());
        async move { (u.clone(), app.join_waitlist(&offer, &rep, u, 1).await) }
    }))
    .await;
    for (user, reply) in &replies {
        if *user == poisoned {
            assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        } else {
            assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
        }
    }
    let listed = line(app, &offer, &rep).await;
    assert_eq!(listed.len(), 39);
    assert_eq!(listed.iter().map(|(_, p)| *p).collect::<Vec<_>>(), (1..=39).collect::<Vec<_>>());
}
