//! Notifications over real HTTP: a signed webhook receiver and a Slack-shaped one on 127.0.0.1,
//! fed by a real server watching a fixture status page; retries, and no loss across a restart.

use crate::fixture::{Fixture, Page};
use crate::helpers::{Env, spawn_app_with};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const OK: &str = r#"{"status":{"indicator":"none","description":"ok"},"components":[{"id":"c1","name":"API","status":"operational","group":false}],"incidents":[],"scheduled_maintenances":[]}"#;
const DOWN: &str = r#"{"status":{"indicator":"major","description":"down"},"components":[{"id":"c1","name":"API","status":"major_outage","group":false}],"incidents":[{"id":"i1","name":"API errors","status":"investigating","impact":"major","created_at":"2026-11-25T08:00:00Z","incident_updates":[]}],"scheduled_maintenances":[]}"#;

#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<(HeaderMap, Bytes)>>,
    /// The status the receiver answers with.
    answer: AtomicU16,
}

async fn receiver() -> (String, Arc<Receiver>) {
    let r = Arc::new(Receiver {
        answer: AtomicU16::new(200),
        ..Default::default()
    });
    let state = r.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                let answer = state.answer.load(Ordering::SeqCst);
                state.got.lock().unwrap().push((headers, body));
                StatusCode::from_u16(answer).unwrap()
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, r)
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn briefs_reach_a_signed_webhook_and_slack_and_a_failed_delivery_survives_a_restart() {
    let fx = Fixture::start().await;
    fx.set("/summary.json", Page::new("application/json", OK));
    let env = Env::new();
    env.write_source(
        "acme-status",
        "statuspage",
        &fx.url("/summary.json"),
        "status",
        "schedule = \"* * * * * *\"",
    );
    // A flag routes chat to acme, so an acme outage is critical.
    std::fs::write(
        env.dir.path().join("flags/routes.yaml"),
        "flags:\n  route.chat:\n    state: ENABLED\n    variants:\n      primary: { targets: [{ provider: acme, model: acme-large-2 }] }\n    defaultVariant: primary\n    metadata: { providers: [acme/acme-large-2] }\n",
    )
    .unwrap();
    let (hook_url, hook) = receiver().await;
    let (slack_url, slack) = receiver().await;
    let (quiet_url, quiet) = receiver().await;
    let secret = signalbox::notify::generate_secret();
    let settings = |env: &Env| {
        let mut s = env.settings();
        s.notify.poll_ms = 100;
        s.notify.public_url = "https://signalbox.example.com".into();
        let sink = |name: &str, kind: &str, url: &str, extra: &str| -> signalbox::notify::SinkSettings {
            toml::from_str(&format!(
                "name = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\n{extra}"
            ))
            .unwrap()
        };
        s.notify.sinks = vec![
            sink(
                "oncall",
                "webhook",
                &hook_url,
                &format!("secret = \"{secret}\"\nmin_severity = \"high\""),
            ),
            sink("slack", "slack", &slack_url, "providers = [\"acme\"]"),
            // Filters that exclude this brief: nothing may arrive here.
            sink(
                "pricing-only",
                "slack",
                &quiet_url,
                "categories = [\"pricing\"]\nevents = [\"brief.created\"]",
            ),
        ];
        s
    };
    // The webhook receiver is down at first.
    hook.answer.store(503, Ordering::SeqCst);
    let mut run = spawn_app_with(settings(&env)).await;
    let snapshots = format!("{}/api/v1/sources/acme-status/snapshots", run.base);
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(&snapshots)
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .is_none_or(|a| a.is_empty())
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fx.set("/summary.json", Page::new("application/json", DOWN));

    // Slack gets the critical incident brief at once.
    wait_for("the slack message", || {
        slack
            .got
            .lock()
            .unwrap()
            .iter()
            .any(|(_, b)| String::from_utf8_lossy(b).contains("API"))
    })
    .await;
    let (_, body) = slack.got.lock().unwrap()[0].clone();
    let msg: Value = serde_json::from_slice(&body).unwrap();
    assert!(msg["text"].as_str().unwrap().contains("[critical] acme"), "{msg}");
    assert!(
        String::from_utf8_lossy(&body).contains("https://signalbox.example.com/api/v1/briefs/"),
        "{msg}"
    );

    // The webhook failed; stop the server while it is failing.
    wait_for("a failed webhook attempt", || !hook.got.lock().unwrap().is_empty()).await;
    run.stop.take().unwrap().send(()).unwrap();
    run.handle.await.unwrap().unwrap();
    let attempts_before = hook.got.lock().unwrap().len();

    // Restarted, with the receiver back: the queued notification is delivered, signed.
    hook.answer.store(204, Ordering::SeqCst);
    let _run = spawn_app_with(settings(&env)).await;
    wait_for("the retried webhook", || {
        hook.got.lock().unwrap().len() > attempts_before
    })
    .await;
    let (headers, body) = hook.got.lock().unwrap().last().unwrap().clone();
    let h = |k: &str| headers.get(k).unwrap().to_str().unwrap().to_owned();
    signalbox::notify::verify(
        &secret,
        (&h("webhook-id"), &h("webhook-timestamp"), &h("webhook-signature")),
        &body,
        chrono::Utc::now().timestamp(),
        300,
    )
    .expect("a valid Standard Webhooks signature");
    let first_id = hook.got.lock().unwrap()[0].0["webhook-id"].to_str().unwrap().to_owned();
    assert_eq!(h("webhook-id"), first_id, "the same message id across retries");
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["type"], "brief.created");
    assert_eq!(event["data"]["severity"], "critical");
    assert_eq!(event["data"]["provider"], "acme");
    assert!(
        quiet.got.lock().unwrap().is_empty(),
        "a sink filtered to pricing got an incident"
    );
}
