//! One delivery attempt and the retry policy around it.

use std::error::Error as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};

use super::{Notification, SinkKind, SinkSettings, sign, slack_body, webhook_body};

/// Attempts per message, the first one included; after the last, the message is given up.
/// With [`backoff`] that is 11 retries spread over at most about 2.4 hours.
pub const MAX_ATTEMPTS: u32 = 12;

const BACKOFF_BASE_MS: u64 = 5_000;
const BACKOFF_CAP_MS: u64 = 3_600_000;
/// Enough of an error response to say why (Slack answers e.g. `invalid_blocks`), not enough to
/// fill the delivery log with someone's error page.
const SNIPPET_MAX: usize = 200;

/// Why a delivery failed, and whether trying again later can help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// Network errors, timeouts, 408, 429 and 5xx: the receiver may accept the same message later.
    #[error("retryable: {message}")]
    Retryable {
        status: Option<u16>,
        /// Seconds the receiver asked us to wait (`Retry-After` on 429/503).
        retry_after: Option<u64>,
        message: String,
    },
    /// Other 4xx, unfollowed redirects, a bad secret or URL: resending the same message to the
    /// same configuration will fail the same way.
    #[error("permanent: {message}")]
    Permanent { status: Option<u16>, message: String },
}

impl DeliveryError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, DeliveryError::Retryable { .. })
    }

    /// The HTTP status, when the receiver answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            DeliveryError::Retryable { status, .. } | DeliveryError::Permanent { status, .. } => *status,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::Retryable { retry_after, .. } => retry_after.map(Duration::from_secs),
            DeliveryError::Permanent { .. } => None,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            DeliveryError::Retryable { message, .. } | DeliveryError::Permanent { message, .. } => message,
        }
    }

    fn permanent(status: Option<u16>, message: impl Into<String>) -> Self {
        DeliveryError::Permanent {
            status,
            message: message.into(),
        }
    }
}

/// POSTs `n` to `sink` once. Returns the 2xx status, or why it failed.
///
/// Webhook sinks get [`webhook_body`] signed with `now` as `webhook-timestamp`; Slack sinks get
/// [`slack_body`]. `msg_id` must stay the same across retries of one message so receivers can
/// de-duplicate.
///
/// The client decides timeouts, redirects and proxies, so give it a `timeout` (a receiver that
/// never answers would otherwise hold the delivery forever) and `redirect::Policy::none()`
/// (Standard Webhooks treats redirects as failures, and reqwest would turn a 301/302 POST into a
/// GET without the body). A redirect that reaches this function is a permanent failure.
pub async fn deliver(
    client: &reqwest::Client,
    sink: &SinkSettings,
    msg_id: &str,
    n: &Notification,
    now: DateTime<Utc>,
) -> Result<u16, DeliveryError> {
    let url = reqwest::Url::parse(&sink.url).map_err(|e| DeliveryError::permanent(None, format!("sink url: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DeliveryError::permanent(None, "sink url must be http or https"));
    }
    let request = match sink.kind {
        SinkKind::Webhook => {
            let body = webhook_body(msg_id, n);
            let timestamp = now.timestamp();
            let signature = sign(&sink.secret, msg_id, timestamp, &body)
                .map_err(|e| DeliveryError::permanent(None, e.to_string()))?;
            client
                .post(url)
                .header("webhook-id", msg_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body)
        }
        SinkKind::Slack => client.post(url).body(slack_body(n)),
    };
    let response = request
        .header(CONTENT_TYPE, "application/json")
        .send()
        .await
        .map_err(transport_error)?;

    let status = response.status();
    if status.is_success() {
        tracing::debug!(sink = %sink.name, msg_id, status = status.as_u16(), "notification delivered");
        return Ok(status.as_u16());
    }
    let retry_after = retry_after(response.headers(), now);
    let snippet = read_snippet(response).await;
    let error = classify_status(status, retry_after, &snippet);
    tracing::debug!(sink = %sink.name, msg_id, error = %error, "notification not delivered");
    Err(error)
}

/// The policy for an answered request: only answers that mean "not now" are worth repeating.
fn classify_status(status: StatusCode, retry_after: Option<u64>, snippet: &str) -> DeliveryError {
    let code = status.as_u16();
    let mut message = format!("HTTP {code}");
    if let Some(reason) = status.canonical_reason() {
        message.push(' ');
        message.push_str(reason);
    }
    if !snippet.is_empty() {
        message.push_str(": ");
        message.push_str(snippet);
    }
    let retryable = matches!(code, 408 | 429) || status.is_server_error();
    if retryable {
        DeliveryError::Retryable {
            status: Some(code),
            // Only these two statuses give Retry-After the meaning "when to come back".
            retry_after: if matches!(code, 429 | 503) { retry_after } else { None },
            message,
        }
    } else {
        if status.is_redirection() {
            message.push_str(" (redirects are not followed)");
        }
        DeliveryError::permanent(Some(code), message)
    }
}

/// No answer at all. Network trouble is worth retrying; a request that cannot even be built
/// (bad header value) or a refused redirect is not.
fn transport_error(e: reqwest::Error) -> DeliveryError {
    // The URL of a Slack sink is its credential; keep it out of messages and logs.
    let e = e.without_url();
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "request"
    };
    // reqwest's own message is generic ("error sending request"); the cause is in the chain.
    let mut message = format!("{kind}: {e}");
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if e.is_builder() || e.is_redirect() {
        DeliveryError::permanent(None, message)
    } else {
        DeliveryError::Retryable {
            status: None,
            retry_after: None,
            message,
        }
    }
}

/// `Retry-After` in seconds, from either of its forms: delta-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<u64> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    // IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT") is valid RFC 2822.
    let when = DateTime::parse_from_rfc2822(value).ok()?;
    u64::try_from((when.with_timezone(&Utc) - now).num_seconds().max(0)).ok()
}

