//! Per-token request limits for flag evaluation: a fixed one-second window per token, kept in
//! atomics behind a lock-free map, so the check costs two atomic operations on the hot path.
//! Over the limit, OFREP answers 429 with `Retry-After` in whole seconds.

use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
struct Window {
    second: AtomicU64,
    count: AtomicU64,
}

pub struct RateLimiter {
    per_second: u64,
    windows: ArcSwap<HashMap<i64, Arc<Window>>>,
}

impl RateLimiter {
    /// `per_second == 0` turns limiting off.
    pub fn new(per_second: u64) -> RateLimiter {
        RateLimiter {
            per_second,
            windows: Default::default(),
        }
    }

    /// `Ok` when the token may make one more request now, else the seconds to wait.
    pub fn check(&self, token_id: i64) -> Result<(), u64> {
        if self.per_second == 0 {
            return Ok(());
        }
        let window = match self.windows.load().get(&token_id) {
            Some(w) => w.clone(),
            None => {
                let w = Arc::new(Window::default());
                self.windows.rcu(|m| {
                    let mut m = HashMap::clone(m);
                    m.entry(token_id).or_insert_with(|| w.clone());
                    m
                });
                self.windows.load().get(&token_id).cloned().unwrap_or(w)
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let seen = window.second.load(Ordering::Relaxed);
        if seen != now
            && window
                .second
                .compare_exchange(seen, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            window.count.store(0, Ordering::Release);
        }
        if window.count.fetch_add(1, Ordering::AcqRel) < self.per_second {
            Ok(())
        } else {
            Err(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_gets_its_limit_then_is_told_to_wait() {
        let l = RateLimiter::new(3);
        let results: Vec<_> = (0..10).map(|_| l.check(7)).collect();
        let allowed = results.iter().filter(|r| r.is_ok()).count();
        // Ten calls fall in one or (rarely) two one-second windows.
        assert!((3..=6).contains(&allowed), "{results:?}");
        assert!(results.contains(&Err(1)));
        assert!(l.check(8).is_ok(), "tokens are limited separately");
        assert!(RateLimiter::new(0).check(7).is_ok());
    }
}
