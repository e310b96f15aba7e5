//! Laying a hall out: rows of numbered seats in sections, seats one by one, labels.

use poem::http::StatusCode;
use serde_json::json;

use super::hall_item;
use crate::support::TestApp;

#[tokio::test]
async fn rows_of_a_section_become_seats_with_derived_labels_and_places() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    let added = app.add_rows(&offer, &rep, Some("a"), &[("12", 7, 9), ("13", 1, 2)]).await;
    assert_eq!((added["total_stock"].as_i64(), added["available"].as_i64()), (Some(5), Some(5)));
    let labels: Vec<&str> = added["seats"].as_array().unwrap().iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["A-12-7", "A-12-8", "A-12-9", "A-13-1", "A-13-2"]);
    let seats = app.get(&format!("/api/representations/{rep}/seats"), None).await.expect(StatusCode::OK);
    let first = &seats["seats"][0];
    assert_eq!((&first["section"], &first["row"], &first["number"]), (&json!("A"), &json!("12"), &json!(7)));
    assert_eq!(first["status"], "AVAILABLE");
}

#[tokio::test]
async fn seats_one_by_one_keep_their_label_and_rank() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    let body = json!({"offer_id": offer, "section": "Box", "seats": [
        {"row": "1", "number": 1, "label": "royal box", "rank": 0},
        {"row": "1", "number": 2, "section": "stalls"},
    ]});
    let added = app.post(&format!("/api/representations/{rep}/seats"), Some(&app.admin), body).await;
    let labels: Vec<String> =
        added.expect(StatusCode::CREATED)["seats"].as_array().unwrap().iter().map(|s| s["label"].to_string()).collect();
    assert_eq!(labels, ["\"ROYAL BOX\"", "\"STALLS-1-2\""]);
    let seats = app.get(&format!("/api/representations/{rep}/seats"), None).await.expect(StatusCode::OK);
    let royal = seats["seats"].as_array().unwrap().iter().find(|s| s["label"] == "ROYAL BOX").unwrap().clone();
    assert_eq!((&royal["section"], &royal["rank"]), (&json!("BOX"), &json!(0)));
}

#[tokio::test]
async fn overlapping_seat_numbers_in_a_row_are_a_409_and_nothing_is_added() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    let path = format!("/api/representations/{rep}/seats");
    // in one request
    let body = json!({"offer_id": offer, "section": "A", "rows": [
        {"row": "1", "from": 1, "to": 10}, {"row": "1", "from": 10, "to": 12}]});
    app.post(&path, Some(&app.admin), body).await.expect_error(StatusCode::CONFLICT, "DUPLICATE_SEAT");
    // against seats already there, under other labels
    app.add_rows(&offer, &rep, Some("A"), &[("1", 1, 10)]).await;
    let body = json!({"offer_id": offer, "seats": [{"section": "a", "row": "1", "number": 5, "label": "other"}]});
    let reply = app.post(&path, Some(&app.admin), body).await;
    reply.expect_error(StatusCode::CONFLICT, "OVERLAPPING_SEATS");
    assert!(reply.body["error"]["message"].as_str().unwrap().contains("row 1 of section A, seat 5"), "{}", reply.body);
    let body = json!({"offer_id": offer, "seats": [
        {"row": "9", "number": 5, "label": "x1"}, {"row": "9", "number": 5, "label": "x2"}]});
    app.post(&path, Some(&app.admin), body).await.expect_error(StatusCode::CONFLICT, "OVERLAPPING_SEATS");
    assert_eq!(app.books(&offer, &rep).await, (10, 10, 0, 0));
}

#[tokio::test]
async fn a_layout_that_is_not_one_of_labels_rows_or_seats_is_a_422_with_its_place() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    let path = format!("/api/representations/{rep}/seats");
    let cases = [
        (json!({"offer_id": offer}), "body"),
        (json!({"offer_id": offer, "labels": ["A1"], "rows": [{"row": "1", "from": 1, "to": 2}]}), "body"),
        (json!({"offer_id": offer, "labels": ["A1"], "section": "A"}), "section"),
        (json!({"offer_id": offer, "rows": [{"row": "1", "from": 5, "to": 4}]}), "to"),
        (json!({"offer_id": offer, "rows": [{"row": "1", "from": 1, "to": 20000}]}), "rows"),
        (
            json!({"offer_id": offer, "section": "A-VERY-LONG-SECTION", "rows": [{"row": "1", "from": 1, "to": 2}]}),
            "section",
        ),
    ];
    for (body, field) in cases {
        let reply = app.post(&path, Some(&app.admin), body.clone()).await;
        assert!(
            reply.status == StatusCode::UNPROCESSABLE_ENTITY || reply.status == StatusCode::BAD_REQUEST,
            "{body}: {:#}",
            reply.body
        );
        assert!(reply.body["error"]["details"].to_string().contains(field), "{body}: {:#}", reply.body);
    }
    let seats = app.get(&format!("/api/representations/{rep}/seats"), None).await.expect(StatusCode::OK);
    assert_eq!(seats["seats"], serde_json::json!([]), "nothing was added");
}

#[tokio::test]
async fn a_label_like_c5_is_seat_5_of_row_c() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    app.add_seats(&offer, &rep, &["c5", "C6", "BOX"]).await;
    let seats = app.get(&format!("/api/representations/{rep}/seats"), None).await.expect(StatusCode::OK);
    let c6 = seats["seats"].as_array().unwrap().iter().find(|s| s["label"] == "C6").unwrap().clone();
    assert_eq!((&c6["row"], &c6["number"]), (&json!("C"), &json!(6)));
    let boxed = seats["seats"].as_array().unwrap().iter().find(|s| s["label"] == "BOX").unwrap().clone();
    assert!(boxed["row"].is_null());
}
