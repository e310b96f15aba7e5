//! Each seated pool's hall as this worker last left it, kept between batches: reading a stadium's
//! 60,000 seats for every batch would cost more than deciding the batch. The pool's versions keep
//! the copy honest (migration 0015): a batch holding the pool's lock reads them, takes the copy
//! as is when nothing changed, applies the seats taken or freed since its seat version (another
//! worker's decisions, releases, expiries, cancellations), or reads the hall again when seats were
//! added. The database stays the judge: the unique index on active seats refuses a seat held twice
//! whatever a copy says.
//!
//! A copy lives in its pool's slot. A batch holding the pool's database lock takes the slot for
//! the length of its transaction ([`check_out`]) and puts the copy back after its commit
//! ([`Lease::check_in`]); a transaction that fails leaves the slot empty, and the next batch reads
//! the hall whole. Another batch of this process that gets the database lock the moment the first
//! commits waits the few microseconds until the copy is back, rather than reading 60,000 seats.
//! At most [`MAX_KEPT_SEATS`] seats are kept in all, the halls used longest ago forgotten first.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use sqlx::PgConnection;
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use crate::db;
use crate::domain::hall::Hall;

/// Seats kept in all (a 60,000-seat stadium takes about 15 MB).
const MAX_KEPT_SEATS: usize = 250_000;

/// A pool's hall with the versions it reflects.
pub struct Checked {
    pub hall: Hall,
    /// The pool's `instance`: a pool of the same id in another database is another pool.
    pub instance: Uuid,
    pub layout_version: i64,
    pub seats_version: i64,
}

type Cell = Arc<tokio::sync::Mutex<Option<Checked>>>;

struct Slot {
    cell: Cell,
    /// Seats of the copy last checked in, and when (in check-ins): the oldest is forgotten first.
    seats: usize,
    used: u64,
}

#[derive(Default)]
struct Inner {
    slots: HashMap<String, Slot>,
    clock: u64,
}

/// The halls one worker keeps. A process has one ([`Halls::of_this_process`]); a test makes two
/// to play two workers.
#[derive(Default)]
pub struct Halls {
    inner: Mutex<Inner>,
}

static OF_THIS_PROCESS: LazyLock<Halls> = LazyLock::new(Halls::default);

impl Halls {
    pub fn of_this_process() -> &'static Halls {
        &OF_THIS_PROCESS
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // a panic while holding the lock leaves nothing half-done in the map: go on with it
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes a copy of `seats` seats put in the pool's slot now, and forgets the oldest if too many
    /// are kept.
    fn kept(&self, pool_id: &str, seats: usize) {
        let mut inner = self.lock();
        inner.clock += 1;
        let used = inner.clock;
        if let Some(slot) = inner.slots.get_mut(pool_id) {
            (slot.seats, slot.used) = (seats, used);
        }
        forget_the_oldest(&mut inner);
    }

    /// Whether a copy of this layout of the pool is kept (or the slot is in use by a batch).
    fn has_layout(&self, pool_id: &str, instance: Uuid, layout_version: i64) -> bool {
        let Some(cell) = self.lock().slots.get(pool_id).map(|s| s.cell.clone()) else { return false };
        let Ok(copy) = cell.try_lock() else { return true };
        copy.as_ref().is_some_and(|c| (c.instance, c.layout_version) == (instance, layout_version))
    }

    /// Whether this worker has no copy of the pool, and no batch is using its slot.
    pub fn is_cold(&self, pool_id: &str) -> bool {
        let Some(cell) = self.lock().slots.get(pool_id).map(|s| s.cell.clone()) else { return true };
        cell.try_lock().is_ok_and(|copy| copy.is_none())
    }

    /// Whether `seats` more seats can be kept without forgetting a copy.
    fn has_room_for(&self, seats: usize) -> bool {
        self.lock().slots.values().map(|s| s.seats).sum::<usize>() + seats <= MAX_KEPT_SEATS
    }

    fn cell(&self, pool_id: &str) -> Cell {
        let mut inner = self.lock();
        let slot =
            inner.slots.entry(pool_id.to_string()).or_insert_with(|| Slot { cell: Cell::default(), seats: 0, used: 0 });
        slot.cell.clone()
    }
}

/// The pool's slot, taken for one transaction: empty until the copy is put back.
pub struct Lease {
    pool_id: String,
    guard: OwnedMutexGuard<Option<Checked>>,
}

