//! Settings: command-line options, environment variables and an optional TOML file, in that order
//! of precedence. `signalbox default-config` prints a commented example of the file.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("invalid settings file {path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Everything signalbox can be told. `Debug` is safe to log: it holds no secret (database
/// passwords are masked, see `database_url_redacted`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub sources: PathBuf,
    pub flags: PathBuf,
    pub database: String,
    pub listen: String,
    pub allow_private_networks: bool,
    pub fetch: FetchSettings,
    pub scheduler: SchedulerSettings,
    pub serving: ServingSettings,
    pub triage: TriageSettings,
    pub decisions: DecisionSettings,
    pub notify: NotifySettings,
    pub catalogue: CatalogueSettings,
    pub web: WebSettings,
}

/// The web pages: sessions and single sign-on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// How long a sign-in lasts.
    pub session_hours: u64,
    /// `auto` (Secure when the request came over TLS, as a trusted proxy says with
    /// X-Forwarded-Proto), `always` or `never`.
    pub secure_cookies: String,
    /// For teams behind an SSO proxy: the header carrying the signed-in person (e.g.
    /// `X-Forwarded-Email`); empty turns it off. Trusted only from `trusted_proxies`.
    pub sso_header: String,
    /// Addresses (CIDR) of the proxies whose `sso_header` and X-Forwarded-Proto are believed.
    pub trusted_proxies: Vec<String>,
    /// What people signed in through the proxy may do, and in which environment.
    pub sso_scopes: Vec<String>,
    pub sso_env: String,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            session_hours: 12,
            secure_cookies: "auto".into(),
            sso_header: String::new(),
            trusted_proxies: Vec::new(),
            sso_scopes: vec!["briefs:write".into()],
            sso_env: "production".into(),
        }
    }
}

/// Which part of the source catalogue to watch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogueSettings {
    /// Providers to watch (`openai`, `anthropic`, ...); empty: all.
    pub providers: Vec<String>,
    /// Document types to watch (`status`, `pricing`, `deprecations`, ...); empty: all.
    pub doc_types: Vec<String>,
}

/// Notifications: where briefs, approvals, playbook firings, broken sources and deadlines go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// `[[notify.sinks]]`: signed webhooks and Slack incoming webhooks, each with its filters.
    pub sinks: Vec<crate::notify::SinkSettings>,
    /// The address people open signalbox at, for links in messages (none when empty).
    pub public_url: String,
    /// How often new events are picked up and due retries attempted.
    pub poll_ms: u64,
    /// The longest one delivery may take.
    pub timeout_ms: u64,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            sinks: Vec::new(),
            public_url: String::new(),
            poll_ms: 1000,
            timeout_ms: 10_000,
        }
    }
}

/// Decisions and playbooks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionSettings {
    /// Environments where a decision needs the flag's `metadata.approvals` approvers (default 2);
    /// elsewhere one approver other than the proposer is enough.
    pub production_envs: Vec<String>,
    /// The playbooks file; `<flags>/playbooks.toml` when not set. A missing file means none.
    pub playbooks: Option<PathBuf>,
    /// How often scheduled starts, expiries and playbook quiet periods are checked.
    pub tick_ms: u64,
}

impl Default for DecisionSettings {
    fn default() -> Self {
        DecisionSettings {
            production_envs: vec!["production".into()],
            playbooks: None,
            tick_ms: 1000,
        }
    }
}

impl Settings {
    /// The source catalogue with the settings' selection applied (unselected sources disabled).
    pub fn load_sources(&self) -> Result<Vec<crate::config::Source>, crate::config::SourceErrors> {
        let mut all = crate::config::sources::load_dir(&self.sources)?;
        let mut problems = Vec::new();
        for d in &self.catalogue.doc_types {
            if crate::config::DocType::parse(d).is_none() {
                problems.push(crate::config::sources::Problem {
                    file: PathBuf::from("settings"),
                    line: 0,
                    message: format!("catalogue.doc_types names an unknown doc_type `{d}`"),
                });
            }
        }
        for p in &self.catalogue.providers {
            if !all.iter().any(|s| s.provider == *p) {
                problems.push(crate::config::sources::Problem {
                    file: PathBuf::from("settings"),
                    line: 0,
                    message: format!("catalogue.providers names `{p}`, which no source file declares"),
                });
            }
        }
        if !problems.is_empty() {
            return Err(crate::config::SourceErrors(problems));
        }
        crate::config::sources::select(&mut all, &self.catalogue.providers, &self.catalogue.doc_types);
        Ok(all)
    }

    pub fn playbooks_path(&self) -> PathBuf {
        self.decisions
            .playbooks
            .clone()
            .unwrap_or_else(|| self.flags.join("playbooks.toml"))
    }
}

/// The triage engine.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageSettings {
    /// Extra classification rules files (same shape as the shipped `src/triage/rules.toml`); their
    /// patterns and priors are added to the shipped ones. A bad file stops the server at start.
    pub rules: Vec<PathBuf>,
}

