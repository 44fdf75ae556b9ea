//! Status platforms beyond Statuspage, polled over real HTTP: an AWS status feed through an outage,
//! its recovery and its history leaving the window, then the provider "moving" (the feed replaced by
//! an HTML page): the poll fails with `parse_yield_dropped`, nothing is stored, and the source turns
//! broken. Valid but empty documents (Azure's quiet day, no incident for a product) stay healthy.

use crate::fixture::{Fixture, Page};
use crate::helpers::{Env, counts};
use signalbox::fetch::ErrorClass;
use signalbox::server::App;
use signalbox::watch::PollOutcome;

/// An AWS Health Dashboard per-region feed, items newest first.
fn aws_feed(items: &[&str]) -> Page {
    Page::new(
        "application/rss+xml",
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title><![CDATA[Amazon Bedrock (N. Virginia) Service Status]]></title>
    <link>http://status.aws.amazon.com/</link>
    <lastBuildDate>{}</lastBuildDate>
    <ttl>5</ttl>
    {}
  </channel>
</rss>"#,
            items.len(),
            items.concat()
        ),
    )
}

fn aws_item(title: &str, epoch: u32, date: &str, text: &str) -> String {
    format!(
        r#"<item><title type="text">{title}</title><link>http://status.aws.amazon.com/</link>
      <pubDate>{date}</pubDate>
      <guid isPermaLink="false">http://status.aws.amazon.com/#bedrock-us-east-1_{epoch}</guid>
      <description type="text">{text}</description></item>"#
    )
}

async fn poll(app: &App, env: &Env, id: &str) -> PollOutcome {
    app.watcher.poll(&env.source(id)).await.unwrap().outcome
}

async fn diff_of(app: &App, outcome: PollOutcome) -> serde_json::Value {
    let PollOutcome::Changed { change, .. } = outcome else {
        panic!("expected a change, got {outcome:?}")
    };
    app.watcher.store.change(change).await.unwrap().unwrap().diff.unwrap()
}

async fn health(app: &App, id: &str) -> signalbox::health::SourceRow {
    signalbox::health::source_rows(&app.watcher.store, &app.sources, &app.settings.scheduler)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap()
}

