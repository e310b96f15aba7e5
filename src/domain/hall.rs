//! An item's seats as the reservation worker sees them while it decides a batch in arrival order:
//! which are free, which are adjacent, which are best. Pure, so the rules are plain to test.
//!
//! - Seats are adjacent when their numbers are consecutive in one row of one section: a *run* is
//!   a maximal stretch of such seats (an aisle or a gap, a number left out, ends it).
//! - Preference: a seat's `rank` if the organizer set one (lower is better, unranked seats after
//!   ranked ones); then sections in the order added, rows in the order added (front to back), and
//!   within a row the seats closest to its middle. A block's score is the sum of its seats'
//!   places in that order: lower is better.
//! - A block *leaves a lonely seat* when exactly one free seat would be left between it and a
//!   taken seat or the end of its run. Best available takes the best block that leaves none, and
//!   the best block anyway only when every block would leave one.

use std::collections::HashMap;

use uuid::Uuid;

use super::RejectionReason;

/// One seat of the item, and whether it is taken (held by a live hold, or sold).
#[derive(Debug, Clone)]
pub struct HallSeat {
    pub id: Uuid,
    pub label: String,
    pub section: Option<String>,
    pub row: Option<String>,
    pub number: Option<i32>,
    pub rank: Option<i32>,
    /// Order of arrival in the representation's layout.
    pub position: i32,
    pub taken: bool,
}

/// What a best-available request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestAvailable {
    pub quantity: usize,
    /// Only seats of this section (normalized).
    pub section: Option<String>,
    /// `false`: seats close to each other will do when no adjacent block is free.
    pub together: bool,
}

/// A stretch of adjacent seats, in number order.
#[derive(Debug)]
struct Run {
    section: Option<String>,
    seats: Vec<usize>,
}

/// The item's seats at the current turn. Built once per pool and kept by the worker between
/// batches (see `services::halls`): taking and giving back seats, and another worker's changes
/// ([`Hall::set_taken`]), keep its counts and its index of best blocks up to date.
#[derive(Debug)]
pub struct Hall {
    seats: Vec<HallSeat>,
    /// Place of each seat in the order of preference (0 is the best seat of the item).
    preference: Vec<u32>,
    runs: Vec<Run>,
    /// Each seat's run.
    run_of: Vec<usize>,
    by_label: HashMap<String, usize>,
    by_id: HashMap<Uuid, usize>,
    /// Free seats per section, and in all: kept as seats are taken and given back.
    free_by_section: HashMap<Option<String>, usize>,
    free_in_all: usize,
    /// Per quantity asked so far, the best block of every run (see [`blocks`]).
    blocks: HashMap<usize, blocks::BlockIndex>,
}

/// A block: (leaves a lonely seat, score, run, first seat's offset in the run). Lower is better.
type Candidate = (bool, u64, usize, usize);

impl Hall {
    pub fn new(seats: Vec<HallSeat>) -> Hall {
        let preference = preference_order(&seats);
        let runs = runs_of(&seats);
        let mut run_of = vec![0; seats.len()];
        for (r, run) in runs.iter().enumerate() {
            for &i in &run.seats {
                run_of[i] = r;
            }
        }
        let by_label = seats.iter().enumerate().map(|(i, s)| (s.label.clone(), i)).collect();
        let by_id = seats.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let mut free_by_section: HashMap<Option<String>, usize> = HashMap::new();
        for s in seats.iter().filter(|s| !s.taken) {
            *free_by_section.entry(s.section.clone()).or_default() += 1;
        }
        let free_in_all = free_by_section.values().sum();
        Hall { seats, preference, runs, run_of, by_label, by_id, free_by_section, free_in_all, blocks: HashMap::new() }
    }

    pub fn seat(&self, index: usize) -> &HallSeat {
        &self.seats[index]
    }

    pub fn len(&self) -> usize {
        self.seats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seats.is_empty()
    }

    /// Takes the named seats if every one is the item's and free; all or nothing.
    pub fn take_named(&mut self, labels: &[String]) -> Option<Vec<usize>> {
        let picked: Option<Vec<usize>> = labels.iter().map(|l| self.by_label.get(l).copied()).collect();
        let picked = picked.filter(|p| p.iter().all(|&i| !self.seats[i].taken))?;
        self.take(&picked);
        Some(picked)
    }

    /// Takes the best seats for `ask` at this turn, or says why there are none.
    pub fn take_best(&mut self, ask: &BestAvailable) -> Result<Vec<usize>, RejectionReason> {
        let free = match &ask.section {
            None => self.free_in_all,
            Some(s) => self.free_by_section.get(&Some(s.clone())).copied().unwrap_or(0),
        };
        if ask.quantity == 0 || free < ask.quantity {
            return Err(RejectionReason::SoldOut);
        }
        let picked = match self.best_block(ask.quantity, ask.section.as_deref()) {
            Some((_, _, run, start)) => self.runs[run].seats[start..start + ask.quantity].to_vec(),
            None if ask.together => return Err(RejectionReason::SeatsNotTogether),
            None => self.closest_seats(ask.quantity, ask.section.as_deref()),
        };
        self.take(&picked);
        Ok(picked)
    }

