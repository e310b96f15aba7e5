-- The catalog: events, their performances (representations), ticket types (offers), stock per
-- (offer, representation), seats, buyers and API keys.
--
-- Conventions: lowercase SQL; ids are text so imported ids (`ev_001`) are kept as they are and
-- ids we create are UUIDs in text form; every invariant the product promises is a constraint
-- here, named so the code can map a violation to a client error; never edit an applied
-- migration, add a new one.

create extension if not exists cube;
create extension if not exists earthdistance;

create table events (
    id text primary key,
    organization_id text not null,
    title text not null constraint events_title_present check (length(btrim(title)) > 0),
    description text not null default '',
    thumbnail_url text,
    venue_name text not null,
    venue_address text not null default '',
    venue_latitude double precision
        constraint events_latitude_range check (venue_latitude between -90 and 90),
    venue_longitude double precision
        constraint events_longitude_range check (venue_longitude between -180 and 180),
    timezone text not null default 'UTC',
    -- how long a reservation is held for payment, unless the request asks otherwise
    hold_minutes integer not null default 10
        constraint events_hold_minutes_range check (hold_minutes between 1 and 20),
    -- how long a waiting-list offer is held for the person it was offered to
    waitlist_offer_minutes integer not null default 30
        constraint events_waitlist_offer_minutes_range check (waitlist_offer_minutes between 1 and 1440),
    sales_open boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint events_location_complete check ((venue_latitude is null) = (venue_longitude is null))
);

create index events_organization on events (organization_id);
-- search by distance: earth_box(...) @> ll_to_earth(...) uses this index
create index events_location on events using gist (ll_to_earth(venue_latitude, venue_longitude))
    where venue_latitude is not null;

create table representations (
    id text primary key,
    event_id text not null references events (id) on delete cascade,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    created_at timestamptz not null default now(),
    constraint representations_ends_after_start check (ends_at > starts_at),
    -- lets inventory prove its offer and representation belong to one event
    constraint representations_id_event unique (id, event_id)
);

create index representations_event_start on representations (event_id, starts_at);

create table offers (
    id text primary key,
    event_id text not null references events (id) on delete cascade,
    name text not null constraint offers_name_present check (length(btrim(name)) > 0),
    description text not null default '',
    kind text not null default 'ticket',
    -- minor units (cents); null for offers imported without a price
    price_minor bigint constraint offers_price_positive check (price_minor > 0),
    currency char(3) not null default 'EUR' constraint offers_currency_upper check (currency = upper(currency)),
    max_quantity_per_order integer not null default 10
        constraint offers_max_quantity_range check (max_quantity_per_order between 1 and 100),
    created_at timestamptz not null default now(),
    constraint offers_id_event unique (id, event_id)
);

create index offers_event on offers (event_id);

-- Stock per (offer, representation). The database keeps the books: every unit is exactly one of
-- available, held or sold, at every instant, and none is negative.
create table inventory (
    offer_id text not null,
    representation_id text not null,
    event_id text not null,
    total_stock integer not null,
    available integer not null,
    held integer not null default 0,
    sold integer not null default 0,
    -- seated stock is its seats: total_stock follows the seats added, it is never set by hand
    seated boolean not null default false,
    updated_at timestamptz not null default now(),
    primary key (offer_id, representation_id),
    foreign key (offer_id, event_id) references offers (id, event_id) on delete cascade,
    foreign key (representation_id, event_id) references representations (id, event_id) on delete cascade,
    constraint inventory_counts_non_negative check (available >= 0 and held >= 0 and sold >= 0),
    constraint inventory_books_balance check (total_stock = available + held + sold)
);

create index inventory_representation on inventory (representation_id);

create table seats (
    id uuid primary key default gen_random_uuid(),
    representation_id text not null,
    offer_id text not null,
    -- normalized on the way in: trimmed, upper-cased
    label text not null constraint seats_label_normalized check (label = upper(btrim(label)) and label <> ''),
    foreign key (offer_id, representation_id) references inventory (offer_id, representation_id) on delete cascade,
    constraint seats_label_unique unique (representation_id, label)
);

create table users (
    id text primary key,
    first_name text not null default '',
    last_name text not null default '',
    email text not null constraint users_email_normalized check (email = lower(btrim(email)) and email like '%_@_%'),
    phone text,
    latitude double precision constraint users_latitude_range check (latitude between -90 and 90),
    longitude double precision constraint users_longitude_range check (longitude between -180 and 180),
    created_at timestamptz not null default now(),
    constraint users_email_unique unique (email),
    constraint users_location_complete check ((latitude is null) = (longitude is null))
);

create table api_keys (
    id uuid primary key default gen_random_uuid(),
    -- sha-256 of the key: keys are 256 random bits, so a fast hash is enough and the key itself
    -- is never stored
    key_hash bytea not null constraint api_keys_hash_unique unique,
    role text not null constraint api_keys_role_known check (role in ('admin', 'organizer', 'client')),
    organization_id text,
    created_at timestamptz not null default now(),
    revoked_at timestamptz,
    constraint api_keys_organizer_has_organization check (role <> 'organizer' or organization_id is not null)
);
