//! API tokens and flag usage: the SQLite side.

use super::audit::{NewAudit, append};
use super::{Store, StoreError, from_millis, to_millis};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

/// A stored token (never the token itself).
#[derive(Debug, Clone, Serialize)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    #[serde(skip)]
    pub token_sha256: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub env: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One row of evaluation telemetry to add.
#[derive(Debug, Clone)]
pub struct UsageDelta {
    pub flag: String,
    pub variant: String,
    pub env: String,
    pub token_name: String,
    pub count: u64,
    pub last_seen: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UsageRow {
    pub flag: String,
    pub variant: String,
    pub env: String,
    pub app: String,
    pub count: u64,
    pub last_seen: DateTime<Utc>,
}

fn token_from_row(r: &sqlx::any::AnyRow) -> TokenRecord {
    let scopes: String = r.get("scopes");
    TokenRecord {
        id: r.get("id"),
        name: r.get("name"),
        token_sha256: r.get("token_sha256"),
        prefix: r.get("prefix"),
        scopes: scopes.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        env: r.get("env"),
        created_at: from_millis(r.get("created_at")),
        revoked_at: r.get::<Option<i64>, _>("revoked_at").map(from_millis),
    }
}

impl Store {
    /// Stores a new token's hash. Fails when an active token already has that name.
    pub async fn create_token(
        &self,
        name: &str,
        token_sha256: &str,
        prefix: &str,
        scopes: &[String],
        env: &str,
        actor: &str,
    ) -> Result<TokenRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO tokens (name, token_sha256, prefix, scopes, env, created_at) VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING *",
        )
        .bind(name)
        .bind(token_sha256)
        .bind(prefix)
        .bind(scopes.join(","))
        .bind(env)
        .bind(to_millis(self.now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate(format!("token `{name}`")),
            _ => StoreError::Db(e),
        })?;
        let t = token_from_row(&row);
        // The audit names the token and its powers, never its secret or hash.
        append(
            &mut tx,
            &NewAudit::new(
                actor,
                "token.created",
                "token",
                t.id,
                serde_json::json!({"name": t.name, "scopes": scopes, "env": env, "prefix": prefix}),
            ),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Every token, revoked ones included, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM tokens ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(token_from_row).collect())
    }

    /// Revokes the active token of that name (or id). Returns whether one was revoked.
    pub async fn revoke_token(&self, name_or_id: &str, actor: &str) -> Result<Option<TokenRecord>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND (name = $2 OR CAST(id AS TEXT) = $2)
             RETURNING *",
        )
        .bind(to_millis(self.now()))
        .bind(name_or_id)
        .fetch_optional(&mut *tx)
        .await?;
        let t = row.as_ref().map(token_from_row);
        if let Some(t) = &t {
            append(
                &mut tx,
                &NewAudit::new(
                    actor,
                    "token.revoked",
                    "token",
                    t.id,
                    serde_json::json!({"name": t.name, "env": t.env}),
                ),
                self.now(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(t)
    }

    /// Adds evaluation counts (one transaction per flush, never per evaluation).
    pub async fn add_usage(&self, deltas: &[UsageDelta]) -> Result<(), StoreError> {
        // In one order on every replica: two flushes touching the same rows then wait for each
        // other instead of deadlocking.
        let mut deltas: Vec<&UsageDelta> = deltas.iter().collect();
        deltas.sort_by(|a, b| {
            (&a.flag, &a.variant, &a.env, &a.token_name).cmp(&(&b.flag, &b.variant, &b.env, &b.token_name))
        });
        let mut tx = self.pool().begin().await?;
        for d in deltas {
            sqlx::query(
                "INSERT INTO flag_usage (flag, variant, env, token_name, count, last_seen) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT(flag, variant, env, token_name) DO UPDATE SET count = flag_usage.count + excluded.count,
                     last_seen = CASE WHEN excluded.last_seen > flag_usage.last_seen
                                 THEN excluded.last_seen ELSE flag_usage.last_seen END",
            )
            .bind(&d.flag)
            .bind(&d.variant)
            .bind(&d.env)
            .bind(&d.token_name)
            .bind(d.count as i64)
            .bind(to_millis(d.last_seen))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Who evaluated a flag (or every flag), most recent first.
    pub async fn usage(&self, flag: Option<&str>) -> Result<Vec<UsageRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT flag, variant, env, token_name, count, last_seen FROM flag_usage
             WHERE ($1 IS NULL OR flag = $1) ORDER BY last_seen DESC",
        )
        .bind(flag)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| UsageRow {
                flag: r.get("flag"),
                variant: r.get("variant"),
                env: r.get("env"),
                app: r.get("token_name"),
                count: r.get::<i64, _>("count") as u64,
                last_seen: from_millis(r.get("last_seen")),
            })
            .collect())
    }
}