    /// Gives back seats taken at this turn (an order that did not fit as a whole took them for a
    /// moment): they are free again.
    pub fn give_back(&mut self, picked: &[usize]) {
        self.mark(picked, false);
    }

    /// Another writer took or freed the seat `id` (a decision of another worker, a release, an
    /// expiry, a cancellation): the hall follows. Unknown seats are ignored.
    pub fn set_taken(&mut self, changes: &[(Uuid, bool)]) {
        let known = |taken: bool| -> Vec<usize> {
            changes.iter().filter(|c| c.1 == taken).filter_map(|c| self.by_id.get(&c.0).copied()).collect()
        };
        let (taken, freed) = (known(true), known(false));
        self.mark(&taken, true);
        self.mark(&freed, false);
    }

    fn take(&mut self, picked: &[usize]) {
        self.mark(picked, true);
    }

    /// Sets the seats' state, keeping the counts and the best blocks of their runs.
    fn mark(&mut self, seats: &[usize], taken: bool) {
        let mut runs = Vec::new();
        for &i in seats {
            if self.seats[i].taken == taken {
                continue;
            }
            self.seats[i].taken = taken;
            let count = self.free_by_section.entry(self.seats[i].section.clone()).or_default();
            if taken {
                *count -= 1;
                self.free_in_all -= 1;
            } else {
                *count += 1;
                self.free_in_all += 1;
            }
            runs.push(self.run_of[i]);
        }
        runs.sort_unstable();
        runs.dedup();
        self.refresh(&runs);
    }

    /// The best block of `quantity` adjacent free seats (in `section`, or anywhere), preferring
    /// those that leave no lonely seat.
    fn best_block(&mut self, quantity: usize, section: Option<&str>) -> Option<Candidate> {
        if !self.blocks.contains_key(&quantity) {
            let per_run = (0..self.runs.len()).map(|r| self.best_in_run(r, quantity)).collect();
            let sections = self.runs.iter().map(|r| r.section.clone()).collect();
            self.blocks.insert(quantity, blocks::BlockIndex::new(per_run, sections));
        }
        self.blocks[&quantity].best(section)
    }

    /// Computes again the best blocks of `runs` (whose seats changed), for every quantity indexed.
    fn refresh(&mut self, runs: &[usize]) {
        if runs.is_empty() {
            return;
        }
        let quantities: Vec<usize> = self.blocks.keys().copied().collect();
        for quantity in quantities {
            let fresh: Vec<(usize, Option<Candidate>)> =
                runs.iter().map(|&r| (r, self.best_in_run(r, quantity))).collect();
            let index = self.blocks.get_mut(&quantity).expect("listed");
            for (r, candidate) in fresh {
                index.set(r, self.runs[r].section.as_ref(), candidate);
            }
        }
    }

    /// The run's best block of `quantity` free seats: each maximal stretch of free seats is
    /// slid over; a block leaves a lonely seat when one free seat stays at either side.
    fn best_in_run(&self, r: usize, quantity: usize) -> Option<Candidate> {
        let run = &self.runs[r];
        let mut best: Option<Candidate> = None;
        let mut a = 0;
        while a < run.seats.len() {
            if self.seats[run.seats[a]].taken {
                a += 1;
                continue;
            }
            let mut b = a;
            while b < run.seats.len() && !self.seats[run.seats[b]].taken {
                b += 1;
            }
            let stretch = b - a;
            if stretch >= quantity {
                let score_of = |i: usize| u64::from(self.preference[run.seats[i]]);
                let mut score: u64 = (a..a + quantity).map(score_of).sum();
                for offset in 0..=stretch - quantity {
                    if offset > 0 {
                        score = score - score_of(a + offset - 1) + score_of(a + offset + quantity - 1);
                    }
                    let (left, right) = (offset, stretch - offset - quantity);
                    let candidate = (left == 1 || right == 1, score, r, a + offset);
                    if best.is_none_or(|b| candidate < b) {
                        best = Some(candidate);
                    }
                }
            }
            a = b;
        }
        best
    }

