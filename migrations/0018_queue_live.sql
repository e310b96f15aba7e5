-- The waiting-room page and the live stream of a queue entry.

-- where the waiting-room page sends an admitted buyer's browser, with the pass (the shop's page)
alter table event_queues add column return_url text
    constraint event_queues_return_url_web check (return_url ~ '^https?://' and length(return_url) <= 2000);

-- the database time of the last change to what the queue's entries show (the draw, an admission,
-- selling out or not, the rate, the opening times): the `as_of` of entry events and part of their
-- ids. Strictly increasing, as `pools.changed_at`; joins (which move `last_place` only) leave it.
alter table event_queues add column changed_at timestamptz not null default clock_timestamp();

create function event_queues_changed_at() returns trigger language plpgsql as $$
begin
    new.changed_at := greatest(clock_timestamp(), old.changed_at + interval '1 microsecond');
    return new;
end $$;
create trigger event_queues_changed_at before update on event_queues for each row
    when ((old.enabled, old.prequeue_opens_at, old.sale_opens_at, old.admit_per_minute, old.pass_minutes,
           old.drawn_at, old.admitted_through, old.sold_out_since, old.return_url)
          is distinct from
          (new.enabled, new.prequeue_opens_at, new.sale_opens_at, new.admit_per_minute, new.pass_minutes,
           new.drawn_at, new.admitted_through, new.sold_out_since, new.return_url))
    execute function event_queues_changed_at();

-- the API processes following entries of a changed queue read them again (one query per queue)
create function event_queues_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('boxoffice_live', 'queue:' || n.event_id)
    from changed_new n join changed_old o on o.event_id = n.event_id
    where n.changed_at <> o.changed_at;
    return null;
end $$;
create trigger event_queues_notify after update on event_queues
    referencing old table as changed_old new table as changed_new
    for each statement execute function event_queues_notify();
