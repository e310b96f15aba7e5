//! The figures of a run, in the order they were measured: printed as `name: value` lines to be
//! quoted whole in a note, or as one JSON object with `--json`. Failed invariants are kept apart;
//! they decide the exit status.

use std::fmt;

use serde_json::Value;

pub struct Report {
    entries: Vec<(String, Value)>,
    tables: Vec<Table>,
    failures: Vec<String>,
}

/// Rows of figures under one name (the profile's top statements), printed after the entries.
struct Table {
    name: String,
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Report {
    pub fn new(scenario: &str) -> Report {
        Report { entries: vec![("scenario".into(), scenario.into())], tables: Vec::new(), failures: Vec::new() }
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

    /// A table: each row has one value per column. Printed column by column, the last one (text)
    /// left-aligned; in JSON, an array of objects.
    pub fn table(&mut self, name: &str, columns: &[&str], rows: Vec<Vec<Value>>) {
        let columns = columns.iter().map(|c| c.to_string()).collect();
        self.tables.push(Table { name: name.into(), columns, rows });
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
        for table in &self.tables {
            let rows: Vec<String> = table
                .rows
                .iter()
                .map(|row| {
                    let cells = table.columns.iter().zip(row).map(|(c, v)| format!("{}:{v}", Value::String(c.clone())));
                    format!("{{{}}}", cells.collect::<Vec<_>>().join(","))
                })
                .collect();
            fields.push(format!("{}:[{}]", Value::String(table.name.clone()), rows.join(",")));
        }
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
        for table in &self.tables {
            write!(f, "{table}")?;
        }
        if self.failures.is_empty() {
            writeln!(f, "result: ok")
        } else {
            writeln!(f, "result: FAILED ({})", self.failures.join("; "))
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => "n/a".into(),
            other => other.to_string(),
        };
        let cells: Vec<Vec<String>> = self.rows.iter().map(|row| row.iter().map(text).collect()).collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| cells.iter().filter_map(|r| r.get(i)).map(String::len).chain([self.columns[i].len()]).max())
            .map(Option::unwrap_or_default)
            .collect();
        writeln!(f, "{}:", self.name)?;
        let last = self.columns.len().saturating_sub(1);
        for line in std::iter::once(&self.columns).chain(&cells) {
            let mut out = String::from(" ");
            for (i, cell) in line.iter().enumerate() {
                if i == last {
                    out.push_str(&format!(" {cell}"));
                } else {
                    out.push_str(&format!(" {cell:>width$}", width = widths[i]));
                }
            }
            writeln!(f, "{out}")?;
        }
        Ok(())
    }
}
