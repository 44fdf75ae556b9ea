//! Web sessions: the SQLite side.

use super::{Store, StoreError, from_millis, to_millis};
use chrono::{DateTime, Utc};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct WebSession {
    pub token_id: Option<i64>,
    pub name: String,
    pub scopes: Vec<String>,
    pub env: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    pub async fn create_web_session(&self, id_sha256: &str, s: &WebSession) -> Result<(), StoreError> {
        // Sessions past their time are forgotten whenever a new one starts.
        sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
            .bind(to_millis(self.now()))
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO web_sessions (id_sha256, token_id, name, scopes, env, csrf, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id_sha256)
        .bind(s.token_id)
        .bind(&s.name)
        .bind(s.scopes.join(","))
        .bind(&s.env)
        .bind(&s.csrf)
        .bind(to_millis(self.now()))
        .bind(to_millis(s.expires_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session with this id, if it has not expired.
    pub async fn web_session(&self, id_sha256: &str) -> Result<Option<WebSession>, StoreError> {
        let row = sqlx::query("SELECT * FROM web_sessions WHERE id_sha256 = $1 AND expires_at > $2")
            .bind(id_sha256)
            .bind(to_millis(self.now()))
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| WebSession {
            token_id: r.get("token_id"),
            name: r.get("name"),
            scopes: r
                .get::<String, _>("scopes")
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            env: r.get("env"),
            csrf: r.get("csrf"),
            expires_at: from_millis(r.get("expires_at")),
        }))
    }

    /// Ends a session (sign-out), and forgets expired ones.
    pub async fn delete_web_session(&self, id_sha256: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM web_sessions WHERE id_sha256 = $1 OR expires_at <= $2")
            .bind(id_sha256)
            .bind(to_millis(self.now()))
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
