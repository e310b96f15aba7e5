//! The one error type of the use cases. The HTTP adapter turns it into the error envelope.

use crate::domain::queue::PassProblem;
use crate::domain::{NotAnItem, ValidationErrors};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is well-formed but its values break a rule (422 `VALIDATION_ERROR`).
    #[error("Validation error")]
    Validation(#[from] ValidationErrors),
    /// A request that cannot be served as asked (400), with a stable status name.
    #[error("{message}")]
    BadRequest { status: &'static str, message: String },
    /// No valid API key (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid key that may not do this (403).
    #[error("{0}")]
    PermissionDenied(String),
    /// A request refused for what it carries (403), with a stable status name: a queue pass.
    #[error("{message}")]
    Forbidden { status: &'static str, message: String },
    /// Something named in the request does not exist (404), with a stable status name.
    #[error("{message}")]
    NotFound { status: &'static str, message: String },
    /// The request conflicts with the current state (409), with a stable status name.
    #[error("{message}")]
    Conflict { status: &'static str, message: String },
    /// The database is too busy to answer in time (a lock or statement timeout, no free
    /// connection): nothing was done, a retry may succeed (503 with `Retry-After`).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged with its cause, answered as a bare 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// The same error for another caller who met it too (internal causes cannot be cloned: their
    /// description is kept).
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Validation(v) => Error::Validation(v.clone()),
            Error::BadRequest { status, message } => Error::BadRequest { status, message: message.clone() },
            Error::Unauthenticated(m) => Error::Unauthenticated(m.clone()),
            Error::PermissionDenied(m) => Error::PermissionDenied(m.clone()),
            Error::Forbidden { status, message } => Error::Forbidden { status, message: message.clone() },
            Error::NotFound { status, message } => Error::NotFound { status, message: message.clone() },
            Error::Conflict { status, message } => Error::Conflict { status, message: message.clone() },
            Error::Unavailable(m) => Error::Unavailable(m.clone()),
            Error::Internal(e) => Error::Internal(anyhow::anyhow!("{e:#}")),
        }
    }

    /// The same error, its internal cause marked as logged where it was handled (the HTTP edge
    /// does not log it again).
    pub(crate) fn logged(self) -> Error {
        match self {
            Error::Internal(e) if !e.is::<Logged>() => Error::Internal(anyhow::Error::new(Logged(format!("{e:#}")))),
            other => other,
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Error::NotFound { status: "NOT_FOUND", message: format!("{what} '{id}' not found") }
    }

    /// The waiting-list contract's answer about a user nobody registered.
    pub fn user_does_not_exist() -> Self {
        Error::NotFound { status: "USER_DOES_NOT_EXIST", message: "User does not exist".into() }
    }

    pub fn conflict(status: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict { status, message: message.into() }
    }

    /// An offer and a representation that do not make an item (404, as the waiting-list contract
    /// names it).
    pub fn invalid_reference(message: impl Into<String>) -> Self {
        Error::NotFound { status: "INVALID_REFERENCE", message: message.into() }
    }

    /// The answer to an offer and a representation that do not make an item, in the catalog's and
    /// the reservations' words (the waiting lists answer in their contract's, see
    /// `writer::check_list`).
    pub fn not_an_item(problem: NotAnItem, offer_id: &str, representation_id: &str) -> Self {
        match problem {
            NotAnItem::NoOffer => Error::not_found("offer", offer_id),
            NotAnItem::NoRepresentation => Error::not_found("representation", representation_id),
            NotAnItem::DifferentEvents => Error::invalid_reference(format!(
                "offer '{offer_id}' and representation '{representation_id}' belong to different events"
            )),
        }
    }

    /// A refusal with a stable status name (403).
    pub fn forbidden(status: &'static str, message: impl Into<String>) -> Self {
        Error::Forbidden { status, message: message.into() }
    }

    pub fn bad_request(status: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest { status, message: message.into() }
    }
}

/// An internal failure already logged where it was handled (a batch that failed for all its
/// callers): whoever answers it need not log it again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Logged(String);

impl From<sqlx::Error> for Error {
    /// Constraint violations are the database judging an invariant: they become client errors
    /// by constraint name. Anything else is internal.
    fn from(err: sqlx::Error) -> Self {
        // 23514: a check constraint refused a write: our code let something through that the
        // books forbid (the caller still gets its mapped error); but a pass that expired between
        // the API's check and the database's is the database judging the clock, as meant
        if let Some(db) = err.as_database_error()
            && db.code().as_deref() == Some("23514")
            && db.constraint() != Some("reservations_queue_pass_live")
        {
            tracing::warn!(
                constraint = db.constraint().unwrap_or(""),
                "the database refused a write by a check constraint"
            );
            metrics::counter!("db_invariant_violations_total").increment(1);
        }
        if let Some(db) = err.as_database_error()
            && let Some(constraint) = db.constraint()
            && let Some(mapped) = from_constraint(constraint)
        {
            return mapped;
        }
        if matches!(err, sqlx::Error::PoolTimedOut) {
            return Error::Unavailable("the service is busy: retry in a moment".into());
        }
        // 57014: a statement cancelled by statement_timeout; 55P03: a lock not had within lock_timeout
        if let Some(db) = err.as_database_error()
            && matches!(db.code().as_deref(), Some("57014" | "55P03"))
        {
            return Error::Unavailable("the service is busy: retry in a moment".into());
        }
        // the database cannot be reached, is restarting, or is a standby (a failover under way):
        // nothing was done, and a retry in a moment may reach the new primary
        if unreachable(&err) {
            return Error::Unavailable("the database is unavailable: retry in a moment".into());
        }
        // text the database cannot store (the HTTP edge refuses it first; imports and jobs may not)
        if let Some(db) = err.as_database_error()
            && matches!(db.code().as_deref(), Some("22021" | "22P05"))
        {
            return Error::bad_request(
                "INVALID_ARGUMENT",
                "the request holds text that cannot be stored (a NUL character?)",
            );
        }
        Error::Internal(anyhow::Error::new(err))
    }
}

/// The database is out of reach for now: the connection failed or was closed, the server is
/// shutting down or starting (57P01-57P03), the connection broke (class 08), or the server is a
/// read-only standby (25006). A connection through a proxy (HAProxy in front of a cluster) with no
/// server behind it yet is accepted and then closed mid-handshake: a protocol or TLS error.
fn unreachable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|code| code.starts_with("08"))
                || matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03" | "25006"))
        }
        _ => false,
    }
}

