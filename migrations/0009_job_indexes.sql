-- apalis-postgres 1.0.0's migrations leave two indexes twice on apalis.jobs: `lidx` repeats
-- `idx_apalis_jobs_lock_by` (lock_by) and `unique_job_id` repeats the primary key (id). Each job
-- is written three times (pending, queued, done), each time through every index, so the copies
-- cost every job twice over for nothing. apalis is pinned (Cargo.lock); a release that drops or
-- renames these indexes itself must be checked against this file.
drop index if exists apalis.lidx;
alter table if exists apalis.jobs drop constraint if exists unique_job_id;
drop index if exists apalis.unique_job_id;
