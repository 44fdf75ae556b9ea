//! The two backends behind one [`Store`]: SQLite, the embedded default (one file, WAL), and
//! PostgreSQL, for several replicas on one database. The URL picks: `postgres://` or
//! `postgresql://` is PostgreSQL; `sqlite:` or a bare path is SQLite.
//!
//! Both run the same SQL through sqlx's `Any` driver: `$N` placeholders (SQLite reads them too),
//! `INSERT … ON CONFLICT`, `RETURNING`, integers for times (Unix milliseconds) and JSON as text.
//! What differs is here and nowhere else: how a write transaction takes the writer's lock, how a
//! JSON list is expanded, how an outbox claim skips rows another replica holds, and each backend's
//! own migrations (`migrations/sqlite`, `migrations/postgres`).
//!
//! Write transactions are serialized on both: SQLite's `BEGIN IMMEDIATE` takes the file's write
//! lock; on PostgreSQL every write transaction takes one transaction-scoped advisory lock first.
//! That keeps the rules the store relies on (read the audit chain's head and append after it,
//! check a decision's state and write the next one, the poll commit's conflict check) exactly as
//! on SQLite, across any number of replicas. Writes are a handful per second at most; reads,
//! which are most of the traffic, never take it, and flag evaluation never touches the database.

use super::StoreError;
use crate::domain::Clock;
use chrono::{DateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Takes the writer's lock on PostgreSQL: a transaction-scoped advisory lock on one fixed key
/// (the function is in `FROM` so the statement returns a row of a type every driver reads).
const PG_WRITE_LOCK: &str = "SELECT 1 AS locked FROM pg_advisory_xact_lock(5349474001)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The backend a database URL names.
    pub fn of(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") || !url.contains("://") {
            Ok(Backend::Sqlite)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The URL as given, for the connections that are not pooled (PostgreSQL's LISTEN).
    url: Arc<str>,
    /// Where the store's own timestamps come from (sessions, tokens, audit events not part of
    /// a domain transition): passed in, never read from the system here.
    clock: Arc<dyn Clock>,
}

/// A SQLite URL the `Any` driver accepts: a bare path becomes `sqlite://PATH` (with the
/// characters a URL would read differently escaped), and a missing file is created.
fn sqlite_url(url: &str) -> String {
    let mut out = if url.starts_with("sqlite:") {
        url.to_owned()
    } else {
        let escaped: String = url
            .chars()
            .map(|c| match c {
                '%' => "%25".to_owned(),
                '?' => "%3F".to_owned(),
                '#' => "%23".to_owned(),
                ' ' => "%20".to_owned(),
                c => c.to_string(),
            })
            .collect();
        format!("sqlite://{escaped}")
    };
    if !out.contains("mode=") && !out.contains(":memory:") {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str("mode=rwc");
    }
    out
}

impl Store {
    /// Opens (creating when missing) and migrates the database.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Self::open_with_clock(url, Arc::new(crate::clock::SystemClock)).await
    }

    /// `open`, with the clock the store's timestamps come from.
    pub async fn open_with_clock(url: &str, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        let store = Self::connect(url, clock).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens without migrating (`signalbox migrate --check`, and tools that must not change a
    /// database they only read).
    pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let pool = match backend {
            Backend::Sqlite => {
                let opts = AnyConnectOptions::from_str(&sqlite_url(url))
                    .map_err(|_| StoreError::UnsupportedUrl(url.to_owned()))?;
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // busy_timeout first: setting WAL may wait for another connection.
                            conn.execute(
                                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?
            }
            Backend::Postgres => {
                let opts = AnyConnectOptions::from_str(url).map_err(|_| StoreError::UnsupportedUrl(url.to_owned()))?;
                AnyPoolOptions::new()
                    .max_connections(16)
                    // A replica whose database is gone answers 503 quickly instead of hanging.
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(opts)
                    .await?
            }
        };
        Ok(Store {
            pool,
            backend,
            url: url.into(),
            clock,
        })
    }

    /// Applies the backend's migrations that are not applied yet. On PostgreSQL, replicas
    /// starting together wait for each other (sqlx takes an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&self.pool).await?,
        }
        Ok(())
    }

    /// Migrations this binary knows and the database has not applied, by version and name.
    pub async fn pending_migrations(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        let applied: Vec<i64> = match sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(&self.pool)
            .await
        {
            Ok(rows) => rows.iter().map(|r| sqlx::Row::get::<i64, _>(r, "version")).collect(),
            // No table yet: nothing is applied.
            Err(_) => Vec::new(),
        };
        Ok(migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
            .map(|m| (m.version, m.description.to_string()))
            .collect())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(super) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that holds the writer's lock from its first statement (see the module
    /// comment): checks made in it stay true until it commits.
    pub(super) async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Any>, StoreError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query(PG_WRITE_LOCK).execute(&mut *tx).await?;
                Ok(tx)
            }
        }
    }

    /// `column IN (…)` over a JSON array of strings bound as parameter `$1`.
    pub(super) fn in_json_texts(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "(SELECT value FROM json_each($1))",
            Backend::Postgres => "(SELECT jsonb_array_elements_text(CAST($1 AS TEXT)::jsonb))",
        }
    }

    /// `FOR UPDATE SKIP LOCKED` where the backend has row locks: a claim by one replica skips
    /// rows another is claiming at that moment instead of waiting for them.
    pub(super) fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_picks_the_backend() {
        assert_eq!(Backend::of("postgres://h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::of("postgresql://h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("data/x.db").unwrap(), Backend::Sqlite);
        assert!(matches!(
            Backend::of("mysql://h/db"),
            Err(StoreError::UnsupportedUrl(_))
        ));
    }

    #[test]
    fn a_bare_path_becomes_a_url_that_reads_back_as_the_same_file() {
        assert_eq!(sqlite_url("/tmp/a b?#.db"), "sqlite:///tmp/a%20b%3F%23.db?mode=rwc");
        assert_eq!(sqlite_url("sqlite://x.db?mode=ro"), "sqlite://x.db?mode=ro");
        assert_eq!(sqlite_url("sqlite://x.db"), "sqlite://x.db?mode=rwc");
    }
}
