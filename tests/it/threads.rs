//! Status incidents are threads, end to end over HTTP: a fixture Statuspage incident opens, gets
//! three updates, escalates and resolves, watched by the real server every second. Exactly three
//! briefs (opened, escalated, resolved), the three updates on the first brief's timeline, and one
//! notification per brief at a real webhook receiver on 127.0.0.1.

use crate::fixture::{Fixture, Page};
use crate::helpers::{Env, spawn_app_with};
use axum::body::Bytes;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A Statuspage summary: the API component's status and, when open, the incident
/// `(status, impact, update body, affected components)`.
fn summary(api: &str, console: &str, incident: Option<(&str, &str, &str, &[&str])>) -> Page {
    let mut v = json!({
        "page": {"id": "p", "name": "Acme", "updated_at": format!("2026-12-01T10:{:02}:00Z", rand_minute(api, incident))},
        "status": {"indicator": "none", "description": "ok"},
        "components": [
            {"id": "c1", "name": "API", "status": api, "group": false, "position": 1},
            {"id": "c2", "name": "Console", "status": console, "group": false, "position": 2}
        ],
        "incidents": [],
        "scheduled_maintenances": []
    });
    if let Some((status, impact, body, comps)) = incident {
        v["incidents"] = json!([{
            "id": "inc-42", "name": "Elevated error rates", "status": status, "impact": impact,
            "created_at": "2026-12-01T10:00:00Z", "shortlink": "https://stspg.io/x",
            "incident_updates": [{"id": format!("u-{}", body.len()), "status": status, "body": body,
                "created_at": format!("2026-12-01T10:{:02}:00Z", body.len() % 60)}],
            "components": comps.iter().map(|c| json!({"id": if *c == "API" { "c1" } else { "c2" }, "name": c, "status": api})).collect::<Vec<_>>()
        }]);
    }
    Page::new("application/json", v.to_string())
}

