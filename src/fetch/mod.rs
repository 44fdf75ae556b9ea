//! The fetcher: one source URL in, a body (or "not modified", or a classified error) out, with
//! every attempt recorded.
//!
//! What it promises whatever the settings: the size cap counts decompressed bytes and is never a
//! silent truncation; a body shorter than its Content-Length is `truncated`; the SSRF guard checks
//! every address actually connected to and every redirect hop; only transient failures are retried.

pub mod guard;

use crate::config::settings::FetchSettings;
use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Why a fetch (or the extraction right after it) failed. Stored in health and attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    Timeout,
    Dns,
    Connect,
    Tls,
    Http4xx,
    Http5xx,
    RateLimited,
    TooManyRedirects,
    Truncated,
    TooLarge,
    UnsupportedType,
    Blocked,
    ExtractFailed,
    /// A status source that named components or incidents now names nothing, or no longer serves
    /// its platform's document: most likely the provider moved to another status platform.
    ParseYieldDropped,
    /// A document that reads as an error page ("page not found", "access denied", a bot check,
    /// a JavaScript-only shell) although it came with a success status.
    ErrorPage,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::Dns => "dns",
            ErrorClass::Connect => "connect",
            ErrorClass::Tls => "tls",
            ErrorClass::Http4xx => "http_4xx",
            ErrorClass::Http5xx => "http_5xx",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::TooManyRedirects => "too_many_redirects",
            ErrorClass::Truncated => "truncated",
            ErrorClass::TooLarge => "too_large",
            ErrorClass::UnsupportedType => "unsupported_type",
            ErrorClass::Blocked => "blocked",
            ErrorClass::ExtractFailed => "extract_failed",
            ErrorClass::ParseYieldDropped => "parse_yield_dropped",
            ErrorClass::ErrorPage => "error_page",
        }
    }

    /// Worth another attempt in a moment: the server or the path to it may recover.
    fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorClass::Timeout
                | ErrorClass::Connect
                | ErrorClass::Http5xx
                | ErrorClass::RateLimited
                | ErrorClass::Truncated
        )
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{class}: {message}")]
pub struct FetchError {
    pub class: ErrorClass,
    pub message: String,
    /// Seconds the server asked us to wait (429/503 `Retry-After`).
    pub retry_after: Option<u64>,
}

impl FetchError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        FetchError {
            class,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// Validators from the last successful fetch, sent back for a conditional GET.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A body that was fetched completely.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
    /// Response headers as received (minus cookies), kept with the snapshot as evidence.
    pub headers: Vec<(String, String)>,
    pub validators: Validators,
    pub final_url: String,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// 304: what we have is current.
    NotModified,
    Body(Fetched),
}

/// One HTTP attempt, as recorded in `fetch_attempts`.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub status: Option<u16>,
    pub bytes: u64,
    pub error_class: Option<ErrorClass>,
    pub error: Option<String>,
}

/// The result of fetching one source: the outcome and every attempt made for it.
#[derive(Debug)]
pub struct FetchReport {
    pub result: Result<Outcome, FetchError>,
    pub attempts: Vec<Attempt>,
}

/// Shared by every poll: one connection pool, one global and one per-host concurrency limit.
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
    allow_private: bool,
    global: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

const MAX_REDIRECTS: usize = 5;

/// Raised by the redirect policy; found again in the error chain.
#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_REDIRECTS} redirects")]
struct TooManyRedirects;

#[derive(Debug, thiserror::Error)]
#[error("redirect to unsupported scheme `{0}`")]
struct BadRedirectScheme(String);

