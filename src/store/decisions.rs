//! Decisions and their votes: the SQLite side. The rules (who may vote, which transitions are
//! allowed when, what the audit says) are `domain::decision`'s; here a transition loads the
//! decision inside one `BEGIN IMMEDIATE` transaction, asks the domain, and writes what it decided
//! with its audit events, so two approvers clicking at once, or the expiry timer racing a revert,
//! cannot both win.

use super::audit::{NewAudit, append};
use super::{Store, StoreError, from_millis, to_millis, typed};
use crate::domain::decision::{Action, DecisionStatus, LifecycleError, Transition};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

pub use crate::domain::decision::{Decision as DecisionRecord, Vote};

pub struct NewDecision<'a> {
    pub flag: &'a str,
    pub env: &'a str,
    pub action: Action,
    pub variant: Option<&'a str>,
    pub reason: &'a str,
    pub brief_id: Option<i64>,
    pub origin: &'a str,
    pub proposed_by: &'a str,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub approvals_required: i64,
    /// `proposed`, or `approved` for a playbook's pre-approved decision.
    pub status: DecisionStatus,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct DecisionFilter {
    pub status: Option<DecisionStatus>,
    pub flag: Option<String>,
    pub env: Option<String>,
    pub brief_id: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DecisionStoreError {
    #[error("no decision {0}")]
    NotFound(i64),
    /// The domain refused the transition (not allowed now, own decision, a second vote).
    #[error(transparent)]
    Refused(#[from] LifecycleError),
    #[error("no brief {0}")]
    NoBrief(i64),
    /// The playbook already has a live decision on this flag and environment (another replica
    /// fired it first).
    #[error("{0} already has a live decision on this flag and environment")]
    AlreadyLive(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for DecisionStoreError {
    fn from(e: sqlx::Error) -> Self {
        DecisionStoreError::Store(StoreError::Db(e))
    }
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<DecisionRecord, StoreError> {
    let t = |c: &str| r.get::<Option<i64>, _>(c).map(from_millis);
    Ok(DecisionRecord {
        id: r.get("id"),
        flag: r.get("flag"),
        env: r.get("env"),
        action: typed(r.get("action"))?,
        variant: r.get("variant"),
        reason: r.get("reason"),
        brief_id: r.get("brief_id"),
        origin: r.get("origin"),
        proposed_by: r.get("proposed_by"),
        proposed_at: from_millis(r.get("proposed_at")),
        starts_at: t("starts_at"),
        expires_at: t("expires_at"),
        approvals_required: r.get("approvals_required"),
        status: typed(r.get("status"))?,
        applied_at: t("applied_at"),
        ended_at: t("ended_at"),
        ended_by: r.get("ended_by"),
        end_reason: r.get("end_reason"),
        revert_at: t("revert_at"),
        votes: Vec::new(),
    })
}

async fn load(conn: &mut AnyConnection, id: i64) -> Result<DecisionRecord, DecisionStoreError> {
    let row = sqlx::query("SELECT * FROM decisions WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DecisionStoreError::NotFound(id))?;
    let mut d = from_row(&row)?;
    d.votes = sqlx::query("SELECT * FROM decision_votes WHERE decision_id = $1 ORDER BY at, voter")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(vote_from_row)
        .collect::<Result<_, _>>()?;
    Ok(d)
}

fn vote_from_row(r: &sqlx::any::AnyRow) -> Result<Vote, StoreError> {
    Ok(Vote {
        voter: r.get("voter"),
        verdict: typed(r.get("verdict"))?,
        reason: r.get("reason"),
        at: from_millis(r.get("at")),
    })
}

/// Writes what a transition decided: the decision's moving columns, its new vote, its events.
async fn save(conn: &mut AnyConnection, t: &Transition, at: DateTime<Utc>) -> Result<(), DecisionStoreError> {
    let d = &t.decision;
    sqlx::query(
        "UPDATE decisions SET status = $1, applied_at = $2, ended_at = $3, ended_by = $4, end_reason = $5, revert_at = $6
         WHERE id = $7",
    )
    .bind(d.status.as_str())
    .bind(d.applied_at.map(to_millis))
    .bind(d.ended_at.map(to_millis))
    .bind(&d.ended_by)
    .bind(&d.end_reason)
    .bind(d.revert_at.map(to_millis))
    .bind(d.id)
    .execute(&mut *conn)
    .await?;
    if let Some(v) = &t.vote {
        sqlx::query("INSERT INTO decision_votes (decision_id, voter, verdict, reason, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(d.id)
            .bind(&v.voter)
            .bind(v.verdict.as_str())
            .bind(&v.reason)
            .bind(to_millis(v.at))
            .execute(&mut *conn)
            .await?;
    }
    for e in &t.events {
        append(
            &mut *conn,
            &NewAudit::new(&e.actor, &e.action, "decision", e.decision, e.payload.clone()),
            at,
        )
        .await?;
    }
    Ok(())
}

impl Store {
    pub async fn insert_decision(&self, n: NewDecision<'_>) -> Result<DecisionRecord, DecisionStoreError> {
        self.insert_decision_with(n, None).await
    }

    /// Stores a decision and, in the same transaction, `also`: an event about why it was made
    /// (a playbook's firing), whose payload gains the decision's id, flag, environment, action
    /// and variant. The two commit together or not at all.
    pub async fn insert_decision_with(
        &self,
        n: NewDecision<'_>,
        also: Option<NewAudit<'_>>,
    ) -> Result<DecisionRecord, DecisionStoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(b) = n.brief_id
            && sqlx::query("SELECT 1 FROM briefs WHERE id = $1")
                .bind(b)
                .fetch_optional(&mut *tx)
                .await?
                .is_none()
        {
            return Err(DecisionStoreError::NoBrief(b));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO decisions (flag, env, action, variant, reason, brief_id, origin, proposed_by, proposed_at,
                                    starts_at, expires_at, approvals_required, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(n.flag)
        .bind(n.env)
        .bind(n.action.as_str())
        .bind(n.variant)
        .bind(n.reason)
        .bind(n.brief_id)
        .bind(n.origin)
        .bind(n.proposed_by)
        .bind(to_millis(n.now))
        .bind(n.starts_at.map(to_millis))
        .bind(n.expires_at.map(to_millis))
        .bind(n.approvals_required)
        .bind(n.status.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => DecisionStoreError::AlreadyLive(n.origin.to_owned()),
            _ => e.into(),
        })?
        .get("id");
        let d = load(&mut tx, id).await?;
        let e = crate::domain::decision::proposed(&d);
        append(
            &mut tx,
            &NewAudit::new(&e.actor, &e.action, "decision", id, e.payload),
            n.now,
        )
        .await?;
        if let Some(mut e) = also {
            for (k, v) in [
                ("decision", json!(d.id)),
                ("flag", json!(d.flag)),
                ("env", json!(d.env)),
                ("action", json!(d.action)),
                ("variant", json!(d.variant)),
            ] {
                e.payload[k] = v;
            }
            append(&mut tx, &e, n.now).await?;
        }
        tx.commit().await?;
        Ok(d)
    }

    /// Moves decision `id` as `rule` says, given the decision as it is inside the transaction and
    /// the other decisions active on its flag and environment (the domain's lifecycle functions,
    /// called with the time by the caller). Every transition `rule` returns is written with its
    /// events; the first is the decision's own, returned as stored.
    pub async fn transition_decision<F>(&self, id: i64, rule: F) -> Result<DecisionRecord, DecisionStoreError>
    where
        F: FnOnce(&DecisionRecord, &[DecisionRecord]) -> Result<Vec<Transition>, LifecycleError>,
    {
        let mut tx = self.begin_write().await?;
        let d = load(&mut tx, id).await?;
        let ids: Vec<i64> =
            sqlx::query("SELECT id FROM decisions WHERE flag = $1 AND env = $2 AND status = 'active' AND id != $3")
                .bind(&d.flag)
                .bind(&d.env)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.get("id"))
                .collect();
        let mut active = Vec::with_capacity(ids.len());
        for other in ids {
            active.push(load(&mut tx, other).await?);
        }
        let transitions = rule(&d, &active)?;
        // The old decisions end before the new one starts, in the audit as in time.
        for t in transitions.iter().skip(1).chain(transitions.first()) {
            save(&mut tx, t, self.now()).await?;
        }
        let d = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(d)
    }

    pub async fn decision(&self, id: i64) -> Result<Option<DecisionRecord>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        match load(&mut conn, id).await {
            Ok(d) => Ok(Some(d)),
            Err(DecisionStoreError::NotFound(_)) => Ok(None),
            Err(DecisionStoreError::Store(e)) => Err(e),
            Err(e) => Err(StoreError::Db(sqlx::Error::Protocol(e.to_string()))),
        }
    }

    /// Decisions matching the filter, newest first, with their votes.
    pub async fn decisions(&self, f: &DecisionFilter) -> Result<Vec<DecisionRecord>, StoreError> {
        // Two queries whatever the count: the decisions, then all their votes (the
        // reconciliation lists decisions every tick).
        let mut out: Vec<DecisionRecord> = sqlx::query(
            "SELECT * FROM decisions WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR flag = $2)
               AND ($3 IS NULL OR env = $3) AND ($4 IS NULL OR brief_id = $4) ORDER BY id DESC",
        )
        .bind(f.status.map(DecisionStatus::as_str))
        .bind(&f.flag)
        .bind(&f.env)
        .bind(f.brief_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<_, _>>()?;
        if out.is_empty() {
            return Ok(out);
        }
        let ids: Vec<i64> = out.iter().map(|d| d.id).collect();
        let mut votes: HashMap<i64, Vec<Vote>> = HashMap::new();
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        for r in sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM decision_votes WHERE CAST(decision_id AS TEXT) IN {} ORDER BY at, voter",
            self.in_json_texts()
        )))
        .bind(serde_json::to_string(&ids).expect("ids serialize"))
        .fetch_all(self.pool())
        .await?
        {
            votes.entry(r.get("decision_id")).or_default().push(vote_from_row(&r)?);
        }
        for d in &mut out {
            d.votes = votes.remove(&d.id).unwrap_or_default();
        }
        Ok(out)
    }

    /// Decisions the clock may move: approved ones (to apply when their start comes) and active
    /// ones (to expire, or to revert after a playbook's quiet period).
    pub async fn live_decisions(&self) -> Result<Vec<DecisionRecord>, StoreError> {
        let mut all = self
            .decisions(&DecisionFilter {
                status: Some(DecisionStatus::Active),
                ..Default::default()
            })
            .await?;
        all.extend(
            self.decisions(&DecisionFilter {
                status: Some(DecisionStatus::Approved),
                ..Default::default()
            })
            .await?,
        );
        all.sort_by_key(|d| d.id);
        Ok(all)
    }
}
