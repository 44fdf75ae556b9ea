//! Replicas on one database (issue 13): which replica runs the scheduler, and how every replica
//! learns what another one changed.
//!
//! - **Leadership.** Every replica bids for one lease ([`Store::candidate`]: a PostgreSQL session
//!   advisory lock, held by one connection). The holder is the leader and runs the scheduler; the
//!   others are followers. A leader that dies releases the lock with its connection, and a
//!   follower takes it on its next bid ([`BID_EVERY`]). Polls resume from the schedule stored in
//!   the database (each source's last attempt), so a new leader does not poll everything at once.
//! - **Everything else runs on every replica**: flag evaluation, the API and the pages, triage and
//!   notification deliveries (their outboxes are claimed row by row, see the store), decision
//!   reconciliation (each transition is checked again inside its transaction, so two replicas
//!   expiring the same decision make one transition).
//! - **Propagation.** Every committed audit event is announced (PostgreSQL's NOTIFY). A replica
//!   that hears of a decision reconciles its flag overrides at once, of a token reloads its
//!   tokens. The periodic reconciliation and token refresh stay as the resynchronization that
//!   repairs anything missed while a listener was disconnected.

use crate::auth::TokenCache;
use crate::decisions::Decisions;
use crate::flags::{RevisionFuture, RevisionSource};
use crate::store::Store;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often a follower bids for the lease and a leader checks it still holds it.
pub const BID_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}

/// This replica's name in logs and the audit log: the host and the process.
pub fn replica_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Bids for leadership until shutdown, publishing this replica's role on `role`. The lease is
/// released at shutdown so that another replica takes over at once.
pub async fn lead_forever(store: Store, role: watch::Sender<Role>, mut shutdown: watch::Receiver<bool>) {
    let me = replica_id();
    let mut candidate = store.candidate();
    let mut tick = tokio::time::interval(BID_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|v| *v) => break,
        }
        let now = match candidate.hold().await {
            Ok(true) => Role::Leader,
            Ok(false) => Role::Follower,
            Err(e) => {
                if *role.borrow() == Role::Leader {
                    tracing::error!(error = %e, "the database is unreachable: this replica gives up leadership");
                } else {
                    tracing::debug!(error = %e, "cannot bid for leadership");
                }
                Role::Follower
            }
        };
        if *role.borrow() != now {
            tracing::info!(replica = %me, role = now.as_str(), "replica role changed");
            if now == Role::Leader {
                let event = crate::store::NewAudit::new(
                    "system",
                    "service.leader",
                    "service",
                    &me,
                    serde_json::json!({"replica": me, "backend": store.backend().as_str()}),
                );
                if let Err(e) = store.audit(event).await {
                    tracing::warn!(error = %e, "cannot record the new leader in the audit log");
                }
            }
            let _ = role.send(now);
        }
    }
    let _ = role.send(Role::Follower);
    candidate.release().await;
}

/// Runs `work` while this replica leads: it is started when the replica becomes leader and told
/// to stop (its receiver turns true) when the replica stops leading or the service shuts down.
pub async fn while_leader<F, Fut>(mut role: watch::Receiver<Role>, mut shutdown: watch::Receiver<bool>, work: F)
where
    F: Fn(watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        tokio::select! {
            r = role.wait_for(|r| *r == Role::Leader) => if r.is_err() { return },
            _ = shutdown.wait_for(|v| *v) => return,
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(work(stop_rx));
        let shutting_down = tokio::select! {
            _ = role.wait_for(|r| *r != Role::Leader) => false,
            _ = shutdown.wait_for(|v| *v) => true,
        };
        let _ = stop_tx.send(true);
        let _ = task.await;
        if shutting_down || *shutdown.borrow() {
            return;
        }
    }
}

/// Applies what other replicas commit as soon as it is announced: decisions reconcile the flag
/// overrides, token changes reload the tokens. On SQLite (one process) there is nothing to hear
/// and this returns at once; the periodic reconciliation covers any other writer.
pub async fn follow_events(
    store: Store,
    decisions: Arc<Decisions>,
    tokens: Arc<TokenCache>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let mut feed = match store.event_feed().await {
            Ok(Some(feed)) => feed,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other replicas' changes; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                    _ = shutdown.wait_for(|v| *v) => return,
                }
            }
        };
        // Anything committed before the listener started is caught up with once.
        resync(&store, &decisions, &tokens).await;
        loop {
            let next = tokio::select! {
                n = feed.next() => n,
                _ = shutdown.wait_for(|v| *v) => return,
            };
            match next {
                Ok(Some((kind, _))) if kind == "decision" => {
                    if let Err(e) = decisions.reconcile().await {
                        tracing::warn!(error = %e, "reconciliation after another replica's decision failed; the next tick retries");
                    }
                }
                Ok(Some((kind, _))) if kind == "token" => {
                    if let Err(e) = tokens.refresh(&store).await {
                        tracing::warn!(error = %e, "token reload after another replica's change failed; the next refresh retries");
                    }
                }
                Ok(Some(_)) => {}
                // Reconnected: what was announced meanwhile is lost, so read everything again.
                Ok(None) => resync(&store, &decisions, &tokens).await,
                Err(e) => {
                    tracing::warn!(error = %e, "lost the change feed; listening again");
                    break;
                }
            }
        }
    }
}

async fn resync(store: &Store, decisions: &Decisions, tokens: &TokenCache) {
    if let Err(e) = decisions.reconcile().await {
        tracing::warn!(error = %e, "resynchronizing decisions failed; the next tick retries");
    }
    if let Err(e) = tokens.refresh(store).await {
        tracing::warn!(error = %e, "resynchronizing tokens failed; the next refresh retries");
    }
}

/// Flag revisions from the database: the same configuration has the same revision on every
/// replica (so ETags, the `revision` metadata and SSE event ids agree), and revisions survive
/// restarts.
pub struct SharedRevisions(pub Store);

impl RevisionSource for SharedRevisions {
    fn revision_for<'a>(&'a self, content: &'a str, at_least: u64) -> RevisionFuture<'a, u64> {
        Box::pin(async move {
            self.0
                .flag_revision_for(content, at_least, chrono::Utc::now())
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn latest(&self) -> RevisionFuture<'_, Option<(u64, String)>> {
        Box::pin(async move { self.0.latest_flag_revision().await.map_err(|e| e.to_string()) })
    }
}
