//! Briefs: the SQLite side. Which transitions are allowed and when severity moves are
//! `domain::brief`'s rules; the caller passes the time.

use super::audit::{NewAudit, append};
use super::{Store, StoreError, from_millis, to_millis, typed};
use crate::domain::brief::{self as lifecycle, BriefLifecycleError, BriefStatus, Severity};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

/// A stored brief, as `briefs list` and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct BriefRecord {
    pub id: i64,
    pub change: i64,
    pub source: String,
    pub provider: String,
    pub owner: Option<String>,
    pub material: bool,
    pub category: Option<String>,
    pub severity: Severity,
    pub title: String,
    pub status: BriefStatus,
    pub assignee: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The whole brief (facts, what breaks, action, diff); only in single-brief views.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brief: Option<serde_json::Value>,
}

pub struct NewBrief<'a> {
    pub change_id: i64,
    pub source: &'a str,
    pub provider: &'a str,
    pub owner: Option<&'a str>,
    pub material: bool,
    pub category: Option<&'a str>,
    pub severity: Severity,
    pub title: &'a str,
    pub body: serde_json::Value,
    /// The status incidents and maintenances the brief is about (`incident:<id>`), so that later
    /// updates find it.
    pub threads: Vec<String>,
    pub now: DateTime<Utc>,
}

/// Filters of `briefs list`; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct BriefFilter {
    pub source: Option<String>,
    pub provider: Option<String>,
    pub status: Option<BriefStatus>,
    pub severity: Option<Severity>,
    pub material: Option<bool>,
    pub category: Option<String>,
    pub assignee: Option<String>,
    pub owner: Option<String>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
}

/// What `insert_brief` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BriefInsert {
    New(i64),
    /// The change had been triaged already: this is its brief.
    Existing(i64),
}

impl BriefInsert {
    pub fn id(self) -> i64 {
        match self {
            BriefInsert::New(id) | BriefInsert::Existing(id) => id,
        }
    }
}

fn brief_from_row(r: &sqlx::any::AnyRow, with_body: bool) -> Result<BriefRecord, StoreError> {
    Ok(BriefRecord {
        id: r.get("id"),
        change: r.get("change_id"),
        source: r.get("source_id"),
        provider: r.get("provider"),
        owner: r.get("owner"),
        material: r.get::<i64, _>("material") != 0,
        category: r.get("category"),
        severity: typed(r.get("severity"))?,
        title: r.get("title"),
        status: typed(r.get("status"))?,
        assignee: r.get("assignee"),
        created_at: from_millis(r.get("created_at")),
        brief: with_body.then(|| serde_json::from_str(&r.get::<String, _>("body")).unwrap_or_default()),
    })
}

