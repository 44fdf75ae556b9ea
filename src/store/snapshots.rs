//! Snapshots, changes, fetch attempts and source health: what one poll writes, and the triage
//! outbox (changes not triaged yet).

use super::*;
use crate::fetch::Validators;
use sqlx::Row;
use sqlx::any::AnyRow;

fn snapshot_from_row(r: &AnyRow) -> SnapshotMeta {
    let headers: String = r.get("headers");
    SnapshotMeta {
        id: r.get("id"),
        source: r.get("source_id"),
        fetched_at: from_millis(r.get("fetched_at")),
        url: r.get("url"),
        http_status: r.get::<Option<i64>, _>("http_status").map(|s| s as u16),
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        raw_sha256: r.get("raw_sha256"),
        text_sha256: r.get("text_sha256"),
        rules_hash: r.get("rules_hash"),
        origin: r.get("origin"),
    }
}

fn change_from_row(r: &AnyRow, with_diff: bool) -> ChangeRecord {
    let kind: String = r.get("kind");
    ChangeRecord {
        id: r.get("id"),
        source: r.get("source_id"),
        before: r.get("before_snapshot"),
        after: r.get("after_snapshot"),
        detected_at: from_millis(r.get("detected_at")),
        kind: ChangeKind::parse(&kind),
        diff: if with_diff {
            let d: String = r.get("diff");
            serde_json::from_str(&d).ok()
        } else {
            None
        },
    }
}

fn state_from_row(r: &AnyRow) -> SourceState {
    let t = |c: &str| r.get::<Option<i64>, _>(c).map(from_millis);
    SourceState {
        source: r.get("source_id"),
        etag: r.get("etag"),
        last_modified: r.get("last_modified"),
        last_attempt: t("last_attempt"),
        last_success: t("last_success"),
        last_change: t("last_change"),
        consecutive_failures: r.get::<i64, _>("consecutive_failures") as u32,
        last_error_class: r.get("last_error_class"),
        last_error: r.get("last_error"),
        next_run: t("next_run"),
        source_url: r.get("source_url"),
        not_before: t("not_before"),
    }
}

