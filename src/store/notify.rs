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

fn from_row(r: &sqlx::any::AnyRow) -> Delivery {
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
        Ok(sqlx::query("SELECT audit_id FROM notify_cursors WHERE sink = $1")
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
        let mut tx = self.begin_write().await?;
        let now = to_millis(self.now());
        for d in new {
            sqlx::query(
                "INSERT INTO notify_deliveries (sink, audit_id, event, msg_id, payload, status, next_attempt_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) ON CONFLICT DO NOTHING",
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
            "INSERT INTO notify_cursors (sink, audit_id) VALUES ($1, $2)
             ON CONFLICT (sink) DO UPDATE SET audit_id = CASE WHEN excluded.audit_id > notify_cursors.audit_id
                 THEN excluded.audit_id ELSE notify_cursors.audit_id END",
        )
        .bind(sink)
        .bind(cursor)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims pending deliveries whose time has come, oldest first: each is pushed `lease` into
    /// the future as it is handed out, so another replica (or this one's next round) does not
    /// send it again while it is being sent. A replica that dies holding a claim loses nothing:
    /// the delivery is due again when the lease runs out, with the same `webhook-id`.
    pub async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
        sinks: &[&str],
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "UPDATE notify_deliveries SET next_attempt_at = $3
              WHERE id IN (SELECT id FROM notify_deliveries WHERE status = 'pending' AND next_attempt_at <= $2
                              AND sink IN {} ORDER BY id LIMIT $4{})
              RETURNING *",
            self.in_json_texts(),
            self.skip_locked()
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(serde_json::to_string(sinks).expect("names serialize"))
            .bind(to_millis(now))
            .bind(to_millis(now + lease))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let mut out: Vec<Delivery> = rows.iter().map(from_row).collect();
        out.sort_by_key(|d| d.id);
        Ok(out)
    }

    /// Records an attempt on a delivery this replica claimed (`claimed` is the claim's
    /// `next_attempt_at`): `delivered`, `pending` again at `next` (a retryable failure), or
    /// `failed` for good. Returns false, writing nothing, when the claim was lost meanwhile (it
    /// ran out and another replica took the delivery): that replica's outcome stands.
    pub async fn record_attempt(
        &self,
        id: i64,
        claimed: DateTime<Utc>,
        status: &str,
        http_status: Option<u16>,
        error: Option<&str>,
        next: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let now = to_millis(self.now());
        let done = sqlx::query(
            "UPDATE notify_deliveries SET status = $1, attempts = attempts + 1, last_status = $2, last_error = $3,
                    next_attempt_at = COALESCE($4, next_attempt_at),
                    delivered_at = CASE WHEN $5 = 'delivered' THEN $6 ELSE delivered_at END
              WHERE id = $7 AND status = 'pending' AND next_attempt_at = $8",
        )
        .bind(status)
        .bind(http_status.map(i64::from))
        .bind(error)
        .bind(next.map(to_millis))
        .bind(status)
        .bind(now)
        .bind(id)
        .bind(to_millis(claimed))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The delivery log, newest first.
    pub async fn deliveries(
        &self,
        sink: Option<&str>,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM notify_deliveries WHERE ($1 IS NULL OR sink = $1) AND ($2 IS NULL OR status = $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(sink)
        .bind(status)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(from_row).collect())
    }
}