/// The flag service: environments, who may evaluate, limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServingSettings {
    /// Environments flags are served for; every token is bound to one of them.
    pub environments: Vec<String>,
    /// Evaluate without a token (local development only), in `anonymous_env`.
    pub allow_anonymous: bool,
    pub anonymous_env: String,
    /// Largest OFREP request body accepted (413 above).
    pub max_request_bytes: usize,
    /// Flag evaluations per second per token (429 with Retry-After above); 0 means no limit.
    pub rate_limit_per_token: u64,
    /// How often flag files are checked for changes.
    pub reload_poll_ms: u64,
    /// How often evaluation counts are written to the database.
    pub telemetry_flush_secs: u64,
    /// How often tokens created or revoked by the CLI are picked up.
    pub token_refresh_secs: u64,
    /// Secret that signs SSE channel tokens (hex or any string). Random at start when empty, which
    /// is fine for one replica; several replicas behind one load balancer must share it.
    pub sse_secret: String,
}

impl Default for ServingSettings {
    fn default() -> Self {
        ServingSettings {
            environments: vec!["development".into(), "staging".into(), "production".into()],
            allow_anonymous: false,
            anonymous_env: "development".into(),
            max_request_bytes: 64 * 1024,
            rate_limit_per_token: 0,
            reload_poll_ms: 500,
            telemetry_flush_secs: 10,
            token_refresh_secs: 2,
            sse_secret: String::new(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sources: PathBuf::from("./sources"),
            flags: PathBuf::from("./flags"),
            database: "sqlite://signalbox.db".into(),
            listen: "127.0.0.1:8080".into(),
            allow_private_networks: false,
            fetch: FetchSettings::default(),
            scheduler: SchedulerSettings::default(),
            serving: ServingSettings::default(),
            triage: TriageSettings::default(),
            decisions: DecisionSettings::default(),
            notify: NotifySettings::default(),
            catalogue: CatalogueSettings::default(),
            web: WebSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchSettings {
    pub user_agent: String,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    pub max_body_bytes: u64,
    /// Attempts after the first, for transient failures only.
    pub retries: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// The longest `Retry-After` we wait in-line; a longer one ends the poll as `rate_limited`.
    pub max_retry_after_secs: u64,
    pub global_concurrency: usize,
    pub per_host_concurrency: usize,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            user_agent: format!(
                "signalbox/{} (+https://github.com/signalbox/signalbox; change monitoring of public vendor documents)",
                env!("CARGO_PKG_VERSION")
            ),
            connect_timeout_ms: 10_000,
            timeout_ms: 30_000,
            max_body_bytes: 10 * 1024 * 1024,
            retries: 2,
            backoff_base_ms: 500,
            backoff_max_ms: 30_000,
            max_retry_after_secs: 120,
            global_concurrency: 16,
            per_host_concurrency: 2,
        }
    }
}

impl FetchSettings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSettings {
    /// Most seconds a poll is delayed past its cron time, so that sources sharing a schedule do not
    /// all hit the network in the same second. Capped at a tenth of the source's period.
    pub jitter_secs: u64,
    /// Consecutive failures after which a source is reported broken.
    pub broken_after: u32,
    /// Longest back-off for a failing source.
    pub max_backoff_secs: u64,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            jitter_secs: 30,
            broken_after: 3,
            max_backoff_secs: 3600,
        }
    }
}

impl Settings {
    /// Reads a settings file (every key optional).
    pub fn from_file(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|e| SettingsError::Read(path.to_path_buf(), e))?;
        toml::from_str(&text).map_err(|e| SettingsError::Invalid {
            path: path.to_path_buf(),
            line: e.span().map(|s| text[..s.start].matches('\n').count() + 1).unwrap_or(1),
            message: e.message().to_owned(),
        })
    }

    /// The database URL with any password replaced, for logs.
    pub fn database_url_redacted(&self) -> String {
        match url::Url::parse(&self.database) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("****"));
                u.to_string()
            }
            _ => self.database.clone(),
        }
    }
}

/// The commented example printed by `signalbox default-config`.
pub const DEFAULT_CONFIG: &str = r#"# signalbox settings. Every key is optional; command-line options and environment variables win.

# Directory of source declarations (sources/<provider>.toml).      env: SIGNALBOX_SOURCES
sources = "./sources"
# Directory of flag files (flagd format).                          env: SIGNALBOX_FLAGS
flags = "./flags"
# sqlite://PATH (created when missing), a plain file path, or postgres://USER@HOST/DB for
# several replicas on one PostgreSQL database (see docs/operations.md). env: DATABASE_URL
database = "sqlite://signalbox.db"
# Address of the HTTP server.                                      env: SIGNALBOX_LISTEN
listen = "127.0.0.1:8080"
# Let sources point at private and loopback addresses (never link-local or cloud metadata).
# Off by default: a source URL is attacker-controlled input in a shared deployment.
#                                                                  env: SIGNALBOX_ALLOW_PRIVATE_NETWORKS
allow_private_networks = false

