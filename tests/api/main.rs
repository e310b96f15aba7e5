//! API tests: the HTTP application driven in-process against a fresh database per test.

mod support;

mod auth;
mod catalog;
mod cli;
mod errors;
mod events;
mod idempotency;
mod import;
mod search;
mod spec;
mod users;
