-- Reservations: requests for tickets, decided in arrival order by the reservation workers.
--
-- The reservations table is itself the FIFO queue: `seq` is the arrival order, and a worker decides
-- the pending reservations of one inventory item in `seq` order, many per transaction. Apalis jobs
-- only wake a worker for an item (see src/jobs).
--
-- A hold whose `hold_expires_at` has passed is expired for every read and write at once, even while
-- its row still says `held`: readers compare with now(), and every writer that touches the item
-- first releases the expired holds it finds.

create table reservations (
    id uuid primary key,
    -- arrival order; FIFO is by this
    seq bigint generated always as identity constraint reservations_seq_unique unique,
    user_id text not null references users (id),
    offer_id text not null,
    representation_id text not null,
    quantity integer not null constraint reservations_quantity_range check (quantity between 1 and 100),
    -- the seats asked for, normalized labels; null for general admission
    seat_labels text[],
    hold_minutes integer not null constraint reservations_hold_minutes_range check (hold_minutes between 1 and 20),
    status text not null default 'pending' constraint reservations_status_known
        check (status in ('pending', 'held', 'confirmed', 'fulfilled', 'rejected', 'expired', 'released')),
    -- why a reservation was rejected: SOLD_OUT, SEAT_UNAVAILABLE...
    reason text,
    hold_expires_at timestamptz,
    payment_reference text,
    -- the API key that made it, for scoping reads later
    api_key_id uuid,
    -- the request that made it, carried into the jobs it causes
    request_id text,
    created_at timestamptz not null default now(),
    decided_at timestamptz,
    confirmed_at timestamptz,
    -- when a hold ended: expired or released
    ended_at timestamptz,
    foreign key (offer_id, representation_id) references inventory (offer_id, representation_id),
    constraint reservations_seats_match_quantity
        check (seat_labels is null or cardinality(seat_labels) = quantity),
    constraint reservations_held_has_expiry check (status <> 'held' or hold_expires_at is not null),
    constraint reservations_rejected_has_reason check (status <> 'rejected' or reason is not null)
);

-- the queue: pending reservations of an item in arrival order
create index reservations_pending on reservations (offer_id, representation_id, seq) where status = 'pending';
-- expiry: open holds by the time they end
create index reservations_open_holds on reservations (offer_id, representation_id, hold_expires_at) where status = 'held';
create index reservations_hold_expiry on reservations (hold_expires_at) where status = 'held';
create index reservations_user on reservations (user_id, created_at desc);

-- The seats a reservation holds or bought. `active` while the reservation is held (unexpired) or
-- sold; the partial unique index makes two active reservations of one seat impossible.
create table reservation_seats (
    reservation_id uuid not null references reservations (id),
    seat_id uuid not null references seats (id),
    active boolean not null default true,
    primary key (reservation_id, seat_id)
);

create unique index reservation_seats_one_active on reservation_seats (seat_id) where active;
