use chrono::{Duration, TimeZone};

use super::*;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

fn full_patch() -> QueuePatch {
    QueuePatch {
        enabled: Some(true),
        prequeue_opens_at: Some(at(0)),
        sale_opens_at: Some(at(3600)),
        admit_per_minute: Some(600),
        pass_minutes: Some(10),
        return_url: None,
    }
}

#[test]
fn a_return_url_is_an_http_or_https_address_and_may_be_removed() {
    let with = |url: &str| QueuePatch { return_url: Some(Some(url.into())), ..full_patch() }.merged(None);
    let kept = with("https://shop.example/checkout?step=2").unwrap();
    assert_eq!(kept.return_url.as_deref(), Some("https://shop.example/checkout?step=2"));
    assert!(with("http://127.0.0.1:8080/back").is_ok());
    for bad in ["javascript:alert(1)", "/checkout", "ftp://shop.example/", "https://", "not a url"] {
        assert!(with(bad).is_err(), "{bad}");
    }
    assert!(with(&format!("https://shop.example/{}", "a".repeat(2000))).is_err());
    let removed = QueuePatch { return_url: Some(None), ..Default::default() }.merged(Some(&kept)).unwrap();
    assert_eq!(removed.return_url, None);
    let untouched = QueuePatch { admit_per_minute: Some(60), ..Default::default() }.merged(Some(&kept)).unwrap();
    assert_eq!(untouched.return_url, kept.return_url);
}

#[test]
fn an_entry_token_opens_its_own_entry_only() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let (mine, other) = (Uuid::now_v7(), Uuid::now_v7());
    let token = entry_token(&key, mine);
    assert!(entry_token_opens(&key, mine, &token));
    assert!(!entry_token_opens(&key, other, &token));
    assert!(!entry_token_opens(&SigningKey::from_bytes(&[8; 32]), mine, &token));
    assert!(!entry_token_opens(&key, mine, &token[1..]));
    assert!(!entry_token_opens(&key, mine, ""));
    assert!(!entry_token_opens(&key, mine, "not base64 at all!"));
}

#[test]
fn a_first_queue_needs_every_setting_and_a_later_patch_only_what_changes() {
    let err = QueuePatch { enabled: Some(true), ..Default::default() }.merged(None).unwrap_err();
    let fields: Vec<String> = err.0.iter().map(|e| e.loc.join(".")).collect();
    assert_eq!(
        fields,
        [
            "body.queue.prequeue_opens_at",
            "body.queue.sale_opens_at",
            "body.queue.admit_per_minute",
            "body.queue.pass_minutes"
        ]
    );
    let settings = full_patch().merged(None).unwrap();
    let changed = QueuePatch { admit_per_minute: Some(60), ..Default::default() }.merged(Some(&settings)).unwrap();
    assert_eq!(changed, QueueSettings { admit_per_minute: 60, ..settings });
}

#[test]
fn the_prequeue_opens_no_later_than_the_sale_and_rates_are_bounded() {
    let late = QueuePatch { prequeue_opens_at: Some(at(7200)), ..full_patch() }.merged(None).unwrap_err();
    assert_eq!(late.0[0].loc.join("."), "body.queue.prequeue_opens_at");
    let bad =
        QueuePatch { admit_per_minute: Some(0), pass_minutes: Some(1441), ..full_patch() }.merged(None).unwrap_err();
    assert_eq!(bad.0.len(), 2);
}

#[test]
fn the_draw_key_is_sha256_of_the_seed_then_the_id_text() {
    let seed = [7u8; 32];
    let id = Uuid::parse_str("0b5d2a6e-8f3c-4e1a-9b7d-2c4e6f8a0b1c").unwrap();
    let mut bytes = seed.to_vec();
    bytes.extend_from_slice(b"0b5d2a6e-8f3c-4e1a-9b7d-2c4e6f8a0b1c");
    assert_eq!(draw_key(&seed, id), <[u8; 32]>::from(Sha256::digest(&bytes)));
    assert_eq!(commitment(&seed), HEXLOWER.encode(&Sha256::digest(seed)));
}

fn facts(place: Option<i64>, pass: Option<DateTime<Utc>>, sold_out: bool) -> EntryFacts {
    EntryFacts { place, pass_expires_at: pass, admitted_through: 40, admit_per_minute: 120, sold_out, now: at(100) }
}

#[test]
fn an_entry_stands_by_its_place_the_admissions_and_the_stock() {
    let prequeue = facts(None, None, false).standing();
    assert_eq!((prequeue.state, prequeue.position), (EntryState::PreQueue, None));
    let waiting = facts(Some(45), None, false).standing();
    assert_eq!(
        waiting,
        EntryStanding { state: EntryState::Waiting, position: Some(5), estimated_wait_seconds: Some(3) }
    );
    let sold_out = facts(Some(45), None, true).standing();
    assert_eq!(sold_out, EntryStanding { state: EntryState::SoldOut, position: Some(5), estimated_wait_seconds: None });
    assert_eq!(facts(Some(3), Some(at(101)), true).standing().state, EntryState::Admitted);
    assert_eq!(facts(Some(3), Some(at(100)), false).standing().state, EntryState::Expired);
}

#[test]
fn a_pass_is_bound_to_its_key_event_user_and_time() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let entry = Uuid::new_v4();
    let claims = PassClaims::new(entry, "ev", "alice", at(600));
    let pass = claims.sign(&key);
    let public = key.verifying_key();
    assert_eq!(check_pass(&public, &pass, "ev", "alice", at(0)), Ok(claims.clone()));
    assert_eq!(check_pass(&public, &pass, "other", "alice", at(0)), Err(PassProblem::OtherEvent));
    assert_eq!(check_pass(&public, &pass, "ev", "bob", at(0)), Err(PassProblem::OtherUser));
    assert_eq!(check_pass(&public, &pass, "ev", "alice", at(600)), Err(PassProblem::Expired));
    assert_eq!(check_pass(&public, &pass[..pass.len() - 3], "ev", "alice", at(0)), Err(PassProblem::Forged));
    let other_key = SigningKey::from_bytes(&[4; 32]);
    assert_eq!(check_pass(&public, &claims.sign(&other_key), "ev", "alice", at(0)), Err(PassProblem::Forged));
    // a payload rewritten to last longer, with the old signature
    let later = PassClaims {
        expires_at: PassClaims::new(entry, "ev", "alice", at(600) + Duration::days(1)).expires_at,
        ..claims
    };
    let (_, signature) = pass.split_once('.').unwrap();
    let (payload, _) = later.sign(&key).split_once('.').map(|(p, s)| (p.to_string(), s.to_string())).unwrap();
    assert_eq!(check_pass(&public, &format!("{payload}.{signature}"), "ev", "alice", at(0)), Err(PassProblem::Forged));
}
