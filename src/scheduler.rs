//! The scheduler: each source on its own cron schedule, with jitter, bounded concurrency and
//! backoff for failing sources.
//!
//! One loop owns the timetable; polls run as tasks in a `JoinSet`, at most `concurrency` at once,
//! so memory is bounded by the concurrency limit and not by the number of sources. Shutdown stops
//! launching, gives in-flight polls a grace period, then abandons them: every poll commits in one
//! transaction, so an abandoned poll leaves nothing half-written.

use crate::config::Source;
use crate::config::settings::SchedulerSettings;
use crate::store::SourceState;
use crate::watch::{PollOutcome, PollReport, Watcher};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long in-flight polls may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// When a source should next run, given its schedule, its health and the time now.
pub fn next_run(
    source: &Source,
    state: Option<&SourceState>,
    now: DateTime<Utc>,
    s: &SchedulerSettings,
) -> DateTime<Utc> {
    let period = source.schedule.period(now);
    let jitter_cap = (period.num_milliseconds() / 10).clamp(0, s.jitter_secs as i64 * 1000);
    let jitter = Duration::milliseconds(rand::rng().random_range(0..=jitter_cap.max(0)));
    let failures = state.map(|s| s.consecutive_failures).unwrap_or(0);
    let last = state.and_then(|s| s.last_attempt);
    // A server's Retry-After is honoured across polls, not only within one.
    let not_before = state.and_then(|s| s.not_before).unwrap_or(now).max(now);
    let next = match last {
        // Never polled: poll now, spread by the jitter.
        None => return not_before + jitter,
        Some(l) => match source.schedule.next_after(l) {
            // A firing was missed while we were down (or busy): catch up now.
            Some(due) if due < now && failures == 0 => now,
            Some(due) => due.max(now),
            None => now + period,
        },
    };
    let mut next = next.max(not_before) + jitter;
    if failures > 0 {
        // A failing source is retried less and less often: 30 s, 1 min, 2 min ... up to the cap,
        // and never more often than its own schedule.
        let backoff_secs = (30u64 << (failures - 1).min(16)).min(s.max_backoff_secs) as i64;
        let after_backoff = last.unwrap_or(now) + Duration::seconds(backoff_secs);
        next = next.max(after_backoff + jitter);
    }
    next
}

/// Logs and audits the health transitions a person on call cares about (the audit event is what
/// notifies: `source.broken`, `source.recovered`).
async fn record_health(store: &crate::store::Store, report: &PollReport, failures_before: u32, broken_after: u32) {
    let event = match &report.outcome {
        PollOutcome::Failed { class, message } => {
            let now_failing = failures_before + 1;
            if now_failing != broken_after {
                return;
            }
            tracing::error!(source = %report.source, class = %class, error = %message, failures = now_failing,
                "source is broken: {now_failing} consecutive failures");
            (
                "source.broken",
                serde_json::json!({"class": class.to_string(), "error": message, "failures": now_failing}),
            )
        }
        _ if failures_before >= broken_after => {
            tracing::info!(source = %report.source, failures = failures_before, "source recovered");
            ("source.recovered", serde_json::json!({"failures": failures_before}))
        }
        _ => return,
    };
    let audit = crate::store::NewAudit::new("system", event.0, "source", &report.source, event.1);
    if let Err(e) = store.audit(audit).await {
        tracing::error!(error = %e, source = %report.source, "cannot record the source's health in the audit log");
    }
}

