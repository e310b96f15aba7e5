//! Availability and seat maps, refreshed by every buyer during an on-sale: tagged so that an
//! unchanged answer is a 304 without a body, and compressed for clients that accept it.

use std::io::Read;

use poem::http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use crate::support::TestApp;

/// A GET with `headers`: status, headers, body bytes as they came.
async fn get_raw(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = poem::Request::builder().method(Method::GET).uri(path.parse().unwrap());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = poem::Endpoint::call(app.endpoint(), req.finish()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.into_body().into_bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn availability_and_seat_maps_answer_304_while_unchanged_and_a_new_tag_once_a_seat_is_taken() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    app.add_seats(&offer, &rep, &["A1", "A2", "A3"]).await;
    for route in ["availability", "seatmap", "seatmap.svg"] {
        let path = format!("/api/representations/{rep}/{route}");
        let (status, headers, body) = get_raw(&app, &path, &[]).await;
        assert_eq!(status, StatusCode::OK);
        let tag = headers.get("etag").unwrap_or_else(|| panic!("{route} has an ETag")).to_str().unwrap().to_string();
        let (again, again_headers, empty) = get_raw(&app, &path, &[("if-none-match", &tag)]).await;
        assert_eq!((again, empty.len()), (StatusCode::NOT_MODIFIED, 0), "{route}: unchanged, no body");
        assert_eq!(again_headers.get("etag").unwrap().to_str().unwrap(), tag);
        assert!(!body.is_empty());
    }
    let path = format!("/api/representations/{rep}/availability");
    let (_, headers, _) = get_raw(&app, &path, &[]).await;
    let before = headers.get("etag").unwrap().to_str().unwrap().to_string();
    let user = app.create_user().await;
    app.reserve_seats_now(&user, &offer, &rep, &["A2"]).await;
    let (status, headers, _) = get_raw(&app, &path, &[("if-none-match", &before)]).await;
    assert_eq!(status, StatusCode::OK, "a seat taken changes the answer");
    assert_ne!(headers.get("etag").unwrap().to_str().unwrap(), before);
}

#[tokio::test]
async fn public_reads_are_compressed_only_for_clients_that_accept_it() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.create_catalog("BILLY").await;
    let labels: Vec<String> = (1..=40).map(|n| format!("B{n}")).collect();
    app.add_seats(&offer, &rep, &labels.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let path = format!("/api/representations/{rep}/seatmap");
    let (_, plain_headers, plain) = get_raw(&app, &path, &[]).await;
    assert!(plain_headers.get("content-encoding").is_none());

    let (status, headers, gzipped) = get_raw(&app, &path, &[("accept-encoding", "gzip")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-encoding").unwrap(), "gzip");
    assert!(gzipped.len() < plain.len(), "{} bytes gzipped, {} plain", gzipped.len(), plain.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(gzipped.as_slice()).read_to_end(&mut unzipped).unwrap();
    let parse = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap();
    assert_eq!(parse(&unzipped), parse(&plain));

    let (_, headers, _) = get_raw(&app, &path, &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(headers.get("content-encoding").unwrap(), "br");
    let (_, headers, _) = get_raw(&app, &path, &[("accept-encoding", "br;q=0, identity")]).await;
    assert!(headers.get("content-encoding").is_none());
    // a write is never compressed nor tagged
    let reply = app.reserve_seats(&app.create_user().await, &offer, &rep, &["B1"]).await;
    assert!(reply.headers.get("etag").is_none() && reply.headers.get("content-encoding").is_none());
}
