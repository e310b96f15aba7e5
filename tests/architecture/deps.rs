//! Who depends on whom: the paths each file names (in `use` trees over as many lines as they
//! take, and in code), the re-exports that hand one module's items out through another, the
//! graph between modules, its cycles and the layers it breaks.

use std::collections::{BTreeMap, BTreeSet};

use crate::source::{Source, regex};

/// The module paths a file names, absolute: `crate::a::b`, `super::b`, `self::b` resolved, each
/// path of a `use` tree (`crate::a::{b, c::{self, d}}`) on its own.
pub fn references(file: &Source) -> BTreeSet<Vec<String>> {
    let start = regex(r"\b(?:crate|super|self)\s*::");
    let mut found = BTreeSet::new();
    let mut done = 0;
    for m in start.find_iter(&file.code) {
        let before = file.code[..m.start()].trim_end();
        if m.start() < done || before.ends_with("::") {
            continue; // inside a path already read, or `x::self`
        }
        let (paths, end) = paths_at(&file.module, &file.code, m.start());
        found.extend(paths);
        done = end;
    }
    found
}

/// The paths of the `use` tree or path at `at` (which starts with `crate`, `super` or `self`),
/// and where it ends.
pub fn paths_at(module: &[String], code: &str, at: usize) -> (Vec<Vec<String>>, usize) {
    let mut reader = Reader { code: code.as_bytes(), at };
    let mut base: Vec<String> = match reader.ident().as_deref() {
        Some("crate") => vec![],
        Some("self") => module.to_vec(),
        // the parent module, whether the file is `a/mod.rs` (module `a`) or `a/b.rs`
        Some("super") => module[..module.len().saturating_sub(1)].to_vec(),
        _ => return (vec![], at + 1),
    };
    while reader.double_colon() {
        let mark = reader.at;
        if reader.ident().as_deref() == Some("super") {
            base.pop();
        } else {
            reader.at = mark;
            break;
        }
    }
    let paths = if reader.at > at && code[..reader.at].ends_with("::") { reader.tree(base) } else { vec![base] };
    (paths, reader.at)
}

struct Reader<'a> {
    code: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn skip_space(&mut self) {
        while self.at < self.code.len() && self.code[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.code.get(self.at).copied()
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_space();
        let start = self.at;
        while self.at < self.code.len() && (self.code[self.at].is_ascii_alphanumeric() || self.code[self.at] == b'_') {
            self.at += 1;
        }
        (self.at > start).then(|| String::from_utf8_lossy(&self.code[start..self.at]).into_owned())
    }

    /// Reads `::` (not `::<`, a turbofish ends a path).
    fn double_colon(&mut self) -> bool {
        let mark = self.at;
        self.skip_space();
        if self.code[self.at..].starts_with(b"::") {
            self.at += 2;
            if self.peek() != Some(b'<') {
                return true;
            }
        }
        self.at = mark;
        false
    }

    /// The paths of a use tree after `prefix::`: `name`, `name::tree`, `self`, `*`, `{tree, ...}`.
    fn tree(&mut self, prefix: Vec<String>) -> Vec<Vec<String>> {
        match self.peek() {
            Some(b'{') => {
                self.at += 1;
                let mut paths = Vec::new();
                while let Some(c) = self.peek() {
                    match c {
                        b'}' => {
                            self.at += 1;
                            break;
                        }
                        b',' => self.at += 1,
                        _ => {
                            let before = self.at;
                            paths.extend(self.tree(prefix.clone()));
                            if self.at == before {
                                self.at += 1; // not a tree: step over it
                            }
                        }
                    }
                }
                paths
            }
            Some(b'*') => {
                self.at += 1;
                vec![prefix]
            }
            _ => match self.ident() {
                Some(name) if name == "self" => vec![prefix],
                Some(name) => {
                    let mut path = prefix;
                    path.push(name);
                    if self.double_colon()
                        && matches!(self.peek(), Some(b'{' | b'*' | b'_' | b'a'..=b'z' | b'A'..=b'Z'))
                    {
                        self.tree(path)
                    } else {
                        vec![path]
                    }
                }
                None => vec![prefix],
            },
        }
    }
}

/// A `pub use` that hands another module's item out as the re-exporting module's own.
pub struct ReExport {
    /// The module that re-exports.
    pub module: Vec<String>,
    /// What it re-exports, absolute.
    pub target: Vec<String>,
    /// `src/services/idempotency.rs:8: pub use crate::db::...`
    pub at: String,
}

/// The re-exports of a file (`pub use`, `pub(crate) use`... of a `crate`, `super` or `self` path).
pub fn re_exports(file: &Source) -> Vec<ReExport> {
    let public_use = regex(r"\bpub\s*(?:\([^)]*\))?\s*use\s+");
    let mut found = Vec::new();
    for m in public_use.find_iter(&file.code) {
        for target in paths_at(&file.module, &file.code, m.end()).0 {
            found.push(ReExport { module: file.module.clone(), target, at: file.at(m.start()) });
        }
    }
    found
}

/// The top-level modules of the crate (`db`, `services`...).
fn known(files: &[Source]) -> BTreeSet<String> {
    files.iter().filter_map(|f| f.top().map(str::to_string)).collect()
}

/// The dependency graph between modules cut at `depth` (1: `services`; 2: `services::writer`).
pub fn graph(files: &[Source], depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let known = known(files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files.iter().filter(|f| !f.module.is_empty()) {
        let from = file.module[..file.module.len().min(depth)].join("::");
        for target in references(file) {
            if target.first().is_none_or(|top| !known.contains(top)) {
                continue;
            }
            let to = target[..target.len().min(depth)].join("::");
            if to != from && !from.starts_with(&format!("{to}::")) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

/// A cycle in the graph, as `a -> b -> a`, if there is one.
pub fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|start| visit(start, edges, &mut done, &mut Vec::new()))
}

/// The dependencies against `forbidden` (`(from, [to...])`), direct or through re-exports.
///
/// A module that re-exports another's items (`pub use crate::db::X` in `services`) hands them
/// out as its own: whoever may use it can reach them by any path (`services::idempotency::X`, or
/// `services::*` and a name). So a re-export counts as a dependency of every module that
/// depends on the re-exporter, whatever that module names; re-exports of re-exports too.
pub fn layer_violations(files: &[Source], forbidden: &[(&str, &[&str])]) -> Vec<String> {
    let edges = graph(files, 1);
    let known = known(files);
    let mut handed: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new(); // top -> (target top, at)
    for file in files {
        for r in re_exports(file) {
            let (Some(from), Some(to)) = (r.module.first(), r.target.first()) else { continue };
            if from != to && known.contains(to) {
                handed.entry(from.clone()).or_default().push((to.clone(), r.at));
            }
        }
    }
    let mut broken = Vec::new();
    for (from, targets) in forbidden {
        for to in edges.get(*from).into_iter().flatten() {
            if targets.contains(&to.as_str()) {
                broken.push(format!("{from} -> {to}"));
            }
            // what `to` hands out, and what that hands out in turn
            let mut seen = BTreeSet::from([to.clone()]);
            let mut next = vec![to.clone()];
            while let Some(via) = next.pop() {
                for (reached, at) in handed.get(&via).into_iter().flatten() {
                    if targets.contains(&reached.as_str()) {
                        broken.push(format!("{from} -> {reached} through {via}, which re-exports it: {at}"));
                    }
                    if seen.insert(reached.clone()) {
                        next.push(reached.clone());
                    }
                }
            }
        }
    }
    broken.sort();
    broken.dedup();
    broken
}
