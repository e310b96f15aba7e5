//! Job handlers: decode, call one service, report through [`super::guard`].

use apalis::prelude::{Attempt, BoxDynError, Data, TaskId};
use sqlx::PgPool;

use super::guard::{JobRun, guard};
use crate::domain::job::{AllocateItem, ExpireHolds, IssueTickets};
use crate::services;

pub async fn allocate(job: AllocateItem, pool: Data<PgPool>, id: TaskId, attempt: Attempt) -> Result<(), BoxDynError> {
    let id = id.to_string();
    let run = JobRun { id: &id, attempt: attempt.current(), what: "allocate", request_id: job.request_id.as_deref() };
    guard(&pool, run, async {
        let outcome = services::allocation::allocate_item(&pool, &job.offer_id, &job.representation_id).await?;
        if outcome != Default::default() {
            tracing::debug!(offer.id = %job.offer_id, representation.id = %job.representation_id, ?outcome, "allocated");
        }
        Ok(())
    })
    .await
}

pub async fn expire(job: ExpireHolds, pool: Data<PgPool>, id: TaskId, attempt: Attempt) -> Result<(), BoxDynError> {
    let id = id.to_string();
    let run = JobRun { id: &id, attempt: attempt.current(), what: "expire", request_id: None };
    guard(&pool, run, async {
        services::expiry::expire_when_due(&pool, &job.offer_id, &job.representation_id, job.due_at).await?;
        Ok(())
    })
    .await
}

/// A reservation that is missing or not confirmed will never get tickets: killed, not retried.
pub async fn issue_tickets(
    job: IssueTickets,
    pool: Data<PgPool>,
    id: TaskId,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    let id = id.to_string();
    let run =
        JobRun { id: &id, attempt: attempt.current(), what: "issue_tickets", request_id: job.request_id.as_deref() };
    guard(&pool, run, async {
        services::issuance::issue(&pool, job.reservation_id).await?;
        Ok(())
    })
    .await
}
