//! Decisions, approvals, playbooks and the audit log over real HTTP, with the real server, a
//! fixture status page and OFREP clients.

use crate::fixture::{Fixture, Page};
use crate::helpers::{Env, Running, spawn_app_with};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub(crate) const STATUS_OK: &str = r#"{"status":{"indicator":"none","description":"All Systems Operational"},"components":[{"id":"c1","name":"API","status":"operational","group":false},{"id":"c2","name":"Console","status":"operational","group":false}],"incidents":[],"scheduled_maintenances":[]}"#;
pub(crate) const STATUS_DOWN: &str = r#"{"status":{"indicator":"major","description":"Major outage"},"components":[{"id":"c1","name":"API","status":"major_outage","group":false},{"id":"c2","name":"Console","status":"operational","group":false}],"incidents":[{"id":"i1","name":"Elevated errors on the API","status":"investigating","impact":"major","created_at":"2026-11-25T08:00:00Z","incident_updates":[]}],"scheduled_maintenances":[]}"#;

pub(crate) const FLAGS: &str = r#"
flags:
  route.chat:
    state: ENABLED
    variants:
      primary: { schema: ai-route/v1, enabled: true, targets: [{ provider: acme, model: acme-large-2411 }] }
      failover: { schema: ai-route/v1, enabled: true, targets: [{ provider: other, model: other-1 }] }
      "off": { schema: ai-route/v1, enabled: false, targets: [] }
    defaultVariant: primary
    metadata: { owner: platform-team, providers: [acme/acme-large-2411, other/other-1], approvals: 2 }
  cap.image-generation:
    state: ENABLED
    variants: { "on": true, "off": false }
    defaultVariant: "on"
    metadata: { owner: media-team, providers: [acme/acme-image-2] }
"#;

pub(crate) const PLAYBOOK: &str = r#"
[[playbook]]
name = "chat-failover-acme"
description = "Route chat to the failover vendor while acme's API is down"
[playbook.when]
provider = "acme"
component = "^API$"
statuses = ["major_outage", "partial_outage"]
[playbook.then]
flag = "route.chat"
env = "production"
action = "serve"
variant = "failover"
revert_after = "2s"
"#;

struct Setup {
    env: Env,
    run: Running,
    tokens: std::collections::HashMap<&'static str, String>,
}

/// Tokens by name: (scopes, environment).
const TOKENS: &[(&str, &[&str], &str)] = &[
    ("web-app", &["flags:read"], "production"),
    ("staging-app", &["flags:read"], "staging"),
    ("alice", &["decisions:propose", "decisions:approve"], "production"),
    ("bob", &["decisions:approve"], "production"),
    ("carol", &["decisions:approve"], "production"),
    ("eve", &["decisions:propose"], "production"),
    ("sally", &["decisions:propose"], "staging"),
    ("sam", &["decisions:approve"], "staging"),
    ("oncall", &["briefs:write"], "production"),
    ("auditor", &["audit:read"], "production"),
    ("admin-less", &["decisions:propose", "briefs:write"], "production"),
];

async fn setup(with_status_source: Option<&Fixture>) -> Setup {
    let env = Env::new();
    std::fs::write(env.dir.path().join("flags/routes.yaml"), FLAGS).unwrap();
    std::fs::write(env.dir.path().join("flags/playbooks.toml"), PLAYBOOK).unwrap();
    if let Some(fx) = with_status_source {
        env.write_source(
            "acme-status",
            "statuspage",
            &fx.url("/api/v2/summary.json"),
            "status",
            "schedule = \"* * * * * *\"",
        );
    }
    let mut settings = env.settings();
    settings.decisions.tick_ms = 100;
    let store = signalbox::store::Store::open(&settings.database).await.unwrap();
    let mut tokens = std::collections::HashMap::new();
    for (name, scopes, e) in TOKENS {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let t = signalbox::auth::create_token(&store, name, &scopes, e, &settings.serving.environments, "test")
            .await
            .unwrap();
        tokens.insert(*name, t.token);
    }
    store.close().await;
    let run = spawn_app_with(settings).await;
    Setup { env, run, tokens }
}

