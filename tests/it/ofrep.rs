//! The flag API over real HTTP: the Rust OpenFeature OFREP provider, and raw requests for every
//! status, error code, the ETag rule and the SSE stream.

use crate::helpers::{Env, Running, spawn_app, spawn_app_with};
use open_feature::EvaluationContext;
use open_feature::provider::FeatureProvider;
use open_feature_ofrep::{OfrepOptions, OfrepProvider};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub const FLAGS: &str = r#"
flags:
  feature.banner:
    state: ENABLED
    variants: { "on": true, "off": false }
    defaultVariant: "off"
    targeting:
      if:
        - ends_with: [{ var: email }, "@acme.test"]
        - "on"
        - null
  greeting:
    state: ENABLED
    variants: { formal: "Good day", casual: "Hey" }
    defaultVariant: formal
    targeting:
      if:
        - in: [{ var: country }, [US, CA]]
        - casual
  max.items:
    state: ENABLED
    variants: { small: 10, large: 100 }
    defaultVariant: large
  temperature:
    state: ENABLED
    variants: { low: 0.2, high: 1.0 }
    defaultVariant: high
  route.chat:
    state: ENABLED
    variants:
      primary: { schema: ai-route/v1, enabled: true, targets: [{ provider: anthropic, model: claude-sonnet-4-5 }] }
      failover: { schema: ai-route/v1, enabled: true, targets: [{ provider: openai, model: gpt-4.1 }] }
    defaultVariant: primary
    metadata: { owner: platform-team, providers: [anthropic/claude-sonnet-4-5, openai/gpt-4.1], clientVisible: false }
  old.feature:
    state: DISABLED
    variants: { "on": true, "off": false }
    defaultVariant: "on"
  no.default:
    state: ENABLED
    variants: { a: "A", b: "B" }
    targeting:
      if:
        - ==: [{ var: plan }, "pro"]
        - a
  rollout:
    state: ENABLED
    variants: { "new": true, "old": false }
    defaultVariant: "old"
    targeting:
      fractional:
        - ["new", 50]
        - ["old", 50]
"#;

pub struct Flags {
    pub env: Env,
    pub run: Running,
    /// flags:read in production.
    pub app: String,
    /// briefs:write only.
    pub triage: String,
}

pub async fn start() -> Flags {
    let env = Env::new();
    std::fs::write(env.dir.path().join("flags/app.yaml"), FLAGS).unwrap();
    let store = signalbox::store::Store::open(&env.settings().database).await.unwrap();
    let envs = env.settings().serving.environments;
    let app = signalbox::auth::create_token(&store, "web-app", &["flags:read".into()], "production", &envs, "test")
        .await
        .unwrap()
        .token;
    let triage =
        signalbox::auth::create_token(&store, "triager", &["briefs:write".into()], "production", &envs, "test")
            .await
            .unwrap()
            .token;
    store.close().await;
    let run = spawn_app(&env).await;
    Flags { env, run, app, triage }
}

impl Flags {
    pub async fn post(&self, path: &str, token: Option<&str>, body: Option<&str>) -> reqwest::Response {
        let mut req = reqwest::Client::new().post(format!("{}{path}", self.run.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_owned());
        }
        req.send().await.unwrap()
    }

