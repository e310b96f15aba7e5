-- An organizer or admin cancels a paid reservation (its tickets are voided, its stock comes back
-- and goes to the waiting list first), or voids one ticket (its unit comes back the same way).
-- Each is recorded once as a refund, which the report adds up.
alter table reservations drop constraint reservations_status_known;
alter table reservations add constraint reservations_status_known
    check (status in ('pending', 'held', 'confirmed', 'fulfilled', 'rejected', 'expired', 'released', 'cancelled'));
alter table reservations
    add column cancelled_at timestamptz,
    add column cancel_reason text,
    add constraint reservations_cancelled_has_time check (status <> 'cancelled' or cancelled_at is not null);

alter table tickets add column void_reason text;

alter table notifications drop constraint notifications_kind_known;
alter table notifications add constraint notifications_kind_known
    check (kind in ('tickets_issued', 'hold_expired', 'waitlist_offer', 'tickets_voided'));

create table refunds (
    id uuid primary key default gen_random_uuid(),
    reservation_id uuid not null references reservations (id),
    -- the ticket voided on its own; null when the whole reservation was cancelled
    ticket_code text references tickets (code),
    offer_id text not null,
    representation_id text not null,
    -- units given back to the stock by this refund (a cancel after voids gives back the rest)
    units integer not null constraint refunds_units_not_negative check (units >= 0),
    amount_minor bigint not null constraint refunds_amount_not_negative check (amount_minor >= 0),
    reason text not null,
    -- the payment provider's reference of the refund, as the organizer gave it
    reference text,
    created_at timestamptz not null default now(),
    foreign key (offer_id, representation_id) references inventory (offer_id, representation_id)
);
-- a reservation is cancelled once, a ticket voided once: a retry finds the first
create unique index refunds_one_per_cancellation on refunds (reservation_id) where ticket_code is null;
create unique index refunds_one_per_ticket on refunds (ticket_code) where ticket_code is not null;
create index refunds_item on refunds (offer_id, representation_id);
