//! The signed payload and its QR code, checked the way a door scanner would: offline, with the
//! public key the API serves.

use boxoffice::domain::{QrError, qr_content, verify_qr};
use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use ed25519_dalek::VerifyingKey;
use poem::http::StatusCode;
use serde_json::{Value, json};

use super::fulfilled;
use crate::support::TestApp;

async fn served_key(app: &TestApp) -> VerifyingKey {
    let served = app.get("/api/tickets/public-key", None).await.expect(StatusCode::OK);
    assert_eq!(served["algorithm"], "Ed25519");
    let bytes = BASE64URL_NOPAD.decode(served["public_key_base64url"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(served["public_key_hex"], HEXLOWER.encode(&bytes));
    VerifyingKey::from_bytes(&bytes.try_into().unwrap()).unwrap()
}

#[tokio::test]
async fn a_tickets_qr_payload_verifies_with_the_served_public_key_and_a_tampered_one_does_not() {
    let app = TestApp::new().await;
    let (user, _, tickets) = fulfilled(&app, 1).await;
    let ticket = &tickets[0];
    let key = served_key(&app).await;
    let content = ticket["qr_content"].as_str().unwrap();
    let payload = verify_qr(&key, content).unwrap();
    assert_eq!(payload.code, ticket["code"].as_str().unwrap());
    assert_eq!(payload.holder, user);
    assert_eq!(payload.event_id, ticket["event_id"].as_str().unwrap());
    assert_eq!(payload.representation_id, ticket["representation_id"].as_str().unwrap());
    assert_eq!(payload.seat, None);

    // the payload is plain canonical JSON under base64url
    let (encoded, signature) = content.split_once('.').unwrap();
    let json: Value = serde_json::from_slice(&BASE64URL_NOPAD.decode(encoded.as_bytes()).unwrap()).unwrap();
    assert_eq!(json["holder"], json!(user));
    let mut tampered = json.clone();
    tampered["holder"] = json!("someone-else");
    let forged = qr_content(&tampered.to_string(), &BASE64URL_NOPAD.decode(signature.as_bytes()).unwrap());
    assert_eq!(verify_qr(&key, &forged), Err(QrError::BadSignature));
}

#[tokio::test]
async fn every_call_serves_the_same_public_key_without_an_api_key() {
    let app = TestApp::new().await;
    let (a, b) = tokio::join!(served_key(&app), served_key(&app));
    assert_eq!(a, b);
    assert_eq!(served_key(&app).await, a);
}

#[tokio::test]
async fn the_qr_code_is_served_as_an_svg_image() {
    let app = TestApp::new().await;
    let (_, _, tickets) = fulfilled(&app, 1).await;
    let code = tickets[0]["code"].as_str().unwrap();
    let reply = app.get(&format!("/api/tickets/{code}/qr.svg"), Some(&app.client)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "image/svg+xml");
    assert!(reply.body.as_str().unwrap().contains("<svg"), "{}", reply.body);
    app.get(&format!("/api/tickets/{code}/qr.svg"), None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    let unknown = "0000-0000-0000-0000-0000-0000-0000-0000";
    app.get(&format!("/api/tickets/{unknown}/qr.svg"), Some(&app.client))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}
