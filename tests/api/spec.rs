//! The committed OpenAPI document (`openapi.json`) is the API's contract: this test fails when the
//! code and the file disagree. `UPDATE_SPEC=1 cargo test --test api spec` rewrites the file.

#[tokio::test]
async fn the_committed_spec_matches_the_code() {
    // the handlers never run here: a pool that never connects is enough
    let pool = sqlx::PgPool::connect_lazy("postgres://localhost/unused").unwrap();
    let spec = boxoffice::http::spec_json(&pool);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    if std::env::var_os("UPDATE_SPEC").is_some() {
        std::fs::write(path, &spec).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(committed == spec, "openapi.json is stale: run `UPDATE_SPEC=1 cargo test --test api spec` and commit it");
}

/// Two `OpenApi` impls declaring the same path write its key twice; a JSON reader keeps one, so
/// the other path's methods vanish from the document (and clients are told they are not allowed).
#[test]
fn every_path_is_written_once_in_the_document() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    let mut seen = std::collections::HashSet::new();
    let repeated: Vec<&str> = spec
        .lines()
        .filter(|l| l.starts_with("    \"/") && l.trim_end().ends_with('{'))
        .filter(|l| !seen.insert(*l))
        .collect();
    assert!(repeated.is_empty(), "paths written twice: {repeated:?}");
}
