//! Decisions and their votes: the SQLite side. Every transition runs in one `BEGIN IMMEDIATE`
//! transaction with its audit event, and checks the decision's current status inside it, so two
//! approvers clicking at once, or the expiry timer racing a revert, cannot both win.

use super::audit::{NewAudit, append};
use super::{Store, StoreError, from_millis, to_millis};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{Row, SqliteConnection};
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize)]
pub struct Vote {
    pub voter: String,
    pub verdict: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionRecord {
    pub id: i64,
    pub flag: String,
    pub env: String,
    /// `serve`, `kill` or `restore`.
    pub action: String,
    pub variant: Option<String>,
    pub reason: String,
    pub brief_id: Option<i64>,
    /// `manual` or `playbook:<name>`.
    pub origin: String,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub approvals_required: i64,
    pub status: String,
    pub applied_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<String>,
    pub end_reason: Option<String>,
    pub revert_at: Option<DateTime<Utc>>,
    pub votes: Vec<Vote>,
}

impl DecisionRecord {
    /// The distinct approvers, in the order they approved.
    pub fn approvers(&self) -> Vec<&str> {
        self.votes
            .iter()
            .filter(|v| v.verdict == "approve")
            .map(|v| v.voter.as_str())
            .collect()
    }
}

pub struct NewDecision<'a> {
    pub flag: &'a str,
    pub env: &'a str,
    pub action: &'a str,
    pub variant: Option<&'a str>,
    pub reason: &'a str,
    pub brief_id: Option<i64>,
    pub origin: &'a str,
    pub proposed_by: &'a str,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub approvals_required: i64,
    /// `proposed`, or `approved` for a playbook's pre-approved decision.
    pub status: &'a str,
}

