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

/// The keys of the document's `paths` object as written, duplicates included (a JSON reader
/// building a map keeps only one of each).
fn path_keys(spec: &str) -> Vec<String> {
    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

    struct Keys(Vec<String>);
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Each;
            impl<'de> Visitor<'de> for Each {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("the paths object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<IgnoredAny>()?;
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(Each)
        }
    }
    #[derive(serde::Deserialize)]
    struct Document {
        paths: Keys,
    }
    serde_json::from_str::<Document>(spec).expect("an OpenAPI document with paths").paths.0
}

/// The paths written more than once.
fn repeated(keys: &[String]) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    keys.iter().filter(|k| !seen.insert(k.as_str())).map(String::as_str).collect()
}

/// Two `OpenApi` impls declaring the same path write its key twice; a JSON reader keeps one, so
/// the other path's methods vanish from the document (and clients are told they are not allowed).
#[test]
fn every_path_is_written_once_in_the_document() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    let keys = path_keys(&spec);
    assert!(keys.iter().any(|k| k == "/events"), "the paths were not read: {keys:?}");
    assert_eq!(repeated(&keys), Vec::<&str>::new(), "paths written twice");
}

#[test]
fn a_path_written_twice_is_found_however_the_document_is_laid_out() {
    let twice = r#"{"openapi": "3.0.0", "paths": {"/a": {"get": {}}, "/b": {}, "/a": {"post": {}}}}"#;
    assert_eq!(repeated(&path_keys(twice)), ["/a"]);
    assert_eq!(repeated(&path_keys(r#"{"paths": {"/a": {}, "/b": {"/a": 1}}}"#)), Vec::<&str>::new());
}
