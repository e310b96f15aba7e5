//! Checks across rows and files (duplicates, references, stock under open holds) against what
//! the database already holds. No I/O: the database's side comes in as `Existing`.

mod inventory;
mod pools;

use std::collections::{HashMap, HashSet};

pub(crate) use inventory::Inventory;
pub(crate) use pools::PoolPlan;

use super::Problems;
use super::existing::Existing;
use super::read::Catalog;
use super::rows::{CatalogFile, Line};
use super::rows::{Event, EventRow, Offer, OfferRow, Representation, RepresentationRow, User, UserRow};

/// The rows to write, every one checked.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub events: Vec<Line<Event>>,
    pub representations: Vec<Line<Representation>>,
    pub offers: Vec<Line<Offer>>,
    pub pools: Vec<Line<PoolPlan>>,
    pub inventory: Vec<Line<Inventory>>,
    pub users: Vec<Line<User>>,
}

/// Checks every row; what is wrong goes to `problems`, and the plan is only complete when
/// nothing is.
pub(crate) fn check(catalog: &Catalog, existing: &Existing, problems: &mut Problems) -> Plan {
    let known = Known::new(catalog, existing);
    Plan {
        events: each(&catalog.events, problems, |_, row| {
            let event = Event::try_from(row)?;
            // what the API asks: a time zone PostgreSQL knows
            let zone = &event.event.timezone;
            let known = existing.timezones.contains(zone);
            let unknown = format!("timezone `{zone}` is not a time zone name like Europe/Paris");
            merge(Ok(event), if known { vec![] } else { vec![unknown] })
        }),
        representations: representations(&catalog.representations, &known, problems),
        offers: offers(&catalog.offers, &known, problems),
        pools: pools::check(&catalog.pools, &known, problems),
        inventory: inventory::check(&catalog.inventory, &known, problems),
        users: users(&catalog.users, problems),
    }
}

fn representations(
    rows: &[Line<RepresentationRow>],
    known: &Known,
    problems: &mut Problems,
) -> Vec<Line<Representation>> {
    each(rows, problems, |_, row| {
        let mut reasons = known.event_problems(&row.event_id);
        let existing = &known.existing.representations;
        stays(existing, "representation", &row.id, &row.event_id, &mut reasons);
        merge(Representation::try_from(row), reasons)
    })
}

fn offers(rows: &[Line<OfferRow>], known: &Known, problems: &mut Problems) -> Vec<Line<Offer>> {
    each(rows, problems, |_, row| {
        let mut reasons = known.event_problems(&row.event_id);
        let existing = &known.existing.offers;
        stays(existing, "offer", &row.offer_id, &row.event_id, &mut reasons);
        merge(Offer::try_from(row), reasons)
    })
}

fn users(rows: &[Line<UserRow>], problems: &mut Problems) -> Vec<Line<User>> {
    let mut emails = Seen::default();
    each(rows, problems, |line, row| {
        let user = User::try_from(row)?;
        // the normalised address is what must be unique
        let duplicate = emails.check(&user.user.email, line);
        merge(Ok(user), duplicate.into_iter().collect())
    })
}

/// The ids the catalog files define and those the database holds, to resolve references.
pub(super) struct Known<'a> {
    /// Event ids defined in events.csv, including on rows with other problems: a reference to
    /// a broken row is not a second problem.
    events: HashSet<&'a str>,
    /// Representation id -> event id, from representations.csv.
    representations: HashMap<&'a str, &'a str>,
    /// Offer id -> event id, from offers.csv.
    offers: HashMap<&'a str, &'a str>,
    /// Pool id -> representation id, from pools.csv.
    pools: HashMap<&'a str, &'a str>,
    existing: &'a Existing,
    /// Files with rows that could not be read: references to them are not checked.
    incomplete: &'a [&'static str],
}

impl<'a> Known<'a> {
    fn new(catalog: &'a Catalog, existing: &'a Existing) -> Self {
        let events = catalog.events.iter().map(|l| l.row.id.as_str()).collect();
        let reps = catalog.representations.iter().map(|l| (&l.row.id, &l.row.event_id));
        let offers = catalog.offers.iter().map(|l| (&l.row.offer_id, &l.row.event_id));
        let pools = catalog.pools.iter().map(|l| (&l.row.id, &l.row.representation_id));
        Known {
            events,
            representations: event_by_id(reps),
            offers: event_by_id(offers),
            pools: event_by_id(pools),
            existing,
            incomplete: &catalog.incomplete,
        }
    }

