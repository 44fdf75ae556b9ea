//! The brief and decisions pages over real HTTP, as a browser uses them: sign in with a token (the
//! session cookie kept by hand), read a brief made from a fixture status page, triage it and
//! propose a decision through the forms (the CSRF token scraped from the page), approve it as
//! someone else, and see the flag served change; and the refusals (no CSRF token, a foreign
//! origin, a read-only viewer, another environment, one's own proposal).

use crate::fixture::{Fixture, Page};
use crate::helpers::{Env, Running, spawn_app_with};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const STATUS_OK: &str = r#"{"status":{"indicator":"none","description":"All Systems Operational"},"components":[{"id":"c1","name":"API","status":"operational","group":false},{"id":"c2","name":"Console","status":"operational","group":false}],"incidents":[],"scheduled_maintenances":[]}"#;
const STATUS_DOWN: &str = r#"{"status":{"indicator":"major","description":"Major outage"},"components":[{"id":"c1","name":"API","status":"major_outage","group":false},{"id":"c2","name":"Console","status":"operational","group":false}],"incidents":[{"id":"i1","name":"Elevated errors on the API","status":"investigating","impact":"major","created_at":"2026-11-25T08:00:00Z","incident_updates":[]}],"scheduled_maintenances":[]}"#;

/// `route.chat` uses acme and has a failover variant; one approval suffices here.
const FLAGS: &str = r#"
flags:
  route.chat:
    state: ENABLED
    variants:
      primary: { schema: ai-route/v1, enabled: true, targets: [{ provider: acme, model: acme-large-2411 }] }
      failover: { schema: ai-route/v1, enabled: true, targets: [{ provider: other, model: other-1 }] }
      "off": { schema: ai-route/v1, enabled: false, targets: [] }
    defaultVariant: primary
    metadata: { owner: platform-team, providers: [acme/acme-large-2411, other/other-1], approvals: 1 }
"#;

/// Tokens by name: (scopes, environment).
const TOKENS: &[(&str, &[&str], &str)] = &[
    ("web-app", &["flags:read"], "production"),
    ("reader", &["flags:read"], "production"),
    (
        "alice",
        &["briefs:write", "decisions:propose", "decisions:approve"],
        "production",
    ),
    ("bob", &["decisions:approve"], "production"),
    ("sam", &["decisions:approve"], "staging"),
];

struct Setup {
    _env: Env,
    _fx: Fixture,
    run: Running,
    tokens: BTreeMap<&'static str, String>,
    brief: i64,
}