fn assert_yield_dropped(outcome: &PollOutcome) {
    assert!(
        matches!(
            outcome,
            PollOutcome::Failed { class: ErrorClass::ParseYieldDropped, message }
                if message.starts_with("parse yield dropped to zero")
        ),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_status_feed_through_an_outage_a_recovery_and_a_platform_move() {
    use signalbox::briefs::BriefWriter;
    let old_resolved = aws_item(
        "Service is operating normally: [RESOLVED] Increased Latency",
        1751390000,
        "Tue, 01 Jul 2025 12:00:00 PDT",
        "The issue has been resolved and the service is operating normally.",
    );
    let old_opened = aws_item(
        "Performance issues: Increased Latency",
        1751386400,
        "Tue, 01 Jul 2025 11:00:00 PDT",
        "We are investigating increased latency.",
    );
    let opened = aws_item(
        "Service disruption: Increased Error Rates",
        1773160800,
        "Tue, 10 Mar 2026 09:40:00 PDT",
        "We are investigating increased error rates for InvokeModel requests.",
    );
    let resolved = aws_item(
        "Service is operating normally: [RESOLVED] Increased Error Rates",
        1773166200,
        "Tue, 10 Mar 2026 11:10:00 PDT",
        "Between 9:25 AM and 11:02 AM PDT we experienced increased error rates. The issue has been resolved.",
    );

    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source(
        "bedrock-us-east-1",
        "status_feed",
        &fx.url("/rss/bedrock-us-east-1.rss"),
        "status",
        "platform = \"aws\"\ncomponent = \"Bedrock us-east-1\"",
    );
    let app = env.app().await;
    let id = "bedrock-us-east-1";
    let path = "/rss/bedrock-us-east-1.rss";

    // Last year's incident is history: the service is operational.
    fx.set(path, aws_feed(&[&old_resolved, &old_opened]));
    assert!(matches!(poll(&app, &env, id).await, PollOutcome::First { .. }));
    let snap = app.watcher.store.latest_snapshot(id).await.unwrap().unwrap();
    let text = app.watcher.store.blob_text(&snap.text_sha256).await.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["components"][0]["name"], "Bedrock us-east-1");
    assert_eq!(doc["components"][0]["status"], "operational");
    assert_eq!(doc["windowed"], true);

    // The outage.
    fx.set(path, aws_feed(&[&opened, &old_resolved, &old_opened]));
    let d = diff_of(&app, poll(&app, &env, id).await).await;
    assert_eq!(d["type"], "status");
    assert_eq!(d["components"][0]["name"], "Bedrock us-east-1");
    assert_eq!(d["components"][0]["from"], "operational");
    assert_eq!(d["components"][0]["to"], "major_outage");
    assert_eq!(
        d["incidents_opened"][0]["id"],
        "increased error rates @ 2026-03-10T16:40:00Z"
    );
    assert_eq!(d["incidents_opened"][0]["impact"], "critical");
    assert!(d["incidents_resolved"].as_array().unwrap().is_empty());

    // The recovery: the feed says so.
    fx.set(path, aws_feed(&[&resolved, &opened, &old_resolved, &old_opened]));
    let d = diff_of(&app, poll(&app, &env, id).await).await;
    assert_eq!(d["components"][0]["to"], "operational");
    assert_eq!(
        d["incidents_resolved"][0]["id"],
        "increased error rates @ 2026-03-10T16:40:00Z"
    );
    assert_eq!(d["incidents_resolved"][0]["status"], "resolved");

    // Last year's incident leaves the feed: a change of the document, but nothing was resolved.
    fx.set(path, aws_feed(&[&resolved, &opened]));
    let d = diff_of(&app, poll(&app, &env, id).await).await;
    assert_eq!(
        d["type"], "text",
        "no component moved, no incident opened or resolved: {d:#}"
    );
    assert_eq!(counts(&app.watcher.store, id).await, (4, 3));

    // Triage reads these as it reads a Statuspage: the outage is an incident, the recovery is news,
    // the history leaving the window is not.
    let writer = BriefWriter::new(
        app.watcher.store.clone(),
        app.sources.clone(),
        None,
        signalbox::triage::classify::Rules::load(&[]).unwrap(),
    );
    assert_eq!(writer.run_once().await.unwrap(), 3);
    let mut briefs = app.watcher.store.briefs(&Default::default()).await.unwrap();
    briefs.sort_by_key(|b| b.id);
    let material: Vec<(bool, Option<&str>)> = briefs.iter().map(|b| (b.material, b.category.as_deref())).collect();
    assert_eq!(
        material,
        [(true, Some("incident")), (true, Some("incident")), (false, None)]
    );
    assert_eq!(briefs[0].severity.as_str(), "high", "{:?}", briefs[0]);
    // The same facts as a Statuspage: the component's transition and the incident.
    let body = app
        .watcher
        .store
        .brief(briefs[0].id)
        .await
        .unwrap()
        .unwrap()
        .brief
        .unwrap();
    let facts = body["facts"].as_array().unwrap();
    assert!(
        facts.iter().any(|f| f["kind"] == "status_change"
            && f["subject"] == "Bedrock us-east-1"
            && f["old"] == "operational"
            && f["new"] == "major_outage"),
        "{facts:?}"
    );
    assert!(
        facts.iter().any(|f| f["kind"] == "incident" && f["field"] == "opened"),
        "{facts:?}"
    );

    // The provider moves: the feed URL now serves an HTML page. Each poll fails with the yield
    // error and stores nothing; after `broken_after` failures the source is broken.
    fx.set(
        path,
        Page::html("<!doctype html><html><body><h1>Our status page has moved</h1></body></html>"),
    );
    let broken_after = app.settings.scheduler.broken_after;
    for n in 1..=broken_after {
        let outcome = poll(&app, &env, id).await;
        assert_yield_dropped(&outcome);
        let row = health(&app, id).await;
        assert_eq!(row.consecutive_failures, n);
        assert_eq!(row.last_error_class.as_deref(), Some("parse_yield_dropped"));
        assert_eq!(row.health, if n < broken_after { "failing" } else { "broken" });
    }
    assert_eq!(counts(&app.watcher.store, id).await, (4, 3), "nothing was stored");

    // The feed comes back as it was: healthy again, and no change.
    fx.set(path, aws_feed(&[&resolved, &opened]));
    assert_eq!(poll(&app, &env, id).await, PollOutcome::Unchanged);
    assert_eq!(health(&app, id).await.health, "ok");
}

#[tokio::test]
async fn a_history_feed_emptied_or_a_summary_without_components_is_a_dropped_yield() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source(
        "xai",
        "status_feed",
        &fx.url("/feed.xml"),
        "status",
        "platform = \"xai\"",
    );
    env.write_source("acme", "statuspage", &fx.url("/summary.json"), "status", "");
    let app = env.app().await;
    let channel = |items: &str| {
        Page::new(
            "application/rss+xml",
            format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>SpaceXAI System Status</title>\
                 <link>https://status.x.ai</link>{items}</channel></rss>"
            ),
        )
    };
    fx.set(
        "/feed.xml",
        channel(
            "<item><title>[API] Elevated errors</title><guid>INC1</guid>\
             <pubDate>Mon, 05 Jan 2026 10:00:00 GMT</pubDate><category>disruption</category>\
             <category>resolved</category><description>Status: RESOLVED</description></item>",
        ),
    );
    assert!(matches!(poll(&app, &env, "xai").await, PollOutcome::First { .. }));
    // A feed that keeps a history does not lose all of it overnight.
    fx.set("/feed.xml", channel(""));
    assert_yield_dropped(&poll(&app, &env, "xai").await);
    assert_eq!(counts(&app.watcher.store, "xai").await, (1, 0));

    fx.set(
        "/summary.json",
        Page::new(
            "application/json",
            r#"{"status": {"indicator": "none", "description": "All good"},
                "components": [{"id": "c1", "name": "API", "status": "operational"}]}"#,
        ),
    );
    assert!(matches!(poll(&app, &env, "acme").await, PollOutcome::First { .. }));
    fx.set(
        "/summary.json",
        Page::new("application/json", r#"{"status": {"indicator": "none"}}"#),
    );
    assert_yield_dropped(&poll(&app, &env, "acme").await);
    assert_eq!(counts(&app.watcher.store, "acme").await, (1, 0));
}

