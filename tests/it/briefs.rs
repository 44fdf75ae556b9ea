//! End to end: a provider page changes a model's retirement date, the watcher polls, triage
//! writes a brief with the right facts, severity and the flag it affects.

use crate::fixture::{Fixture, Page};
use crate::helpers::{Env, spawn_app};
use serde_json::Value;
use std::time::{Duration, Instant};

/// `route.chat`, whose primary variant calls acme/acme-large-2407.
fn write_route_flag(env: &Env) {
    std::fs::write(
        env.dir.path().join("flags/routes.yaml"),
        "flags:\n  route.chat:\n    state: ENABLED\n    variants:\n      primary: { targets: [{ provider: acme, model: acme-large-2407 }] }\n    defaultVariant: primary\n    metadata: { providers: [acme/acme-large-2407] }\n",
    )
    .unwrap();
}

const TABLE: &str = "# Model deprecations\n\n| Model | Deprecation date | Retirement date | Replacement |\n|---|---|---|---|\n| acme-large-2407 | 2026-01-10 | RETIRES | acme-large-2411 |\n| acme-small-1 | 2025-06-01 | 2025-12-01 | acme-small-2 |\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_retirement_date_on_a_provider_page_becomes_a_brief_naming_the_affected_flag() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    fx.set(
        "/deprecations.md",
        Page::new("text/markdown", TABLE.replace("RETIRES", "")),
    );
    env.write_source(
        "acme-deprecations",
        "markdown",
        &fx.url("/deprecations.md"),
        "deprecations",
        "schedule = \"* * * * * *\"",
    );
    std::fs::write(
        env.dir.path().join("flags/routes.yaml"),
        "flags:\n  route.chat:\n    state: ENABLED\n    variants:\n      primary: { targets: [{ provider: acme, model: acme-large-2407 }] }\n      failover: { targets: [{ provider: other, model: other-1 }] }\n    defaultVariant: primary\n    metadata: { owner: platform-team, providers: [acme/acme-large-2407, other/other-1] }\n",
    )
    .unwrap();
    let store = signalbox::store::Store::open(&env.settings().database).await.unwrap();
    let envs = env.settings().serving.environments;
    let token = signalbox::auth::create_token(&store, "oncall", &["briefs:write".into()], "production", &envs, "test")
        .await
        .unwrap()
        .token;
    store.close().await;
    let run = spawn_app(&env).await;
    let client = reqwest::Client::new();
    let briefs = || async {
        client
            .get(format!("{}/api/v1/briefs?material=true", run.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };

    // Wait for the first version, then the provider adds a retirement date.
    let deadline = Instant::now() + Duration::from_secs(30);
    let snapshots = format!("{}/api/v1/sources/acme-deprecations/snapshots", run.base);
    while reqwest::get(&snapshots)
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .is_none_or(|a| a.is_empty())
    {
        assert!(Instant::now() < deadline, "no first snapshot");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fx.set(
        "/deprecations.md",
        Page::new("text/markdown", TABLE.replace("RETIRES", "January 5th, 2027")),
    );
    let list = loop {
        let list = briefs().await;
        if list.as_array().is_some_and(|a| !a.is_empty()) {
            break list;
        }
        assert!(Instant::now() < deadline, "no brief appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let row = &list[0];
    for key in [
        "id",
        "source",
        "provider",
        "material",
        "category",
        "severity",
        "title",
        "status",
        "created_at",
    ] {
        assert!(row.get(key).is_some(), "briefs list lacks {key}: {row}");
    }
    assert_eq!(row["source"], "acme-deprecations");
    assert_eq!(row["provider"], "acme");
    assert_eq!(row["category"], "deprecation");
    assert_eq!(row["status"], "new");
    assert_eq!(row["title"], "acme-large-2407 retires on 2027-01-05");
    assert!(matches!(row["severity"].as_str(), Some("high" | "critical")), "{row}");

    let one: Value = client
        .get(format!("{}/api/v1/briefs/{}", run.base, row["id"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let brief = &one["brief"];
    assert!(
        brief["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "retirement" && f["subject"] == "acme-large-2407" && f["date"] == "2027-01-05"),
        "{brief}"
    );
    assert!(
        brief["what_breaks"][0].as_str().unwrap().contains("route.chat"),
        "{brief}"
    );
    // The same as data, and the line is made from it.
    assert_eq!(brief["affects"][0]["flag"], "route.chat", "{brief}");
    assert_eq!(
        brief["what_breaks"][0].as_str().unwrap(),
        format!(
            "flag route.chat uses {} in variant {}",
            brief["affects"][0]["uses"].as_str().unwrap(),
            brief["affects"][0]["variants"][0].as_str().unwrap()
        )
    );
    assert_eq!(one["owner"], "platform-team");
    let after_link = brief["links"]["after"].as_str().unwrap();
    let snap: Value = reqwest::get(format!("{}{after_link}", run.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(snap["text"].as_str().unwrap().contains("January 5th, 2027"));

    // The lifecycle, with the token's name as the actor.
    let id = row["id"].as_i64().unwrap();
    let act = |action: &'static str, body: Option<Value>| {
        let mut r = client
            .post(format!("{}/api/v1/briefs/{id}/{action}", run.base))
            .bearer_auth(&token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let r = act("acknowledge", None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "acknowledged");
    assert_eq!(
        act("dismiss", None).await.unwrap().status(),
        400,
        "a dismissal needs a reason"
    );
    let r = act(
        "dismiss",
        Some(serde_json::json!({"reason": "we migrate next week anyway"})),
    )
    .await
    .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "dismissed");
    assert_eq!(
        act("acknowledge", None).await.unwrap().status(),
        409,
        "a dismissed brief cannot be acknowledged"
    );
    let one: Value = client
        .get(format!("{}/api/v1/briefs/{id}", run.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events: Vec<(String, String)> = one["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("created".into(), "system".into()),
            ("acknowledged".into(), "oncall".into()),
            ("dismissed".into(), "oncall".into())
        ]
    );
    assert_eq!(one["events"][2]["detail"], "we migrate next week anyway");

    // Reading briefs needs a token with the right scope.
    let r = client.get(format!("{}/api/v1/briefs", run.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_that_comes_closer_raises_the_severity() {
    use signalbox::briefs::BriefWriter;
    let (env, fx) = (Env::new(), Fixture::start().await);
    fx.set(
        "/deprecations.md",
        Page::new("text/markdown", TABLE.replace("RETIRES", "")),
    );
    env.write_source(
        "acme-deprecations",
        "markdown",
        &fx.url("/deprecations.md"),
        "deprecations",
        "",
    );
    write_route_flag(&env);
    let app = env.app().await;
    let src = env.source("acme-deprecations");
    app.watcher.poll(&src).await.unwrap();
    // A retirement far away: high (a flag uses the model), not yet critical.
    let far = (chrono::Utc::now() + chrono::Duration::days(200)).date_naive();
    fx.set(
        "/deprecations.md",
        Page::new(
            "text/markdown",
            TABLE.replace("RETIRES", &far.format("%Y-%m-%d").to_string()),
        ),
    );
    app.watcher.poll(&src).await.unwrap();
    let flags = signalbox::server::flag_service(&env.settings()).await.unwrap();
    let writer = BriefWriter::new(
        app.watcher.store.clone(),
        app.sources.clone(),
        Some(flags),
        signalbox::triage::classify::Rules::load(&[]).unwrap(),
    );
    assert_eq!(writer.run_once().await.unwrap(), 1);
    let store = &app.watcher.store;
    let b = store.briefs(&Default::default()).await.unwrap().remove(0);
    assert_eq!(b.severity.as_str(), "high");
    // Nothing changes while the date is far; 20 days before it, the brief is critical.
    assert_eq!(
        writer
            .reevaluate_deadlines(chrono::Utc::now().date_naive())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        writer
            .reevaluate_deadlines(far - chrono::Duration::days(20))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.brief(b.id).await.unwrap().unwrap().severity.as_str(), "critical");
    let events = store.brief_events(b.id).await.unwrap();
    assert_eq!(events.last().unwrap().action, "severity");
    assert!(
        events
            .last()
            .unwrap()
            .detail
            .as_deref()
            .unwrap()
            .contains("high → critical")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_of_a_provider_in_use_is_a_critical_incident_brief_and_its_recovery_is_reported() {
    use signalbox::briefs::BriefWriter;
    let ok = r#"{"status":{"indicator":"none","description":"All good"},"components":[{"id":"c1","name":"API","status":"operational","group":false}],"incidents":[],"scheduled_maintenances":[]}"#;
    let down = r#"{"status":{"indicator":"major","description":"Outage"},"components":[{"id":"c1","name":"API","status":"major_outage","group":false}],"incidents":[{"id":"i1","name":"API errors","status":"investigating","impact":"major","created_at":"2026-11-25T08:00:00Z","incident_updates":[]}],"scheduled_maintenances":[]}"#;
    let (env, fx) = (Env::new(), Fixture::start().await);
    fx.set("/summary.json", Page::new("application/json", ok));
    env.write_source("acme-status", "statuspage", &fx.url("/summary.json"), "status", "");
    write_route_flag(&env);
    let app = env.app().await;
    let src = env.source("acme-status");
    let writer = BriefWriter::new(
        app.watcher.store.clone(),
        app.sources.clone(),
        Some(signalbox::server::flag_service(&env.settings()).await.unwrap()),
        signalbox::triage::classify::Rules::load(&[]).unwrap(),
    );
    app.watcher.poll(&src).await.unwrap();
    fx.set("/summary.json", Page::new("application/json", down));
    app.watcher.poll(&src).await.unwrap();
    fx.set("/summary.json", Page::new("application/json", ok));
    app.watcher.poll(&src).await.unwrap();
    assert_eq!(writer.run_once().await.unwrap(), 2);
    let store = &app.watcher.store;
    let mut list = store.briefs(&Default::default()).await.unwrap();
    list.reverse();
    let outage = store.brief(list[0].id).await.unwrap().unwrap();
    assert_eq!(outage.category.as_deref(), Some("incident"));
    assert_eq!(outage.severity.as_str(), "critical", "{outage:?}");
    let body = outage.brief.unwrap();
    assert!(
        body["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "status_change" && f["subject"] == "API" && f["new"] == "major_outage")
    );
    assert!(
        body["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "incident" && f["subject"] == "API errors")
    );
    assert!(
        body["what_breaks"][0].as_str().unwrap().contains("route.chat"),
        "{body}"
    );
    let recovery = store.brief(list[1].id).await.unwrap().unwrap();
    assert!(recovery.material, "a recovery is news");
    assert!(
        recovery.brief.unwrap()["action"]
            .as_str()
            .unwrap()
            .starts_with("Recovered")
    );
}
