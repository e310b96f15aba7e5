//! The job queue's table (`apalis.jobs`) as operators see it: depth and age per queue, jobs that
//! failed for good, and putting one back.
//!
//! "Failed for good" is `Killed` (a permanent error) or `Failed` with no attempt left: apalis
//! fetches `Failed` jobs again while `attempts < max_attempts`, so those are only retrying.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::job::Job;
use crate::domain::records::JobRecord;
use crate::domain::records::QueueStats;

/// Composed with `concat!` so every query stays a static string.
macro_rules! failed_for_good {
    () => {
        "(status = 'Killed' or (status = 'Failed' and attempts >= max_attempts))"
    };
}

/// The columns of [`JobRecord`]; `$1` is the notifications queue's name. Only that queue's payloads
/// are decoded: its jobs are JSON by construction, other queues' payloads are not our business.
macro_rules! job_columns {
    () => {
        "id, job_type as queue, lower(status) as status, attempts, max_attempts,
         coalesce(last_result ->> 'Err', last_result #>> '{}') as last_error, run_at, done_at,
         (case when job_type = $1 then convert_from(job, 'UTF8')::jsonb end ->> 'notification_id')::uuid
            as notification_id,
         case when job_type = $1 then convert_from(job, 'UTF8')::jsonb end ->> 'channel' as channel"
    };
}

/// Every queue with jobs, and the `known` ones even when empty, by name.
pub async fn queue_stats(conn: &mut PgConnection, known: &[&str]) -> sqlx::Result<Vec<QueueStats>> {
    sqlx::query_as(
        "with stats as (
            select job_type,
                   count(*) filter (where status = 'Pending') as pending,
                   count(*) filter (where status = 'Failed' and attempts < max_attempts) as retrying,
                   count(*) filter (where status in ('Queued', 'Running')) as running,
                   count(*) filter (where status = 'Killed' or (status = 'Failed' and attempts >= max_attempts)) as failed,
                   count(*) filter (where status = 'Done') as done,
                   extract(epoch from now() - min(run_at) filter (
                       where (status = 'Pending' or (status = 'Failed' and attempts < max_attempts)) and run_at <= now()
                   ))::float8 as oldest_pending_age_secs
            from apalis.jobs group by job_type
         ), queues as (select unnest($1::text[]) as queue union select job_type from stats)
         select q.queue, coalesce(s.pending, 0) as pending, coalesce(s.retrying, 0) as retrying,
                coalesce(s.running, 0) as running, coalesce(s.failed, 0) as failed, coalesce(s.done, 0) as done,
                s.oldest_pending_age_secs
         from queues q left join stats s on s.job_type = q.queue
         order by q.queue",
    )
    .bind(known)
    .fetch_all(conn)
    .await
}

