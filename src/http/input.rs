//! Text PostgreSQL cannot store (a NUL character, bytes that are not UTF-8) is refused at the
//! edge, before any handler, batch or transaction sees it: one caller's bad bytes must never
//! fail another caller's request.

use percent_encoding::percent_decode;
use poem::Request;
use serde_json::Value;

use super::error::Described;

/// Why the request cannot be stored, if it cannot: the place of the first bad value.
pub fn unstorable(req: &Request, body: &[u8]) -> Option<Described> {
    if let Some(reason) = bad_text(req.uri().path().as_bytes()) {
        return Some(Described::one_problem("path", "", reason));
    }
    for pair in req.uri().query().unwrap_or("").split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if let Some(reason) = bad_text(name.as_bytes()).or_else(|| bad_text(value.as_bytes())) {
            let name = String::from_utf8_lossy(&percent_decode(name.as_bytes()).collect::<Vec<u8>>()).replace('\0', "");
            return Some(Described::one_problem("query", &name, reason));
        }
    }
    // a JSON string can only carry a NUL escaped; the full parse runs only when one may be there
    if memchr::memmem::find(body, br"\u0000").is_some()
        && let Ok(json) = serde_json::from_slice::<Value>(body)
        && let Some(mut loc) = nul_in(&json)
    {
        loc.push("body".into());
        loc.reverse();
        return Some(Described::problem_at(loc, NUL));
    }
    None
}

const NUL: &str = "must not contain a NUL character";

/// Percent-encoded text that decodes to a NUL or to bytes that are not UTF-8.
fn bad_text(raw: &[u8]) -> Option<&'static str> {
    if !raw.contains(&b'%') {
        return None;
    }
    let decoded: Vec<u8> = percent_decode(raw).collect();
    if decoded.contains(&0) {
        Some(NUL)
    } else if std::str::from_utf8(&decoded).is_err() {
        Some("must be UTF-8 text")
    } else {
        None
    }
}

/// The path (innermost first) to the first string or key holding a NUL.
fn nul_in(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) if s.contains('\0') => Some(vec![]),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            let mut loc = nul_in(v)?;
            loc.push(i.to_string());
            Some(loc)
        }),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                return Some(vec![k.replace('\0', "\u{fffd}")]);
            }
            let mut loc = nul_in(v)?;
            loc.push(k.clone());
            Some(loc)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(uri: &str, body: &str) -> Option<Vec<String>> {
        let req = Request::builder().uri(uri.parse().unwrap()).finish();
        unstorable(&req, body.as_bytes()).map(|d| d.details.unwrap()[0].loc.clone())
    }

    #[test]
    fn a_nul_anywhere_is_found_with_its_place() {
        assert_eq!(check("/api/events/a%00b", ""), Some(vec!["path".into()]));
        assert_eq!(check("/api/events?near=1%002&limit=3", ""), Some(vec!["query".into(), "near".into()]));
        assert_eq!(check("/api/x?a=%ff%fe", ""), Some(vec!["query".into(), "a".into()]));
        let body = r#"{"user_id": "a\u0000", "seats": ["A1"]}"#;
        assert_eq!(check("/api/reservations", body), Some(vec!["body".into(), "user_id".into()]));
        let body = r#"{"seats": ["A1", "\u0000"]}"#;
        assert_eq!(check("/api/reservations", body), Some(vec!["body".into(), "seats".into(), "1".into()]));
    }

    #[test]
    fn ordinary_text_passes() {
        assert_eq!(check("/api/events/caf%C3%A9?near=48.8%2C2.3", r#"{"title": "a \\u0000 b"}"#), None);
    }
}
