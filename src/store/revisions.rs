//! The global flag revision: one sequence of published flag configurations for every replica.

use super::{Store, StoreError, to_millis};
use chrono::{DateTime, Utc};
use sqlx::Row;

impl Store {
    /// The revision under which the configuration `content` (a hash) is served: the newest
    /// revision when it already holds this content, else a new one, greater than the newest and
    /// at least `at_least` (the caller's own last revision + 1, so that its revisions never go
    /// back). Serialized with every other write, so two replicas publishing the same content at
    /// once get the same revision.
    pub async fn flag_revision_for(&self, content: &str, at_least: u64, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let at_least = i64::try_from(at_least).unwrap_or(i64::MAX);
        let mut tx = self.begin_write().await?;
        let latest = sqlx::query("SELECT revision, content FROM flag_revisions ORDER BY revision DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| (r.get::<i64, _>("revision"), r.get::<String, _>("content")));
        if let Some((rev, c)) = &latest
            && c == content
            && *rev >= at_least
        {
            return Ok(*rev as u64);
        }
        let next = latest.map(|(r, _)| r + 1).unwrap_or(1).max(at_least);
        sqlx::query("INSERT INTO flag_revisions (revision, content, at) VALUES ($1, $2, $3)")
            .bind(next)
            .bind(content)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        // Old entries are of no use once far behind: keep the table small.
        sqlx::query("DELETE FROM flag_revisions WHERE revision < $1")
            .bind(next - 1000)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(next as u64)
    }

    /// The newest flag revision and the content it was given to.
    pub async fn latest_flag_revision(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(
            sqlx::query("SELECT revision, content FROM flag_revisions ORDER BY revision DESC LIMIT 1")
                .fetch_optional(self.pool())
                .await?
                .map(|r| (r.get::<i64, _>("revision") as u64, r.get::<String, _>("content"))),
        )
    }
}
