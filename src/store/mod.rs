//! The snapshot store: blobs, snapshots, changes, fetch attempts and source health.
//!
//! SQLite (one file, WAL) is the embedded default. Everything one poll writes goes through
//! [`Store::commit_poll`] in one transaction, so a crash never leaves a snapshot without its change
//! or a change without its snapshot.

mod audit;
mod backend;
mod briefs;
mod decisions;
mod evidence;
mod notify;
mod revisions;
mod snapshots;
mod tokens;
mod web_sessions;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use audit::{AuditFilter, NewAudit};
pub use backend::{Backend, Candidate, EventFeed, Store};
pub use briefs::{BriefEvent, BriefFilter, BriefInsert, BriefRecord, NewBrief, TransitionError};
pub use decisions::{DecisionFilter, DecisionRecord, DecisionStoreError, NewDecision, Vote};
pub use notify::{Delivery, NewDelivery};
pub use tokens::{TokenRecord, UsageDelta, UsageRow};
pub use web_sessions::WebSession;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL `{0}` (use sqlite://PATH, a file path, or postgres://USER@HOST/DATABASE)")]
    UnsupportedUrl(String),
    #[error("stored blob {0} is missing")]
    MissingBlob(String),
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("another poll of this source committed first")]
    Conflict,
    #[error("stored blob {sha} is corrupt: {reason}")]
    CorruptBlob { sha: String, reason: String },
    /// A row holds a value the domain does not know (written by a newer version, or by hand).
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The database cannot be reached (down, restarting, the network gone, the pool exhausted):
    /// a caller should say "try again" (503), not "we failed" (500). Nothing was written.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Db(e) => match e {
                sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                // PostgreSQL's class 08 (connection exception) and 57P0x (shutting down).
                sqlx::Error::Database(d) => d.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")),
                _ => false,
            },
            _ => false,
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The provider's document changed.
    Change,
    /// Our extraction rules changed and the stored raw body was re-read: not news.
    RulesUpgrade,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Change => "change",
            ChangeKind::RulesUpgrade => "rules_upgrade",
        }
    }
    fn parse(s: &str) -> ChangeKind {
        if s == "rules_upgrade" {
            ChangeKind::RulesUpgrade
        } else {
            ChangeKind::Change
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotOrigin {
    Fetch,
    RulesUpgrade,
}

impl SnapshotOrigin {
    fn as_str(self) -> &'static str {
        match self {
            SnapshotOrigin::Fetch => "fetch",
            SnapshotOrigin::RulesUpgrade => "rules_upgrade",
        }
    }
}

/// A stored snapshot without its bodies.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotMeta {
    pub id: i64,
    pub source: String,
    pub fetched_at: DateTime<Utc>,
    pub url: String,
    pub http_status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub raw_sha256: String,
    pub text_sha256: String,
    pub rules_hash: String,
    pub origin: String,
}

/// A stored change.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeRecord {
    pub id: i64,
    pub source: String,
    pub before: i64,
    pub after: i64,
    pub detected_at: DateTime<Utc>,
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<serde_json::Value>,
}

/// Health and validators of one source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceState {
    pub source: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_change: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub last_error_class: Option<String>,
    pub last_error: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
    /// The declared URL that the validators and the latest snapshot belong to.
    pub source_url: Option<String>,
    /// A server asked us (Retry-After) not to come back before this.
    pub not_before: Option<DateTime<Utc>>,
}

/// A fetch attempt as stored.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRecord {
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub url: String,
    pub status: Option<u16>,
    pub bytes: u64,
    pub error_class: Option<String>,
    pub error: Option<String>,
}

/// A snapshot to write. Bodies are given uncompressed; the store hashes and compresses them.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    pub fetched_at: DateTime<Utc>,
    pub url: String,
    pub http_status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub raw: Blob,
    pub text: Blob,
    pub rules_hash: String,
    pub origin: SnapshotOrigin,
}

/// Bytes with their hash. `bytes` is `None` when the blob is known to be stored already (a rules
/// upgrade reuses the raw body it read back), which saves compressing it again.
#[derive(Debug, Clone)]
pub struct Blob {
    pub sha256: String,
    pub bytes: Option<Vec<u8>>,
}

