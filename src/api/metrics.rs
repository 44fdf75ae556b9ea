//! `/metrics` in Prometheus format: HTTP requests by route and status with latencies, flag
//! evaluations by flag, variant, reason and environment, and the flag snapshot revision.

use super::AppState;
use arc_swap::ArcSwap;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// The process-wide recorder (a process can install only one; tests start many servers).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Route labels are a small fixed set; interning them keeps the per-request path free of
/// allocation (the `metrics` macros want `'static` or owned strings).
fn intern(route: &str) -> &'static str {
    static MAP: OnceLock<ArcSwap<HashMap<String, &'static str>>> = OnceLock::new();
    static WRITE: Mutex<()> = Mutex::new(());
    let map = MAP.get_or_init(Default::default);
    if let Some(s) = map.load().get(route) {
        return s;
    }
    let _g = WRITE.lock().expect("intern lock");
    if let Some(s) = map.load().get(route) {
        return s;
    }
    let leaked: &'static str = Box::leak(route.to_owned().into_boxed_str());
    let mut next = HashMap::clone(&map.load());
    next.insert(route.to_owned(), leaked);
    map.store(Arc::new(next));
    leaked
}

fn status_label(code: u16) -> &'static str {
    match code {
        200 => "200",
        201 => "201",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        429 => "429",
        500 => "500",
        503 => "503",
        c if c < 300 => "2xx",
        c if c < 400 => "3xx",
        c if c < 500 => "4xx",
        _ => "5xx",
    }
}

type Handles = (metrics::Counter, metrics::Histogram);

/// The counter and histogram of a (route, status), registered once: the `metrics` macros would
/// otherwise look the series up in the registry on every request.
fn handles(route: &'static str, status: &'static str) -> Handles {
    static MAP: OnceLock<ArcSwap<HashMap<(&'static str, &'static str), Handles>>> = OnceLock::new();
    let map = MAP.get_or_init(Default::default);
    if let Some(h) = map.load().get(&(route, status)) {
        return h.clone();
    }
    let h = (
        metrics::counter!("signalbox_http_requests_total", "route" => route, "status" => status),
        metrics::histogram!("signalbox_http_request_duration_seconds", "route" => route),
    );
    map.rcu(|m| {
        let mut m = HashMap::clone(m);
        m.insert((route, status), h.clone());
        m
    });
    h
}

pub async fn track(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let route = matched.as_ref().map(|m| intern(m.as_str())).unwrap_or("unmatched");
    let t0 = Instant::now();
    let resp = next.run(req).await;
    let (requests, duration) = handles(route, status_label(resp.status().as_u16()));
    requests.increment(1);
    duration.record(t0.elapsed().as_secs_f64());
    resp
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

pub async fn render(State(st): State<AppState>) -> Response {
    let mut out = handle().render();
    out.push_str("# HELP signalbox_flag_evaluations_total Flag evaluations since start.\n");
    out.push_str("# TYPE signalbox_flag_evaluations_total counter\n");
    for s in st.telemetry.series() {
        let _ = writeln!(
            out,
            "signalbox_flag_evaluations_total{{flag=\"{}\",variant=\"{}\",reason=\"{}\",env=\"{}\"}} {}",
            escape(&s.flag),
            escape(&s.variant),
            s.reason,
            escape(&s.env),
            s.total
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
