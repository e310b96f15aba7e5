//! Use cases. Each function owns its transaction, checks who may do it, and returns domain
//! values or an [`Error`].

pub mod admin;
pub mod allocation;
pub mod auth;
pub mod availability;
pub mod catalog;
mod error;
pub mod expiry;
pub mod intake;
pub mod reservations;
pub mod search;
pub mod users;

pub use error::{Error, Result};
