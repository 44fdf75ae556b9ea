//! `signalbox demo`: the whole loop on one machine with no network. A stand-in vendor site
//! (`fixture.rs`) serves Acme AI's status page, deprecation table, price table and usage policy;
//! a real signalbox (the same `server::serve` as production, with its own SQLite file in a
//! temporary directory) watches them every second; the script changes one document at a time and
//! waits for signalbox to notice, printing the brief, the playbook's decision and what an app
//! reading the flags over OFREP gets at each step.

mod documents;
mod fixture;

use crate::config::Settings;
use crate::server::{App, AppError};
use crate::store::{BriefFilter, BriefRecord, DecisionFilter, DecisionRecord, Store, StoreError};
use serde::Serialize;
use serde_json::{Value, json};
use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("demo: cannot reach the demo server: {0}")]
    Http(#[from] reqwest::Error),
    #[error("demo: gave up waiting for {0} (60 s)")]
    Timeout(String),
}

pub struct DemoOptions {
    /// Where the API is served (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// A pause between steps, for people reading along.
    pub pause: Duration,
    /// Stop once the script is done instead of serving until Ctrl-C.
    pub exit_when_done: bool,
    /// Keep the demo's files (database, sources, flags) here instead of a temporary directory
    /// removed at exit; it must be empty or absent.
    pub data_dir: Option<std::path::PathBuf>,
}

/// What one step of the script produced.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: &'static str,
    /// Briefs written during the step, with their bodies.
    pub briefs: Vec<BriefRecord>,
    /// Decisions made or moved during the step.
    pub decisions: Vec<DecisionRecord>,
    /// What an app gets from OFREP for `route.chat` and `cap.image-generation` after the step.
    pub route_chat: Value,
    pub image_generation: Value,
}

const FLAGS: &str = r#"# The demo's flags: Acme AI is the primary chat vendor, Globex the failover.
flags:
  route.chat:
    state: ENABLED
    defaultVariant: primary
    variants:
      primary: { schema: ai-route/v1, enabled: true, targets: [{ provider: acme, model: acme-large-2407, timeout_ms: 30000 }, { provider: acme, model: acme-large-2411, timeout_ms: 30000 }] }
      failover: { schema: ai-route/v1, enabled: true, targets: [{ provider: globex, model: globex-chat-3, timeout_ms: 30000 }] }
      "off": { schema: ai-route/v1, enabled: false, targets: [] }
    metadata: { owner: platform-team, providers: [acme/acme-large-2407, acme/acme-large-2411, globex/globex-chat-3], approvals: 2 }
  cap.image-generation:
    state: ENABLED
    defaultVariant: "on"
    variants: { "on": true, "off": false }
    metadata: { owner: media-team, providers: [acme/acme-image-2] }
"#;

const PLAYBOOKS: &str = r#"[[playbook]]
name = "chat-failover-on-acme-outage"
description = "Route chat to Globex while Acme's API is down; back after 5 quiet seconds (15 minutes in real life)"
[playbook.when]
provider = "acme"
component = "^api$"
statuses = ["major_outage", "partial_outage"]
[playbook.then]
flag = "route.chat"
env = "production"
action = "serve"
variant = "failover"
revert_after = "5s"
"#;

/// One step: a document changes, and what to wait for before the next.
struct Step {
    name: &'static str,
    say: &'static str,
    path: &'static str,
    content_type: &'static str,
    body: String,
    /// The `route.chat` variant to wait for after the brief, if the step moves it.
    route_variant: Option<&'static str>,
}

