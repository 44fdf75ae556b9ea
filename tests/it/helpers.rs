//! Shared test setup: a temp directory with a sources folder and a SQLite file, settings tuned
//! for tests (short timeouts, quick retries, private networks allowed for the fixture server).

use signalbox::config::Settings;
use signalbox::config::sources::{self, Source};
use signalbox::server::App;
use signalbox::store::Store;
use std::path::PathBuf;
use tempfile::TempDir;

pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sources")).unwrap();
        std::fs::create_dir(dir.path().join("flags")).unwrap();
        Env { dir }
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
            database: format!("sqlite://{}", self.db_path().display()),
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
