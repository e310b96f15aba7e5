//! A large hall's public reads stay small: availability counts per section and lists seats only
//! when asked, seat maps by section, and the picture of a hall above 5,000 seats is an overview.

use poem::http::StatusCode;
use serde_json::json;

use super::hall_item;
use crate::support::TestApp;

fn labels(seats: &serde_json::Value) -> Vec<&str> {
    seats.as_array().unwrap().iter().map(|s| s["label"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn availability_counts_each_section_and_lists_seats_only_when_asked() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    app.add_rows(&offer, &rep, Some("north"), &[("1", 1, 3)]).await;
    app.add_rows(&offer, &rep, Some("south"), &[("1", 1, 2)]).await;
    let user = app.create_user().await;
    assert_eq!(app.reserve_seats_now(&user, &offer, &rep, &["NORTH-1-2"]).await["status"], "held");

    let path = format!("/api/representations/{rep}/availability");
    let counts = app.get(&path, None).await.expect(StatusCode::OK);
    assert_eq!(
        counts["sections"],
        json!([{"section": "NORTH", "available": 2, "held": 1, "sold": 0},
               {"section": "SOUTH", "available": 2, "held": 0, "sold": 0}])
    );
    assert!(counts.get("seats").is_none(), "no seat listed unless asked: {counts}");
    assert_eq!(counts["offers"][0]["available"], 4);

    let north = app.get(&format!("{path}?section=%20north"), None).await.expect(StatusCode::OK);
    assert_eq!(labels(&north["seats"]), ["NORTH-1-1", "NORTH-1-2", "NORTH-1-3"]);
    assert_eq!(north["seats"][1]["status"], "HELD");
    assert_eq!(north["sections"], counts["sections"], "the counts come with the seats");
    let all = app.get(&format!("{path}?seats=all"), None).await.expect(StatusCode::OK);
    assert_eq!(labels(&all["seats"]).len(), 5);

    app.get(&format!("{path}?section=east"), None).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let bad = app.get(&format!("{path}?seats=some"), None).await;
    bad.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    assert_eq!(bad.body["error"]["details"][0]["loc"], json!(["query", "seats"]));
}

#[tokio::test]
async fn a_seat_map_and_its_picture_can_show_one_section() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    app.add_rows(&offer, &rep, Some("north"), &[("1", 1, 3), ("2", 1, 3)]).await;
    app.add_rows(&offer, &rep, Some("south"), &[("1", 1, 2)]).await;
    let path = format!("/api/representations/{rep}/seatmap");
    let south = app.get(&format!("{path}?section=South"), None).await.expect(StatusCode::OK);
    assert_eq!(south["sections"].as_array().unwrap().len(), 1);
    assert_eq!(south["sections"][0]["section"], "SOUTH");
    assert_eq!(labels(&south["sections"][0]["rows"][0]["seats"]), ["SOUTH-1-1", "SOUTH-1-2"]);
    let whole = app.get(&path, None).await.expect(StatusCode::OK);
    assert_eq!(whole["sections"].as_array().unwrap().len(), 2, "the whole map stays");
    app.get(&format!("{path}?section=west"), None).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");

    let svg = app.get(&format!("{path}.svg?section=north"), None).await;
    let svg = svg.body.as_str().unwrap().to_string();
    assert_eq!(svg.matches("<circle").count(), 6, "north's six seats, one circle each");
    assert!(svg.contains("NORTH-2-3") && !svg.contains("SOUTH-1-1"));
}

#[tokio::test]
async fn the_picture_of_a_hall_above_5000_seats_is_an_overview_of_its_sections() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    let rows: Vec<(String, i32, i32)> = (1..=25).map(|r| (r.to_string(), 1, 40)).collect();
    let rows: Vec<(&str, i32, i32)> = rows.iter().map(|(r, a, b)| (r.as_str(), *a, *b)).collect();
    for section in ["S1", "S2", "S3", "S4", "S5", "S6"] {
        app.add_rows(&offer, &rep, Some(section), &rows).await;
    }
    let user = app.create_user().await;
    assert_eq!(app.reserve_seats_now(&user, &offer, &rep, &["S2-1-1", "S2-1-2"]).await["status"], "held");

    let path = format!("/api/representations/{rep}/seatmap.svg");
    let reply = app.get(&path, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let overview = reply.body.as_str().unwrap().to_string();
    assert_eq!(overview.matches("<circle").count(), 0, "6,000 seats: no seat drawn one by one");
    assert_eq!(overview.matches("<g data-section=").count(), 6);
    assert!(overview.contains(r#"data-section="S2" data-available="998" data-held="2" data-sold="0""#), "{overview}");
    assert!(overview.contains(r#"href="seatmap.svg?section=S2""#), "each section links to its picture");
    assert!(overview.len() < 20_000, "{} bytes", overview.len());

    let section = app.get(&format!("{path}?section=S2"), None).await;
    let section = section.body.as_str().unwrap().to_string();
    assert_eq!(section.matches("<circle").count(), 1_000);
    assert_eq!(section.matches(r#"data-status="HELD""#).count(), 2);
}
