//! The files of `src` as the checks read them: comments and the insides of string literals
//! blanked (so neither can pass for code), and every `#[cfg(test)]` item left out wherever it is
//! in the file (code after a test module is read). Lines stay where they were, so a report names
//! the right one.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

/// The regex of `pattern`, compiled once for the whole run (the checks read every file).
pub fn regex(pattern: &'static str) -> &'static Regex {
    static COMPILED: LazyLock<Mutex<HashMap<&'static str, &'static Regex>>> = LazyLock::new(Default::default);
    let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    compiled.entry(pattern).or_insert_with(|| Box::leak(Box::new(Regex::new(pattern).unwrap())))
}

/// One file of `src`.
pub struct Source {
    /// Its module path (`services::writer`; empty for `lib.rs` and `main.rs`).
    pub module: Vec<String>,
    /// `src/services/writer.rs`, as reports name it.
    pub path: String,
    /// Its code, without comments, string contents and test items.
    pub code: String,
    /// Its text as written.
    pub text: String,
    /// Its children declared `#[cfg(test)] mod name;`: their files are tests, left out.
    test_children: Vec<String>,
}

impl Source {
    /// The file at `path` (`src/services/writer.rs`) with this text.
    pub fn new(path: &str, text: &str) -> Source {
        let relative = path.strip_prefix("src/").unwrap_or(path);
        let (code, test_children) = without_test_items(&blank(text));
        Source { module: module_of(relative), path: path.to_string(), code, text: text.to_string(), test_children }
    }

    /// Its top-level module (`services`), if it is not the crate root.
    pub fn top(&self) -> Option<&str> {
        self.module.first().map(String::as_str)
    }

    /// Its children declared `#[cfg(test)] mod name;`.
    pub fn test_children(&self) -> &[String] {
        &self.test_children
    }

    /// The line (from 1) of a byte offset of the code.
    pub fn line_at(&self, at: usize) -> usize {
        self.code[..at].matches('\n').count() + 1
    }

    /// `path:line: the line`, as a report shows a finding.
    pub fn at(&self, at: usize) -> String {
        let line = self.line_at(at);
        format!("{}:{line}: {}", self.path, self.text.lines().nth(line - 1).unwrap_or("").trim())
    }
}

/// Every `.rs` file under `src` but the test modules kept in files of their own (read once).
pub fn sources() -> &'static [Source] {
    static SOURCES: LazyLock<Vec<Source>> = LazyLock::new(read_sources);
    &SOURCES
}

fn read_sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                files.push(Source::new(&name, &std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let tests: Vec<Vec<String>> = files
        .iter()
        .flat_map(|f| f.test_children.iter().map(|child| [f.module.clone(), vec![child.clone()]].concat()))
        .collect();
    files.retain(|f| !tests.iter().any(|t| f.module.starts_with(t)));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn module_of(relative: &str) -> Vec<String> {
    let relative = relative.strip_suffix(".rs").unwrap_or(relative);
    let mut parts: Vec<String> = relative.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The text with comments blanked, and the insides of string and character literals blanked
/// (their quotes kept); newlines are kept everywhere.
pub fn blank(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut out = String::with_capacity(text.len());
    let blank_to = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            while i < n && chars[i] != '\n' {
                blank_to(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < n {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank_to(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_at(&chars, i) {
            // r"..", r#".."#, br#".."#: the prefix and the quotes kept, the inside blanked
            while chars[i] != '"' {
                out.push(chars[i]);
                i += 1;
            }
            out.push('"');
            i += 1;
            while i < n && !(chars[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#')) {
                blank_to(&mut out, chars[i]);
                i += 1;
            }
            for _ in 0..=hashes.min(n.saturating_sub(i)) {
                if i < n {
                    out.push(chars[i]);
                    i += 1;
                }
            }
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < n && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < n {
                    blank_to(&mut out, chars[i]);
                    i += 1;
                }
            }
            if i < n {
                out.push('"');
                i += 1;
            }
        } else if c == '\'' && (at(i + 1) == '\\' || (at(i + 2) == '\'' && at(i + 1) != '\'')) {
            // a character literal ('x', '\n', '\u{1F600}'), not a lifetime
            out.push('\'');
            i += 1;
            if chars[i] == '\\' {
                out.push_str("  ");
                i += 2;
            }
            while i < n && chars[i] != '\'' {
                blank_to(&mut out, chars[i]);
                i += 1;
            }
            if i < n {
                out.push('\'');
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// At a raw string literal (`r"`, `r#"`, `br##"`...), its number of `#`.
fn raw_string_at(chars: &[char], i: usize) -> Option<usize> {
    let before = |k: usize| i.checked_sub(k).map(|j| chars[j]);
    let starts = chars[i] == 'r'
        && (before(1).is_none_or(|c| !is_ident(c))
            || (before(1) == Some('b') && before(2).is_none_or(|c| !is_ident(c))));
    if !starts {
        return None;
    }
    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
    (chars.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

/// The code with every item under `#[cfg(test)]` blanked (a module, a function, a `use`...),
/// and the names of the modules so declared in files of their own (`#[cfg(test)] mod tests;`).
pub fn without_test_items(code: &str) -> (String, Vec<String>) {
    let attribute = regex(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]");
    let declared = regex(r"^\s*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(\w+)\s*;");
    let mut out: Vec<char> = code.chars().collect();
    let text: Vec<char> = out.clone();
    let mut children = Vec::new();
    let mut done = 0;
    // offsets in chars: the code may hold non-ASCII identifiers
    let starts: Vec<(usize, usize)> = attribute
        .find_iter(code)
        .map(|m| (code[..m.start()].chars().count(), code[..m.end()].chars().count()))
        .collect();
    for (start, after) in starts {
        if start < done {
            continue;
        }
        let end = item_end(&text, after);
        let item: String = text[after..end].iter().collect();
        let item = regex(r"^\s*(?:#\s*\[[^\]]*\]\s*)*").replace(&item, "").into_owned();
        if let Some(m) = declared.captures(&item) {
            children.push(m[1].to_string());
        }
        for c in &mut out[start..end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        done = end;
    }
    (out.into_iter().collect(), children)
}

/// Where the item starting at `from` ends: after its `;` or its closing `}` at depth 0 (or at
/// the `,` after a field or a variant; at the `}` of what holds it).
fn item_end(text: &[char], from: usize) -> usize {
    let mut depth = 0i32;
    let mut brackets = 0i32;
    let mut i = from;
    while i < text.len() {
        match text[i] {
            '[' | '(' => brackets += 1,
            ']' | ')' => brackets -= 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return i;
                }
                if depth == 0 && brackets == 0 {
                    return i + 1;
                }
            }
            ';' | ',' if depth == 0 && brackets == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    text.len()
}
