//! `boxoffice import DIR`: loads a catalog exported as CSV files (events, representations,
//! offers, inventory and, optionally, pools and users) into the database.
//!
//! The import is all or nothing and idempotent: every row is checked first and every problem is
//! reported as `file:line: reason`; only a clean catalog is written, in one transaction, with
//! upserts that leave identical rows untouched, so running the same import twice changes nothing.

mod check;
mod existing;
mod fields;
mod read;
mod rows;
mod values;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};

use sqlx::PgPool;

/// What the import did to each table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Rows of `events.csv`.
    pub events: Counts,
    /// Rows of `representations.csv`.
    pub representations: Counts,
    /// Rows of `offers.csv`.
    pub offers: Counts,
    /// Rows of `pools.csv`; all zero when the file is absent.
    pub pools: Counts,
    /// Rows of `inventory.csv`.
    pub inventory: Counts,
    /// Rows of `users.csv`; all zero when the file is absent.
    pub users: Counts,
}

/// What the import did to the rows of one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rows that did not exist yet.
    pub inserted: u64,
    /// Rows that existed with different values.
    pub updated: u64,
    /// Rows that existed with the same values, so were left alone.
    pub unchanged: u64,
}

impl Counts {
    /// Total rows of the file.
    pub fn total(&self) -> u64 {
        self.inserted + self.updated + self.unchanged
    }
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // pools are listed when the catalog has them (most catalogs sell each offer apart)
        let pools = (self.pools.total() > 0).then_some(("pools", &self.pools));
        let tables = [("events", &self.events), ("representations", &self.representations), ("offers", &self.offers)]
            .into_iter()
            .chain(pools)
            .chain([("inventory", &self.inventory), ("users", &self.users)]);
        for (i, (table, c)) in tables.enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{table}: {} ({} new, {} updated, {} unchanged)", c.total(), c.inserted, c.updated, c.unchanged)?;
        }
        Ok(())
    }
}

/// At most this many row errors are collected: past that, more only hide the first ones.
pub const MAX_ROW_ERRORS: usize = 100;

/// A problem with one row (or the header, line 1) of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The file name, e.g. `events.csv`.
    pub file: &'static str,
    /// The physical line the row starts on; the header is line 1.
    pub line: u64,
    /// What is wrong, for a person fixing the file.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read (a missing required file, permissions...).
    #[error("cannot read {}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Rows are invalid, or were refused by the database; nothing was written.
    #[error("{}", RowsDisplay(.0))]
    Rows(Vec<RowError>),
    /// The database failed for a reason no row explains (connection lost...).
    #[error("the database failed during the import")]
    Database(#[from] sqlx::Error),
}

struct RowsDisplay<'a>(&'a [RowError]);

impl fmt::Display for RowsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        let s = if n == 1 { "" } else { "s" };
        write!(f, "{n} problem{s} in the catalog, nothing was imported")?;
        if n >= MAX_ROW_ERRORS {
            write!(f, " (only the first {MAX_ROW_ERRORS} are listed)")?;
        }
        write!(f, ":")?;
        for error in self.0 {
            write!(f, "\n{error}")?;
        }
        Ok(())
    }
}

/// Row errors collected across all the files, capped at [`MAX_ROW_ERRORS`].
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<RowError>);

impl Problems {
    pub(crate) fn push(&mut self, file: &'static str, line: u64, reason: impl Into<String>) {
        if self.0.len() < MAX_ROW_ERRORS {
            let reason = reason.into();
            self.0.push(RowError { file, line, reason });
        }
    }

    /// The problems in the order of the files and their lines; a row's problems stay in the
    /// order they were found.
    fn into_result(mut self) -> Result<(), ImportError> {
        const FILES: [&str; 6] =
            ["events.csv", "representations.csv", "offers.csv", "pools.csv", "inventory.csv", "users.csv"];
        let rank = |file: &str| FILES.iter().position(|f| *f == file);
        self.0.sort_by_key(|e| (rank(e.file), e.line));
        if self.0.is_empty() { Ok(()) } else { Err(ImportError::Rows(self.0)) }
    }
}

/// Imports the catalog in `dir`: `events.csv`, `representations.csv`, `offers.csv`,
/// `inventory.csv` and, if present, `pools.csv` and `users.csv`.
#[tracing::instrument(skip_all, fields(import.dir = %dir.display()))]
pub async fn import_catalog(pool: &PgPool, dir: &Path) -> Result<ImportSummary, ImportError> {
    let mut problems = Problems::default();
    let catalog = read::read_catalog(dir, &mut problems).await?;

    let mut tx = pool.begin().await?;
    // Lock what we are about to compare, so that what we checked is what we overwrite.
    let existing = existing::load_existing(&mut tx, &catalog).await?;
    let plan = check::check(&catalog, &existing, &mut problems);
    // Dropping `tx` on error rolls it back; it has only read so far.
    problems.into_result()?;

    let summary = write::write(&mut tx, &plan).await?;
    // stock that came back goes to the waiting lists first, as when an organizer adds it
    let mut pools: std::collections::BTreeSet<String> = plan.pools.iter().map(|p| p.row.pool.id.clone()).collect();
    for item in &plan.inventory {
        let (offer, rep) = (&item.row.stock.offer_id, &item.row.stock.representation_id);
        pools.extend(crate::db::pools::of_item(&mut tx, offer, rep).await?);
    }
    for pool_id in &pools {
        crate::services::stock::promote(&mut tx, pool_id).await?;
    }
    tx.commit().await?;
    tracing::info!(
        events = summary.events.total(),
        inventory = summary.inventory.total(),
        "imported the catalog in {}",
        dir.display()
    );
    Ok(summary)
}
