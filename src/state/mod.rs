//! What the HTTP faces share: the application state both the API and the web pages are
//! handed, and the pieces of it that are neither's own (per-token limits, SSE channel tokens,
//! the web settings). Below `api` and `web`, so that neither imports the other.

pub mod channel;
pub mod limit;

use crate::auth::{Principal, TokenCache};
use crate::config::Source;
use crate::config::settings::{SchedulerSettings, ServingSettings};
use crate::flags::{FlagService, Telemetry};
use crate::store::Store;
use std::sync::Arc;

/// What the handlers share. axum clones the state for every request, so it is one `Arc`: a
/// single reference count instead of one per field on the hot path.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Store,
    pub sources: Arc<Vec<Source>>,
    pub scheduler: SchedulerSettings,
    pub serving: Arc<ServingSettings>,
    pub flags: Arc<FlagService>,
    pub tokens: Arc<TokenCache>,
    pub telemetry: Arc<Telemetry>,
    /// Set when anonymous evaluation is allowed (development only).
    pub anonymous: Option<Arc<Principal>>,
    /// Turns true when the server shuts down (ends the long-lived SSE streams).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Per-token evaluation limits (429).
    pub limiter: Arc<limit::RateLimiter>,
    /// Issues and checks the signed SSE channel tokens.
    pub channels: Arc<channel::Channels>,
    /// Proposals, approvals and the overrides they become.
    pub decisions: Arc<crate::decisions::Decisions>,
    pub playbooks: Arc<crate::decisions::Playbooks>,
    /// The watcher, for "check now" from the sources page.
    pub watcher: Arc<crate::watch::Watcher>,
    /// The web pages' settings (sessions, SSO).
    pub web: Arc<WebConfig>,
    /// Whether this replica leads (runs the scheduler) or follows.
    pub role: tokio::sync::watch::Receiver<crate::cluster::Role>,
}

/// The web settings, checked at start.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub session_hours: u64,
    pub secure_cookies: String,
    pub sso_header: String,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub sso_scopes: Vec<String>,
    pub sso_env: String,
}

impl WebConfig {
    pub fn from_settings(s: &crate::config::Settings) -> Result<WebConfig, String> {
        let w = &s.web;
        let trusted_proxies = w
            .trusted_proxies
            .iter()
            .map(|c| {
                c.parse::<ipnet::IpNet>()
                    .or_else(|_| c.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|e| format!("web.trusted_proxies: `{c}` is not an address or CIDR: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for sc in &w.sso_scopes {
            if crate::auth::Scope::parse(sc).is_none() {
                return Err(format!("web.sso_scopes: unknown scope `{sc}`"));
            }
        }
        if !w.sso_header.is_empty() && trusted_proxies.is_empty() {
            return Err(
                "web.sso_header is set but web.trusted_proxies is empty: the header would be believed from no one"
                    .into(),
            );
        }
        if !s.serving.environments.contains(&w.sso_env) {
            return Err(format!("web.sso_env `{}` is not a configured environment", w.sso_env));
        }
        if !matches!(w.secure_cookies.as_str(), "auto" | "always" | "never") {
            return Err(format!(
                "web.secure_cookies must be auto, always or never, not `{}`",
                w.secure_cookies
            ));
        }
        Ok(WebConfig {
            session_hours: w.session_hours,
            secure_cookies: w.secure_cookies.clone(),
            sso_header: w.sso_header.clone(),
            trusted_proxies,
            sso_scopes: w.sso_scopes.clone(),
            sso_env: w.sso_env.clone(),
        })
    }
}
