//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}`, sent as `v1,<base64>` in `webhook-signature`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use super::NotifyError;

type HmacSha256 = Hmac<Sha256>;

const SECRET_PREFIX: &str = "whsec_";
/// The specification asks for keys of 24 to 64 bytes.
const KEY_LEN: std::ops::RangeInclusive<usize> = 24..=64;

/// A new secret, `whsec_` + base64 of 32 random bytes. `rand::rng()` is a CSPRNG seeded from
/// the operating system, which is what a shared secret needs.
pub fn generate_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The HMAC key inside a `whsec_` secret. Errors say what is wrong, never echo the secret.
pub(crate) fn decode_secret(secret: &str) -> Result<Vec<u8>, NotifyError> {
    let encoded = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or(NotifyError::InvalidSecret("must start with `whsec_`"))?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| NotifyError::InvalidSecret("the part after `whsec_` is not valid base64"))?;
    if !KEY_LEN.contains(&key.len()) {
        return Err(NotifyError::InvalidSecret("the key must be 24 to 64 bytes"));
    }
    Ok(key)
}

fn mac(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> Result<HmacSha256, NotifyError> {
    // HMAC accepts keys of any length, so this cannot fail for a decoded secret; mapped anyway
    // rather than unwrapped.
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| NotifyError::InvalidSecret("unusable key"))?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    // The body is fed as bytes: it is signed exactly as sent, whatever its encoding.
    mac.update(body);
    Ok(mac)
}

/// The `webhook-signature` value for one message: `v1,` + base64(HMAC-SHA256).
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String, NotifyError> {
    let key = decode_secret(secret)?;
    let tag = mac(&key, msg_id, timestamp, body)?.finalize().into_bytes();
    Ok(format!("v1,{}", STANDARD.encode(tag)))
}