impl Blob {
    pub fn new(bytes: Vec<u8>) -> Blob {
        Blob {
            sha256: sha256_hex(&bytes),
            bytes: Some(bytes),
        }
    }
    pub fn stored(sha256: String) -> Blob {
        Blob { sha256, bytes: None }
    }
}

/// Which snapshot a new change points at: one already stored, or one written in the same poll.
#[derive(Debug, Clone, Copy)]
pub enum SnapRef {
    Stored(i64),
    New(usize),
}

#[derive(Debug, Clone)]
pub struct NewChange {
    pub kind: ChangeKind,
    pub before: SnapRef,
    pub after: SnapRef,
    pub diff: serde_json::Value,
}

/// How a poll ended, for the health record.
#[derive(Debug, Clone)]
pub enum PollResult {
    Success {
        validators: crate::fetch::Validators,
        changed: bool,
    },
    /// A 304: keep the validators we have.
    NotModified,
    Failure {
        class: String,
        message: String,
        not_before: Option<DateTime<Utc>>,
    },
}

/// Everything one poll writes, committed together.
#[derive(Debug, Clone)]
pub struct PollWrite {
    pub source: String,
    /// The latest snapshot id this poll compared against. If another process stored a newer one
    /// meanwhile, the commit is refused with `Conflict` instead of recording the change twice.
    pub expected_latest: Option<i64>,
    pub url: String,
    pub at: DateTime<Utc>,
    pub attempts: Vec<crate::fetch::Attempt>,
    pub snapshots: Vec<NewSnapshot>,
    pub changes: Vec<NewChange>,
    pub result: PollResult,
}

/// Ids assigned by a commit.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    pub snapshots: Vec<i64>,
    pub changes: Vec<ChangeRecord>,
}

fn compress(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

fn decompress(sha: &str, data: &[u8]) -> Result<Vec<u8>, StoreError> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| StoreError::CorruptBlob {
            sha: sha.to_owned(),
            reason: e.to_string(),
        })?;
    if sha256_hex(&out) != sha {
        return Err(StoreError::CorruptBlob {
            sha: sha.to_owned(),
            reason: "hash mismatch".into(),
        });
    }
    Ok(out)
}

/// A stored word parsed into the domain's type; one the domain does not know means the row is
/// corrupt, or was written by a newer version.
pub(super) fn typed<T: std::str::FromStr<Err = crate::domain::UnknownValue>>(raw: String) -> Result<T, StoreError> {
    raw.parse()
        .map_err(|e: crate::domain::UnknownValue| StoreError::Corrupt(e.to_string()))
}

/// A database for one unit test: a SQLite file in `dir`, or, when `TEST_DATABASE_URL` names a
/// PostgreSQL server, a database of its own on it, dropped when this is dropped. The integration
/// tests have the same helper (tests/it/helpers.rs).
#[cfg(test)]
pub(crate) struct TestDb {
    pub url: String,
    pg: Option<(String, String)>,
}

#[cfg(test)]
impl TestDb {
    pub fn new(dir: &std::path::Path) -> TestDb {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let Some(admin) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
            return TestDb {
                url: format!("sqlite://{}", dir.join("test.db").display()),
                pg: None,
            };
        };
        let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
        let name = format!(
            "{}_u{}_{}_{:x}",
            url.path().trim_start_matches('/'),
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            rand::random::<u32>()
        )
        .to_lowercase();
        pg_admin(&admin, format!("CREATE DATABASE \"{name}\""));
        url.set_path(&format!("/{name}"));
        TestDb {
            url: url.to_string(),
            pg: Some((admin, name)),
        }
    }
}

#[cfg(test)]
impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg {
            pg_admin(admin, format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// One statement on the server, from a thread of its own (callers may be inside a runtime).
#[cfg(test)]
fn pg_admin(url: &str, sql: String) {
    let url = url.to_owned();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&url)
                    .await
                    .expect("TEST_DATABASE_URL answers");
                sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let _ = c.close().await;
            })
    })
    .join()
    .expect("admin thread");
}
