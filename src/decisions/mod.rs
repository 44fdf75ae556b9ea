//! Decisions: proposals to change one flag in one environment (serve a variant, kill, restore the
//! file default), their approvals, and their life as overrides of the flag files.
//!
//! The database is the truth: every transition is a row change plus its audit event in one
//! transaction (`store::decisions`). The flag service's overrides are derived from it by
//! [`Decisions::reconcile`], which also moves decisions along the clock (a scheduled start, an
//! expiry, a playbook's quiet period). It runs after every action and once a second, so a restart,
//! or a second signalbox process acting on the same database, converges on the same overrides.

pub mod playbooks;

use crate::domain::decision::{self as lifecycle, DecisionStatus, Due, Ending, LifecycleError, Verdict};
use crate::flags::{FlagService, MetaValue, Override, ServiceError};
use crate::store::{DecisionFilter, DecisionRecord, DecisionStoreError, NewDecision, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use playbooks::{Playbook, PlaybookError, Playbooks};

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("no flag `{0}`")]
    UnknownFlag(String),
    #[error("environment `{env}` is not configured (known: {known})")]
    UnknownEnv { env: String, known: String },
    #[error("flag `{flag}` has no variant `{variant}` (it has: {known})")]
    UnknownVariant {
        flag: String,
        variant: String,
        known: String,
    },
    #[error(
        "flag `{0}` has no off variant to kill with (a variant named `off`, or one whose value is false or has `enabled: false`)"
    )]
    NoOffVariant(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] DecisionStoreError),
    #[error(transparent)]
    Flags(#[from] ServiceError),
}

impl From<StoreError> for DecisionError {
    fn from(e: StoreError) -> Self {
        DecisionError::Store(DecisionStoreError::Store(e))
    }
}

pub use crate::domain::decision::Action;

/// A proposal, as the API and playbooks make it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    pub flag: String,
    pub env: String,
    pub action: Action,
    #[serde(default)]
    pub variant: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub brief_id: Option<i64>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// The decisions engine.
pub struct Decisions {
    store: Store,
    flags: Arc<FlagService>,
    /// Environments whose decisions need the flag's `metadata.approvals` approvers.
    production: Vec<String>,
    /// One reconciliation at a time: they read and then write.
    reconciling: tokio::sync::Mutex<()>,
}

