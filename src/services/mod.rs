//! Use cases. Each function owns its transaction, checks who may do it, and returns domain
//! values or an [`Error`].

pub mod auth;
pub mod availability;
pub mod catalog;
mod error;
pub mod search;
pub mod users;

pub use error::{Error, Result};
