//! Collecting the problems of a row's fields. No I/O.

use chrono::{DateTime, Utc};

/// Collects the problems of one row's fields, so that a row reports all of them at once.
///
/// Parsers return a placeholder (or `None`) on failure; the row is only used when
/// [`Fields::finish`] finds no problem, so a placeholder never reaches the database.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    reasons: Vec<String>,
}

impl Fields {
    pub(crate) fn fail(&mut self, reason: impl Into<String>) {
        self.reasons.push(reason.into());
    }

    /// A value that must not be empty.
    pub(crate) fn required(&mut self, name: &str, value: &str) -> String {
        if value.is_empty() {
            self.fail(format!("{name} is empty"));
        }
        value.to_owned()
    }

    /// An id: not empty, and no longer than the API accepts in a request.
    pub(crate) fn id(&mut self, name: &str, value: &str) -> String {
        if value.chars().count() > crate::domain::MAX_ID_CHARS {
            self.fail(format!("{name} is longer than {} characters", crate::domain::MAX_ID_CHARS));
        }
        self.required(name, value)
    }

    /// No problem so far.
    pub(crate) fn is_clean(&self) -> bool {
        self.reasons.is_empty()
    }

    /// A whole number within `range`, e.g. `0..=i32::MAX`.
    pub(crate) fn integer(&mut self, name: &str, value: &str, range: std::ops::RangeInclusive<i32>) -> Option<i32> {
        if value.is_empty() {
            self.fail(format!("{name} is empty"));
            return None;
        }
        match value.parse::<i32>() {
            Ok(n) if range.contains(&n) => Some(n),
            Ok(n) if *range.end() == i32::MAX => {
                self.fail(format!("{name} must be at least {}, not {n}", range.start()));
                None
            }
            Ok(n) => {
                let (low, high) = (range.start(), range.end());
                self.fail(format!("{name} must be between {low} and {high}, not {n}"));
                None
            }
            Err(_) => {
                self.fail(format!("{name} `{value}` is not a whole number"));
                None
            }
        }
    }

    /// A date-time in RFC 3339 with an offset, e.g. `2025-07-15T20:00:00+02:00`.
    pub(crate) fn datetime(&mut self, name: &str, value: &str) -> Option<DateTime<Utc>> {
        if value.is_empty() {
            self.fail(format!("{name} is empty"));
            return None;
        }
        match DateTime::parse_from_rfc3339(value) {
            Ok(at) => Some(at.to_utc()),
            Err(_) => {
                self.fail(format!("{name} `{value}` is not a date-time like 2025-07-15T20:00:00+02:00"));
                None
            }
        }
    }

    /// A (latitude, longitude) pair from two optional columns: both or neither.
    pub(crate) fn location(
        &mut self,
        (lat_name, lat): (&str, Option<&str>),
        (lon_name, lon): (&str, Option<&str>),
    ) -> Option<(f64, f64)> {
        match (lat, lon) {
            (None, None) => None,
            (Some(_), None) => {
                self.fail(format!("{lat_name} is set but {lon_name} is empty: give both or neither"));
                None
            }
            (None, Some(_)) => {
                self.fail(format!("{lon_name} is set but {lat_name} is empty: give both or neither"));
                None
            }
            (Some(lat), Some(lon)) => {
                let lat = self.degrees(lat_name, lat, 90.0);
                let lon = self.degrees(lon_name, lon, 180.0);
                lat.zip(lon)
            }
        }
    }

    fn degrees(&mut self, name: &str, value: &str, max: f64) -> Option<f64> {
        match value.parse::<f64>() {
            Ok(x) if x.is_finite() && (-max..=max).contains(&x) => Some(x),
            Ok(x) if x.is_finite() => {
                self.fail(format!("{name} must be between -{max} and {max}, not {x}"));
                None
            }
            _ => {
                self.fail(format!("{name} `{value}` is not a number"));
                None
            }
        }
    }

    /// Records the outcome of a parser that returns its own reason.
    pub(crate) fn take<T>(&mut self, result: Result<T, String>) -> Option<T> {
        result.map_err(|reason| self.fail(reason)).ok()
    }

    /// Records what the API's own validation refuses in the value built from the row: the
    /// importer accepts nothing the API would not.
    pub(crate) fn domain<T>(&mut self, validated: Result<T, crate::domain::ValidationErrors>) -> Option<T> {
        match validated {
            Ok(value) => Some(value),
            Err(errors) => {
                for e in errors.0 {
                    self.fail(format!("{} {}", e.loc[1..].join("."), e.msg));
                }
                None
            }
        }
    }

    /// The row built from the fields, or every problem found in them.
    pub(crate) fn finish<T>(self, row: impl FnOnce() -> T) -> Result<T, Vec<String>> {
        if self.reasons.is_empty() { Ok(row()) } else { Err(self.reasons) }
    }
}
