//! The bench's own model of a seated hall, written from the rules and not from the server's code,
//! to replay the decisions and judge them: adjacency (consecutive numbers in one row of one
//! section), the order of preference (sections and rows in the order laid out, then nearest the
//! row's middle), a block's score (the sum of its seats' places in that order), and lonely seats
//! (a single free seat between a block and a taken seat or the end of its run).

use std::collections::HashMap;

/// One seat as the database lists it.
#[derive(Debug, Clone)]
pub struct Seat {
    pub label: String,
    pub section: Option<String>,
    pub row_label: Option<String>,
    pub number: Option<i32>,
    pub position: i32,
}

/// A block found at some turn: does it leave a lonely seat, its score, its seats.
#[derive(Debug, Clone)]
pub struct Block {
    pub lonely: bool,
    pub score: u64,
    pub seats: Vec<usize>,
}

/// A run's best block for one (quantity, rule): (leaves a lonely seat, score, first offset).
type RunBest = Option<(bool, u64, usize)>;

pub struct Model {
    seats: Vec<Seat>,
    place: Vec<u64>,
    /// Runs of adjacent seats, each in number order.
    runs: Vec<Vec<usize>>,
    /// Each seat's (run, offset in the run).
    run_of: Vec<(usize, usize)>,
    taken: Vec<bool>,
    by_label: HashMap<String, usize>,
    free: HashMap<Option<String>, usize>,
    free_all: usize,
    /// Per (quantity, lonely rule): each run's best block, `None` until computed and again once
    /// a seat of the run is taken. A stadium has 1,500 runs and 100,000 requests to replay: a
    /// pass over every window of the hall per request would take hours.
    run_best: HashMap<(usize, bool), Vec<Option<RunBest>>>,
}

impl Model {
    pub fn new(seats: Vec<Seat>) -> Model {
        let mut section_first: HashMap<Option<String>, i32> = HashMap::new();
        let mut rows: HashMap<(Option<String>, String), (i32, i32, i32)> = HashMap::new();
        for s in &seats {
            let e = section_first.entry(s.section.clone()).or_insert(i32::MAX);
            *e = (*e).min(s.position);
            if let (Some(row), Some(n)) = (&s.row_label, s.number) {
                let e = rows.entry((s.section.clone(), row.clone())).or_insert((i32::MAX, n, n));
                *e = (e.0.min(s.position), e.1.min(n), e.2.max(n));
            }
        }
        let key = |s: &Seat| {
            let row = s.row_label.as_ref().map(|r| rows[&(s.section.clone(), r.clone())]);
            let (row_first, from_middle) = match (row, s.number) {
                (Some((first, lo, hi)), Some(n)) => (first, (2 * i64::from(n) - i64::from(lo) - i64::from(hi)).abs()),
                _ => (s.position, 0),
            };
            (section_first[&s.section], row_first, from_middle, s.number, s.position)
        };
        let mut order: Vec<usize> = (0..seats.len()).collect();
        order.sort_by_key(|&i| key(&seats[i]));
        let mut place = vec![0; seats.len()];
        for (p, i) in order.into_iter().enumerate() {
            place[i] = p as u64;
        }
        let mut placed: Vec<usize> = (0..seats.len()).filter(|&i| seats[i].number.is_some()).collect();
        placed.sort_by_key(|&i| (seats[i].section.clone(), seats[i].row_label.clone(), seats[i].number));
        let mut runs: Vec<Vec<usize>> = Vec::new();
        for i in placed {
            let continues = runs.last().and_then(|r| r.last()).is_some_and(|&p| Self::adjacent(&seats[p], &seats[i]));
            if continues {
                runs.last_mut().expect("a run").push(i);
            } else {
                runs.push(vec![i]);
            }
        }
        runs.extend((0..seats.len()).filter(|&i| seats[i].number.is_none()).map(|i| vec![i]));
        let mut run_of = vec![(0, 0); seats.len()];
        for (r, run) in runs.iter().enumerate() {
            for (k, &i) in run.iter().enumerate() {
                run_of[i] = (r, k);
            }
        }
        let by_label = seats.iter().enumerate().map(|(i, s)| (s.label.clone(), i)).collect();
        let taken = vec![false; seats.len()];
        let mut free: HashMap<Option<String>, usize> = HashMap::new();
        for s in &seats {
            *free.entry(s.section.clone()).or_default() += 1;
        }
        let free_all = seats.len();
        Model { seats, place, runs, run_of, taken, by_label, free, free_all, run_best: HashMap::new() }
    }

