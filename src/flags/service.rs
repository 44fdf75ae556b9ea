//! The flag service: the published flag set, one compiled snapshot per environment behind an
//! atomic pointer, hot reload, overrides and change events.
//!
//! Readers (every OFREP request) do one atomic load and a map lookup; they never lock and never
//! touch the database. Writers (a reload, an override applied or expired) build a complete new
//! `Published` value and swap it in through [`FlagService::publish`], the one function that bumps
//! the revision and announces it.

use super::{FlagErrors, FlagSet, Override, Snapshot, load_dir};
use arc_swap::ArcSwapOption;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::broadcast;

/// A boxed future, as the revision source's methods return them (object-safe).
pub type RevisionFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Where revisions come from when several replicas serve one database: the same configuration
/// gets the same revision on every replica, and revisions only go up. Implemented over the store
/// by the services layer; without one, revisions count up in this process.
pub trait RevisionSource: Send + Sync {
    /// The revision for the configuration hashed as `content`, at least `at_least`.
    fn revision_for<'a>(&'a self, content: &'a str, at_least: u64) -> RevisionFuture<'a, u64>;

    /// The newest revision and its content hash, if any (reads only).
    fn latest(&self) -> RevisionFuture<'_, Option<(u64, String)>>;
}

/// How a publish numbers what it serves.
#[derive(Clone, Copy)]
enum Numbering {
    /// A new revision only when what is served changes.
    OnChange,
    /// Ask the revision source even if nothing changed (revisions are shared from now on).
    Renumber,
    /// The same configuration under the shared, higher revision another replica got for it.
    Adopt(u64),
}

/// How long a publish waits for the shared revision before numbering locally: a change (a kill
/// switch) must not wait on a slow database.
const REVISION_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// How many past revisions are kept for SSE replay (`Last-Event-ID`).
const HISTORY: usize = 256;

/// One environment's view of a revision.
pub struct EnvSnapshot {
    pub snapshot: Arc<Snapshot>,
    /// Strong validator of this environment's effective flag configuration (definitions and
    /// overrides): unchanged when a revision did not touch this environment.
    pub config_etag: String,
    /// Unix seconds when `config_etag` last changed.
    pub last_modified: i64,
}

/// Everything readers see, swapped atomically.
pub struct Published {
    pub revision: u64,
    pub set: Arc<FlagSet>,
    set_hash: String,
    /// A hash of everything served (every environment's validator): the same on every replica
    /// for the same files and decisions.
    content: String,
    pub envs: HashMap<String, EnvSnapshot>,
}

impl Published {
    pub fn env(&self, env: &str) -> Option<&EnvSnapshot> {
        self.envs.get(env)
    }
}

/// What a reload of the flag files did.
#[derive(Debug, Clone)]
pub enum ReloadOutcome {
    /// A new flag set is served under this revision.
    Applied { revision: u64, flags: usize, forced: bool },
    /// The files are invalid; the last good flags keep serving.
    Refused { error: String },
}

/// A change announced to SSE listeners.
#[derive(Debug, Clone)]
pub struct RevisionEvent {
    pub revision: u64,
    /// The environments whose effective configuration changed, with their new validators.
    pub changed: Vec<(String, String, i64)>,
}

pub struct FlagService {
    dir: PathBuf,
    environments: Vec<String>,
    current: ArcSwapOption<Published>,
    overrides: Mutex<HashMap<String, HashMap<String, Override>>>,
    /// Serializes writers (held while the revision is asked for); readers never take it.
    publish_lock: tokio::sync::Mutex<()>,
    revisions: OnceLock<Arc<dyn RevisionSource>>,
    events: broadcast::Sender<RevisionEvent>,
    /// Outcomes of file reloads (not of overrides), for the audit log.
    reloads: broadcast::Sender<ReloadOutcome>,
    history: Mutex<VecDeque<RevisionEvent>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] FlagErrors),
    #[error("flags are not loaded yet")]
    NotLoaded,
}

fn sha_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(&h.finalize()[..16])
}

