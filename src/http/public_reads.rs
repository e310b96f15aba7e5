//! The public reads buyers refresh again and again during an on-sale (availability, seat maps):
//! each answer carries a weak `ETag`, a digest of its body, so that a client asking again with
//! `If-None-Match` gets a 304 and no body while nothing changed; and the body is compressed when
//! the client accepts it (brotli, else gzip). Only these routes, only GET: nothing here reads a
//! request body (a compressed request body would be a way around the body limit).

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::{Compress, CompressionAlgo, CompressionLevel};

/// Brotli's quality (0 to 11) for public reads.
const BROTLI_QUALITY: i32 = 5;
use poem::{Body, Endpoint, IntoResponse, Request, Response, Result};
use sha2::{Digest, Sha256};

/// Whether `path` is one of the public reads served this way.
fn is_public_read(path: &str) -> bool {
    path.starts_with("/api/representations/")
        && (path.ends_with("/availability") || path.ends_with("/seatmap") || path.ends_with("/seatmap.svg"))
}

/// The `around` middleware: the route's answer, tagged, answered 304 when the client has it, and
/// compressed when the client accepts it.
pub async fn around<E: Endpoint>(ep: E, req: Request) -> Result<Response> {
    if req.method() != Method::GET || !is_public_read(req.uri().path()) {
        return Ok(ep.call(req).await?.into_response());
    }
    let if_none_match = header_text(&req, header::IF_NONE_MATCH);
    let algo = header_text(&req, header::ACCEPT_ENCODING).as_deref().and_then(accepted);
    let resp = ep.call(req).await?.into_response();
    if resp.status() != StatusCode::OK {
        return Ok(resp);
    }
    let (parts, body) = resp.into_parts();
    let bytes = body.into_bytes().await?;
    let tag = etag(&bytes);
    let tag_value = HeaderValue::from_str(&tag).expect("hex digits are a valid header value");
    if if_none_match.as_deref().is_some_and(|names| matches(names, &tag)) {
        return Ok(Response::builder().status(StatusCode::NOT_MODIFIED).header(header::ETAG, tag_value).finish());
    }
    let mut resp = Response::from_parts(parts, Body::from(bytes));
    resp.headers_mut().insert(header::ETAG, tag_value);
    // caches between the client and us keep one copy per encoding
    resp.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Ok(match algo {
        // brotli's fastest level packs a stadium's seat map worse than gzip does; 5 packs it
        // better and still costs a few milliseconds
        Some(algo @ CompressionAlgo::BR) => {
            Compress::new(resp, algo).with_quality(CompressionLevel::Precise(BROTLI_QUALITY)).into_response()
        }
        Some(algo) => Compress::new(resp, algo).into_response(),
        None => resp,
    })
}

fn header_text(req: &Request, name: header::HeaderName) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A weak tag: the same body always gets the same tag, on every API process.
fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

/// `If-None-Match: *`: any current answer.
const ANY_TAG: &str = "*";

/// Whether an `If-None-Match` list names `tag` (weak comparison: `W/` is ignored) or is `*`.
fn matches(names: &str, tag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    names.split(',').any(|name| name.trim().eq(ANY_TAG) || opaque(name).eq(&opaque(tag)))
}

/// The encoding to answer in: brotli if accepted, else gzip, else none (`q=0` refuses one).
fn accepted(accept_encoding: &str) -> Option<CompressionAlgo> {
    let accepts = |coding: &str| {
        accept_encoding.split(',').any(|part| {
            let mut fields = part.split(';').map(str::trim);
            let name = fields.next().unwrap_or_default();
            let refused =
                fields.any(|f| f.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0)));
            name.eq_ignore_ascii_case(coding) && !refused
        })
    };
    if accepts("br") {
        Some(CompressionAlgo::BR)
    } else if accepts("gzip") {
        Some(CompressionAlgo::GZIP)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brotli_is_preferred_and_a_zero_quality_refuses_an_encoding() {
        assert!(matches!(accepted("gzip, deflate, br"), Some(CompressionAlgo::BR)));
        assert!(matches!(accepted("gzip;q=1.0, br;q=0"), Some(CompressionAlgo::GZIP)));
        assert!(accepted("identity").is_none());
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_star() {
        let tag = etag(b"{}");
        assert!(matches(&tag, &tag));
        assert!(matches(&format!("\"x\", {}", tag.trim_start_matches("W/")), &tag));
        assert!(matches("*", &tag));
        assert!(!matches("W/\"other\"", &tag));
    }
}
