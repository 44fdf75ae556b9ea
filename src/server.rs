//! Putting the parts together: `App::build` loads and checks everything, `serve` runs the
//! scheduler and the HTTP server until the shutdown future completes. Tests call `serve` with a
//! listener on port 0, the binary with the configured address.

use crate::api::{self, AppState};
use crate::config::{Settings, Source, SourceErrors, sources};
use crate::fetch::Fetcher;
use crate::scheduler;
use crate::store::{Store, StoreError};
use crate::watch::{ChangeObserver, LogObserver, Watcher};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Invalid configuration: the process exits with status 2.
    #[error(transparent)]
    Sources(#[from] SourceErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

impl AppError {
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            AppError::Sources(_) | AppError::Store(StoreError::UnsupportedUrl(_))
        )
    }
}

/// A configured signalbox: validated sources, an open store, a fetcher.
pub struct App {
    pub settings: Settings,
    pub sources: Arc<Vec<Source>>,
    pub watcher: Arc<Watcher>,
}

impl App {
    pub async fn build(settings: Settings) -> Result<App, AppError> {
        Self::build_with_observer(settings, Arc::new(LogObserver)).await
    }

    pub async fn build_with_observer(settings: Settings, observer: Arc<dyn ChangeObserver>) -> Result<App, AppError> {
        let sources = sources::load_dir(&settings.sources)?;
        let store = Store::open(&settings.database).await?;
        let fetcher = Fetcher::new(settings.fetch.clone(), settings.allow_private_networks)?;
        Ok(App {
            sources: Arc::new(sources),
            watcher: Arc::new(Watcher::new(store, fetcher, observer)),
            settings,
        })
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }
}

/// Runs the scheduler and the HTTP server on `listener` until `shutdown` completes; then stops
/// accepting requests, lets in-flight polls finish (or abandons them cleanly) and closes the store.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let sched = tokio::spawn(scheduler::run(
        app.watcher.clone(),
        app.sources.as_ref().clone(),
        app.settings.scheduler.clone(),
        // More polls than fetch slots: polls waiting on a busy host's limit must not keep other
        // hosts' polls from starting. Waiting polls hold no body, so memory stays bounded.
        app.settings.fetch.global_concurrency * 4,
        rx.clone(),
    ));
    let state = AppState {
        store: app.watcher.store.clone(),
        sources: app.sources.clone(),
        scheduler: app.settings.scheduler.clone(),
    };
    let router = api::router(state).layer(tower_http::trace::TraceLayer::new_for_http());
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let mut http_rx = rx.clone();
    tracing::info!(addr = %listener.local_addr()?, "listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = http_rx.wait_for(|v| *v).await;
        })
        .await?;
    let _ = sched.await;
    app.watcher.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received");
}
