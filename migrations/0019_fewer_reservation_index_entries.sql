-- An on-sale's reservation is inserted, then decided by an update that cannot be HOT (its status
-- is in partial indexes' predicates), so each index of reservations whose predicate the row meets
-- takes an entry at the insert and another at the decision. Two of them bought nothing there:
--
-- * reservations_seq_unique: seq is `generated always as identity`, so its sequence already makes
--   it unique (nothing inserts a seq of its own); no query finds a reservation by seq alone (the
--   queue reads (pool_id, seq) from reservations_pending, history reads (user_id, created_at)).
-- * reservations_one_in_flight_per_pass held every pending or held reservation, though only
--   those made with a queue pass have anything to be unique about.
alter table reservations drop constraint reservations_seq_unique;

drop index reservations_one_in_flight_per_pass;
-- a pass allows one reservation in flight (waiting for its decision, or held) at a time
create unique index reservations_one_in_flight_per_pass on reservations (queue_entry_id)
    where status in ('pending', 'held') and queue_entry_id is not null;