/// The pool's hall at this turn, and the lease to give it back with. The caller holds the pool's
/// database lock (so no other batch of any worker is deciding it), and has ended its lapsed
/// holds: every active seat hold is a live one or a sale.
pub async fn check_out(halls: &Halls, conn: &mut PgConnection, pool_id: &str) -> sqlx::Result<(Checked, Lease)> {
    let mut guard = halls.cell(pool_id).lock_owned().await;
    let (instance, layout_version, seats_version) = db::seats::versions(conn, pool_id).await?;
    let (checked, outcome) = match guard.take() {
        Some(mut checked) if (checked.instance, checked.layout_version) == (instance, layout_version) => {
            if checked.seats_version == seats_version {
                (checked, "kept")
            } else {
                let changes = db::seats::changes(conn, pool_id, checked.seats_version).await?;
                checked.hall.set_taken(&changes);
                checked.seats_version = seats_version;
                metrics::histogram!("hall_changes_applied").record(changes.len() as f64);
                (checked, "updated")
            }
        }
        _ => {
            let hall = Hall::new(db::seats::hall(conn, pool_id).await?);
            (Checked { hall, instance, layout_version, seats_version }, "read")
        }
    };
    metrics::counter!("hall_copies_total", "outcome" => outcome).increment(1);
    Ok((checked, Lease { pool_id: pool_id.to_string(), guard }))
}

/// Reads the pool's hall into its slot if this worker has no copy of its layout, without the
/// pool's lock: seats and versions from one snapshot agree, and the batch that checks the copy out
/// under the lock applies what changed since. Nothing is done if the slot is in use meanwhile.
pub async fn warm(halls: &Halls, pool: &sqlx::PgPool, pool_id: &str) -> sqlx::Result<()> {
    let cell = halls.cell(pool_id);
    let layout_of = |copy: &Option<Checked>| copy.as_ref().map(|c| (c.instance, c.layout_version));
    let Ok(kept) = cell.try_lock().map(|copy| layout_of(&copy)) else { return Ok(()) };
    let mut tx = db::snapshot(pool).await?;
    let (instance, layout_version, seats_version) = db::seats::versions(&mut tx, pool_id).await?;
    if kept == Some((instance, layout_version)) {
        return Ok(());
    }
    let hall = Hall::new(db::seats::hall(&mut tx, pool_id).await?);
    tx.commit().await?;
    let seats = hall.len();
    if let Ok(mut copy) = cell.try_lock()
        && layout_of(&copy) == kept
    {
        *copy = Some(Checked { hall, instance, layout_version, seats_version });
        drop(copy);
        metrics::counter!("hall_copies_total", "outcome" => "warmed").increment(1);
        halls.kept(pool_id, seats);
    }
    Ok(())
}

/// How often a reservation worker looks for halls on sale it has no copy of.
const WARM_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Keeps this worker's copies of the halls on sale (sales open, performance not over) read ahead
/// of their first request, the largest first, as many as [`MAX_KEPT_SEATS`] allows without
/// forgetting any: the first batch of a stadium's on-sale would otherwise read 60,000 seats while
/// the requests pile up. Runs until `shutdown`.
pub async fn keep_warm(pool: sqlx::PgPool, halls: &'static Halls, shutdown: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(WARM_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(error) = warm_on_sale(&pool, halls).await {
            tracing::warn!(%error, "reading the halls on sale ahead failed; the batches read them");
        }
    }
}

async fn warm_on_sale(pool: &sqlx::PgPool, halls: &Halls) -> sqlx::Result<()> {
    let on_sale = db::seats::pools_on_sale(&mut *pool.acquire().await?).await?;
    for (pool_id, instance, layout_version, seats) in on_sale {
        if halls.has_layout(&pool_id, instance, layout_version) {
            continue;
        }
        if !halls.has_room_for(seats as usize) {
            continue;
        }
        warm(halls, pool, &pool_id).await?;
    }
    Ok(())
}

impl Lease {
    /// Puts the hall of a committed transaction back, with the versions it reflects now.
    pub fn check_in(mut self, halls: &Halls, checked: Checked) {
        let seats = checked.hall.len();
        *self.guard = Some(checked);
        drop(self.guard);
        halls.kept(&self.pool_id, seats);
    }
}

/// Empties the slots used longest ago while more than [`MAX_KEPT_SEATS`] seats are kept (a slot
/// in use is left alone).
fn forget_the_oldest(inner: &mut Inner) {
    let mut kept: usize = inner.slots.values().map(|s| s.seats).sum();
    if kept <= MAX_KEPT_SEATS {
        return;
    }
    let mut by_age: Vec<(u64, String)> =
        inner.slots.iter().filter(|(_, s)| s.seats > 0).map(|(id, s)| (s.used, id.clone())).collect();
    by_age.sort();
    for (_, id) in by_age {
        if kept <= MAX_KEPT_SEATS {
            break;
        }
        let slot = inner.slots.get_mut(&id).expect("listed");
        if let Ok(mut copy) = slot.cell.try_lock() {
            *copy = None;
            kept -= slot.seats;
            slot.seats = 0;
        }
    }
    inner.slots.retain(|_, s| s.seats > 0 || Arc::strong_count(&s.cell) > 1);
}
