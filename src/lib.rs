//! boxoffice: a ticketing backend for high-demand on-sales.
//!
//! Layers, from the inside out: `domain` (validated types and rules, no I/O), `db` (SQL, functions
//! taking a connection), `services` (use cases: own the transaction, check who may do what), and
//! the `http` adapter. Binaries are wiring.

pub mod config;
pub mod db;
pub mod dev;
pub mod devdb;
pub mod domain;
pub mod http;
pub mod import;
pub mod jobs;
pub mod notifications;
pub mod observe;
pub mod server;
pub mod services;
pub mod telemetry;
