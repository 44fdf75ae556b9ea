//! Outbound notifications: signed webhooks (Standard Webhooks) and Slack incoming webhooks.
//!
//! [`Notifier`] (outbox.rs) turns audit events into notifications, queues them per sink and
//! drives retries with [`DeliveryError`]'s classification, [`backoff`] and [`MAX_ATTEMPTS`].
//!
//! - [`SinkSettings`]: one `[[notify.sinks]]` entry, its validation and its filters.
//! - [`sign`] / [`verify`] / [`generate_secret`]: Standard Webhooks signatures.
//! - [`webhook_body`] / [`slack_body`]: the two wire formats.
//! - [`deliver`]: one POST, classified as success, retryable or permanent failure.

mod body;
mod deliver;
mod outbox;
mod signature;
mod sink;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use body::{slack_body, webhook_body};
pub use deliver::{DeliveryError, MAX_ATTEMPTS, backoff, deliver};
pub use outbox::Notifier;
pub use signature::{generate_secret, sign, verify};
pub use sink::{Severity, SinkKind, SinkSettings, validate_sinks};

/// Something worth telling people about, independent of where it is sent.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Notification {
    /// What happened, e.g. `brief.created`, `decision.applied`, `source.broken`.
    pub event: String,
    /// `info`, `low`, `medium`, `high` or `critical`; `None` for events that have no severity.
    pub severity: Option<String>,
    pub provider: Option<String>,
    pub category: Option<String>,
    pub title: String,
    pub text: String,
    /// Link back into signalbox.
    pub url: Option<String>,
    /// Event-specific fields; an object's keys are merged into the webhook `data`.
    pub data: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// Configuration and signature errors. Messages never include a secret or a full sink URL
/// (Slack webhook URLs are credentials themselves).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notify sink `{sink}`: {reason}")]
    InvalidSink { sink: String, reason: String },
    #[error("notify sink name `{0}` is used more than once")]
    DuplicateSink(String),
    #[error("invalid webhook secret: {0}")]
    InvalidSecret(&'static str),
    #[error("missing `{0}` header")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not a whole number of seconds")]
    InvalidTimestamp,
    #[error("webhook-timestamp is too old")]
    TimestampTooOld,
    #[error("webhook-timestamp is too far in the future")]
    TimestampTooNew,
    #[error("no matching webhook signature")]
    SignatureMismatch,
}