[fetch]
user_agent = "signalbox/0.1 (+https://github.com/signalbox/signalbox; change monitoring of public vendor documents)"
connect_timeout_ms = 10000
timeout_ms = 30000          # whole request, body included
max_body_bytes = 10485760   # decompressed; a larger body is an error (too_large), never truncated
retries = 2                 # for timeouts, connection errors, 5xx and 429 only
backoff_base_ms = 500       # exponential with full jitter
backoff_max_ms = 30000
max_retry_after_secs = 120  # a longer Retry-After ends the poll as rate_limited
global_concurrency = 16
per_host_concurrency = 2

[scheduler]
jitter_secs = 30            # capped at a tenth of each source's period
broken_after = 3            # consecutive failures before a source is reported broken
max_backoff_secs = 3600     # a failing source is retried less and less often, up to this

[serving]
environments = ["development", "staging", "production"]  # every token is bound to one
allow_anonymous = false     # evaluate flags without a token, in anonymous_env: local development only
anonymous_env = "development"
max_request_bytes = 65536   # larger OFREP bodies get 413
rate_limit_per_token = 0    # evaluations per second per token (429 + Retry-After above); 0 = no limit
reload_poll_ms = 500        # flag files are checked this often (and on SIGHUP)
telemetry_flush_secs = 10   # evaluation counts are written to the database this often
token_refresh_secs = 2      # tokens created or revoked with the CLI take effect within this
sse_secret = ""             # signs SSE channel tokens; random at start when empty; required on PostgreSQL
                            # (replicas share it).                  env: SIGNALBOX_SSE_SECRET

[triage]
rules = []                  # extra classification rules files, added to the shipped ones (docs/triage.md)

[decisions]
production_envs = ["production"]  # decisions here need the flag's metadata.approvals approvers (default 2)
# playbooks = "./flags/playbooks.toml"  # pre-approved decisions; default <flags>/playbooks.toml
tick_ms = 1000              # scheduled starts, expiries and playbook quiet periods are checked this often

[catalogue]
providers = []              # watch only these providers' sources (e.g. ["openai", "anthropic"]); empty: all
doc_types = []              # and only these document types (e.g. ["status", "deprecations"]); empty: all

[web]
session_hours = 12          # how long a sign-in lasts
secure_cookies = "auto"     # auto (Secure behind TLS, per a trusted proxy's X-Forwarded-Proto), always, never
sso_header = ""             # e.g. "X-Forwarded-Email" behind an SSO proxy; empty: sign in with a token
trusted_proxies = []        # CIDRs whose sso_header and X-Forwarded-Proto are believed, e.g. ["10.0.0.5/32"]
sso_scopes = ["briefs:write"]  # what people signed in through the proxy may do
sso_env = "production"      # and in which environment

[notify]
public_url = ""             # e.g. "https://signalbox.example.com", for links in messages
poll_ms = 1000              # new events and due retries are handled this often
timeout_ms = 10000          # one delivery attempt at most
# A signed JSON webhook (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).
# [[notify.sinks]]
# name = "oncall-webhook"
# kind = "webhook"
# url = "https://hooks.example.com/signalbox"
# secret = "whsec_..."      # `signalbox notify secret` prints a new one
# min_severity = "high"     # info, low, medium, high, critical (events without a severity always pass)
# providers = []            # empty: all
# categories = []           # empty: all
# events = []               # empty: all of brief.created, decision.pending_approval, playbook.fired,
#                           # source.broken, source.recovered, deadline.approaching
# A Slack incoming webhook.
# [[notify.sinks]]
# name = "slack-ai-vendors"
# kind = "slack"
# url = "https://hooks.slack.com/services/..."
# min_severity = "medium"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_default_config_parses_to_the_defaults() {
        let parsed: Settings = toml::from_str(DEFAULT_CONFIG).unwrap();
        let d = Settings::default();
        assert_eq!(parsed.database, d.database);
        assert_eq!(parsed.fetch.max_body_bytes, d.fetch.max_body_bytes);
        assert_eq!(parsed.scheduler.broken_after, d.scheduler.broken_after);
    }

    #[test]
    fn unknown_keys_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.toml");
        std::fs::write(&p, "listen = \"x\"\n[fetch]\nretires = 3\n").unwrap();
        match Settings::from_file(&p) {
            Err(SettingsError::Invalid { line, message, .. }) => {
                assert_eq!(line, 3);
                assert!(message.contains("retires"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn passwords_are_redacted() {
        let s = Settings {
            database: "postgres://u:secret@h/db".into(),
            ..Settings::default()
        };
        assert!(!s.database_url_redacted().contains("secret"));
    }
}
