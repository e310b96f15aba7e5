//! Tickets: their codes, and the signed payload their QR code carries. No I/O.

use std::sync::LazyLock;

use chrono::{DateTime, SecondsFormat, Utc};
use data_encoding::{Encoding, Specification};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::signed;

/// Crockford's base32: digits and upper-case letters without I, L, O and U, so a code read aloud
/// or copied by hand cannot be mistaken for another.
const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random bytes in a code: 160 bits, well past guessing, and exactly 32 base32 characters.
const CODE_BYTES: usize = 20;
/// Characters per group: `7K3M-Q9XA-...` is read and typed four at a time.
const GROUP: usize = 4;

static BASE32: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str(CROCKFORD);
    spec.encoding().expect("Crockford's alphabet is a valid base32 alphabet")
});

/// A ticket's code in its canonical form: upper case, grouped with dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TicketCode(String);

impl TicketCode {
    /// A new code from the operating system's CSPRNG (through `rand`'s thread generator).
    pub fn generate() -> TicketCode {
        TicketCode::grouped(&BASE32.encode(&rand::random::<[u8; CODE_BYTES]>()))
    }

    /// Reads a code as people type it: any case, with or without dashes or spaces, and with the
    /// letters Crockford maps to digits (O is 0; I and L are 1). `None` if it cannot be a code.
    pub fn parse(raw: &str) -> Option<TicketCode> {
        let plain: String = raw
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            })
            .collect();
        let bytes = BASE32.decode(plain.as_bytes()).ok()?;
        (bytes.len() == CODE_BYTES).then(|| TicketCode::grouped(&plain))
    }

    fn grouped(plain: &str) -> TicketCode {
        let groups: Vec<&str> =
            plain.as_bytes().chunks(GROUP).map(|g| std::str::from_utf8(g).expect("ASCII")).collect();
        TicketCode(groups.join("-"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TicketCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a ticket's QR code vouches for. Serialized as canonical JSON: keys in lexicographic order
/// (the field order below), no whitespace, times in RFC 3339 UTC with microseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketPayload {
    pub code: String,
    pub event_id: String,
    /// The buyer's user id.
    pub holder: String,
    pub issued_at: String,
    pub offer_id: String,
    pub representation_id: String,
    /// The seat's label; null for general admission.
    pub seat: Option<String>,
}

impl TicketPayload {
    /// `issued_at` is formatted here so every issuer writes it the same way.
    pub fn issued_at(at: DateTime<Utc>) -> String {
        at.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a ticket payload serializes")
    }
}

/// Signs `payload`: the 64-byte Ed25519 signature.
pub fn sign(key: &SigningKey, payload: &str) -> [u8; 64] {
    key.sign(payload.as_bytes()).to_bytes()
}

/// What the QR code holds: a signed token (see [`super::signed`]), so that a scanner can check it
/// offline.
pub fn qr_content(payload: &str, signature: &[u8]) -> String {
    signed::join(payload, signature)
}

/// Why a scanned QR content is not a valid ticket.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("not a ticket QR content")]
    Malformed,
    #[error("the signature does not match")]
    BadSignature,
}

/// Checks a scanned QR content against the public key and returns what it vouches for: what a
/// door scanner does offline.
pub fn verify_qr(key: &VerifyingKey, content: &str) -> Result<TicketPayload, QrError> {
    let payload = signed::open(key, content).map_err(|e| match e {
        signed::Unsealed::Malformed => QrError::Malformed,
        signed::Unsealed::BadSignature => QrError::BadSignature,
    })?;
    serde_json::from_slice(&payload).map_err(|_| QrError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_32_crockford_characters_in_groups_of_four() {
        let code = TicketCode::generate();
        let s = code.as_str();
        assert_eq!(s.len(), 39);
        assert!(s.split('-').all(|g| g.len() == 4 && g.chars().all(|c| CROCKFORD.contains(c))), "{s}");
        assert_ne!(TicketCode::generate(), code);
    }

    #[test]
    fn codes_are_read_as_people_type_them() {
        let code = TicketCode::generate();
        let typed = code.as_str().replace('-', "").to_lowercase().replace('0', "o").replace('1', "l");
        assert_eq!(TicketCode::parse(&typed), Some(code.clone()));
        assert_eq!(TicketCode::parse(&format!(" {code} ")), Some(code));
        assert_eq!(TicketCode::parse("7K3M-QQ"), None);
        assert_eq!(TicketCode::parse(&"U".repeat(32)), None);
    }

    fn payload() -> TicketPayload {
        TicketPayload {
            code: "C".into(),
            event_id: "ev".into(),
            holder: "u".into(),
            issued_at: TicketPayload::issued_at(DateTime::from_timestamp(0, 0).unwrap()),
            offer_id: "off".into(),
            representation_id: "rep".into(),
            seat: None,
        }
    }

    #[test]
    fn the_payload_is_canonical_json() {
        assert_eq!(
            payload().canonical_json(),
            r#"{"code":"C","event_id":"ev","holder":"u","issued_at":"1970-01-01T00:00:00.000000Z","offer_id":"off","representation_id":"rep","seat":null}"#
        );
    }

    #[test]
    fn a_signed_qr_verifies_and_a_tampered_one_does_not() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let json = payload().canonical_json();
        let signature = sign(&key, &json);
        assert_eq!(verify_qr(&key.verifying_key(), &qr_content(&json, &signature)), Ok(payload()));
        let tampered = json.replace(r#""seat":null"#, r#""seat":"A1""#);
        assert_eq!(verify_qr(&key.verifying_key(), &qr_content(&tampered, &signature)), Err(QrError::BadSignature));
        assert_eq!(verify_qr(&key.verifying_key(), "no dot"), Err(QrError::Malformed));
    }
}
