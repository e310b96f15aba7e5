//! Reading the catalog files into rows tagged with the line they start on.

use std::path::Path;

use super::rows::{CatalogFile, EventRow, InventoryRow, Line, OfferRow, PoolRow, RepresentationRow, UserRow};
use super::{ImportError, Problems};

/// Every row of the catalog files as read, before any check across rows or files.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub events: Vec<Line<EventRow>>,
    pub representations: Vec<Line<RepresentationRow>>,
    pub offers: Vec<Line<OfferRow>>,
    pub inventory: Vec<Line<InventoryRow>>,
    /// Empty when `pools.csv` is absent.
    pub pools: Vec<Line<PoolRow>>,
    /// Empty when `users.csv` is absent.
    pub users: Vec<Line<UserRow>>,
    /// Files with rows that could not be read (or a header that could not be used): references
    /// to them are not checked, as a reference to an unread row would be a second, misleading
    /// problem.
    pub incomplete: Vec<&'static str>,
}

/// Reads the catalog in `dir`. A file that cannot be read is an error; rows that cannot be
/// read are problems, and the rows that could be read are still returned so that they are
/// checked too.
pub(crate) async fn read_catalog(dir: &Path, problems: &mut Problems) -> Result<Catalog, ImportError> {
    let events = read_file(dir, EventRow::FILE).await?;
    let representations = read_file(dir, RepresentationRow::FILE).await?;
    let offers = read_file(dir, OfferRow::FILE).await?;
    let inventory = read_file(dir, InventoryRow::FILE).await?;
    let pools = read_optional(dir, PoolRow::FILE).await?;
    let users = read_optional(dir, UserRow::FILE).await?;
    let mut incomplete = Vec::new();
    let mut catalog = Catalog {
        events: parse(&events, problems, &mut incomplete),
        representations: parse(&representations, problems, &mut incomplete),
        offers: parse(&offers, problems, &mut incomplete),
        inventory: parse(&inventory, problems, &mut incomplete),
        ..Catalog::default()
    };
    // an empty optional file is as good as none
    if !pools.is_empty() {
        catalog.pools = parse(&pools, problems, &mut incomplete);
    }
    if !users.is_empty() {
        catalog.users = parse(&users, problems, &mut incomplete);
    }
    catalog.incomplete = incomplete;
    Ok(catalog)
}

/// An optional file: absent reads as empty.
async fn read_optional(dir: &Path, file: &str) -> Result<Vec<u8>, ImportError> {
    match read_file(dir, file).await {
        Err(ImportError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        read => read,
    }
}

async fn read_file(dir: &Path, file: &str) -> Result<Vec<u8>, ImportError> {
    let path = dir.join(file);
    tokio::fs::read(&path).await.map_err(|source| ImportError::Io { path, source })
}

/// Parses one file by header name: column order does not matter and unknown columns are
/// ignored. Fields are trimmed. Adds the file to `incomplete` if a row could not be read.
fn parse<T: CatalogFile>(bytes: &[u8], problems: &mut Problems, incomplete: &mut Vec<&'static str>) -> Vec<Line<T>> {
    let file = T::FILE;
    // spreadsheets like to start UTF-8 files with a byte order mark, which would stick to the
    // first column's name
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes);
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(error) => {
            problems.push(file, 1, reason(&error));
            incomplete.push(file);
            return Vec::new();
        }
    };
    let missing: Vec<&str> =
        (T::REQUIRED.iter().copied()).filter(|column| !headers.iter().any(|header| header == *column)).collect();
    if !missing.is_empty() {
        let s = if missing.len() == 1 { "" } else { "s" };
        problems.push(file, 1, format!("missing column{s}: {}", missing.join(", ")));
        incomplete.push(file);
        return Vec::new();
    }

    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                match record.deserialize(Some(&headers)) {
                    Ok(row) => rows.push(Line { line, row }),
                    Err(error) => {
                        problems.push(file, line, reason(&error));
                        incomplete.push(file);
                    }
                }
            }
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line());
                problems.push(file, line, reason(&error));
                incomplete.push(file);
                // a malformed record is skipped; anything else stops the file
                if !matches!(error.kind(), csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }) {
                    break;
                }
            }
        }
    }
    rows
}

fn reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
        _ => error.to_string(),
    }
}
