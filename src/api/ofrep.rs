//! OFREP (OpenFeature Remote Evaluation Protocol): single and bulk evaluation, the ETag/304 rule,
//! and the SSE change stream, as the official OFREP providers expect them.

use super::AppState;
use super::caller::{Caller, CallerError};
use crate::auth::Scope;
use crate::flags::{EvalError, stopped};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ofrep/v1/evaluate/flags/{key}", post(evaluate_one))
        .route("/ofrep/v1/evaluate/flags", post(evaluate_all))
        .route("/ofrep/v1/configuration", get(configuration))
        .route("/ofrep/v1/events", get(events))
}

/// OFREP's error bodies: `{key, errorCode, errorDetails}` for evaluation errors, `{errorDetails}`
/// otherwise. Never a 200 with reason ERROR.
#[derive(Debug)]
pub enum OfrepError {
    Auth(CallerError),
    NotFound(String),
    /// 400 with an OFREP error code: PARSE_ERROR, INVALID_CONTEXT, TARGETING_KEY_MISSING, GENERAL.
    BadRequest {
        key: Option<String>,
        code: &'static str,
        details: String,
    },
    TooLarge(usize),
    /// 429: seconds to wait.
    RateLimited(u64),
    NotReady,
}

impl IntoResponse for OfrepError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            OfrepError::Auth(e) => return e.into_ofrep_response(),
            OfrepError::NotFound(key) => (
                StatusCode::NOT_FOUND,
                json!({"key": key, "errorCode": "FLAG_NOT_FOUND", "errorDetails": format!("flag `{key}` was not found")}),
            ),
            OfrepError::BadRequest { key, code, details } => {
                let mut b = json!({"errorCode": code, "errorDetails": details});
                if let Some(k) = key {
                    b["key"] = json!(k);
                }
                (StatusCode::BAD_REQUEST, b)
            }
            OfrepError::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"errorCode": "GENERAL", "errorDetails": format!("request body larger than {limit} bytes")}),
            ),
            OfrepError::RateLimited(secs) => {
                let body = json!({"errorDetails": format!("rate limit reached; retry in {secs} s")});
                let mut r = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                return r;
            }
            OfrepError::NotReady => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"errorDetails": "flags are not loaded yet"}),
            ),
        };
        (status, Json(body)).into_response()
    }
}

/// Reads and parses the request's evaluation context. A missing body or `context` means `{}`.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, OfrepError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| OfrepError::TooLarge(limit))
}

async fn read_context(body: Body, limit: usize, key: Option<&str>) -> Result<Map<String, Value>, OfrepError> {
    parse_context(&read_body(body, limit).await?, key)
}

fn parse_context(bytes: &[u8], key: Option<&str>) -> Result<Map<String, Value>, OfrepError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let parse_error = |details: String| OfrepError::BadRequest {
        key: key.map(str::to_owned),
        code: "PARSE_ERROR",
        details,
    };
    let v: Value = serde_json::from_slice(bytes).map_err(|e| parse_error(format!("request body is not JSON: {e}")))?;
    let Value::Object(mut body) = v else {
        return Err(parse_error("request body must be a JSON object".into()));
    };
    let invalid = |details: &str| OfrepError::BadRequest {
        key: key.map(str::to_owned),
        code: "INVALID_CONTEXT",
        details: details.to_owned(),
    };
    match body.remove("context") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(ctx)) => {
            if ctx.get("targetingKey").is_some_and(|t| !t.is_string()) {
                return Err(invalid("targetingKey must be a string"));
            }
            Ok(ctx)
        }
        Some(_) => Err(invalid("context must be a JSON object")),
    }
}

fn check_length(headers: &HeaderMap, limit: usize) -> Result<(), OfrepError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(n) if n > limit => Err(OfrepError::TooLarge(limit)),
        _ => Ok(()),
    }
}

fn json_response(status: StatusCode, body: Vec<u8>, etag: Option<&str>) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(e) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        h.insert(header::ETAG, e);
    }
    r
}

async fn evaluate_one(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    Path(key): Path<String>,
    req: Request,
) -> Result<Response, OfrepError> {
    let caller = caller
        .and_then(|c| c.require(Scope::FlagsRead))
        .map_err(OfrepError::Auth)?;
    st.limiter.check(caller.token_id).map_err(OfrepError::RateLimited)?;
    check_length(req.headers(), st.serving.max_request_bytes)?;
    let ctx = read_context(req.into_body(), st.serving.max_request_bytes, Some(&key)).await?;
    let published = st.flags.current().ok_or(OfrepError::NotReady)?;
    let env = published
        .env(&caller.env)
        .ok_or_else(|| OfrepError::Auth(CallerError::UnknownEnv(caller.env.to_string())))?;
    match env.snapshot.evaluate(&key, &ctx) {
        Ok(ev) => {
            st.telemetry
                .record(ev.key, ev.variant, ev.reason.as_str(), &caller.env, &caller.name);
            let body = serde_json::to_vec(&ev).expect("evaluation serializes");
            Ok(json_response(StatusCode::OK, body, None))
        }
        Err(EvalError::FlagNotFound(_)) => Err(OfrepError::NotFound(key)),
        Err(e) => Err(OfrepError::BadRequest {
            key: Some(key),
            code: e.code(),
            details: e.to_string(),
        }),
    }
}

