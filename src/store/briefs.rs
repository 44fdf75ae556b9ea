//! Briefs: the SQLite side.

use super::{Store, StoreError, from_millis, to_millis};
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
    pub severity: String,
    pub title: String,
    pub status: String,
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
    pub severity: &'a str,
    pub title: &'a str,
    pub body: serde_json::Value,
}

/// Filters of `briefs list`; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct BriefFilter {
    pub source: Option<String>,
    pub provider: Option<String>,
    pub status: Option<String>,
    pub severity: Option<String>,
    pub material: Option<bool>,
}

fn brief_from_row(r: &sqlx::sqlite::SqliteRow, with_body: bool) -> BriefRecord {
    BriefRecord {
        id: r.get("id"),
        change: r.get("change_id"),
        source: r.get("source_id"),
        provider: r.get("provider"),
        owner: r.get("owner"),
        material: r.get::<i64, _>("material") != 0,
        category: r.get("category"),
        severity: r.get("severity"),
        title: r.get("title"),
        status: r.get("status"),
        created_at: from_millis(r.get("created_at")),
        brief: with_body.then(|| serde_json::from_str(&r.get::<String, _>("body")).unwrap_or_default()),
    }
}

impl Store {
    /// Stores a brief and marks its change triaged, together.
    pub async fn insert_brief(&self, b: NewBrief<'_>) -> Result<i64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO briefs (change_id, source_id, provider, owner, material, category, severity, title, body, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(b.change_id)
        .bind(b.source)
        .bind(b.provider)
        .bind(b.owner)
        .bind(b.material as i64)
        .bind(b.category)
        .bind(b.severity)
        .bind(b.title)
        .bind(b.body.to_string())
        .bind(to_millis(Utc::now()))
        .fetch_one(&mut *tx)
        .await?
        .get("id");
        sqlx::query("UPDATE changes SET triaged_at = ? WHERE id = ?")
            .bind(to_millis(Utc::now()))
            .bind(b.change_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every brief matching the filter, newest first (never silently truncated).
    pub async fn briefs(&self, f: &BriefFilter) -> Result<Vec<BriefRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM briefs WHERE (?1 IS NULL OR source_id = ?1) AND (?2 IS NULL OR provider = ?2)
               AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR severity = ?4) AND (?5 IS NULL OR material = ?5)
             ORDER BY id DESC",
        )
        .bind(&f.source)
        .bind(&f.provider)
        .bind(&f.status)
        .bind(&f.severity)
        .bind(f.material.map(|m| m as i64))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|r| brief_from_row(r, false)).collect())
    }

    pub async fn brief(&self, id: i64) -> Result<Option<BriefRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM briefs WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(|r| brief_from_row(r, true)))
    }
}
