//! Signed SSE channel tokens: `<env>.<expiry>.<signature>`, HMAC-SHA256 under the server's key.
//! They stand in for the API token in event-stream URLs, which browsers cannot send headers with
//! and which end up in logs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn sign(key: &[u8], payload: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

pub fn issue(key: &[u8], env: &str, expires: DateTime<Utc>) -> String {
    let payload = format!("{}.{}", URL_SAFE_NO_PAD.encode(env), expires.timestamp());
    let sig = sign(key, &payload);
    format!("{payload}.{sig}")
}

/// The environment of a valid, unexpired channel token.
pub fn verify(key: &[u8], token: &str, now: DateTime<Utc>) -> Option<String> {
    let (payload, sig) = token.rsplit_once('.')?;
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(sig).ok()?).ok()?;
    let (env, expiry) = payload.split_once('.')?;
    if expiry.parse::<i64>().ok()? < now.timestamp() {
        return None;
    }
    String::from_utf8(URL_SAFE_NO_PAD.decode(env).ok()?).ok()
}

/// Issues channel tokens, reusing one per environment for ten minutes so that bulk evaluation
/// (thousands a second) does not compute an HMAC per request. A token stays valid for an hour
/// after it was first handed out.
pub struct Channels {
    key: Vec<u8>,
    cache: arc_swap::ArcSwap<std::collections::HashMap<String, (String, i64)>>,
}

const REUSE_SECS: i64 = 600;
const LIFETIME_SECS: i64 = 3600;

impl Channels {
    pub fn new(key: &[u8]) -> Channels {
        Channels {
            key: key.to_vec(),
            cache: Default::default(),
        }
    }

    pub fn token(&self, env: &str) -> String {
        let bucket = Utc::now().timestamp() / REUSE_SECS;
        if let Some((t, b)) = self.cache.load().get(env)
            && *b == bucket
        {
            return t.clone();
        }
        let expires = DateTime::from_timestamp(bucket * REUSE_SECS + REUSE_SECS + LIFETIME_SECS, 0).unwrap_or_default();
        let token = issue(&self.key, env, expires);
        self.cache.rcu(|m| {
            let mut m = std::collections::HashMap::clone(m);
            m.insert(env.to_owned(), (token.clone(), bucket));
            m
        });
        token
    }

    pub fn verify(&self, token: &str) -> Option<String> {
        verify(&self.key, token, Utc::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_resist_tampering() {
        let now = Utc::now();
        let t = issue(b"k", "production", now + chrono::Duration::minutes(5));
        assert_eq!(verify(b"k", &t, now).as_deref(), Some("production"));
        assert!(verify(b"other", &t, now).is_none());
        assert!(verify(b"k", &t, now + chrono::Duration::minutes(6)).is_none());
        let forged = t.replacen(
            &URL_SAFE_NO_PAD.encode("production"),
            &URL_SAFE_NO_PAD.encode("staging"),
            1,
        );
        assert!(verify(b"k", &forged, now).is_none());
    }
}
