//! Reads that only evidence bundles need: the neighbourhood of a snapshot, the change behind a
//! version, the brief of a change, and the size of a stretch of the audit chain.

use super::{ChangeRecord, SnapshotMeta, Store, StoreError};
use sqlx::Row;

impl Store {
    /// Up to `n` snapshots of `source` on each side of snapshot `id`, and `id` itself, oldest first.
    pub async fn snapshots_around(&self, source: &str, id: i64, n: i64) -> Result<Vec<SnapshotMeta>, StoreError> {
        let mut before = self.snapshots_before(source, id + 1, n + 1).await?;
        before.reverse();
        let after = sqlx::query("SELECT id FROM snapshots WHERE source_id = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(source)
            .bind(id)
            .bind(n)
            .fetch_all(self.pool())
            .await?;
        for r in after {
            if let Some(s) = self.snapshot(r.get("id")).await? {
                before.push(s);
            }
        }
        Ok(before)
    }

    /// Snapshots of `source` with an id below `below`, newest first, at most `limit`.
    async fn snapshots_before(&self, source: &str, below: i64, limit: i64) -> Result<Vec<SnapshotMeta>, StoreError> {
        let ids = sqlx::query("SELECT id FROM snapshots WHERE source_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
            .bind(source)
            .bind(below)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for r in ids {
            if let Some(s) = self.snapshot(r.get("id")).await? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// The latest change of `source` whose new version is snapshot `id` or an earlier one, with
    /// its diff. The caller decides whether it still describes snapshot `id` (a later re-read
    /// under new rules, or a flap back to an old version, stores a snapshot without a change).
    pub async fn latest_change_up_to(&self, source: &str, id: i64) -> Result<Option<ChangeRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM changes WHERE source_id = $1 AND after_snapshot <= $2
             ORDER BY after_snapshot DESC, id DESC LIMIT 1",
        )
        .bind(source)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => self.change(r.get("id")).await,
            None => Ok(None),
        }
    }

    /// The id of the brief written for a change, if triage wrote one.
    pub async fn brief_id_for_change(&self, change_id: i64) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query("SELECT id FROM briefs WHERE change_id = $1 ORDER BY id LIMIT 1")
                .bind(change_id)
                .fetch_optional(self.pool())
                .await?
                .map(|r| r.get("id")),
        )
    }

    /// How many audit events have an id in `first..=last` (a bundle copies that many).
    pub async fn audit_count_between(&self, first: i64, last: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE id BETWEEN $1 AND $2")
                .bind(first)
                .bind(last)
                .fetch_one(self.pool())
                .await?
                .get("n"),
        )
    }
}