/// Runs until `shutdown` turns true. `concurrency` bounds the polls in flight; the fetcher's own
/// global and per-host limits apply beneath it.
pub async fn run(
    watcher: Arc<Watcher>,
    sources: Vec<Source>,
    settings: SchedulerSettings,
    concurrency: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let concurrency = concurrency.max(1);
    let sources: Vec<Arc<Source>> = sources.into_iter().filter(|s| s.enabled).map(Arc::new).collect();
    let now = Utc::now();
    let mut due: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(sources.len());
    for s in &sources {
        let state = watcher.store.state(&s.id).await.ok().flatten();
        let at = next_run(s, state.as_ref(), now, &settings);
        let _ = watcher.store.set_next_run(&s.id, at).await;
        due.push(Some(at));
    }
    tracing::info!(sources = sources.len(), concurrency, "scheduler started");

    // Each running poll's task id → its source index, so that even a panicked poll is rescheduled.
    let mut running: JoinSet<(u32, Option<PollReport>)> = JoinSet::new();
    let mut task_source: HashMap<tokio::task::Id, usize> = HashMap::new();
    loop {
        // Launch everything due, up to the concurrency limit. `None` marks a running source.
        let now = Utc::now();
        for (i, slot) in due.iter_mut().enumerate() {
            if running.len() >= concurrency {
                break;
            }
            if slot.is_some_and(|at| at <= now) {
                *slot = None;
                let (w, s) = (watcher.clone(), sources[i].clone());
                let handle = running.spawn(async move {
                    let before = w
                        .store
                        .state(&s.id)
                        .await
                        .ok()
                        .flatten()
                        .map(|x| x.consecutive_failures)
                        .unwrap_or(0);
                    match w.poll(&s).await {
                        Ok(r) => (before, Some(r)),
                        Err(e) => {
                            tracing::error!(source = %s.id, error = %e, "poll could not be recorded");
                            (before, None)
                        }
                    }
                });
                task_source.insert(handle.id(), i);
            }
        }
        let next_due = due.iter().flatten().min().copied();
        let sleep = match next_due {
            Some(at) if running.len() < concurrency => (at - Utc::now()).to_std().unwrap_or_default(),
            _ => std::time::Duration::from_secs(3600),
        };
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tokio::time::sleep(sleep) => {}
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let (id, result) = match done {
                    Ok((id, out)) => (id, Some(out)),
                    Err(e) => {
                        tracing::error!(error = %e, "poll task failed");
                        (e.id(), None)
                    }
                };
                let Some(i) = task_source.remove(&id) else { continue };
                let mut state = watcher.store.state(&sources[i].id).await.ok().flatten();
                match result {
                    Some((before, Some(r))) => record_health(&watcher.store, &r, before, settings.broken_after).await,
                    // Nothing was recorded: back off as if the poll had failed, never spin.
                    _ => {
                        let st = state.get_or_insert_with(SourceState::default);
                        st.consecutive_failures += 1;
                        st.last_attempt = Some(Utc::now());
                    }
                }
                let at = next_run(&sources[i], state.as_ref(), Utc::now(), &settings);
                let _ = watcher.store.set_next_run(&sources[i].id, at).await;
                due[i] = Some(at);
            }
        }
    }

    if !running.is_empty() {
        tracing::info!(in_flight = running.len(), "shutting down: waiting for in-flight polls");
        let drain = async { while running.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::warn!("abandoning polls still running after the grace period; nothing of theirs was committed");
            running.abort_all();
        }
    }
    tracing::info!("scheduler stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sources::parse_file;

    fn source(schedule: &str) -> Source {
        let text = format!(
            "provider = \"p\"\n[[source]]\nid = \"s\"\nkind = \"text\"\nurl = \"https://x.test/\"\ndoc_type = \"docs\"\nschedule = \"{schedule}\"\n"
        );
        parse_file(std::path::Path::new("p.toml"), &text).0.remove(0)
    }

    #[test]
    fn a_new_source_runs_now_within_the_jitter() {
        let s = SchedulerSettings::default();
        let now = Utc::now();
        let at = next_run(&source("0 * * * *"), None, now, &s);
        assert!(at >= now && at <= now + Duration::seconds(30));
    }

    #[test]
    fn a_healthy_source_runs_on_its_schedule() {
        let s = SchedulerSettings {
            jitter_secs: 0,
            ..Default::default()
        };
        let now = Utc::now();
        let state = SourceState {
            last_attempt: Some(now),
            ..Default::default()
        };
        let at = next_run(&source("*/5 * * * *"), Some(&state), now, &s);
        assert!(at > now && at <= now + Duration::minutes(5), "{at} vs {now}");
    }

    #[test]
    fn a_failing_source_backs_off() {
        let s = SchedulerSettings {
            jitter_secs: 0,
            max_backoff_secs: 3600,
            ..Default::default()
        };
        let now = Utc::now();
        let state = SourceState {
            last_attempt: Some(now),
            consecutive_failures: 8,
            ..Default::default()
        };
        let at = next_run(&source("* * * * * *"), Some(&state), now, &s);
        assert!(at >= now + Duration::seconds(3600), "{at}");
    }
}
