//! What the people running an on-sale see and do: rate limits, metrics, cancellations.

mod rate_limits;