/// Bulk evaluation's strong ETag: the environment's configuration (which also decides which flags
/// are visible), the request's context and the event-stream channel.
fn bulk_etag(config_etag: &str, request_body: &[u8], channel: &str) -> String {
    let mut h = Sha256::new();
    h.update(config_etag.as_bytes());
    h.update([0]);
    // The request body as sent: a client repeats the same bytes for the same context, and a
    // different spelling of the same context only costs a cache miss, never a false 304.
    h.update(request_body);
    h.update([0]);
    h.update(channel.as_bytes());
    format!("\"{}\"", hex::encode(&h.finalize()[..16]))
}

async fn evaluate_all(
    State(st): State<AppState>,
    caller: Result<Caller, CallerError>,
    // The query (flagConfigEtag / flagConfigLastModified / sseEtag / sseLastModified) is accepted
    // and needs no action: the ETag already covers the configuration. The request is taken whole,
    // so its headers are read in place rather than cloned.
    req: Request,
) -> Result<Response, OfrepError> {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let caller = caller
        .and_then(|c| c.require(Scope::FlagsRead))
        .map_err(OfrepError::Auth)?;
    st.limiter.check(caller.token_id).map_err(OfrepError::RateLimited)?;
    check_length(headers, st.serving.max_request_bytes)?;
    let bytes = read_body(body, st.serving.max_request_bytes).await?;
    let ctx = parse_context(&bytes, None)?;
    let published = st.flags.current().ok_or(OfrepError::NotReady)?;
    let env = published
        .env(&caller.env)
        .ok_or_else(|| OfrepError::Auth(CallerError::UnknownEnv(caller.env.to_string())))?;
    let channel = st.channels.token(&caller.env);
    // The ETag covers the channel token too: a client that gets a 304 keeps the event-stream URL
    // it has, which must still work (tokens rotate, and a restart changes the signing key).
    let etag = bulk_etag(&env.config_etag, &bytes, &channel);
    // Answers that change with the clock alone ($flagd.timestamp) get no ETag: a 304 would lie.
    let cacheable = !env.snapshot.visible_reads_clock();
    if cacheable && super::none_match(headers, &etag) {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        r.headers_mut()
            .insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex etag"));
        return Ok(r);
    }
    let results = env.snapshot.evaluate_all(&ctx);
    let mut flags = Vec::with_capacity(results.len());
    for (key, result) in &results {
        // Flags marked `clientVisible: false` are for servers only: bulk evaluation is what
        // browser and mobile providers call.
        if !env.snapshot.get(key).is_none_or(|d| d.client_visible()) {
            continue;
        }
        flags.push(match result {
            Ok(ev) => BulkItem::Ok(ev),
            Err(e) => BulkItem::Err {
                key,
                error_code: e.code(),
                error_details: e.to_string(),
            },
        });
    }
    st.telemetry.record_many(
        &caller.env,
        &caller.name,
        flags.iter().filter_map(|f| match f {
            BulkItem::Ok(ev) => Some((ev.key, ev.variant, ev.reason.as_str())),
            BulkItem::Err { .. } => None,
        }),
    );
    let request_uri = format!("/ofrep/v1/events?channel={channel}&since={}", published.revision);
    let body = BulkBody {
        flags,
        metadata: BulkMetadata {
            revision: published.revision,
        },
        event_streams: [EventStream {
            kind: "sse",
            endpoint: Endpoint {
                request_uri: &request_uri,
            },
            inactivity_delay_sec: 120,
        }],
    };
    let etag = cacheable.then_some(etag.as_str());
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_vec(&body).expect("body serializes"),
        etag,
    ))
}

/// The bulk response, serialized straight from the evaluations (no intermediate JSON tree).
#[derive(Serialize)]
struct BulkBody<'a> {
    flags: Vec<BulkItem<'a>>,
    metadata: BulkMetadata,
    #[serde(rename = "eventStreams")]
    event_streams: [EventStream<'a>; 1],
}