/// The server with the tokens and flags above, and one brief: acme's API went down.
async fn setup() -> Setup {
    let fx = Fixture::start().await;
    fx.set("/api/v2/summary.json", Page::new("application/json", STATUS_OK));
    let env = Env::new();
    std::fs::write(env.dir.path().join("flags/routes.yaml"), FLAGS).unwrap();
    env.write_source(
        "acme-status",
        "statuspage",
        &fx.url("/api/v2/summary.json"),
        "status",
        "schedule = \"* * * * * *\"",
    );
    let mut settings = env.settings();
    settings.decisions.tick_ms = 100;
    let store = signalbox::store::Store::open(&settings.database).await.unwrap();
    let mut tokens = BTreeMap::new();
    for (name, scopes, e) in TOKENS {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let t = signalbox::auth::create_token(&store, name, &scopes, e, &settings.serving.environments, "test")
            .await
            .unwrap();
        tokens.insert(*name, t.token);
    }
    store.close().await;
    let run = spawn_app_with(settings).await;

    let api = |path: String| {
        let token = tokens["alice"].clone();
        async move {
            reqwest::Client::new()
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
    let deadline = Instant::now() + Duration::from_secs(30);
    let snapshots = format!("{}/api/v1/sources/acme-status/snapshots", run.base);
    while api(snapshots.clone()).await.as_array().is_none_or(|a| a.is_empty()) {
        assert!(Instant::now() < deadline, "no first snapshot");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fx.set("/api/v2/summary.json", Page::new("application/json", STATUS_DOWN));
    let brief = loop {
        let list = api(format!("{}/api/v1/briefs?material=true", run.base)).await;
        if let Some(id) = list[0]["id"].as_i64() {
            break id;
        }
        assert!(Instant::now() < deadline, "no brief appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    Setup {
        _env: env,
        _fx: fx,
        run,
        tokens,
        brief,
    }
}

/// A browser without JavaScript: keeps cookies, follows no redirects.
struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Browser {
    async fn sign_in(s: &Setup, who: &str) -> Browser {
        let mut b = Browser {
            base: s.run.base.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        };
        let a = b
            .post("/signin", &[("token", &s.tokens[who]), ("next", "/")], None)
            .await;
        assert_eq!((a.status, a.location.as_deref()), (303, Some("/")), "{}", a.body);
        assert!(b.cookies.contains_key("sbx_session"), "no session cookie");
        b
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn answer(&mut self, r: reqwest::Response) -> Answer {
        for c in r.headers().get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k.trim());
            } else {
                self.cookies.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
        Answer {
            status: r.status().as_u16(),
            location: r.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned()),
            // The templates escape `/` in text and attributes, as browsers read them.
            body: r.text().await.unwrap().replace("&#x2f;", "/"),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.answer(r).await
    }

    /// A form post; `origin` defaults to this site (as a browser sends it).
    async fn post(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Answer {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header(ORIGIN, origin.unwrap_or(&self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.answer(r).await
    }
}

/// The CSRF token in a page's forms.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// The text of the element carrying `data-test="{name}"`, up to the next tag's end.
fn test_text<'a>(html: &'a str, name: &str) -> &'a str {
    let at = html
        .find(&format!("data-test=\"{name}\""))
        .unwrap_or_else(|| panic!("no data-test={name}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    &rest[start..start + rest[start..].find('<').unwrap()]
}

/// A decision's card on the decisions page.
fn card(html: &str, id: i64) -> &str {
    let at = html
        .find(&format!("data-test=\"decision-{id}\""))
        .unwrap_or_else(|| panic!("no card for decision {id}"));
    let rest = &html[at..];
    &rest[..rest.find("class=\"card decision\"").unwrap_or(rest.len())]
}

impl Setup {
    async fn api(&self, method: &str, path: &str, who: &str, body: Option<Value>) -> Value {
        let c = reqwest::Client::new();
        let url = format!("{}{path}", self.run.base);
        let mut req = if method == "GET" { c.get(url) } else { c.post(url) }.bearer_auth(&self.tokens[who]);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    async fn brief_status(&self) -> String {
        let b = self
            .api("GET", &format!("/api/v1/briefs/{}", self.brief), "alice", None)
            .await;
        b["status"].as_str().unwrap().to_owned()
    }

    async fn served(&self) -> String {
        let v = self
            .api(
                "POST",
                "/ofrep/v1/evaluate/flags/route.chat",
                "web-app",
                Some(json!({"context": {"targetingKey": "user-1"}})),
            )
            .await;
        v["variant"].as_str().unwrap_or_default().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_brief_is_triaged_and_answered_by_a_decision_through_the_pages() {
    let s = setup().await;
    let id = s.brief;
    let mut alice = Browser::sign_in(&s, "alice").await;

    // The brief page: what it is, the facts, the readable diff, the forms with the suggestion.
    let page = alice.get(&format!("/briefs/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let html = &page.body;
    assert_eq!(test_text(html, "brief-status"), "new");
    assert!(
        html.contains("sev critical") || html.contains("sev high"),
        "severity badge"
    );
    assert!(
        html.contains("flag route.chat uses acme/acme-large-2411"),
        "what breaks"
    );
    for needle in [
        "class=\"diff-side\"",
        "class=\"diff-inline\"",
        "<ins>",
        "<del>",
        "/api/v1/sources/acme-status/changes",
        "data-test=\"acknowledge\"",
        "data-test=\"assign\"",
        "data-test=\"dismiss\"",
        "data-test=\"comment\"",
        "data-test=\"propose\"",
        "<option selected>route.chat</option>",
        "<option selected>production</option>",
        "<option selected>serve</option>",
        "name=\"variant\" value=\"failover\"",
        &format!("name=\"reason\" value=\"Brief #{id}: "),
        &format!("name=\"brief_id\" value=\"{id}\""),
    ] {
        assert!(html.contains(needle), "the brief page lacks {needle}");
    }
    assert!(html.contains("major_outage"), "the diff shows the new component status");
    let token = csrf(html);

    // Triage through the forms: each redirects back to the brief, which says what happened.
    let brief_path = format!("/briefs/{id}");
    let a = alice
        .post(&format!("{brief_path}/acknowledge"), &[("csrf", &token)], None)
        .await;
    assert_eq!(
        (a.status, a.location.as_deref()),
        (303, Some(brief_path.as_str())),
        "{}",
        a.body
    );
    assert_eq!(s.brief_status().await, "acknowledged");
    let page = alice.get(&brief_path).await;
    assert_eq!(test_text(&page.body, "brief-status"), "acknowledged");
    assert_eq!(test_text(&page.body, "flash"), "Brief acknowledged.");
    assert!(!page.body.contains("data-test=\"acknowledge\""), "acknowledged already");
    let page = alice.get(&brief_path).await;
    assert!(!page.body.contains("data-test=\"flash\""), "a note is shown once");
    let a = alice
        .post(
            &format!("{brief_path}/assign"),
            &[("csrf", &token), ("assignee", "dana")],
            None,
        )
        .await;
    assert_eq!(a.status, 303);
    let a = alice
        .post(
            &format!("{brief_path}/comment"),
            &[("csrf", &token), ("text", "failing over")],
            None,
        )
        .await;
    assert_eq!(a.status, 303);
    let page = alice.get(&brief_path).await;
    assert!(
        page.body.contains("dana") && page.body.contains("failing over"),
        "history shows both"
    );

    // Errors come back on the page, with their status.
    let a = alice
        .post(&format!("{brief_path}/acknowledge"), &[("csrf", &token)], None)
        .await;
    assert_eq!(a.status, 409);
    assert!(test_text(&a.body, "flash").contains("cannot become"), "{}", a.body);
    let a = alice
        .post(
            &format!("{brief_path}/dismiss"),
            &[("csrf", &token), ("reason", " ")],
            None,
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(test_text(&a.body, "flash").contains("reason"));
    assert_eq!(s.brief_status().await, "acknowledged");

    // Propose as alice, from the brief's form.
    let expires = (chrono::Utc::now() + chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let reason = format!("Brief #{id}: acme API down");
    let id_text = id.to_string();
    let proposal = [
        ("csrf", token.as_str()),
        ("flag", "route.chat"),
        ("env", "production"),
        ("action", "serve"),
        ("variant", "failover"),
        ("reason", &reason),
        ("brief_id", &id_text),
        ("starts_at", ""),
        ("expires_at", &expires),
    ];
    let a = alice.post("/decisions", &proposal, None).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let location = a.location.unwrap();
    let decision: i64 = location
        .strip_prefix("/decisions#d")
        .unwrap_or_else(|| panic!("redirected to {location}"))
        .parse()
        .unwrap();
    let d = s
        .api("GET", &format!("/api/v1/decisions/{decision}"), "bob", None)
        .await;
    assert_eq!(
        (d["status"].as_str(), d["brief_id"].as_i64(), d["variant"].as_str()),
        (Some("proposed"), Some(id), Some("failover"))
    );
    let expires_at = chrono::DateTime::parse_from_rfc3339(d["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires_at.format("%Y-%m-%dT%H:%M").to_string(), expires, "read as UTC");
    assert_eq!(s.served().await, "primary", "not before approval");

    // Alice sees it waiting, without an Approve button on her own proposal (and why).
    let page = alice.get("/decisions").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        test_text(&page.body, "flash"),
        format!("Decision #{decision} proposed.")
    );
    let mine = card(&page.body, decision);
    assert!(mine.contains(">proposed<"), "{mine}");
    assert!(!mine.contains(&format!("data-test=\"approve-{decision}\"")), "{mine}");
    assert!(mine.contains("You proposed this"), "{mine}");

    // Bob approves: the override is active and OFREP serves the failover.
    let mut bob = Browser::sign_in(&s, "bob").await;
    let page = bob.get("/decisions").await;
    let theirs = card(&page.body, decision);
    assert!(
        theirs.contains(&format!("data-test=\"approve-{decision}\"")),
        "{theirs}"
    );
    assert!(theirs.contains(&format!("data-test=\"reject-{decision}\"")), "{theirs}");
    let bob_csrf = csrf(&page.body);
    let a = bob
        .post(&format!("/decisions/{decision}/approve"), &[("csrf", &bob_csrf)], None)
        .await;
    assert_eq!(
        (a.status, a.location.as_deref()),
        (303, Some("/decisions")),
        "{}",
        a.body
    );
    let d = s
        .api("GET", &format!("/api/v1/decisions/{decision}"), "bob", None)
        .await;
    assert_eq!(d["status"], "active", "{d}");
    assert_eq!(s.served().await, "failover");
    let a = bob
        .post(&format!("/decisions/{decision}/approve"), &[("csrf", &bob_csrf)], None)
        .await;
    assert_eq!(a.status, 409, "approving twice: {}", a.body);
    assert!(test_text(&a.body, "flash").contains("decision cannot be"), "{}", a.body);
    let page = bob.get("/decisions").await;
    let active = card(&page.body, decision);
    assert!(active.contains(">active<"), "{active}");
    assert!(active.contains(&format!("data-test=\"revert-{decision}\"")), "{active}");
    assert!(active.contains("Expires"), "{active}");
    let page = alice.get(&brief_path).await;
    assert!(
        page.body.contains(&format!("data-test=\"decision-{decision}\"")),
        "the brief lists it"
    );

    // Bob reverts: the flag file's default is back.
    let a = bob
        .post(
            &format!("/decisions/{decision}/revert"),
            &[("csrf", &bob_csrf), ("reason", "acme recovered")],
            None,
        )
        .await;
    assert_eq!((a.status, a.location.as_deref()), (303, Some("/decisions")));
    assert_eq!(s.served().await, "primary");
    let page = bob.get("/decisions").await;
    let ended = card(&page.body, decision);
    assert!(ended.contains(">reverted<") && ended.contains("by bob") && ended.contains("acme recovered"));
    assert!(page.body.contains("No override is in force"), "the empty state says so");
}

#[tokio::test(flavor = "multi_thread")]
async fn forms_without_the_session_token_from_elsewhere_or_beyond_the_viewer_scopes_change_nothing() {
    let s = setup().await;
    let id = s.brief;
    let brief_path = format!("/briefs/{id}");

    // Not signed in: to the sign-in page, and nothing happens.
    let mut stranger = Browser {
        base: s.run.base.clone(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        cookies: BTreeMap::new(),
    };
    let a = stranger.get(&brief_path).await;
    assert_eq!(a.status, 303);
    assert!(a.location.unwrap().starts_with("/signin?next="));

    let mut alice = Browser::sign_in(&s, "alice").await;
    let page = alice.get("/decisions").await;
    assert!(
        page.body.contains("No decision is waiting for approval"),
        "the empty state"
    );
    let page = alice.get(&brief_path).await;
    let token = csrf(&page.body);
    let ack = format!("{brief_path}/acknowledge");

    // No CSRF token, a wrong one, or the right one from another site: 403, still new.
    let a = alice.post(&ack, &[], None).await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = alice.post(&ack, &[("csrf", "0123abcd")], None).await;
    assert_eq!(a.status, 403);
    let a = alice.post(&ack, &[("csrf", &token)], Some("http://evil.example")).await;
    assert_eq!(a.status, 403);
    assert_eq!(s.brief_status().await, "new");

    // Another session's token is not this session's.
    let mut reader = Browser::sign_in(&s, "reader").await;
    let page = reader.get(&brief_path).await;
    assert_eq!(page.status, 200);
    let reader_csrf = csrf(&page.body);
    assert_ne!(reader_csrf, token);
    let a = alice.post(&ack, &[("csrf", &reader_csrf)], None).await;
    assert_eq!(a.status, 403);

    // A flags:read viewer reads the brief but has no forms to act with, and a post is refused.
    assert_eq!(test_text(&page.body, "brief-status"), "new");
    for absent in [
        "action=\"/briefs/",
        "action=\"/decisions\"",
        "data-test=\"acknowledge\"",
        "data-test=\"dismiss\"",
        "data-test=\"propose\"",
    ] {
        assert!(!page.body.contains(absent), "a flags:read viewer sees {absent}");
    }
    let a = reader.post(&ack, &[("csrf", &reader_csrf)], None).await;
    assert_eq!(a.status, 403);
    assert_eq!(s.brief_status().await, "new");
    let a = reader
        .post(
            "/decisions",
            &[
                ("csrf", &reader_csrf),
                ("flag", "route.chat"),
                ("env", "production"),
                ("action", "kill"),
                ("reason", "no"),
            ],
            None,
        )
        .await;
    assert_eq!(a.status, 403);

    // A proposal the engine refuses comes back to the brief's form with the message and what
    // was typed.
    let id_text = id.to_string();
    let bad = [
        ("csrf", token.as_str()),
        ("flag", "route.chat"),
        ("env", "production"),
        ("action", "serve"),
        ("variant", "nonesuch"),
        ("reason", "typo"),
        ("brief_id", &id_text),
    ];
    let a = alice.post("/decisions", &bad, None).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        test_text(&a.body, "flash").contains("no variant `nonesuch`"),
        "{}",
        a.body
    );
    assert!(a.body.contains("name=\"variant\" value=\"nonesuch\""));
    // Another environment than the session's: 403.
    let mut staging = bad;
    staging[3] = ("action", "kill");
    staging[4] = ("variant", "");
    staging[2] = ("env", "staging");
    let a = alice.post("/decisions", &staging, None).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(test_text(&a.body, "flash").contains("environment"));
    let list = s.api("GET", "/api/v1/decisions", "alice", None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");

    // A real proposal; its proposer cannot approve it, nor can an approver elsewhere, nor a
    // post without the token or from another site.
    let mut good = bad;
    good[3] = ("action", "kill");
    good[4] = ("variant", "");
    let a = alice.post("/decisions", &good, None).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let decision: i64 = a.location.unwrap().trim_start_matches("/decisions#d").parse().unwrap();
    let approve = format!("/decisions/{decision}/approve");
    let a = alice.post(&approve, &[("csrf", &token)], None).await;
    assert_eq!(a.status, 403);
    assert!(test_text(&a.body, "flash").contains("proposer"), "{}", a.body);
    let mut sam = Browser::sign_in(&s, "sam").await;
    let page = sam.get("/decisions").await;
    let theirs = card(&page.body, decision);
    assert!(!theirs.contains("data-test=\"approve-"), "{theirs}");
    assert!(theirs.contains("You are signed in for staging"), "{theirs}");
    let sam_csrf = csrf(&page.body);
    let a = sam.post(&approve, &[("csrf", &sam_csrf)], None).await;
    assert_eq!(a.status, 403);
    let mut bob = Browser::sign_in(&s, "bob").await;
    let bob_csrf = csrf(&bob.get("/decisions").await.body);
    let a = bob.post(&approve, &[], None).await;
    assert_eq!(a.status, 403);
    let a = bob
        .post(&approve, &[("csrf", &bob_csrf)], Some("https://evil.example"))
        .await;
    assert_eq!(a.status, 403);
    let a = bob
        .post(&format!("/decisions/{decision}/reject"), &[("csrf", &bob_csrf)], None)
        .await;
    assert_eq!(a.status, 400, "a rejection needs a reason");
    let d = s
        .api("GET", &format!("/api/v1/decisions/{decision}"), "bob", None)
        .await;
    assert_eq!(
        (d["status"].as_str(), d["votes"].as_array().map(Vec::len)),
        (Some("proposed"), Some(0))
    );
    assert_eq!(s.served().await, "primary");

    // Rejected with a reason, it is history.
    let a = bob
        .post(
            &format!("/decisions/{decision}/reject"),
            &[("csrf", &bob_csrf), ("reason", "failover instead")],
            None,
        )
        .await;
    assert_eq!((a.status, a.location.as_deref()), (303, Some("/decisions")));
    let page = bob.get("/decisions").await;
    assert!(card(&page.body, decision).contains(">rejected<"));
    assert_eq!(s.served().await, "primary");

    // Only whoever proposed a decision withdraws it.
    let a = alice.post("/decisions", &good, None).await;
    let second: i64 = a.location.unwrap().trim_start_matches("/decisions#d").parse().unwrap();
    let page = bob.get("/decisions").await;
    assert!(!card(&page.body, second).contains("data-test=\"withdraw-"));
    let withdraw = format!("/decisions/{second}/withdraw");
    let a = bob.post(&withdraw, &[("csrf", &bob_csrf)], None).await;
    assert_eq!(a.status, 403, "bob has no decisions:propose");
    let page = alice.get("/decisions").await;
    assert!(card(&page.body, second).contains(&format!("data-test=\"withdraw-{second}\"")));
    let a = alice.post(&withdraw, &[("csrf", &token)], None).await;
    assert_eq!((a.status, a.location.as_deref()), (303, Some("/decisions")));
    let page = alice.get("/decisions").await;
    assert_eq!(test_text(&page.body, "flash"), format!("Decision #{second} withdrawn."));
    assert!(card(&page.body, second).contains(">withdrawn<"));
}
