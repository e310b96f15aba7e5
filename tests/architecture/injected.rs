//! Each check on a small source text with one planted violation (reported) and on the same
//! text without it (not reported): a check that cannot fail is no check.

use crate::LAYERS;
use crate::deps::{find_cycle, graph, layer_violations, references};
use crate::rules::{sql_outside_db, states_as_strings};
use crate::source::Source;

fn file(path: &str, text: &str) -> Source {
    Source::new(path, text)
}

/// The layer check over `files` in a crate that has every layer's module.
fn layers(files: &[Source]) -> Vec<String> {
    let mut crate_files: Vec<Source> = LAYERS.iter().map(|(top, _)| file(&format!("src/{top}/mod.rs"), "")).collect();
    crate_files.extend(files.iter().map(|f| file(&f.path, &f.text)));
    layer_violations(&crate_files, LAYERS)
}

#[test]
fn code_after_a_test_module_is_read_and_the_test_module_is_not() {
    let after = "#[cfg(test)]\nmod tests {\n    use crate::db::x;\n}\n\nuse crate::db::y;\n";
    assert_eq!(layers(&[file("src/http/a.rs", after)]), ["http -> db"]);
    let only_in_tests = "fn f() {}\n\n#[cfg(test)]\nmod tests {\n    use crate::db::x;\n}\n\nfn g() {}\n";
    assert_eq!(layers(&[file("src/http/a.rs", only_in_tests)]), Vec::<String>::new());
    // the line numbers of what follows a test module are kept
    let sql = "#[cfg(test)]\nmod tests {\n    fn t() {}\n}\n\nfn f() { sqlx::query(\"select 1\"); }\n";
    assert_eq!(
        sql_outside_db(&[file("src/services/a.rs", sql)]),
        ["src/services/a.rs:6: fn f() { sqlx::query(\"select 1\"); }"]
    );
}

#[test]
fn a_test_module_in_a_file_of_its_own_is_named_to_be_left_out() {
    let parent = file("src/domain/hall.rs", "pub fn f() {}\n\n#[cfg(test)]\nmod tests;\n\npub fn g() {}\n");
    assert_eq!(parent.test_children(), ["tests"]);
    assert!(parent.code.contains("pub fn g()"), "{}", parent.code);
    assert_eq!(file("src/domain/hall.rs", "mod layout;\n").test_children(), Vec::<String>::new());
}

#[test]
fn comments_and_strings_are_not_code() {
    let text = "//! uses crate::db::x\n/* crate::db::y */\nconst A: &str = \"crate::db::z\";\nconst B: &str = r#\"crate::db::w\"#;\nconst C: char = '\"';\nfn f<'a>(x: &'a str) {}\n";
    assert_eq!(layers(&[file("src/http/a.rs", text)]), Vec::<String>::new());
    let planted = format!("{text}use crate::db::v;\n");
    assert_eq!(layers(&[file("src/http/a.rs", &planted)]), ["http -> db"]);
}

#[test]
fn a_use_tree_over_several_lines_is_read_path_by_path() {
    let text = "use crate::{\n    domain::Role,\n    services::{\n        self,\n        writer::Writer,\n    },\n    db::reservations,\n};\n";
    let found = references(&file("src/http/a.rs", text));
    let paths: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(paths, ["db::reservations", "domain::Role", "services", "services::writer::Writer"]);
    assert_eq!(layers(&[file("src/http/a.rs", text)]), ["http -> db"]);
    assert_eq!(layers(&[file("src/http/a.rs", &text.replace("    db::reservations,\n", ""))]), Vec::<String>::new());
}

#[test]
fn super_and_self_paths_are_resolved() {
    let found =
        references(&file("src/http/a/b.rs", "use super::super::super::db::x;\nuse self::c::d;\nuse super::e;\n"));
    let paths: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(paths, ["db::x", "http::a::b::c::d", "http::a::e"]);
}

#[test]
fn a_re_export_hands_its_layer_to_whoever_uses_the_re_exporter() {
    // http never names db: it uses a services module that re-exports a db item
    let user = file("src/http/a.rs", "use crate::services::b;\nfn f(x: b::Row) {}\n");
    let re_exporting = file("src/services/b.rs", "pub use crate::db::rows::Row;\n");
    let broken = layers(&[user, re_exporting]);
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(
        broken[0].starts_with("http -> db through services, which re-exports it: src/services/b.rs:1"),
        "{broken:?}"
    );
    let user = file("src/http/a.rs", "use crate::services::b;\nfn f(x: b::Row) {}\n");
    let private = file("src/services/b.rs", "use crate::db::rows::Row;\npub struct Own(Row);\n");
    assert_eq!(layers(&[user, private]), Vec::<String>::new());
    // a re-export of a re-export
    let chain = [
        file("src/jobs/a.rs", "use crate::services::b::Row;\n"),
        file("src/services/b.rs", "pub(crate) use crate::import::c::Row;\n"),
        file("src/import/c.rs", "pub use crate::db::{\n    rows::Row,\n};\n"),
    ];
    assert!(layers(&chain).iter().any(|b| b.starts_with("jobs -> db through import")), "{:?}", layers(&chain));
}

