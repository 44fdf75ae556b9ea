//! The brief writer: reads the changes the watcher recorded (the `changes.triaged_at` outbox),
//! triages each into a brief and stores it, marking the change triaged in the same transaction.
//! A crash between a change and its brief loses nothing: the change stays in the outbox.
//!
//! Status incidents are threads: an update of an incident already briefed that changes no state
//! (see `triage::status::thread`) goes on that brief's timeline instead of becoming a brief (and
//! a notification) of its own. Status playbooks still read the page after every change.

use crate::config::Source;
use crate::decisions::{Decisions, Playbooks, playbooks::BriefSeen};
use crate::domain::brief::Severity;
use crate::flags::FlagService;
use crate::store::{ChangeKind, NewBrief, Store, StoreError};
use crate::triage::{self, classify::Rules};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BriefError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("triage of change {change} failed: {reason}")]
    Triage { change: i64, reason: String },
}

pub struct BriefWriter {
    store: Store,
    sources: Arc<Vec<Source>>,
    flags: Option<Arc<FlagService>>,
    rules: Arc<Rules>,
    /// Playbooks run on every brief, when decisions are served.
    playbooks: Option<(Arc<Decisions>, Arc<Playbooks>)>,
}

impl BriefWriter {
    pub fn new(store: Store, sources: Arc<Vec<Source>>, flags: Option<Arc<FlagService>>, rules: Rules) -> BriefWriter {
        BriefWriter {
            store,
            sources,
            flags,
            rules: Arc::new(rules),
            playbooks: None,
        }
    }

    /// Runs `playbooks` on every brief written.
    pub fn with_playbooks(mut self, decisions: Arc<Decisions>, playbooks: Arc<Playbooks>) -> BriefWriter {
        self.playbooks = Some((decisions, playbooks));
        self
    }