impl Fetcher {
    pub fn new(settings: FetchSettings, allow_private: bool) -> Result<Fetcher, reqwest::Error> {
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            // `previous` holds the original URL and every hop already followed.
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(TooManyRedirects);
            }
            let scheme = attempt.url().scheme().to_owned();
            if scheme != "http" && scheme != "https" {
                return attempt.error(BadRedirectScheme(scheme));
            }
            match guard::check_url_host(attempt.url(), allow_private) {
                Ok(()) => attempt.follow(),
                Err(blocked) => attempt.error(blocked),
            }
        });
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(settings.connect_timeout())
            .timeout(settings.timeout())
            .redirect(redirect)
            // A proxy from the environment would connect on our behalf, out of the guard's sight.
            .no_proxy()
            .dns_resolver(Arc::new(guard::GuardedResolver { allow_private }))
            .build()?;
        Ok(Fetcher {
            client,
            global: Arc::new(Semaphore::new(settings.global_concurrency.max(1))),
            hosts: Mutex::new(HashMap::new()),
            settings,
            allow_private,
        })
    }

    fn host_limit(&self, host: &str) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().expect("host-limit map poisoned");
        hosts
            .entry(host.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.settings.per_host_concurrency.max(1))))
            .clone()
    }

    /// Fetches `url`, retrying transient failures with exponential backoff and full jitter.
    pub async fn fetch(&self, url: &url::Url, headers: &[(String, String)], validators: &Validators) -> FetchReport {
        let mut attempts = Vec::new();
        let mut attempt_no = 0;
        loop {
            let started_at = Utc::now();
            let t0 = Instant::now();
            let result = {
                let host = url.host_str().unwrap_or_default().to_owned();
                let host_limit = self.host_limit(&host);
                // Host first: a poll waiting for a busy host must not sit on a global slot.
                let _h = host_limit.acquire().await.expect("semaphore never closed");
                let _g = self.global.acquire().await.expect("semaphore never closed");
                self.attempt(url, headers, validators).await
            };
            let (status, bytes) = match &result {
                Ok(Outcome::Body(f)) => (Some(f.status), f.body.len() as u64),
                Ok(Outcome::NotModified) => (Some(304), 0),
                Err(_) => (None, 0),
            };
            let err = result.as_ref().err();
            attempts.push(Attempt {
                started_at,
                duration_ms: t0.elapsed().as_millis() as u64,
                status: status.or_else(|| err.and_then(status_of)),
                bytes,
                error_class: err.map(|e| e.class),
                error: err.map(|e| e.message.clone()),
            });
            match result {
                Err(e) if e.class.is_transient() && attempt_no < self.settings.retries => {
                    let wait = match e.retry_after {
                        Some(secs) if secs > self.settings.max_retry_after_secs => {
                            return FetchReport {
                                result: Err(e),
                                attempts,
                            };
                        }
                        Some(secs) => Duration::from_secs(secs),
                        None => self.backoff(attempt_no),
                    };
                    tracing::debug!(%url, class = %e.class, ?wait, "transient failure, retrying");
                    tokio::time::sleep(wait).await;
                    attempt_no += 1;
                }
                result => return FetchReport { result, attempts },
            }
        }
    }

    /// Exponential backoff with full jitter: uniform in [0, min(max, base * 2^n)].
    fn backoff(&self, attempt_no: u32) -> Duration {
        let cap = self
            .settings
            .backoff_base_ms
            .saturating_mul(1u64 << attempt_no.min(20))
            .min(self.settings.backoff_max_ms);
        Duration::from_millis(rand::rng().random_range(0..=cap))
    }

    async fn attempt(
        &self,
        url: &url::Url,
        extra: &[(String, String)],
        validators: &Validators,
    ) -> Result<Outcome, FetchError> {
        guard::check_url_host(url, self.allow_private)
            .map_err(|b| FetchError::new(ErrorClass::Blocked, b.to_string()))?;
        let mut req = self.client.get(url.clone()).header(header::ACCEPT, "*/*");
        for (k, v) in extra {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(etag) = &validators.etag {
            req = req.header(header::IF_NONE_MATCH, etag.as_str());
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm.as_str());
        }
        let mut resp = req.send().await.map_err(classify_error)?;

        // Belt and braces: the resolver already filtered, but check what we really connected to.
        if let Some(addr) = resp.remote_addr() {
            guard::check_ip(addr.ip(), self.allow_private)
                .map_err(|b| FetchError::new(ErrorClass::Blocked, b.to_string()))?;
        }
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Outcome::NotModified);
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let mut e = FetchError::new(ErrorClass::RateLimited, "HTTP 429 Too Many Requests");
            e.retry_after = retry_after(resp.headers());
            return Err(e);
        }
        if status.is_server_error() {
            let mut e = FetchError::new(ErrorClass::Http5xx, format!("HTTP {status}"));
            e.retry_after = retry_after(resp.headers());
            return Err(e);
        }
        if !status.is_success() {
            return Err(FetchError::new(ErrorClass::Http4xx, format!("HTTP {status}")));
        }
        if let Some(ct) = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
            && is_binary_type(ct)
        {
            return Err(FetchError::new(
                ErrorClass::UnsupportedType,
                format!("content type `{ct}` is not a document"),
            ));
        }
        let cap = self.settings.max_body_bytes;
        // reqwest drops Content-Length when it decompresses, so this only fires for identity bodies.
        let declared = resp.content_length();
        if let Some(len) = declared
            && len > cap
        {
            return Err(FetchError::new(
                ErrorClass::TooLarge,
                format!("Content-Length {len} exceeds the {cap}-byte cap"),
            ));
        }
        let headers = kept_headers(resp.headers());
        let validators = Validators {
            etag: header_str(resp.headers(), header::ETAG),
            last_modified: header_str(resp.headers(), header::LAST_MODIFIED),
        };
        let final_url = resp.url().to_string();
        let mut body = Vec::with_capacity(declared.unwrap_or(16 * 1024).min(cap) as usize);
        // Counting decompressed chunks as they arrive keeps a gzip bomb from ever being allocated.
        while let Some(chunk) = resp.chunk().await.map_err(classify_error)? {
            if body.len() as u64 + chunk.len() as u64 > cap {
                return Err(FetchError::new(
                    ErrorClass::TooLarge,
                    format!("body exceeds the {cap}-byte cap"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        if let Some(len) = declared
            && (body.len() as u64) < len
        {
            return Err(FetchError::new(
                ErrorClass::Truncated,
                format!("body ended after {} of {len} bytes", body.len()),
            ));
        }
        Ok(Outcome::Body(Fetched {
            status: status.as_u16(),
            body,
            headers,
            validators,
            final_url,
        }))
    }
}

fn status_of(e: &FetchError) -> Option<u16> {
    e.message
        .strip_prefix("HTTP ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
}

fn header_str(h: &HeaderMap, name: HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn kept_headers(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .filter(|(k, _)| *k != header::SET_COOKIE)
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// `Retry-After` in seconds: an integer, or an HTTP date in the future.
fn retry_after(h: &HeaderMap) -> Option<u64> {
    let v: &HeaderValue = h.get(header::RETRY_AFTER)?;
    let s = v.to_str().ok()?.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(secs);
    }
    let when = DateTime::parse_from_rfc2822(s).ok()?;
    Some((when.with_timezone(&Utc) - Utc::now()).num_seconds().max(0) as u64)
}

/// Types that can never be a watched document; anything textual or unlabelled is let through and
/// left to the extractor to judge.
fn is_binary_type(ct: &str) -> bool {
    let t = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    t.starts_with("image/")
        || t.starts_with("audio/")
        || t.starts_with("video/")
        || t.starts_with("font/")
        || matches!(
            t.as_str(),
            "application/octet-stream"
                | "application/zip"
                | "application/gzip"
                | "application/x-tar"
                | "application/wasm"
        )
}

/// Maps a reqwest error onto our classes by walking its source chain.
fn classify_error(e: reqwest::Error) -> FetchError {
    use std::error::Error as _;
    let mut chain = String::new();
    let mut src: Option<&(dyn std::error::Error + 'static)> = e.source();
    let mut class = None;
    while let Some(s) = src {
        if class.is_none() {
            if s.is::<guard::Blocked>() {
                class = Some(ErrorClass::Blocked);
            } else if s.is::<guard::DnsFailure>() {
                class = Some(ErrorClass::Dns);
            } else if s.is::<TooManyRedirects>() {
                class = Some(ErrorClass::TooManyRedirects);
            } else if s.is::<BadRedirectScheme>() {
                class = Some(ErrorClass::Blocked);
            } else if let Some(io) = s.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::TimedOut
            {
                class = Some(ErrorClass::Timeout);
            }
        }
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        src = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    let class = class.unwrap_or(if e.is_timeout() {
        ErrorClass::Timeout
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        ErrorClass::Tls
    } else if e.is_connect() {
        ErrorClass::Connect
    } else if e.is_body() || e.is_decode() {
        ErrorClass::Truncated
    } else if e.is_redirect() {
        ErrorClass::TooManyRedirects
    } else {
        ErrorClass::Connect
    });
    let what = if e.is_body() { "reading body" } else { "request" };
    FetchError::new(class, format!("{what} failed{chain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(7));
        let future = (Utc::now() + chrono::Duration::seconds(100)).to_rfc2822();
        h.insert(header::RETRY_AFTER, HeaderValue::from_str(&future).unwrap());
        let secs = retry_after(&h).unwrap();
        assert!((95..=100).contains(&secs), "{secs}");
    }

    #[test]
    fn binary_types_are_refused_and_text_passes() {
        assert!(is_binary_type("image/png"));
        assert!(is_binary_type("application/octet-stream; charset=binary"));
        assert!(!is_binary_type("text/html; charset=utf-8"));
        assert!(!is_binary_type("application/json"));
        assert!(!is_binary_type("application/rss+xml"));
    }

    #[test]
    fn backoff_stays_under_its_cap() {
        let s = FetchSettings {
            backoff_base_ms: 100,
            backoff_max_ms: 1000,
            ..FetchSettings::default()
        };
        let f = Fetcher::new(s, false).unwrap();
        for n in 0..30 {
            assert!(f.backoff(n) <= Duration::from_millis(1000));
        }
        assert!(f.backoff(0) <= Duration::from_millis(100));
    }
}