#[test]
fn a_cycle_is_found() {
    let a = file("src/services/a.rs", "use super::b::B;\n");
    let b = file("src/services/b.rs", "use crate::services::a::A;\n");
    assert_eq!(
        find_cycle(&graph(&[a, b], 2)),
        Some(vec!["services::a".into(), "services::b".into(), "services::a".into()])
    );
    let a = file("src/services/a.rs", "use super::b::B;\n");
    let b = file("src/services/b.rs", "pub struct B;\n");
    assert_eq!(find_cycle(&graph(&[a, b], 2)), None);
}

#[test]
fn every_way_of_running_sql_outside_db_is_found() {
    let planted = [
        "sqlx::query(\"select 1\")",
        "sqlx::query_as::<_, (i64, Vec<u8>)>(\"select 1\")",
        "sqlx::query_as_with(\"select 1\", args)",
        "sqlx::query_scalar_with(\"select 1\", args)",
        "query(\"select 1\")",
        "sqlx::query!(\"select 1\")",
        "query_as!(Row, \"select 1\")",
        "QueryBuilder::<Postgres>::new(\"select \")",
        "sqlx::raw_sql(\"select 1\")",
        "conn.execute(\"set local lock_timeout = 0\")",
        "tx.fetch_one(r#\"select 1\"#)",
    ];
    for call in planted {
        let text = format!("fn f() {{\n    let q = {call};\n}}\n");
        assert_eq!(sql_outside_db(&[file("src/services/a.rs", &text)]).len(), 1, "{call} was not found");
        assert_eq!(sql_outside_db(&[file("src/db/a.rs", &text)]), Vec::<String>::new(), "{call} is at home in db");
    }
    let clean =
        "use sqlx::PgPool;\nfn f(url: Url) { let q = url.query(); db::x::query_all(&pool); pool.execute(query); }\n";
    assert_eq!(sql_outside_db(&[file("src/services/a.rs", clean)]), Vec::<String>::new());
}

#[test]
fn a_value_compared_with_a_string_is_found_whatever_its_name() {
    let planted = [
        "if scope == \"key\" { 1 } else { 2 }",
        "if \"key\" == scope { 1 } else { 2 }",
        "if x.kind.as_deref() != Some(\"a\") { 1 } else { 2 }",
        "match scope {\n        \"key\" => 1,\n        _ => 2,\n    }",
        "match who.as_str() {\n        \"a\" | \"b\" => 1,\n        _ => 2,\n    }",
        "match x {\n        Some(\"a\") => 1,\n        _ => 2,\n    }",
        "u8::from(matches!(scope, \"ip\" | \"key\"))",
    ];
    for expr in planted {
        let text = format!("fn f(scope: &str) -> u8 {{\n    {expr}\n}}\n");
        let found = states_as_strings(&[file("src/http/a.rs", &text)], &[]);
        assert_eq!(found.len(), 1, "{expr}: {found:?}");
        let allowed = [("src/http/a.rs", "scope", "test words"), ("src/http/a.rs", "x.kind.as_deref()", "test words")];
        let allowed_too = [("src/http/a.rs", "who.as_str()", "test words"), ("src/http/a.rs", "x", "test words")];
        let all: Vec<_> = allowed.iter().chain(&allowed_too).copied().collect();
        assert_eq!(states_as_strings(&[file("src/http/a.rs", &text)], &all), Vec::<String>::new(), "{expr}");
    }
    let clean = "fn f(s: Scope) -> &'static str {\n    if s == Scope::Key { \"k\" } else { \"i\" };\n    match s {\n        Scope::Key => \"key\",\n        Scope::Ip => \"ip\",\n    }\n}\n";
    assert_eq!(states_as_strings(&[file("src/http/a.rs", clean)], &[]), Vec::<String>::new());
}

#[test]
fn a_state_typed_as_text_is_found_outside_http() {
    let text = "pub struct Row {\n    pub status: String,\n}\n";
    assert_eq!(states_as_strings(&[file("src/services/a.rs", text)], &[]).len(), 1);
    assert_eq!(states_as_strings(&[file("src/http/a.rs", text)], &[]), Vec::<String>::new(), "the edge writes text");
    let typed = "pub struct Row {\n    pub status: ReservationStatus,\n}\n";
    assert_eq!(states_as_strings(&[file("src/services/a.rs", typed)], &[]), Vec::<String>::new());
}
