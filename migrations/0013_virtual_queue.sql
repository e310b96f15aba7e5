-- A virtual queue in front of an event's on-sale: a pre-queue drawn at random when the sale opens,
-- later arrivals behind it in arrival order, admission at a set rate while there is stock, and
-- signed passes that reservations of the event must carry.

create table event_queues (
    event_id text primary key references events (id) on delete cascade,
    enabled boolean not null,
    prequeue_opens_at timestamptz not null,
    sale_opens_at timestamptz not null,
    admit_per_minute integer not null
        constraint event_queues_rate_bounded check (admit_per_minute between 1 and 1000000),
    pass_minutes integer not null
        constraint event_queues_pass_bounded check (pass_minutes between 1 and 1440),
    -- drawn once, when the queue is first enabled, and kept: disabling and enabling again cannot
    -- re-roll the draw; its SHA-256 is published from then on, the seed itself once the sale opens
    seed bytea not null constraint event_queues_seed_32_bytes check (length(seed) = 32),
    -- when the pre-queue was ordered (the sale had opened)
    drawn_at timestamptz,
    -- places handed out so far: the draw hands out 1..n, each later arrival the next one
    last_place bigint not null default 0,
    -- every entry placed up to here has been admitted (admission goes in place order)
    admitted_through bigint not null default 0,
    -- admission credit accrues from this instant at admit_per_minute (the database's clock)
    credit_from timestamptz,
    -- set while the event has nothing left to sell: admission is stopped
    sold_out_since timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint event_queues_prequeue_first check (prequeue_opens_at <= sale_opens_at),
    constraint event_queues_admitted_placed check (admitted_through between 0 and last_place)
);

-- enabled queues whose sale may have opened: what the admission sweep scans
create index event_queues_enabled on event_queues (sale_opens_at) where enabled;

create table queue_entries (
    id uuid primary key,
    event_id text not null references event_queues (event_id) on delete cascade,
    user_id text not null references users (id) on delete cascade,
    -- arrival order, for those who join after the sale opened
    seq bigint generated always as identity,
    joined_at timestamptz not null default clock_timestamp(),
    -- joined before the sale opened: placed by the draw
    prequeue boolean not null,
    -- rank in the queue, 1 first; null until the draw
    place bigint,
    admitted_at timestamptz,
    pass_expires_at timestamptz,
    constraint queue_entries_one_per_user unique (event_id, user_id),
    constraint queue_entries_admitted_has_pass check ((admitted_at is null) = (pass_expires_at is null)),
    constraint queue_entries_admitted_placed check (admitted_at is null or place is not null)
);

create unique index queue_entries_place on queue_entries (event_id, place) where place is not null;
create index queue_entries_unplaced on queue_entries (event_id, seq) where place is null;

-- a reservation made with a pass names its entry and the pass's expiry; the database's clock, not
-- the API's, decides whether the pass was still valid when the reservation was stored
alter table reservations
    add column queue_entry_id uuid references queue_entries (id) on delete set null,
    add column queue_pass_expires_at timestamptz,
    add constraint reservations_queue_pass_live
        check (queue_pass_expires_at is null or queue_pass_expires_at > created_at);

-- a pass allows one reservation in flight (waiting for its decision, or held) at a time
create unique index reservations_one_in_flight_per_pass on reservations (queue_entry_id)
    where status in ('pending', 'held');

-- the stock of an event, summed each second by the admission sweep
create index inventory_event on inventory (event_id);