/// Noise Statuspage changes on every refresh (`page.updated_at`): dropped by the extractor.
fn rand_minute(api: &str, incident: Option<(&str, &str, &str, &[&str])>) -> usize {
    (api.len() + incident.map(|i| i.2.len()).unwrap_or(0)) % 60
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incident_with_updates_is_one_thread_of_three_briefs() {
    let fx = Fixture::start().await;
    fx.set("/summary.json", summary("operational", "operational", None));
    let env = Env::new();
    env.write_source(
        "acme-status",
        "statuspage",
        &fx.url("/summary.json"),
        "status",
        "schedule = \"* * * * * *\"",
    );
    // A webhook receiver that takes every brief.
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let mut settings = env.settings();
    settings.notify.poll_ms = 100;
    settings.notify.sinks = vec![
        toml::from_str(&format!(
            "name = \"oncall\"\nkind = \"webhook\"\nurl = \"{hook}\"\nsecret = \"{}\"\nevents = [\"brief.created\"]",
            signalbox::notify::generate_secret()
        ))
        .unwrap(),
    ];
    let store = signalbox::store::Store::open(&settings.database).await.unwrap();
    let envs = settings.serving.environments.clone();
    let token = signalbox::auth::create_token(&store, "oncall", &["briefs:write".into()], "production", &envs, "test")
        .await
        .unwrap()
        .token;
    store.close().await;
    let run = spawn_app_with(settings).await;
    let client = reqwest::Client::new();
    let get = |path: String| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            client
                .get(path)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let changes = || get(format!("{}/api/v1/sources/acme-status/changes", run.base));
    let wait = |what: &'static str, n: usize| async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let c = changes().await;
            if c.as_array().is_some_and(|a| a.len() >= n) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let snapshots = format!("{}/api/v1/sources/acme-status/snapshots", run.base);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(snapshots.clone()).await.as_array().is_none_or(|a| a.is_empty()) {
        assert!(Instant::now() < deadline, "no first version");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let api_only: &[&str] = &["API"];
    let both: &[&str] = &["API", "Console"];
    let steps = [
        // Opened: API degraded.
        summary(
            "degraded_performance",
            "operational",
            Some((
                "investigating",
                "minor",
                "We are investigating elevated error rates.",
                api_only,
            )),
        ),
        // Three updates that change no state.
        summary(
            "degraded_performance",
            "operational",
            Some(("identified", "minor", "The cause has been identified.", api_only)),
        ),
        summary(
            "degraded_performance",
            "operational",
            Some((
                "identified",
                "minor",
                "A fix is being rolled out to all regions.",
                api_only,
            )),
        ),
        summary(
            "degraded_performance",
            "operational",
            Some((
                "monitoring",
                "minor",
                "The fix is deployed; we are monitoring results.",
                api_only,
            )),
        ),
        // Escalated: the API is down and the console is now affected.
        summary(
            "major_outage",
            "partial_outage",
            Some((
                "identified",
                "critical",
                "Errors increased again; the console is affected.",
                both,
            )),
        ),
        // Resolved: gone from the summary, everything operational.
        summary("operational", "operational", None),
    ];
    for (i, page) in steps.into_iter().enumerate() {
        fx.set("/summary.json", page);
        wait("the change", i + 1).await;
    }
    // Every change triaged.
    let deadline = Instant::now() + Duration::from_secs(30);
    let briefs = loop {
        let b = get(format!("{}/api/v1/briefs?source=acme-status", run.base)).await;
        let all = b.as_array().unwrap().clone();
        let first = all.iter().map(|x| x["id"].as_i64().unwrap()).min();
        let timeline = match first {
            Some(id) => get(format!("{}/api/v1/briefs/{id}", run.base)).await["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["action"] == "update")
                .count(),
            None => 0,
        };
        if all.len() >= 3 && timeline >= 3 {
            break all;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {} brief(s), {timeline} update(s)",
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(briefs.len(), 3, "{briefs:#?}");
    let mut briefs = briefs;
    briefs.sort_by_key(|b| b["id"].as_i64());
    let titles: Vec<&str> = briefs.iter().map(|b| b["title"].as_str().unwrap()).collect();
    assert!(titles[0].contains("incident: Elevated error rates"), "{titles:?}");
    assert!(titles[1].contains("escalated"), "{titles:?}");
    assert!(titles[2].contains("resolved"), "{titles:?}");
    assert!(
        briefs
            .iter()
            .all(|b| b["material"] == true && b["category"] == "incident")
    );

    // The updates are on the first brief's timeline, in order, with what they said.
    let first = get(format!("{}/api/v1/briefs/{}", run.base, briefs[0]["id"])).await;
    let updates: Vec<String> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "update")
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(updates.len(), 3, "{updates:?}");
    assert!(
        updates[0].contains("identified: The cause has been identified."),
        "{updates:?}"
    );
    assert!(updates[1].contains("A fix is being rolled out"), "{updates:?}");
    assert!(updates[2].contains("monitoring"), "{updates:?}");
    // The escalation's facts: the incident escalated and the components' transitions.
    let second = get(format!("{}/api/v1/briefs/{}", run.base, briefs[1]["id"])).await;
    let facts = second["brief"]["facts"].as_array().unwrap().clone();
    assert!(
        facts
            .iter()
            .any(|f| f["kind"] == "incident" && f["field"] == "escalated" && f["new"] == "critical"),
        "{facts:?}"
    );
    assert!(
        facts
            .iter()
            .any(|f| f["kind"] == "status_change" && f["subject"] == "Console" && f["new"] == "partial_outage"),
        "{facts:?}"
    );

    // One notification per brief, none for the updates.
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.lock().unwrap().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "{} notification(s)",
            got.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "{got:#?}");
    let mut ids: Vec<i64> = got.iter().map(|n| n["data"]["brief_id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(
        ids,
        briefs.iter().map(|b| b["id"].as_i64().unwrap()).collect::<Vec<_>>()
    );
}
