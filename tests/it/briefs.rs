//! End to end: a provider page changes a model's retirement date, the watcher polls, triage
//! writes a brief with the right facts, severity and the flag it affects.

use crate::fixture::{Fixture, Page};
use crate::helpers::{Env, spawn_app};
use serde_json::Value;
use std::time::{Duration, Instant};

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
    let token = signalbox::auth::create_token(&store, "oncall", &["briefs:write".into()], "production", &envs)
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
    assert_eq!(one["owner"], "platform-team");

    // Reading briefs needs a token with the right scope.
    let r = client.get(format!("{}/api/v1/briefs", run.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
}
