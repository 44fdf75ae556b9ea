//! Notification deliveries and the per-sink cursors into the audit log: the SQLite side.

use super::{Store, StoreError, from_millis, to_millis};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

/// One delivery of one event to one sink: the delivery log.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub sink: String,
    pub audit_id: i64,
    pub event: String,
    pub msg_id: String,
    #[serde(skip)]
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A delivery to queue.
pub struct NewDelivery {
    pub audit_id: i64,
    pub event: String,
    pub msg_id: String,
    pub payload: String,
}

fn from_row(r: &sqlx::sqlite::SqliteRow) -> Delivery {
    Delivery {
        id: r.get("id"),
        sink: r.get("sink"),
        audit_id: r.get("audit_id"),
        event: r.get("event"),
        msg_id: r.get("msg_id"),
        payload: r.get("payload"),
        status: r.get("status"),
        attempts: r.get("attempts"),
        next_attempt_at: from_millis(r.get("next_attempt_at")),
        last_status: r.get("last_status"),
        last_error: r.get("last_error"),
        created_at: from_millis(r.get("created_at")),
        delivered_at: r.get::<Option<i64>, _>("delivered_at").map(from_millis),
    }
}

impl Store {
    /// Where a sink has read the audit log up to; `None` for a sink never seen.
    pub async fn notify_cursor(&self, sink: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query("SELECT audit_id FROM notify_cursors WHERE sink = ?")
            .bind(sink)
            .fetch_optional(self.pool())
            .await?
            .map(|r| r.get("audit_id")))
    }

    /// The id of the newest audit event (0 when the log is empty).
    pub async fn audit_head_id(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COALESCE(MAX(id), 0) AS id FROM audit_events")
            .fetch_one(self.pool())
            .await?
            .get("id"))
    }

    /// Queues deliveries and moves the sink's cursor to `cursor`, together.
    pub async fn enqueue_deliveries(&self, sink: &str, cursor: i64, new: &[NewDelivery]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let now = to_millis(self.now());
        for d in new {
            sqlx::query(
                "INSERT OR IGNORE INTO notify_deliveries (sink, audit_id, event, msg_id, payload, status, next_attempt_at, created_at)
                 VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            )
            .bind(sink)
            .bind(d.audit_id)
            .bind(&d.event)
            .bind(&d.msg_id)
            .bind(&d.payload)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO notify_cursors (sink, audit_id) VALUES (?, ?)
             ON CONFLICT (sink) DO UPDATE SET audit_id = MAX(audit_id, excluded.audit_id)",
        )
        .bind(sink)
        .bind(cursor)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Pending deliveries whose time has come, oldest first.
    pub async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        sinks: &[&str],
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM notify_deliveries WHERE status = 'pending' AND next_attempt_at <= ?
                AND sink IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?",
        )
        .bind(to_millis(now))
        .bind(serde_json::to_string(sinks).expect("names serialize"))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// Records an attempt: `delivered`, `pending` again at `next` (a retryable failure), or
    /// `failed` for good.
    pub async fn record_attempt(
        &self,
        id: i64,
        status: &str,
        http_status: Option<u16>,
        error: Option<&str>,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let now = to_millis(self.now());
        sqlx::query(
            "UPDATE notify_deliveries SET status = ?, attempts = attempts + 1, last_status = ?, last_error = ?,
                    next_attempt_at = COALESCE(?, next_attempt_at),
                    delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END
              WHERE id = ?",
        )
        .bind(status)
        .bind(http_status.map(i64::from))
        .bind(error)
        .bind(next.map(to_millis))
        .bind(status)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The delivery log, newest first.
    pub async fn deliveries(
        &self,
        sink: Option<&str>,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM notify_deliveries WHERE (?1 IS NULL OR sink = ?1) AND (?2 IS NULL OR status = ?2)
             ORDER BY id DESC LIMIT ?3",
        )
        .bind(sink)
        .bind(status)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(from_row).collect())
    }
}