impl Store {
    pub async fn state(&self, source: &str) -> Result<Option<SourceState>, StoreError> {
        let row = sqlx::query("SELECT * FROM source_state WHERE source_id = $1")
            .bind(source)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(state_from_row))
    }

    pub async fn states(&self) -> Result<Vec<SourceState>, StoreError> {
        let rows = sqlx::query("SELECT * FROM source_state ORDER BY source_id")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(state_from_row).collect())
    }

    pub async fn set_next_run(&self, source: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO source_state (source_id, next_run) VALUES ($1, $2)
             ON CONFLICT(source_id) DO UPDATE SET next_run = excluded.next_run",
        )
        .bind(source)
        .bind(to_millis(at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn latest_snapshot(&self, source: &str) -> Result<Option<SnapshotMeta>, StoreError> {
        let row = sqlx::query(
            "SELECT id, source_id, fetched_at, url, http_status, headers, raw_sha256, text_sha256, rules_hash, origin
             FROM snapshots WHERE source_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(source)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(snapshot_from_row))
    }

    /// The snapshot in effect at `at`: the last one fetched at or before it.
    pub async fn snapshot_at(&self, source: &str, at: DateTime<Utc>) -> Result<Option<SnapshotMeta>, StoreError> {
        let row = sqlx::query(
            "SELECT id, source_id, fetched_at, url, http_status, headers, raw_sha256, text_sha256, rules_hash, origin
             FROM snapshots WHERE source_id = $1 AND fetched_at <= $2 ORDER BY fetched_at DESC, id DESC LIMIT 1",
        )
        .bind(source)
        .bind(to_millis(at))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(snapshot_from_row))
    }

    pub async fn snapshot(&self, id: i64) -> Result<Option<SnapshotMeta>, StoreError> {
        let row = sqlx::query(
            "SELECT id, source_id, fetched_at, url, http_status, headers, raw_sha256, text_sha256, rules_hash, origin
             FROM snapshots WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(snapshot_from_row))
    }

    /// Snapshots of a source, newest first.
    pub async fn snapshots(&self, source: &str, limit: i64) -> Result<Vec<SnapshotMeta>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, source_id, fetched_at, url, http_status, headers, raw_sha256, text_sha256, rules_hash, origin
             FROM snapshots WHERE source_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(source)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(snapshot_from_row).collect())
    }

    /// The version of a source that was last reported: the `after` of its newest change, or its
    /// first snapshot when nothing changed yet. A later snapshot that differs from it was stored
    /// as a flip (a return to an older version) and not reported.
    pub async fn reported_snapshot(&self, source: &str) -> Result<Option<SnapshotMeta>, StoreError> {
        let row = sqlx::query(
            "SELECT id, source_id, fetched_at, url, http_status, headers, raw_sha256, text_sha256, rules_hash, origin
             FROM snapshots WHERE id = COALESCE(
                 (SELECT after_snapshot FROM changes WHERE source_id = $1 ORDER BY id DESC LIMIT 1),
                 (SELECT MIN(id) FROM snapshots WHERE source_id = $1))",
        )
        .bind(source)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(snapshot_from_row))
    }

    /// The text hashes of the last `n` distinct versions under the given rules (the flapping rule).
    pub async fn recent_text_hashes(&self, source: &str, rules_hash: &str, n: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT text_sha256 FROM snapshots WHERE source_id = $1 AND rules_hash = $2
             GROUP BY text_sha256 ORDER BY MAX(id) DESC LIMIT $3",
        )
        .bind(source)
        .bind(rules_hash)
        .bind(n)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|r| r.get("text_sha256")).collect())
    }

    /// A blob's bytes, checked against its hash.
    pub async fn blob(&self, sha: &str) -> Result<Vec<u8>, StoreError> {
        let row = sqlx::query("SELECT data FROM blobs WHERE sha256 = $1")
            .bind(sha)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::MissingBlob(sha.to_owned()))?;
        decompress(sha, &row.get::<Vec<u8>, _>("data"))
    }

    pub async fn blob_text(&self, sha: &str) -> Result<String, StoreError> {
        Ok(String::from_utf8_lossy(&self.blob(sha).await?).into_owned())
    }

    /// Changes, oldest first; for one source or all, after an id, at most `limit`.
    pub async fn changes(
        &self,
        source: Option<&str>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, source_id, before_snapshot, after_snapshot, detected_at, kind FROM changes
             WHERE ($1 IS NULL OR source_id = $1) AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(source)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|r| change_from_row(r, false)).collect())
    }

    pub async fn change(&self, id: i64) -> Result<Option<ChangeRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, source_id, before_snapshot, after_snapshot, detected_at, kind, diff FROM changes WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(|r| change_from_row(r, true)))
    }

    /// Claims changes the triage stage has not read yet, oldest first, until `now + lease`:
    /// another brief writer (another replica) does not take them meanwhile, and one that dies
    /// holding a claim leaves them to be claimed again when the lease runs out. A change is not
    /// handed out while an earlier change of its source is claimed by someone else, so each
    /// source's changes are triaged in order (an incident's updates follow its brief). The claim
    /// runs under the writer's lock, which is what keeps that rule true across replicas.
    pub async fn claim_untriaged_changes(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "UPDATE changes SET claimed_until = $2 WHERE id IN (
                 SELECT c.id FROM changes c
                  WHERE c.triaged_at IS NULL AND (c.claimed_until IS NULL OR c.claimed_until <= $1)
                    AND NOT EXISTS (SELECT 1 FROM changes p WHERE p.source_id = c.source_id AND p.id < c.id
                                       AND p.triaged_at IS NULL AND p.claimed_until > $1)
                  ORDER BY c.id LIMIT $3)
             RETURNING id, source_id, before_snapshot, after_snapshot, detected_at, kind, diff",
        )
        .bind(to_millis(now))
        .bind(to_millis(now + lease))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut out: Vec<ChangeRecord> = rows.iter().map(|r| change_from_row(r, true)).collect();
        out.sort_by_key(|c| c.id);
        Ok(out)
    }

    /// Gives claimed changes back before their lease runs out (triage failed on one of them).
    pub async fn release_change_claims(&self, ids: &[i64]) -> Result<(), StoreError> {
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE changes SET claimed_until = NULL WHERE triaged_at IS NULL AND CAST(id AS TEXT) IN {}",
            self.in_json_texts()
        )))
        .bind(serde_json::to_string(&ids).expect("ids serialize"))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn mark_triaged(&self, change_id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE changes SET triaged_at = $1 WHERE id = $2")
            .bind(to_millis(at))
            .bind(change_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Recent fetch attempts of a source, newest first.
    pub async fn attempts(&self, source: &str, limit: i64) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT started_at, duration_ms, url, http_status, bytes, error_class, error FROM fetch_attempts
             WHERE source_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(source)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| AttemptRecord {
                started_at: from_millis(r.get("started_at")),
                duration_ms: r.get::<i64, _>("duration_ms") as u64,
                url: r.get("url"),
                status: r.get::<Option<i64>, _>("http_status").map(|s| s as u16),
                bytes: r.get::<i64, _>("bytes") as u64,
                error_class: r.get("error_class"),
                error: r.get("error"),
            })
            .collect())
    }

    /// Writes everything one poll produced in one transaction.
    pub async fn commit_poll(&self, w: PollWrite) -> Result<Committed, StoreError> {
        // IMMEDIATE takes the write lock now, so the check below and the inserts are atomic even
        // against another process (a `check` beside a running `serve`).
        let mut tx = self.begin_write().await?;
        if !w.snapshots.is_empty() {
            let latest: Option<i64> = sqlx::query("SELECT MAX(id) AS id FROM snapshots WHERE source_id = $1")
                .bind(&w.source)
                .fetch_one(&mut *tx)
                .await?
                .get("id");
            if latest != w.expected_latest {
                return Err(StoreError::Conflict);
            }
        }
        for a in &w.attempts {
            sqlx::query(
                "INSERT INTO fetch_attempts (source_id, started_at, duration_ms, url, http_status, bytes, error_class, error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&w.source)
            .bind(to_millis(a.started_at))
            .bind(a.duration_ms as i64)
            .bind(&w.url)
            .bind(a.status.map(i64::from))
            .bind(a.bytes as i64)
            .bind(a.error_class.map(|c| c.as_str()))
            .bind(&a.error)
            .execute(&mut *tx)
            .await?;
        }

        let mut committed = Committed::default();
        for s in &w.snapshots {
            for blob in [&s.raw, &s.text] {
                if let Some(bytes) = &blob.bytes {
                    sqlx::query("INSERT INTO blobs (sha256, size, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                        .bind(&blob.sha256)
                        .bind(bytes.len() as i64)
                        .bind(compress(bytes))
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let headers = serde_json::to_string(&s.headers).expect("headers serialize");
            let id: i64 = sqlx::query(
                "INSERT INTO snapshots (source_id, fetched_at, url, http_status, headers, raw_sha256, text_sha256, rules_hash, origin)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(&w.source)
            .bind(to_millis(s.fetched_at))
            .bind(&s.url)
            .bind(s.http_status.map(i64::from))
            .bind(headers)
            .bind(&s.raw.sha256)
            .bind(&s.text.sha256)
            .bind(&s.rules_hash)
            .bind(s.origin.as_str())
            .fetch_one(&mut *tx)
            .await?
            .get("id");
            committed.snapshots.push(id);
        }
        let resolve = |r: SnapRef| match r {
            SnapRef::Stored(id) => id,
            SnapRef::New(i) => committed.snapshots[i],
        };
        let mut changes = Vec::new();
        for c in &w.changes {
            let (before, after) = (resolve(c.before), resolve(c.after));
            // A change between two stored versions (a flip that stayed) may be confirmed by two
            // pollers at once (`check` beside `serve`): the second finds it recorded.
            if matches!((c.before, c.after), (SnapRef::Stored(_), SnapRef::Stored(_)))
                && sqlx::query(
                    "SELECT 1 FROM changes WHERE source_id = $1 AND before_snapshot = $2 AND after_snapshot = $3",
                )
                .bind(&w.source)
                .bind(before)
                .bind(after)
                .fetch_optional(&mut *tx)
                .await?
                .is_some()
            {
                continue;
            }
            let id: i64 = sqlx::query(
                "INSERT INTO changes (source_id, before_snapshot, after_snapshot, detected_at, kind, diff)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&w.source)
            .bind(before)
            .bind(after)
            .bind(to_millis(w.at))
            .bind(c.kind.as_str())
            .bind(c.diff.to_string())
            .fetch_one(&mut *tx)
            .await?
            .get("id");
            changes.push(ChangeRecord {
                id,
                source: w.source.clone(),
                before,
                after,
                detected_at: w.at,
                kind: c.kind,
                diff: Some(c.diff.clone()),
            });
        }
        committed.changes = changes;

        let at = to_millis(w.at);
        match &w.result {
            PollResult::Success { validators, changed } => {
                let Validators { etag, last_modified } = validators;
                sqlx::query(
                    "INSERT INTO source_state (source_id, etag, last_modified, last_attempt, last_success, last_change,
                         consecutive_failures, last_error_class, last_error, source_url, not_before)
                     VALUES ($1, $2, $3, $4, $4, CASE WHEN $5 THEN $4 END, 0, NULL, NULL, $6, NULL)
                     ON CONFLICT(source_id) DO UPDATE SET etag = $2, last_modified = $3, last_attempt = $4,
                         last_success = $4, last_change = CASE WHEN $5 THEN $4 ELSE source_state.last_change END,
                         consecutive_failures = 0, last_error_class = NULL, last_error = NULL,
                         source_url = $6, not_before = NULL",
                )
                .bind(&w.source)
                .bind(etag)
                .bind(last_modified)
                .bind(at)
                .bind(*changed)
                .bind(&w.url)
                .execute(&mut *tx)
                .await?;
            }
            PollResult::NotModified => {
                sqlx::query(
                    "INSERT INTO source_state (source_id, last_attempt, last_success, consecutive_failures)
                     VALUES ($1, $2, $2, 0)
                     ON CONFLICT(source_id) DO UPDATE SET last_attempt = $2, last_success = $2,
                         consecutive_failures = 0, last_error_class = NULL, last_error = NULL, not_before = NULL",
                )
                .bind(&w.source)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            PollResult::Failure {
                class,
                message,
                not_before,
            } => {
                sqlx::query(
                    "INSERT INTO source_state (source_id, last_attempt, consecutive_failures, last_error_class, last_error,
                         not_before)
                     VALUES ($1, $2, 1, $3, $4, $5)
                     ON CONFLICT(source_id) DO UPDATE SET last_attempt = $2,
                         consecutive_failures = source_state.consecutive_failures + 1, last_error_class = $3, last_error = $4,
                         not_before = $5",
                )
                .bind(&w.source)
                .bind(at)
                .bind(class)
                .bind(message)
                .bind(not_before.map(to_millis))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(committed)
    }
}
