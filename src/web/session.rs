//! Who is looking at a page: a session cookie made at sign-in from an API token, or, behind an SSO
//! proxy, the person the proxy names in a trusted header. Every form carries the session's CSRF
//! token; a POST without it (or from another origin) is refused.

use super::WebError;
use crate::auth::{Scope, Scopes};
use crate::state::AppState;
use crate::store::WebSession;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;

pub const COOKIE: &str = "sbx_session";
/// The cookie's name when it is Secure: the `__Host-` prefix makes browsers refuse it from any
/// other host and require `Path=/` and no `Domain`.
pub const SECURE_COOKIE: &str = "__Host-sbx_session";

/// The signed-in person and what they may do.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub name: Arc<str>,
    pub scopes: Scopes,
    pub env: Arc<str>,
    pub csrf: String,
    /// The SHA-256 of the session id (for sign-out).
    pub session: String,
    /// A cookie to set on the response (a session just made for an SSO visitor).
    pub set_cookie: Option<HeaderValue>,
}

impl Viewer {
    pub fn can(&self, scope: Scope) -> bool {
        self.scopes.allows(scope)
    }

    /// The flags templates use to show or hide actions.
    pub fn context(&self) -> serde_json::Value {
        serde_json::json!({
            "name": &*self.name, "env": &*self.env, "csrf": self.csrf,
            "triage": self.can(Scope::BriefsWrite), "propose": self.can(Scope::DecisionsPropose),
            "approve": self.can(Scope::DecisionsApprove), "audit": self.can(Scope::AuditRead),
            "admin": self.can(Scope::Admin),
        })
    }

    /// Accepts a form post only from this site and with this session's CSRF token.
    pub fn check_post(&self, headers: &HeaderMap, sent: &str) -> Result<(), WebError> {
        if !same_origin(headers) {
            return Err(WebError::Csrf);
        }
        self.check_csrf(sent)
    }

    /// Refuses a form post whose CSRF token is not this session's.
    pub fn check_csrf(&self, sent: &str) -> Result<(), WebError> {
        let (a, b) = (self.csrf.as_bytes(), sent.as_bytes());
        let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        if same { Ok(()) } else { Err(WebError::Csrf) }
    }
}

pub fn hash_id(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The session ids the request carries, to try in order: `__Host-sbx_session` (set over TLS,
/// which no sibling subdomain can plant), then `sbx_session`.
fn cookie_values(headers: &HeaderMap) -> Vec<String> {
    // The `__Host-` cookie first (no other host can have set it), and at most one of each name:
    // a request stuffed with cookies must not cost a lookup each.
    let (mut secure, mut plain) = (None, None);
    for (k, v) in headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
    {
        if k == SECURE_COOKIE && secure.is_none() {
            secure = Some(v.to_owned());
        } else if k == COOKIE && plain.is_none() {
            plain = Some(v.to_owned());
        }
    }
    secure.into_iter().chain(plain).collect()
}

/// Whether the peer is one of the configured proxies.
fn trusted_peer(st: &AppState, parts: &Parts) -> bool {
    let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
        return false;
    };
    st.web
        .trusted_proxies
        .iter()
        .any(|net| net.contains(&peer.ip().to_canonical()))
}

/// Whether the request came through one of the trusted proxies (whose X-Forwarded-Proto and SSO
/// header are believed).
pub struct TrustedPeer(pub bool);

impl FromRequestParts<AppState> for TrustedPeer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<TrustedPeer, Self::Rejection> {
        Ok(TrustedPeer(trusted_peer(st, parts)))
    }
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Strict, Secure when served over TLS.
pub fn session_cookie(st: &AppState, parts_headers: &HeaderMap, trusted: bool, id: &str, max_age: i64) -> HeaderValue {
    let tls = match st.web.secure_cookies.as_str() {
        "always" => true,
        "never" => false,
        _ => {
            trusted
                && parts_headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|p| p.eq_ignore_ascii_case("https"))
        }
    };
    let value = if tls {
        format!("{SECURE_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}; Secure")
    } else {
        format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
    };
    HeaderValue::from_str(&value).expect("cookie is ASCII")
}

/// Makes a session; returns its cookie value and the stored record.
pub async fn start(
    st: &AppState,
    token_id: Option<i64>,
    name: &str,
    scopes: &[String],
    env: &str,
) -> Result<(String, WebSession), WebError> {
    let id = random_hex(32);
    let session = WebSession {
        token_id,
        name: name.to_owned(),
        scopes: scopes.to_vec(),
        env: env.to_owned(),
        csrf: random_hex(24),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(st.web.session_hours.max(1) as i64),
    };
    st.store.create_web_session(&hash_id(&id), &session).await?;
    Ok((id, session))
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Viewer, WebError> {
        let trusted = trusted_peer(st, parts);
        let sso_name = (!st.web.sso_header.is_empty() && trusted)
            .then(|| parts.headers.get(st.web.sso_header.as_str()))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        for id in cookie_values(&parts.headers) {
            let hashed = hash_id(&id);
            if let Some(s) = st.store.web_session(&hashed).await? {
                // A token session lives only as long as its token; an SSO session only while the
                // proxy still names the same person.
                let principal = match s.token_id {
                    Some(t) => st.tokens.by_id(t).map(|p| (p.name.clone(), p.scopes, p.env.clone())),
                    None if sso_name.as_deref() == Some(s.name.as_str()) => Some((
                        s.name.as_str().into(),
                        Scopes::of(s.scopes.iter().filter_map(|x| Scope::parse(x))),
                        s.env.as_str().into(),
                    )),
                    None => None,
                };
                if let Some((name, scopes, env)) = principal {
                    return Ok(Viewer {
                        name,
                        scopes,
                        env,
                        csrf: s.csrf,
                        session: hashed,
                        set_cookie: None,
                    });
                }
            }
        }
        if let Some(name) = sso_name {
            let (id, s) = start(st, None, &name, &st.web.sso_scopes, &st.web.sso_env).await?;
            let max_age = st.web.session_hours.max(1) as i64 * 3600;
            return Ok(Viewer {
                name: name.as_str().into(),
                scopes: Scopes::of(s.scopes.iter().filter_map(|x| Scope::parse(x))),
                env: s.env.as_str().into(),
                csrf: s.csrf,
                session: hash_id(&id),
                set_cookie: Some(session_cookie(st, &parts.headers, trusted, &id, max_age)),
            });
        }
        let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        Err(WebError::SignIn(next.to_owned()))
    }
}

/// A form that carries nothing but the CSRF token. A missing field is the same refusal (403) as
/// a wrong one, not a form error.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// Whether the request is a same-origin form post: browsers send `Origin` (or `Sec-Fetch-Site`)
/// on POSTs; one from another site is refused even with a stolen CSRF token.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host),
        // No Origin header: not a browser's cross-site form post.
        (None, _) => true,
        (Some(_), None) => false,
    }
}