/// The start of an error response, on one line, for the message. Read chunk by chunk so a huge
/// error page is not downloaded; a body that fails to read just leaves the snippet short.
async fn read_snippet(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < SNIPPET_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SNIPPET_MAX)
        .collect();
    one_line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Delay before retry number `attempt` (0 = the first retry): "full jitter", a uniform draw from
/// zero to `min(1 h, 5 s × 2^attempt)`. The jitter spreads out retries from many messages that
/// failed together, so a receiver coming back up is not hit by all of them at once.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(rand::rng().random_range(0..=backoff_ceiling_ms(attempt)))
}

fn backoff_ceiling_ms(attempt: u32) -> u64 {
    2u64.checked_pow(attempt)
        .and_then(|factor| factor.checked_mul(BACKOFF_BASE_MS))
        .map_or(BACKOFF_CAP_MS, |ms| ms.min(BACKOFF_CAP_MS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{generate_secret, verify};
    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap as AxumHeaders, StatusCode as AxumStatus};
    use axum::response::IntoResponse;
    use axum::routing::post;
    use chrono::TimeZone;
    use serde_json::Value;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use tokio::sync::mpsc;

    fn note() -> Notification {
        Notification {
            event: "decision.pending_approval".into(),
            severity: Some("critical".into()),
            provider: Some("anthropic".into()),
            category: Some("pricing".into()),
            title: "Price change needs approval".into(),
            text: "Input tokens +20% from 1 May".into(),
            url: Some("https://signalbox.example/decisions/7".into()),
            data: serde_json::json!({"decision_id": 7}),
            at: Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap(),
        }
    }

    fn sink(kind: SinkKind, url: String, secret: &str) -> SinkSettings {
        SinkSettings {
            name: "test".into(),
            kind,
            url,
            secret: secret.into(),
            min_severity: "info".into(),
            providers: vec![],
            categories: vec![],
            events: vec![],
        }
    }

    fn client() -> reqwest::Client {
        // No proxy: an HTTP(S)_PROXY in the environment must not intercept 127.0.0.1.
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    #[derive(Debug)]
    struct Received {
        path: String,
        content_type: String,
        body: Bytes,
    }

    struct Receiver {
        secret: String,
        seen: mpsc::UnboundedSender<Received>,
    }

    /// Verifies like a real Standard Webhooks receiver: 401 unless the signature checks out.
    async fn webhook(State(rx): State<Arc<Receiver>>, headers: AxumHeaders, body: Bytes) -> impl IntoResponse {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let (id, ts, sig) = (
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
        );
        let checked = verify(&rx.secret, (&id, &ts, &sig), &body, Utc::now().timestamp(), 300);
        let _ = rx.seen.send(Received {
            path: "/webhook".into(),
            content_type: header("content-type"),
            body,
        });
        match checked {
            Ok(()) => AxumStatus::NO_CONTENT,
            Err(_) => AxumStatus::UNAUTHORIZED,
        }
    }

    /// Slack answers 200 "ok"; `Json` also checks the content type, as Slack does.
    async fn slack(State(rx): State<Arc<Receiver>>, body: axum::Json<Value>) -> impl IntoResponse {
        let _ = rx.seen.send(Received {
            path: "/slack".into(),
            content_type: "application/json".into(),
            body: Bytes::from(body.0.to_string()),
        });
        "ok"
    }

    async fn status(Path(code): Path<u16>) -> impl IntoResponse {
        let status = AxumStatus::from_u16(code).unwrap();
        let mut headers = AxumHeaders::new();
        if code == 429 {
            headers.insert("retry-after", "7".parse().unwrap());
        }
        if code == 503 {
            headers.insert("retry-after", "Wed, 01 Apr 2026 12:00:30 GMT".parse().unwrap());
        }
        (status, headers, format!("status {code}\nwith\tdetails"))
    }

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(3)).await;
        "late"
    }

    async fn serve(secret: &str) -> (SocketAddr, mpsc::UnboundedReceiver<Received>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Receiver {
            secret: secret.to_owned(),
            seen: tx,
        });
        let app = Router::new()
            .route("/webhook", post(webhook))
            .route("/slack", post(slack))
            .route("/status/{code}", post(status))
            .route("/slow", post(slow))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, rx)
    }

    #[tokio::test]
    async fn webhook_delivery_is_signed_and_verifiable() {
        let secret = generate_secret();
        let (addr, mut seen) = serve(&secret).await;
        let sink = sink(SinkKind::Webhook, format!("http://{addr}/webhook"), &secret);
        let status = deliver(&client(), &sink, "msg_abc", &note(), Utc::now()).await.unwrap();
        assert_eq!(status, 204, "the receiver verified the signature");

        let got = seen.recv().await.unwrap();
        assert_eq!(got.path, "/webhook");
        assert_eq!(got.content_type, "application/json");
        let body: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(body["type"], "decision.pending_approval");
        assert_eq!(body["data"]["id"], "msg_abc");
        assert_eq!(body["data"]["decision_id"], 7);
    }

    #[tokio::test]
    async fn webhook_with_wrong_secret_is_refused_permanently() {
        let (addr, _seen) = serve(&generate_secret()).await;
        let sink = sink(SinkKind::Webhook, format!("http://{addr}/webhook"), &generate_secret());
        let err = deliver(&client(), &sink, "msg_abc", &note(), Utc::now())
            .await
            .unwrap_err();
        assert!(!err.is_retryable(), "{err}");
        assert_eq!(err.status(), Some(401));
    }

    #[tokio::test]
    async fn webhook_timestamp_is_now_not_event_time() {
        // The event happened long ago (note().at); the signature must still be fresh.
        let secret = generate_secret();
        let (addr, _seen) = serve(&secret).await;
        let sink = sink(SinkKind::Webhook, format!("http://{addr}/webhook"), &secret);
        let mut n = note();
        n.at = Utc.with_ymd_and_hms(2001, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(deliver(&client(), &sink, "msg_old", &n, Utc::now()).await.unwrap(), 204);
        // ...and a stale `now` is what the receiver rejects.
        let stale = Utc::now() - chrono::Duration::minutes(10);
        let err = deliver(&client(), &sink, "msg_old", &n, stale).await.unwrap_err();
        assert_eq!(err.status(), Some(401));
    }

    #[tokio::test]
    async fn bad_secret_fails_before_sending() {
        let (addr, mut seen) = serve(&generate_secret()).await;
        let sink = sink(SinkKind::Webhook, format!("http://{addr}/webhook"), "whsec_short");
        let err = deliver(&client(), &sink, "msg_abc", &note(), Utc::now())
            .await
            .unwrap_err();
        assert!(!err.is_retryable());
        assert_eq!(err.status(), None);
        assert!(err.message().contains("secret"), "{err}");
        assert!(seen.try_recv().is_err(), "nothing was sent");
    }

    #[tokio::test]
    async fn slack_delivery() {
        let (addr, mut seen) = serve(&generate_secret()).await;
        // Slack sinks need no secret.
        let sink = sink(SinkKind::Slack, format!("http://{addr}/slack"), "");
        assert_eq!(
            deliver(&client(), &sink, "msg_s", &note(), Utc::now()).await.unwrap(),
            200
        );
        let got = seen.recv().await.unwrap();
        assert_eq!(got.path, "/slack");
        let body: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(body["text"], "[critical] anthropic: Price change needs approval");
        assert_eq!(body["blocks"][0]["type"], "header");
        assert_eq!(body["blocks"][0]["text"]["text"], "Price change needs approval");
    }

    async fn status_error(addr: SocketAddr, code: u16) -> DeliveryError {
        let sink = sink(
            SinkKind::Webhook,
            format!("http://{addr}/status/{code}"),
            &generate_secret(),
        );
        let now = Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap();
        deliver(&client(), &sink, "msg_x", &note(), now).await.unwrap_err()
    }

    #[tokio::test]
    async fn server_errors_are_retryable() {
        let (addr, _seen) = serve("").await;
        let err = status_error(addr, 500).await;
        assert!(err.is_retryable(), "{err}");
        assert_eq!(err.status(), Some(500));
        assert_eq!(err.retry_after(), None);
        assert_eq!(err.message(), "HTTP 500 Internal Server Error: status 500 with details");

        let err = status_error(addr, 503).await;
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(30)), "HTTP-date form");

        let err = status_error(addr, 408).await;
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn too_many_requests_carries_retry_after() {
        let (addr, _seen) = serve("").await;
        let err = status_error(addr, 429).await;
        assert!(err.is_retryable(), "{err}");
        assert_eq!(err.status(), Some(429));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    }

    #[tokio::test]
    async fn client_errors_are_permanent() {
        let (addr, _seen) = serve("").await;
        for code in [400, 404, 410] {
            let err = status_error(addr, code).await;
            assert!(!err.is_retryable(), "{code}: {err}");
            assert_eq!(err.status(), Some(code));
            assert_eq!(err.retry_after(), None);
        }
        let err = status_error(addr, 301).await;
        assert!(!err.is_retryable(), "{err}");
        assert!(err.message().contains("redirects are not followed"), "{err}");
    }

    #[tokio::test]
    async fn connection_refused_is_retryable() {
        // Bind then drop, so the port is known to be closed.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let secret = generate_secret();
        let slack_url = format!("http://{addr}/services/T000/B000/SECRETTOKEN");
        let sink = sink(SinkKind::Slack, slack_url, &secret);
        let err = deliver(&client(), &sink, "msg_x", &note(), Utc::now())
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert_eq!(err.status(), None);
        assert!(err.message().starts_with("connect:"), "{err}");
        assert!(!err.message().contains("SECRETTOKEN"), "the URL leaked: {err}");
    }

    #[tokio::test]
    async fn timeout_is_retryable() {
        let (addr, _seen) = serve("").await;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let sink = sink(SinkKind::Slack, format!("http://{addr}/slow"), "");
        let err = deliver(&client, &sink, "msg_x", &note(), Utc::now()).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(err.message().starts_with("timeout:"), "{err}");
    }

    #[tokio::test]
    async fn unusable_url_is_permanent() {
        let mut s = sink(SinkKind::Slack, "ftp://example.com/x".into(), "");
        let err = deliver(&client(), &s, "msg_x", &note(), Utc::now()).await.unwrap_err();
        assert!(!err.is_retryable());
        s.url = "nope".into();
        assert!(
            !deliver(&client(), &s, "msg_x", &note(), Utc::now())
                .await
                .unwrap_err()
                .is_retryable()
        );
    }

    #[test]
    fn classification_table() {
        for (code, retryable) in [
            (400, false),
            (401, false),
            (403, false),
            (404, false),
            (408, true),
            (409, false),
            (413, false),
            (422, false),
            (429, true),
            (500, true),
            (502, true),
            (503, true),
            (504, true),
            (308, false),
        ] {
            let err = classify_status(StatusCode::from_u16(code).unwrap(), Some(3), "");
            assert_eq!(err.is_retryable(), retryable, "{code}");
            let expect_after = matches!(code, 429 | 503).then_some(Duration::from_secs(3));
            assert_eq!(err.retry_after(), expect_after, "{code}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(120));
        h.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:30:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(120));
        h.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:00:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(0), "a date in the past means now");
        h.insert(RETRY_AFTER, "-5".parse().unwrap());
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn backoff_ceiling_doubles_then_caps() {
        assert_eq!(backoff_ceiling_ms(0), 5_000);
        assert_eq!(backoff_ceiling_ms(1), 10_000);
        assert_eq!(backoff_ceiling_ms(9), 2_560_000);
        assert_eq!(backoff_ceiling_ms(10), 3_600_000);
        assert_eq!(backoff_ceiling_ms(63), 3_600_000);
        assert_eq!(backoff_ceiling_ms(64), 3_600_000);
        assert_eq!(backoff_ceiling_ms(u32::MAX), 3_600_000);
    }

    #[test]
    fn backoff_is_jittered_within_ceiling() {
        for attempt in [0, 1, 5, 10, MAX_ATTEMPTS, 100, u32::MAX] {
            let ceiling = Duration::from_millis(backoff_ceiling_ms(attempt));
            for _ in 0..200 {
                assert!(backoff(attempt) <= ceiling, "attempt {attempt}");
            }
        }
        // Full jitter: uniform over [0, 160 s] at attempt 5, so the mean is near 80 s
        // (standard error ≈ 1.5 s over 1000 draws) and the draws differ.
        let draws: Vec<Duration> = (0..1000).map(|_| backoff(5)).collect();
        let mean = draws.iter().sum::<Duration>() / 1000;
        assert!(
            mean > Duration::from_secs(65) && mean < Duration::from_secs(95),
            "{mean:?}"
        );
        assert!(draws.iter().any(|d| *d != draws[0]));
        assert!(
            draws.iter().any(|d| *d < Duration::from_secs(40)),
            "draws reach well below the ceiling"
        );
    }
}
