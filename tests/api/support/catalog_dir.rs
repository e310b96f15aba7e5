//! Catalog directories for the import tests, and reading back what an import did.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use boxoffice::import::ImportError;
use sqlx::PgPool;

/// The fixture catalog, committed with the tests.
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catalog")
}

/// The header of each required file, as in the fixture.
const HEADERS: [(&str, &str); 4] = [
    ("events.csv", "id,title,description,thumbnail_url,organization_id,venue_name,venue_address,timezone"),
    ("representations.csv", "id,event_id,start_datetime,end_datetime"),
    ("offers.csv", "offer_id,event_id,name,type,max_quantity_per_order,description"),
    ("inventory.csv", "inventory_id,offer_id,representation_id,total_stock,available_stock"),
];

/// A catalog directory under the system's temporary directory, removed when dropped.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn empty() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("boxoffice-import-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    /// A copy of the fixture, to edit.
    pub fn fixture_copy() -> Self {
        let scratch = Self::empty();
        for entry in std::fs::read_dir(fixture()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), scratch.dir.join(entry.file_name())).unwrap();
        }
        scratch
    }

    /// The given files; the required files not given have only their header.
    pub fn with(files: &[(&str, &str)]) -> Self {
        let scratch = Self::empty();
        for (file, header) in HEADERS {
            scratch.write(file, header);
        }
        for (file, contents) in files {
            scratch.write(file, contents);
        }
        scratch
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn write(&self, file: &str, contents: &str) {
        std::fs::write(self.dir.join(file), contents).unwrap();
    }

    pub fn append(&self, file: &str, more: &str) {
        let contents = std::fs::read_to_string(self.dir.join(file)).unwrap();
        self.write(file, &(contents + more));
    }

    /// Replaces the one occurrence of `from` in `file`.
    pub fn replace(&self, file: &str, from: &str, to: &str) {
        let contents = std::fs::read_to_string(self.dir.join(file)).unwrap();
        assert_eq!(contents.matches(from).count(), 1, "`{from}` is not once in {file}");
        self.write(file, &contents.replace(from, to));
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Rows in events, representations, offers, inventory and users.
pub async fn row_counts(pool: &PgPool) -> [i64; 5] {
    let counts: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from events), (select count(*) from representations),
                (select count(*) from offers), (select count(*) from inventory),
                (select count(*) from users)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    [counts.0, counts.1, counts.2, counts.3, counts.4]
}

/// The `file:line: reason` of each row error, or a panic if the import failed otherwise.
pub fn row_errors(error: &ImportError) -> Vec<String> {
    match error {
        ImportError::Rows(errors) => errors.iter().map(ToString::to_string).collect(),
        other => panic!("expected row errors, got {other:?}"),
    }
}
