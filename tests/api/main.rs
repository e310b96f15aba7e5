//! API tests: the HTTP application driven in-process against a fresh database per test.

mod support;

mod auth;
mod batch_failures;
mod batched_writes;
mod catalog;
mod cli;
mod connections;
mod errors;
mod events;
mod expiry;
mod hardening;
mod idempotency;
mod import;
mod live;
mod notifications;
mod operations;
mod parse_errors;
mod pools;
mod report;
mod reservation_input;
mod reservations;
mod search;
mod seating;
mod spec;
mod tickets;
mod users;
mod virtual_queue;
mod waitlists;