    fn adjacent(a: &Seat, b: &Seat) -> bool {
        a.section == b.section && a.row_label == b.row_label && a.number.map(|n| n + 1) == b.number
    }

    pub fn index_of(&self, label: &str) -> Option<usize> {
        self.by_label.get(label).copied()
    }

    pub fn is_taken(&self, seat: usize) -> bool {
        self.taken[seat]
    }

    pub fn take(&mut self, seats: &[usize]) {
        for &s in seats {
            if !self.taken[s] {
                self.taken[s] = true;
                self.free_all -= 1;
                *self.free.get_mut(&self.seats[s].section).expect("counted") -= 1;
            }
            let run = self.run_of[s].0;
            for bests in self.run_best.values_mut() {
                bests[run] = None;
            }
        }
    }

    pub fn free_in(&self, section: Option<&str>) -> usize {
        match section {
            None => self.free_all,
            Some(s) => self.free.get(&Some(s.to_string())).copied().unwrap_or(0),
        }
    }

    /// The block of `quantity` seats of run `run` from offset `start`, if all are free.
    fn block_at(&self, run: usize, start: usize, quantity: usize) -> Option<Block> {
        let run = &self.runs[run];
        let window = run.get(start..start + quantity)?;
        if window.iter().any(|&s| self.taken[s]) {
            return None;
        }
        let free_left = run[..start].iter().rev().take_while(|&&s| !self.taken[s]).count();
        let free_right = run[start + quantity..].iter().take_while(|&&s| !self.taken[s]).count();
        Some(Block {
            lonely: free_left == 1 || free_right == 1,
            score: window.iter().map(|&s| self.place[s]).sum(),
            seats: window.to_vec(),
        })
    }

    /// Every window of the run judged: the best by (lonely, score) with the rule, by score alone
    /// without it.
    fn best_of_run(&self, run: usize, quantity: usize, lonely_rule: bool) -> RunBest {
        let key = |b: &(bool, u64, usize)| if lonely_rule { (b.0, b.1) } else { (false, b.1) };
        (0..self.runs[run].len().saturating_sub(quantity - 1))
            .filter_map(|start| self.block_at(run, start, quantity).map(|b| (b.lonely, b.score, start)))
            .min_by_key(key)
    }

    /// The best block: by (lonely, score) with the rule, by score alone without it (the
    /// baseline: the first free block in the order of preference).
    pub fn best(&mut self, quantity: usize, section: Option<&str>, lonely_rule: bool) -> Option<Block> {
        let runs = self.runs.len();
        let mut bests = self.run_best.remove(&(quantity, lonely_rule)).unwrap_or_else(|| vec![None; runs]);
        let mut found: Option<(bool, u64, usize, usize)> = None;
        for (run, slot) in bests.iter_mut().enumerate() {
            if !in_section(&self.seats[self.runs[run][0]], section) {
                continue;
            }
            let best = *slot.get_or_insert_with(|| self.best_of_run(run, quantity, lonely_rule));
            if let Some((lonely, score, start)) = best {
                let key = if lonely_rule { (lonely, score) } else { (false, score) };
                if found.is_none_or(|f| key < (f.0, f.1)) {
                    found = Some((key.0, key.1, run, start));
                }
            }
        }
        self.run_best.insert((quantity, lonely_rule), bests);
        found.and_then(|(_, _, run, start)| self.block_at(run, start, quantity))
    }

    /// The block these seats make now, if they are free and adjacent in one run.
    pub fn block_of(&self, seats: &[usize]) -> Option<Block> {
        let adjacent = seats.windows(2).all(|w| Self::adjacent(&self.seats[w[0]], &self.seats[w[1]]));
        if !adjacent || seats.is_empty() {
            return None;
        }
        let (run, start) = self.run_of[seats[0]];
        self.block_at(run, start, seats.len()).filter(|b| b.seats == seats)
    }

    /// Free seats with no free neighbour in their run.
    pub fn isolated(&self) -> usize {
        self.runs
            .iter()
            .map(|run| {
                (0..run.len())
                    .filter(|&k| {
                        !self.taken[run[k]]
                            && (k == 0 || self.taken[run[k - 1]])
                            && (k + 1 == run.len() || self.taken[run[k + 1]])
                    })
                    .count()
            })
            .sum()
    }
}

fn in_section(seat: &Seat, section: Option<&str>) -> bool {
    section.is_none_or(|s| seat.section.as_deref() == Some(s))
}
