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
