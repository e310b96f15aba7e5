//! The reservation worker's decision: a pool's pending requests, in arrival order, many per
//! transaction under the pool's lock. Each is granted if it still fits at its turn; an order of
//! several lines only if every line fits, all or nothing.
//!
//! Arrival order per pool: no request takes units of a pool while an earlier request touching
//! that pool is undecided. An order that spans pools is decided once all its pools are locked and
//! each one's earlier requests are decided ("caught up"). Pools are locked in ascending id order
//! with waiting; a pool below one already held is only tried (`skip locked`): if another worker
//! has it, this run commits what it decided and its next batch locks that pool too, all in
//! ascending order. So runs never wait for each other in a circle, and the queue always moves.
//! The pending requests of every pool a run holds are read as one stream in arrival order.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sqlx::{PgConnection, PgPool};
use tracing::instrument;
use uuid::Uuid;

use super::halls::{self, Halls};
use super::stock;
use crate::db::pools::PoolState;
use crate::db::{self, allocation::Decisions, allocation::Pending};
use crate::domain::hall::{BestAvailable, Hall};
use crate::domain::job::ExpireHolds;
use crate::domain::{RejectionReason, ReservationStatus};

/// Rows decided per transaction at most: bounds the lock time and the statement sizes.
const BATCH: i64 = 2000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub held: usize,
    pub rejected: usize,
    /// Holds found past their time and ended on the way.
    pub expired: usize,
}

/// Decides every pending request of the item's pool. Safe to run any number of times,
/// concurrently: runs serialize on the pool's lock and find nothing left to do.
pub async fn allocate_item(pool: &PgPool, offer_id: &str, representation_id: &str) -> sqlx::Result<Outcome> {
    allocate_item_with(pool, Halls::of_this_process(), offer_id, representation_id).await
}

/// [`allocate_item`] with the halls of a given worker (a test plays two workers in one process).
#[instrument(skip_all, fields(offer.id = %offer_id, representation.id = %representation_id))]
pub async fn allocate_item_with(
    pool: &PgPool,
    halls: &Halls,
    offer_id: &str,
    representation_id: &str,
) -> sqlx::Result<Outcome> {
    let item = db::pools::of_item_seated(&mut *pool.acquire().await?, offer_id, representation_id).await?;
    let Some((pool_id, seated)) = item else {
        return Ok(Outcome::default());
    };
    if seated && halls.is_cold(&pool_id) {
        // a hall this worker has no copy of is read before the pool's lock is taken: two cold
        // workers read at once rather than one after the other, each holding the lock
        halls::warm(halls, pool, &pool_id).await?;
    }
    allocate_pool(pool, halls, &pool_id).await
}

/// Decides every pending request of the pool (see [`allocate_item`]). A run that meets an order
/// needing a pool below those it holds, busy with another run, commits what it decided and goes
/// on holding that pool too, all locked in ascending order: no circle of waits, and no hand-off
/// of tiny batches between two runs.
pub async fn allocate_pool(pool: &PgPool, halls: &Halls, pool_id: &str) -> sqlx::Result<Outcome> {
    let mut total = Outcome::default();
    let mut homes = vec![pool_id.to_string()];
    loop {
        let (outcome, next) = allocate_batch(pool, halls, &homes).await?;
        total.held += outcome.held;
        total.rejected += outcome.rejected;
        total.expired += outcome.expired;
        match next {
            Next::Done => return Ok(total),
            Next::More => {}
            Next::Widen(pool_id) => {
                homes.push(pool_id);
                homes.sort();
                homes.dedup();
            }
        }
    }
}

/// What a batch leaves for the next one.
enum Next {
    /// Nothing pending in its pools (as far as it read).
    Done,
    /// It stopped at its size: go on.
    More,
    /// It stopped at an order needing this pool, held by another run: go on with it locked too.
    Widen(String),
}

