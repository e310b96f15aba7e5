//! Signed tokens: `base64url(payload) "." base64url(Ed25519 signature)`, without padding, so a
//! holder of the public key checks one offline. Tickets' QR codes and queue passes are such tokens.

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Why a token is not one this key signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsealed {
    /// Not two base64url parts with a 64-byte signature: cut, padded or made up.
    Malformed,
    /// Well formed, but the signature is not this key's over this payload.
    BadSignature,
}

/// The token of `payload` signed by `key`.
pub fn seal(key: &SigningKey, payload: &str) -> String {
    let signature = key.sign(payload.as_bytes()).to_bytes();
    join(payload, &signature)
}

/// `payload` and its signature as one token.
pub fn join(payload: &str, signature: &[u8]) -> String {
    format!("{}.{}", BASE64URL_NOPAD.encode(payload.as_bytes()), BASE64URL_NOPAD.encode(signature))
}

/// The payload of a token `key` signed.
pub fn open(key: &VerifyingKey, token: &str) -> Result<Vec<u8>, Unsealed> {
    let (payload, signature) = token.split_once('.').ok_or(Unsealed::Malformed)?;
    let payload = BASE64URL_NOPAD.decode(payload.as_bytes()).map_err(|_| Unsealed::Malformed)?;
    let signature = BASE64URL_NOPAD.decode(signature.as_bytes()).map_err(|_| Unsealed::Malformed)?;
    let signature = Signature::from_slice(&signature).map_err(|_| Unsealed::Malformed)?;
    key.verify(&payload, &signature).map_err(|_| Unsealed::BadSignature)?;
    Ok(payload)
}
