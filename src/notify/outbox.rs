//! The notifier: reads the audit log past each sink's cursor, turns the events people need to
//! hear about into notifications, queues the ones each sink accepts, and delivers them with
//! retries. Everything it needs survives a restart: the cursors and the queue are in the database,
//! and the audit log they read from is written in the same transaction as the change itself.

use super::{DeliveryError, MAX_ATTEMPTS, Notification, SinkSettings, backoff, deliver};
use crate::audit::AuditEvent;
use crate::store::{AuditFilter, NewDelivery, Store, StoreError};
use chrono::Utc;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Audit events read per sink per round.
const BATCH: i64 = 200;

pub struct Notifier {
    store: Store,
    sinks: Vec<SinkSettings>,
    client: reqwest::Client,
    /// Where people reach this signalbox, for links (`https://signalbox.example.com`).
    public_url: Option<String>,
    /// One attempt's bound: a claim's lease is computed from it.
    timeout: Duration,
}

/// Deliveries claimed per round; the claim's lease covers sending all of them one after another.
const CLAIM: i64 = 20;

impl Notifier {
    pub fn new(
        store: Store,
        sinks: Vec<SinkSettings>,
        public_url: Option<String>,
        timeout: Duration,
    ) -> Result<Notifier, reqwest::Error> {
        // No redirects: Standard Webhooks treats them as failures, and a redirected POST would
        // lose its body. A receiver that never answers must not hold the queue.
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("signalbox/", env!("CARGO_PKG_VERSION"), " (notifications)"))
            .build()?;
        Ok(Notifier {
            store,
            sinks,
            client,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            timeout,
        })
    }

    /// Queues what is new for every sink, then attempts every delivery that is due.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        for sink in &self.sinks {
            self.fan_out(sink).await?;
        }
        self.deliver_due().await
    }

    async fn fan_out(&self, sink: &SinkSettings) -> Result<(), StoreError> {
        let mut cursor = match self.store.notify_cursor(&sink.name).await? {
            Some(c) => c,
            None => {
                // A new sink starts at the present: it is not flooded with the past.
                let head = self.store.audit_head_id().await?;
                self.store.enqueue_deliveries(&sink.name, head, &[]).await?;
                tracing::info!(sink = %sink.name, from = head, "notification sink starts at the current audit head");
                return Ok(());
            }
        };
        loop {
            let events = self
                .store
                .audit_events(&AuditFilter {
                    after_id: Some(cursor),
                    limit: BATCH,
                    ..Default::default()
                })
                .await?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok(());
            };
            let mut queued = Vec::new();
            for e in &events {
                if let Some(n) = self.notification_of(e).await?
                    && sink.accepts(&n)
                {
                    queued.push(NewDelivery {
                        audit_id: e.id,
                        event: n.event.clone(),
                        // Stable across retries, distinct per sink (one receiver behind two sinks
                        // must not drop one copy as a duplicate).
                        msg_id: format!(
                            "msg_{}",
                            &crate::store::sha256_hex(format!("{}/{}", e.hash, sink.name).as_bytes())[..24]
                        ),
                        payload: serde_json::to_string(&n).expect("notification serializes"),
                    });
                }
            }
            self.store.enqueue_deliveries(&sink.name, last, &queued).await?;
            cursor = last;
            if (events.len() as i64) < BATCH {
                return Ok(());
            }
        }
    }

    async fn deliver_due(&self) -> Result<usize, StoreError> {
        let mut delivered = 0;
        // Only the configured sinks' queues: a removed sink's backlog waits for it to come back
        // without crowding the others out.
        let names: Vec<&str> = self.sinks.iter().map(|s| s.name.as_str()).collect();
        // The lease outlasts one round of sends, each bounded by the client's timeout.
        let lease = chrono::Duration::from_std(self.timeout * (CLAIM as u32 + 1) + Duration::from_secs(30))
            .unwrap_or(chrono::Duration::minutes(15));
        loop {
            let batch = self
                .store
                .claim_due_deliveries(Utc::now(), lease, CLAIM, &names)
                .await?;
            let claimed = batch.len() as i64;
            for d in batch {
                let Some(sink) = self.sinks.iter().find(|s| s.name == d.sink) else {
                    continue;
                };
                let n: Notification = match serde_json::from_str(&d.payload) {
                    Ok(n) => n,
                    Err(e) => {
                        let reason = format!("stored notification unreadable: {e}");
                        self.store
                            .record_attempt(d.id, d.next_attempt_at, "failed", None, Some(&reason), None)
                            .await?;
                        continue;
                    }
                };
                match deliver(&self.client, sink, &d.msg_id, &n, Utc::now()).await {
                    Ok(status) => {
                        self.store
                            .record_attempt(d.id, d.next_attempt_at, "delivered", Some(status), None, None)
                            .await?;
                        delivered += 1;
                    }
                    Err(e) => {
                        let attempts = d.attempts as u32 + 1;
                        let give_up = !e.is_retryable() || attempts >= MAX_ATTEMPTS;
                        // A receiver's Retry-After is honoured up to a day: a larger (or absurd) value
                        // must neither park the message for ever nor overflow the clock.
                        let asked = e.retry_after().unwrap_or_default().min(Duration::from_secs(86_400));
                        let wait = asked.max(backoff(attempts - 1));
                        let next = chrono::Duration::from_std(wait)
                            .ok()
                            .and_then(|w| Utc::now().checked_add_signed(w))
                            .unwrap_or_else(|| Utc::now() + chrono::Duration::hours(1));
                        let (status, next) = if give_up {
                            ("failed", None)
                        } else {
                            ("pending", Some(next))
                        };
                        log_failure(&sink.name, &d.event, attempts, give_up, &e);
                        self.store
                            .record_attempt(d.id, d.next_attempt_at, status, e.status(), Some(e.message()), next)
                            .await?;
                    }
                }
            }
            if claimed < CLAIM {
                break;
            }
        }
        Ok(delivered)
    }

    /// The notification an audit event makes, or `None` for events nobody is paged about.
    async fn notification_of(&self, e: &AuditEvent) -> Result<Option<Notification>, StoreError> {
        let p = &e.payload;
        let s = |v: &Value| v.as_str().map(str::to_owned);
        let link = |path: String| self.public_url.as_ref().map(|base| format!("{base}{path}"));
        let n = |event: &str, title: String, text: String| Notification {
            event: event.to_owned(),
            severity: None,
            provider: None,
            category: None,
            title,
            text,
            url: None,
            data: json!({"audit_id": e.id, "object_type": e.object_type, "object_id": e.object_id}),
            at: e.at,
        };
        Ok(Some(match e.action.as_str() {
            "brief.created" if p["material"] == true => {
                let id: i64 = e.object_id.parse().unwrap_or_default();
                let brief = self.store.brief(id).await?;
                let body = brief.as_ref().and_then(|b| b.brief.clone()).unwrap_or(Value::Null);
                let mut lines: Vec<String> = body["what_changed"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.as_str().map(|l| format!("• {l}")))
                    .take(8)
                    .collect();
                for w in body["what_breaks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    lines.push(format!("Affects: {w}"));
                }
                if let Some(a) = body["action"].as_str() {
                    lines.push(format!("Action: {a}"));
                }
                let mut out = n("brief.created", s(&p["title"]).unwrap_or_default(), lines.join("\n"));
                out.severity = s(&p["severity"]);
                out.provider = s(&p["provider"]);
                out.category = s(&p["category"]);
                out.url = link(format!("/api/v1/briefs/{id}"));
                out.data["brief_id"] = json!(id);
                out.data["source"] = p["source"].clone();
                out
            }
            "brief.severity" if e.actor == "system" => {
                let id: i64 = e.object_id.parse().unwrap_or_default();
                let brief = self.store.brief(id).await?;
                let mut out = n(
                    "deadline.approaching",
                    format!(
                        "Deadline approaching: {}",
                        brief.as_ref().map(|b| b.title.as_str()).unwrap_or("a brief")
                    ),
                    s(&p["why"]).unwrap_or_default(),
                );
                out.severity = s(&p["to"]);
                out.provider = brief.as_ref().map(|b| b.provider.clone());
                out.category = brief.as_ref().and_then(|b| b.category.clone());
                out.url = link(format!("/api/v1/briefs/{id}"));
                out.data["brief_id"] = json!(id);
                out
            }
            "decision.proposed" if p["status"] == "proposed" => {
                let mut out = n(
                    "decision.pending_approval",
                    format!("Decision {} needs approval: {}", e.object_id, what_it_does(p)),
                    format!(
                        "Proposed by {} ({} approval(s) needed): {}",
                        e.actor,
                        p["approvals_required"],
                        p["reason"].as_str().unwrap_or("")
                    ),
                );
                out.url = link(format!("/api/v1/decisions/{}", e.object_id));
                out.data["decision_id"] = json!(e.object_id.parse::<i64>().unwrap_or_default());
                out.data["flag"] = p["flag"].clone();
                out.data["env"] = p["env"].clone();
                out
            }
            "playbook.fired" => {
                let mut out = n(
                    "playbook.fired",
                    format!("Playbook {}: {}", e.object_id, what_it_does(p)),
                    s(&p["why"]).unwrap_or_default(),
                );
                out.provider = s(&p["provider"]);
                out.category = s(&p["category"]);
                out.severity = s(&p["severity"]);
                out.url = link(format!("/api/v1/decisions/{}", p["decision"]));
                out.data["decision_id"] = p["decision"].clone();
                out.data["brief_id"] = p["brief_id"].clone();
                out
            }
            // Overrides taking effect and ending: what apps now get.
            "decision.applied" | "decision.reverted" | "decision.expired" => {
                let applied = e.action == "decision.applied";
                let mut out = n(
                    if applied { "decision.applied" } else { "decision.ended" },
                    format!(
                        "Decision {} {}: {}",
                        e.object_id,
                        if applied {
                            "applied"
                        } else {
                            e.action.trim_start_matches("decision.")
                        },
                        if applied {
                            what_it_does(p)
                        } else if p["applied_at"].is_null() {
                            "it never applied; nothing changed for apps".to_owned()
                        } else {
                            format!(
                                "{} in {} serves its file default again",
                                p["flag"].as_str().unwrap_or("the flag"),
                                p["env"].as_str().unwrap_or("its environment")
                            )
                        }
                    ),
                    format!(
                        "by {}{}",
                        e.actor,
                        s(&p["reason"]).map(|r| format!(": {r}")).unwrap_or_default()
                    ),
                );
                out.url = link(format!("/api/v1/decisions/{}", e.object_id));
                out.data["decision_id"] = json!(e.object_id.parse::<i64>().unwrap_or_default());
                out.data["flag"] = p["flag"].clone();
                out.data["env"] = p["env"].clone();
                out
            }
            "source.broken" | "source.recovered" => {
                let broken = e.action == "source.broken";
                let mut out = n(
                    &e.action,
                    if broken {
                        format!("Source {} is broken", e.object_id)
                    } else {
                        format!("Source {} recovered", e.object_id)
                    },
                    if broken {
                        format!(
                            "{} consecutive failures ({}): {}",
                            p["failures"],
                            p["class"].as_str().unwrap_or("error"),
                            p["error"].as_str().unwrap_or("")
                        )
                    } else {
                        format!("Fetching works again after {} failures", p["failures"])
                    },
                );
                out.url = link(format!("/api/v1/sources/{}", e.object_id));
                out.data["source"] = json!(e.object_id);
                out
            }
            _ => return Ok(None),
        }))
    }

    /// Runs a round every `every` until shutdown.
    pub async fn run_forever(self: Arc<Self>, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.run_once().await {
                tracing::error!(error = %e, "notification round failed; the queue is kept");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = crate::flags::stopped(&mut shutdown) => return,
            }
        }
    }
}

/// "serve failover on route.chat in production", "switch cap.image-generation off in staging".
fn what_it_does(p: &Value) -> String {
    let flag = p["flag"].as_str().unwrap_or("a flag");
    let env = p["env"].as_str().unwrap_or("an environment");
    match (p["action"].as_str(), p["variant"].as_str()) {
        (Some("kill"), _) => format!("switch {flag} off in {env}"),
        (Some("restore"), _) => format!("restore {flag}'s file default in {env}"),
        (_, Some(v)) => format!("serve {v} on {flag} in {env}"),
        _ => format!("change {flag} in {env}"),
    }
}

fn log_failure(sink: &str, event: &str, attempts: u32, give_up: bool, e: &DeliveryError) {
    if give_up {
        tracing::error!(%sink, %event, attempts, error = %e, "notification failed for good");
    } else {
        tracing::warn!(%sink, %event, attempts, error = %e, "notification failed; will retry");
    }
}
