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
