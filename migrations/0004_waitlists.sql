-- Waiting lists: one FIFO list per (offer, representation). A person joins when the item is sold
-- out; whenever stock comes back, the first waiting person whose quantity fits gets an offer: a
-- real hold (a reservation marked as coming from the list) for the event's offer time, created in
-- the same transaction that freed the stock.
--
-- Entries move waiting -> offered -> converted | expired | declined, or waiting -> left.
-- Positions are not stored: a position is the exact rank among the active entries (waiting or
-- offered) by `seq`, so leaving never leaves a gap.

-- an offer from the list holds for the event's offer time (up to a day), not the 1-20 minutes a
-- buyer may ask for
alter table reservations add column from_waitlist boolean not null default false;
alter table reservations drop constraint reservations_hold_minutes_range;
alter table reservations add constraint reservations_hold_minutes_range
    check (hold_minutes between 1 and 20 or (from_waitlist and hold_minutes between 1 and 1440));

create table waitlist_entries (
    id uuid primary key,
    -- join order
    seq bigint generated always as identity constraint waitlist_entries_seq_unique unique,
    user_id text not null references users (id),
    offer_id text not null references offers (id),
    representation_id text not null references representations (id),
    requested_quantity integer not null constraint waitlist_entries_quantity_range check (requested_quantity between 1 and 100),
    status text not null default 'waiting' constraint waitlist_entries_status_known
        check (status in ('waiting', 'offered', 'converted', 'expired', 'declined', 'left')),
    -- the hold offered to this person
    reservation_id uuid references reservations (id),
    created_at timestamptz not null default now(),
    offered_at timestamptz,
    -- converted, expired, declined or left
    ended_at timestamptz,
    constraint waitlist_entries_offer_has_hold check (status not in ('offered', 'converted') or reservation_id is not null)
);

-- a person is on a list once at a time
create unique index waitlist_entries_one_active on waitlist_entries (offer_id, representation_id, user_id)
    where status in ('waiting', 'offered');
-- the line, for ranks and promotion
create index waitlist_entries_line on waitlist_entries (offer_id, representation_id, seq)
    where status in ('waiting', 'offered');
create index waitlist_entries_reservation on waitlist_entries (reservation_id) where reservation_id is not null;
create index waitlist_entries_user on waitlist_entries (user_id, created_at desc);