impl Decisions {
    pub fn new(store: Store, flags: Arc<FlagService>, production: Vec<String>) -> Decisions {
        Decisions {
            store,
            flags,
            production,
            reconciling: tokio::sync::Mutex::new(()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The approvals a decision on `flag` in `env` needs: the flag's `metadata.approvals` (default
    /// 2) in production, 1 elsewhere; never fewer than 1.
    pub fn approvals_required(&self, flag: &str, env: &str) -> i64 {
        if !self.production.iter().any(|p| p == env) {
            return 1;
        }
        let current = self.flags.current();
        let n = current
            .as_ref()
            .and_then(|p| p.set.flags.get(flag))
            .map(|d| d.approvals())
            .unwrap_or(crate::flags::DEFAULT_APPROVALS);
        n.max(1) as i64
    }

    /// Checks a proposal against the flags being served and resolves the variant it serves.
    fn resolve(&self, p: &Proposal) -> Result<Option<String>, DecisionError> {
        if !self.flags.environments().iter().any(|e| e == &p.env) {
            return Err(DecisionError::UnknownEnv {
                env: p.env.clone(),
                known: self.flags.environments().join(", "),
            });
        }
        if p.reason.trim().is_empty() {
            return Err(DecisionError::Invalid("a decision needs a reason".into()));
        }
        let now = Utc::now();
        if let Some(e) = p.expires_at {
            if e <= now {
                return Err(DecisionError::Invalid("expires_at is in the past".into()));
            }
            if p.starts_at.is_some_and(|s| s >= e) {
                return Err(DecisionError::Invalid("expires_at must be after starts_at".into()));
            }
        }
        let current = self.flags.current().ok_or(ServiceError::NotLoaded)?;
        let def = current
            .set
            .flags
            .get(&p.flag)
            .ok_or_else(|| DecisionError::UnknownFlag(p.flag.clone()))?;
        let known = || def.variants.keys().cloned().collect::<Vec<_>>().join(", ");
        match p.action {
            Action::Restore => {
                if p.variant.is_some() {
                    return Err(DecisionError::Invalid("restore takes no variant".into()));
                }
                Ok(None)
            }
            Action::Serve => {
                let v = p
                    .variant
                    .clone()
                    .ok_or_else(|| DecisionError::Invalid("serve needs a variant".into()))?;
                if !def.variants.contains_key(&v) {
                    return Err(DecisionError::UnknownVariant {
                        flag: p.flag.clone(),
                        variant: v,
                        known: known(),
                    });
                }
                Ok(Some(v))
            }
            Action::Kill => {
                if let Some(v) = &p.variant {
                    return Err(DecisionError::Invalid(format!(
                        "kill serves the flag's off variant; leave out `variant` (got `{v}`), or use serve"
                    )));
                }
                off_variant(&def.variants)
                    .map(Some)
                    .ok_or_else(|| DecisionError::NoOffVariant(p.flag.clone()))
            }
        }
    }

    /// Records a proposal. `origin` is `manual` or `playbook:<name>`; a playbook's decision is
    /// pre-approved (the playbook file was reviewed) and applied at once.
    pub async fn propose(&self, actor: &str, p: &Proposal, origin: &str) -> Result<DecisionRecord, DecisionError> {
        self.propose_with(actor, p, origin, None).await
    }

    /// `propose`, recording `also` (why the decision was made) in the same transaction.
    pub async fn propose_with(
        &self,
        actor: &str,
        p: &Proposal,
        origin: &str,
        also: Option<crate::store::NewAudit<'_>>,
    ) -> Result<DecisionRecord, DecisionError> {
        let variant = self.resolve(p)?;
        let pre_approved = origin.starts_with("playbook:");
        let d = self
            .store
            .insert_decision_with(
                NewDecision {
                    flag: &p.flag,
                    env: &p.env,
                    action: p.action,
                    variant: variant.as_deref(),
                    reason: &p.reason,
                    brief_id: p.brief_id,
                    origin,
                    proposed_by: actor,
                    starts_at: p.starts_at,
                    expires_at: p.expires_at,
                    approvals_required: if pre_approved {
                        0
                    } else {
                        self.approvals_required(&p.flag, &p.env)
                    },
                    status: if pre_approved {
                        DecisionStatus::Approved
                    } else {
                        DecisionStatus::Proposed
                    },
                    now: Utc::now(),
                },
                also,
            )
            .await?;
        self.reconcile_after(d.id).await;
        Ok(self.store.decision(d.id).await?.unwrap_or(d))
    }

    /// Reconciles after an action that has committed: a failure here must not tell the caller
    /// their action failed (the next tick retries), so it is logged.
    async fn reconcile_after(&self, id: i64) {
        if let Err(e) = self.reconcile().await {
            tracing::error!(decision = id, error = %e, "reconciliation after a decision action failed; the next tick retries");
        }
    }

    /// An approval (or, with `approve` false, a rejection) by `voter`.
    pub async fn vote(
        &self,
        id: i64,
        voter: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<DecisionRecord, DecisionError> {
        if !approve && reason.is_none_or(|r| r.trim().is_empty()) {
            return Err(DecisionError::Invalid("a rejection needs a reason".into()));
        }
        let verdict = if approve { Verdict::Approve } else { Verdict::Reject };
        let d = self
            .store
            .transition_decision(id, |d, _| {
                lifecycle::vote(d, voter, verdict, reason, Utc::now()).map(|t| vec![t])
            })
            .await?;
        self.reconcile_after(id).await;
        Ok(self.store.decision(d.id).await?.unwrap_or(d))
    }

    /// Withdraws a decision that is not active yet.
    pub async fn withdraw(&self, id: i64, actor: &str, reason: Option<&str>) -> Result<DecisionRecord, DecisionError> {
        let d = self.end(id, Ending::Withdraw, actor, reason).await?;
        self.reconcile_after(id).await;
        Ok(d)
    }

    /// Reverts an active decision: the flag serves its file default again.
    pub async fn revert(&self, id: i64, actor: &str, reason: Option<&str>) -> Result<DecisionRecord, DecisionError> {
        let d = self.end(id, Ending::Revert, actor, reason).await?;
        self.reconcile().await?;
        Ok(d)
    }

    /// Ends decision `id` the way `how` says, by `actor`, now.
    async fn end(
        &self,
        id: i64,
        how: Ending,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<DecisionRecord, DecisionStoreError> {
        self.store
            .transition_decision(id, |d, _| {
                lifecycle::end(d, how, actor, reason, Utc::now()).map(|t| vec![t])
            })
            .await
    }

    /// Arms (or, with `None`, disarms) an active decision's quiet-period revert.
    pub async fn set_revert_at(
        &self,
        id: i64,
        at: Option<DateTime<Utc>>,
        actor: &str,
    ) -> Result<DecisionRecord, DecisionStoreError> {
        self.store
            .transition_decision(id, |d, _| lifecycle::set_revert_at(d, at, actor).map(|t| vec![t]))
            .await
    }

    pub async fn list(&self, f: &DecisionFilter) -> Result<Vec<DecisionRecord>, DecisionError> {
        Ok(self.store.decisions(f).await?)
    }

    /// Moves decisions along the clock and makes the flag service's overrides match the active
    /// decisions. Returns the new flag revision when the overrides changed.
    pub async fn reconcile(&self) -> Result<Option<u64>, DecisionError> {
        let _one = self.reconciling.lock().await;
        let now = Utc::now();
        // Proposals nobody approved before their expiry, scheduled decisions whose start came,
        // active ones past their expiry or their quiet period: what is due is the domain's rule.
        let mut live = self
            .store
            .decisions(&DecisionFilter {
                status: Some(DecisionStatus::Proposed),
                ..Default::default()
            })
            .await?;
        live.extend(self.store.live_decisions().await?);
        for d in live {
            let step = match lifecycle::due(&d, now) {
                None => continue,
                Some(Due::Apply) => {
                    let actor = actor_of(&d).to_owned();
                    self.store
                        .transition_decision(d.id, |d, active| lifecycle::activate(d, active, &actor, now))
                        .await
                }
                Some(Due::End(how)) => {
                    let actor = match how {
                        Ending::RevertAfterQuiet => actor_of(&d).to_owned(),
                        _ => "system".to_owned(),
                    };
                    let reason = match how {
                        Ending::RevertAfterQuiet => "the condition cleared and the quiet period passed",
                        _ => lifecycle::expiry_reason(d.status),
                    };
                    // Checked again inside the transaction: someone may have moved it since this
                    // list was read (an approval, a revert, a re-armed playbook).
                    self.store
                        .transition_decision(d.id, |d, _| {
                            lifecycle::end(d, how, &actor, Some(reason), now).map(|t| vec![t])
                        })
                        .await
                }
            };
            match step {
                Ok(after) => {
                    tracing::info!(decision = d.id, flag = %d.flag, env = %d.env, status = %after.status, "decision moved")
                }
                // Someone else moved it first (an approver, a revert): theirs stands.
                Err(DecisionStoreError::Refused(LifecycleError::NotAllowed { .. })) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let active = self
            .store
            .decisions(&DecisionFilter {
                status: Some(DecisionStatus::Active),
                ..Default::default()
            })
            .await?;
        let mut overrides: HashMap<String, HashMap<String, Override>> = HashMap::new();
        for d in &active {
            if let Some(variant) = &d.variant {
                overrides.entry(d.env.clone()).or_default().insert(
                    d.flag.clone(),
                    Override {
                        variant: variant.clone(),
                        metadata: override_metadata(d),
                    },
                );
            }
        }
        let mut revision = self.flags.replace_overrides(overrides).await?;
        // Another replica may have numbered this same configuration higher (a race between two
        // publishes): take its number, so that revisions, ETags and event ids agree again.
        if revision.is_none() {
            revision = self.flags.adopt_shared_revision().await?;
        }
        if let Some(rev) = revision {
            tracing::info!(
                revision = rev,
                active = active.len(),
                "flag overrides updated from decisions"
            );
        }
        Ok(revision)
    }

    /// Reconciles every `every` until shutdown.
    pub async fn run_forever(self: Arc<Self>, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.reconcile().await {
                        tracing::error!(error = %e, "decision reconciliation failed; retrying");
                    }
                }
                _ = crate::flags::stopped(&mut shutdown) => return,
            }
        }
    }
}

/// Who the clock acts for: the playbook that made a decision; for a person's decision, the
/// approver whose approval made it (what it supersedes was ended by that person, not by a machine).
fn actor_of(d: &DecisionRecord) -> &str {
    if d.origin.starts_with("playbook:") {
        &d.origin
    } else {
        d.approvers().last().copied().unwrap_or(&d.proposed_by)
    }
}

/// What OFREP clients see of the decision behind a value.
fn override_metadata(d: &DecisionRecord) -> std::collections::BTreeMap<String, MetaValue> {
    let mut m = std::collections::BTreeMap::new();
    m.insert("decisionId".to_owned(), MetaValue::Number(d.id.into()));
    if let Some(b) = d.brief_id {
        m.insert("briefId".to_owned(), MetaValue::Number(b.into()));
    }
    let approved_by = if d.origin.starts_with("playbook:") {
        d.origin.clone()
    } else {
        d.approvers().join(",")
    };
    m.insert("approvedBy".to_owned(), MetaValue::String(approved_by));
    if let Some(e) = d.expires_at {
        m.insert(
            "expiresAt".to_owned(),
            MetaValue::String(e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
    }
    m.insert("decisionOrigin".to_owned(), MetaValue::String(d.origin.clone()));
    m
}

/// The variant a kill serves: one named `off`, else one whose value is `false`, else an object
/// with `enabled: false` (the AI-route convention).
pub fn off_variant<'a>(variants: impl IntoIterator<Item = (&'a String, &'a Value)>) -> Option<String> {
    let all: Vec<(&String, &Value)> = variants.into_iter().collect();
    all.iter()
        .find(|(k, _)| k.as_str() == "off")
        .or_else(|| all.iter().find(|(_, v)| **v == Value::Bool(false)))
        .or_else(|| all.iter().find(|(_, v)| v.get("enabled") == Some(&Value::Bool(false))))
        .map(|(k, _)| (*k).clone())
}
