//! The offline demo's scripted history, end to end: the briefs, their facts, the playbook's
//! decision and what an OFREP client gets at each step.

use serde_json::Value;
use signalbox::demo::{DemoOptions, StepReport, run};
use std::time::Duration;

fn material(r: &StepReport) -> Vec<&signalbox::store::BriefRecord> {
    r.briefs.iter().filter(|b| b.material).collect()
}

fn facts(b: &signalbox::store::BriefRecord) -> Vec<Value> {
    b.brief.as_ref().unwrap()["facts"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs_its_whole_story_offline() {
    let mut lines = Vec::new();
    let reports = run(
        DemoOptions {
            listen: "127.0.0.1:0".into(),
            pause: Duration::ZERO,
            exit_when_done: true,
            data_dir: None,
        },
        std::future::pending(),
        |l| lines.push(l),
    )
    .await
    .unwrap();
    let step = |name: &str| reports.iter().find(|r| r.step == name).unwrap();
    assert_eq!(
        reports.iter().map(|r| r.step).collect::<Vec<_>>(),
        ["outage", "retirement", "price", "policy", "recovery"]
    );

    // 1. The outage: a critical incident brief, the playbook fails chat over to Globex.
    let outage = step("outage");
    let b = material(outage);
    assert_eq!(b.len(), 1);
    assert_eq!(
        (b[0].category.as_deref(), b[0].severity.as_str()),
        (Some("incident"), "critical")
    );
    assert!(
        facts(b[0])
            .iter()
            .any(|f| f["kind"] == "status_change" && f["subject"] == "API" && f["new"] == "major_outage")
    );
    assert_eq!(outage.route_chat["variant"], "failover");
    assert_eq!(outage.route_chat["value"]["targets"][0]["provider"], "globex");
    let decision = &outage.decisions[0];
    assert_eq!(
        (decision.status.as_str(), decision.origin.as_str()),
        ("active", "playbook:chat-failover-on-acme-outage")
    );
    assert_eq!(outage.route_chat["metadata"]["decisionId"], decision.id);
    assert_eq!(outage.route_chat["metadata"]["briefId"], b[0].id);

    // 2. The retirement of the model route.chat serves: critical (21 days away), naming the flag.
    let b = material(step("retirement"));
    assert_eq!(
        (b[0].category.as_deref(), b[0].severity.as_str()),
        (Some("deprecation"), "critical")
    );
    let expected = (chrono::Utc::now().date_naive() + chrono::Duration::days(21)).to_string();
    assert!(
        facts(b[0])
            .iter()
            .any(|f| f["kind"] == "retirement" && f["subject"] == "acme-large-2407" && f["date"] == expected.as_str()),
        "{:?}",
        facts(b[0])
    );
    let body = b[0].brief.as_ref().unwrap();
    assert!(body["what_breaks"].to_string().contains("route.chat"));

    // 3. The price rise on a model the route uses: the field, the unit, old and new.
    let b = material(step("price"));
    assert_eq!(b[0].category.as_deref(), Some("pricing"));
    let price = facts(b[0]).into_iter().find(|f| f["kind"] == "price").unwrap();
    assert_eq!(
        (
            &price["subject"],
            &price["field"],
            &price["old"],
            &price["new"],
            &price["unit"]
        ),
        (
            &Value::from("acme-large-2411"),
            &Value::from("output"),
            &Value::from("8"),
            &Value::from("10"),
            &Value::from("per 1M tokens")
        )
    );
    assert_eq!(b[0].severity.as_str(), "high");

    // 4. The new prohibition: a policy brief, high, quoting the clause.
    let b = material(step("policy"));
    assert_eq!(
        (b[0].category.as_deref(), b[0].severity.as_str()),
        (Some("policy"), "high")
    );
    assert!(
        facts(b[0])
            .iter()
            .any(|f| f["kind"] == "policy_clause_added" && f["new"].as_str().unwrap().contains("political campaign"))
    );
    assert_eq!(step("policy").route_chat["variant"], "failover", "still failed over");

    // 5. The recovery: reported, and the failover reverted after the quiet period.
    let recovery = step("recovery");
    let b = material(recovery);
    assert!(
        facts(b[0])
            .iter()
            .any(|f| f["kind"] == "status_change" && f["new"] == "operational")
    );
    assert_eq!(recovery.route_chat["variant"], "primary");
    assert!(recovery.route_chat["metadata"].get("decisionId").is_none());
    let d = recovery.decisions.iter().find(|d| d.id == decision.id).unwrap();
    assert_eq!(d.status, signalbox::domain::decision::DecisionStatus::Reverted);
    assert_eq!(recovery.image_generation["value"], true);

    // What the person watching reads.
    let text = lines.join("\n");
    for needle in [
        "signalbox is serving at http://127.0.0.1:",
        "playbook chat-failover-on-acme-outage fired",
        "gets: failover → globex/globex-chat-3 (decision #",
        "acme-large-2407 retires on",
        "audit log intact",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
}