impl FlagService {
    pub fn new(dir: PathBuf, environments: Vec<String>) -> FlagService {
        let (events, _) = broadcast::channel(64);
        FlagService {
            dir,
            environments,
            current: ArcSwapOption::empty(),
            overrides: Mutex::new(HashMap::new()),
            publish_lock: tokio::sync::Mutex::new(()),
            revisions: OnceLock::new(),
            events,
            reloads: broadcast::channel(16).0,
            history: Mutex::new(VecDeque::new()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn environments(&self) -> &[String] {
        &self.environments
    }

    /// The published state, or `None` until the first successful load.
    pub fn current(&self) -> Option<Arc<Published>> {
        self.current.load_full()
    }

    pub fn is_ready(&self) -> bool {
        self.current.load().is_some()
    }

    /// Reload outcomes, for the audit log.
    pub fn subscribe_reloads(&self) -> broadcast::Receiver<ReloadOutcome> {
        self.reloads.subscribe()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RevisionEvent> {
        self.events.subscribe()
    }

    /// Events after `revision` still in the replay window, or `None` when it is older than the
    /// window (or from another process): the caller should then tell the client to refetch.
    pub fn events_since(&self, revision: u64) -> Option<Vec<RevisionEvent>> {
        let history = self.history.lock().expect("history lock");
        let oldest = history.front().map(|e| e.revision)?;
        let newest = history.back().map(|e| e.revision).unwrap_or(0);
        if revision.saturating_add(1) < oldest || revision > newest {
            return None;
        }
        Some(history.iter().filter(|e| e.revision > revision).cloned().collect())
    }

    /// Reads the flag directory. An invalid set is refused and the last good one keeps serving.
    /// Returns the new revision, or `None` when the files did not change.
    pub async fn reload(&self) -> Result<Option<u64>, ServiceError> {
        let set = load_dir(&self.dir)?;
        let set_hash = sha_hex(&[set.to_flagd_json().to_string().as_bytes()]);
        if self.current.load().as_ref().is_some_and(|p| p.set_hash == set_hash) {
            return Ok(None);
        }
        self.publish(Some((Arc::new(set), set_hash))).await.map(Some)
    }

    /// From now on, revisions come from `source` (the database shared by every replica); what
    /// is served now is published again under the revision `source` gives it.
    pub async fn share_revisions(&self, source: Arc<dyn RevisionSource>) -> Result<u64, ServiceError> {
        let _ = self.revisions.set(source);
        self.publish_as(None, Numbering::Renumber).await
    }

    /// Takes the shared revision when the database holds this very configuration under a higher
    /// one: two replicas that published the same configuration in a race (one from a stale read)
    /// end up agreeing. Called on every reconciliation tick; `None` when nothing was adopted.
    pub async fn adopt_shared_revision(&self) -> Result<Option<u64>, ServiceError> {
        let (Some(source), Some(current)) = (self.revisions.get(), self.current()) else {
            return Ok(None);
        };
        let Ok(Ok(Some((revision, content)))) = tokio::time::timeout(REVISION_WAIT, source.latest()).await else {
            return Ok(None);
        };
        if content != current.content || revision <= current.revision {
            return Ok(None);
        }
        let now = self.publish_as(None, Numbering::Adopt(revision)).await?;
        Ok((now == revision).then_some(revision))
    }

    /// The active override of a flag in an environment.
    pub fn override_of(&self, env: &str, flag: &str) -> Option<Override> {
        self.overrides
            .lock()
            .expect("overrides lock")
            .get(env)
            .and_then(|m| m.get(flag))
            .cloned()
    }

    /// Replaces every override at once (the decisions engine's view of what is active) and
    /// publishes one new revision when anything differs; `None` when nothing changed. One
    /// revision for any number of overrides applied or expired together.
    pub async fn replace_overrides(
        &self,
        all: HashMap<String, HashMap<String, Override>>,
    ) -> Result<Option<u64>, ServiceError> {
        let mut all = all;
        all.retain(|_, m| !m.is_empty());
        let previous = {
            let mut current = self.overrides.lock().expect("overrides lock");
            let mut normalized = current.clone();
            normalized.retain(|_, m| !m.is_empty());
            if normalized == all {
                return Ok(None);
            }
            std::mem::replace(&mut *current, all)
        };
        match self.publish(None).await {
            Ok(rev) => Ok(Some(rev)),
            Err(e) => {
                *self.overrides.lock().expect("overrides lock") = previous;
                Err(e)
            }
        }
    }

    /// Builds every environment's snapshot from `set` (or the current set) and the overrides,
    /// swaps them in under a new revision and announces it. The only place the revision moves.
    async fn publish(&self, new_set: Option<(Arc<FlagSet>, String)>) -> Result<u64, ServiceError> {
        self.publish_as(new_set, Numbering::OnChange).await
    }

    async fn publish_as(
        &self,
        new_set: Option<(Arc<FlagSet>, String)>,
        numbering: Numbering,
    ) -> Result<u64, ServiceError> {
        let _guard = self.publish_lock.lock().await;
        let prev = self.current.load_full();
        let (set, set_hash) = match (new_set, &prev) {
            (Some(s), _) => s,
            (None, Some(p)) => (p.set.clone(), p.set_hash.clone()),
            (None, None) => return Err(ServiceError::NotLoaded),
        };
        let mut overrides = self.overrides.lock().expect("overrides lock").clone();
        // An override whose flag or variant is gone from the files cannot be served; it must not
        // block every later reload either. It is dropped from this build with a warning (the
        // decision that made it will see its flag gone).
        for (env, m) in overrides.iter_mut() {
            m.retain(|flag, ov| {
                let ok = set.flags.get(flag).is_some_and(|d| d.variants.contains_key(&ov.variant));
                if !ok {
                    tracing::warn!(%env, %flag, variant = %ov.variant, "override ignored: its flag or variant no longer exists");
                }
                ok
            });
        }
        let empty = HashMap::new();
        // Each environment's validator, and the whole configuration's hash: the same files and
        // decisions give the same values on every replica.
        let etags: Vec<String> = self
            .environments
            .iter()
            .map(|env| {
                let env_overrides = overrides.get(env).unwrap_or(&empty);
                let mut keys: Vec<&String> = env_overrides.keys().collect();
                keys.sort();
                let ov_text = serde_json::to_string(
                    &keys
                        .iter()
                        .map(|k| (k, &env_overrides[*k].variant, &env_overrides[*k].metadata))
                        .collect::<Vec<_>>(),
                )
                .expect("overrides serialize");
                sha_hex(&[set_hash.as_bytes(), env.as_bytes(), ov_text.as_bytes()])
            })
            .collect();
        let content = sha_hex(&etags.iter().map(|e| e.as_bytes()).collect::<Vec<_>>());
        // Nothing served changes (a reload that only reordered files, overrides swapped back):
        // no new revision, no event.
        let unchanged = prev.as_ref().filter(|p| p.content == content);
        match (numbering, unchanged) {
            (Numbering::OnChange, Some(p)) => return Ok(p.revision),
            // Changed since the caller looked, or not higher: nothing to adopt.
            (Numbering::Adopt(_), None) => return Ok(prev.as_ref().map(|p| p.revision).unwrap_or(0)),
            (Numbering::Adopt(r), Some(p)) if r <= p.revision => return Ok(p.revision),
            _ => {}
        }
        let local_next = prev.as_ref().map(|p| p.revision + 1).unwrap_or(1);
        let revision = match (numbering, self.revisions.get()) {
            (Numbering::Adopt(r), _) => r,
            (_, None) => local_next,
            (_, Some(source)) => {
                match tokio::time::timeout(REVISION_WAIT, source.revision_for(&content, local_next)).await {
                    Ok(Ok(r)) => r.max(local_next),
                    failed => {
                        // Serving the change matters more than agreeing on its number: counted
                        // here until the database answers again (it then continues above this one).
                        let why = match failed {
                            Ok(Err(e)) => e,
                            _ => "no answer in time".to_owned(),
                        };
                        tracing::warn!(error = %why, revision = local_next, "cannot get the shared flag revision; numbering locally");
                        local_next
                    }
                }
            }
        };
        let now = chrono::Utc::now().timestamp();
        let mut envs = HashMap::new();
        let mut changed = Vec::new();
        for (env, config_etag) in self.environments.iter().zip(etags) {
            let env_overrides = overrides.get(env).unwrap_or(&empty);
            let snapshot = Snapshot::build(&set, env_overrides, revision)?;
            let last_modified = match prev.as_ref().and_then(|p| p.env(env)) {
                Some(old) if old.config_etag == config_etag => old.last_modified,
                _ => {
                    changed.push((env.clone(), config_etag.clone(), now));
                    now
                }
            };
            envs.insert(
                env.clone(),
                EnvSnapshot {
                    snapshot: Arc::new(snapshot),
                    config_etag,
                    last_modified,
                },
            );
        }
        self.current.store(Some(Arc::new(Published {
            revision,
            set,
            set_hash,
            content,
            envs,
        })));
        let event = RevisionEvent { revision, changed };
        {
            let mut h = self.history.lock().expect("history lock");
            h.push_back(event.clone());
            while h.len() > HISTORY {
                h.pop_front();
            }
        }
        let _ = self.events.send(event);
        metrics::gauge!("signalbox_flag_revision").set(revision as f64);
        tracing::info!(revision, "flag snapshot published");
        Ok(revision)
    }

    /// A fingerprint of the flag directory (names, sizes, modification times, inodes), cheap
    /// enough to poll: it notices edits in place and files replaced by rename.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            let mut v: Vec<_> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let m = e.metadata().ok()?;
                    #[cfg(unix)]
                    let ino = std::os::unix::fs::MetadataExt::ino(&m);
                    #[cfg(not(unix))]
                    let ino = 0u64;
                    Some((e.file_name(), m.len(), m.modified().ok(), ino))
                })
                .collect();
            v.sort();
            v.hash(&mut h);
        }
        h.finish()
    }

    /// Reloads when the directory changes (checked every `every`) or on SIGHUP, forever.
    pub async fn watch(self: Arc<Self>, every: std::time::Duration) {
        let mut last = self.fingerprint();
        let mut tick = tokio::time::interval(every);
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            let hup_fut = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let hup_fut = std::future::pending::<()>();
            let forced = tokio::select! {
                _ = tick.tick() => false,
                _ = hup_fut => true,
            };
            let now = self.fingerprint();
            if !forced && now == last {
                continue;
            }
            last = now;
            match self.reload().await {
                Ok(Some(rev)) => {
                    tracing::info!(revision = rev, forced, "flags reloaded");
                    let flags = self.current().map(|p| p.set.flags.len()).unwrap_or(0);
                    let _ = self.reloads.send(ReloadOutcome::Applied {
                        revision: rev,
                        flags,
                        forced,
                    });
                }
                Ok(None) => tracing::debug!("flag files unchanged"),
                Err(e) => {
                    tracing::error!(error = %e, "flag reload refused; the last good flags keep serving");
                    let _ = self.reloads.send(ReloadOutcome::Refused { error: e.to_string() });
                }
            }
        }
    }
}
