-- Waiting-list ranks that do not count the line.
--
-- Each entry gets its line number when it joins (1, 2, 3... per list, in join order), and the
-- item keeps how many joined and how many are still on the list (waiting or offered). A person's
-- rank is their line number minus the people ahead of them who have left the list since: a count
-- kept as a Fenwick tree over line numbers (`waitlist_departures`), so reading it touches at most
-- 24 rows however long the line, and recording a departure touches at most 24 more. Every writer
-- of an item holds its lock, so the tree and the counters move with the entries, in the same
-- transaction.

-- the line numbers a list can hand out: a Fenwick tree over 1..2^24
create function waitlist_capacity() returns integer language sql immutable as 'select 16777215';

alter table inventory add column line_joined integer not null default 0
    constraint inventory_line_joined_range check (line_joined between 0 and 16777215);
alter table inventory add column line_length integer not null default 0
    constraint inventory_line_length_range check (line_length between 0 and line_joined);

alter table waitlist_entries add column line_no integer;
update waitlist_entries e set line_no = n.line_no
from (select id, row_number() over (partition by offer_id, representation_id order by seq) as line_no
      from waitlist_entries) n
where n.id = e.id;
alter table waitlist_entries alter column line_no set not null;
alter table waitlist_entries add constraint waitlist_entries_line_no_range check (line_no between 1 and 16777215);
create unique index waitlist_entries_line_no on waitlist_entries (offer_id, representation_id, line_no);
-- the line in order, for pages and promotion
drop index waitlist_entries_line;
create index waitlist_entries_line on waitlist_entries (offer_id, representation_id, line_no)
    where status in ('waiting', 'offered');

update inventory i set line_joined = c.joined, line_length = c.active
from (select offer_id, representation_id, count(*) as joined,
             count(*) filter (where status in ('waiting', 'offered')) as active
      from waitlist_entries group by offer_id, representation_id) c
where c.offer_id = i.offer_id and c.representation_id = i.representation_id;

-- node i holds how many of the line numbers (i - lowbit(i), i] have left the list
create table waitlist_departures (
    offer_id text not null,
    representation_id text not null,
    node integer not null,
    departed integer not null constraint waitlist_departures_departed_non_negative check (departed >= 0),
    primary key (offer_id, representation_id, node)
);

-- Records that these line numbers left the list of the item (and shortens it). The caller holds
-- the item's lock.
create function waitlist_depart(p_offer text, p_representation text, p_lines integer[]) returns void
language sql as $$
    with recursive up(node) as (
        select unnest(p_lines)
        union all
        select node + (node & -node) from up where node + (node & -node) <= waitlist_capacity()
    )
    insert into waitlist_departures as d (offer_id, representation_id, node, departed)
    select p_offer, p_representation, node, count(*) from up group by node
    on conflict (offer_id, representation_id, node) do update set departed = d.departed + excluded.departed;
    update inventory set line_length = line_length - cardinality(p_lines)
    where offer_id = p_offer and representation_id = p_representation and cardinality(p_lines) > 0;
$$;

-- How many of line numbers 1..p_line - 1 have left the list: the prefix sum of the tree, one
-- primary-key lookup per node (a subquery per node, which no plan can turn into a walk over all
-- of the item's departures, whatever the statistics say about a list that grew within the minute).
create function waitlist_departed_before(p_offer text, p_representation text, p_line integer) returns bigint
language sql stable as $$
    with recursive down(node) as (
        select p_line - 1 where p_line > 1
        union all
        select node - (node & -node) from down where node - (node & -node) > 0
    )
    select coalesce(sum((select d.departed from waitlist_departures d
                         where d.offer_id = p_offer and d.representation_id = p_representation
                           and d.node = down.node)), 0)
    from down
$$;

-- the entries that ended before this migration
select waitlist_depart(offer_id, representation_id, array_agg(line_no))
from waitlist_entries where status not in ('waiting', 'offered')
group by offer_id, representation_id;
-- waitlist_depart shortened the lines once more: put the lengths back
update inventory i set line_length = c.active
from (select offer_id, representation_id, count(*) filter (where status in ('waiting', 'offered')) as active
      from waitlist_entries group by offer_id, representation_id) c
where c.offer_id = i.offer_id and c.representation_id = i.representation_id;
