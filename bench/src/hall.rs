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

pub struct Model {
    seats: Vec<Seat>,
    place: Vec<u64>,
    /// Runs of adjacent seats, each in number order.
    runs: Vec<Vec<usize>>,
    taken: Vec<bool>,
    by_label: HashMap<String, usize>,
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
        let by_label = seats.iter().enumerate().map(|(i, s)| (s.label.clone(), i)).collect();
        let taken = vec![false; seats.len()];
        Model { seats, place, runs, taken, by_label }
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
            self.taken[s] = true;
        }
    }

    pub fn free_in(&self, section: Option<&str>) -> usize {
        (0..self.seats.len()).filter(|&i| !self.taken[i] && in_section(&self.seats[i], section)).count()
    }

    /// Every free block of `quantity` adjacent seats, each judged by every window of its run.
    fn blocks<'a>(&'a self, quantity: usize, section: Option<&'a str>) -> impl Iterator<Item = Block> + 'a {
        self.runs.iter().filter(move |run| in_section(&self.seats[run[0]], section)).flat_map(move |run| {
            (0..run.len().saturating_sub(quantity - 1)).filter_map(move |start| {
                let window = &run[start..start + quantity];
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
            })
        })
    }

    /// The best block: by (lonely, score) with the rule, by score alone without it (the
    /// baseline: the first free block in the order of preference).
    pub fn best(&self, quantity: usize, section: Option<&str>, lonely_rule: bool) -> Option<Block> {
        if lonely_rule {
            self.blocks(quantity, section).min_by_key(|b| (b.lonely, b.score))
        } else {
            self.blocks(quantity, section).min_by_key(|b| b.score)
        }
    }

    /// The block these seats make now, if they are free and adjacent in one run.
    pub fn block_of(&self, seats: &[usize]) -> Option<Block> {
        let adjacent = seats.windows(2).all(|w| Self::adjacent(&self.seats[w[0]], &self.seats[w[1]]));
        if !adjacent || seats.is_empty() {
            return None;
        }
        self.blocks(seats.len(), self.seats[seats[0]].section.as_deref()).find(|b| b.seats == seats)
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
