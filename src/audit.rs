//! The tamper-evident audit log: every state change is an event that carries the SHA-256 of the
//! one before it. Changing, inserting or removing an event in the middle breaks the chain at that
//! point, and `verify` names the first broken link. The database refuses updates and deletes of
//! audit rows (triggers), so a break means someone went around signalbox.
//!
//! What is hashed: the previous hash and the event's fields (time, actor, action, object, payload
//! text) as one JSON array, which is unambiguous whatever the strings contain. The row id is not
//! hashed (order comes from the chain itself); the payload is stored as the exact text hashed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stored event.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub payload: serde_json::Value,
    /// The payload exactly as hashed (what `payload` was parsed from).
    #[serde(skip)]
    pub payload_text: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an event whose predecessor's hash is `prev`.
pub fn event_hash(
    prev: &str,
    at_millis: i64,
    actor: &str,
    action: &str,
    object_type: &str,
    object_id: &str,
    payload_text: &str,
) -> String {
    let canonical = serde_json::to_string(&(prev, at_millis, actor, action, object_type, object_id, payload_text))
        .expect("strings and integers serialize");
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

impl AuditEvent {
    pub fn expected_hash(&self) -> String {
        event_hash(
            &self.prev_hash,
            self.at.timestamp_millis(),
            &self.actor,
            &self.action,
            &self.object_type,
            &self.object_id,
            &self.payload_text,
        )
    }
}

/// The first place the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// The first event that does not verify.
    pub id: i64,
    pub reason: String,
}

/// Walks events in chain order, one page at a time (the log can be large).
#[derive(Debug)]
pub struct Verifier {
    expected_prev: String,
    pub checked: u64,
    pub broken: Option<BrokenLink>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected_prev: GENESIS.to_owned(),
            checked: 0,
            broken: None,
        }
    }
}

impl Verifier {
    /// A verifier that starts after an event whose hash is already trusted (an evidence bundle
    /// carries the link before its first event).
    pub fn starting_after(prev_hash: &str) -> Verifier {
        Verifier {
            expected_prev: prev_hash.to_owned(),
            ..Verifier::default()
        }
    }

    /// Feeds the next event; returns false once the chain is broken (later events are not
    /// checked: everything after the first break is suspect).
    pub fn feed(&mut self, e: &AuditEvent) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let reason = if e.prev_hash != self.expected_prev {
            Some(format!(
                "its previous-hash {} does not match the hash of the event before it ({}): an event was removed, inserted or reordered",
                short(&e.prev_hash),
                short(&self.expected_prev)
            ))
        } else if e.expected_hash() != e.hash {
            Some(format!(
                "its content does not match its hash {}: the event was altered",
                short(&e.hash)
            ))
        } else {
            None
        };
        match reason {
            Some(reason) => {
                self.broken = Some(BrokenLink { id: e.id, reason });
                false
            }
            None => {
                self.checked += 1;
                self.expected_prev = e.hash.clone();
                true
            }
        }
    }

    /// The hash of the last verified event (the chain's head).
    pub fn head(&self) -> &str {
        &self.expected_prev
    }
}

fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}

/// A well-formed chain of `n` events after `anchor`, ids from `first`: what tests of the chain's
/// readers start from.
#[cfg(test)]
pub(crate) fn sample_chain(anchor: &str, first: i64, n: usize) -> Vec<AuditEvent> {
    let mut prev = anchor.to_owned();
    (0..n as i64)
        .map(|i| {
            let at = chrono::DateTime::from_timestamp_millis(1_767_225_600_123 + i).expect("a valid time");
            let payload_text = format!("{{\"to\":\"acknowledged\",\"n\":{i}}}");
            let hash = event_hash(
                &prev,
                at.timestamp_millis(),
                "alice",
                "brief.acknowledged",
                "brief",
                "7",
                &payload_text,
            );
            let e = AuditEvent {
                id: first + i,
                at,
                actor: "alice".into(),
                action: "brief.acknowledged".into(),
                object_type: "brief".into(),
                object_id: "7".into(),
                payload: serde_json::from_str(&payload_text).expect("valid JSON"),
                payload_text,
                prev_hash: prev.clone(),
                hash,
            };
            prev = e.hash.clone();
            e
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<AuditEvent> {
        sample_chain(GENESIS, 1, n)
    }

    fn verify(events: &[AuditEvent]) -> Verifier {
        let mut v = Verifier::default();
        for e in events {
            v.feed(e);
        }
        v
    }

    #[test]
    fn an_intact_chain_verifies() {
        let v = verify(&chain(5));
        assert_eq!((v.checked, v.broken), (5, None));
    }

    #[test]
    fn an_altered_payload_is_named() {
        let mut c = chain(5);
        c[2].payload_text = "{\"n\":99}".into();
        let v = verify(&c);
        assert_eq!(v.broken.as_ref().map(|b| b.id), Some(3));
        assert!(v.broken.unwrap().reason.contains("altered"));
    }

    #[test]
    fn a_removed_event_breaks_the_next_link() {
        let mut c = chain(5);
        c.remove(1);
        let v = verify(&c);
        assert_eq!(v.broken.as_ref().map(|b| b.id), Some(3));
        assert!(v.broken.unwrap().reason.contains("removed"));
    }

    #[test]
    fn separators_in_fields_cannot_forge_a_hash() {
        // Moving text between fields changes the hash, because the fields are a JSON array.
        let a = event_hash(GENESIS, 1, "a,b", "c", "t", "1", "{}");
        let b = event_hash(GENESIS, 1, "a", "b,c", "t", "1", "{}");
        assert_ne!(a, b);
    }
}