    /// Triages every change waiting in the outbox; returns how many briefs were written.
    pub async fn run_once(&self) -> Result<usize, BriefError> {
        let mut written = 0;
        loop {
            // Claimed for long enough to triage the batch; another replica takes the next one.
            let pending = self
                .store
                .claim_untriaged_changes(chrono::Utc::now(), chrono::Duration::minutes(10), 20)
                .await?;
            if pending.is_empty() {
                return Ok(written);
            }
            // A change that cannot be triaged stays claimed (it is tried again when the claim
            // runs out) and holds back only the later changes of its own source, which are given
            // back unclaimed; every other source's changes go on.
            let mut first_error: Option<BriefError> = None;
            let mut failed_sources = std::collections::HashSet::new();
            let mut held_back = Vec::new();
            for change in pending {
                if failed_sources.contains(&change.source) {
                    held_back.push(change.id);
                    continue;
                }
                let (id, source) = (change.id, change.source.clone());
                match self.triage_one(change).await {
                    Ok(n) => written += n,
                    Err(e) => {
                        tracing::error!(change = id, %source, error = %e, "cannot triage this change; retried when its claim runs out");
                        failed_sources.insert(source);
                        first_error.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_error {
                if let Err(release) = self.store.release_change_claims(&held_back).await {
                    tracing::warn!(error = %release, "cannot give back claimed changes; they are retried when the claim runs out");
                }
                return Err(e);
            }
        }
    }

    /// Triages one claimed change: a brief, or an update on an incident's brief; returns how
    /// many briefs were written or updated.
    async fn triage_one(&self, change: crate::store::ChangeRecord) -> Result<usize, BriefError> {
        // Our own rule changes are not news: nothing to brief.
        if change.kind == ChangeKind::RulesUpgrade {
            self.store.mark_triaged(change.id, chrono::Utc::now()).await?;
            return Ok(0);
        }
        let source = self.sources.iter().find(|s| s.id == change.source);
        let text = |id: i64| async move {
            let snap = self
                .store
                .snapshot(id)
                .await?
                .ok_or_else(|| StoreError::MissingBlob(format!("snapshot {id}")))?;
            self.store.blob_text(&snap.text_sha256).await
        };
        let (before, after) = (text(change.before).await?, text(change.after).await?);
        let after_for_playbooks = self.playbooks.is_some().then(|| after.clone());
        let flags = self.flags.as_ref().and_then(|f| f.current()).map(|p| p.set.clone());
        let (rules, doc_type, kind) = (self.rules.clone(), source.map(|s| s.doc_type), source.map(|s| s.kind));
        let provider = source.map(|s| s.provider.clone());
        // The diff stored when the change was detected: triage reads it, not a new one.
        let stored = change
            .diff
            .clone()
            .and_then(|d| serde_json::from_value::<crate::diff::Diff>(d).ok());
        let today = chrono::Utc::now().date_naive();
        // Diffing and reading a large document is CPU work: off the async threads.
        let (brief, thread) = tokio::task::spawn_blocking(move || {
            let ctx = triage::Context {
                kind,
                doc_type,
                provider: provider.as_deref(),
                flags: flags.as_deref(),
                rules: &rules,
                diff: stored.as_ref(),
                today,
            };
            let thread = kind
                .filter(|k| k.is_state())
                .and_then(|_| triage::status::thread(&before, &after));
            (triage::triage(&before, &after, &ctx), thread)
        })
        .await
        .map_err(|e| BriefError::Triage {
            change: change.id,
            reason: e.to_string(),
        })?;
        // An update of an incident already briefed, changing no state: its timeline.
        if let Some(t) = thread.as_ref().filter(|t| !t.news && !t.keys.is_empty())
            && let Some(brief_id) = self.store.thread_brief(&change.source, &t.keys).await?
        {
            let detail = if t.updates.is_empty() {
                "updated".to_owned()
            } else {
                t.updates.join("\n")
            };
            let added = self
                .store
                .append_update(
                    change.id,
                    brief_id,
                    &change.source,
                    &t.keys,
                    &detail,
                    chrono::Utc::now(),
                )
                .await?;
            if !added {
                // Triaged meanwhile by another writer, which ran the playbooks too.
                return Ok(0);
            }
            tracing::info!(brief = brief_id, source = %change.source, "incident update added to its brief's timeline");
            if let (Some((decisions, playbooks)), Some(source), Some(after)) =
                (&self.playbooks, source, after_for_playbooks.as_deref())
            {
                let seen = BriefSeen {
                    brief_id,
                    source,
                    // Not a brief of its own: only status playbooks read the page.
                    material: false,
                    category: brief.category,
                    severity: brief.severity,
                    after,
                };
                if let Err(e) = playbooks.on_brief(decisions, &seen).await {
                    tracing::error!(brief = brief_id, error = %e, "playbook evaluation failed");
                }
            }
            return Ok(1);
        }
        let inserted = self
            .store
            .insert_brief(NewBrief {
                change_id: change.id,
                source: &change.source,
                provider: source.map(|s| s.provider.as_str()).unwrap_or("unknown"),
                owner: source.and_then(|s| s.owner.as_deref()),
                material: brief.material,
                category: brief.category,
                severity: brief.severity,
                title: &brief.title,
                body: {
                    // Where to read more: both snapshots and the change with its diff.
                    let mut body = serde_json::to_value(&brief).expect("brief serializes");
                    body["links"] = serde_json::json!({
                        "before": format!("/api/v1/snapshots/{}", change.before),
                        "after": format!("/api/v1/snapshots/{}", change.after),
                        "change": format!("/api/v1/changes/{}", change.id),
                        "history": format!("/api/v1/sources/{}/changes", change.source),
                    });
                    body
                },
                threads: thread.map(|t| t.keys).unwrap_or_default(),
                now: chrono::Utc::now(),
            })
            .await?;
        let crate::store::BriefInsert::New(id) = inserted else {
            // Triaged meanwhile by another writer, which ran the playbooks too.
            return Ok(0);
        };
        if brief.material {
            tracing::info!(brief = id, source = %change.source, severity = %brief.severity, title = %brief.title, "brief");
        }
        if let (Some((decisions, playbooks)), Some(source), Some(after)) =
            (&self.playbooks, source, after_for_playbooks)
        {
            let seen = BriefSeen {
                brief_id: id,
                source,
                material: brief.material,
                category: brief.category,
                severity: brief.severity,
                after: &after,
            };
            // The brief is stored whatever happens here; a failing playbook is logged
            // loudly (and is in the audit log when it fired).
            if let Err(e) = playbooks.on_brief(decisions, &seen).await {
                tracing::error!(brief = id, error = %e, "playbook evaluation failed");
            }
        }
        Ok(1)
    }

    /// Deadlines come closer every day: a retirement of a model a flag uses becomes critical
    /// within 30 days of its date. Only raises severity; returns how many briefs changed.
    pub async fn reevaluate_deadlines(&self, today: chrono::NaiveDate) -> Result<usize, BriefError> {
        let mut raised = 0;
        for b in self.store.open_briefs().await? {
            let Some(body) = &b.brief else { continue };
            let in_use = body["what_breaks"].as_array().is_some_and(|a| !a.is_empty());
            let soonest = triage::earliest_deadline(
                body["facts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| Some((f["kind"].as_str()?, f["date"].as_str()?))),
            );
            let Some(date) = soonest else { continue };
            let days = (date - today).num_days();
            let wanted = match (in_use, days) {
                (true, d) if d <= 30 => Severity::Critical,
                (true, _) => Severity::High,
                (false, d) if d <= 30 => Severity::High,
                _ => continue,
            };
            if wanted > b.severity {
                let why = format!(
                    "retirement on {date} is {days} day(s) away{}",
                    if in_use { " and a flag uses the model" } else { "" }
                );
                self.store
                    .set_brief_severity(b.id, wanted, true, "system", &why, chrono::Utc::now())
                    .await?;
                tracing::warn!(brief = b.id, severity = %wanted, %why, "brief severity raised");
                raised += 1;
            }
        }
        Ok(raised)
    }

    /// Drains the outbox every `every`, and re-evaluates deadlines once a day, until shutdown.
    pub async fn run_forever(self: Arc<Self>, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut last_check: Option<chrono::NaiveDate> = None;
        loop {
            if let Err(e) = self.run_once().await {
                tracing::error!(error = %e, "triage failed; the changes stay in the outbox");
            }
            let today = chrono::Utc::now().date_naive();
            if last_check != Some(today) {
                match self.reevaluate_deadlines(today).await {
                    Ok(_) => last_check = Some(today),
                    Err(e) => tracing::error!(error = %e, "deadline check failed; will retry"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = crate::flags::stopped(&mut shutdown) => return,
            }
        }
    }
}