#[derive(Debug, Clone, Default)]
pub struct DecisionFilter {
    pub status: Option<String>,
    pub flag: Option<String>,
    pub env: Option<String>,
    pub brief_id: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DecisionStoreError {
    #[error("no decision {0}")]
    NotFound(i64),
    #[error("a {status} decision cannot be {action}")]
    NotAllowed { status: String, action: &'static str },
    #[error("the proposer of a decision cannot approve or reject it")]
    OwnDecision,
    #[error("{0} has already voted on this decision")]
    AlreadyVoted(String),
    #[error("no brief {0}")]
    NoBrief(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for DecisionStoreError {
    fn from(e: sqlx::Error) -> Self {
        DecisionStoreError::Store(StoreError::Db(e))
    }
}

fn from_row(r: &sqlx::sqlite::SqliteRow) -> DecisionRecord {
    let t = |c: &str| r.get::<Option<i64>, _>(c).map(from_millis);
    DecisionRecord {
        id: r.get("id"),
        flag: r.get("flag"),
        env: r.get("env"),
        action: r.get("action"),
        variant: r.get("variant"),
        reason: r.get("reason"),
        brief_id: r.get("brief_id"),
        origin: r.get("origin"),
        proposed_by: r.get("proposed_by"),
        proposed_at: from_millis(r.get("proposed_at")),
        starts_at: t("starts_at"),
        expires_at: t("expires_at"),
        approvals_required: r.get("approvals_required"),
        status: r.get("status"),
        applied_at: t("applied_at"),
        ended_at: t("ended_at"),
        ended_by: r.get("ended_by"),
        end_reason: r.get("end_reason"),
        revert_at: t("revert_at"),
        votes: Vec::new(),
    }
}

async fn load(conn: &mut SqliteConnection, id: i64) -> Result<DecisionRecord, DecisionStoreError> {
    let row = sqlx::query("SELECT * FROM decisions WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DecisionStoreError::NotFound(id))?;
    let mut d = from_row(&row);
    d.votes = sqlx::query("SELECT * FROM decision_votes WHERE decision_id = ? ORDER BY at, voter")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(vote_from_row)
        .collect();
    Ok(d)
}

fn vote_from_row(r: &sqlx::sqlite::SqliteRow) -> Vote {
    Vote {
        voter: r.get("voter"),
        verdict: r.get("verdict"),
        reason: r.get("reason"),
        at: from_millis(r.get("at")),
    }
}

/// The audit payload of a decision: what it does and where it stands.
fn summary(d: &DecisionRecord) -> serde_json::Value {
    json!({
        "flag": d.flag, "env": d.env, "action": d.action, "variant": d.variant, "status": d.status,
        "brief_id": d.brief_id, "origin": d.origin, "approvers": d.approvers(),
        "starts_at": d.starts_at, "expires_at": d.expires_at, "applied_at": d.applied_at,
    })
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
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        if let Some(b) = n.brief_id
            && sqlx::query("SELECT 1 FROM briefs WHERE id = ?")
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(n.flag)
        .bind(n.env)
        .bind(n.action)
        .bind(n.variant)
        .bind(n.reason)
        .bind(n.brief_id)
        .bind(n.origin)
        .bind(n.proposed_by)
        .bind(to_millis(Utc::now()))
        .bind(n.starts_at.map(to_millis))
        .bind(n.expires_at.map(to_millis))
        .bind(n.approvals_required)
        .bind(n.status)
        .fetch_one(&mut *tx)
        .await?
        .get("id");
        let d = load(&mut tx, id).await?;
        let mut payload = summary(&d);
        payload["reason"] = json!(d.reason);
        payload["approvals_required"] = json!(d.approvals_required);
        append(
            &mut tx,
            &NewAudit::new(n.proposed_by, "decision.proposed", "decision", id, payload),
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
            append(&mut tx, &e).await?;
        }
        tx.commit().await?;
        Ok(d)
    }

    /// An approval or a rejection. Enough distinct approvals make the decision `approved`; one
    /// rejection makes it `rejected`. The proposer's vote never counts.
    pub async fn vote_decision(
        &self,
        id: i64,
        voter: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<DecisionRecord, DecisionStoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let d = load(&mut tx, id).await?;
        let action = if approve { "approved" } else { "rejected" };
        if d.status != "proposed" {
            return Err(DecisionStoreError::NotAllowed {
                status: d.status,
                action,
            });
        }
        if d.proposed_by == voter {
            return Err(DecisionStoreError::OwnDecision);
        }
        if d.expires_at.is_some_and(|e| e <= Utc::now()) {
            return Err(DecisionStoreError::NotAllowed {
                status: "expired".into(),
                action,
            });
        }
        if d.votes.iter().any(|v| v.voter == voter) {
            return Err(DecisionStoreError::AlreadyVoted(voter.to_owned()));
        }
        sqlx::query("INSERT INTO decision_votes (decision_id, voter, verdict, reason, at) VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(voter)
            .bind(if approve { "approve" } else { "reject" })
            .bind(reason)
            .bind(to_millis(Utc::now()))
            .execute(&mut *tx)
            .await?;
        let approvals = d.approvers().len() as i64 + i64::from(approve);
        let new_status = if !approve {
            Some("rejected")
        } else if approvals >= d.approvals_required {
            Some("approved")
        } else {
            None
        };
        if let Some(s) = new_status {
            sqlx::query("UPDATE decisions SET status = ? WHERE id = ?")
                .bind(s)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let d = load(&mut tx, id).await?;
        let mut payload = summary(&d);
        payload["reason"] = json!(reason);
        payload["approvals"] = json!(approvals);
        payload["approvals_required"] = json!(d.approvals_required);
        let event = if approve {
            "decision.approval"
        } else {
            "decision.rejected"
        };
        append(&mut tx, &NewAudit::new(voter, event, "decision", id, payload.clone())).await?;
        if new_status == Some("approved") {
            append(
                &mut tx,
                &NewAudit::new(voter, "decision.approved", "decision", id, payload),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(d)
    }

    /// Ends or moves a decision: `withdrawn` (before it is active), `reverted`, `expired`. Returns
    /// `NotAllowed` when its status is not one of `from`.
    pub async fn end_decision(
        &self,
        id: i64,
        from: &[&str],
        to: &'static str,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<DecisionRecord, DecisionStoreError> {
        self.end_decision_if(id, to, actor, reason, |d| from.contains(&d.status.as_str()))
            .await
    }

    /// Reverts an active decision whose quiet-period revert is due, checking inside the
    /// transaction that it still is (a re-armed playbook may have called it off).
    pub async fn revert_after_quiet(
        &self,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<DecisionRecord, DecisionStoreError> {
        let reason = Some("the condition cleared and the quiet period passed");
        self.end_decision_if(id, "reverted", actor, reason, |d| {
            d.status == "active" && d.revert_at.is_some_and(|r| r <= now)
        })
        .await
    }

    /// Ends a decision when `allowed` holds for it as it is inside the transaction.
    async fn end_decision_if(
        &self,
        id: i64,
        to: &'static str,
        actor: &str,
        reason: Option<&str>,
        allowed: impl Fn(&DecisionRecord) -> bool,
    ) -> Result<DecisionRecord, DecisionStoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let d = load(&mut tx, id).await?;
        if !allowed(&d) {
            return Err(DecisionStoreError::NotAllowed {
                status: d.status,
                action: to,
            });
        }
        sqlx::query("UPDATE decisions SET status = ?, ended_at = ?, ended_by = ?, end_reason = ?, revert_at = NULL WHERE id = ?")
            .bind(to)
            .bind(to_millis(Utc::now()))
            .bind(actor)
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let d = load(&mut tx, id).await?;
        let mut payload = summary(&d);
        payload["reason"] = json!(reason);
        append(
            &mut tx,
            &NewAudit::new(actor, &format!("decision.{to}"), "decision", id, payload),
        )
        .await?;
        tx.commit().await?;
        Ok(d)
    }

    /// Applies an approved decision: it becomes `active`, and the decision active before it on
    /// the same flag and environment is `superseded`.
    pub async fn activate_decision(&self, id: i64, actor: &str) -> Result<DecisionRecord, DecisionStoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let d = load(&mut tx, id).await?;
        if d.status != "approved" {
            return Err(DecisionStoreError::NotAllowed {
                status: d.status,
                action: "applied",
            });
        }
        let now = to_millis(Utc::now());
        let superseded: Vec<i64> =
            sqlx::query("SELECT id FROM decisions WHERE flag = ? AND env = ? AND status = 'active' AND id != ?")
                .bind(&d.flag)
                .bind(&d.env)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.get("id"))
                .collect();
        for old in superseded {
            sqlx::query(
                "UPDATE decisions SET status = 'superseded', ended_at = ?, ended_by = ?, end_reason = ?, revert_at = NULL WHERE id = ?",
            )
            .bind(now)
            .bind(actor)
            .bind(format!("superseded by decision {id}"))
            .bind(old)
            .execute(&mut *tx)
            .await?;
            append(
                &mut tx,
                &NewAudit::new(actor, "decision.superseded", "decision", old, json!({"by": id})),
            )
            .await?;
        }
        sqlx::query("UPDATE decisions SET status = 'active', applied_at = ? WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let d = load(&mut tx, id).await?;
        append(
            &mut tx,
            &NewAudit::new(actor, "decision.applied", "decision", id, summary(&d)),
        )
        .await?;
        tx.commit().await?;
        Ok(d)
    }

    /// Arms (or, with `None`, disarms) a playbook decision's quiet-period revert.
    pub async fn set_decision_revert_at(
        &self,
        id: i64,
        at: Option<DateTime<Utc>>,
        actor: &str,
    ) -> Result<DecisionRecord, DecisionStoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let d = load(&mut tx, id).await?;
        if d.status != "active" {
            return Err(DecisionStoreError::NotAllowed {
                status: d.status,
                action: "scheduled for revert",
            });
        }
        sqlx::query("UPDATE decisions SET revert_at = ? WHERE id = ?")
            .bind(at.map(to_millis))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let d = load(&mut tx, id).await?;
        let action = if at.is_some() {
            "decision.revert_scheduled"
        } else {
            "decision.revert_cancelled"
        };
        append(
            &mut tx,
            &NewAudit::new(actor, action, "decision", id, json!({"revert_at": at})),
        )
        .await?;
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
            "SELECT * FROM decisions WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR flag = ?2)
               AND (?3 IS NULL OR env = ?3) AND (?4 IS NULL OR brief_id = ?4) ORDER BY id DESC",
        )
        .bind(&f.status)
        .bind(&f.flag)
        .bind(&f.env)
        .bind(f.brief_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect();
        if out.is_empty() {
            return Ok(out);
        }
        let ids: Vec<i64> = out.iter().map(|d| d.id).collect();
        let mut votes: HashMap<i64, Vec<Vote>> = HashMap::new();
        for r in sqlx::query(
            "SELECT * FROM decision_votes WHERE decision_id IN (SELECT value FROM json_each(?)) ORDER BY at, voter",
        )
        .bind(serde_json::to_string(&ids).expect("ids serialize"))
        .fetch_all(self.pool())
        .await?
        {
            votes.entry(r.get("decision_id")).or_default().push(vote_from_row(&r));
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
                status: Some("active".into()),
                ..Default::default()
            })
            .await?;
        all.extend(
            self.decisions(&DecisionFilter {
                status: Some("approved".into()),
                ..Default::default()
            })
            .await?,
        );
        all.sort_by_key(|d| d.id);
        Ok(all)
    }
}
