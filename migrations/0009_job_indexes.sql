-- apalis-postgres 1.0.0's migrations leave two indexes twice on apalis.jobs: `lidx` repeats
-- `idx_apalis_jobs_lock_by` (lock_by) and `unique_job_id` repeats the primary key (id). Each job
-- is written three times (pending, queued, done), each time through every index, so the copies
-- cost every job twice over for nothing. apalis is pinned (Cargo.lock); a release that drops or
-- renames these indexes itself must be checked against this file.
drop index if exists apalis.lidx;
alter table if exists apalis.jobs drop constraint if exists unique_job_id;
drop index if exists apalis.unique_job_id;

-- A finished job lets go of its worker: apalis acknowledges a worker's results with a join that,
-- whenever the statistics are behind (a worker started a minute ago), walks every job that
-- worker ever locked by `lock_by`. Cleared once a job is done or killed, `lock_by` names only the
-- jobs in flight, and the walk stays short for the worker's whole life. Orphan rescue only looks
-- at running jobs, and a retried job is locked anew.
create function apalis_release_finished_job() returns trigger language plpgsql as $$
begin
    new.lock_by := null;
    return new;
end $$;

create trigger release_finished_job before update on apalis.jobs
    for each row when (new.status in ('Done', 'Killed') and new.lock_by is not null)
    execute function apalis_release_finished_job();
