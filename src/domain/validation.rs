//! Collects every problem of a request, so the caller hears about all of them at once.

/// Trims the whitespace that makes a value blank: ASCII's (space, tab, line feed, form feed,
/// carriage return), the set the OpenAPI document's patterns name (`[^ \t\n\f\r]`), so the spec and
/// the code agree on which values are blank. Lengths are counted before trimming, as the spec's
/// `maxLength` counts them.
pub fn trim_blank(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// One problem with one input field: where it is, what is wrong, and a machine-readable kind.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Path to the field, e.g. `["body", "venue_latitude"]` or `["query", "limit"]`.
    pub loc: Vec<String>,
    pub msg: String,
    /// `value_error`, `missing`, `type_error`...
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("validation failed: {}", .0.iter().map(|e| format!("{}: {}", e.loc.join("."), e.msg)).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// One problem at `loc`, e.g. `["query", "cursor"]`.
    pub fn single(loc: &[&str], msg: impl Into<String>) -> Self {
        let loc = loc.iter().map(|s| s.to_string()).collect();
        ValidationErrors(vec![FieldError { loc, msg: msg.into(), kind: "value_error".into() }])
    }
}

/// Accumulates field errors under one location prefix (`body`, `query`...).
#[derive(Debug)]
pub struct Validator {
    place: &'static str,
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new(place: &'static str) -> Self {
        Validator { place, errors: Vec::new() }
    }

    /// Records `msg` against `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: &str, msg: impl Into<String>) -> &mut Self {
        if !ok {
            self.push(field, msg);
        }
        self
    }

    pub fn push(&mut self, field: &str, msg: impl Into<String>) {
        let mut loc = vec![self.place.to_string()];
        loc.extend(field.split('.').filter(|s| !s.is_empty()).map(str::to_string));
        self.errors.push(FieldError { loc, msg: msg.into(), kind: "value_error".into() });
    }

    /// Checks a text field is at most `max_len` characters and not blank, and returns it trimmed.
    pub fn required_text(&mut self, field: &str, value: &str, max_len: usize) -> String {
        let trimmed = trim_blank(value);
        self.check(!trimmed.is_empty(), field, "must not be empty");
        self.check(value.chars().count() <= max_len, field, format!("must be at most {max_len} characters"));
        trimmed.to_string()
    }

    /// Whether a problem was recorded.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() { Ok(()) } else { Err(ValidationErrors(self.errors)) }
    }
}
