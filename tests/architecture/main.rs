//! The walls of the house, checked over the source: modules depend on each other one way, SQL
//! lives in `db`, and states are compared as enums, not strings. A failure names the file and
//! the line (or the modules) to fix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// Every `.rs` file under `src`, with its module path (`services::writer`) and its text without
/// its `#[cfg(test)] mod tests`.
fn sources() -> Vec<(Vec<String>, PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let text = match text.find("#[cfg(test)]\nmod tests") {
                    Some(at) => text[..at].to_string(),
                    None => text,
                };
                files.push((module_of(&root, &path), path, text));
            }
        }
    }
    files.sort();
    files
}

fn module_of(root: &Path, path: &Path) -> Vec<String> {
    let relative = path.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The module paths a file refers to, absolute (`crate::a::b`, `super::b` resolved).
fn references(module: &[String], text: &str) -> BTreeSet<Vec<String>> {
    // `super` is the parent module, whether the file is `a/mod.rs` (module `a`) or `a/b.rs`
    let base_of_super: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
    let path = Regex::new(r"\b(crate|super)::((?:\w+::)*\w+|\{[^}]*\})").unwrap();
    let mut found = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for m in path.captures_iter(line) {
            let base = if &m[1] == "crate" { vec![] } else { base_of_super.clone() };
            let rest = &m[2];
            let heads: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
                group.trim_end_matches('}').split(',').map(|p| p.trim().to_string()).collect()
            } else {
                vec![rest.to_string()]
            };
            for head in heads.into_iter().filter(|h| !h.is_empty() && h != "self") {
                let mut full = base.clone();
                full.extend(head.split("::").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
                found.insert(full);
            }
        }
    }
    found
}

/// The dependency graph between modules cut at `depth` (1: `services`; 2: `services::writer`).
fn graph(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources();
    let known: BTreeSet<String> = files.iter().filter_map(|(m, _, _)| m.first().cloned()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, _, text) in &files {
        if module.is_empty() {
            continue;
        }
        let from = module[..module.len().min(depth)].join("::");
        for target in references(module, text) {
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
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
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

#[test]
fn top_level_modules_have_no_cycles() {
    let edges = graph(1);
    assert!(edges.contains_key("services"), "the scan found no dependencies: {edges:?}");
    if let Some(cycle) = find_cycle(&edges) {
        panic!("module cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn modules_within_a_layer_have_no_cycles() {
    if let Some(cycle) = find_cycle(&graph(2)) {
        panic!("module cycle: {}", cycle.join(" -> "));
    }
}

/// Dependencies point one way: edges (binaries, `http`, `jobs`, `import`) -> `services` ->
/// `db` -> `domain`. `notifications` are adapters (email, webhooks) over `domain`.
#[test]
fn layers_depend_only_downwards() {
    let forbidden: &[(&str, &[&str])] = &[
        ("domain", &["db", "services", "http", "jobs", "import", "notifications", "config"]),
        ("db", &["services", "http", "jobs", "import", "notifications"]),
        ("services", &["http", "jobs", "import", "server", "dev"]),
        ("notifications", &["db", "services", "http", "jobs"]),
        ("http", &["db", "jobs"]),
        ("jobs", &["db", "http"]),
    ];
    let edges = graph(1);
    let mut broken = Vec::new();
    for (from, targets) in forbidden {
        for to in edges.get(*from).into_iter().flatten() {
            if targets.contains(&to.as_str()) {
                broken.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(broken.is_empty(), "dependencies against the layers: {broken:?}");
}

#[test]
fn sql_is_only_in_db() {
    let query =
        Regex::new(r"\bsqlx::(query|query_as|query_scalar|query_with|raw_sql)\b|\bquery(_as|_scalar)?!\(").unwrap();
    let mut outside = Vec::new();
    for (module, path, text) in sources() {
        if module.first().is_some_and(|m| m == "db") || module.first().is_some_and(|m| m == "devdb") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if query.is_match(line) && !line.trim_start().starts_with("//") {
                outside.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(outside.is_empty(), "SQL outside src/db:\n{}", outside.join("\n"));
}

#[test]
fn no_state_is_compared_as_a_string() {
    // `status == "held"`, `state.as_deref() != Some("pending")`, `match s.status.as_str() {`...
    let compared =
        Regex::new(r#"(status|state|reason|role|kind)\w*(\.as_str\(\)|\.as_deref\(\))?\s*(==|!=)\s*(Some\()?""#)
            .unwrap();
    let matched = Regex::new(r"match\s+[\w.]*(status|state|reason|role|kind)\w*\.as_str\(\)").unwrap();
    let typed_as_text = Regex::new(r"pub (status|state|role|delivery_state): (Option<)?String").unwrap();
    let mut found = Vec::new();
    for (module, path, text) in sources() {
        // the HTTP edge writes states out as the API's strings
        let at_the_edge = module.first().is_some_and(|m| m == "http");
        for (n, line) in text.lines().enumerate() {
            let bad =
                compared.is_match(line) || matched.is_match(line) || (!at_the_edge && typed_as_text.is_match(line));
            if bad && !line.trim_start().starts_with("//") {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "states handled as strings (use the enums of `domain`):\n{}", found.join("\n"));
}
