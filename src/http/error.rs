//! The one error envelope. Handlers return [`ApiError`]; everything else that can go wrong on the
//! way (routing, parsing, auth, body size, panics) is a `poem::Error` or a marked response, and
//! the middleware turns all of them into the same JSON shape.

use chrono::{SecondsFormat, Utc};
use poem::Response;
use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError, ResponseError};
use poem::http::{HeaderValue, StatusCode};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::{ApiResponse, Object};
use serde::Serialize;

use crate::domain::{FieldError, ValidationErrors};
use crate::services::Error;

/// What every error response carries.
#[derive(Debug, Serialize, Object)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, Object)]
pub struct ErrorBody {
    /// Stable machine-readable name: `NOT_FOUND`, `VALIDATION_ERROR`, `SOLD_OUT`...
    pub status: String,
    /// The HTTP status code.
    pub code: u16,
    /// For people.
    pub message: String,
    /// Each problem of a validation error; null otherwise.
    #[oai(nullable)]
    pub details: Option<Vec<ErrorDetail>>,
    pub request_id: String,
    pub method: String,
    pub path: String,
    /// When the error was answered (RFC 3339, UTC).
    pub timestamp: String,
}

#[derive(Debug, Serialize, Object)]
pub struct ErrorDetail {
    /// Where the problem is, e.g. `["query", "limit"]`.
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    #[oai(rename = "type")]
    pub kind: String,
}

/// The error of every operation.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub Error);

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        ApiError(e.into())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError(e.into())
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        status_of(&self.0)
    }
}

/// The HTTP status of a service error: the one place it is decided.
fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::PermissionDenied(_) | Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Documents the error responses in the spec; never constructed.
#[derive(ApiResponse)]
#[expect(dead_code, reason = "exists for its OpenAPI description only")]
enum ErrorResponses {
    /// The request cannot be served as asked.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No valid API key.
    #[oai(status = 401)]
    Unauthenticated(Json<ErrorEnvelope>),
    /// The key may not do this.
    #[oai(status = 403)]
    PermissionDenied(Json<ErrorEnvelope>),
    /// Something named in the request does not exist.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The request conflicts with the current state.
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// The body is larger than the server takes (`PAYLOAD_TOO_LARGE`).
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorEnvelope>),
    /// The body is not JSON (`UNSUPPORTED_MEDIA_TYPE`): send `Content-Type: application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorEnvelope>),
    /// A parameter or the body is invalid; `details` lists each problem.
    #[oai(status = 422)]
    Validation(Json<ErrorEnvelope>),
    /// Something failed on our side; nothing internal is disclosed.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// Over the rate limit (`RATE_LIMITED`): retry after `Retry-After` seconds. `RateLimit` and
    /// `RateLimit-Policy` (IETF draft) are on every answer of a limited caller.
    #[oai(status = 429)]
    RateLimited(
        Json<ErrorEnvelope>,
        #[oai(header = "Retry-After")] u32,
        #[oai(header = "RateLimit")] String,
        #[oai(header = "RateLimit-Policy")] String,
    ),
    /// Too busy to answer in time (`UNAVAILABLE`, `DEADLINE_EXCEEDED`): nothing was done; retry
    /// after `Retry-After` seconds.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u32),
}

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        ErrorResponses::meta()
    }

    fn register(registry: &mut Registry) {
        ErrorResponses::register(registry);
    }
}

/// The parts of an envelope that depend on the error, before the request's context is added.
#[derive(Debug)]
pub struct Described {
    pub code: StatusCode,
    pub status: String,
    pub message: String,
    pub details: Option<Vec<ErrorDetail>>,
    /// Seconds after which a retry makes sense (`Retry-After`).
    pub retry_after: Option<u32>,
}

impl Described {
    fn new(code: StatusCode, status: &str, message: impl Into<String>) -> Self {
        Described { code, status: status.into(), message: message.into(), details: None, retry_after: None }
    }

    fn retry_after(self, seconds: u32) -> Self {
        Described { retry_after: Some(seconds), ..self }
    }

    /// The caller went over its quota; nothing was done.
    pub fn rate_limited(scope: super::rate_limit::Scope, retry_after: std::time::Duration) -> Self {
        let seconds = u32::try_from(retry_after.as_secs()).unwrap_or(u32::MAX).max(1);
        let who = match scope {
            super::rate_limit::Scope::Key => "this API key",
            super::rate_limit::Scope::Ip => "this client address",
        };
        let message = format!("too many requests from {who}: retry in {seconds} s");
        Self::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", message).retry_after(seconds)
    }

