//! The walls of the house, checked over the source: modules depend on each other one way, SQL
//! lives in `db`, and states are compared as enums, not strings. A failure names the file and
//! the line (or the modules) to fix.
//!
//! Every file is read whole, comments and the insides of strings blanked and `#[cfg(test)]`
//! items left out wherever they are (`source`); `injected` proves each check reports a violation
//! planted in a small source text, and passes the same text without it.

mod deps;
mod injected;
mod rules;
mod source;

use source::sources;

/// Dependencies point one way: edges (binaries, `http`, `jobs`, `import`) -> `services` ->
/// `db` -> `domain`. `notifications` are adapters (email, webhooks) over `domain`.
pub const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &["db", "services", "http", "jobs", "import", "notifications", "config"]),
    ("db", &["services", "http", "jobs", "import", "notifications"]),
    ("services", &["http", "jobs", "import", "server", "dev"]),
    ("notifications", &["db", "services", "http", "jobs"]),
    ("http", &["db", "jobs"]),
    ("jobs", &["db", "http"]),
];

#[test]
fn top_level_modules_have_no_cycles() {
    let edges = deps::graph(sources(), 1);
    assert!(edges.contains_key("services"), "the scan found no dependencies: {edges:?}");
    if let Some(cycle) = deps::find_cycle(&edges) {
        panic!("module cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn modules_within_a_layer_have_no_cycles() {
    if let Some(cycle) = deps::find_cycle(&deps::graph(sources(), 2)) {
        panic!("module cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn layers_depend_only_downwards_even_through_re_exports() {
    let broken = deps::layer_violations(sources(), LAYERS);
    assert!(broken.is_empty(), "dependencies against the layers:\n{}", broken.join("\n"));
}

#[test]
fn sql_is_only_in_db() {
    let outside = rules::sql_outside_db(sources());
    assert!(outside.is_empty(), "SQL outside src/db:\n{}", outside.join("\n"));
}

#[test]
fn no_state_is_compared_as_a_string() {
    let found = rules::states_as_strings(sources(), rules::OUTSIDE_WORDS);
    assert!(found.is_empty(), "states handled as strings (use the enums of `domain`):\n{}", found.join("\n"));
}

#[test]
fn every_outside_vocabulary_is_still_compared_where_it_is_listed() {
    // a listed exception the code no longer has would let a state compared there pass unseen
    let everything = rules::states_as_strings(sources(), &[]);
    for (path, expr, words) in rules::OUTSIDE_WORDS {
        let needle = format!("(`{expr}`)");
        assert!(
            everything.iter().any(|f| f.starts_with(&format!("{path}:")) && f.ends_with(&needle)),
            "{path} no longer compares `{expr}` ({words}) with a literal: take it off OUTSIDE_WORDS"
        );
    }
}
