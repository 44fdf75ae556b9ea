//! The routing map, sources page, impact summary and Atom feed over real HTTP with a signed-in
//! session, "Check now" against the fixture server, and `signalbox report` from the binary.

use crate::fixture::{Fixture, Page};
use crate::helpers::{Env, spawn_app};
use chrono::{Duration, Utc};
use serde_json::json;
use signalbox::store::{
    Blob, ChangeKind, NewBrief, NewChange, NewDecision, NewSnapshot, PollResult, PollWrite, SnapRef, SnapshotOrigin,
    Store, UsageDelta,
};
use std::process::Command;

const FLAGS: &str = r#"flags:
  route.chat:
    state: ENABLED
    defaultVariant: primary
    variants:
      primary: { schema: ai-route/v1, enabled: true, targets: [{ provider: acme, model: acme-large-2407 }] }
      failover: { schema: ai-route/v1, enabled: true, targets: [{ provider: other, model: other-1 }] }
    metadata: { owner: platform-team, providers: [acme/acme-large-2407, other/other-1], approvals: 1 }
  cap.images:
    state: ENABLED
    defaultVariant: "on"
    variants: { "on": true, "off": false }
    metadata: { providers: [acme/acme-image-1] }
"#;

fn snap(body: &str) -> NewSnapshot {
    NewSnapshot {
        fetched_at: Utc::now() - Duration::hours(3),
        url: "https://acme.test/doc".into(),
        http_status: Some(200),
        headers: Vec::new(),
        raw: Blob::new(body.as_bytes().to_vec()),
        text: Blob::new(body.as_bytes().to_vec()),
        rules_hash: "r1".into(),
        origin: SnapshotOrigin::Fetch,
    }
}

/// A brief on its own stored change (of a source `seed-N` that no file declares).
async fn brief(
    store: &Store,
    n: usize,
    provider: &str,
    category: &str,
    severity: &str,
    title: &str,
    body: serde_json::Value,
) -> i64 {
    let source = format!("seed-{n}");
    let write = |snapshots, changes, expected_latest| PollWrite {
        source: source.clone(),
        expected_latest,
        url: "https://acme.test/doc".into(),
        at: Utc::now() - Duration::hours(3),
        attempts: Vec::new(),
        snapshots,
        changes,
        result: PollResult::Success {
            validators: Default::default(),
            changed: true,
        },
    };
    let first = store.commit_poll(write(vec![snap("v1")], vec![], None)).await.unwrap();
    let c = NewChange {
        kind: ChangeKind::Change,
        before: SnapRef::Stored(first.snapshots[0]),
        after: SnapRef::New(0),
        diff: json!({"type": "text"}),
    };
    let second = store
        .commit_poll(write(vec![snap("v2")], vec![c], Some(first.snapshots[0])))
        .await
        .unwrap();
    store
        .insert_brief(NewBrief {
            change_id: second.changes[0].id,
            source: &source,
            provider,
            owner: None,
            material: true,
            category: Some(category),
            severity: severity.parse().unwrap(),
            title,
            body,
            threads: Vec::new(),
            now: Utc::now(),
        })
        .await
        .unwrap()
        .id()
}