    fn complete(&self, file: &str) -> bool {
        !self.incomplete.contains(&file)
    }

    /// Why `event_id` cannot be referred to, if it cannot. An empty one is reported as empty
    /// by the row itself.
    fn event_problems(&self, event_id: &str) -> Vec<String> {
        let known = event_id.is_empty()
            || self.events.contains(event_id)
            || self.existing.events.contains(event_id)
            || !self.complete(EventRow::FILE);
        if known { Vec::new() } else { vec![unknown("event_id", event_id, EventRow::FILE)] }
    }

    /// The event of an offer, if the offer is known.
    fn offer_event(&self, id: &str) -> Option<&'a str> {
        let existing = self.existing.offers.get(id).map(String::as_str);
        self.offers.get(id).copied().or(existing)
    }

    /// The representation of a pool, if the pool is known.
    fn pool_representation(&self, id: &str) -> Option<&'a str> {
        let existing = self.existing.pools.get(id).map(|p| p.representation_id.as_str());
        self.pools.get(id).copied().or(existing)
    }

    /// The event of a representation, if the representation is known.
    fn representation_event(&self, id: &str) -> Option<&'a str> {
        let existing = self.existing.representations.get(id).map(String::as_str);
        self.representations.get(id).copied().or(existing)
    }
}

fn unknown(column: &str, id: &str, file: &str) -> String {
    format!("{column} {id} is neither in {file} nor in the database")
}

/// Id -> event id, as the first row defining the id says.
fn event_by_id<'a>(rows: impl Iterator<Item = (&'a String, &'a String)>) -> HashMap<&'a str, &'a str> {
    let mut events = HashMap::new();
    for (id, event_id) in rows {
        events.entry(id.as_str()).or_insert(event_id.as_str());
    }
    events
}

/// Runs `check` on every row, reporting its problems, and a duplicate key, with the row's file
/// and line.
fn each<R: CatalogFile, T>(
    rows: &[Line<R>],
    problems: &mut Problems,
    mut check: impl FnMut(u64, &R) -> Result<T, Vec<String>>,
) -> Vec<Line<T>> {
    let mut keys = Seen::default();
    let mut checked = Vec::with_capacity(rows.len());
    for Line { line, row } in rows {
        let duplicate = keys.check(&row.key(), *line);
        match merge(check(*line, row), duplicate.into_iter().collect()) {
            Ok(row) => checked.push(Line { line: *line, row }),
            Err(reasons) => (reasons.into_iter()).for_each(|r| problems.push(R::FILE, *line, r)),
        }
    }
    checked
}

/// The row's own problems, then those found across rows.
fn merge<T>(row: Result<T, Vec<String>>, mut reasons: Vec<String>) -> Result<T, Vec<String>> {
    match row {
        Ok(row) if reasons.is_empty() => Ok(row),
        Ok(_) => Err(reasons),
        Err(mut own) => {
            own.append(&mut reasons);
            Err(own)
        }
    }
}

/// The first line each key was seen on, to report duplicates.
#[derive(Default)]
struct Seen {
    first: HashMap<String, u64>,
}

impl Seen {
    fn check(&mut self, key: &str, line: u64) -> Option<String> {
        if key.is_empty() {
            return None;
        }
        match self.first.get(key) {
            Some(first) => Some(format!("{key} is already on line {first}")),
            None => {
                self.first.insert(key.to_owned(), line);
                None
            }
        }
    }
}

/// A representation or offer stays with its event: moving it would orphan its stock.
fn stays(existing: &HashMap<String, String>, what: &str, id: &str, event_id: &str, reasons: &mut Vec<String>) {
    if let Some(current) = existing.get(id)
        && current != event_id
        && !event_id.is_empty()
    {
        reasons.push(format!("{what} {id} belongs to event {current} in the database and cannot move to {event_id}"));
    }
}
