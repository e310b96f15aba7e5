//! The best block of each run for one quantity, and those blocks in order: all of them, and per
//! section. Taking a seat changes one run, so deciding a request costs a look at one run and a
//! few ordered-set operations, not a pass over the hall.

use std::collections::{BTreeSet, HashMap};

use super::Candidate;

#[derive(Debug)]
pub(super) struct BlockIndex {
    /// Each run's best block now, if it has one.
    per_run: Vec<Option<Candidate>>,
    all: BTreeSet<Candidate>,
    by_section: HashMap<Option<String>, BTreeSet<Candidate>>,
}

impl BlockIndex {
    /// `per_run[r]` is run `r`'s best block, `sections[r]` its section.
    pub(super) fn new(per_run: Vec<Option<Candidate>>, sections: Vec<Option<String>>) -> BlockIndex {
        let mut index =
            BlockIndex { per_run: vec![None; per_run.len()], all: BTreeSet::new(), by_section: HashMap::new() };
        for (r, (candidate, section)) in per_run.into_iter().zip(sections).enumerate() {
            index.set(r, section.as_ref(), candidate);
        }
        index
    }

    /// Run `r` (of `section`) has `candidate` as its best block now.
    pub(super) fn set(&mut self, r: usize, section: Option<&String>, candidate: Option<Candidate>) {
        let old = std::mem::replace(&mut self.per_run[r], candidate);
        if old == candidate {
            return;
        }
        let in_section = self.by_section.entry(section.cloned()).or_default();
        if let Some(old) = old {
            self.all.remove(&old);
            in_section.remove(&old);
        }
        if let Some(new) = candidate {
            self.all.insert(new);
            in_section.insert(new);
        }
    }

    /// The best block of the hall, or of one section.
    pub(super) fn best(&self, section: Option<&str>) -> Option<Candidate> {
        match section {
            None => self.all.first().copied(),
            Some(s) => self.by_section.get(&Some(s.to_string())).and_then(|set| set.first().copied()),
        }
    }
}
