//! An event's figures, per representation and offer, in one query.

use crate::domain::records::{PoolReport, ReportLine};
use sqlx::PgConnection;

pub async fn lines(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<Vec<ReportLine>> {
    sqlx::query_as(
        "select i.representation_id, rp.starts_at, i.offer_id, o.name as offer_name, o.currency::text as currency,
                p.id as pool_id, p.total_stock as total, p.available + h.lapsed as available, p.held - h.lapsed as held,
                s.sold, s.sold::bigint * coalesce(o.price_minor, 0) as revenue_minor,
                f.refunded, f.refunded_minor,
                x.expired + x.lapsed_count as holds_expired,
                w.joined as waitlist_joined, w.offered as waitlist_offered, w.converted as waitlist_converted,
                w.declined as waitlist_declined, w.expired as waitlist_expired, w.left_ as waitlist_left,
                w.waiting as waitlist_waiting, w.median_secs as median_offer_to_conversion_secs
         from inventory i
         join pools p on p.id = i.pool_id
         join offers o on o.id = i.offer_id
         join representations rp on rp.id = i.representation_id
         -- the pool's lapsed holds count as available at once
         cross join lateral (
             select coalesce(sum(r.quantity), 0)::int as lapsed
             from reservations r
             where r.pool_id = p.id and r.status = 'held' and r.hold_expires_at <= now()
         ) h
         -- the item's own holds that ended by expiry (an order's lines count once, as its first line)
         cross join lateral (
             select count(*) filter (where r.status = 'held' and r.hold_expires_at <= now()) as lapsed_count,
                    count(*) filter (where r.status = 'expired') as expired
             from reservations r
             where r.offer_id = i.offer_id and r.representation_id = i.representation_id
               and r.status in ('held', 'expired') and (r.line_no is null or r.line_no = 0)
         ) x
         -- units of this item sold: its pool's, when it is alone in it; else counted from its
         -- paid lines, less the tickets voided one by one
         cross join lateral (
             select case when (select count(*) from inventory o where o.pool_id = p.id) = 1 then p.sold
                    else (coalesce(sum(r.quantity), 0)
                          - coalesce((select sum(rf.units) from refunds rf join reservations v on v.id = rf.reservation_id
                                      where rf.ticket_code is not null and v.status in ('confirmed', 'fulfilled')
                                        and rf.offer_id = i.offer_id and rf.representation_id = i.representation_id), 0)
                         )::int end as sold
             from reservations r
             where r.offer_id = i.offer_id and r.representation_id = i.representation_id
               and r.status in ('confirmed', 'fulfilled')
         ) s
         cross join lateral (
             select coalesce(sum(units), 0)::bigint as refunded, coalesce(sum(amount_minor), 0)::bigint as refunded_minor
             from refunds rf where rf.offer_id = i.offer_id and rf.representation_id = i.representation_id
         ) f
         cross join lateral (
             select count(*) as joined,
                    count(*) filter (where e.offered_at is not null) as offered,
                    count(*) filter (where e.status = 'converted') as converted,
                    count(*) filter (where e.status = 'declined') as declined,
                    count(*) filter (where e.status = 'expired') as expired,
                    count(*) filter (where e.status = 'left') as left_,
                    count(*) filter (where e.status = 'waiting') as waiting,
                    percentile_cont(0.5) within group (order by extract(epoch from e.ended_at - e.offered_at))
                        filter (where e.status = 'converted') as median_secs
             from waitlist_entries e
             where e.offer_id = i.offer_id and e.representation_id = i.representation_id
         ) w
         where i.event_id = $1
         order by rp.starts_at, rp.id, o.id",
    )
    .bind(event_id)
    .fetch_all(conn)
    .await
}

/// The event's pools: their books (holds past their time count as available, as everywhere a
/// reader sees them), and the offers selling each.
pub async fn pools(conn: &mut PgConnection, event_id: &str) -> sqlx::Result<Vec<PoolReport>> {
    sqlx::query_as(
        "select p.id as pool_id, p.representation_id, rp.starts_at, p.name, p.seated, p.total_stock as total,
                p.available + h.lapsed as available, p.held - h.lapsed as held, p.sold,
                array(select i.offer_id from inventory i where i.pool_id = p.id order by i.offer_id) as offers
         from pools p
         join representations rp on rp.id = p.representation_id
         cross join lateral (
             select coalesce(sum(r.quantity), 0)::int as lapsed from reservations r
             where r.pool_id = p.id and r.status = 'held' and r.hold_expires_at <= now()
         ) h
         where p.event_id = $1 and exists (select 1 from inventory i where i.pool_id = p.id)
         order by rp.starts_at, rp.id, p.name, p.id",
    )
    .bind(event_id)
    .fetch_all(conn)
    .await
}
