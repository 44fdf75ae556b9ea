//! The whole service: scheduler and HTTP API on 127.0.0.1:0, driven only through HTTP.

use crate::fixture::{Fixture, Page};
use crate::helpers::{Env, spawn_app};
use serde_json::Value;
use std::time::{Duration, Instant};

async fn get(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Waits (up to a generous deadline, so a slow machine only slows the test) for `cond`.
async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn the_scheduler_polls_and_the_api_shows_sources_snapshots_and_changes() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    fx.set(
        "/doc",
        Page::html("<main><p>Price: $2.00 per 1M input tokens</p></main>"),
    );
    env.write_source(
        "acme-pricing",
        "html",
        &fx.url("/doc"),
        "pricing",
        "schedule = \"* * * * * *\"",
    );
    let run = spawn_app(&env).await;
    let base = run.base.clone();

    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, _) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200);

    eventually("the first snapshot", || async {
        get(&format!("{base}/api/v1/sources/acme-pricing/snapshots"))
            .await
            .1
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    fx.set(
        "/doc",
        Page::html("<main><p>Price: $2.50 per 1M input tokens</p></main>"),
    );
    eventually("a change", || async {
        get(&format!("{base}/api/v1/changes?source=acme-pricing"))
            .await
            .1
            .as_array()
            .is_some_and(|a| a.len() == 1)
    })
    .await;

    let (_, changes) = get(&format!("{base}/api/v1/changes")).await;
    let id = changes[0]["id"].as_i64().unwrap();
    assert_eq!(changes[0]["kind"], "change");
    let (_, change) = get(&format!("{base}/api/v1/changes/{id}")).await;
    let after = change["links"]["after"].as_str().unwrap().to_owned();
    let (_, snap) = get(&format!("{base}{after}")).await;
    assert_eq!(snap["text"], "Price: $2.50 per 1M input tokens");
    let raw = reqwest::get(format!("{base}{after}/raw")).await.unwrap();
    assert_eq!(raw.headers()["content-type"], "text/html; charset=utf-8");
    assert!(raw.text().await.unwrap().contains("<main>"));

    let (_, sources) = get(&format!("{base}/api/v1/sources")).await;
    let row = &sources[0];
    for key in [
        "id",
        "provider",
        "kind",
        "doc_type",
        "url",
        "last_success",
        "last_change",
        "consecutive_failures",
        "last_error_class",
        "last_error",
        "next_run",
    ] {
        assert!(row.get(key).is_some(), "missing {key} in {row}");
    }
    assert_eq!(row["health"], "ok");
    let (_, one) = get(&format!("{base}/api/v1/sources/acme-pricing")).await;
    assert!(one["recent_attempts"].as_array().is_some_and(|a| !a.is_empty()));

    // Errors are JSON with a status code, never a 500.
    let (status, body) = get(&format!("{base}/api/v1/sources/nope")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = get(&format!("{base}/api/v1/changes?limit=0")).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("limit"));
    let r = reqwest::get(format!("{base}/api/v1/changes/abc")).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // Graceful shutdown: serve returns and the database is left consistent.
    let mut run = run;
    run.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), run.handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let store = signalbox::store::Store::open(&env.settings().database).await.unwrap();
    for c in store.changes(None, 0, 100).await.unwrap() {
        assert!(store.snapshot(c.before).await.unwrap().is_some());
        assert!(store.snapshot(c.after).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn the_server_refuses_to_start_on_invalid_sources() {
    let env = Env::new();
    env.write_source("bad", "html", "https://x.test/", "docs", "schedule = \"every day\"");
    let err = signalbox::server::App::build(env.settings())
        .await
        .err()
        .expect("invalid sources must be refused");
    assert!(err.is_config());
    let msg = err.to_string();
    assert!(msg.contains("bad.toml:9") && msg.contains("bad cron schedule"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_built_server_serves_its_http_faces_without_starting_any_background_work() {
    let fx = Fixture::start().await;
    fx.set("/page", Page::html("<main><p>v1</p></main>"));
    let env = Env::new();
    env.write_source("s", "html", &fx.url("/page"), "changelog", "schedule = \"* * * * * *\"");
    let server = signalbox::server::Server::build(env.app().await).await.unwrap();
    let router = signalbox::http::router(server.state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });
    let (status, ready) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{ready}");
    // Built, not run: nobody bid for leadership and nothing polled the source.
    assert_eq!(ready["role"], "follower", "{ready}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(fx.seen("/page").is_empty(), "a built server polled");
}
