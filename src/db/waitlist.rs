//! Waiting-list entries. Each has its line number (join order within its list); a position is the
//! exact rank among the active entries (waiting or offered): the line number minus the people
//! ahead who have left, read from a Fenwick tree the writers keep (see migration 0008), so no
//! lookup counts the line. Every function that ends entries records their departure in the same
//! statement; the caller holds the item's lock.
//!
//! Lookups by user go through the user's own entries (`offset 0` keeps the planner there): with a
//! list that grew within the minute, its statistics still say the item has a handful of entries,
//! and it would rather walk the whole line by the line index than use the user's.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::EntryStatus;
use crate::domain::records::WaitlistEntry;

/// Columns of [`WaitlistEntry`] for an entry `e`.
macro_rules! entry_columns {
    () => {
        "e.id, e.user_id, e.offer_id, e.representation_id, e.requested_quantity, e.status, e.reservation_id,
         e.created_at, e.offered_at, e.ended_at,
         case when e.status in ('waiting', 'offered') then
             e.line_no - waitlist_departed_before(e.offer_id, e.representation_id, e.line_no)
         end as position,
         (select r.hold_expires_at from reservations r where r.id = e.reservation_id and e.status = 'offered') as offer_expires_at"
    };
}

/// The line numbers a list can hand out (see migration 0008).
pub const CAPACITY: i32 = 16_777_215;

/// Someone joining, in arrival order.
#[derive(Debug, Clone)]
pub struct Joining {
    pub id: Uuid,
    pub user_id: String,
    pub quantity: i32,
}

/// Appends people to the end of the line, in the order given, after the `joined` already there:
/// their line numbers are `joined + 1...`, and the item's counters move with them. Returns the
/// entries as stored (their positions are the caller's to compute: they are last).
pub async fn append(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    joined: i32,
    people: &[Joining],
) -> sqlx::Result<Vec<WaitlistEntry>> {
    let ids: Vec<Uuid> = people.iter().map(|p| p.id).collect();
    let users: Vec<&str> = people.iter().map(|p| p.user_id.as_str()).collect();
    let quantities: Vec<i32> = people.iter().map(|p| p.quantity).collect();
    let rows = sqlx::query_as(
        "with added as (
             insert into waitlist_entries (id, user_id, offer_id, representation_id, requested_quantity, line_no)
             select t.id, t.user_id, $1, $2, t.quantity, $3 + t.n::int
             from unnest($4::uuid[], $5::text[], $6::int[]) with ordinality as t(id, user_id, quantity, n)
             returning *
         ), counted as (
             update inventory set line_joined = line_joined + $7, line_length = line_length + $7
             where offer_id = $1 and representation_id = $2
         )
         select e.id, e.user_id, e.offer_id, e.representation_id, e.requested_quantity, e.status, e.reservation_id,
                e.created_at, e.offered_at, e.ended_at, null::int8 as position, null::timestamptz as offer_expires_at
         from added e order by e.line_no",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(joined)
    .bind(&ids)
    .bind(&users)
    .bind(&quantities)
    .bind(people.len() as i32)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}

/// The active entries of these users on the list, with their ranks.
pub async fn active_of_users(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    user_ids: &[String],
) -> sqlx::Result<Vec<WaitlistEntry>> {
    sqlx::query_as(concat!(
        "select ",
        entry_columns!(),
        " from (select * from waitlist_entries where user_id = any($3) offset 0) e
         where e.offer_id = $1 and e.representation_id = $2 and e.status in ('waiting', 'offered')"
    ))
    .bind(offer_id)
    .bind(representation_id)
    .bind(user_ids)
    .fetch_all(conn)
    .await
}

/// The user's active entry on the list, with its rank.
pub async fn active_of_user(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    user_id: &str,
) -> sqlx::Result<Option<WaitlistEntry>> {
    let mut rows = active_of_users(conn, offer_id, representation_id, &[user_id.to_string()]).await?;
    Ok(rows.pop())
}