async fn allocate_batch(pool: &PgPool, halls: &Halls, homes: &[String]) -> sqlx::Result<(Outcome, Next)> {
    let mut tx = pool.begin().await?;
    let locked = db::pools::lock_many(&mut tx, homes).await?;
    let Some(home) = locked.first().cloned() else {
        return Ok((Outcome::default(), Next::Done));
    };
    let home = home.as_str();
    // stock of holds past their time is available, and goes to the waiting lists first; what is
    // left after the lists is on public sale
    let settled = stock::settle(&mut tx, &locked).await?;
    let expired = settled.expired.len();
    let mut run = Run::new(settled.pools, halls);
    // the pending requests of every pool this run has locked, as one stream in arrival order: an
    // order that brings another pool in (locked and caught up to its turn) adds that pool's later
    // requests to the stream, so a run over two busy pools reads each row once
    let mut after = 0;
    let mut more = false;
    'stream: loop {
        let locked: Vec<String> = run.locked.keys().cloned().collect();
        let rows = db::allocation::pending(&mut tx, &locked, after, None, BATCH).await?;
        let page_full = rows.len() as i64 == BATCH;
        let Some(last_seq) = rows.last().map(|r| r.seq) else { break };
        for request in requests(&mut tx, rows).await? {
            if run.decided.contains(&request.key()) {
                continue;
            }
            if !Box::pin(run.decide_in_turn(&mut tx, &request, home)).await? {
                break 'stream;
            }
            // every locked pool is decided up to this request's last line
            after = after.max(request.lines.iter().map(|l| l.seq).max().unwrap_or_else(|| request.seq()));
            for pool_id in run.locked.keys() {
                let cursor = run.cursor.entry(pool_id.clone()).or_default();
                *cursor = (*cursor).max(after);
            }
            if run.created.len() as i64 >= BATCH {
                more = true;
                break 'stream;
            }
            if run.locked.len() != locked.len() {
                // a pool joined: read on with its requests in the stream
                continue 'stream;
            }
        }
        if !page_full {
            break;
        }
        after = after.max(last_seq);
    }
    let next = match (run.wanted.take(), more) {
        (Some(wanted), _) => Next::Widen(wanted),
        (None, true) => Next::More,
        (None, false) => Next::Done,
    };
    if run.decisions.is_empty() {
        tx.commit().await?;
        run.keep_halls();
        return Ok((Outcome { expired, ..Outcome::default() }, next));
    }
    for (pool_id, seats_version) in db::allocation::apply(&mut tx, &run.decisions).await? {
        if let Some(books) = run.locked.get_mut(&pool_id) {
            books.seats_version = seats_version;
        }
    }
    let held: Vec<Uuid> = (run.decisions.ids.iter().zip(&run.decisions.statuses))
        .filter(|(_, s)| **s == ReservationStatus::Held)
        .map(|(id, _)| *id)
        .collect();
    for (offer_id, representation_id, due_at) in db::allocation::hold_ends(&mut tx, &held).await? {
        db::jobs::enqueue(&mut tx, &ExpireHolds { offer_id, representation_id, due_at }, Some(due_at)).await?;
    }
    tx.commit().await?;
    run.keep_halls();
    let outcome = Outcome { held: run.held, rejected: run.rejected, expired };
    let now = chrono::Utc::now();
    for created_at in &run.created {
        metrics::histogram!("reservation_decision_seconds").record(crate::observe::seconds_since(*created_at, now));
    }
    metrics::counter!("reservations_total", "outcome" => "held").increment(outcome.held as u64);
    metrics::counter!("reservations_total", "outcome" => "rejected").increment(outcome.rejected as u64);
    metrics::histogram!("allocation_batch_decisions").record(run.created.len() as f64);
    Ok((outcome, next))
}

/// A pending request: a reservation of one line, or every line of an order, in line order.
#[derive(Debug, Clone)]
struct Request {
    lines: Vec<Pending>,
}

impl Request {
    /// The reservation's id (an order's).
    fn key(&self) -> Uuid {
        self.lines[0].order_id.unwrap_or(self.lines[0].id)
    }

    /// Its place in arrival order: its first line's.
    fn seq(&self) -> i64 {
        self.lines[0].seq
    }

    fn pools(&self) -> BTreeSet<&str> {
        self.lines.iter().map(|l| l.pool_id.as_str()).collect()
    }
}

