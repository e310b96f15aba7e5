-- A worker keeps each seated pool's hall (its seats, which are taken, its best blocks) in memory
-- between batches, instead of reading tens of thousands of seats per batch. Two counters on the
-- pool keep that copy honest:
-- - `seats_version` goes up in every statement that takes or frees seats of the pool (a decision,
--   a release, an expiry, a cancellation, a voided ticket), which stamps the rows it changed with
--   the new value; the counter's row lock orders those statements per pool. A worker holding the
--   pool's lock reads the counter and, if its copy is older, only the rows stamped after it.
-- - `layout_version` goes up when seats are added: the copy is then read again whole.
-- `instance` tells the pool from one of the same id in another database (a dropped and recreated
-- database, the many databases of the tests): a copy is only ever used for the pool it was made of.
alter table pools add column seats_version bigint not null default 0,
                  add column layout_version bigint not null default 0,
                  add column instance uuid not null default gen_random_uuid();

alter table reservation_seats add column pool_id text,
                              add column changed_version bigint not null default 0;
update reservation_seats rs set pool_id = s.pool_id from seats s where s.id = rs.seat_id;
alter table reservation_seats alter column pool_id set not null;
create index reservation_seats_changes on reservation_seats (pool_id, changed_version);

-- a section's seats without a pass over the hall: checking the section a best-available request
-- names, a section's seat map and availability (a stadium has 60 sections of 1,000 seats)
create index seats_section on seats (representation_id, section);

-- Holding seats is the hot write of a seated on-sale (a stadium's first minute writes 60,000 rows
-- here). The foreign key to `seats` checked each row with a lock on its seat, two thirds of the
-- insert's time. Seats are never deleted nor their ids changed (a seat sold stays in the hall's
-- history), which this trigger makes a rule the database enforces; the worker holds seats it read
-- from the pool's own rows. The key to `reservations` stays: that row is locked by the same batch.
alter table reservation_seats drop constraint reservation_seats_seat_id_fkey;
create function seats_are_kept() returns trigger language plpgsql as $$
begin
    raise exception 'seats are never deleted nor renumbered: reservations name them'
        using errcode = 'restrict_violation';
end $$;
create trigger seats_are_kept before delete or update of id on seats
    for each row execute function seats_are_kept();
