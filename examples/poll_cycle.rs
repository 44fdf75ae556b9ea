//! Load script: one poll cycle of N sources against a local fixture server, three ways: first
//! poll, all answering 304, all changed. Prints a Markdown table and the peak resident memory.
//!
//!     cargo run --release --example poll_cycle -- 1000
//!
//! Everything stays on 127.0.0.1. Results: docs/benchmarks.md.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use signalbox::config::Settings;
use signalbox::server::App;
use signalbox::watch::PollOutcome;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

async fn page(State(version): State<Arc<AtomicUsize>>, Path(i): Path<usize>, h: HeaderMap) -> Response {
    let v = version.load(Ordering::Relaxed);
    let etag = format!("\"{v}-{i}\"");
    if h.get(header::IF_NONE_MATCH).and_then(|x| x.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut body = format!("<html><body><nav>menu</nav><main><h1>Source {i}</h1><table>");
    for r in 0..100 {
        body.push_str(&format!("<tr><td>model-{r}</td><td>${}.00</td></tr>", r + v));
    }
    body.push_str("</table></main></body></html>");
    ([(header::ETAG, etag), (header::CONTENT_TYPE, "text/html".into())], body).into_response()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_owned()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let version = Arc::new(AtomicUsize::new(1));
    let app = axum::Router::new()
        .route("/s/{i}", axum::routing::get(page))
        .with_state(version.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sources")).unwrap();
    let mut file = String::from("provider = \"bench\"\n");
    for i in 0..n {
        file.push_str(&format!(
            "[[source]]\nid = \"s{i}\"\nkind = \"html\"\nurl = \"http://{addr}/s/{i}\"\ndoc_type = \"pricing\"\nselect = [\"main\"]\n"
        ));
    }
    std::fs::write(dir.path().join("sources/bench.toml"), file).unwrap();
    let mut s = Settings {
        sources: dir.path().join("sources"),
        database: format!("sqlite://{}", dir.path().join("bench.db").display()),
        allow_private_networks: true,
        ..Settings::default()
    };
    // One fixture host stands in for many providers: lift the per-host limit to the global one.
    s.fetch.per_host_concurrency = s.fetch.global_concurrency;
    let concurrency = s.fetch.global_concurrency;
    let app = App::build(s).await.unwrap();

    println!("| cycle ({n} sources, concurrency {concurrency}) | seconds | outcome |");
    println!("|---|---|---|");
    for (label, bump) in [("first poll", false), ("all 304", false), ("all changed", true)] {
        if bump {
            version.fetch_add(1, Ordering::Relaxed);
        }
        let t0 = Instant::now();
        let reports = app.watcher.poll_all(&app.sources, concurrency, |_| {}).await.unwrap();
        let secs = t0.elapsed().as_secs_f64();
        let mut tally = std::collections::BTreeMap::new();
        for r in &reports {
            let k = match r.outcome {
                PollOutcome::First { .. } => "first",
                PollOutcome::Unchanged => "unchanged",
                PollOutcome::Changed { .. } => "changed",
                PollOutcome::Flapped { .. } => "flapped",
                PollOutcome::RulesUpgraded { .. } => "rules_upgrade",
                PollOutcome::Failed { .. } => "failed",
            };
            *tally.entry(k).or_insert(0) += 1;
        }
        println!("| {label} | {secs:.2} | {tally:?} |");
    }
    println!("\npeak RSS: {} MiB", peak_rss_kib() / 1024);
}
