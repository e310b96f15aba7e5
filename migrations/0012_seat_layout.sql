-- A hall with a shape, and reservations that ask for the best seats instead of naming them.
--
-- A seat may have a place: a section (optional), a row and a number. Seats whose numbers are
-- consecutive in one row (and one section) are adjacent; an aisle or a gap is a number left out.
-- Section and row names are normalized like labels (trimmed, upper-cased).
--
-- The order of preference: a seat's `rank` when the organizer set one (lower is better, seats
-- without one after those with one); then sections in the order they were added, rows in the
-- order they were added (front to back), and within a row the seats closest to its middle.
-- `position` is that order of arrival within the representation.

alter table seats
    add column section text
        constraint seats_section_normalized check (section = upper(btrim(section)) and section <> ''),
    add column row_label text
        constraint seats_row_normalized check (row_label = upper(btrim(row_label)) and row_label <> ''),
    add column number integer constraint seats_number_range check (number between 1 and 99999),
    add column rank integer constraint seats_rank_range check (rank between 0 and 1000000000),
    add column position integer not null default 0,
    add constraint seats_place_complete check ((row_label is null) = (number is null)),
    add constraint seats_section_has_row check (section is null or row_label is not null);

-- one seat per place: overlapping seat numbers in a row are refused
create unique index seats_place_unique on seats (representation_id, coalesce(section, ''), row_label, number)
    where row_label is not null;
-- the worker reads an item's hall at once
create index seats_item on seats (offer_id, representation_id);

-- seats added before places existed: their order of arrival is their label order; a label of
-- letters then a number (`C5`, no leading zero) is row C, seat 5, as people read it; other labels
-- have no place (adjacent to nothing)
with ordered as (
    select id, row_number() over (partition by representation_id order by label) as n,
           regexp_match(label, '^([A-Z]{1,8})([1-9][0-9]{0,4})$') as m
    from seats
)
update seats s
set position = o.n, row_label = o.m[1], number = o.m[2]::int
from ordered o
where s.id = o.id;

-- best available: the worker picks the seats at the request's turn and writes their labels
alter table reservations
    add column best_available boolean not null default false,
    -- only seats of this section (normalized), when given
    add column best_section text,
    -- false: seats close to each other will do when no adjacent block is free
    add column best_together boolean not null default true,
    add constraint reservations_best_section_only_for_best check (best_available or best_section is null);
