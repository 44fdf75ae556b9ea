//! Putting the parts together: `App::build` loads the sources and opens the store,
//! `Server::build` checks and wires everything else into the shared HTTP state, `Server::run`
//! starts the background work and serves until the shutdown future completes. `serve` does both;
//! tests call it with a listener on port 0, the binary with the configured address.

use crate::api::{self, AppState};
use crate::auth::{Principal, Scope, Scopes, TokenCache};
use crate::config::{Settings, Source, SourceErrors};
use crate::fetch::Fetcher;
use crate::flags::{FlagService, ServiceError, Telemetry};
use crate::scheduler;
use crate::store::{Store, StoreError};
use crate::watch::{ChangeObserver, LogObserver, Watcher};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Invalid configuration: the process exits with status 2.
    #[error(transparent)]
    Sources(#[from] SourceErrors),
    #[error(transparent)]
    Flags(#[from] ServiceError),
    #[error("invalid serving settings: {0}")]
    Serving(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("invalid triage rules: {0}")]
    Rules(#[from] crate::triage::classify::RulesError),
    #[error(transparent)]
    Playbooks(#[from] crate::decisions::PlaybookError),
    #[error("decisions: {0}")]
    Decisions(#[from] crate::decisions::DecisionError),
    #[error("invalid notification settings: {0}")]
    Notify(#[from] crate::notify::NotifyError),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

impl AppError {
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            AppError::Sources(_)
                | AppError::Flags(_)
                | AppError::Serving(_)
                | AppError::Rules(_)
                | AppError::Playbooks(_)
                | AppError::Notify(_)
                | AppError::Store(StoreError::UnsupportedUrl(_))
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
        let sources = settings.load_sources()?;
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

/// The flag half: loads the flag files (refusing to start on invalid ones) and checks the
/// serving settings.
pub async fn flag_service(settings: &Settings) -> Result<Arc<FlagService>, AppError> {
    let serving = &settings.serving;
    if serving.environments.is_empty() {
        return Err(AppError::Serving("at least one environment is needed".into()));
    }
    if serving.allow_anonymous && !serving.environments.contains(&serving.anonymous_env) {
        return Err(AppError::Serving(format!(
            "anonymous_env `{}` is not a configured environment",
            serving.anonymous_env
        )));
    }
    let service = Arc::new(FlagService::new(settings.flags.clone(), serving.environments.clone()));
    service.reload().await?;
    Ok(service)
}

/// The brief writer as `serve` runs it (the flags for impact, the playbooks and decisions they
/// fire), for commands that write briefs without serving (`check`). A decision a playbook fires
/// here is stored; a running server applies it on its next reconciliation.
pub async fn brief_writer(app: &App) -> Result<crate::briefs::BriefWriter, AppError> {
    let flags = flag_service(&app.settings).await?;
    let rules = crate::triage::classify::Rules::load_files(&app.settings.triage.rules)?;
    let playbooks = Arc::new(crate::decisions::Playbooks::load(
        &app.settings.playbooks_path(),
        &flags.current().map(|p| p.set.clone()).unwrap_or_default(),
        &app.settings.serving.environments,
    )?);
    let store = app.watcher.store.clone();
    let decisions = Arc::new(crate::decisions::Decisions::new(
        store.clone(),
        flags.clone(),
        app.settings.decisions.production_envs.clone(),
    ));
    Ok(
        crate::briefs::BriefWriter::new(store, app.sources.clone(), Some(flags), rules)
            .with_playbooks(decisions, playbooks),
    )
}

/// A signalbox ready to run: the shared state both HTTP faces serve and what its background work
/// needs, checked and wired but not started (nothing polls, nothing listens yet). [`Server::run`]
/// starts the work and serves; a test that needs only the HTTP faces can mount
/// `crate::http::router(server.state.clone())` instead.
pub struct Server {
    pub state: AppState,
    app: App,
    rules: crate::triage::classify::Rules,
    notifier: Arc<crate::notify::Notifier>,
    role: tokio::sync::watch::Sender<crate::cluster::Role>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Server {
    /// Loads and checks everything (flags, rules, playbooks, sinks, serving settings), applies
    /// the active decisions as overrides and takes the shared flag revision, so that the first
    /// request is served as the database says; refuses to start on anything invalid.
    pub async fn build(app: App) -> Result<Server, AppError> {
        let flags = flag_service(&app.settings).await?;
        let rules = crate::triage::classify::Rules::load_files(&app.settings.triage.rules)?;
        // A misspelt production environment would quietly lower the approvals production needs.
        for p in &app.settings.decisions.production_envs {
            if !app.settings.serving.environments.contains(p) {
                return Err(AppError::Serving(format!(
                    "decisions.production_envs names `{p}`, which is not in serving.environments ({})",
                    app.settings.serving.environments.join(", ")
                )));
            }
        }
        let store = app.watcher.store.clone();
        let serving = Arc::new(app.settings.serving.clone());
        let sse_key: Arc<[u8]> = if serving.sse_secret.is_empty() {
            if store.backend() == crate::store::Backend::Postgres {
                // A client's SSE channel, signed by one replica, must verify on every other one.
                return Err(AppError::Serving(
                    "serving.sse_secret (or SIGNALBOX_SSE_SECRET) must be set on PostgreSQL: replicas share it to \
                     verify each other's event channels (use the same random value, 32 bytes or more, on every replica)"
                        .into(),
                ));
            }
            let mut k = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut k);
            Arc::from(&k[..])
        } else {
            Arc::from(serving.sse_secret.as_bytes())
        };
        let web = Arc::new(crate::web::WebConfig::from_settings(&app.settings).map_err(AppError::Serving)?);
        let notify = &app.settings.notify;
        crate::notify::validate_sinks(&notify.sinks)?;
        let playbooks = Arc::new(crate::decisions::Playbooks::load(
            &app.settings.playbooks_path(),
            &flags.current().map(|p| p.set.clone()).unwrap_or_default(),
            &app.settings.serving.environments,
        )?);
        let notifier = Arc::new(crate::notify::Notifier::new(
            store.clone(),
            notify.sinks.clone(),
            (!notify.public_url.is_empty()).then(|| notify.public_url.clone()),
            Duration::from_millis(notify.timeout_ms.max(100)),
        )?);
        let tokens = Arc::new(TokenCache::default());
        tokens.refresh(&store).await?;
        // Active decisions are overrides: they are in place before the first request is served.
        let decisions = Arc::new(crate::decisions::Decisions::new(
            store.clone(),
            flags.clone(),
            app.settings.decisions.production_envs.clone(),
        ));
        decisions.reconcile().await?;
        // From here on the revision is the database's, shared by every replica.
        flags
            .share_revisions(Arc::new(crate::cluster::SharedRevisions(store.clone())))
            .await?;
        let anonymous = serving.allow_anonymous.then(|| {
            tracing::warn!(env = %serving.anonymous_env, "anonymous flag evaluation is allowed: development use only");
            Arc::new(Principal {
                token_id: 0,
                name: "anonymous".into(),
                scopes: Scopes::of([Scope::FlagsRead]),
                env: serving.anonymous_env.as_str().into(),
            })
        });
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let (role, role_rx) = tokio::sync::watch::channel(crate::cluster::Role::Follower);
        let state = AppState(Arc::new(api::Shared {
            store,
            sources: app.sources.clone(),
            scheduler: app.settings.scheduler.clone(),
            serving,
            flags,
            tokens,
            telemetry: Arc::new(Telemetry::default()),
            anonymous,
            shutdown: stop_rx,
            limiter: Arc::new(api::limit::RateLimiter::new(app.settings.serving.rate_limit_per_token)),
            channels: Arc::new(api::channel::Channels::new(&sse_key)),
            decisions,
            playbooks,
            watcher: app.watcher.clone(),
            web,
            role: role_rx,
        }));
        Ok(Server {
            state,
            app,
            rules,
            notifier,
            role,
            stop,
        })
    }

    /// Starts the background work (leadership and, on the leader, the scheduler; triage,
    /// notifications, decisions, telemetry, token refresh, flag reloads, other replicas' events)
    /// and serves HTTP on `listener` until `shutdown` completes; then stops accepting requests,
    /// lets in-flight polls finish (or abandons them cleanly), flushes telemetry and closes the
    /// store.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let Server {
            state,
            app,
            rules,
            notifier,
            role,
            stop,
        } = self;
        let st = state.0.clone();
        let (store, serving, rx) = (st.store.clone(), st.serving.clone(), st.shutdown.clone());
        store
            .audit(crate::store::NewAudit::new(
                "system",
                "service.started",
                "service",
                env!("CARGO_PKG_VERSION"),
                serde_json::json!({
                    "sources": app.sources.iter().map(|s| &s.id).collect::<Vec<_>>(),
                    "flags": st.flags.current().map(|p| p.set.flags.keys().cloned().collect::<Vec<_>>()),
                    "playbooks": st.playbooks.list.iter().map(|p| &p.name).collect::<Vec<_>>(),
                    "environments": app.settings.serving.environments,
                    "replica": crate::cluster::replica_id(),
                }),
            ))
            .await?;

        let mut background = tokio::task::JoinSet::new();
        background.spawn(
            st.tokens
                .clone()
                .refresh_forever(store.clone(), Duration::from_secs(serving.token_refresh_secs.max(1))),
        );
        background.spawn(
            st.flags
                .clone()
                .watch(Duration::from_millis(serving.reload_poll_ms.max(50))),
        );
        background.spawn(audit_flag_reloads(st.flags.clone(), store.clone()));
        background.spawn(crate::cluster::follow_events(
            store.clone(),
            st.decisions.clone(),
            st.tokens.clone(),
            rx.clone(),
        ));
        let notify = &app.settings.notify;
        let notify_task = (!notify.sinks.is_empty())
            .then(|| tokio::spawn(notifier.run_forever(Duration::from_millis(notify.poll_ms.max(50)), rx.clone())));
        let decisions_task = tokio::spawn(st.decisions.clone().run_forever(
            Duration::from_millis(app.settings.decisions.tick_ms.max(50)),
            rx.clone(),
        ));
        // Flushes periodically and once more at shutdown; awaited, so no count is lost mid-write.
        let telemetry_task = tokio::spawn(st.telemetry.clone().flush_forever(
            store.clone(),
            Duration::from_secs(serving.telemetry_flush_secs.max(1)),
            rx.clone(),
        ));
        // One replica polls: the leader. On SQLite the only process leads at once.
        let lead_task = tokio::spawn(crate::cluster::lead_forever(store.clone(), role, rx.clone()));
        let sched = {
            let (watcher, sources) = (app.watcher.clone(), app.sources.clone());
            let settings = app.settings.scheduler.clone();
            // More polls than fetch slots: polls waiting on a busy host's limit must not keep
            // other hosts' polls from starting. Waiting polls hold no body, so memory stays bounded.
            let concurrency = app.settings.fetch.global_concurrency * 4;
            tokio::spawn(crate::cluster::while_leader(st.role.clone(), rx.clone(), move |stop| {
                scheduler::run(
                    watcher.clone(),
                    sources.as_ref().clone(),
                    settings.clone(),
                    concurrency,
                    stop,
                )
            }))
        };
        let writer = Arc::new(
            crate::briefs::BriefWriter::new(store.clone(), app.sources.clone(), Some(st.flags.clone()), rules)
                .with_playbooks(st.decisions.clone(), st.playbooks.clone()),
        );
        let writer_task = tokio::spawn(writer.run_forever(Duration::from_secs(1), rx.clone()));
        let router = crate::http::router(state).layer(tower_http::trace::TraceLayer::new_for_http());
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let mut http_rx = rx.clone();
        tracing::info!(addr = %listener.local_addr()?, "listening");
        // The peer address is kept for the web pages: an SSO header is believed only from a
        // trusted proxy.
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = http_rx.wait_for(|v| *v).await;
        })
        .await?;
        let _ = sched.await;
        let _ = lead_task.await;
        let _ = writer_task.await;
        let _ = decisions_task.await;
        if let Some(t) = notify_task {
            let _ = t.await;
        }
        background.abort_all();
        let _ = telemetry_task.await;
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Builds and runs a server on `listener` until `shutdown` completes (see [`Server`]). Tests call
/// it with a listener on port 0, the binary with the configured address.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    Server::build(app).await?.run(listener, shutdown).await
}

/// Every reload of the flag files, applied or refused, goes into the audit log.
async fn audit_flag_reloads(flags: Arc<FlagService>, store: Store) {
    let mut reloads = flags.subscribe_reloads();
    loop {
        let outcome = match reloads.recv().await {
            Ok(o) => o,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "flag reload events missed by the audit log");
                continue;
            }
            Err(_) => return,
        };
        let (action, payload) = match outcome {
            crate::flags::ReloadOutcome::Applied {
                revision,
                flags,
                forced,
            } => (
                "flags.reloaded",
                serde_json::json!({"revision": revision, "flags": flags, "forced": forced}),
            ),
            crate::flags::ReloadOutcome::Refused { error } => {
                ("flags.reload_refused", serde_json::json!({"error": error}))
            }
        };
        let dir = flags.dir().display().to_string();
        if let Err(e) = store
            .audit(crate::store::NewAudit::new("system", action, "flags", dir, payload))
            .await
        {
            tracing::error!(error = %e, "cannot record a flag reload in the audit log");
        }
    }
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
