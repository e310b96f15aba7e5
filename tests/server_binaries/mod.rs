//! Tests that start a private PostgreSQL server need its binaries (`initdb`, `pg_ctl`). On a
//! machine without them such a test is skipped, with a line saying so; in CI it fails, because
//! a suite that silently tests nothing must not pass there.

/// Whether `CI` (as every CI service sets it, usually to `true`) says this run is in CI: set to
/// anything but empty, `0` or `false`.
pub fn in_ci(ci: Option<&str>) -> bool {
    ci.is_some_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// What a test does when the server binaries are missing (`why`, the error naming what to
/// install): fails in CI, else prints that it is skipped (the caller then returns).
pub fn missing(why: &dyn std::fmt::Display) {
    if in_ci(std::env::var("CI").ok().as_deref()) {
        panic!("CI is set and this test cannot run: {why}");
    }
    eprintln!("skipping: {why} (with CI=true this is a failure)");
}

#[test]
fn ci_is_any_value_but_empty_0_or_false() {
    for set in ["true", "1", "yes", "TRUE"] {
        assert!(in_ci(Some(set)), "{set}");
    }
    for unset in [None, Some(""), Some("0"), Some("false"), Some("False")] {
        assert!(!in_ci(unset), "{unset:?}");
    }
}
