-- Live streams (availability and seat maps pushed to browsers): a pool's counts and seats carry
-- the database time of their last change (`changed_at`, the `as_of` of the events that show them,
-- and the source of their ids), and every statement that changes pools notifies the API processes
-- once per representation it touched, on one channel; PostgreSQL also folds identical
-- notifications of one transaction into one.
alter table pools add column changed_at timestamptz not null default clock_timestamp();

-- strictly increasing per pool: the row lock orders the writers, and an update within the same
-- microsecond as the last one still moves the clock on
create function pools_changed_at() returns trigger language plpgsql as $$
begin
    new.changed_at := greatest(clock_timestamp(), old.changed_at + interval '1 microsecond');
    return new;
end $$;
create trigger pools_changed_at before update on pools for each row
    when ((old.total_stock, old.available, old.held, old.sold, old.seats_version, old.layout_version)
          is distinct from (new.total_stock, new.available, new.held, new.sold, new.seats_version, new.layout_version))
    execute function pools_changed_at();

create function pools_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('boxoffice_live', 'representation:' || representation_id)
    from (select distinct representation_id from changed_pools) c;
    return null;
end $$;
create trigger pools_notify_update after update on pools referencing new table as changed_pools
    for each statement execute function pools_notify();
create trigger pools_notify_insert after insert on pools referencing new table as changed_pools
    for each statement execute function pools_notify();

-- the time a reservation's stream shows for its tickets issued. Reservations notify nothing: a
-- trigger notifying every change of status (even only those some API process followed, through
-- a table of followed reservations) cost an on-sale 40% of its decisions a second and seconds of
-- tail; the API reads the statuses of the reservations it follows in one query per round instead.
alter table reservations add column fulfilled_at timestamptz;
