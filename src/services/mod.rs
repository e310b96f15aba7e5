//! Use cases. Each function owns its transaction, checks who may do it, and returns domain
//! values or an [`Error`].

pub mod admin;
pub mod allocation;
pub mod auth;
pub mod availability;
pub mod batch;
pub mod cache;
pub mod cancellations;
pub mod catalog;
mod cursor;
pub mod decisions;
pub mod delivery;
mod error;
pub mod expiry;
pub mod halls;
pub mod health;
pub mod history;
pub mod idempotency;
pub mod intake;
pub mod issuance;
pub mod items;
pub mod live;
pub mod notify;
pub mod pools;
pub mod queue;
pub mod reads;
pub mod report;
pub mod reservations;
pub mod search;
pub mod seatmap;
pub mod signing;
pub mod standings;
pub mod stock;
pub mod sweeps;
pub mod tickets;
pub mod users;
pub mod virtual_queue;
pub mod waitlist;
pub mod writer;

pub use error::{Error, Logged, Result};
