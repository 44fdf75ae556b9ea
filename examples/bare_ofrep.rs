//! The yardstick for the OFREP load test: a bare axum handler that parses the OFREP request body
//! and returns a fixed answer, with no token check, evaluation, telemetry or metrics. signalbox's
//! numbers in docs/benchmarks.md are read as a ratio of this one, measured in the same run.
//!
//!     cargo run --release --example bare_ofrep -- 127.0.0.1:18081

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;

async fn single(body: Bytes) -> impl IntoResponse {
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let _ = v.get("context");
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"key":"max.items","reason":"STATIC","variant":"large","value":100,"metadata":{}}"#,
    )
}

async fn bulk(body: Bytes) -> impl IntoResponse {
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let _ = v.get("context");
    // The same bytes signalbox answers for the load test's flags and context, so that both sides
    // pay for the same response size.
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../bench/bulk-response.json"),
    )
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18081".into());
    let app = Router::new()
        .route("/ofrep/v1/evaluate/flags/{key}", post(single))
        .route("/ofrep/v1/evaluate/flags", post(bulk));
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
