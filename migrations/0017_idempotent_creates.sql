-- A request that creates something (a reservation) fixes the new row's id when it claims its
-- `Idempotency-Key`. A request can fail after its insert committed: the connection to the
-- database is lost between the commit and its acknowledgement (a failover). The caller is told
-- 503 (nothing it can be sure of was done), the claim is released, and the caller retries with the
-- same key: the retry reuses the id, so it finds the row the first attempt made instead of making
-- a second one (the primary key judges it). See src/http/idempotency.rs.

-- the id of what the request creates; kept when the same request takes the claim over
alter table idempotency_keys add column creates uuid;

-- a claim whose answer was not worth keeping (a 5xx, a 429, a 401) is released rather than
-- deleted, so that its retry keeps `creates`
alter table idempotency_keys
    drop constraint idempotency_keys_state_known,
    add constraint idempotency_keys_state_known check (state in ('in_progress', 'done', 'released')),
    drop constraint idempotency_keys_done_has_answer,
    add constraint idempotency_keys_done_has_answer
        check (state <> 'done' or (status_code is not null and body is not null));
