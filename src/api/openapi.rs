//! `GET /openapi.json`: the OpenAPI 3.1 description of the whole HTTP API (operations, watcher,
//! management API, flagd sync and OFREP), written by hand in `openapi.json` and served as is,
//! without a token.
//!
//! The tests below keep it honest: it parses, every `$ref` resolves, and every route registered
//! in `src/api` is documented with its methods (and nothing else is).

use super::AppState;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The document, exactly as served.
pub(crate) const DOCUMENT: &str = include_str!("openapi.json");

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(document))
}

async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::DOCUMENT;
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};

    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
    }

    /// Every `(path, method)` registered in `src/api/*.rs`: the first argument of each route call,
    /// with the method routers (`get(..)`, `post(..)`, ...) found inside the same call. The
    /// folder is read at run time, so a new file with routes is covered too.
    fn registered_routes() -> BTreeMap<String, BTreeSet<String>> {
        let start = regex::Regex::new(r#"\.route\(\s*"([^"]*)""#).unwrap();
        let method = regex::Regex::new(r"\b(get|put|post|delete|options|head|patch|trace)\s*\(").unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
        let mut routes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Comments may quote route calls; only code registers routes.
            let code: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{l}\n"))
                .collect();
            for m in start.captures_iter(&code) {
                let whole = m.get(0).unwrap();
                // The call runs from its opening parenthesis to the matching closing one.
                let open = whole.start() + ".route".len();
                let mut depth = 0usize;
                let mut end = code.len();
                for (i, c) in code[open..].char_indices() {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                end = open + i;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let call = &code[whole.end()..end];
                let methods: BTreeSet<String> = method.captures_iter(call).map(|c| c[1].to_owned()).collect();
                assert!(
                    !methods.is_empty(),
                    "{}: no method found in route {}",
                    path.display(),
                    &m[1]
                );
                // axum's `{param}` captures are OpenAPI's path templates already.
                routes.entry(m[1].to_owned()).or_default().extend(methods);
            }
        }
        routes
    }

    fn documented_routes(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
        doc["paths"]
            .as_object()
            .expect("paths is an object")
            .iter()
            .map(|(path, item)| {
                let methods = item
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| METHODS.contains(&k.as_str()))
                    .cloned()
                    .collect();
                (path.clone(), methods)
            })
            .collect()
    }

    /// Every `$ref` in the document, with where it was found.
    fn refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "$ref"
                        && let Some(r) = x.as_str()
                    {
                        out.push((at.clone(), r));
                    }
                    refs(x, format!("{at}/{k}"), out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    refs(x, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    /// Follows a local reference (`#/components/...`), through any chain of `$ref`s.
    fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
        let mut v = v;
        for _ in 0..16 {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => v = doc.pointer(r.strip_prefix('#').unwrap()).unwrap(),
                None => return v,
            }
        }
        panic!("reference cycle");
    }

    #[test]
    fn the_document_is_openapi_3_1_and_names_this_version() {
        let doc = document();
        let version = doc["openapi"].as_str().unwrap();
        assert!(version.starts_with("3.1"), "{version}");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(doc["components"]["schemas"].is_object());
    }

    #[test]
    fn every_ref_resolves_inside_the_document() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, "#".into(), &mut found);
        assert!(found.len() > 100, "expected components to be reused by $ref");
        for (at, r) in found {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{at}: `{r}` is not a local reference"));
            assert!(doc.pointer(pointer).is_some(), "{at}: `{r}` does not resolve");
        }
    }

    #[test]
    fn every_registered_route_is_documented_with_its_methods_and_nothing_else() {
        let doc = document();
        let registered = registered_routes();
        let documented = documented_routes(&doc);
        // A sanity floor: the scan must have found the routers.
        assert!(registered.len() >= 29, "found only {registered:?}");
        for (path, methods) in &registered {
            let Some(doc_methods) = documented.get(path) else {
                panic!("route {path} ({methods:?}) is not under `paths` in openapi.json");
            };
            for m in methods {
                assert!(doc_methods.contains(m), "{m} {path} is not documented in openapi.json");
            }
        }
        for (path, methods) in &documented {
            let Some(reg) = registered.get(path) else {
                panic!("openapi.json documents {path}, which no router registers");
            };
            for m in methods {
                assert!(
                    reg.contains(m),
                    "openapi.json documents {m} {path}, which is not registered"
                );
            }
        }
    }

    #[test]
    fn every_operation_declares_its_path_parameters_responses_and_scope() {
        let doc = document();
        let template = regex::Regex::new(r"\{([^}]+)\}").unwrap();
        let mut operation_ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            let wanted: BTreeSet<&str> = template
                .captures_iter(path)
                .map(|c| c.get(1).unwrap().as_str())
                .collect();
            for (method, op) in item.as_object().unwrap() {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                let params = item["parameters"]
                    .as_array()
                    .into_iter()
                    .chain(op["parameters"].as_array())
                    .flatten()
                    .map(|p| resolve(&doc, p));
                let declared: BTreeSet<&str> = params
                    .filter(|p| p["in"] == "path")
                    .map(|p| {
                        assert_eq!(p["required"], true, "{method} {path}: path parameters are required");
                        p["name"].as_str().unwrap()
                    })
                    .collect();
                assert_eq!(declared, wanted, "{method} {path}: path parameters");
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}: operationId"));
                assert!(operation_ids.insert(id.to_owned()), "operationId {id} is used twice");
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path}: no success response"
                );
                // `security: []` means no token; otherwise the scope must be stated.
                let open = op["security"].as_array().is_some_and(|s| {
                    s.is_empty()
                        || s.iter()
                            .all(|r| r.as_object().unwrap().keys().all(|k| k == "ChannelToken"))
                });
                if !open {
                    assert!(
                        op.get("x-required-scope").is_some(),
                        "{method} {path}: needs a token but states no x-required-scope"
                    );
                    let description = op["description"].as_str().unwrap_or_default();
                    assert!(
                        description.contains("scope"),
                        "{method} {path}: the description should state the scope"
                    );
                }
            }
        }
    }

    #[test]
    fn the_stated_scopes_are_real_scopes() {
        let doc = document();
        let known: BTreeSet<&str> = crate::auth::Scope::ALL.iter().map(|s| s.as_str()).collect();
        let enumerated: BTreeSet<&str> = doc["components"]["schemas"]["Scope"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(enumerated, known);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let scopes: Vec<&str> = match op.get("x-required-scope") {
                    None => continue,
                    Some(Value::String(s)) => vec![s.as_str()],
                    Some(Value::Array(a)) => a.iter().map(|s| s.as_str().unwrap()).collect(),
                    Some(Value::Object(m)) => m.values().map(|s| s.as_str().unwrap()).collect(),
                    Some(other) => panic!("{method} {path}: x-required-scope {other}"),
                };
                for s in scopes {
                    assert!(known.contains(s), "{method} {path}: unknown scope {s}");
                }
            }
        }
    }
}
