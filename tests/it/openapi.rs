//! The served OpenAPI document against the real server: every documented operation exists (never
//! the router's own 404 or 405) and answers a status the document lists for it.

use crate::helpers::{Env, spawn_app_with};
use serde_json::{Value, json};

const FLAGS: &str = r#"
flags:
  banner:
    state: ENABLED
    variants: { "on": true, "off": false }
    defaultVariant: "off"
"#;

/// Whether a body is one of our error shapes: the management API's `{"error": ...}` or OFREP's
/// `{"errorCode": ...}` / `{"errorDetails": ...}`. The router's own 404 has an empty body.
fn is_handler_error(body: &str) -> bool {
    serde_json::from_str::<Value>(body)
        .is_ok_and(|v| v.get("error").is_some() || v.get("errorCode").is_some() || v.get("errorDetails").is_some())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_operation_is_served_and_answers_a_documented_status() {
    let env = Env::new();
    std::fs::write(env.dir.path().join("flags/flags.yaml"), FLAGS).unwrap();
    let settings = env.settings();
    let store = signalbox::store::Store::open(&settings.database).await.unwrap();
    let admin = signalbox::auth::create_token(
        &store,
        "admin",
        &["admin".to_owned()],
        "production",
        &settings.serving.environments,
        "test",
    )
    .await
    .unwrap()
    .token;
    store.close().await;
    let mut run = spawn_app_with(settings).await;
    let http = reqwest::Client::new();

    // The document itself needs no token.
    let r = http.get(format!("{}/openapi.json", run.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );

    let template = regex::Regex::new(r"\{[^}]+\}").unwrap();
    let mut checked = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(verb) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue; // `parameters`, `summary`, ... of the path item
            };
            let concrete = template.replace_all(path, "1");
            // The SSE stream would not end: with a bad channel token it answers 401 at once.
            let events = path == "/ofrep/v1/events";
            let url = if events {
                format!("{}{concrete}?channel=not-a-channel", run.base)
            } else {
                format!("{}{concrete}", run.base)
            };
            let mut req = http.request(verb.clone(), &url).bearer_auth(&admin);
            if verb == reqwest::Method::POST {
                req = req.json(&json!({}));
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            let what = format!("{method} {concrete} answered {status}: {body:.200}");
            assert_ne!(
                status, 405,
                "{what}: the document names a method the router does not serve"
            );
            if status == 404 {
                assert!(
                    is_handler_error(&body),
                    "{what}: the router's own 404, so the document names a route that does not exist"
                );
            }
            let documented = op["responses"].as_object().unwrap();
            assert!(
                documented.contains_key(&status.to_string()) || documented.contains_key("default"),
                "{what}: not among the documented statuses {:?}",
                documented.keys().collect::<Vec<_>>()
            );
            if events {
                assert_eq!(status, 401, "{what}");
                assert!(is_handler_error(&body), "{what}");
            }
            checked.push(format!("{method} {path}"));
        }
    }
    assert!(checked.len() >= 30, "only {checked:?}");
    assert!(checked.iter().any(|c| c == "post /api/v1/decisions"), "{checked:?}");

    run.stop.take().unwrap().send(()).unwrap();
    run.handle.await.unwrap().unwrap();
}
