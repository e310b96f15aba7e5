-- Capacity pools, and orders of several lines.
--
-- A pool is the capacity of a representation that several offers sell from (Adult, Child and
-- Concession out of the same stalls). The books (total = available + held + sold) move from the
-- item to its pool, and the pool's row is the lock every writer takes: allocation, expiry,
-- confirms, releases, cancellations. An item (offer, representation) draws from exactly one pool;
-- until someone says otherwise, a pool of its own.
--
-- An order is a reservation of several lines. Each line is a row of `reservations` (its own item,
-- pool, quantity, seats and `seq`), all sharing `order_id`, the order's id, which is also the id of
-- line 0. Every status change updates all the rows of an order in one statement, so no other
-- transaction ever sees part of an order held. A reservation of one line has no `order_id`.

create table pools (
    id text primary key constraint pools_id_shape check (length(id) between 1 and 100),
    representation_id text not null,
    event_id text not null,
    name text not null constraint pools_name_present check (length(btrim(name)) between 1 and 200),
    total_stock integer not null,
    available integer not null,
    held integer not null default 0,
    sold integer not null default 0,
    -- seated stock is its seats: total_stock follows the seats added, it is never set by hand
    seated boolean not null default false,
    -- of `sold`, the units the last catalog import said were sold elsewhere
    imported_sold integer not null default 0 constraint pools_imported_sold_non_negative check (imported_sold >= 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    foreign key (representation_id, event_id) references representations (id, event_id) on delete cascade,
    constraint pools_id_representation unique (id, representation_id),
    constraint pools_counts_non_negative check (available >= 0 and held >= 0 and sold >= 0),
    constraint pools_books_balance check (total_stock = available + held + sold),
    constraint pools_total_bounded check (total_stock <= 1000000)
);

create index pools_representation on pools (representation_id);
create index pools_event on pools (event_id);

-- every existing item gets a pool of its own, named after its offer, with its books
insert into pools (id, representation_id, event_id, name, total_stock, available, held, sold, seated, imported_sold,
                   updated_at)
select md5(i.offer_id || '/' || i.representation_id)::uuid::text, i.representation_id, i.event_id, o.name,
       i.total_stock, i.available, i.held, i.sold, i.seated, i.imported_sold, i.updated_at
from inventory i join offers o on o.id = i.offer_id;

alter table inventory add column pool_id text;
update inventory set pool_id = md5(offer_id || '/' || representation_id)::uuid::text;
alter table inventory alter column pool_id set not null;
-- a pool of another representation cannot be attached
alter table inventory add constraint inventory_pool_same_representation
    foreign key (pool_id, representation_id) references pools (id, representation_id);
create index inventory_pool on inventory (pool_id);
-- the books live in the pool now (their checks go with the columns)
alter table inventory drop column total_stock, drop column available, drop column held, drop column sold,
    drop column seated, drop column imported_sold;

-- seats belong to a pool: every offer attached to it sells them
alter table seats add column pool_id text;
update seats s set pool_id = i.pool_id from inventory i
where (i.offer_id, i.representation_id) = (s.offer_id, s.representation_id);
alter table seats alter column pool_id set not null;
create index seats_pool on seats (pool_id);

-- reservations: the pool each row draws from (set from its item when stored), and orders
alter table reservations add column pool_id text;
update reservations r set pool_id = i.pool_id from inventory i
where (i.offer_id, i.representation_id) = (r.offer_id, r.representation_id);
alter table reservations alter column pool_id set not null;
-- a row draws from its item's pool, judged by the database: the foreign key takes the item's pool
-- too, so a request stored while its item moves to another pool either lands in the new pool or
-- is refused (the move locks the item's row as a key update and waits for the inserts under way);
-- a move carries the item's past rows along
create unique index inventory_item_pool on inventory (offer_id, representation_id, pool_id);
alter table reservations drop constraint reservations_offer_id_representation_id_fkey;
alter table reservations add constraint reservations_item_pool
    foreign key (offer_id, representation_id, pool_id) references inventory (offer_id, representation_id, pool_id)
    on update cascade;
alter table reservations add column order_id uuid;
alter table reservations add column line_no smallint;
-- a rejected order: the first line that did not fit at its turn
alter table reservations add column rejected_line smallint;
alter table reservations add constraint reservations_order_lines
    check ((order_id is null) = (line_no is null) and (line_no is null or line_no between 0 and 99));
alter table reservations add constraint reservations_order_first_line
    check (order_id is null or (line_no = 0) = (id = order_id));

-- the queue: pending requests of a pool in arrival order
drop index reservations_pending;
create index reservations_pending on reservations (pool_id, seq) where status = 'pending';
-- expiry: open holds of a pool by the time they end
drop index reservations_open_holds;
create index reservations_open_holds on reservations (pool_id, hold_expires_at) where status = 'held';
create index reservations_order on reservations (order_id) where order_id is not null;

-- the most tickets one order may hold over all its lines
alter table events add column max_tickets_per_order integer not null default 10
    constraint events_max_tickets_range check (max_tickets_per_order between 1 and 1000);
