//! The figures of a run, in the order they were measured: printed as `name: value` lines to be
//! quoted whole in a note, or as one JSON object with `--json`. Failed invariants are kept apart;
//! they decide the exit status.

use std::fmt;

use serde_json::Value;

pub struct Report {
    entries: Vec<(String, Value)>,
    failures: Vec<String>,
}

impl Report {
    pub fn new(scenario: &str) -> Report {
        Report { entries: vec![("scenario".into(), scenario.into())], failures: Vec::new() }
    }

    pub fn int(&mut self, name: &str, value: impl Into<i64>) {
        self.entries.push((name.into(), Value::from(value.into())));
    }

    /// A measurement, rounded to `decimals` places: more would be noise.
    pub fn float(&mut self, name: &str, value: f64, decimals: i32) {
        let scale = 10f64.powi(decimals);
        let rounded = (value * scale).round() / scale;
        // NaN or infinity (a division by an empty interval) becomes null rather than a bad number
        self.entries.push((name.into(), serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number)));
    }

    pub fn text(&mut self, name: &str, value: impl Into<String>) {
        self.entries.push((name.into(), Value::String(value.into())));
    }

    /// A memory figure in MiB from KiB; null when the process could not be read.
    pub fn mib(&mut self, name: &str, kib: Option<u64>) {
        match kib {
            Some(kib) => self.float(name, kib as f64 / 1024.0, 1),
            None => self.entries.push((name.into(), Value::Null)),
        }
    }

    /// A number recorded earlier, for figures derived from it (the pgbench ratio).
    pub fn number(&self, name: &str) -> Option<f64> {
        self.entries.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_f64())
    }

    /// Records a broken invariant: the run exits non-zero.
    pub fn fail(&mut self, what: impl Into<String>) {
        self.failures.push(what.into());
    }

    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// One JSON object, keys in measurement order (serde_json's map would sort them), with
    /// `failures` last.
    pub fn to_json(&self) -> String {
        let mut fields: Vec<String> =
            self.entries.iter().map(|(name, value)| format!("{}:{value}", Value::String(name.clone()))).collect();
        fields.push(format!("\"failures\":{}", Value::from(self.failures.clone())));
        format!("{{{}}}", fields.join(","))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.entries {
            match value {
                Value::String(s) => writeln!(f, "{name}: {s}")?,
                Value::Null => writeln!(f, "{name}: n/a")?,
                other => writeln!(f, "{name}: {other}")?,
            }
        }
        if self.failures.is_empty() {
            writeln!(f, "result: ok")
        } else {
            writeln!(f, "result: FAILED ({})", self.failures.join("; "))
        }
    }
}
