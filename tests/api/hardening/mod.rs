//! The promises the hardening issue found broken, each kept and proven through the API.

mod bad_bytes;
mod bounded_requests;
mod client_scope;
mod closed_sales;
mod expired_confirm;
mod money;
mod spec_truth;
mod stalled;
mod waitlist_freeze;
