//! What the people running an on-sale see and do: rate limits, metrics, cancellations.

mod cancellations;
mod metrics;
mod rate_limits;
mod request_ids;
