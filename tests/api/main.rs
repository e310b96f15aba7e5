//! API tests: the HTTP application driven in-process against a fresh database per test.

mod support;

mod auth;
mod catalog;
mod errors;
mod events;
mod search;
mod spec;
mod users;