/// Jobs failed for good, most recent first, of one queue or all.
pub async fn failed(
    conn: &mut PgConnection,
    notifications_queue: &str,
    queue: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<JobRecord>> {
    sqlx::query_as(concat!(
        "select ",
        job_columns!(),
        " from apalis.jobs where ",
        failed_for_good!(),
        " and ($2::text is null or job_type = $2) order by coalesce(done_at, run_at) desc, id desc limit $3"
    ))
    .bind(notifications_queue)
    .bind(queue)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, notifications_queue: &str, id: &str) -> sqlx::Result<Option<JobRecord>> {
    sqlx::query_as(concat!("select ", job_columns!(), " from apalis.jobs where id = $2"))
        .bind(notifications_queue)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Puts a job failed for good back in its queue, due now with every attempt available again.
/// `None` when it is not failed for good (or does not exist).
pub async fn retry(conn: &mut PgConnection, notifications_queue: &str, id: &str) -> sqlx::Result<Option<JobRecord>> {
    sqlx::query_as(concat!(
        "update apalis.jobs set status = 'Pending', attempts = 0, run_at = now(), lock_by = null, lock_at = null,
            done_at = null where id = $2 and ",
        failed_for_good!(),
        " returning ",
        job_columns!()
    ))
    .bind(notifications_queue)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The job's attempt budget, as it was enqueued.
pub async fn max_attempts(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar("select max_attempts from apalis.jobs where id = $1").bind(id).fetch_optional(conn).await
}

/// Inserts a job as apalis would, in the caller's transaction (a rollback leaves no job), due at
/// `run_at` or now. A job whose dedupe key is taken is left out, without aborting the caller.
pub async fn enqueue<J: Job>(conn: &mut PgConnection, job: &J, run_at: Option<DateTime<Utc>>) -> sqlx::Result<()> {
    enqueue_with_attempts(conn, job, run_at, J::MAX_ATTEMPTS).await
}

/// [`enqueue`] with the attempts chosen by the caller (a notification's delivery: the worker's
/// settings).
pub async fn enqueue_with_attempts<J: Job>(
    conn: &mut PgConnection,
    job: &J,
    run_at: Option<DateTime<Utc>>,
    max_attempts: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
         values (apalis.generate_ulid(), $1, $2, 'Pending', 0, $3, coalesce($4, now()), 0, $5)
         on conflict (job_type, idempotency_key) do nothing",
    )
    .bind(J::QUEUE)
    .bind(payload(job))
    .bind(max_attempts)
    .bind(run_at)
    .bind(job.dedupe_key())
    .execute(conn)
    .await?;
    Ok(())
}

/// The insert of jobs due now, as apalis would, from the parameters numbered: queue name, dedupe
/// keys (`text[]`), payloads (`bytea[]`), attempts. A job whose dedupe key is taken is left out,
/// unless a conflict action is given. A macro so that it can also be a part of another statement
/// (see `reservations::insert_many`).
macro_rules! insert_jobs_due_now {
    ($queue:literal, $keys:literal, $payloads:literal, $attempts:literal) => {
        insert_jobs_due_now!($queue, $keys, $payloads, $attempts, "do nothing")
    };
    ($queue:literal, $keys:literal, $payloads:literal, $attempts:literal, $on_conflict:literal) => {
        concat!(
            "insert into apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
             select apalis.generate_ulid(), ", $queue, ", payload, 'Pending', 0, ", $attempts, ", now(), 0, key
             from unnest(", $keys, "::text[], ", $payloads, "::bytea[]) as t(key, payload)
             on conflict (job_type, idempotency_key) ", $on_conflict
        )
    };
}
pub(crate) use insert_jobs_due_now;

/// [`enqueue`] for many jobs due now, one statement for them all.
pub async fn enqueue_many<J: Job>(conn: &mut PgConnection, jobs: &[J]) -> sqlx::Result<u64> {
    if jobs.is_empty() {
        return Ok(0);
    }
    insert_due_now(conn, insert_jobs_due_now!("$1", "$2", "$3", "$4"), jobs).await
}

/// Puts jobs back in their queue by dedupe key, due now with every attempt available again;
/// inserts those that are gone (pruned).
pub async fn requeue<J: Job>(conn: &mut PgConnection, jobs: &[J]) -> sqlx::Result<u64> {
    let sql = insert_jobs_due_now!(
        "$1",
        "$2",
        "$3",
        "$4",
        "do update set status = 'Pending', attempts = 0, run_at = now(), lock_by = null, lock_at = null, done_at = null"
    );
    insert_due_now(conn, sql, jobs).await
}

/// Runs `sql`, an [`insert_jobs_due_now`] numbered `$1` to `$4`, on `jobs`; returns the rows written.
async fn insert_due_now<J: Job>(conn: &mut PgConnection, sql: &'static str, jobs: &[J]) -> sqlx::Result<u64> {
    let (keys, payloads) = rows_of(jobs);
    let done = sqlx::query(sql).bind(J::QUEUE).bind(&keys).bind(&payloads).bind(J::MAX_ATTEMPTS).execute(conn).await?;
    Ok(done.rows_affected())
}

/// The dedupe keys and payloads of `jobs`, as [`insert_jobs_due_now`] takes them.
pub(crate) fn rows_of<J: Job>(jobs: &[J]) -> (Vec<Option<String>>, Vec<Vec<u8>>) {
    (jobs.iter().map(Job::dedupe_key).collect(), jobs.iter().map(payload).collect())
}

fn payload<J: Job>(job: &J) -> Vec<u8> {
    serde_json::to_vec(job).expect("job payloads serialize")
}

/// Moves a failed job's next run `delay` ahead (apalis fetches a failed job again at once
/// otherwise); returns its attempt budget, `None` when it is gone.
pub async fn postpone(pool: &PgPool, id: &str, delay: Duration) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar(
        "update apalis.jobs set run_at = now() + make_interval(secs => $2) where id = $1 returning max_attempts",
    )
    .bind(id)
    .bind(delay.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// Deletes jobs done or killed more than `hours` ago, then the rows of workers gone for an hour
/// that no job names any more (jobs first: `jobs.lock_by` references `workers.id`). apalis deletes
/// neither. Returns the jobs deleted.
pub async fn prune(pool: &PgPool, hours: i32) -> sqlx::Result<u64> {
    let jobs = sqlx::query(
        "delete from apalis.jobs where status in ('Done', 'Killed')
         and coalesce(done_at, run_at) < now() - make_interval(hours => $1)",
    )
    .bind(hours)
    .execute(pool)
    .await?
    .rows_affected();
    sqlx::query(
        "delete from apalis.workers w where last_seen < now() - interval '1 hour'
         and not exists (select 1 from apalis.jobs j where j.lock_by = w.id)",
    )
    .execute(pool)
    .await?;
    Ok(jobs)
}
