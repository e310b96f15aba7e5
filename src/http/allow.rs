//! The methods each path accepts, read from the OpenAPI document, so that a 405 says them in
//! `Allow` (RFC 9110 asks for it, and clients use it to correct themselves).

use std::sync::Arc;

/// Path templates (`/api/events/{id}`) and the methods each accepts.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods(Arc<Vec<(Vec<String>, String, String)>>);

impl AllowedMethods {
    /// From the document's `paths`, served under `prefix`.
    pub fn from_spec(spec: &str, prefix: &str) -> AllowedMethods {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut table = Vec::new();
        for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
            let segments = segments(&format!("{prefix}{path}"));
            let mut methods: Vec<String> =
                ops.as_object().into_iter().flatten().map(|(m, _)| m.to_uppercase()).collect();
            methods.sort();
            table.push((segments, methods.join(", "), format!("{prefix}{path}")));
        }
        AllowedMethods(Arc::new(table))
    }

    /// The methods of the template that matches `path` best (the most literal segments).
    pub fn for_path(&self, path: &str) -> Option<&str> {
        self.best(path).map(|(_, methods, _)| methods.as_str())
    }

    /// The template (`/api/events/{id}`) that matches `path` best: a route's name in metrics,
    /// where the path itself would carry ids (and be a label per buyer).
    pub fn template_of(&self, path: &str) -> Option<&str> {
        self.best(path).map(|(_, _, template)| template.as_str())
    }

    fn best(&self, path: &str) -> Option<&(Vec<String>, String, String)> {
        let wanted = segments(path);
        self.0
            .iter()
            .filter(|(template, _, _)| {
                template.len() == wanted.len()
                    && template.iter().zip(&wanted).all(|(t, w)| t == w || (t.starts_with('{') && !w.is_empty()))
            })
            .max_by_key(|(template, _, _)| template.iter().filter(|t| !t.starts_with('{')).count())
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_end_matches('/').split('/').map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_literal_template_answers() {
        let spec = r#"{"paths": {"/tickets/{code}": {"get": {}}, "/tickets/public-key": {"get": {}},
                      "/tickets/{code}/check-in": {"post": {}}, "/events/{id}": {"get": {}, "patch": {}}}}"#;
        let allowed = AllowedMethods::from_spec(spec, "/api");
        assert_eq!(allowed.for_path("/api/events/ev_1"), Some("GET, PATCH"));
        assert_eq!(allowed.for_path("/api/tickets/ABCD/check-in"), Some("POST"));
        assert_eq!(allowed.for_path("/api/tickets/public-key"), Some("GET"));
        assert_eq!(allowed.for_path("/api/nope"), None);
        assert_eq!(allowed.template_of("/api/tickets/ABCD/check-in"), Some("/api/tickets/{code}/check-in"));
        assert_eq!(allowed.template_of("/api/tickets/public-key"), Some("/api/tickets/public-key"));
    }
}
