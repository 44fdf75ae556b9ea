//! Shared test setup: a temp directory with a sources folder and a database, settings tuned for
//! tests (short timeouts, quick retries, private networks allowed for the fixture server).
//!
//! The database is a SQLite file in the directory, or, when `TEST_DATABASE_URL` names a
//! PostgreSQL server, a database of its own created on that server for this test and dropped
//! after it: the whole suite runs on either backend.

use signalbox::config::Settings;
use signalbox::config::sources::{self, Source};
use signalbox::server::App;
use signalbox::store::Store;
use std::path::PathBuf;
use tempfile::TempDir;

pub struct Env {
    pub dir: TempDir,
    pg: Option<PgDatabase>,
}

/// A PostgreSQL database made for one test, dropped (with its connections) when the test ends.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

/// Runs one statement on the server named by `url`, from a thread of its own (the caller may be
/// inside a runtime, and `Env::new` is not async). Panics when it fails (the test cannot run).
fn pg_admin(url: &str, sql: String) {
    if let Err(e) = try_pg_admin(url, sql) {
        panic!("{e}");
    }
}

fn try_pg_admin(url: &str, sql: String) -> Result<(), String> {
    let url = url.to_owned();
    std::thread::spawn(move || -> Result<(), String> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&url)
                    .await
                    .map_err(|e| format!("TEST_DATABASE_URL {url}: {e}"))?;
                let done = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .execute(&mut c)
                    .await
                    .map_err(|e| format!("{sql}: {e}"));
                let _ = c.close().await;
                done.map(|_| ())
            })
    })
    .join()
    .unwrap_or_else(|_| Err("the admin thread panicked".into()))
}

impl PgDatabase {
    /// A new database on the `TEST_DATABASE_URL` server, or `None` when the variable is unset.
    pub fn create() -> Option<PgDatabase> {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let admin_url = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
        let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
        let base = url.path().trim_start_matches('/').to_owned();
        let name = format!(
            "{}_t{}_{}_{:x}",
            if base.is_empty() { "signalbox" } else { &base },
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            rand::random::<u32>()
        )
        .to_lowercase();
        pg_admin(&admin_url, format!("CREATE DATABASE \"{name}\""));
        url.set_path(&format!("/{name}"));
        Some(PgDatabase {
            admin_url,
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Never a panic here: after a failed test it would abort the whole test binary. A
        // database left behind is dropped by .ci/run's clean-up.
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(e) = try_pg_admin(&self.admin_url, sql) {
            eprintln!("cannot drop test database {}: {e}", self.name);
        }
    }
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sources")).unwrap();
        std::fs::create_dir(dir.path().join("flags")).unwrap();
        Env {
            dir,
            pg: PgDatabase::create(),
        }
    }

    /// The database URL every part of this test uses (`--database`, `DATABASE_URL`).
    pub fn db_url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite://{}", self.db_path().display()),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// A connection pool that goes around signalbox (a tamperer with database access).
    pub async fn raw_pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.db_url()).await.unwrap()
    }

    /// The statement that removes the audit log's no-update trigger on this backend.
    pub fn drop_audit_update_trigger(&self) -> &'static str {
        if self.is_postgres() {
            "DROP TRIGGER audit_events_no_update ON audit_events"
        } else {
            "DROP TRIGGER audit_events_no_update"
        }
    }

    pub fn sources_dir(&self) -> PathBuf {
        self.dir.path().join("sources")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("signalbox.db")
    }

    pub fn settings(&self) -> Settings {
        let mut s = Settings {
            sources: self.sources_dir(),
            flags: self.dir.path().join("flags"),
            database: self.db_url(),
            allow_private_networks: true,
            ..Settings::default()
        };
        s.fetch.timeout_ms = 2_000;
        s.fetch.connect_timeout_ms = 1_000;
        s.fetch.retries = 1;
        s.fetch.backoff_base_ms = 10;
        s.fetch.backoff_max_ms = 50;
        s.fetch.max_retry_after_secs = 2;
        s.scheduler.jitter_secs = 0;
        if self.is_postgres() {
            // Required on PostgreSQL (replicas verify each other's event channels).
            s.serving.sse_secret = "test-secret-shared-by-every-replica-0123456789".into();
        }
        s
    }

    /// Writes `sources/test.toml` with one source; `extra` is appended to its table.
    pub fn write_source(&self, id: &str, kind: &str, url: &str, doc_type: &str, extra: &str) {
        let text = format!(
            "provider = \"acme\"\nowner = \"platform-team\"\n\n[[source]]\nid = \"{id}\"\nkind = \"{kind}\"\nurl = \"{url}\"\ndoc_type = \"{doc_type}\"\n{extra}\n"
        );
        std::fs::write(self.sources_dir().join(format!("{id}.toml")), text).unwrap();
    }

    pub async fn app(&self) -> App {
        App::build(self.settings()).await.unwrap()
    }

    pub fn source(&self, id: &str) -> Source {
        sources::load_dir(&self.sources_dir())
            .unwrap()
            .into_iter()
            .find(|s| s.id == id)
            .unwrap()
    }
}

/// Counts of what the store holds for a source.
pub async fn counts(store: &Store, source: &str) -> (usize, usize) {
    let snaps = store.snapshots(source, 1000).await.unwrap().len();
    let changes = store.changes(Some(source), 0, 1000).await.unwrap().len();
    (snaps, changes)
}

/// The real server on 127.0.0.1:0 with this environment's settings.
pub struct Running {
    pub base: String,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub handle: tokio::task::JoinHandle<Result<(), signalbox::server::AppError>>,
}

pub async fn spawn_app(env: &Env) -> Running {
    spawn_app_with(env.settings()).await
}

pub async fn spawn_app_with(settings: signalbox::config::Settings) -> Running {
    let app = App::build(settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(signalbox::server::serve(app, listener, async move {
        let _ = rx.await;
    }));
    Running {
        base,
        stop: Some(tx),
        handle,
    }
}