#[tokio::test]
async fn empty_but_valid_documents_are_all_operational() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source(
        "azure-openai",
        "status_feed",
        &fx.url("/azure/feed/"),
        "status",
        "platform = \"azure\"\nkeyword = \"Azure OpenAI\"",
    );
    env.write_source(
        "vertex",
        "gcp_status",
        &fx.url("/incidents.json"),
        "status",
        "product = \"Z0FZJAMvEB4j3NbCJs6B\"",
    );
    let app = env.app().await;
    let azure = |items: &str| {
        Page::new(
            "application/rss+xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss xmlns:a10=\"http://www.w3.org/2005/Atom\" version=\"2.0\">\
                 <channel><title>Azure Status</title><link>https://azure.status.microsoft/en-us/status/</link>\
                 <description>Azure Status</description>{items}</channel></rss>"
            ),
        )
    };
    let openai = "<item><guid isPermaLink=\"false\">4L2P-9XY</guid>\
        <title>Active - Azure OpenAI Service - East US 2 - Service degradation</title>\
        <description>Customers using Azure OpenAI Service in East US 2 may see increased latency. We are investigating.</description>\
        <pubDate>Thu, 12 Mar 2026 14:05:00 Z</pubDate></item>";
    let storage = "<item><guid isPermaLink=\"false\">KT7Q-5D0</guid>\
        <title>Active - Storage - West Europe - Intermittent connectivity</title>\
        <description>Customers using Storage may experience failures.</description>\
        <pubDate>Thu, 12 Mar 2026 12:10:00 Z</pubDate></item>";

    fx.set("/azure/feed/", azure(&format!("{openai}{storage}")));
    assert!(matches!(
        poll(&app, &env, "azure-openai").await,
        PollOutcome::First { .. }
    ));
    // Azure's feed lists current events only: the event leaving it is its end.
    fx.set("/azure/feed/", azure(storage));
    let d = diff_of(&app, poll(&app, &env, "azure-openai").await).await;
    assert_eq!(d["components"][0]["name"], "Azure OpenAI");
    assert_eq!(d["components"][0]["from"], "degraded");
    assert_eq!(d["components"][0]["to"], "operational");
    assert_eq!(d["incidents_resolved"][0]["id"], "4L2P-9XY");
    // A quiet day for all of Azure: no item at all, still nothing to report and nothing broken.
    fx.set("/azure/feed/", azure(""));
    assert_eq!(poll(&app, &env, "azure-openai").await, PollOutcome::Unchanged);
    assert_eq!(health(&app, "azure-openai").await.health, "ok");

    // Google Cloud with incidents of other products only: the product is operational.
    let bigquery = r#"[{"id": "bq1", "begin": "2026-03-01T09:00:00+00:00", "external_desc": "BigQuery errors",
        "status_impact": "SERVICE_OUTAGE", "severity": "high", "service_name": "BigQuery",
        "affected_products": [{"title": "BigQuery", "id": "9CcrhHUcFevXPSVaSxkf"}],
        "most_recent_update": {"created": "2026-03-01T09:10:00+00:00", "status": "SERVICE_OUTAGE", "text": "Investigating"}}]"#;
    fx.set("/incidents.json", Page::new("application/json", bigquery));
    assert!(matches!(poll(&app, &env, "vertex").await, PollOutcome::First { .. }));
    let snap = app.watcher.store.latest_snapshot("vertex").await.unwrap().unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&app.watcher.store.blob_text(&snap.text_sha256).await.unwrap()).unwrap();
    assert_eq!(doc["components"][0]["status"], "operational");
    assert!(doc["incidents"].as_array().unwrap().is_empty());
    // An HTML error page instead of the JSON is a dropped yield, not "no incident".
    fx.set("/incidents.json", Page::html("<html><body>Error 502</body></html>"));
    assert_yield_dropped(&poll(&app, &env, "vertex").await);
}