    /// The request ran out of time; its transaction was rolled back.
    pub fn deadline_exceeded(deadline: std::time::Duration) -> Self {
        let message = format!("the request took longer than {} s and was stopped: retry", deadline.as_secs());
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "DEADLINE_EXCEEDED", message).retry_after(1)
    }

    fn validation(details: Vec<FieldError>) -> Self {
        let details = details.into_iter().map(|f| ErrorDetail { loc: f.loc, msg: f.msg, kind: f.kind }).collect();
        Described {
            details: Some(details),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR", "Validation error")
        }
    }

    pub fn one_problem(place: &str, name: &str, reason: &str) -> Self {
        let loc = [place, name].into_iter().filter(|s| !s.is_empty()).map(str::to_string).collect();
        Self::problem_at(loc, reason)
    }

    /// What poem-openapi found wrong with a parameter or the body, said as the existing
    /// waiting-list service's clients read it (`ensure this value is greater than 0`).
    fn parse_problem(loc: Vec<String>, reason: &str) -> Self {
        let (msg, kind) = plain_reason(reason);
        Self::validation(vec![FieldError { loc, msg, kind: kind.into() }])
    }

    /// One problem at `loc`, e.g. `["body", "seats", "1"]`.
    pub fn problem_at(loc: Vec<String>, reason: &str) -> Self {
        Self::validation(vec![FieldError { loc, msg: reason.to_string(), kind: "value_error".into() }])
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "Internal server error")
    }

    /// A request header that cannot be used as it is.
    pub fn invalid_header(name: &str, reason: &str) -> Self {
        Self::one_problem("header", name, reason)
    }

    pub fn idempotency_key_reused() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used for another request: use a new key for a new request",
        )
    }

    pub fn idempotency_key_in_progress() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "IDEMPOTENCY_KEY_IN_PROGRESS",
            "a request with this Idempotency-Key is still being served: retry later",
        )
        .retry_after(1)
    }
}

/// Describes any error poem or our handlers produced. Internal causes are logged here, once.
pub fn describe(err: &poem::Error) -> Described {
    if let Some(ApiError(e)) = err.downcast_ref::<ApiError>() {
        let code = status_of(e);
        return match e {
            Error::Validation(v) => Described::validation(v.0.clone()),
            Error::BadRequest { status, message } => Described::new(code, status, message),
            Error::Unauthenticated(m) => Described::new(code, "UNAUTHENTICATED", m),
            Error::PermissionDenied(m) => Described::new(code, "PERMISSION_DENIED", m),
            Error::Forbidden { status, message } => Described::new(code, status, message),
            Error::NotFound { status, message } => Described::new(code, status, message),
            Error::Conflict { status, message } => Described::new(code, status, message),
            Error::Unavailable(m) => Described::new(code, "UNAVAILABLE", m).retry_after(1),
            Error::Internal(cause) => {
                // a batch's failure was logged once by the batch, not again for each caller
                if !cause.is::<crate::services::Logged>() {
                    tracing::error!(error = ?cause, "request failed");
                }
                Described::internal()
            }
        };
    }
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return Described::parse_problem(vec!["query".into(), e.name.into()], &e.reason);
    }
    if let Some(e) = err.downcast_ref::<ParsePathError>() {
        return Described::parse_problem(vec!["path".into(), e.name.into()], &e.reason);
    }
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        // poem names the field only when one of its validators refused the value
        let mut loc = vec!["body".to_string()];
        if let Some((_, rest)) = e.reason.split_once("field `")
            && let Some((field, _)) = rest.split_once('`')
        {
            loc.push(field.into());
        }
        return Described::parse_problem(loc, &e.reason);
    }
    if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        return Described::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", e.to_string());
    }
    if err.is::<AuthorizationError>() {
        return Described::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "an API key is required: Authorization: Bearer KEY",
        );
    }
    if err.is::<NotFoundError>() {
        return Described::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route");
    }
    if err.is::<MethodNotAllowedError>() {
        return Described::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "this route does not accept this method",
        );
    }
    if let Some(ReadBodyError::PayloadTooLarge) = err.downcast_ref::<ReadBodyError>() {
        return Described::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "the request body is too large");
    }
    let code = err.status();
    if code.is_server_error() {
        tracing::error!(error = %err, "request failed");
        return Described::internal();
    }
    let status = code.canonical_reason().unwrap_or("ERROR").to_uppercase().replace(' ', "_");
    Described::new(code, &status, err.to_string())
}

