//! API tokens, scopes and the in-memory token cache that authenticates requests.
//!
//! Tokens are 192 random bits, so a plain SHA-256 is enough to store them (no password hashing
//! needed: there is nothing to brute-force). Requests are checked against an in-memory map of
//! hashes, refreshed from the database every couple of seconds, so flag evaluation never waits on
//! the database and a revoked token stops working within the refresh interval.

use crate::store::{Store, StoreError, TokenRecord};
use arc_swap::ArcSwap;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Scope {
    #[serde(rename = "flags:read")]
    FlagsRead,
    #[serde(rename = "briefs:write")]
    BriefsWrite,
    #[serde(rename = "decisions:propose")]
    DecisionsPropose,
    #[serde(rename = "decisions:approve")]
    DecisionsApprove,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::FlagsRead,
        Scope::BriefsWrite,
        Scope::DecisionsPropose,
        Scope::DecisionsApprove,
        Scope::AuditRead,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::FlagsRead => "flags:read",
            Scope::BriefsWrite => "briefs:write",
            Scope::DecisionsPropose => "decisions:propose",
            Scope::DecisionsApprove => "decisions:approve",
            Scope::AuditRead => "audit:read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of scopes. `admin` grants every scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    pub fn of<I: IntoIterator<Item = Scope>>(it: I) -> Scopes {
        Scopes(it.into_iter().fold(0, |acc, s| acc | s.bit()))
    }

    pub fn allows(self, s: Scope) -> bool {
        self.0 & (s.bit() | Scope::Admin.bit()) != 0
    }

    pub fn names(self) -> Vec<&'static str> {
        Scope::ALL
            .into_iter()
            .filter(|s| self.0 & s.bit() != 0)
            .map(Scope::as_str)
            .collect()
    }
}

/// Who is asking: a token's name (the app), its scopes and the one environment it is bound to.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: i64,
    pub name: Arc<str>,
    pub scopes: Scopes,
    pub env: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unknown scope `{0}` (expected one of: {known})", known = Scope::ALL.map(Scope::as_str).join(", "))]
    UnknownScope(String),
    #[error("unknown environment `{env}` (configured: {known})")]
    UnknownEnv { env: String, known: String },
    #[error("a token needs a name")]
    EmptyName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new token, shown once.
#[derive(Debug, Serialize)]
pub struct NewToken {
    pub name: String,
    pub scopes: Vec<&'static str>,
    pub env: String,
    pub token: String,
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Creates a token: random, prefixed `sbx_` so secret scanners can recognise it.
pub async fn create_token(
    store: &Store,
    name: &str,
    scopes: &[String],
    env: &str,
    environments: &[String],
    actor: &str,
) -> Result<NewToken, AuthError> {
    if name.trim().is_empty() {
        return Err(AuthError::EmptyName);
    }
    let parsed: Vec<Scope> = scopes
        .iter()
        .map(|s| Scope::parse(s.trim()).ok_or_else(|| AuthError::UnknownScope(s.clone())))
        .collect::<Result<_, _>>()?;
    if !environments.iter().any(|e| e == env) {
        return Err(AuthError::UnknownEnv {
            env: env.to_owned(),
            known: environments.join(", "),
        });
    }
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("sbx_{}", hex::encode(bytes));
    let scopes = Scopes::of(parsed);
    let names: Vec<String> = scopes.names().into_iter().map(str::to_owned).collect();
    store
        .create_token(name, &hex::encode(token_hash(&token)), &token[..10], &names, env, actor)
        .await?;
    Ok(NewToken {
        name: name.to_owned(),
        scopes: scopes.names(),
        env: env.to_owned(),
        token,
    })
}

/// The in-memory view of active tokens.
#[derive(Default)]
pub struct TokenCache {
    by_hash: ArcSwap<HashMap<[u8; 32], Arc<Principal>>>,
}

impl TokenCache {
    /// Looks a presented token up. No allocation, no lock, no database.
    pub fn authenticate(&self, token: &str) -> Option<Arc<Principal>> {
        self.by_hash.load().get(&token_hash(token)).cloned()
    }

    /// The active token with this id (web sessions keep the id, never the token).
    pub fn by_id(&self, token_id: i64) -> Option<Arc<Principal>> {
        self.by_hash.load().values().find(|p| p.token_id == token_id).cloned()
    }

    pub fn load(&self, records: &[TokenRecord]) {
        let map = records
            .iter()
            .filter(|r| r.revoked_at.is_none())
            .filter_map(|r| {
                let mut hash = [0u8; 32];
                hex::decode_to_slice(&r.token_sha256, &mut hash).ok()?;
                let scopes = Scopes::of(r.scopes.iter().filter_map(|s| Scope::parse(s)));
                Some((
                    hash,
                    Arc::new(Principal {
                        token_id: r.id,
                        name: r.name.as_str().into(),
                        scopes,
                        env: r.env.as_str().into(),
                    }),
                ))
            })
            .collect();
        self.by_hash.store(Arc::new(map));
    }

    pub async fn refresh(&self, store: &Store) -> Result<(), StoreError> {
        self.load(&store.tokens().await?);
        Ok(())
    }

    /// Keeps the cache current (tokens are created and revoked by the CLI, another process).
    pub async fn refresh_forever(self: Arc<Self>, store: Store, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = self.refresh(&store).await {
                tracing::warn!(error = %e, "token refresh failed; keeping the previous tokens");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_allows_everything_and_others_only_themselves() {
        let admin = Scopes::of([Scope::Admin]);
        assert!(Scope::ALL.iter().all(|s| admin.allows(*s)));
        let app = Scopes::of([Scope::FlagsRead]);
        assert!(app.allows(Scope::FlagsRead));
        assert!(!app.allows(Scope::DecisionsApprove));
        assert_eq!(app.names(), ["flags:read"]);
    }
}