    pub async fn eval(&self, key: &str, ctx: Value) -> (u16, Value) {
        let r = self
            .post(
                &format!("/ofrep/v1/evaluate/flags/{key}"),
                Some(&self.app),
                Some(&json!({"context": ctx}).to_string()),
            )
            .await;
        let status = r.status().as_u16();
        assert_eq!(r.headers()["content-type"], "application/json", "{key}");
        (status, r.json().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_openfeature_ofrep_provider_reads_every_flag_type() {
    let f = start().await;
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {}", f.app)).unwrap(),
    );
    let provider = OfrepProvider::new(OfrepOptions {
        base_url: f.run.base.clone(),
        headers,
        connect_timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .await
    .unwrap();
    let ctx = EvaluationContext::default().with_targeting_key("user-1");
    assert!(!provider.resolve_bool_value("feature.banner", &ctx).await.unwrap().value);
    let acme = EvaluationContext::default()
        .with_targeting_key("user-2")
        .with_custom_field("email", "jo@acme.test");
    let banner = provider.resolve_bool_value("feature.banner", &acme).await.unwrap();
    assert!(banner.value);
    assert_eq!(banner.variant.as_deref(), Some("on"));
    let us = EvaluationContext::default()
        .with_targeting_key("u")
        .with_custom_field("country", "US");
    assert_eq!(
        provider.resolve_string_value("greeting", &us).await.unwrap().value,
        "Hey"
    );
    assert_eq!(
        provider.resolve_string_value("greeting", &ctx).await.unwrap().value,
        "Good day"
    );
    assert_eq!(provider.resolve_int_value("max.items", &ctx).await.unwrap().value, 100);
    assert!((provider.resolve_float_value("temperature", &ctx).await.unwrap().value - 1.0).abs() < 1e-9);
    let route = provider.resolve_struct_value("route.chat", &ctx).await.unwrap();
    let route_json = format!("{:?}", route.value);
    assert!(route_json.contains("claude-sonnet-4-5"), "{route_json}");
    // A flag that does not exist is an error the SDK maps to FLAG_NOT_FOUND (the app's code default).
    assert!(provider.resolve_bool_value("nope", &ctx).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn single_evaluation_answers_as_ofrep_specifies() {
    let f = start().await;
    let (s, b) = f.eval("greeting", json!({"targetingKey": "u1", "country": "CA"})).await;
    assert_eq!(s, 200);
    assert_eq!(b["key"], "greeting");
    assert_eq!(b["value"], "Hey");
    assert_eq!(b["variant"], "casual");
    assert_eq!(b["reason"], "TARGETING_MATCH");
    assert!(b["metadata"]["revision"].is_number());
    let (_, b) = f.eval("max.items", json!({})).await;
    assert_eq!((b["value"].clone(), b["reason"].clone()), (json!(100), json!("STATIC")));
    // Floats keep their decimal point on the wire.
    let r = f.post("/ofrep/v1/evaluate/flags/temperature", Some(&f.app), None).await;
    assert!(r.text().await.unwrap().contains("\"value\":1.0"));
    // A disabled flag and a flag without default answer 200 without a value: "use the code default".
    let (s, b) = f.eval("old.feature", json!({})).await;
    assert_eq!((s, b["reason"].as_str()), (200, Some("DISABLED")));
    assert!(b.get("value").is_none(), "{b}");
    let (s, b) = f.eval("no.default", json!({"plan": "free"})).await;
    assert_eq!((s, b["reason"].as_str()), (200, Some("DEFAULT")));
    assert!(b.get("value").is_none(), "{b}");
    let (_, b) = f.eval("no.default", json!({"plan": "pro"})).await;
    assert_eq!(b["value"], "A");
    // Fractional splits are sticky for a targeting key.
    let (_, first) = f.eval("rollout", json!({"targetingKey": "sticky-user"})).await;
    for _ in 0..5 {
        assert_eq!(
            f.eval("rollout", json!({"targetingKey": "sticky-user"})).await.1["variant"],
            first["variant"]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_has_its_status_and_json_body() {
    let f = start().await;
    let path = "/ofrep/v1/evaluate/flags/greeting";
    let (s, b) = f.eval("missing.flag", json!({})).await;
    assert_eq!(s, 404);
    assert_eq!(
        b,
        json!({"key": "missing.flag", "errorCode": "FLAG_NOT_FOUND", "errorDetails": "flag `missing.flag` was not found"})
    );

    let r = f.post(path, None, Some("{}")).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.json::<Value>().await.unwrap()["errorDetails"]
            .as_str()
            .unwrap()
            .contains("missing API token")
    );
    let r = f.post(path, Some("sbx_wrong"), Some("{}")).await;
    assert_eq!(r.status(), 401);
    let r = f.post(path, Some(&f.triage), Some("{}")).await;
    assert_eq!(r.status(), 403);
    assert!(
        r.json::<Value>().await.unwrap()["errorDetails"]
            .as_str()
            .unwrap()
            .contains("flags:read")
    );
    // X-API-Key works as well as Bearer.
    let r = reqwest::Client::new()
        .post(format!("{}{path}", f.run.base))
        .header("x-api-key", &f.app)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    for (body, code) in [
        ("{not json", "PARSE_ERROR"),
        ("[1,2]", "PARSE_ERROR"),
        (r#"{"context": 5}"#, "INVALID_CONTEXT"),
        (r#"{"context": {"targetingKey": 7}}"#, "INVALID_CONTEXT"),
    ] {
        let r = f.post(path, Some(&f.app), Some(body)).await;
        assert_eq!(r.status(), 400, "{body}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["errorCode"], code, "{body}: {b}");
        assert_eq!(b["key"], "greeting");
    }
    // No body, an empty body and a null context all mean an empty context.
    for body in [None, Some(""), Some(r#"{"context": null}"#)] {
        assert_eq!(f.post(path, Some(&f.app), body).await.status(), 200, "{body:?}");
    }
    let big = json!({"context": {"blob": "x".repeat(100_000)}}).to_string();
    let r = f.post(path, Some(&f.app), Some(&big)).await;
    assert_eq!(r.status(), 413);
    assert!(r.json::<Value>().await.unwrap()["errorDetails"].is_string());
    let r = f.post("/ofrep/v1/evaluate/flags", Some(&f.app), Some("{oops")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["errorCode"], "PARSE_ERROR");
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_evaluation_honours_etags_and_announces_its_event_stream() {
    let f = start().await;
    let bulk = "/ofrep/v1/evaluate/flags";
    let body = r#"{"context": {"targetingKey": "u1", "email": "a@acme.test"}}"#;
    let r = f.post(bulk, Some(&f.app), Some(body)).await;
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a strong ETag: {etag}");
    let b: Value = r.json().await.unwrap();
    let keys: Vec<&str> = b["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"feature.banner") && keys.contains(&"greeting"));
    assert!(
        !keys.contains(&"route.chat"),
        "clientVisible: false stays out of bulk evaluation"
    );
    let banner = b["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "feature.banner")
        .unwrap();
    assert_eq!(banner["value"], true);
    let uri = b["eventStreams"][0]["endpoint"]["requestUri"].as_str().unwrap();
    assert_eq!(b["eventStreams"][0]["type"], "sse");
    assert!(uri.starts_with("/ofrep/v1/events?channel="));
    assert!(!uri.contains(&f.app), "the API token never appears in the stream URL");

    // Same context + matching ETag: 304 without a body.
    let again = reqwest::Client::new()
        .post(format!(
            "{}{bulk}?flagConfigEtag=x&flagConfigLastModified=1",
            f.run.base
        ))
        .bearer_auth(&f.app)
        .header("if-none-match", &etag)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    // Another context: another ETag.
    let r = f
        .post(bulk, Some(&f.app), Some(r#"{"context": {"targetingKey": "u2"}}"#))
        .await;
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag);
}

/// Reads an SSE stream until `pred` matches an event's data, or the deadline passes.
pub(crate) async fn next_event(resp: &mut reqwest::Response, deadline: Instant) -> Option<(Option<String>, Value)> {
    let mut buf = String::new();
    while Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_millis(500), resp.chunk()).await;
        if let Ok(Ok(Some(c))) = chunk {
            buf.push_str(&String::from_utf8_lossy(&c));
        }
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let id = block
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .map(|s| s.trim().to_owned());
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                return Some((id, serde_json::from_str(data.trim()).unwrap()));
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_is_announced_on_the_event_stream_and_a_broken_file_keeps_the_last_good_flags() {
    let f = start().await;
    let r = f.post("/ofrep/v1/evaluate/flags", Some(&f.app), Some("{}")).await;
    let b: Value = r.json().await.unwrap();
    let uri = b["eventStreams"][0]["endpoint"]["requestUri"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = reqwest::get(format!("{}{uri}", f.run.base)).await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (_, before) = f.eval("max.items", json!({})).await;
    let rev0 = before["metadata"]["revision"].as_i64().unwrap();

    // A broken edit: refused, the last good flags keep serving, nothing is announced.
    let file = f.env.dir.path().join("flags/app.yaml");
    std::fs::write(&file, FLAGS.replace("defaultVariant: large", "defaultVariant: huge")).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (s, b) = f.eval("max.items", json!({})).await;
    assert_eq!(
        (s, b["value"].clone(), b["metadata"]["revision"].as_i64().unwrap()),
        (200, json!(100), rev0)
    );

    // A good edit, written the way editors do (a new file renamed over the old one).
    let tmp = f.env.dir.path().join("flags/.app.yaml.tmp");
    std::fs::write(&tmp, FLAGS.replace("defaultVariant: large", "defaultVariant: small")).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    let (id, event) = next_event(&mut stream, Instant::now() + Duration::from_secs(20))
        .await
        .expect("an SSE event");
    assert_eq!(event["type"], "refetchEvaluation");
    assert!(
        event["etag"].is_string() && event["lastModified"].is_number(),
        "{event}"
    );
    let id = id.expect("events carry an id");
    let id: i64 = id.parse().expect("ids are flag revisions");
    assert!(id > rev0);
    let (_, b) = f.eval("max.items", json!({})).await;
    assert_eq!(b["value"], 10);
    assert_eq!(b["metadata"]["revision"].as_i64().unwrap(), id);

    // Reconnecting with Last-Event-ID replays what was missed.
    let missed = reqwest::Client::new()
        .get(format!("{}{uri}", f.run.base))
        .header("last-event-id", rev0.to_string())
        .send()
        .await
        .unwrap();
    let mut missed = missed;
    let (rid, _) = next_event(&mut missed, Instant::now() + Duration::from_secs(10))
        .await
        .expect("a replayed event");
    assert_eq!(rid.unwrap().parse::<i64>().unwrap(), id);
    // Up to date: nothing is sent again.
    let mut current = reqwest::Client::new()
        .get(format!("{}{uri}", f.run.base))
        .header("last-event-id", id.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        next_event(&mut current, Instant::now() + Duration::from_millis(1500))
            .await
            .is_none(),
        "an event repeated"
    );

    // A forged or missing channel is refused.
    let r = reqwest::get(format!("{}/ofrep/v1/events?channel=abc.1.def", f.run.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_api_flagd_sync_readiness_and_metrics() {
    let f = start().await;
    let base = f.run.base.clone();
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut r = client.get(format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let r = get("/readyz", None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["flag_revision"].is_number());

    let r = get("/api/v1/flags", None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "unauthorized");
    let list: Value = get("/api/v1/flags", Some(&f.app)).await.unwrap().json().await.unwrap();
    assert!(
        list["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["key"] == "route.chat")
    );
    let one: Value = get("/api/v1/flags/route.chat", Some(&f.app))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["environments"]["production"]["variant"], "primary");
    assert_eq!(one["environments"]["production"]["source"], "file");
    assert_eq!(get("/api/v1/flags/nope", Some(&f.app)).await.unwrap().status(), 404);

    let r = get("/flagd/v1/flags.json", Some(&f.app)).await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["flags"]["greeting"]["defaultVariant"], "formal");
    assert!(doc["flags"]["greeting"]["targeting"].is_object());
    let r = client
        .get(format!("{base}/flagd/v1/flags.json"))
        .bearer_auth(&f.app)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    f.eval("greeting", json!({"country": "US"})).await;
    let metrics = get("/metrics", None).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("signalbox_http_requests_total"), "{metrics}");
    assert!(metrics.contains("signalbox_flag_evaluations_total{flag=\"greeting\",variant=\"casual\",reason=\"TARGETING_MATCH\",env=\"production\"}"), "{metrics}");
    assert!(metrics.contains("signalbox_flag_revision"));
}

#[tokio::test(flavor = "multi_thread")]
async fn telemetry_says_which_apps_use_a_flag() {
    let f = start().await;
    for _ in 0..3 {
        f.eval("greeting", json!({})).await;
    }
    let mut run = f.run;
    run.stop.take().unwrap().send(()).unwrap();
    run.handle.await.unwrap().unwrap();
    let store = signalbox::store::Store::open(&f.env.settings().database).await.unwrap();
    let usage = store.usage(Some("greeting")).await.unwrap();
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!(
        (usage[0].app.as_str(), usage[0].env.as_str(), usage[0].count),
        ("web-app", "production", 3)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_evaluation_is_off_unless_enabled() {
    let env = Env::new();
    std::fs::write(env.dir.path().join("flags/app.yaml"), FLAGS).unwrap();
    let mut s = env.settings();
    s.serving.allow_anonymous = true;
    let run = spawn_app_with(s).await;
    let r = reqwest::Client::new()
        .post(format!("{}/ofrep/v1/evaluate/flags/max.items", run.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let other = start().await;
    assert_eq!(
        other
            .post("/ofrep/v1/evaluate/flags/max.items", None, None)
            .await
            .status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_that_depend_on_the_clock_get_no_etag() {
    let env = Env::new();
    let at = chrono::Utc::now().timestamp() + 3600;
    std::fs::write(
        env.dir.path().join("flags/app.yaml"),
        format!("flags:\n  launch:\n    state: ENABLED\n    variants: {{ \"on\": true, \"off\": false }}\n    defaultVariant: \"off\"\n    targeting:\n      if:\n        - \">=\": [{{ var: \"$flagd.timestamp\" }}, {at}]\n        - \"on\"\n        - \"off\"\n"),
    )
    .unwrap();
    let mut s = env.settings();
    s.serving.allow_anonymous = true;
    let run = spawn_app_with(s).await;
    let r = reqwest::Client::new()
        .post(format!("{}/ofrep/v1/evaluate/flags", run.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("etag").is_none(),
        "a time-dependent answer must not be cached"
    );
    let r = reqwest::Client::new()
        .post(format!("{}/ofrep/v1/evaluate/flags", run.base))
        .header("if-none-match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_event_stream_does_not_hold_up_shutdown() {
    let mut f = start().await;
    let b: Value = f
        .post("/ofrep/v1/evaluate/flags", Some(&f.app), Some("{}"))
        .await
        .json()
        .await
        .unwrap();
    let uri = b["eventStreams"][0]["endpoint"]["requestUri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(uri.contains("&since="), "{uri}");
    let _stream = reqwest::get(format!("{}{uri}", f.run.base)).await.unwrap();
    f.run.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), &mut f.run.handle)
        .await
        .expect("serve returned")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_over_its_rate_limit_gets_429_with_retry_after_in_seconds() {
    let env = Env::new();
    std::fs::write(env.dir.path().join("flags/app.yaml"), FLAGS).unwrap();
    let store = signalbox::store::Store::open(&env.settings().database).await.unwrap();
    let envs = env.settings().serving.environments;
    let token = signalbox::auth::create_token(&store, "busy", &["flags:read".into()], "production", &envs, "test")
        .await
        .unwrap()
        .token;
    store.close().await;
    let mut s = env.settings();
    s.serving.rate_limit_per_token = 3;
    let run = spawn_app_with(s).await;
    let client = reqwest::Client::new();
    let mut limited = None;
    for _ in 0..20 {
        let r = client
            .post(format!("{}/ofrep/v1/evaluate/flags/max.items", run.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("twenty requests within a few seconds exceed 3 per second");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("integer seconds");
    assert!(retry >= 1);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(r.json::<Value>().await.unwrap()["errorDetails"].is_string());
}
