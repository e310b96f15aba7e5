-- Hardening: bounds that keep every figure computable, what an import may change, retries of
-- issuance that ran out of attempts, and client keys that belong to an organization.

-- Money and stock are bounded so that sold x price always fits a bigint (10^6 x 10^12 = 10^18).
-- `not valid`: rows from before are not rechecked, every new or changed row is.
alter table offers add constraint offers_price_bounded check (price_minor <= 1000000000000) not valid;
alter table inventory add constraint inventory_total_bounded check (total_stock <= 1000000) not valid;

-- Units sold outside boxoffice, as the last import said (its total_stock - available_stock). A
-- re-import moves `sold` by the change of this figure only, so sales and holds made through the
-- API are never overwritten.
alter table inventory add column imported_sold integer not null default 0
    constraint inventory_imported_sold_non_negative check (imported_sold >= 0);
update inventory i set imported_sold = greatest(i.sold - coalesce((
    select sum(r.quantity) from reservations r
    where r.offer_id = i.offer_id and r.representation_id = i.representation_id
      and r.status in ('confirmed', 'fulfilled')), 0), 0);

-- A confirmed reservation whose issuance job ran out of attempts is put back by the scheduler,
-- with a backoff of its own: how many times, and not before when.
alter table reservations add column issuance_requeues integer not null default 0;
alter table reservations add column issuance_requeue_at timestamptz;
create index reservations_confirmed on reservations (confirmed_at) where status = 'confirmed';

-- Client keys may belong to an organization too: such a key acts only on its events.
alter table api_keys drop constraint api_keys_organizer_has_organization;
alter table api_keys add constraint api_keys_organizer_has_organization
    check (role <> 'organizer' or organization_id is not null);
alter table api_keys add constraint api_keys_admin_has_no_organization
    check (role <> 'admin' or organization_id is null);

-- The organization whose client key registered a buyer (null: an unscoped key or an import):
-- other organizations' scoped keys do not read them.
alter table users add column organization_id text;