fn from_constraint(constraint: &str) -> Option<Error> {
    Some(match constraint {
        "users_email_unique" => Error::conflict("EMAIL_TAKEN", "a user with this email already exists"),
        "seats_label_unique" => {
            Error::conflict("DUPLICATE_SEAT", "a seat with this label already exists for this representation")
        }
        "seats_place_unique" => {
            Error::conflict("OVERLAPPING_SEATS", "a seat at this place (section, row, number) already exists")
        }
        "waitlist_entries_one_active" => {
            Error::conflict("USER_ALREADY_ON_WAITLIST", "User is already on this waitlist")
        }
        "reservations_queue_pass_live" => Error::forbidden("QUEUE_PASS_INVALID", PassProblem::Expired.message()),
        "reservations_one_in_flight_per_pass" => Error::conflict(
            "QUEUE_PASS_IN_USE",
            "this queue pass already has a reservation waiting for its decision or held: \
             confirm or release it first",
        ),
        "events_pkey" => Error::conflict("ALREADY_EXISTS", "an event with this id already exists"),
        "representations_pkey" => Error::conflict("ALREADY_EXISTS", "a representation with this id already exists"),
        "offers_pkey" => Error::conflict("ALREADY_EXISTS", "an offer with this id already exists"),
        "users_pkey" => Error::conflict("ALREADY_EXISTS", "a user with this id already exists"),
        "pools_total_bounded" => Error::Validation(ValidationErrors::single(
            &["body"],
            "a pool holds at most 1000000 tickets, seats included",
        )),
        "pools_pkey" => Error::conflict("ALREADY_EXISTS", "a pool with this id already exists"),
        "reservations_item_pool" => Error::conflict(
            "STOCK_CHANGED",
            "this offer's stock was moved to another pool a moment ago: send the request again",
        ),
        "offers_price_bounded" => Error::Validation(ValidationErrors::single(
            &["body", "price_minor"],
            "ensure this value is less than or equal to 1000000000000",
        )),
        "pools_counts_non_negative" | "pools_books_balance" => {
            Error::conflict("STOCK_BELOW_COMMITTED", "total stock cannot go below what is held and sold")
        }
        _ => return None,
    })
}
