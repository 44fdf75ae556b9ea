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

/// The leadership lock on PostgreSQL: a session-level advisory lock, held by the connection of the
/// replica that runs the scheduler; the server releases it the moment that connection ends (the
/// process died, the network went), so another replica takes over on its next try.
const PG_LEADER_KEY: i64 = 5349474002;

/// The channel every committed audit event is announced on (PostgreSQL): every state change is
/// an audit event, so replicas learn of decisions, tokens and the rest from one place.
pub(super) const PG_EVENTS: &str = "signalbox_events";

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

/// The PostgreSQL URL every connection of ours uses: the given one with safety settings first (a
/// setting in the URL wins over ours), so that a replica that vanishes without closing its
/// connections (a crashed host, a partition) cannot hold the write lock or the leadership for
/// long: the server probes idle connections every few seconds and drops a dead one within about
/// 25 s, ends a transaction left idle for 30 s, and a writer waits at most 10 s for the write
/// lock (then the request gets a 503). No server-side statement cache: after a rolling upgrade
/// adds a column, an older replica's cached `SELECT *` would fail until its connections recycle.
fn postgres_url(url: &str) -> Result<String, StoreError> {
    let mut parsed = url::Url::parse(url).map_err(|_| StoreError::UnsupportedUrl(url.to_owned()))?;
    let given: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let ours = [
        ("options[idle_in_transaction_session_timeout]", "30000"),
        ("options[lock_timeout]", "10000"),
        ("options[tcp_keepalives_idle]", "10"),
        ("options[tcp_keepalives_interval]", "5"),
        ("options[tcp_keepalives_count]", "3"),
        ("options[tcp_user_timeout]", "15000"),
        ("statement-cache-capacity", "0"),
        ("application_name", "signalbox"),
    ];
    {
        let mut q = parsed.query_pairs_mut();
        q.clear();
        for (k, v) in ours {
            if !given.iter().any(|(g, _)| g == k) {
                q.append_pair(k, v);
            }
        }
        for (k, v) in &given {
            q.append_pair(k, v);
        }
    }
    Ok(parsed.to_string())
}

/// How long a leader waits for the database to confirm its lease before stepping down: well
/// under the ~25 s in which the server drops a dead connection (and with it the lock), so an
/// old leader stops before a new one can start.
const HOLD_TIMEOUT: Duration = Duration::from_secs(3);

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
        let url: Arc<str> = match backend {
            Backend::Postgres => postgres_url(url)?.into(),
            Backend::Sqlite => url.into(),
        };
        Ok(Store {
            pool,
            backend,
            url,
            clock,
        })
    }

    /// Applies the backend's migrations that are not applied yet. On PostgreSQL, replicas
    /// starting together wait for each other (sqlx takes an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// This backend's migrations, embedded at build time.
    fn migrator(&self) -> sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        }
    }

    /// Migrations this binary knows and the database has not applied, by version and name.
    pub async fn pending_migrations(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let migrator = self.migrator();
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
                // Stated, not assumed: under REPEATABLE READ (a database or role default) the
                // snapshot would be taken before the lock is granted, and the checks made after
                // it would read what was true before the previous writer committed.
                let mut tx = self.pool.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED").await?;
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

/// One replica's bid for leadership of the singleton work (the scheduler). On SQLite there is
/// one process and it always leads.
pub struct Candidate {
    backend: Backend,
    url: Arc<str>,
    conn: Option<sqlx::AnyConnection>,
    leading: bool,
}

impl Candidate {
    /// Takes the lease, or checks that it is still held; `false` while another replica holds it.
    /// An error means the database cannot be reached: whoever held the lease through this
    /// connection holds it no more.
    pub async fn hold(&mut self) -> Result<bool, StoreError> {
        if self.backend == Backend::Sqlite {
            return Ok(true);
        }
        let result = match tokio::time::timeout(HOLD_TIMEOUT, self.try_hold()).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Db(sqlx::Error::PoolTimedOut)),
        };
        if result.is_err() {
            self.conn = None;
            self.leading = false;
        }
        result
    }

    async fn try_hold(&mut self) -> Result<bool, StoreError> {
        use sqlx::{Connection, Row};
        if self.conn.is_none() {
            self.conn = Some(sqlx::AnyConnection::connect(&self.url).await?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        if self.leading {
            // Not just "the connection answers": this session still holds the lock (a pooler in
            // transaction mode, or a server that dropped and re-made the session, would not).
            self.leading = sqlx::query(
                "SELECT COUNT(*) AS held FROM pg_locks WHERE locktype = 'advisory' AND granted
                    AND pid = pg_backend_pid() AND objsubid = 1
                    AND ((CAST(classid AS BIGINT) << 32) | CAST(objid AS BIGINT)) = $1",
            )
            .bind(PG_LEADER_KEY)
            .fetch_one(&mut *conn)
            .await?
            .get::<i64, _>("held")
                > 0;
        } else {
            self.leading = sqlx::query("SELECT pg_try_advisory_lock($1) AS ok")
                .bind(PG_LEADER_KEY)
                .fetch_one(&mut *conn)
                .await?
                .get::<bool, _>("ok");
        }
        Ok(self.leading)
    }

    /// Gives the lease up (a clean shutdown), so another replica need not wait.
    pub async fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

/// Committed audit events as other processes write them (PostgreSQL's LISTEN): `(object_type,
/// object_id)`.
pub struct EventFeed {
    listener: sqlx::postgres::PgListener,
}

impl EventFeed {
    /// The next event; `Ok(None)` when the connection was lost and made again, so events may have
    /// been missed: the caller resynchronizes.
    pub async fn next(&mut self) -> Result<Option<(String, String)>, StoreError> {
        Ok(self.listener.try_recv().await?.map(|n| {
            let (kind, id) = n.payload().split_once(':').unwrap_or((n.payload(), ""));
            (kind.to_owned(), id.to_owned())
        }))
    }
}

impl Store {
    pub fn candidate(&self) -> Candidate {
        Candidate {
            backend: self.backend,
            url: self.url.clone(),
            conn: None,
            leading: false,
        }
    }

    /// The feed of other processes' events, where the backend has one (PostgreSQL); `None` on
    /// SQLite, where the periodic resynchronization is the only way.
    pub async fn event_feed(&self) -> Result<Option<EventFeed>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen(PG_EVENTS).await?;
        Ok(Some(EventFeed { listener }))
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