impl Store {
    /// Stores a brief and marks its change triaged, together. A change already triaged (by a
    /// `check` beside a running server, or another replica whose claim ran out) is not briefed
    /// twice: its brief's id is returned as `Existing`, and the caller does nothing more with it.
    pub async fn insert_brief(&self, b: NewBrief<'_>) -> Result<BriefInsert, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(id) = already_triaged(&mut tx, b.change_id).await? {
            return Ok(BriefInsert::Existing(id));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO briefs (change_id, source_id, provider, owner, material, category, severity, title, body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(b.change_id)
        .bind(b.source)
        .bind(b.provider)
        .bind(b.owner)
        .bind(b.material as i64)
        .bind(b.category)
        .bind(b.severity.as_str())
        .bind(b.title)
        .bind(b.body.to_string())
        .bind(to_millis(b.now))
        .fetch_one(&mut *tx)
        .await?
        .get("id");
        sqlx::query("UPDATE changes SET triaged_at = $1 WHERE id = $2")
            .bind(to_millis(b.now))
            .bind(b.change_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO brief_events (brief_id, at, actor, action, to_status) VALUES ($1, $2, 'system', 'created', 'new')")
            .bind(id)
            .bind(to_millis(b.now))
            .execute(&mut *tx)
            .await?;
        for thread in &b.threads {
            sqlx::query(
                "INSERT INTO brief_threads (source_id, thread, brief_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(b.source)
            .bind(thread)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        append(
            &mut tx,
            &NewAudit::new(
                "system",
                "brief.created",
                "brief",
                id,
                serde_json::json!({"change": b.change_id, "source": b.source, "provider": b.provider,
                    "material": b.material, "category": b.category, "severity": b.severity, "title": b.title}),
            ),
            b.now,
        )
        .await?;
        tx.commit().await?;
        Ok(BriefInsert::New(id))
    }

    /// The newest brief of `source` about any of `threads`.
    pub async fn thread_brief(&self, source: &str, threads: &[String]) -> Result<Option<i64>, StoreError> {
        let mut newest = None;
        for t in threads {
            let id: Option<i64> =
                sqlx::query("SELECT MAX(brief_id) AS id FROM brief_threads WHERE source_id = $1 AND thread = $2")
                    .bind(source)
                    .bind(t)
                    .fetch_one(self.pool())
                    .await?
                    .get("id");
            newest = newest.max(id);
        }
        Ok(newest)
    }

    /// Puts an update that changes no state on a brief's timeline (no new brief, no
    /// notification), marks its change triaged and names the brief for the change's threads,
    /// together. Returns false when the change was already triaged.
    pub async fn append_update(
        &self,
        change_id: i64,
        brief_id: i64,
        source: &str,
        threads: &[String],
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if already_triaged(&mut tx, change_id).await?.is_some() {
            return Ok(false);
        }
        let now_ms = to_millis(now);
        sqlx::query(
            "INSERT INTO brief_events (brief_id, at, actor, action, detail) VALUES ($1, $2, 'system', 'update', $3)",
        )
        .bind(brief_id)
        .bind(now_ms)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE changes SET triaged_at = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(change_id)
            .execute(&mut *tx)
            .await?;
        for thread in threads {
            sqlx::query(
                "INSERT INTO brief_threads (source_id, thread, brief_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(source)
            .bind(thread)
            .bind(brief_id)
            .execute(&mut *tx)
            .await?;
        }
        append(
            &mut tx,
            &NewAudit::new(
                "system",
                "brief.updated",
                "brief",
                brief_id,
                serde_json::json!({"change": change_id, "update": detail}),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every brief matching the filter, newest first (never silently truncated).
    pub async fn briefs(&self, f: &BriefFilter) -> Result<Vec<BriefRecord>, StoreError> {
        self.query_briefs(f, false).await
    }

    /// [`Store::briefs`] with each brief's body, in the same query (pages that show facts and
    /// what breaks for every row).
    pub async fn briefs_with_bodies(&self, f: &BriefFilter) -> Result<Vec<BriefRecord>, StoreError> {
        self.query_briefs(f, true).await
    }

    async fn query_briefs(&self, f: &BriefFilter, with_body: bool) -> Result<Vec<BriefRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM briefs WHERE ($1 IS NULL OR source_id = $1) AND ($2 IS NULL OR provider = $2)
               AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR severity = $4) AND ($5 IS NULL OR material = $5)
               AND ($6 IS NULL OR category = $6) AND ($7 IS NULL OR assignee = $7) AND ($8 IS NULL OR owner = $8)
               AND ($9 IS NULL OR created_at >= $9)
             ORDER BY id DESC",
        )
        .bind(&f.source)
        .bind(&f.provider)
        .bind(f.status.map(BriefStatus::as_str))
        .bind(f.severity.map(Severity::as_str))
        .bind(f.material.map(|m| m as i64))
        .bind(&f.category)
        .bind(&f.assignee)
        .bind(&f.owner)
        .bind(f.since.map(to_millis))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| brief_from_row(r, with_body)).collect()
    }

    pub async fn brief(&self, id: i64) -> Result<Option<BriefRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM briefs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(|r| brief_from_row(r, true)).transpose()
    }
}

/// Whether a change was triaged already: `Some(brief id)` (0 when it went on a timeline).
async fn already_triaged(conn: &mut sqlx::AnyConnection, change_id: i64) -> Result<Option<i64>, StoreError> {
    let triaged: Option<i64> = sqlx::query("SELECT triaged_at FROM changes WHERE id = $1")
        .bind(change_id)
        .fetch_optional(&mut *conn)
        .await?
        .and_then(|r| r.get("triaged_at"));
    if triaged.is_none() {
        return Ok(None);
    }
    let brief: Option<i64> = sqlx::query("SELECT id FROM briefs WHERE change_id = $1")
        .bind(change_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.get("id"));
    Ok(Some(brief.unwrap_or(0)))
}

/// One step of a brief's lifecycle.
#[derive(Debug, Clone, Serialize)]
pub struct BriefEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error("no brief {0}")]
    NotFound(i64),
    /// The lifecycle refused the step (not allowed from here, a dismissal without a reason).
    #[error(transparent)]
    Refused(#[from] BriefLifecycleError),
    #[error("a comment needs some text")]
    EmptyComment,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Moves a brief along its lifecycle, recording who and when (and why, for a dismissal).
    pub async fn transition_brief(
        &self,
        id: i64,
        to: BriefStatus,
        actor: &str,
        detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<BriefRecord, TransitionError> {
        if to == BriefStatus::Dismissed {
            // Refused before any work: a dismissal needs its reason whatever the status.
            lifecycle::transition(BriefStatus::New, to, detail)?;
        }
        let mut tx = self.begin_write().await?;
        let from: String = sqlx::query("SELECT status FROM briefs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .ok_or(TransitionError::NotFound(id))?
            .get("status");
        let from: BriefStatus = typed(from)?;
        lifecycle::transition(from, to, detail)?;
        sqlx::query("UPDATE briefs SET status = $1 WHERE id = $2")
            .bind(to.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        sqlx::query(
            "INSERT INTO brief_events (brief_id, at, actor, action, from_status, to_status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(to_millis(now))
        .bind(actor)
        .bind(to.as_str())
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(detail)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        append(
            &mut tx,
            &NewAudit::new(
                actor,
                &format!("brief.{to}"),
                "brief",
                id,
                serde_json::json!({"from": from, "to": to, "reason": detail}),
            ),
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.brief(id).await?.ok_or(TransitionError::NotFound(id))
    }

    /// Raises (or lowers) a brief's severity, recorded as an event by `actor` (`system` for the
    /// daily deadline check).
    /// `only_up`: the clock only raises (a person may lower).
    pub async fn set_brief_severity(
        &self,
        id: i64,
        severity: Severity,
        only_up: bool,
        actor: &str,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let old: Option<String> = sqlx::query("SELECT severity FROM briefs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get("severity"));
        let Some(old) = old else { return Ok(false) };
        let old: Severity = typed(old)?;
        let Some(severity) = lifecycle::reseverity(old, severity, only_up) else {
            return Ok(false);
        };
        sqlx::query("UPDATE briefs SET severity = $1 WHERE id = $2")
            .bind(severity.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO brief_events (brief_id, at, actor, action, detail) VALUES ($1, $2, $3, 'severity', $4)",
        )
        .bind(id)
        .bind(to_millis(now))
        .bind(actor)
        .bind(format!("{old} → {severity}: {why}"))
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &NewAudit::new(
                actor,
                "brief.severity",
                "brief",
                id,
                serde_json::json!({"from": old, "to": severity, "why": why}),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Assigns a brief to someone (or, with `None`, unassigns it).
    pub async fn assign_brief(
        &self,
        id: i64,
        assignee: Option<&str>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<BriefRecord, TransitionError> {
        let mut tx = self.begin_write().await?;
        let old: Option<String> = sqlx::query("SELECT assignee FROM briefs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .ok_or(TransitionError::NotFound(id))?
            .get("assignee");
        sqlx::query("UPDATE briefs SET assignee = $1 WHERE id = $2")
            .bind(assignee)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        self.brief_note(&mut tx, id, actor, "assigned", assignee.unwrap_or("nobody"), now)
            .await?;
        append(
            &mut tx,
            &NewAudit::new(
                actor,
                "brief.assigned",
                "brief",
                id,
                serde_json::json!({"from": old, "to": assignee}),
            ),
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.brief(id).await?.ok_or(TransitionError::NotFound(id))
    }

    /// Adds a comment to a brief's history.
    pub async fn comment_brief(
        &self,
        id: i64,
        text: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<BriefRecord, TransitionError> {
        if text.trim().is_empty() {
            return Err(TransitionError::EmptyComment);
        }
        let mut tx = self.begin_write().await?;
        if sqlx::query("SELECT 1 FROM briefs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .is_none()
        {
            return Err(TransitionError::NotFound(id));
        }
        self.brief_note(&mut tx, id, actor, "comment", text, now).await?;
        append(
            &mut tx,
            &NewAudit::new(actor, "brief.commented", "brief", id, serde_json::json!({"text": text})),
            now,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.brief(id).await?.ok_or(TransitionError::NotFound(id))
    }

    async fn brief_note(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: i64,
        actor: &str,
        action: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO brief_events (brief_id, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(to_millis(now))
            .bind(actor)
            .bind(action)
            .bind(detail)
            .execute(conn)
            .await?;
        Ok(())
    }

    pub async fn brief_events(&self, id: i64) -> Result<Vec<BriefEvent>, StoreError> {
        let rows = sqlx::query("SELECT * FROM brief_events WHERE brief_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|r| BriefEvent {
                at: from_millis(r.get("at")),
                actor: r.get("actor"),
                action: r.get("action"),
                from_status: r.get("from_status"),
                to_status: r.get("to_status"),
                detail: r.get("detail"),
            })
            .collect())
    }

    /// Open briefs (not dismissed or closed), with their bodies, for the daily deadline check.
    pub async fn open_briefs(&self) -> Result<Vec<BriefRecord>, StoreError> {
        let open: Vec<&str> = BriefStatus::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(BriefStatus::as_str)
            .collect();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM briefs WHERE status IN {} AND material = 1",
            self.in_json_texts()
        )))
        .bind(serde_json::to_string(&open).expect("statuses serialize"))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| brief_from_row(r, true)).collect()
    }
}