impl Setup {
    async fn call(&self, method: &str, path: &str, who: &str, body: Option<Value>) -> (u16, Value) {
        let c = reqwest::Client::new();
        let url = format!("{}{path}", self.run.base);
        let mut req = match method {
            "GET" => c.get(url),
            _ => c.post(url),
        }
        .bearer_auth(&self.tokens[who]);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, v)
    }

    /// The raw OFREP answer for one flag, as the named app token sees it.
    async fn ofrep(&self, key: &str, who: &str) -> Value {
        let (status, v) = self
            .call(
                "POST",
                &format!("/ofrep/v1/evaluate/flags/{key}"),
                who,
                Some(json!({"context": {"targetingKey": "user-1"}})),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// The status page's first version is stored (the baseline: no change, no brief).
    async fn wait_for_first_status(&self) {
        self.wait_for("the first status snapshot", async || {
            reqwest::get(format!("{}/api/v1/sources/acme-status/snapshots", self.run.base))
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .await;
    }

    async fn wait_for(&self, what: &str, mut check: impl AsyncFnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !check().await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_major_outage_fails_chat_over_by_playbook_and_the_recovery_reverts_it_after_the_quiet_period() {
    let fx = Fixture::start().await;
    fx.set("/api/v2/summary.json", Page::new("application/json", STATUS_OK));
    let s = setup(Some(&fx)).await;
    let _ = &s.env;

    // The first version is the baseline: no change, no brief, the file default is served.
    s.wait_for_first_status().await;
    let before = s.ofrep("route.chat", "web-app").await;
    assert_eq!(before["variant"], "primary");
    let revision_before = before["metadata"]["revision"].as_u64().unwrap();

    // The provider goes down: within a poll, the brief appears and the playbook fails over.
    fx.set("/api/v2/summary.json", Page::new("application/json", STATUS_DOWN));
    s.wait_for("the failover", async || {
        s.ofrep("route.chat", "web-app").await["variant"] == "failover"
    })
    .await;
    let during = s.ofrep("route.chat", "web-app").await;
    assert_eq!(during["value"]["targets"][0]["provider"], "other");
    let meta = &during["metadata"];
    assert_eq!(meta["approvedBy"], "playbook:chat-failover-acme", "{during}");
    assert_eq!(meta["decisionOrigin"], "playbook:chat-failover-acme");
    assert!(meta["revision"].as_u64().unwrap() > revision_before);
    let decision_id = meta["decisionId"].as_i64().expect("decisionId");
    let brief_id = meta["briefId"].as_i64().expect("briefId");
    let (_, brief) = s
        .call("GET", &format!("/api/v1/briefs/{brief_id}"), "oncall", None)
        .await;
    assert_eq!(brief["category"], "incident");
    assert_eq!(brief["severity"], "critical", "{brief}");
    let (_, d) = s
        .call("GET", &format!("/api/v1/decisions/{decision_id}"), "alice", None)
        .await;
    assert_eq!(
        (d["status"].as_str(), d["origin"].as_str(), d["env"].as_str()),
        (Some("active"), Some("playbook:chat-failover-acme"), Some("production"))
    );
    // On call takes the brief: assign, comment, acknowledge; the inbox filters find it.
    let b = format!("/api/v1/briefs/{brief_id}");
    let (status, r) = s
        .call(
            "POST",
            &format!("{b}/assign"),
            "oncall",
            Some(json!({"assignee": "dana"})),
        )
        .await;
    assert_eq!((status, r["assignee"].as_str()), (200, Some("dana")), "{r}");
    let (status, _) = s
        .call(
            "POST",
            &format!("{b}/comment"),
            "oncall",
            Some(json!({"text": "failover confirmed"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .call("POST", &format!("{b}/comment"), "oncall", Some(json!({"text": "  "})))
        .await;
    assert_eq!(status, 400, "an empty comment");
    let (status, r) = s.call("POST", &format!("{b}/acknowledge"), "oncall", None).await;
    assert_eq!((status, r["status"].as_str()), (200, Some("acknowledged")));
    let (_, found) = s
        .call(
            "GET",
            "/api/v1/briefs?category=incident&assignee=dana&status=acknowledged",
            "oncall",
            None,
        )
        .await;
    assert_eq!(found.as_array().map(|a| a.len()), Some(1), "{found}");
    let (_, none) = s.call("GET", "/api/v1/briefs?category=pricing", "oncall", None).await;
    assert_eq!(none.as_array().map(|a| a.len()), Some(0));
    let (_, full) = s.call("GET", &b, "oncall", None).await;
    assert!(
        full["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "comment" && e["detail"] == "failover confirmed")
    );
    assert_eq!(
        full["decisions"][0]["id"], decision_id,
        "the brief shows the decision that answers it"
    );

    // Other environments are untouched.
    assert_eq!(s.ofrep("route.chat", "staging-app").await["variant"], "primary");

    // The provider recovers: the revert waits for the quiet period, then the default is back.
    fx.set("/api/v2/summary.json", Page::new("application/json", STATUS_OK));
    s.wait_for("the revert to be scheduled", async || {
        let (_, d) = s
            .call("GET", &format!("/api/v1/decisions/{decision_id}"), "alice", None)
            .await;
        !d["revert_at"].is_null() || d["status"] == "reverted"
    })
    .await;
    let scheduled_at = Instant::now();
    assert_eq!(
        s.ofrep("route.chat", "web-app").await["variant"],
        "failover",
        "still failed over during the quiet period"
    );
    s.wait_for("the revert", async || {
        s.ofrep("route.chat", "web-app").await["variant"] == "primary"
    })
    .await;
    assert!(
        scheduled_at.elapsed() >= Duration::from_millis(1500),
        "reverted before the quiet period"
    );
    let after = s.ofrep("route.chat", "web-app").await;
    assert!(after["metadata"].get("decisionId").is_none(), "{after}");
    let (_, d) = s
        .call("GET", &format!("/api/v1/decisions/{decision_id}"), "alice", None)
        .await;
    assert_eq!(d["status"], "reverted");
    assert_eq!(d["ended_by"], "playbook:chat-failover-acme");

    // All of it is in the audit log, and the chain verifies.
    let (status, log) = s.call("GET", "/api/v1/audit?limit=1000", "auditor", None).await;
    assert_eq!(status, 200, "{log}");
    let actions: Vec<&str> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    let position = |a: &str| {
        actions
            .iter()
            .position(|x| *x == a)
            .unwrap_or_else(|| panic!("no {a} in {actions:?}"))
    };
    assert!(position("brief.created") < position("decision.proposed"));
    assert!(position("brief.assigned") < position("brief.commented"));
    assert!(position("brief.commented") < position("brief.acknowledged"));
    assert!(position("decision.proposed") < position("decision.applied"));
    assert!(
        position("decision.proposed") < position("playbook.fired"),
        "the firing is recorded with the decision"
    );
    assert!(position("playbook.fired") < position("decision.applied"));
    assert!(position("playbook.fired") < position("decision.revert_scheduled"));
    assert!(position("decision.revert_scheduled") < position("decision.reverted"));
    let fired = &log["events"][position("playbook.fired")];
    assert_eq!(fired["actor"], "playbook:chat-failover-acme");
    assert_eq!(fired["payload"]["decision"], decision_id);
    let (_, verify) = s.call("GET", "/api/v1/audit/verify", "auditor", None).await;
    assert_eq!(verify["ok"], true, "{verify}");
    // The audit log is not for everyone.
    let (status, _) = s.call("GET", "/api/v1/audit", "web-app", None).await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn production_decisions_need_two_approvers_other_than_the_proposer() {
    let s = setup(None).await;
    let propose = json!({"flag": "route.chat", "env": "production", "action": "serve", "variant": "failover",
                         "reason": "price increase under review"});
    let (status, d) = s
        .call("POST", "/api/v1/decisions", "alice", Some(propose.clone()))
        .await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(
        (d["status"].as_str(), d["approvals_required"].as_i64()),
        (Some("proposed"), Some(2))
    );
    let id = d["id"].as_i64().unwrap();
    let path = |a: &str| format!("/api/v1/decisions/{id}/{a}");

    // The proposer cannot approve their own decision, whatever their scopes.
    let (status, e) = s.call("POST", &path("approve"), "alice", None).await;
    assert_eq!(status, 403, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("proposer"), "{e}");
    // No `decisions:approve` scope: 403.
    let (status, e) = s.call("POST", &path("approve"), "eve", None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (403, Some("forbidden")));
    // An approver bound to another environment: 403.
    let (status, _) = s.call("POST", &path("approve"), "sam", None).await;
    assert_eq!(status, 403);

    // One approval is not enough in production.
    let (status, d) = s.call("POST", &path("approve"), "bob", None).await;
    assert_eq!((status, d["status"].as_str()), (200, Some("proposed")), "{d}");
    assert_eq!(s.ofrep("route.chat", "web-app").await["variant"], "primary");
    let (status, _) = s.call("POST", &path("approve"), "bob", None).await;
    assert_eq!(status, 409, "the same approver twice");

    // The second distinct approver applies it, and OFREP shows who decided.
    let revision = s.ofrep("route.chat", "web-app").await["metadata"]["revision"]
        .as_u64()
        .unwrap();
    let (status, d) = s.call("POST", &path("approve"), "carol", None).await;
    assert_eq!((status, d["status"].as_str()), (200, Some("active")), "{d}");
    let v = s.ofrep("route.chat", "web-app").await;
    assert_eq!(v["variant"], "failover");
    assert_eq!(v["metadata"]["decisionId"], id);
    assert_eq!(v["metadata"]["approvedBy"], "bob,carol");
    assert!(v["metadata"]["revision"].as_u64().unwrap() > revision);

    // Withdrawing is for the proposer, and only before it is active; reverting restores the default.
    let (status, _) = s.call("POST", &path("withdraw"), "alice", None).await;
    assert_eq!(status, 409);
    let (status, d) = s
        .call(
            "POST",
            &path("revert"),
            "carol",
            Some(json!({"reason": "price confirmed unchanged"})),
        )
        .await;
    assert_eq!((status, d["status"].as_str()), (200, Some("reverted")), "{d}");
    assert_eq!(s.ofrep("route.chat", "web-app").await["variant"], "primary");

    // A rejection needs a reason and ends the proposal.
    let (_, d) = s
        .call("POST", "/api/v1/decisions", "alice", Some(propose.clone()))
        .await;
    let id2 = d["id"].as_i64().unwrap();
    let (status, _) = s
        .call("POST", &format!("/api/v1/decisions/{id2}/reject"), "bob", None)
        .await;
    assert_eq!(status, 400);
    let (status, d) = s
        .call(
            "POST",
            &format!("/api/v1/decisions/{id2}/reject"),
            "bob",
            Some(json!({"reason": "not needed"})),
        )
        .await;
    assert_eq!((status, d["status"].as_str()), (200, Some("rejected")));
    let (status, _) = s
        .call("POST", &format!("/api/v1/decisions/{id2}/approve"), "carol", None)
        .await;
    assert_eq!(status, 409);

    // Bad proposals are 400s with a JSON body that says why.
    for (body, needle) in [
        (
            json!({"flag": "route.chat", "env": "production", "action": "serve", "variant": "nope", "reason": "x"}),
            "no variant",
        ),
        (
            json!({"flag": "route.nope", "env": "production", "action": "kill", "reason": "x"}),
            "no flag",
        ),
        (
            json!({"flag": "route.chat", "env": "production", "action": "serve", "variant": "failover", "reason": " "}),
            "reason",
        ),
        (
            json!({"flag": "route.chat", "env": "production", "action": "explode", "reason": "x"}),
            "action",
        ),
    ] {
        let (status, e) = s.call("POST", "/api/v1/decisions", "alice", Some(body)).await;
        assert_eq!(status, 400, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(needle), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_expires_at_its_time_and_the_revision_bumps() {
    let s = setup(None).await;
    let expires = chrono::Utc::now() + chrono::Duration::seconds(3);
    let (status, d) = s
        .call(
            "POST",
            "/api/v1/decisions",
            "sally",
            Some(
                json!({"flag": "cap.image-generation", "env": "staging", "action": "kill",
                        "reason": "usage policy change", "expires_at": expires}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(
        (d["approvals_required"].as_i64(), d["variant"].as_str()),
        (Some(1), Some("off"))
    );
    let id = d["id"].as_i64().unwrap();
    // An app listening on the OFREP event stream hears of the change.
    let (_, bulk) = s
        .call(
            "POST",
            "/ofrep/v1/evaluate/flags",
            "staging-app",
            Some(json!({"context": {}})),
        )
        .await;
    let uri = bulk["eventStreams"][0]["endpoint"]["requestUri"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = reqwest::Client::new()
        .get(format!("{}{uri}", s.run.base))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let (status, d) = s
        .call("POST", &format!("/api/v1/decisions/{id}/approve"), "sam", None)
        .await;
    assert_eq!((status, d["status"].as_str()), (200, Some("active")), "{d}");
    let (event_id, _) = crate::ofrep::next_event(&mut stream, Instant::now() + Duration::from_secs(10))
        .await
        .expect("an event for the applied decision");
    let killed = s.ofrep("cap.image-generation", "staging-app").await;
    assert_eq!(
        (killed["value"].as_bool(), killed["variant"].as_str()),
        (Some(false), Some("off"))
    );
    assert!(killed["metadata"]["expiresAt"].as_str().is_some(), "{killed}");
    // Production never saw it.
    assert_eq!(s.ofrep("cap.image-generation", "web-app").await["value"], true);
    let revision = killed["metadata"]["revision"].as_u64().unwrap();
    assert!(
        event_id.as_deref() == Some(revision.to_string().as_str()),
        "the event announces the decision's revision {revision}: {event_id:?}"
    );

    s.wait_for("the expiry", async || {
        s.ofrep("cap.image-generation", "staging-app").await["value"] == true
    })
    .await;
    assert!(chrono::Utc::now() >= expires, "restored before its expiry");
    let (expiry_event, _) = crate::ofrep::next_event(&mut stream, Instant::now() + Duration::from_secs(10))
        .await
        .expect("an event for the expiry");
    assert_ne!(event_id, expiry_event);
    let restored = s.ofrep("cap.image-generation", "staging-app").await;
    assert!(restored["metadata"]["revision"].as_u64().unwrap() > revision);
    let (_, d) = s.call("GET", &format!("/api/v1/decisions/{id}"), "sally", None).await;
    assert_eq!(
        (d["status"].as_str(), d["ended_by"].as_str()),
        (Some("expired"), Some("system"))
    );
    assert!(
        d["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "decision.expired"),
        "{d}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_decision_waits_for_its_start() {
    let s = setup(None).await;
    let starts = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let (_, d) = s
        .call(
            "POST",
            "/api/v1/decisions",
            "sally",
            Some(
                json!({"flag": "cap.image-generation", "env": "staging", "action": "kill",
                        "reason": "policy takes effect at the start of the window", "starts_at": starts}),
            ),
        )
        .await;
    let id = d["id"].as_i64().unwrap();
    let (_, d) = s
        .call("POST", &format!("/api/v1/decisions/{id}/approve"), "sam", None)
        .await;
    if chrono::Utc::now() < starts {
        assert_eq!(d["status"], "approved", "applied before its start: {d}");
        assert_eq!(s.ofrep("cap.image-generation", "staging-app").await["value"], true);
    }
    s.wait_for("the scheduled start", async || {
        s.ofrep("cap.image-generation", "staging-app").await["value"] == false
    })
    .await;
    assert!(chrono::Utc::now() >= starts, "applied before its start");
    let (_, d) = s.call("GET", &format!("/api/v1/decisions/{id}"), "sally", None).await;
    assert_eq!(d["status"], "active");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_who_reverts_a_playbook_failover_has_the_last_word_until_the_outage_clears() {
    let fx = Fixture::start().await;
    let path = "/api/v2/summary.json";
    fx.set(path, Page::new("application/json", STATUS_OK));
    let s = setup(Some(&fx)).await;
    s.wait_for_first_status().await;
    let briefs = async || {
        s.call("GET", "/api/v1/briefs", "oncall", None)
            .await
            .1
            .as_array()
            .unwrap()
            .len()
    };
    fx.set(path, Page::new("application/json", STATUS_DOWN));
    s.wait_for("the failover", async || {
        s.ofrep("route.chat", "web-app").await["variant"] == "failover"
    })
    .await;
    let first = s.ofrep("route.chat", "web-app").await["metadata"]["decisionId"]
        .as_i64()
        .unwrap();
    // On call knows better (the failover vendor is worse) and reverts.
    let (status, _) = s
        .call(
            "POST",
            &format!("/api/v1/decisions/{first}/revert"),
            "carol",
            Some(json!({"reason": "globex is slower; acme is mostly up"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.ofrep("route.chat", "web-app").await["variant"], "primary");

    // The page changes while still down (an update of the same incident, which goes on its
    // brief's timeline): the playbook still reads the page, and holds back.
    let before = briefs().await;
    let outage_brief = s.call("GET", "/api/v1/briefs", "oncall", None).await.1[0]["id"]
        .as_i64()
        .unwrap();
    fx.set(
        path,
        Page::new("application/json", STATUS_DOWN.replace("investigating", "identified")),
    );
    s.wait_for("the incident update on the outage brief's timeline", async || {
        let (_, b) = s
            .call("GET", &format!("/api/v1/briefs/{outage_brief}"), "oncall", None)
            .await;
        b["events"].as_array().unwrap().iter().any(|e| e["action"] == "update")
    })
    .await;
    assert_eq!(briefs().await, before, "an update of the same incident is no new brief");
    let (_, ds) = s
        .call("GET", "/api/v1/decisions?flag=route.chat&env=production", "alice", None)
        .await;
    assert_eq!(
        ds.as_array().unwrap().len(),
        1,
        "the playbook fired again over a person's revert: {ds}"
    );
    assert_eq!(s.ofrep("route.chat", "web-app").await["variant"], "primary");

    // The outage clears (the playbook re-arms), then comes back: it fires again.
    let before = briefs().await;
    fx.set(path, Page::new("application/json", STATUS_OK));
    s.wait_for("the recovery brief", async || briefs().await > before).await;
    fx.set(path, Page::new("application/json", STATUS_DOWN));
    s.wait_for("the second failover", async || {
        s.ofrep("route.chat", "web-app").await["variant"] == "failover"
    })
    .await;
    assert_ne!(
        s.ofrep("route.chat", "web-app").await["metadata"]["decisionId"].as_i64(),
        Some(first)
    );
    let (_, log) = s
        .call("GET", "/api/v1/audit?object_type=playbook", "auditor", None)
        .await;
    let actions: Vec<&str> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["playbook.fired", "playbook.rearmed", "playbook.fired"]);

    // A person's own decision that supersedes the playbook's holds it back too.
    let (_, d) = s
        .call(
            "POST",
            "/api/v1/decisions",
            "alice",
            Some(
                json!({"flag": "route.chat", "env": "production", "action": "serve", "variant": "primary",
                        "reason": "globex is down as well"}),
            ),
        )
        .await;
    let mine = d["id"].as_i64().unwrap();
    for who in ["bob", "carol"] {
        let (status, _) = s
            .call("POST", &format!("/api/v1/decisions/{mine}/approve"), who, None)
            .await;
        assert_eq!(status, 200);
    }
    assert_eq!(s.ofrep("route.chat", "web-app").await["metadata"]["decisionId"], mine);
    // The update goes on the timeline of the newest brief about this incident.
    let newest = s.call("GET", "/api/v1/briefs", "oncall", None).await.1[0]["id"]
        .as_i64()
        .unwrap();
    fx.set(
        path,
        Page::new("application/json", STATUS_DOWN.replace("investigating", "monitoring")),
    );
    s.wait_for("the next incident update", async || {
        let (_, b) = s.call("GET", &format!("/api/v1/briefs/{newest}"), "oncall", None).await;
        b["events"].as_array().unwrap().iter().any(|e| e["action"] == "update")
    })
    .await;
    // Briefs are triaged one after the other, playbooks included: once the recovery's brief is
    // there, the update's playbook run is over.
    let before = briefs().await;
    fx.set(path, Page::new("application/json", STATUS_OK));
    s.wait_for("the recovery brief", async || briefs().await > before).await;
    assert_eq!(
        s.ofrep("route.chat", "web-app").await["metadata"]["decisionId"],
        mine,
        "the playbook overrode a person's decision"
    );
    let (_, log) = s
        .call("GET", "/api/v1/audit?object_type=playbook", "auditor", None)
        .await;
    let fired = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "playbook.fired")
        .count();
    assert_eq!(fired, 2, "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_client_error_has_a_json_body() {
    let s = setup(None).await;
    let c = reqwest::Client::new();
    for (method, path, status) in [
        (reqwest::Method::GET, "/api/v1/briefs/abc", 400),
        (reqwest::Method::GET, "/api/v1/decisions?status=active&bogus=1", 400),
        (reqwest::Method::GET, "/no/such/route", 404),
        (reqwest::Method::DELETE, "/api/v1/decisions", 405),
        (reqwest::Method::POST, "/api/v1/decisions", 400),
    ] {
        let r = c
            .request(method.clone(), format!("{}{path}", s.run.base))
            .bearer_auth(&s.tokens["admin-less"])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{method} {path}");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: {v}"
        );
    }
}
