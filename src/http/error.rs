//! The one error envelope. Handlers return [`ApiError`]; everything else that can go wrong on the
//! way (routing, parsing, auth, body size, panics) is a `poem::Error` or a marked response, and
//! the middleware turns all of them into the same JSON shape.

use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError, ResponseError};
use poem::http::StatusCode;
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
        match &self.0 {
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::PermissionDenied(_) => StatusCode::FORBIDDEN,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
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
    /// A parameter or the body is invalid; `details` lists each problem.
    #[oai(status = 422)]
    Validation(Json<ErrorEnvelope>),
    /// Something failed on our side; nothing internal is disclosed.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
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
        return match e {
            Error::Validation(v) => Described::validation(v.0.clone()),
            Error::BadRequest { status, message } => Described::new(StatusCode::BAD_REQUEST, status, message),
            Error::Unauthenticated(m) => Described::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", m),
            Error::PermissionDenied(m) => Described::new(StatusCode::FORBIDDEN, "PERMISSION_DENIED", m),
            Error::NotFound { status, message } => Described::new(StatusCode::NOT_FOUND, status, message),
            Error::Conflict { status, message } => Described::new(StatusCode::CONFLICT, status, message),
            Error::Unavailable(m) => Described::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", m).retry_after(1),
            Error::Internal(cause) => {
                tracing::error!(error = ?cause, "request failed");
                Described::internal()
            }
        };
    }
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return Described::one_problem("query", e.name, &e.reason);
    }
    if let Some(e) = err.downcast_ref::<ParsePathError>() {
        return Described::one_problem("path", e.name, &e.reason);
    }
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        return Described::one_problem("body", "", &e.reason);
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
