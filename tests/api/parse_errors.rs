//! What poem-openapi finds wrong with a parameter or a body, read through the real application:
//! the status comes from the error's type alone; the place and the plain words come from
//! poem-openapi's wording, which these cases pin, so an upgrade that rewords it fails here
//! instead of changing answers silently.

use poem::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

/// The one detail of a 422: (loc, msg, type).
fn detail(body: &Value) -> (Value, String, String) {
    let d = &body["error"]["details"][0];
    (d["loc"].clone(), d["msg"].as_str().unwrap_or("").into(), d["type"].as_str().unwrap_or("").into())
}

fn event(extra: Value) -> Value {
    let mut body = json!({
        "organization_id": "BILLY", "title": "Jazz night", "venue_name": "Olympia",
        "venue_latitude": 48.8702, "venue_longitude": 2.3286, "timezone": "Europe/Paris",
    });
    body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    body
}

#[tokio::test]
async fn each_kind_of_parse_error_is_a_422_with_its_place_and_plain_words() {
    let app = TestApp::new().await;
    let (_, rep, offer) = app.on_sale(1).await;
    let list = format!("/api/offers/{offer}/representations/{rep}/waitlist");
    let cases: Vec<(crate::support::Reply, Value, &str, &str)> = vec![
        (
            app.get(&format!("{list}?limit=abc"), Some(&app.client)).await,
            json!(["query", "limit"]),
            "value is not a valid integer",
            "value_error",
        ),
        (
            app.get(&format!("{list}?limit=0"), Some(&app.client)).await,
            json!(["query", "limit"]),
            "ensure this value is greater than 0",
            "value_error",
        ),
        (
            app.post("/api/events", Some(&app.admin), event(json!({"title": "   "}))).await,
            json!(["body", "title"]),
            "must not be blank",
            "value_error",
        ),
        (
            app.post("/api/events", Some(&app.admin), event(json!({"title": 5}))).await,
            json!(["body"]),
            "expected a string, found 5",
            "value_error",
        ),
        (
            app.post("/api/users", Some(&app.client), json!({"first_name": "Ada"})).await,
            json!(["body"]),
            "field required",
            "value_error.missing",
        ),
    ];
    for (reply, loc, msg, kind) in cases {
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
        assert_eq!(detail(&reply.body), (loc, msg.to_string(), kind.to_string()), "{:#}", reply.body);
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_keeps_poems_own_words() {
    let app = TestApp::new().await;
    let reply =
        app.send_raw(Method::POST, "/api/users", Some(&app.client), "application/json", b"{not json".to_vec()).await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let (loc, msg, kind) = detail(&reply.body);
    assert_eq!(loc, json!(["body"]));
    assert!(!msg.is_empty());
    assert_eq!(kind, "value_error");
}