/// A page of the line, with ranks: the line in order, so the `offset + i + 1`-th active entry has
/// rank `offset + i + 1`.
pub async fn page(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<WaitlistEntry>> {
    sqlx::query_as(
        "select e.id, e.user_id, e.offer_id, e.representation_id, e.requested_quantity, e.status, e.reservation_id,
                e.created_at, e.offered_at, e.ended_at,
                $4 + row_number() over (order by e.line_no) as position,
                (select r.hold_expires_at from reservations r where r.id = e.reservation_id and e.status = 'offered')
                    as offer_expires_at
         from (select * from waitlist_entries
               where offer_id = $1 and representation_id = $2 and status in ('waiting', 'offered')
               order by line_no limit $3 offset $4) e
         order by e.line_no",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await
}

/// How many are on the list (waiting or offered), as the item keeps it; 0 for an item without stock.
pub async fn length(conn: &mut PgConnection, offer_id: &str, representation_id: &str) -> sqlx::Result<i64> {
    let length: Option<i32> =
        sqlx::query_scalar("select line_length from inventory where offer_id = $1 and representation_id = $2")
            .bind(offer_id)
            .bind(representation_id)
            .fetch_optional(conn)
            .await?;
    Ok(i64::from(length.unwrap_or(0)))
}

/// Every entry of a user, newest first, of one organization's events or all.
pub async fn of_user(
    conn: &mut PgConnection,
    user_id: &str,
    organization: Option<&str>,
) -> sqlx::Result<Vec<WaitlistEntry>> {
    sqlx::query_as(concat!(
        "select ",
        entry_columns!(),
        " from waitlist_entries e where e.user_id = $1
           and ($2::text is null or e.offer_id in
                (select o.id from offers o join events ev on ev.id = o.event_id where ev.organization_id = $2))
         order by e.created_at desc, e.seq desc"
    ))
    .bind(user_id)
    .bind(organization)
    .fetch_all(conn)
    .await
}

/// Takes these users off the list where they are waiting (not offered): `left`. Returns the users
/// who were.
pub async fn leave_waiting(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    user_ids: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "with gone as (
             update waitlist_entries set status = 'left', ended_at = clock_timestamp()
             where id in (select id from (select id, offer_id, representation_id, status from waitlist_entries
                                          where user_id = any($3) offset 0) mine
                          where offer_id = $1 and representation_id = $2 and status = 'waiting')
             returning user_id, line_no
         ), departed as (
             select waitlist_depart($1, $2, array(select line_no from gone))
         )
         select user_id from gone, departed",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(user_ids)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Waiting {
    pub id: Uuid,
    /// Join order, across lists.
    pub seq: i64,
    pub user_id: String,
    pub offer_id: String,
    pub representation_id: String,
    pub requested_quantity: i32,
}

/// The people waiting (not yet offered) on the lists of the pool's items who joined after `after`
/// (a join `seq`) and whose quantity is at most `fits`, in the order they joined across those
/// lists: those further back are reached too, however many ahead of them want more.
pub async fn waiting_who_fit(
    conn: &mut PgConnection,
    pool_id: &str,
    fits: i32,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<Waiting>> {
    sqlx::query_as(
        "select w.id, w.seq, w.user_id, w.offer_id, w.representation_id, w.requested_quantity
         from inventory i
         join waitlist_entries w on (w.offer_id, w.representation_id) = (i.offer_id, i.representation_id)
         where i.pool_id = $1 and w.status = 'waiting' and w.requested_quantity <= $2 and w.seq > $3
         order by w.seq limit $4",
    )
    .bind(pool_id)
    .bind(fits)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Marks entries offered, each with its hold.
pub async fn mark_offered(conn: &mut PgConnection, entries: &[Uuid], reservations: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query(
        "update waitlist_entries e set status = 'offered', offered_at = clock_timestamp(), reservation_id = o.reservation_id
         from unnest($1::uuid[], $2::uuid[]) as o(entry_id, reservation_id)
         where e.id = o.entry_id and e.status = 'waiting'",
    )
    .bind(entries)
    .bind(reservations)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the open offers made through these holds: `converted`, `expired` or `declined`; the people
/// leave their lines.
pub async fn end_offers(conn: &mut PgConnection, reservations: &[Uuid], status: EntryStatus) -> sqlx::Result<u64> {
    if reservations.is_empty() {
        return Ok(0);
    }
    let ended: Vec<(String, String, i32)> = sqlx::query_as(
        "update waitlist_entries set status = $2, ended_at = clock_timestamp()
         where reservation_id = any($1) and status = 'offered'
         returning offer_id, representation_id, line_no",
    )
    .bind(reservations)
    .bind(status)
    .fetch_all(&mut *conn)
    .await?;
    let mut lists: std::collections::BTreeMap<(&str, &str), Vec<i32>> = Default::default();
    for (offer_id, representation_id, line) in &ended {
        lists.entry((offer_id, representation_id)).or_default().push(*line);
    }
    for ((offer_id, representation_id), lines) in lists {
        depart(conn, offer_id, representation_id, &lines).await?;
    }
    Ok(ended.len() as u64)
}

/// Records that these line numbers left the item's list.
async fn depart(conn: &mut PgConnection, offer_id: &str, representation_id: &str, lines: &[i32]) -> sqlx::Result<()> {
    sqlx::query("select waitlist_depart($1, $2, $3)")
        .bind(offer_id)
        .bind(representation_id)
        .bind(lines)
        .execute(conn)
        .await?;
    Ok(())
}

/// Pools on sale where someone waiting fits in the available stock: what promotion missed (a
/// reopened sale, a crash between freeing and offering).
pub async fn pools_to_promote(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select distinct p.id
         from inventory i
         join pools p on p.id = i.pool_id
         join events e on e.id = i.event_id
         join representations rp on rp.id = i.representation_id
         where p.available > 0 and i.line_length > 0 and not p.seated and e.sales_open and rp.ends_at > now()
           and exists (select 1 from waitlist_entries w
                       where w.offer_id = i.offer_id and w.representation_id = i.representation_id
                         and w.status = 'waiting' and w.requested_quantity <= p.available)
         limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Where a user stands on a list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Standing {
    pub user_id: String,
    pub user_exists: bool,
    /// Rank, while on the list.
    pub position: Option<i64>,
    pub requested_quantity: Option<i32>,
}

/// Where each of these users stands on the list: their entries, then the nodes of the departures
/// tree their ranks need, all of them in one read (users of one batch share most nodes).
pub async fn standings(
    conn: &mut PgConnection,
    offer_id: &str,
    representation_id: &str,
    user_ids: &[String],
) -> sqlx::Result<Vec<Standing>> {
    let entries: Vec<(String, bool, Option<i32>, Option<i32>)> = sqlx::query_as(
        "select u.user_id, exists (select 1 from users where id = u.user_id), e.line_no, e.requested_quantity
         from unnest($3::text[]) as u(user_id)
         left join lateral (
             select mine.line_no, mine.requested_quantity
             from (select line_no, requested_quantity, offer_id, representation_id, status from waitlist_entries w
                   where w.user_id = u.user_id offset 0) mine
             where mine.offer_id = $1 and mine.representation_id = $2 and mine.status in ('waiting', 'offered')
         ) e on true",
    )
    .bind(offer_id)
    .bind(representation_id)
    .bind(user_ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut nodes: Vec<i32> = entries.iter().filter_map(|e| e.2).flat_map(|line| prefix_nodes(line - 1)).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let departed: std::collections::HashMap<i32, i64> = if nodes.is_empty() {
        Default::default()
    } else {
        // a lookup per node (a scalar subquery cannot become a walk of the item's whole tree)
        sqlx::query_as::<_, (i32, i32)>(
            "select n.node, coalesce((select d.departed from waitlist_departures d
                                      where d.offer_id = $1 and d.representation_id = $2 and d.node = n.node), 0)
             from unnest($3::int[]) as n(node)",
        )
        .bind(offer_id)
        .bind(representation_id)
        .bind(&nodes)
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(|(node, n)| (node, i64::from(n)))
        .collect()
    };
    Ok(entries
        .into_iter()
        .map(|(user_id, user_exists, line_no, requested_quantity)| {
            let position = line_no.map(|line| {
                let ahead_left: i64 = prefix_nodes(line - 1).map(|n| departed.get(&n).copied().unwrap_or(0)).sum();
                i64::from(line) - ahead_left
            });
            Standing { user_id, user_exists, position, requested_quantity }
        })
        .collect())
}

/// The nodes of the departures tree whose sum counts line numbers 1..=`line` (a Fenwick prefix).
fn prefix_nodes(line: i32) -> impl Iterator<Item = i32> {
    std::iter::successors(Some(line).filter(|l| *l > 0), |&i| Some(i - (i & -i)).filter(|n| *n > 0))
}

#[cfg(test)]
mod tests {
    use super::prefix_nodes;

    #[test]
    fn prefix_nodes_cover_each_line_number_once() {
        // node i covers (i - lowbit(i), i]: the prefix nodes of k cover 1..=k exactly once
        for k in 0..300 {
            let mut covered = vec![0; k as usize + 1];
            for node in prefix_nodes(k) {
                for line in (node - (node & -node) + 1)..=node {
                    covered[line as usize] += 1;
                }
            }
            assert!(covered[1..].iter().all(|&c| c == 1), "{k}");
        }
        assert_eq!(prefix_nodes(13).collect::<Vec<_>>(), [13, 12, 8]);
    }
}