/// Checks a received message, as a receiver would: the timestamp must be within
/// `tolerance_secs` of `now` either way (a replayed old message and a message dated ahead are
/// both refused), and one of the space-separated `v1,` signatures must match. Signatures of
/// other versions are skipped so that a sender can add new schemes alongside `v1`.
///
/// `headers` is (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
pub fn verify(
    secret: &str,
    headers: (&str, &str, &str),
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), NotifyError> {
    let (msg_id, timestamp, signatures) = headers;
    if msg_id.is_empty() {
        return Err(NotifyError::MissingHeader("webhook-id"));
    }
    if timestamp.is_empty() {
        return Err(NotifyError::MissingHeader("webhook-timestamp"));
    }
    if signatures.trim().is_empty() {
        return Err(NotifyError::MissingHeader("webhook-signature"));
    }
    let timestamp: i64 = timestamp.trim().parse().map_err(|_| NotifyError::InvalidTimestamp)?;
    // Saturating: a hostile timestamp near i64::MIN/MAX must be refused, not overflow.
    if timestamp < now.saturating_sub(tolerance_secs) {
        return Err(NotifyError::TimestampTooOld);
    }
    if timestamp > now.saturating_add(tolerance_secs) {
        return Err(NotifyError::TimestampTooNew);
    }
    let key = decode_secret(secret)?;
    let expected = mac(&key, msg_id, timestamp, body)?;
    for candidate in signatures.split_whitespace() {
        let Some(("v1", encoded)) = candidate.split_once(',') else {
            continue;
        };
        let Ok(given) = STANDARD.decode(encoded) else {
            continue;
        };
        // `verify_slice` compares in constant time, so timing does not reveal how much of a
        // forged signature was right.
        if expected.clone().verify_slice(&given).is_ok() {
            return Ok(());
        }
    }
    Err(NotifyError::SignatureMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vector from the standard-webhooks reference libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers<'a>(ts: &'a str, sig: &'a str) -> (&'a str, &'a str, &'a str) {
        (MSG_ID, ts, sig)
    }

    #[test]
    fn sign_matches_reference_vector() {
        assert_eq!(sign(SECRET, MSG_ID, TS, BODY).unwrap(), SIGNATURE);
    }

    #[test]
    fn verify_accepts_reference_vector() {
        verify(SECRET, headers("1614265330", SIGNATURE), BODY, TS, 300).unwrap();
        // Within tolerance either side.
        verify(SECRET, headers("1614265330", SIGNATURE), BODY, TS + 300, 300).unwrap();
        verify(SECRET, headers("1614265330", SIGNATURE), BODY, TS - 300, 300).unwrap();
    }

    #[test]
    fn verify_rejects_tampered_body() {
        let err = verify(
            SECRET,
            headers("1614265330", SIGNATURE),
            br#"{"test": 2432232315}"#,
            TS,
            300,
        );
        assert!(matches!(err, Err(NotifyError::SignatureMismatch)), "{err:?}");
    }

    #[test]
    fn verify_rejects_stale_and_future_timestamps() {
        let stale = verify(SECRET, headers("1614265330", SIGNATURE), BODY, TS + 301, 300);
        assert!(matches!(stale, Err(NotifyError::TimestampTooOld)), "{stale:?}");
        let future = verify(SECRET, headers("1614265330", SIGNATURE), BODY, TS - 301, 300);
        assert!(matches!(future, Err(NotifyError::TimestampTooNew)), "{future:?}");
        // The timestamp is signed: moving it forward to look fresh breaks the signature.
        let moved = verify(SECRET, headers("1614265630", SIGNATURE), BODY, TS + 600, 300);
        assert!(matches!(moved, Err(NotifyError::SignatureMismatch)), "{moved:?}");
        // Bounds that would overflow are refused, not a panic.
        let extreme = verify(
            SECRET,
            headers(&i64::MAX.to_string(), SIGNATURE),
            BODY,
            i64::MIN,
            i64::MAX,
        );
        assert!(matches!(extreme, Err(NotifyError::TimestampTooNew)), "{extreme:?}");
        let garbage = verify(SECRET, headers("soon", SIGNATURE), BODY, TS, 300);
        assert!(matches!(garbage, Err(NotifyError::InvalidTimestamp)), "{garbage:?}");
    }

    #[test]
    fn verify_rejects_wrong_secret() {
        let other = generate_secret();
        let err = verify(&other, headers("1614265330", SIGNATURE), BODY, TS, 300);
        assert!(matches!(err, Err(NotifyError::SignatureMismatch)), "{err:?}");
        let malformed = verify("whsec_%%%", headers("1614265330", SIGNATURE), BODY, TS, 300);
        assert!(matches!(malformed, Err(NotifyError::InvalidSecret(_))), "{malformed:?}");
    }

    #[test]
    fn verify_finds_v1_among_several_signatures() {
        let wrong = "v1,Ceaj2fs3vOk7xXpcxH2FD4HaLEvVFsVaQKhsgqZRU3c=";
        let several = format!("v2,abc {wrong} not-a-signature v1,%%% {SIGNATURE}");
        verify(SECRET, headers("1614265330", &several), BODY, TS, 300).unwrap();
        let none = format!("v1a,{} {wrong}", &SIGNATURE[3..]);
        let err = verify(SECRET, headers("1614265330", &none), BODY, TS, 300);
        assert!(matches!(err, Err(NotifyError::SignatureMismatch)), "{err:?}");
        // A truncated signature is a mismatch, not a prefix match.
        let short = &SIGNATURE[..SIGNATURE.len() - 8];
        assert!(verify(SECRET, headers("1614265330", short), BODY, TS, 300).is_err());
    }

    #[test]
    fn verify_requires_headers() {
        assert!(matches!(
            verify(SECRET, ("", "1614265330", SIGNATURE), BODY, TS, 300),
            Err(NotifyError::MissingHeader("webhook-id"))
        ));
        assert!(matches!(
            verify(SECRET, (MSG_ID, "", SIGNATURE), BODY, TS, 300),
            Err(NotifyError::MissingHeader("webhook-timestamp"))
        ));
        assert!(matches!(
            verify(SECRET, (MSG_ID, "1614265330", " "), BODY, TS, 300),
            Err(NotifyError::MissingHeader("webhook-signature"))
        ));
    }

    #[test]
    fn generated_secrets_are_valid_and_distinct() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        assert_eq!(decode_secret(&a).unwrap().len(), 32);
        let sig = sign(&a, "msg_1", 10, b"{}").unwrap();
        verify(&a, ("msg_1", "10", &sig), b"{}", 10, 0).unwrap();
    }
}