    /// No adjacent block is free: the `quantity` free seats of one row that sit closest together
    /// (then the best of those); if no row has as many, the best free seats, row after row.
    fn closest_seats(&self, quantity: usize, section: Option<&str>) -> Vec<usize> {
        let in_scope = |s: &HallSeat| !s.taken && (section.is_none() || s.section.as_deref() == section);
        let mut rows: HashMap<(Option<&str>, &str), Vec<usize>> = HashMap::new();
        for (i, s) in self.seats.iter().enumerate() {
            if let Some(row) = s.row.as_deref().filter(|_| in_scope(s)) {
                rows.entry((s.section.as_deref(), row)).or_default().push(i);
            }
        }
        let mut best: Option<((i32, u64), Vec<usize>)> = None;
        for seats in rows.values_mut() {
            seats.sort_by_key(|&i| self.seats[i].number);
            for window in seats.windows(quantity) {
                let span =
                    self.seats[window[quantity - 1]].number.unwrap_or(0) - self.seats[window[0]].number.unwrap_or(0);
                let score: u64 = window.iter().map(|&i| u64::from(self.preference[i])).sum();
                if best.as_ref().is_none_or(|(key, _)| (span, score) < *key) {
                    best = Some(((span, score), window.to_vec()));
                }
            }
        }
        if let Some((_, seats)) = best {
            return seats;
        }
        let mut free: Vec<usize> = (0..self.seats.len()).filter(|&i| in_scope(&self.seats[i])).collect();
        free.sort_by_key(|&i| self.preference[i]);
        free.truncate(quantity);
        free
    }

    /// Free seats with no free neighbour in their run: the seats nobody will buy.
    pub fn lonely_seats(&self) -> usize {
        let free = |i: usize| !self.seats[i].taken;
        self.runs
            .iter()
            .map(|run| {
                (0..run.seats.len())
                    .filter(|&k| {
                        free(run.seats[k])
                            && (k == 0 || !free(run.seats[k - 1]))
                            && (k + 1 == run.seats.len() || !free(run.seats[k + 1]))
                    })
                    .count()
            })
            .sum()
    }
}

/// Each seat's place in the order of preference.
fn preference_order(seats: &[HallSeat]) -> Vec<u32> {
    let mut section_first: HashMap<Option<&str>, i32> = HashMap::new();
    let mut row_first: HashMap<(Option<&str>, &str), i32> = HashMap::new();
    let mut row_ends: HashMap<(Option<&str>, &str), (i32, i32)> = HashMap::new();
    for s in seats {
        let first = section_first.entry(s.section.as_deref()).or_insert(s.position);
        *first = (*first).min(s.position);
        if let (Some(row), Some(n)) = (s.row.as_deref(), s.number) {
            let key = (s.section.as_deref(), row);
            let first = row_first.entry(key).or_insert(s.position);
            *first = (*first).min(s.position);
            let ends = row_ends.entry(key).or_insert((n, n));
            *ends = (ends.0.min(n), ends.1.max(n));
        }
    }
    let key = |s: &HallSeat| {
        let row = s.row.as_deref().map(|row| (s.section.as_deref(), row));
        let row_order = row.map_or(s.position, |r| row_first[&r]);
        let from_middle = match (row, s.number) {
            (Some(r), Some(n)) => (2 * i64::from(n) - i64::from(row_ends[&r].0) - i64::from(row_ends[&r].1)).abs(),
            _ => 0,
        };
        let rank = s.rank.map_or(i64::MAX, i64::from);
        (rank, section_first[&s.section.as_deref()], row_order, from_middle, s.number, s.position)
    };
    let mut order: Vec<usize> = (0..seats.len()).collect();
    // the key looks maps up: computed once per seat, not once per comparison (60,000 seats)
    order.sort_by_cached_key(|&i| key(&seats[i]));
    let mut preference = vec![0; seats.len()];
    for (place, i) in order.into_iter().enumerate() {
        preference[i] = place as u32;
    }
    preference
}

/// The runs of adjacent seats; a seat without a place is a run of its own.
fn runs_of(seats: &[HallSeat]) -> Vec<Run> {
    let mut placed: Vec<usize> = (0..seats.len()).filter(|&i| seats[i].number.is_some()).collect();
    placed.sort_by(|&a, &b| {
        let (a, b) = (&seats[a], &seats[b]);
        (&a.section, &a.row, a.number).cmp(&(&b.section, &b.row, b.number))
    });
    let mut runs: Vec<Run> = Vec::new();
    let mut previous: Option<usize> = None;
    for i in placed {
        let s = &seats[i];
        let continues = previous.is_some_and(|p| {
            let p = &seats[p];
            p.section == s.section && p.row == s.row && p.number.map(|n| n + 1) == s.number
        });
        match runs.last_mut() {
            Some(run) if continues => run.seats.push(i),
            _ => runs.push(Run { section: s.section.clone(), seats: vec![i] }),
        }
        previous = Some(i);
    }
    runs.extend(
        (0..seats.len())
            .filter(|&i| seats[i].number.is_none())
            .map(|i| Run { section: seats[i].section.clone(), seats: vec![i] }),
    );
    runs
}

mod blocks;

#[cfg(test)]
mod tests;
