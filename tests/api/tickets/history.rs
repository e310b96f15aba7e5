//! A buyer's reservations and tickets: most recent first, in keyset pages.

use poem::http::StatusCode;
use serde_json::{Value, json};

use super::{confirmed_for, issue};
use crate::support::TestApp;

/// Every item of the listing at `path`, page by page, `limit` at a time.
async fn all_pages(app: &TestApp, path: &str, limit: usize) -> Vec<Vec<Value>> {
    let mut pages = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let page = app.get(&url, Some(&app.client)).await.expect(StatusCode::OK);
        pages.push(page["items"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return pages,
        }
    }
}

#[tokio::test]
async fn a_buyers_reservations_and_tickets_come_most_recent_first_in_pages() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(20).await;
    let user = app.create_user().await;
    let mut reservations = vec![];
    for quantity in [1, 2, 1] {
        let (_, id) = confirmed_for(&app, &user, &offer, &rep, json!({"quantity": quantity})).await;
        issue(&app, &id).await;
        reservations.push(id);
    }
    let _other_buyers = confirmed_for(&app, &app.create_user().await, &offer, &rep, json!({"quantity": 1})).await;

    let pages = all_pages(&app, &format!("/api/users/{user}/reservations"), 2).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
    let ids: Vec<&str> = pages.iter().flatten().map(|r| r["id"].as_str().unwrap()).collect();
    let newest_first: Vec<&str> = reservations.iter().rev().map(String::as_str).collect();
    assert_eq!(ids, newest_first);

    let pages = all_pages(&app, &format!("/api/users/{user}/tickets"), 3).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 1]);
    let owners: Vec<&str> = pages.iter().flatten().map(|t| t["reservation_id"].as_str().unwrap()).collect();
    let expected = [&reservations[2], &reservations[1], &reservations[1], &reservations[0]];
    assert_eq!(owners, expected);
    let default = app.get(&format!("/api/users/{user}/tickets"), Some(&app.client)).await.expect(StatusCode::OK);
    assert_eq!((default["items"].as_array().unwrap().len(), &default["next_cursor"]), (4, &json!(null)));
}

#[tokio::test]
async fn listing_limits_are_1_to_100_cursors_must_be_ours_and_unknown_users_are_404() {
    let app = TestApp::new().await;
    let user = app.create_user().await;
    for listing in ["reservations", "tickets"] {
        let path = format!("/api/users/{user}/{listing}");
        for limit in [0, 101] {
            let reply = app.get(&format!("{path}?limit={limit}"), Some(&app.client)).await;
            reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
            assert_eq!(reply.body["error"]["details"][0]["loc"], json!(["query", "limit"]));
        }
        app.get(&format!("{path}?limit=100"), Some(&app.client)).await.expect(StatusCode::OK);
        app.get(&format!("{path}?cursor=bogus"), Some(&app.client))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        app.get(&format!("/api/users/usr_nope/{listing}"), Some(&app.client))
            .await
            .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
        app.get(&path, None).await.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
}
