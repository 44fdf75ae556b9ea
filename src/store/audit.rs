//! The audit log: the SQLite side. Events are appended inside the transaction of the state change
//! they record (`append`), so a change and its audit event commit together or not at all. Every
//! such transaction starts with `BEGIN IMMEDIATE`: reading the chain's head and appending after it
//! must not interleave with another writer.

use super::{Store, StoreError, from_millis, to_millis};
use crate::audit::{AuditEvent, GENESIS, event_hash};
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    pub payload: serde_json::Value,
}

impl<'a> NewAudit<'a> {
    pub fn new(
        actor: &'a str,
        action: &'a str,
        object_type: &'a str,
        object_id: impl ToString,
        payload: serde_json::Value,
    ) -> NewAudit<'a> {
        NewAudit {
            actor,
            action,
            object_type,
            object_id: object_id.to_string(),
            payload,
        }
    }
}

/// Query of `GET /api/v1/audit`; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub actor: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// Exact action, or a prefix ending in `.` (`decision.`).
    pub action: Option<String>,
    /// Events with an id above this (paging).
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// Appends one event after the chain's current head, on the caller's transaction.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    e: &NewAudit<'_>,
    at: DateTime<Utc>,
) -> Result<AuditEvent, StoreError> {
    let prev: String = sqlx::query("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.get("hash"))
        .unwrap_or_else(|| GENESIS.to_owned());
    let at = from_millis(to_millis(at));
    let payload_text = e.payload.to_string();
    let hash = event_hash(
        &prev,
        to_millis(at),
        e.actor,
        e.action,
        e.object_type,
        &e.object_id,
        &payload_text,
    );
    let id: i64 = sqlx::query(
        "INSERT INTO audit_events (at, actor, action, object_type, object_id, payload, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(to_millis(at))
    .bind(e.actor)
    .bind(e.action)
    .bind(e.object_type)
    .bind(&e.object_id)
    .bind(&payload_text)
    .bind(&prev)
    .bind(&hash)
    .fetch_one(&mut *conn)
    .await?
    .get("id");
    // Other replicas hear of it when this transaction commits (and not at all if it does not).
    if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
        sqlx::query("SELECT 1 AS sent FROM pg_notify($1, $2)")
            .bind(super::backend::PG_EVENTS)
            .bind(format!("{}:{}", e.object_type, e.object_id))
            .execute(&mut *conn)
            .await?;
    }
    Ok(AuditEvent {
        id,
        at,
        actor: e.actor.to_owned(),
        action: e.action.to_owned(),
        object_type: e.object_type.to_owned(),
        object_id: e.object_id.clone(),
        payload: e.payload.clone(),
        payload_text,
        prev_hash: prev,
        hash,
    })
}

fn event_from_row(r: &sqlx::any::AnyRow) -> AuditEvent {
    let payload_text: String = r.get("payload");
    AuditEvent {
        id: r.get("id"),
        at: from_millis(r.get("at")),
        actor: r.get("actor"),
        action: r.get("action"),
        object_type: r.get("object_type"),
        object_id: r.get("object_id"),
        payload: serde_json::from_str(&payload_text).unwrap_or(serde_json::Value::Null),
        payload_text,
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    }
}

impl Store {
    /// Records an event that is not part of another write (a reload, a token made by the CLI).
    pub async fn audit(&self, e: NewAudit<'_>) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin_write().await?;
        let ev = append(&mut tx, &e, self.now()).await?;
        tx.commit().await?;
        Ok(ev)
    }

    /// Events matching the filter, oldest first.
    pub async fn audit_events(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let (action_exact, action_prefix) = match f.action.as_deref() {
            Some(a) if a.ends_with('.') => (None, Some(format!("{a}%"))),
            Some(a) => (Some(a.to_owned()), None),
            None => (None, None),
        };
        let rows = sqlx::query(
            "SELECT * FROM audit_events
              WHERE ($1 IS NULL OR at >= $1) AND ($2 IS NULL OR at < $2) AND ($3 IS NULL OR actor = $3)
                AND ($4 IS NULL OR object_type = $4) AND ($5 IS NULL OR object_id = $5)
                AND ($6 IS NULL OR action = $6) AND ($7 IS NULL OR action LIKE $7) AND id > $8
              ORDER BY id LIMIT $9",
        )
        .bind(f.since.map(to_millis))
        .bind(f.until.map(to_millis))
        .bind(&f.actor)
        .bind(&f.object_type)
        .bind(&f.object_id)
        .bind(action_exact)
        .bind(action_prefix)
        .bind(f.after_id.unwrap_or(0))
        .bind(if f.limit > 0 { f.limit } else { 1000 })
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(event_from_row).collect())
    }

    /// A page of the whole chain in order, for verification.
    pub async fn audit_page(&self, after_id: i64, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(event_from_row).collect())
    }

    /// The event just before `id` in the chain (its hash anchors a partial verification).
    pub async fn audit_before(&self, id: i64) -> Result<Option<AuditEvent>, StoreError> {
        let row = sqlx::query("SELECT * FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT 1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(event_from_row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed(DateTime<Utc>);
    impl crate::domain::Clock for Fixed {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    #[tokio::test]
    async fn the_stores_timestamps_come_from_the_clock_it_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let db = crate::store::TestDb::new(dir.path());
        let store = Store::open_with_clock(&db.url, std::sync::Arc::new(Fixed(at)))
            .await
            .unwrap();
        let e = store
            .audit(NewAudit::new(
                "alice",
                "flags.reloaded",
                "flags",
                "flags",
                serde_json::json!({}),
            ))
            .await
            .unwrap();
        assert_eq!(e.at, at);
        let t = store
            .create_token("ci", "0".repeat(64).as_str(), "sbx_0000", &[], "production", "alice")
            .await
            .unwrap();
        assert_eq!(t.created_at, at);
        assert_eq!(store.tokens().await.unwrap()[0].created_at, at);
    }
}
