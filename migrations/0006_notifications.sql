-- Notifications: an outbox of what buyers are told (tickets issued, a hold expired, a waiting-list
-- offer), written in the same transaction as the change it reports and delivered by jobs on the
-- `notifications` queue over each channel the fulfillment worker has configured (see
-- src/notifications/).
--
-- A notification is one fact told once: `dedupe_key` is unique and recording inserts with
-- `on conflict do nothing`, so recording the same fact twice leaves one row. Its `id` is the stable
-- id every delivery attempt carries, so receivers can drop duplicates (delivery is at least once).
--
-- Each channel has its own delivery row (attempts, error, time), because channels succeed and
-- fail independently; the notification's columns sum them up:
--   pending    waiting for a worker, or for a channel's next attempt
--   delivered  every channel delivered (`delivered_at` says when the last one was)
--   failed     a channel gave up after its last attempt: the admin endpoints show and retry it
--   unsent     no channel was configured when a worker took it: kept and logged, not lost

create table notifications (
    id uuid primary key,
    kind text not null
        constraint notifications_kind_known check (kind in ('tickets_issued', 'hold_expired', 'waitlist_offer')),
    -- the recipient; their address is read from `users` when delivering, so a corrected email
    -- is used by the next attempt
    user_id text not null references users (id),
    -- what the message needs (event title, performance, ticket codes...), built by the caller
    payload jsonb not null,
    -- the fact reported, e.g. `tickets_issued:<reservation id>`
    dedupe_key text not null constraint notifications_dedupe_key_unique unique,
    state text not null default 'pending'
        constraint notifications_state_known check (state in ('pending', 'delivered', 'failed', 'unsent')),
    -- delivery attempts over every channel
    attempts integer not null default 0,
    last_error text,
    delivered_at timestamptz,
    created_at timestamptz not null default now(),
    constraint notifications_delivered_has_time check ((state = 'delivered') = (delivered_at is not null))
);

-- a buyer's notifications, newest first
create index notifications_user on notifications (user_id, created_at desc);
-- what still needs attention
create index notifications_undelivered on notifications (state, created_at) where state <> 'delivered';

create table notification_deliveries (
    notification_id uuid not null references notifications (id) on delete cascade,
    channel text not null constraint notification_deliveries_channel_known check (channel in ('webhook', 'email')),
    state text not null default 'pending'
        constraint notification_deliveries_state_known check (state in ('pending', 'delivered', 'failed')),
    attempts integer not null default 0,
    last_error text,
    delivered_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (notification_id, channel),
    constraint notification_deliveries_delivered_has_time check ((state = 'delivered') = (delivered_at is not null))
);
