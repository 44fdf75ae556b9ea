//! Evaluation telemetry: counts per flag, variant, reason, environment and app (token), with the
//! last time each was seen. It answers "which apps depend on route.chat?" for impact analysis.
//!
//! The hot path must not slow down: each thread writes to its own shard (an uncontended mutex
//! around a small map keyed by a precomputed hash), strings are copied only the first time a
//! combination is seen, and a background task drains the shards into the database periodically.

use crate::store::{Store, UsageDelta};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

const SHARDS: usize = 16;

#[derive(Debug, Clone)]
struct Entry {
    flag: String,
    variant: String,
    reason: &'static str,
    env: String,
    app: String,
    /// Since the last flush (written to the database).
    pending: u64,
    /// Since start (exported as a Prometheus counter).
    total: u64,
    last_seen: i64,
}

pub struct Telemetry {
    shards: Vec<Mutex<HashMap<u64, Entry>>>,
    hasher: FastHash,
}

/// FNV-1a over the key parts: the keys are our own strings (flag, variant, reason, environment,
/// app), not attacker-chosen map keys, so a fast non-keyed hash is fine here and saves a SipHash
/// per evaluation on the hot path.
#[derive(Default, Clone, Copy)]
struct FastHash;

impl BuildHasher for FastHash {
    type Hasher = Fnv;
    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }
}

fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

/// One row of the Prometheus export.
pub struct Series {
    pub flag: String,
    pub variant: String,
    pub reason: &'static str,
    pub env: String,
    pub total: u64,
}

impl Telemetry {
    /// Counts one evaluation. Allocation only on the first sight of a combination.
    pub fn record(&self, flag: &str, variant: Option<&str>, reason: &'static str, env: &str, app: &str) {
        self.record_many(env, app, std::iter::once((flag, variant, reason)));
    }

    /// Counts several evaluations of one request (bulk) under one lock and one clock read.
    pub fn record_many<'a>(
        &self,
        env: &str,
        app: &str,
        evaluations: impl Iterator<Item = (&'a str, Option<&'a str>, &'static str)>,
    ) {
        let now = Utc::now().timestamp_millis();
        let mut shard = self.shards[shard_index()].lock().expect("telemetry shard");
        for (flag, variant, reason) in evaluations {
            let variant = variant.unwrap_or("");
            let key = self.hasher.hash_one((flag, variant, reason, env, app));
            let e = shard.entry(key).or_insert_with(|| Entry {
                flag: flag.to_owned(),
                variant: variant.to_owned(),
                reason,
                env: env.to_owned(),
                app: app.to_owned(),
                pending: 0,
                total: 0,
                last_seen: now,
            });
            e.pending += 1;
            e.total += 1;
            e.last_seen = now;
        }
    }

    /// Takes the counts gathered since the last drain, merged across shards.
    pub fn drain(&self) -> Vec<UsageDelta> {
        let mut merged: HashMap<(String, String, String, String), (u64, i64)> = HashMap::new();
        for shard in &self.shards {
            let mut s = shard.lock().expect("telemetry shard");
            for e in s.values_mut().filter(|e| e.pending > 0) {
                let m = merged
                    .entry((e.flag.clone(), e.variant.clone(), e.env.clone(), e.app.clone()))
                    .or_default();
                m.0 += e.pending;
                m.1 = m.1.max(e.last_seen);
                e.pending = 0;
            }
        }
        merged
            .into_iter()
            .map(|((flag, variant, env, token_name), (count, last))| UsageDelta {
                flag,
                variant,
                env,
                token_name,
                count,
                last_seen: DateTime::from_timestamp_millis(last).unwrap_or_default(),
            })
            .collect()
    }

    /// Totals since start, by flag, variant, reason and environment (apps summed).
    pub fn series(&self) -> Vec<Series> {
        let mut merged: HashMap<(String, String, &'static str, String), u64> = HashMap::new();
        for shard in &self.shards {
            // Entries put back after a failed flush carry no reason and no total: not a series.
            for e in shard.lock().expect("telemetry shard").values().filter(|e| e.total > 0) {
                *merged
                    .entry((e.flag.clone(), e.variant.clone(), e.reason, e.env.clone()))
                    .or_default() += e.total;
            }
        }
        let mut out: Vec<Series> = merged
            .into_iter()
            .map(|((flag, variant, reason, env), total)| Series {
                flag,
                variant,
                reason,
                env,
                total,
            })
            .collect();
        out.sort_by(|a, b| (&a.flag, &a.env, &a.variant, a.reason).cmp(&(&b.flag, &b.env, &b.variant, b.reason)));
        out
    }

    /// Writes pending counts to the database; on failure they are put back for the next try.
    pub async fn flush(&self, store: &Store) {
        let deltas = self.drain();
        if deltas.is_empty() {
            return;
        }
        if let Err(e) = store.add_usage(&deltas).await {
            tracing::warn!(error = %e, rows = deltas.len(), "telemetry flush failed; will retry");
            for d in deltas {
                let mut shard = self.shards[0].lock().expect("telemetry shard");
                let key = self
                    .hasher
                    .hash_one(("__retry", &d.flag, &d.variant, &d.env, &d.token_name));
                let e = shard.entry(key).or_insert_with(|| Entry {
                    flag: d.flag.clone(),
                    variant: d.variant.clone(),
                    reason: "",
                    env: d.env.clone(),
                    app: d.token_name.clone(),
                    pending: 0,
                    total: 0,
                    last_seen: d.last_seen.timestamp_millis(),
                });
                e.pending += d.count;
            }
        }
    }

    /// Flushes every `every` until `shutdown` turns true, then once more.
    pub async fn flush_forever(
        self: std::sync::Arc<Self>,
        store: Store,
        every: std::time::Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => self.flush(&store).await,
                _ = stopped(&mut shutdown) => break,
            }
        }
        self.flush(&store).await;
    }
}

/// Completes when the shutdown flag turns true (or its sender is gone). The borrow `wait_for`
/// returns is dropped inside, so the future stays `Send`.
pub async fn stopped(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merge_across_threads_and_drain_once() {
        let t = std::sync::Arc::new(Telemetry::default());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        t.record("route.chat", Some("primary"), "STATIC", "production", "web");
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        t.record("route.chat", None, "DISABLED", "production", "web");
        let mut d = t.drain();
        d.sort_by(|a, b| a.variant.cmp(&b.variant));
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].variant, "primary");
        assert_eq!(d[1].count, 4000);
        assert!(t.drain().is_empty(), "drained counts are gone");
        let s = t.series();
        assert_eq!(s.iter().map(|x| x.total).sum::<u64>(), 4001, "totals survive the drain");
    }
}
