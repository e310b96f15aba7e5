-- Idempotency keys: a client retrying a POST with the same `Idempotency-Key` gets the first answer
-- instead of doing the thing twice (see src/http/idempotency.rs).
--
-- The primary key is the judge when two identical requests race: exactly one of them inserts the
-- row (the claim) and runs; the other finds it. A key is scoped to the caller (the sha-256 of its
-- `Authorization` header, so claiming needs no key lookup), and kept 24 hours: an older row is
-- treated as absent and replaced, and `db::idempotency::prune` deletes them.

create table idempotency_keys (
    -- sha-256 of the `Authorization` header value: callers never see each other's keys
    scope bytea not null,
    -- the client's `Idempotency-Key`, visible ASCII
    key text not null constraint idempotency_keys_key_length check (length(key) between 1 and 255),
    -- sha-256 of the method, the path with its query and the body: the same key with another
    -- request is refused
    request_hash bytea not null,
    -- in_progress from the claim until the answer is stored
    state text not null default 'in_progress'
        constraint idempotency_keys_state_known check (state in ('in_progress', 'done')),
    -- the first answer, replayed to retries: status, content type, body and `Location`
    status_code integer,
    content_type text,
    body bytea,
    location text,
    -- when the key was claimed: its age decides expiry (24 h) and abandonment (see the module)
    created_at timestamptz not null default now(),
    primary key (scope, key),
    constraint idempotency_keys_done_has_answer
        check (state = 'in_progress' or (status_code is not null and body is not null))
);

-- for the prune sweep
create index idempotency_keys_created_at on idempotency_keys (created_at);
