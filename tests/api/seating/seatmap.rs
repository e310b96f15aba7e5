//! The seat map: the hall as data (public, no buyer data) and as a picture.

use poem::http::StatusCode;
use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::json;

use super::hall_item;
use crate::support::TestApp;

#[tokio::test]
async fn the_seat_map_lists_sections_in_order_rows_front_to_back_and_seats_by_number() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    app.add_rows(&offer, &rep, Some("stalls"), &[("1", 1, 3), ("2", 1, 3)]).await;
    app.add_rows(&offer, &rep, Some("balcony"), &[("1", 1, 2)]).await;
    let user = app.create_user().await;
    let held = app.reserve_seats_now(&user, &offer, &rep, &["STALLS-1-2"]).await;
    let sold = app.reserve_seats_now(&user, &offer, &rep, &["BALCONY-1-1"]).await;
    app.confirm(sold["id"].as_str().unwrap()).await.expect(StatusCode::OK);
    assert_eq!(held["status"], "held");

    let map = app.get(&format!("/api/representations/{rep}/seatmap"), None).await.expect(StatusCode::OK);
    let sections: Vec<&str> =
        map["sections"].as_array().unwrap().iter().map(|s| s["section"].as_str().unwrap()).collect();
    assert_eq!(sections, ["STALLS", "BALCONY"]);
    assert_eq!(map["sections"][0]["rows"][0]["row"], "1");
    assert_eq!(
        map["sections"][0]["rows"][0]["seats"],
        json!([
            {"label": "STALLS-1-1", "number": 1, "offer_id": offer, "status": "AVAILABLE"},
            {"label": "STALLS-1-2", "number": 2, "offer_id": offer, "status": "HELD"},
            {"label": "STALLS-1-3", "number": 3, "offer_id": offer, "status": "AVAILABLE"},
        ])
    );
    assert_eq!(map["sections"][1]["rows"][0]["seats"][0]["status"], "SOLD");
    assert!(!map.to_string().contains(&user), "no buyer data");
    app.get("/api/representations/nope/seatmap", None).await.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

/// (circles, each circle's fill and label) of an SVG document, failing on anything not well formed.
fn circles(svg: &str) -> Vec<(String, String)> {
    let mut reader = Reader::from_str(svg);
    let mut found = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                root.get_or_insert(name.clone());
                if name == "circle" {
                    let attr = |key: &str| {
                        e.try_get_attribute(key).unwrap().map(|a| a.unescape_value().unwrap().to_string()).unwrap()
                    };
                    found.push((attr("fill"), attr("data-label")));
                }
            }
            _ => {}
        }
    }
    assert_eq!(root.as_deref(), Some("svg"), "the root element is <svg>");
    found
}

#[tokio::test]
async fn the_svg_is_a_valid_svg_with_one_circle_per_seat_coloured_by_status() {
    let app = TestApp::new().await;
    let (_, rep, offer) = hall_item(&app).await;
    app.add_rows(&offer, &rep, Some("A&B <stalls>"), &[("1", 1, 4), ("1", 6, 9)]).await;
    let user = app.create_user().await;
    let held = app.reserve_seats_now(&user, &offer, &rep, &["A&B <STALLS>-1-2"]).await;
    assert_eq!(held["status"], "held");

    let reply = app.get(&format!("/api/representations/{rep}/seatmap.svg"), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "image/svg+xml");
    let svg = reply.body.as_str().expect("an SVG document").to_string();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
    let found = circles(&svg);
    assert_eq!(found.len(), 8, "one circle per seat");
    let held_fill = &found.iter().find(|(_, label)| label == "A&B <STALLS>-1-2").unwrap().0;
    assert!(found.iter().filter(|(fill, _)| fill == held_fill).count() == 1, "the held seat has its own colour");
}

#[tokio::test]
async fn the_svg_title_gives_the_start_on_the_clocks_of_the_event_time_zone() {
    let app = TestApp::new().await;
    let event = app.create_event("BILLY", json!({"timezone": "America/New_York"})).await;
    // 20:00 UTC on a June evening is 16:00 in New York (EDT, UTC-4)
    let rep = app.create_representation(&event, "2027-06-01T20:00:00Z", "2027-06-01T23:00:00Z").await;
    let offer = app.create_offer(&event, 4500).await;
    app.add_rows(&offer, &rep, None, &[("1", 1, 2)]).await;

    let reply = app.get(&format!("/api/representations/{rep}/seatmap.svg"), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let svg = reply.body.as_str().expect("an SVG document");
    let title = svg.lines().find(|l| l.contains(r#"class="title""#)).expect("a title line");
    assert!(title.contains("2027-06-01 16:00 (America/New_York)"), "{title}");
}
