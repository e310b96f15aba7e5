//! SQL lives in `db`; states are compared as the enums of `domain`, never as text.

use regex::Regex;

use crate::source::{Source, regex};

/// Calls that run SQL outside `db` (and `devdb`, which drives its own server): sqlx's query
/// functions however they are named (`sqlx::query`, a bare `query(` after `use sqlx::query`,
/// the `_with` forms, with a turbofish or not), its macros, `QueryBuilder`, `raw_sql`, and an
/// executor method handed a literal (`conn.execute("...")`).
pub fn sql_outside_db(files: &[Source]) -> Vec<String> {
    let patterns = [
        r"(?:^|[^.\w])(?:sqlx\s*::\s*)?(?:query|query_as|query_scalar|query_with|query_as_with|query_scalar_with|raw_sql)\s*(?:::\s*<.*?>\s*)?\(",
        r"\b(?:query|query_as|query_scalar|query_file|query_file_as|query_file_scalar)(?:_unchecked)?\s*!",
        r"\bQueryBuilder\b",
        r#"\.\s*(?:execute|execute_many|fetch|fetch_one|fetch_all|fetch_optional|fetch_many|prepare|describe)\s*\(\s*(?:r#*|b)?""#,
    ];
    let patterns: Vec<Regex> = patterns.iter().map(|p| Regex::new(p).unwrap()).collect();
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !matches!(f.top(), Some("db" | "devdb"))) {
        for pattern in &patterns {
            found.extend(pattern.find_iter(&file.code).map(|m| file.at(m.start())));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Text from outside the program, compared as text on purpose: (file, the expression compared,
/// whose words they are). Anything else compared with a string literal is taken for a state.
pub const OUTSIDE_WORDS: &[(&str, &str, &str)] = &[
    ("src/config.rs", "self.rate_limit_per_ip.trim()", "an environment variable's value"),
    ("src/domain/auth.rs", "s", "a role's name, parsed into `Role`"),
    ("src/domain/auth.rs", "w.trim()", "a rate window's unit, parsed"),
    ("src/domain/queue.rs", "u.scheme()", "a return URL's scheme"),
    ("src/http/idempotency.rs", "key.to_str()", "the Idempotency-Key header"),
    ("src/services/error.rs", "db.code().as_deref()", "SQLSTATE codes"),
    ("src/services/error.rs", "db.constraint()", "the schema's constraint names"),
    ("src/services/error.rs", "constraint", "the schema's constraint names"),
    ("src/http/error.rs", "found", "poem-openapi's parse errors"),
    ("src/http/error.rs", "expected", "poem-openapi's parse errors"),
    ("src/http/error.rs", "ty", "poem-openapi's parse errors"),
    ("src/http/error.rs", "name", "poem-openapi's validator names"),
    ("src/http/middleware.rs", "path", "request paths"),
    ("src/jobs/guard.rs", "what", "apalis job type names"),
    ("src/devdb.rs", "text.trim()", "a PostgreSQL tool's output"),
    ("src/notifications/webhook.rs", "url.scheme()", "URL schemes"),
];

/// Where a value is compared with a string literal, whatever its name: `x == "held"` (either
/// way round, or with `Some("held")`), a `match` or `matches!` with string patterns. `allowed`
/// lists the texts from outside (see [`OUTSIDE_WORDS`]). Outside `http` (the edge writes states
/// out as the API's strings), a state typed as text (`pub status: String`) is reported too.
pub fn states_as_strings(files: &[Source], allowed: &[(&str, &str, &str)]) -> Vec<String> {
    let literal = r#"(?:Some\s*\(\s*)?(?:b|r#*)?""#;
    let compared_right = Regex::new(&format!(r"(?:==|!=)\s*{literal}")).unwrap();
    let compared_left = regex(r#""\s*\)?\s*(?:==|!=)"#);
    let typed_as_text = regex(r"pub\s+(?:status|state|role|delivery_state)\s*:\s*(?:Option\s*<\s*)?String");
    let mut found = Vec::new();
    for file in files {
        let allows = |expr: &str| allowed.iter().any(|(path, e, _)| *path == file.path && *e == expr.trim());
        let code = file.code.as_str();
        for m in compared_right.find_iter(code) {
            let expr = operand_before(code, m.start());
            if !allows(expr) {
                found.push(format!("{} (`{expr}`)", file.at(m.start())));
            }
        }
        for m in compared_left.find_iter(code) {
            // the closing quote of a literal (the opening one is followed by its blanked inside)
            let opening = code[..m.start()].rfind('"');
            let is_literal = opening.is_some_and(|o| code[o + 1..m.start()].chars().all(|c| c == ' '));
            let expr = operand_after(code, m.end());
            if is_literal && !allows(expr) {
                found.push(format!("{} (`{expr}`)", file.at(m.start())));
            }
        }
        for (at, expr) in string_matches(code) {
            if !allows(&expr) {
                found.push(format!("{} (`{expr}`)", file.at(at)));
            }
        }
        if file.top() != Some("http") {
            found.extend(typed_as_text.find_iter(code).map(|m| file.at(m.start())));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The expression that ends just before `end` (`db.code().as_deref()` in `&& db.code().as_deref() ==`).
fn operand_before(code: &str, end: usize) -> &str {
    let bytes = code.as_bytes();
    let mut i = code[..end].trim_end().len();
    let stop = i;
    while i > 0 {
        let c = bytes[i - 1];
        if c == b')' || c == b']' {
            let (open, close) = if c == b')' { (b'(', b')') } else { (b'[', b']') };
            let mut depth = 0;
            while i > 0 {
                i -= 1;
                if bytes[i] == close {
                    depth += 1;
                } else if bytes[i] == open {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
        } else if c.is_ascii_alphanumeric() || b"_.:?&*".contains(&c) {
            i -= 1;
        } else {
            break;
        }
    }
    code[i..stop].trim_start_matches(['&', '*'])
}

/// The expression that starts at `start` (`scope` in `== scope {`).
fn operand_after(code: &str, start: usize) -> &str {
    let rest = code[start..].trim_start();
    let from = code.len() - rest.len();
    let bytes = code.as_bytes();
    let mut i = from;
    let mut depth = 0;
    while i < code.len() {
        let c = bytes[i];
        match c {
            b'(' | b'[' => depth += 1,
            b')' | b']' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ if c.is_ascii_alphanumeric() || b"_.:?&*".contains(&c) => {}
            _ => break,
        }
        i += 1;
    }
    code[from..i].trim_start_matches(['&', '*'])
}

/// `match x { "a" => .. }` and `matches!(x, "a" | ..)`: where each is, with the value matched.
fn string_matches(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for m in regex(r"\bmatch\s+").find_iter(code) {
        // the value matched, up to the `{` outside parentheses; then where each arm starts
        let Some(open) = brace_after(code, m.end()) else { continue };
        let expr = code[m.end()..open].trim().to_string();
        let mut depth = 0;
        let mut close = code.len();
        let mut arms = vec![open + 1];
        for (k, c) in code[open..].char_indices() {
            let i = open + k;
            match c {
                '{' | '(' | '[' => depth += 1,
                '}' | ')' | ']' => {
                    depth -= 1;
                    if depth == 0 {
                        close = i;
                        break;
                    }
                    if depth == 1 && c == '}' {
                        arms.push(i + 1);
                    }
                }
                ',' if depth == 1 => arms.push(i + 1),
                _ => {}
            }
        }
        for start in arms {
            let arm = &code[start..close];
            let Some(to) = arm.find("=>") else { continue };
            let pattern = arm[..to].split(" if ").next().unwrap_or_default();
            if pattern.contains('"') {
                found.push((start + (arm.len() - arm.trim_start().len()), expr.clone()));
            }
        }
    }
    for m in regex(r"\bmatches!\s*\(").find_iter(code) {
        let rest = &code[m.end()..];
        let mut depth = 0;
        let comma = rest.char_indices().find(|&(_, c)| {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            }
            c == ',' && depth == 0
        });
        let Some((comma, _)) = comma else { continue };
        let pattern = &rest[comma..];
        let mut depth = 0;
        let end = pattern
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' => depth -= 1,
                    _ => {}
                }
                depth < 0
            })
            .map_or(pattern.len(), |(e, _)| e);
        if pattern[..end].split(" if ").next().unwrap_or_default().contains('"') {
            found.push((m.start(), rest[..comma].trim().to_string()));
        }
    }
    found
}

/// The `{` that opens the block of a `match` whose value starts at `from`.
fn brace_after(code: &str, from: usize) -> Option<usize> {
    let mut depth = 0;
    for (k, c) in code[from..].char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            '{' if depth == 0 => return Some(from + k),
            ';' if depth == 0 => return None,
            _ => {}
        }
    }
    None
}