/// poem-openapi's reasons (`verification failed. minimum(1, exclusive: false)`, `failed to parse
/// "integer_int64": invalid digit...`) as a person (and a pydantic client) reads them, with the
/// kind of problem: `value_error`, or `value_error.missing` for a field left out.
fn plain_reason(reason: &str) -> (String, &'static str) {
    if let Some((_, check)) = reason.split_once("verification failed. ") {
        return (plain_check(check), "value_error");
    }
    if let Some((_, rest)) = reason.split_once("Expected input type \"") {
        let expected = rest.split('"').next().unwrap_or_default();
        let found = rest.split_once("found ").map_or("", |(_, f)| f.split(". (occurred").next().unwrap_or_default());
        let what = match expected {
            t if t.starts_with("integer") => "an integer",
            t if t.starts_with("number") => "a number",
            "string" => "a string",
            "boolean" => "a boolean",
            "array" => "an array",
            "object" => "an object",
            other => other,
        };
        if found == "null" {
            return ("field required".into(), "value_error.missing");
        }
        return (format!("expected {what}, found {found}"), "value_error");
    }
    if let Some((_, rest)) = reason.split_once("failed to parse \"") {
        let ty = rest.split('"').next().unwrap_or_default();
        return match ty {
            t if t.starts_with("integer") => ("value is not a valid integer".into(), "value_error"),
            t if t.starts_with("number") => ("value is not a valid number".into(), "value_error"),
            t if t.starts_with("string_date-time") || t.contains("date") => {
                ("invalid datetime format, e.g. 2027-06-01T20:00:00Z".into(), "value_error")
            }
            "boolean" => ("value could not be parsed to a boolean".into(), "value_error"),
            _ => (reason.to_string(), "value_error"),
        };
    }
    (reason.to_string(), "value_error")
}

/// `minimum(1, exclusive: false)` -> `ensure this value is greater than or equal to 1`.
fn plain_check(check: &str) -> String {
    let (name, args) = check.split_once('(').unwrap_or((check, ""));
    let args = args.strip_suffix(')').unwrap_or(args);
    let first = args.split(", exclusive").next().unwrap_or(args);
    let exclusive = args.ends_with("exclusive: true");
    match name {
        "minimum" if exclusive => format!("ensure this value is greater than {first}"),
        "minimum" => format!("ensure this value is greater than or equal to {first}"),
        "maximum" if exclusive => format!("ensure this value is less than {first}"),
        "maximum" => format!("ensure this value is less than or equal to {first}"),
        "max_length" | "maxLength" => format!("ensure this value has at most {first} characters"),
        "min_length" | "minLength" => format!("ensure this value has at least {first} characters"),
        "max_items" | "maxItems" => format!("ensure this value has at most {first} items"),
        "min_items" | "minItems" => format!("ensure this value has at least {first} items"),
        "pattern" if args.contains("[^ \\t\\n\\f\\r]") => "must not be blank".into(),
        "pattern" => format!("string does not match regex {args}"),
        _ => check.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poems_reasons_read_as_pydantics() {
        let cases = [
            ("verification failed. minimum(0, exclusive: true)", "ensure this value is greater than 0"),
            ("verification failed. maximum(100, exclusive: false)", "ensure this value is less than or equal to 100"),
            (
                "failed to parse \"CreateOffer\": field `name` verification failed. pattern(\"[^ \\t\\n\\f\\r]\")",
                "must not be blank",
            ),
            ("failed to parse \"integer_int64\": invalid digit found in string", "value is not a valid integer"),
            (
                "Expected input type \"string\", found 5. (occurred while parsing \"CreateOffer\")",
                "expected a string, found 5",
            ),
            ("Expected input type \"string\", found null. (occurred while parsing \"CreateOffer\")", "field required"),
        ];
        for (reason, plain) in cases {
            assert_eq!(plain_reason(reason).0, plain, "{reason}");
        }
    }
}

/// What an error envelope says about the request it answers.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub id: String,
    pub method: String,
    pub path: String,
}

impl RequestInfo {
    /// The one way an error becomes a response.
    pub fn envelope(&self, d: Described) -> Response {
        let retry_after = d.retry_after;
        let body = ErrorEnvelope {
            error: ErrorBody {
                status: d.status,
                code: d.code.as_u16(),
                message: d.message,
                details: d.details,
                request_id: self.id.clone(),
                method: self.method.clone(),
                path: self.path.clone(),
                timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            },
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut resp = Response::builder().status(d.code).content_type("application/json; charset=utf-8").body(json);
        if let Some(seconds) = retry_after {
            resp.headers_mut().insert(poem::http::header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        resp
    }
}
