//! The workers of the job queue (apalis-postgres, in the same database): their handlers, their
//! wiring, and the scheduler's sweeps. The job types themselves, with their queues and attempts,
//! are `domain::job`; enqueueing them is `db::jobs::enqueue`, inside the caller's transaction.
//!
//! Every job is idempotent: it may run twice, concurrently, or after a crash halfway, and the
//! outcome is the same.
//!
//! Traps of apalis 1.0 handled here: retries, timeouts and panics are done in the handler
//! ([`guard`]); worker names are unique per process; the orphan window is short; finished jobs are
//! pruned by the scheduler.

mod deliver;
mod guard;
mod handlers;
pub mod runtime;
pub mod sweeps;
mod wakeups;

pub use guard::{JobError, guard, guard_then};