/// The requests of pending rows, in arrival order, with every line of the orders among them.
async fn requests(conn: &mut PgConnection, rows: Vec<Pending>) -> sqlx::Result<Vec<Request>> {
    let orders: Vec<Uuid> = rows.iter().filter_map(|r| r.order_id).collect();
    let mut lines: HashMap<Uuid, Vec<Pending>> = HashMap::new();
    if !orders.is_empty() {
        for line in db::allocation::order_lines(conn, &orders).await? {
            lines.entry(line.order_id.expect("an order's line")).or_default().push(line);
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        match row.order_id {
            None => out.push(Request { lines: vec![row] }),
            Some(order) if seen.insert(order) => {
                // an order whose lines are not all pending any more was decided meanwhile
                if let Some(lines) = lines.remove(&order).filter(|l| l.first().is_some_and(|l| l.line_no == Some(0))) {
                    out.push(Request { lines });
                }
            }
            Some(_) => {}
        }
    }
    out.sort_by_key(Request::seq);
    Ok(out)
}

/// A pool locked by this run: its state, what is left of it at this turn, its seats once needed
/// (with the pool's versions they reflect, see [`halls`]).
struct Books {
    state: PoolState,
    available: i32,
    hall: Option<Hall>,
    /// The pool's slot in this worker's halls, held from the hall's check-out to its check-in.
    lease: Option<halls::Lease>,
    instance: Uuid,
    layout_version: i64,
    seats_version: i64,
}

impl Books {
    fn new(state: PoolState) -> Books {
        Books {
            available: state.available,
            state,
            hall: None,
            lease: None,
            instance: Uuid::nil(),
            layout_version: 0,
            seats_version: 0,
        }
    }
}

/// One transaction's decisions over the pools it has locked.
struct Run<'h> {
    /// This worker's copies of the halls.
    halls: &'h Halls,
    locked: BTreeMap<String, Books>,
    /// Per pool: every pending row up to this `seq` has been decided by this run.
    cursor: HashMap<String, i64>,
    /// The requests decided (their keys), whichever pool's turn reached them.
    decided: HashSet<Uuid>,
    decisions: Decisions,
    /// A pool an order needs, below those held and busy with another run: the next batch holds it.
    wanted: Option<String>,
    created: Vec<chrono::DateTime<chrono::Utc>>,
    held: usize,
    rejected: usize,
}