/// Runs the demo until the script is done (and, unless `exit_when_done`, until `shutdown`).
/// `say` receives every line meant for the person watching.
pub async fn run(
    opts: DemoOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut say: impl FnMut(String),
) -> Result<Vec<StepReport>, DemoError> {
    let started = Instant::now();
    let mut say = move |line: String| say(format!("[{:>5.1}s] {line}", started.elapsed().as_secs_f64()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let site = fixture::VendorSite::start(stop_rx.clone()).await?;
    let today = chrono::Utc::now().date_naive();
    site.set(
        "/api/v2/summary.json",
        "application/json",
        documents::status("operational"),
    );
    site.set(
        "/docs/deprecations.md",
        "text/markdown",
        documents::deprecations(today, false),
    );
    site.set("/pricing", "text/html; charset=utf-8", documents::pricing(false));
    site.set(
        "/legal/usage-policy",
        "text/html; charset=utf-8",
        documents::usage_policy(today, false),
    );

    // A temporary directory (removed at exit) unless the user asked to keep the data.
    let temp = match &opts.data_dir {
        None => Some(tempfile::Builder::new().prefix("signalbox-demo-").tempdir()?),
        Some(d) => {
            if d.exists() && std::fs::read_dir(d)?.next().is_some() {
                return Err(DemoError::Io(std::io::Error::other(format!(
                    "{} is not empty: the demo writes a fresh database there",
                    d.display()
                ))));
            }
            std::fs::create_dir_all(d)?;
            None
        }
    };
    let dir_path = temp
        .as_ref()
        .map(|t| t.path().to_path_buf())
        .or_else(|| opts.data_dir.clone())
        .expect("one of the two");
    let dir = &dir_path;
    let settings = demo_settings(dir, &site, &opts.listen)?;
    let store = Store::open(&settings.database).await?;
    let envs = settings.serving.environments.clone();
    let app_token = crate::auth::create_token(&store, "demo-app", &["flags:read".into()], "production", &envs, "demo")
        .await
        .map_err(|e| DemoError::Timeout(format!("a token: {e}")))?
        .token;
    let admin_token = crate::auth::create_token(&store, "demo-admin", &["admin".into()], "production", &envs, "demo")
        .await
        .map_err(|e| DemoError::Timeout(format!("a token: {e}")))?
        .token;

    let listener = tokio::net::TcpListener::bind(&settings.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = App::build(settings).await?;
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(crate::server::serve(app, listener, async move {
        crate::flags::stopped(&mut server_stop).await;
    }));

    say(format!("signalbox is serving at {base}  (data in {})", dir.display()));
    say(format!("Acme AI's stand-in web site is at http://{}", site.addr));
    say(format!(
        "try:  curl -H 'Authorization: Bearer {admin_token}' {base}/api/v1/briefs"
    ));
    say(format!(
        "      curl -X POST -H 'Authorization: Bearer {app_token}' -H 'content-type: application/json' \
         -d '{{\"context\":{{\"targetingKey\":\"user-1\"}}}}' {base}/ofrep/v1/evaluate/flags/route.chat"
    ));

    let http = reqwest::Client::new();
    let ofrep = |key: &'static str| {
        let (http, base, token) = (http.clone(), base.clone(), app_token.clone());
        async move {
            http.post(format!("{base}/ofrep/v1/evaluate/flags/{key}"))
                .bearer_auth(token)
                .json(&json!({"context": {"targetingKey": "user-1"}}))
                .send()
                .await?
                .json::<Value>()
                .await
        }
    };

    // The first version of every document is the baseline: no change, no brief.
    let sources = ["acme-status", "acme-deprecations", "acme-pricing", "acme-usage-policy"];
    wait_until("the first version of every document", || async {
        for s in sources {
            if store.latest_snapshot(s).await?.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await?;
    say("watching 4 Acme AI documents (status, deprecations, pricing, usage policy); every version is stored".into());
    say(describe_flag("route.chat", &ofrep("route.chat").await?));

    let steps = vec![
        Step {
            name: "outage",
            say: "Acme's status page: the API is in a major outage",
            path: "/api/v2/summary.json",
            content_type: "application/json",
            body: documents::status("outage"),
            route_variant: Some("failover"),
        },
        Step {
            name: "retirement",
            say: "Acme's deprecation table: acme-large-2407 (what route.chat serves) gets a retirement date",
            path: "/docs/deprecations.md",
            content_type: "text/markdown",
            body: documents::deprecations(today, true),
            route_variant: None,
        },
        Step {
            name: "price",
            say: "Acme's price table: acme-large-2411's output price rises",
            path: "/pricing",
            content_type: "text/html; charset=utf-8",
            body: documents::pricing(true),
            route_variant: None,
        },
        Step {
            name: "policy",
            say: "Acme's usage policy gains a prohibition",
            path: "/legal/usage-policy",
            content_type: "text/html; charset=utf-8",
            body: documents::usage_policy(today, true),
            route_variant: None,
        },
        Step {
            name: "recovery",
            say: "Acme's status page: the incident is resolved",
            path: "/api/v2/summary.json",
            content_type: "application/json",
            body: documents::status("recovered"),
            route_variant: Some("primary"),
        },
    ];

    let mut reports = Vec::new();
    let (mut last_brief, mut last_audit) = (0i64, store.audit_head_id().await?);
    for step in steps {
        tokio::time::sleep(opts.pause).await;
        say(format!("── {}", step.say));
        site.set(step.path, step.content_type, step.body);
        let source = sources[match step.path {
            "/api/v2/summary.json" => 0,
            "/docs/deprecations.md" => 1,
            "/pricing" => 2,
            _ => 3,
        }];
        wait_until(&format!("a brief about {source}"), || async {
            Ok(new_briefs(&store, last_brief).await?.iter().any(|b| b.source == source))
        })
        .await?;
        let mut briefs = new_briefs(&store, last_brief).await?;
        for b in &briefs {
            say_brief(&mut say, b);
        }
        last_brief = briefs.iter().map(|b| b.id).max().unwrap_or(last_brief);
        if let Some(variant) = step.route_variant {
            if variant == "primary" {
                say("  the playbook waits for 5 quiet seconds before reverting the failover".into());
            }
            wait_until(&format!("route.chat to serve {variant}"), || async {
                Ok(ofrep("route.chat")
                    .await
                    .map(|v| v["variant"] == variant)
                    .unwrap_or(false))
            })
            .await?;
        }
        // Briefs that arrived while waiting (none in this script, but a real page may change twice).
        let late = new_briefs(&store, last_brief).await?;
        for b in &late {
            say_brief(&mut say, b);
        }
        last_brief = late.iter().map(|b| b.id).max().unwrap_or(last_brief);
        briefs.extend(late);
        let decisions = moved_decisions(&store, &mut last_audit, &mut say).await?;
        let (route_chat, image_generation) = (ofrep("route.chat").await?, ofrep("cap.image-generation").await?);
        say(describe_flag("route.chat", &route_chat));
        reports.push(StepReport {
            step: step.name,
            briefs,
            decisions,
            route_chat,
            image_generation,
        });
    }

    let verified = crate::api::audit::verify_chain(&store).await?;
    say(format!(
        "done: {} briefs, audit log intact ({} events, head {})",
        reports.iter().map(|r| r.briefs.len()).sum::<usize>(),
        verified.checked,
        &verified.head()[..12]
    ));
    if !opts.exit_when_done {
        say(format!("the API is still at {base}; press Ctrl-C to stop"));
        shutdown.await;
    }
    let _ = stop_tx.send(true);
    store.close().await;
    match server.await {
        Ok(r) => r?,
        Err(e) => return Err(DemoError::Timeout(format!("the server task: {e}"))),
    }
    Ok(reports)
}

fn demo_settings(dir: &std::path::Path, site: &fixture::VendorSite, listen: &str) -> Result<Settings, DemoError> {
    std::fs::create_dir_all(dir.join("sources"))?;
    std::fs::create_dir_all(dir.join("flags"))?;
    let every_second = "schedule = \"* * * * * *\"";
    std::fs::write(
        dir.join("sources/acme.toml"),
        format!(
            "# Acme AI, served by the demo's stand-in site.\nprovider = \"acme\"\nowner = \"platform-team\"\n\n\
             [[source]]\nid = \"acme-status\"\nkind = \"statuspage\"\nurl = \"{}\"\ndoc_type = \"status\"\n{every_second}\n\n\
             [[source]]\nid = \"acme-deprecations\"\nkind = \"markdown\"\nurl = \"{}\"\ndoc_type = \"deprecations\"\n{every_second}\n\n\
             [[source]]\nid = \"acme-pricing\"\nkind = \"html\"\nurl = \"{}\"\ndoc_type = \"pricing\"\nselect = [\"main\"]\n{every_second}\n\n\
             [[source]]\nid = \"acme-usage-policy\"\nkind = \"html\"\nurl = \"{}\"\ndoc_type = \"policy\"\nselect = [\"main\"]\n{every_second}\n",
            site.url("/api/v2/summary.json"),
            site.url("/docs/deprecations.md"),
            site.url("/pricing"),
            site.url("/legal/usage-policy"),
        ),
    )?;
    std::fs::write(dir.join("flags/routes.yaml"), FLAGS)?;
    std::fs::write(dir.join("flags/playbooks.toml"), PLAYBOOKS)?;
    let mut s = Settings {
        sources: dir.join("sources"),
        flags: dir.join("flags"),
        database: format!("sqlite://{}", dir.join("signalbox.db").display()),
        listen: listen.to_owned(),
        // The stand-in site is on 127.0.0.1; nothing else is fetched.
        allow_private_networks: true,
        ..Settings::default()
    };
    s.scheduler.jitter_secs = 0;
    s.decisions.tick_ms = 200;
    s.fetch.timeout_ms = 5_000;
    s.fetch.retries = 0;
    Ok(s)
}

/// Polls `check` every 100 ms for up to a minute.
async fn wait_until<F, Fut>(what: &str, mut check: F) -> Result<(), DemoError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, StoreError>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await? {
        if Instant::now() > deadline {
            return Err(DemoError::Timeout(what.to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Briefs written after `after`, oldest first, with their bodies.
async fn new_briefs(store: &Store, after: i64) -> Result<Vec<BriefRecord>, StoreError> {
    let mut all = store.briefs_with_bodies(&BriefFilter::default()).await?;
    all.retain(|b| b.id > after);
    all.reverse();
    Ok(all)
}

/// Decisions the audit log shows moving since `cursor`, told as they happened.
async fn moved_decisions(
    store: &Store,
    cursor: &mut i64,
    say: &mut impl FnMut(String),
) -> Result<Vec<DecisionRecord>, StoreError> {
    let events = store
        .audit_events(&crate::store::AuditFilter {
            after_id: Some(*cursor),
            limit: 1000,
            ..Default::default()
        })
        .await?;
    let mut ids = Vec::new();
    for e in &events {
        *cursor = e.id;
        match e.action.as_str() {
            "playbook.fired" => say(format!(
                "  playbook {} fired: decision #{} serves {} on {} in {} (pre-approved, audited)",
                e.object_id, e.payload["decision"], e.payload["variant"], e.payload["flag"], e.payload["env"]
            )),
            "decision.revert_scheduled" => say(format!(
                "  decision #{}: revert scheduled after the quiet period",
                e.object_id
            )),
            "decision.reverted" => say(format!("  decision #{} reverted by {}", e.object_id, e.actor)),
            _ => {}
        }
        if e.object_type == "decision"
            && let Ok(id) = e.object_id.parse::<i64>()
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    let mut out = Vec::new();
    for d in store.decisions(&DecisionFilter::default()).await? {
        if ids.contains(&d.id) {
            out.push(d);
        }
    }
    Ok(out)
}

fn say_brief(say: &mut impl FnMut(String), b: &BriefRecord) {
    if !b.material {
        return;
    }
    say(format!("  brief #{} [{}] {}", b.id, b.severity, b.title));
    let body = b.brief.clone().unwrap_or(Value::Null);
    for f in body["facts"].as_array().into_iter().flatten().take(4) {
        let part = |k: &str| f[k].as_str().map(|v| format!(" {k}={v}")).unwrap_or_default();
        say(format!(
            "    fact: {}{}{}{}{}{}",
            f["kind"].as_str().unwrap_or("?"),
            part("subject"),
            part("field"),
            part("old"),
            part("new"),
            part("unit")
        ));
    }
    for w in body["what_breaks"].as_array().into_iter().flatten().take(3) {
        say(format!("    affects: {}", w.as_str().unwrap_or("")));
    }
    if let Some(a) = body["action"].as_str() {
        say(format!("    action: {a}"));
    }
}

fn describe_flag(key: &str, v: &Value) -> String {
    let target = &v["value"]["targets"][0];
    let route = match (target["provider"].as_str(), target["model"].as_str()) {
        (Some(p), Some(m)) => format!(" → {p}/{m}"),
        _ => String::new(),
    };
    let decision = match v["metadata"]["decisionId"].as_i64() {
        Some(id) => format!(
            " (decision #{id}, approved by {})",
            v["metadata"]["approvedBy"].as_str().unwrap_or("?")
        ),
        None => " (the flag file's default)".into(),
    };
    format!(
        "  an app asking OFREP for {key} gets: {}{route}{decision}",
        v["variant"].as_str().unwrap_or("?")
    )
}