/// Briefs, an approved decision putting route.chat on its failover, and an app's evaluations.
async fn seed(store: &Store) {
    let soon = (Utc::now() + Duration::days(30)).format("%Y-%m-%d").to_string();
    let retire = brief(
        store,
        1,
        "acme",
        "deprecation",
        "high",
        "acme-large-2407 retires soon",
        json!({"facts": [{"kind": "retirement", "subject": "acme-large-2407", "date": soon}],
            "what_changed": ["acme-large-2407 retires on its new date."],
            "what_breaks": ["flag route.chat uses acme/acme-large-2407 in variant primary"],
            "action": "Move route.chat to its failover."}),
    )
    .await;
    brief(
        store,
        2,
        "acme",
        "pricing",
        "medium",
        "acme-image-1 price 4 → 5 & up",
        json!({"facts": [{"kind": "price", "subject": "acme-image-1", "field": "image", "old": "4", "new": "5", "unit": "USD per 100 images"}],
            "what_changed": ["Image price rose <from 4 to 5>."], "action": "Review the image budget."}),
    )
    .await;
    brief(
        store,
        3,
        "other",
        "incident",
        "low",
        "Other: elevated errors",
        json!({}),
    )
    .await;
    let d = store
        .insert_decision(NewDecision {
            flag: "route.chat",
            env: "production",
            action: signalbox::domain::decision::Action::Serve,
            variant: Some("failover"),
            reason: "move off acme-large-2407",
            brief_id: Some(retire),
            origin: "manual",
            proposed_by: "alice",
            starts_at: None,
            expires_at: Some(Utc::now() + Duration::days(20)),
            approvals_required: 1,
            status: signalbox::domain::decision::DecisionStatus::Proposed,
            now: Utc::now(),
        })
        .await
        .unwrap();
    {
        use signalbox::domain::decision::{self as lifecycle, Verdict};
        let now = Utc::now();
        store
            .transition_decision(d.id, |d, _| {
                lifecycle::vote(d, "bob", Verdict::Approve, None, now).map(|t| vec![t])
            })
            .await
            .unwrap();
        store
            .transition_decision(d.id, |d, active| lifecycle::activate(d, active, "system", now))
            .await
            .unwrap();
    }
    store
        .add_usage(&[UsageDelta {
            flag: "route.chat".into(),
            variant: "failover".into(),
            env: "production".into(),
            token_name: "checkout-app".into(),
            count: 12,
            last_seen: Utc::now() - Duration::hours(1),
        }])
        .await
        .unwrap();
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with a token; returns the `Cookie` header value.
async fn sign_in(client: &reqwest::Client, base: &str, token: &str) -> String {
    let r = client
        .post(format!("{base}/signin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}&next=%2Frouting"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(r.headers()["location"], "/routing");
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("sbx_session="), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

async fn get(client: &reqwest::Client, url: &str, cookie: &str) -> (u16, String) {
    let r = client.get(url).header("cookie", cookie).send().await.unwrap();
    // minijinja escapes `/` in text; read it back as the browser shows it.
    (r.status().as_u16(), r.text().await.unwrap().replace("&#x2f;", "/"))
}

/// The text of the element carrying `data-test="{name}"` (up to its closing tag).
fn cell<'a>(html: &'a str, name: &str) -> &'a str {
    let at = html
        .find(&format!("data-test=\"{name}\""))
        .unwrap_or_else(|| panic!("no data-test={name}"));
    let rest = &html[at..];
    &rest[..rest.find("</td>").unwrap_or(rest.len())]
}

fn variant_in(cell: &str) -> &str {
    let v = &cell[cell.find("data-test=\"variant\"").unwrap()..];
    let v = &v[v.find('>').unwrap() + 1..];
    &v[..v.find('<').unwrap()]
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_feed_and_check_now_over_http() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    fx.set(
        "/models.html",
        Page::html("<main><h1>Models</h1><p>acme-large-2407</p></main>"),
    );
    env.write_source(
        "acme-models",
        "html",
        &fx.url("/models.html"),
        "models",
        "schedule = \"0 0 0 1 1 *\"",
    );
    env.write_source(
        "acme-console",
        "html",
        &fx.url("/console.html"),
        "models",
        "enabled = false\nconfirmed = false\nrenders_with_js = true\nalternative = \"acme-models\"",
    );
    std::fs::write(env.dir.path().join("flags/routes.yaml"), FLAGS).unwrap();
    let settings = env.settings();
    let store = Store::open(&settings.database).await.unwrap();
    let envs = settings.serving.environments.clone();
    let mk = |name: &'static str, scope: &'static str| {
        let (store, envs) = (store.clone(), envs.clone());
        async move {
            signalbox::auth::create_token(&store, name, &[scope.into()], "production", &envs, "test")
                .await
                .unwrap()
                .token
        }
    };
    let owner = mk("owner", "briefs:write").await;
    let reader = mk("reader", "flags:read").await;
    let admin = mk("root", "admin").await;
    seed(&store).await;
    store.close().await;
    let run = spawn_app(&env).await;
    let base = run.base.clone();
    let client = no_redirects();
    let cookie = sign_in(&client, &base, &owner).await;

    // Routing: production is on the failover by decision, staging on the file default.
    let (status, html) = get(&client, &format!("{base}/routing"), &cookie).await;
    assert_eq!(status, 200, "{html}");
    let prod = cell(&html, "route-production-route.chat");
    assert_eq!(variant_in(prod), "failover", "{prod}");
    assert!(
        prod.contains("/decisions#d") && prod.contains("approved by bob"),
        "{prod}"
    );
    assert_eq!(variant_in(cell(&html, "route-staging-route.chat")), "primary");
    assert_eq!(variant_in(cell(&html, "route-production-cap.images")), "on");
    let prod_row = &html[html.find("data-test=\"route-production-route.chat\"").unwrap()..];
    let prod_row = &prod_row[..prod_row.find("</tr>").unwrap()];
    assert!(
        prod_row.contains("other/other-1") && !prod_row.contains("acme/acme-large-2407"),
        "{prod_row}"
    );
    assert!(prod_row.contains("checkout-app"), "{prod_row}");

    // Sources: the scheduler polls a new source at once; wait for that first version.
    let watch = Store::open(&settings.database).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !watch
        .states()
        .await
        .unwrap()
        .iter()
        .any(|s| s.source == "acme-models" && s.last_success.is_some())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduler never polled acme-models"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    watch.close().await;
    let (status, html) = get(&client, &format!("{base}/sources"), &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-test=\"check-acme-models\""), "{html}");
    assert!(
        !html.contains("data-test=\"check-acme-console\""),
        "no button on a disabled source"
    );
    let console = &html[html.find("data-test=\"source-acme-console\"").unwrap()..];
    let console = &console[..console.find("</tr>").unwrap()];
    assert!(console.contains("data-test=\"unverified\""), "{console}");
    assert!(
        console.contains("needs JavaScript (watched instead: acme-models)"),
        "{console}"
    );
    let models = &html[html.find("data-test=\"source-acme-models\"").unwrap()..];
    assert!(!models[..models.find("</tr>").unwrap()].contains("unverified"));
    let csrf = csrf_of(&html);
    let before = fx.seen("/models.html").len();
    let post = |body: String| {
        client
            .post(format!("{base}/sources/acme-models/check"))
            .header("cookie", &cookie)
            .header("origin", &base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let r = post("csrf=wrong".into()).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(fx.seen("/models.html").len(), before, "no fetch without the right csrf");
    let r = post(format!("csrf={csrf}")).await.unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/sources?checked=acme-models&outcome=unchanged"), "{to}");
    assert_eq!(fx.seen("/models.html").len(), before + 1);
    let (_, html) = get(&client, &format!("{base}{to}"), &cookie).await;
    assert!(
        cell(&html, "flash").contains("Checked acme-models: unchanged"),
        "{html}"
    );
    // A flags:read viewer sees no button and cannot check.
    let reader_cookie = sign_in(&client, &base, &reader).await;
    let (_, html) = get(&client, &format!("{base}/sources"), &reader_cookie).await;
    assert!(!html.contains("data-test=\"check-"), "no button without briefs:write");
    let r = client
        .post(format!("{base}/sources/acme-models/check"))
        .header("cookie", &reader_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}", csrf_of(&html)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The summary.
    let (status, html) = get(&client, &format!("{base}/summary?since=30d"), &cookie).await;
    assert_eq!(status, 200, "{html}");
    for want in [
        "acme-large-2407 retires soon",
        "<svg",
        "Changes per week by category",
        "serving failover",
        "approved by bob",
        "acme-image-1 price 4 → 5 &amp; up",
    ] {
        assert!(html.contains(want), "summary lacks {want}");
    }
    let (status, _) = get(&client, &format!("{base}/summary?since=yesterday-ish"), &cookie).await;
    assert_eq!(status, 400);
    let r = client.get(format!("{base}/summary")).send().await.unwrap();
    assert!(r.status().is_redirection(), "signed out: to the sign-in page");

    // The feed, with a token, a session, or neither.
    let r = client
        .get(format!("{base}/feed.atom?token={owner}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let xml = r.text().await.unwrap();
    assert!(!xml.contains(&owner), "the token is not echoed in the feed");
    let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
    assert_eq!(feed.entries.len(), 3);
    let e = feed
        .entries
        .iter()
        .find(|e| e.id.starts_with("urn:signalbox:brief:") && e.title.as_ref().unwrap().content.contains("price"))
        .unwrap();
    assert_eq!(
        e.title.as_ref().unwrap().content,
        "[medium] acme-image-1 price 4 → 5 & up"
    );
    assert!(
        e.summary
            .as_ref()
            .unwrap()
            .content
            .contains("Action: Review the image budget.")
    );
    let r = client
        .get(format!("{base}/feed.atom?severity=medium&provider=acme"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let feed = feed_rs::parser::parse(r.text().await.unwrap().as_bytes()).unwrap();
    assert_eq!(
        feed.entries.len(),
        2,
        "high and medium from acme; not the low one from other"
    );
    assert_eq!(
        client.get(format!("{base}/feed.atom")).send().await.unwrap().status(),
        401
    );
    let r = client
        .get(format!("{base}/feed.atom?token={reader}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "flags:read is not enough");
    let r = client
        .get(format!("{base}/feed.atom?token={admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "never an admin token in a URL");
    let r = client
        .get(format!("{base}/feed.atom?token=sbx_nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The CLI report on the same database.
    let out = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(["report", "--since", "30d", "--format", "markdown"])
        .env("SIGNALBOX_SOURCES", env.sources_dir())
        .env("SIGNALBOX_FLAGS", env.dir.path().join("flags"))
        .env("DATABASE_URL", env.db_url())
        .env_remove("RUST_LOG")
        .env_remove("SIGNALBOX_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("# AI vendor impact summary"), "{md}");
    assert!(md.contains("**3 changes** seen across 1 source"), "{md}");
    assert!(md.contains("route.chat in production serves failover since"), "{md}");
    assert!(md.contains("acme acme-large-2407 retires in"), "{md}");
    assert!(
        md.contains("acme-image-1 image: 4 → 5 USD per 100 images (+25%), used by cap.images"),
        "{md}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(["report", "--since", "2020-01-01T00:00:00Z", "--format", "html"])
        .env("SIGNALBOX_SOURCES", env.sources_dir())
        .env("SIGNALBOX_FLAGS", env.dir.path().join("flags"))
        .env("DATABASE_URL", env.db_url())
        .env_remove("SIGNALBOX_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.contains("<svg") && html.contains("acme-large-2407 retires soon"));
    assert!(
        !html.contains("<nav") && !html.contains("<form"),
        "standalone: no navigation, no forms"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(["report", "--since", "a while"])
        .env("DATABASE_URL", env.db_url())
        .env_remove("SIGNALBOX_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Last, as it adds a brief: the page changes and the next check says so; then it fails.
    fx.set(
        "/models.html",
        Page::html("<main><h1>Models</h1><p>acme-large-2411 replaces acme-large-2407</p></main>"),
    );
    let r = post(format!("csrf={csrf}")).await.unwrap();
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.contains("outcome=changed"), "{to}");
    // A failing page: the flash names the error class.
    fx.set("/models.html", Page::html("gone").status(404));
    let r = post(format!("csrf={csrf}")).await.unwrap();
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.contains("outcome=failed&class="), "{to}");
    let (_, html) = get(&client, &format!("{base}{to}"), &cookie).await;
    assert!(cell(&html, "flash").contains("the check failed ("), "{html}");
}