#[derive(Serialize)]
#[serde(untagged)]
enum BulkItem<'a> {
    Ok(&'a crate::flags::Evaluation<'a>),
    Err {
        key: &'a str,
        #[serde(rename = "errorCode")]
        error_code: &'static str,
        #[serde(rename = "errorDetails")]
        error_details: String,
    },
}

#[derive(Serialize)]
struct BulkMetadata {
    revision: u64,
}

#[derive(Serialize)]
struct EventStream<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    endpoint: Endpoint<'a>,
    #[serde(rename = "inactivityDelaySec")]
    inactivity_delay_sec: u32,
}

#[derive(Serialize)]
struct Endpoint<'a> {
    #[serde(rename = "requestUri")]
    request_uri: &'a str,
}

async fn configuration(caller: Result<Caller, CallerError>) -> Result<Json<Value>, OfrepError> {
    caller
        .and_then(|c| c.require(Scope::FlagsRead))
        .map_err(OfrepError::Auth)?;
    Ok(Json(json!({
        "name": "signalbox",
        "capabilities": {
            "cacheInvalidation": {"polling": {"enabled": true, "minPollingIntervalMs": 1000}},
            "flagEvaluation": {"supportedTypes": ["boolean", "string", "int", "float", "object"]}
        }
    })))
}

fn refetch_event(revision: u64, etag: &str, last_modified: i64) -> Event {
    let data = json!({"type": "refetchEvaluation", "etag": format!("\"{etag}\""), "lastModified": last_modified});
    Event::default()
        .id(revision.to_string())
        .event("message")
        .data(data.to_string())
}

/// Reads an event id or the `since` parameter: a flag revision. Revisions are global (every
/// replica gives the same configuration the same revision), so a position from another replica
/// or from before a restart is comparable; anything else reads as `None`.
fn parse_position(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

/// The SSE stream of one environment. Browsers' EventSource cannot send headers, so the URL
/// carries a short-lived signed channel token (issued with each bulk evaluation), never the API
/// token. The stream resumes from `Last-Event-ID`, or else from the `since` revision the bulk
/// response was computed at, so a change made between the bulk response and the connection is not
/// missed; a position too old (or from another process) gets one refetch event. Each revision is
/// sent at most once, and the stream ends when the server shuts down.
async fn events(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, OfrepError> {
    let env = q
        .get("channel")
        .and_then(|c| st.channels.verify(c))
        .ok_or(OfrepError::Auth(CallerError::BadChannel))?;
    // Subscribe before reading the history, so nothing published in between is missed; `sent`
    // then drops what both deliver.
    let rx = st.flags.subscribe();
    let published = st.flags.current().ok_or(OfrepError::NotReady)?;
    let position = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(parse_position)
        .or_else(|| q.get("since").map(|v| parse_position(v)));
    let mut initial: Vec<Event> = Vec::new();
    let mut sent = published.revision;
    match position {
        // A fresh connection with no position: only what happens from now on.
        None => {}
        Some(Some(pos)) if st.flags.events_since(pos).is_some() => {
            sent = pos;
            for ev in st.flags.events_since(pos).unwrap_or_default() {
                if let Some((_, etag, lm)) = ev.changed.iter().find(|(e, _, _)| *e == env) {
                    initial.push(refetch_event(ev.revision, etag, *lm));
                }
                sent = sent.max(ev.revision);
            }
        }
        // Too old, from another process, or unreadable: one refetch covers it.
        Some(_) => {
            if let Some(e) = published.env(&env) {
                initial.push(refetch_event(published.revision, &e.config_etag, e.last_modified));
            }
        }
    }
    let shutdown = st.shutdown.clone();
    let state = (initial.into_iter(), rx, env, sent, shutdown);
    let stream = futures_util::stream::unfold(
        state,
        move |(mut pending, mut rx, env, mut sent, mut shutdown)| async move {
            if let Some(ev) = pending.next() {
                return Some((Ok::<Event, Infallible>(ev), (pending, rx, env, sent, shutdown)));
            }
            loop {
                let received = tokio::select! {
                    r = rx.recv() => r,
                    _ = stopped(&mut shutdown) => return None,
                };
                match received {
                    Ok(ev) if ev.revision <= sent => {}
                    Ok(ev) => {
                        sent = ev.revision;
                        if let Some((_, etag, lm)) = ev.changed.iter().find(|(e, _, _)| *e == env) {
                            let out = refetch_event(ev.revision, etag, *lm);
                            return Some((Ok(out), (pending, rx, env, sent, shutdown)));
                        }
                    }
                    // Fell behind: one refetch covers everything missed.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let data = json!({"type": "refetchEvaluation"}).to_string();
                        let out = Event::default().event("message").data(data);
                        return Some((Ok(out), (pending, rx, env, sent, shutdown)));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(30)))
        .into_response())
}