impl<'h> Run<'h> {
    fn new(pools: BTreeMap<String, PoolState>, halls: &'h Halls) -> Run<'h> {
        let locked = pools.into_iter().map(|(id, state)| (id, Books::new(state))).collect();
        Run {
            halls,
            locked,
            cursor: HashMap::new(),
            decided: HashSet::new(),
            decisions: Decisions::default(),
            wanted: None,
            created: Vec::new(),
            held: 0,
            rejected: 0,
        }
    }

    /// After the commit: the halls used go back to this worker's copies, as they are now.
    fn keep_halls(&mut self) {
        for books in self.locked.values_mut() {
            if let (Some(hall), Some(lease)) = (books.hall.take(), books.lease.take()) {
                let checked = halls::Checked {
                    hall,
                    instance: books.instance,
                    layout_version: books.layout_version,
                    seats_version: books.seats_version,
                };
                lease.check_in(self.halls, checked);
            }
        }
    }

    /// Decides `request` once every pool it draws from is locked and caught up to its turn;
    /// `from` is the pool whose turn reached it (caught up already). False when a pool it needs is
    /// another worker's: this run stops there.
    async fn decide_in_turn(&mut self, tx: &mut PgConnection, request: &Request, from: &str) -> sqlx::Result<bool> {
        for pool in request.pools() {
            if self.locked.contains_key(pool) {
                continue;
            }
            let in_order = self.locked.keys().next_back().is_none_or(|last| pool > last.as_str());
            let got = if in_order { db::pools::lock(tx, pool).await? } else { db::pools::try_lock(tx, pool).await? };
            if !got {
                // stop here; the next batch takes it in order with the others
                self.wanted = Some(pool.to_string());
                return Ok(false);
            }
            let settled = stock::settle(tx, &[pool.to_string()]).await?;
            for (id, state) in settled.pools {
                self.locked.insert(id, Books::new(state));
            }
        }
        for pool in request.pools() {
            if pool != from && !Box::pin(self.catch_up(tx, pool, request.seq())).await? {
                return Ok(false);
            }
        }
        self.decide(tx, request).await?;
        for line in &request.lines {
            // every pool of the request was caught up to its turn, and its lines are decided: the
            // pool's next catch-up starts after them, not from where the outer loop began (a
            // catch-up per order of the pool would read the same rows again and again)
            let cursor = self.cursor.entry(line.pool_id.clone()).or_default();
            *cursor = (*cursor).max(line.seq);
        }
        Ok(true)
    }

    /// Decides the pool's pending requests that arrived before `before`, in order.
    async fn catch_up(&mut self, tx: &mut PgConnection, pool: &str, before: i64) -> sqlx::Result<bool> {
        loop {
            let after = self.cursor.get(pool).copied().unwrap_or(0);
            if after >= before - 1 {
                return Ok(true);
            }
            let rows = db::allocation::pending(tx, &[pool.to_string()], after, Some(before), BATCH).await?;
            let last_page = (rows.len() as i64) < BATCH;
            let last_seq = rows.last().map(|r| r.seq);
            for request in requests(tx, rows).await? {
                if !self.decided.contains(&request.key()) && !Box::pin(self.decide_in_turn(tx, &request, pool)).await? {
                    return Ok(false);
                }
            }
            let reached = if last_page { before - 1 } else { last_seq.unwrap_or(before - 1) };
            let cursor = self.cursor.entry(pool.to_string()).or_default();
            *cursor = (*cursor).max(reached);
        }
    }

    /// Decides a request whose pools are all locked and caught up: every line fits at this turn,
    /// or none is granted.
    async fn decide(&mut self, tx: &mut PgConnection, request: &Request) -> sqlx::Result<()> {
        for line in &request.lines {
            let books = self.locked.get_mut(&line.pool_id).expect("a request's pools are locked");
            let seated = line.seat_labels.is_some() || line.best_available;
            if seated && books.hall.is_none() && books.state.closed().is_none() {
                let (checked, lease) = halls::check_out(self.halls, tx, &line.pool_id).await?;
                books.lease = Some(lease);
                (books.instance, books.layout_version, books.seats_version) =
                    (checked.instance, checked.layout_version, checked.seats_version);
                books.hall = Some(checked.hall);
            }
        }
        let verdict = self.fit(request);
        self.decided.insert(request.key());
        self.created.push(request.lines[0].created_at);
        let d = &mut self.decisions;
        match verdict {
            Ok(taken) => {
                self.held += 1;
                for (line, seats) in request.lines.iter().zip(taken) {
                    *d.granted.entry(line.pool_id.clone()).or_default() += line.quantity;
                    let hall = self.locked[&line.pool_id].hall.as_ref();
                    let seat = |i: usize| hall.expect("seats come from the hall").seat(i);
                    d.seat_holds.extend(seats.iter().map(|&i| (line.id, seat(i).id, line.pool_id.clone())));
                    d.picked.push(line.best_available.then(|| seats.iter().map(|&i| seat(i).label.clone()).collect()));
                    d.ids.push(line.id);
                    d.hold_minutes.push(line.hold_minutes);
                    d.statuses.push(ReservationStatus::Held);
                    d.reasons.push(None);
                    d.rejected_lines.push(None);
                }
            }
            Err((reason, at)) => {
                self.rejected += 1;
                let order = request.lines[0].order_id.is_some();
                for line in &request.lines {
                    d.ids.push(line.id);
                    d.hold_minutes.push(line.hold_minutes);
                    d.statuses.push(ReservationStatus::Rejected);
                    d.reasons.push(Some(reason));
                    d.rejected_lines.push(order.then_some(at as i16));
                    d.picked.push(None);
                }
            }
        }
        Ok(())
    }

    /// Takes every line's units (and seats) at this turn, or gives back what it took and says why
    /// and at which line it stopped.
    fn fit(&mut self, request: &Request) -> Result<Vec<Vec<usize>>, (RejectionReason, usize)> {
        let mut taken: Vec<Vec<usize>> = Vec::new();
        let mut failed = None;
        for (at, line) in request.lines.iter().enumerate() {
            let books = self.locked.get_mut(&line.pool_id).expect("a request's pools are locked");
            match take(books, line) {
                Ok(seats) => taken.push(seats),
                Err(reason) => {
                    failed = Some((reason, at));
                    break;
                }
            }
        }
        let Some(failure) = failed else { return Ok(taken) };
        for (line, seats) in request.lines.iter().zip(&taken) {
            let books = self.locked.get_mut(&line.pool_id).expect("a request's pools are locked");
            books.available += line.quantity;
            if let Some(hall) = &mut books.hall {
                hall.give_back(seats);
            }
        }
        Err(failure)
    }
}

/// Takes a line's units (and seats) from its pool at this turn, or says why not.
fn take(books: &mut Books, line: &Pending) -> Result<Vec<usize>, RejectionReason> {
    if let Some(reason) = books.state.closed() {
        return Err(reason);
    }
    if line.quantity > books.available {
        return Err(if line.seat_labels.is_some() {
            RejectionReason::SeatUnavailable
        } else {
            RejectionReason::SoldOut
        });
    }
    let seats = if let Some(labels) = &line.seat_labels {
        let hall = books.hall.as_mut().ok_or(RejectionReason::SeatUnavailable)?;
        hall.take_named(labels).ok_or(RejectionReason::SeatUnavailable)?
    } else if line.best_available {
        let ask = BestAvailable {
            quantity: line.quantity as usize,
            section: line.best_section.clone(),
            together: line.best_together,
        };
        books.hall.as_mut().ok_or(RejectionReason::SoldOut)?.take_best(&ask)?
    } else {
        vec![]
    };
    books.available -= line.quantity;
    Ok(seats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hall::HallSeat;

    fn pool(available: i32) -> Books {
        let state = PoolState {
            id: "p".into(),
            available,
            seated: false,
            sales_open: true,
            over: false,
            waitlist_offer_minutes: 10,
            line_length: 0,
        };
        Books::new(PoolState { available, ..state })
    }

    fn line(quantity: i32) -> Pending {
        Pending {
            id: Uuid::new_v4(),
            seq: 1,
            order_id: None,
            line_no: None,
            offer_id: "o".into(),
            representation_id: "r".into(),
            pool_id: "p".into(),
            created_at: chrono::Utc::now(),
            quantity,
            seat_labels: None,
            hold_minutes: 10,
            best_available: false,
            best_section: None,
            best_together: true,
        }
    }

    fn seat(label: &str, number: i32) -> HallSeat {
        HallSeat {
            id: Uuid::new_v4(),
            label: label.into(),
            section: None,
            row: Some("A".into()),
            number: Some(number),
            rank: None,
            position: number,
            taken: false,
        }
    }

    #[test]
    fn requests_are_granted_in_arrival_order_while_they_fit() {
        let mut books = pool(3);
        let verdicts: Vec<bool> = [2, 2, 1, 1].iter().map(|&q| take(&mut books, &line(q)).is_ok()).collect();
        assert_eq!(verdicts, [true, false, true, false]);
        assert_eq!(books.available, 0);
    }

    fn named(labels: &[&str]) -> Pending {
        let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        Pending { quantity: labels.len() as i32, seat_labels: Some(labels), ..line(1) }
    }

    fn best(quantity: i32) -> Pending {
        Pending { quantity, best_available: true, ..line(1) }
    }

    /// Each line alone, in order: what it took or why not.
    fn decide_each(books: &mut Books, lines: &[Pending]) -> Vec<Result<Vec<String>, RejectionReason>> {
        let labels = |b: &Books, seats: Vec<usize>| {
            seats.iter().map(|&i| b.hall.as_ref().unwrap().seat(i).label.clone()).collect::<Vec<_>>()
        };
        lines.iter().map(|l| take(books, l).map(|seats| labels(books, seats))).collect()
    }

    #[test]
    fn seat_requests_are_all_or_nothing() {
        let mut books = pool(10);
        let mut taken = seat("A3", 3);
        taken.taken = true;
        books.hall = Some(Hall::new(vec![seat("A1", 1), seat("A2", 2), taken]));
        let d = decide_each(&mut books, &[named(&["A1", "A2"]), named(&["A2"]), named(&["A3"])]);
        assert!(d[0].is_ok());
        assert_eq!(d[1], Err(RejectionReason::SeatUnavailable));
        assert_eq!(d[2], Err(RejectionReason::SeatUnavailable));
    }

    #[test]
    fn best_available_requests_take_the_best_seats_left_at_their_turn_and_say_which() {
        let mut books = pool(6);
        books.hall = Some(Hall::new((1..=6).map(|n| seat(&format!("A{n}"), n)).collect()));
        let d = decide_each(&mut books, &[best(2), named(&["A4"]), best(2), best(2), best(1)]);
        assert_eq!(d[0], Ok(vec!["A3".to_string(), "A4".to_string()]));
        assert_eq!(d[1], Err(RejectionReason::SeatUnavailable));
        assert_eq!(d[2], Ok(vec!["A1".to_string(), "A2".to_string()]));
        assert_eq!(d[3], Ok(vec!["A5".to_string(), "A6".to_string()]));
        assert_eq!(d[4], Err(RejectionReason::SoldOut));
        assert_eq!(books.available, 0);
    }

    #[test]
    fn an_order_that_does_not_fit_as_a_whole_gives_back_what_its_first_lines_took() {
        let halls = Halls::default();
        let mut run = Run::new(BTreeMap::new(), &halls);
        let mut seated = pool(3);
        seated.hall = Some(Hall::new((1..=3).map(|n| seat(&format!("A{n}"), n)).collect()));
        run.locked.insert("p".into(), seated);
        let named = Pending { quantity: 2, seat_labels: Some(vec!["A1".into(), "A2".into()]), ..line(2) };
        let too_many = Pending { quantity: 2, ..line(2) };
        let order = Request { lines: vec![named.clone(), too_many] };
        assert_eq!(run.fit(&order).unwrap_err(), (RejectionReason::SoldOut, 1));
        assert_eq!(run.locked["p"].available, 3, "the units of line 0 are back");
        let again = Request { lines: vec![named] };
        assert!(run.fit(&again).is_ok(), "and so are its seats");
    }
}
