//! Three replicas of the real binary on one PostgreSQL database (issue 13): one scheduler, one
//! brief and one playbook firing per outage, decisions on every replica by notification, the
//! scheduler moving when the leader is killed, each webhook once, one audit chain.
//!
//! Needs `TEST_DATABASE_URL` (`.ci/run` sets it); without it the test says it was skipped.

use crate::decisions::{FLAGS, PLAYBOOK, STATUS_DOWN, STATUS_OK};
use crate::fixture::{Fixture, Page};
use crate::helpers::Env;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STATUS_PATH: &str = "/api/v2/summary.json";

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webhook receiver that refuses the first delivery (so one retry happens) and records every
/// request's `webhook-id` and whether it was accepted.
#[derive(Default)]
struct Hook {
    got: Mutex<Vec<(String, bool)>>,
}

async fn hook() -> (String, Arc<Hook>) {
    let h = Arc::new(Hook::default());
    let state = h.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, _body: Bytes| {
            let state = state.clone();
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let mut got = state.got.lock().unwrap();
                let accept = !got.is_empty();
                got.push((id, accept));
                if accept {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, h)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn get(url: &str) -> Option<Value> {
    reqwest::get(url).await.ok()?.json().await.ok()
}

async fn wait_for(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

async fn call(base: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let c = reqwest::Client::new();
    let url = format!("{base}{path}");
    let mut req = if method == "GET" { c.get(url) } else { c.post(url) }.bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn ofrep(base: &str, token: &str, flag: &str) -> Value {
    call(
        base,
        token,
        "POST",
        &format!("/ofrep/v1/evaluate/flags/{flag}"),
        Some(json!({"context": {"targetingKey": "user-1"}})),
    )
    .await
    .1
}

/// Tokens made once in the shared database, by name.
async fn make_tokens(
    settings: &signalbox::config::Settings,
    env: &str,
    who: &[(&'static str, &[&str])],
) -> HashMap<&'static str, String> {
    let store = signalbox::store::Store::open(&settings.database).await.unwrap();
    let mut tokens = HashMap::new();
    for (name, scopes) in who {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let t = signalbox::auth::create_token(&store, name, &scopes, env, &settings.serving.environments, "test")
            .await
            .unwrap();
        tokens.insert(*name, t.token);
    }
    store.close().await;
    tokens
}

async fn role(base: &str) -> Option<String> {
    get(&format!("{base}/readyz")).await?["role"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_on_one_postgresql_database_share_the_work_and_agree() {
    let env = Env::new();
    if !env.is_postgres() {
        eprintln!("skipped: TEST_DATABASE_URL is not set (three replicas need PostgreSQL)");
        return;
    }
    let fx = Fixture::start().await;
    fx.set(STATUS_PATH, Page::new("application/json", STATUS_OK));
    std::fs::write(env.dir.path().join("flags/routes.yaml"), FLAGS).unwrap();
    std::fs::write(env.dir.path().join("flags/playbooks.toml"), PLAYBOOK).unwrap();
    env.write_source(
        "acme-status",
        "statuspage",
        &fx.url(STATUS_PATH),
        "status",
        "schedule = \"*/2 * * * * *\"",
    );
    let (hook_url, hook) = hook().await;
    // The decision tick is slow on purpose: a decision must reach the other replicas by
    // notification, not by their next periodic reconciliation.
    let config = env.dir.path().join("signalbox.toml");
    std::fs::write(
        &config,
        format!(
            "allow_private_networks = true\n[scheduler]\njitter_secs = 0\n[decisions]\ntick_ms = 60000\n\
             [notify]\npoll_ms = 100\ntimeout_ms = 2000\n[[notify.sinks]]\nname = \"oncall\"\nkind = \"webhook\"\n\
             url = \"{hook_url}\"\nsecret = \"{}\"\n",
            signalbox::notify::generate_secret()
        ),
    )
    .unwrap();

    // Tokens, made once in the shared database.
    let settings = env.settings();
    let tokens = make_tokens(
        &settings,
        "production",
        &[
            ("web-app", &["flags:read"]),
            ("alice", &["decisions:propose", "decisions:approve"]),
            ("bob", &["decisions:approve"]),
            ("carol", &["decisions:approve"]),
            ("auditor", &["audit:read", "briefs:write"]),
        ],
    )
    .await;

    let start = |i: usize| {
        let port = free_port();
        let log = std::fs::File::create(env.dir.path().join(format!("replica-{i}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_signalbox"))
            .args(["--config", config.to_str().unwrap(), "serve"])
            .env("SIGNALBOX_SOURCES", env.sources_dir())
            .env("SIGNALBOX_FLAGS", env.dir.path().join("flags"))
            .env("DATABASE_URL", env.db_url())
            .env("SIGNALBOX_SSE_SECRET", &settings.serving.sse_secret)
            .env("SIGNALBOX_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Replica {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    };
    let mut replicas: Vec<Replica> = (0..3).map(start).collect();
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    wait_for(
        "three ready replicas, one of them leading",
        Duration::from_secs(60),
        async || {
            let mut roles = Vec::new();
            for b in &bases {
                roles.push(role(b).await);
            }
            roles.iter().all(Option::is_some) && roles.iter().filter(|r| r.as_deref() == Some("leader")).count() == 1
        },
    )
    .await;
    let ready = get(&format!("{}/readyz", bases[0])).await.unwrap();
    assert_eq!(ready["backend"], "postgres", "{ready}");

    // One scheduler: over about five periods the page is fetched about five times, not fifteen.
    wait_for("the first status poll", Duration::from_secs(30), async || {
        !fx.seen(STATUS_PATH).is_empty()
    })
    .await;
    let before = fx.seen(STATUS_PATH).len();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let polls = fx.seen(STATUS_PATH).len() - before;
    println!("status page fetched {polls} times in 10 s by three replicas (every 2 s)");
    assert!((3..=7).contains(&polls), "{polls} fetches in 10 s at one every 2 s");

    // An outage: one brief, one playbook firing, the failover served by every replica.
    fx.set(STATUS_PATH, Page::new("application/json", STATUS_DOWN));
    wait_for("the failover on every replica", Duration::from_secs(30), async || {
        for b in &bases {
            if ofrep(b, &tokens["web-app"], "route.chat").await["variant"] != "failover" {
                return false;
            }
        }
        true
    })
    .await;
    // Let every replica's brief writer and the next polls have their chance to do it twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, briefs) = call(
        &bases[1],
        &tokens["auditor"],
        "GET",
        "/api/v1/briefs?material=true",
        None,
    )
    .await;
    assert_eq!(briefs.as_array().map(Vec::len), Some(1), "{briefs}");
    let (_, fired) = call(
        &bases[2],
        &tokens["auditor"],
        "GET",
        "/api/v1/audit?action=playbook.fired",
        None,
    )
    .await;
    assert_eq!(fired["events"].as_array().map(Vec::len), Some(1), "{fired}");

    // A person's decision, proposed on one replica and approved on the two others, is served by
    // all three; the time from the last approval to the last replica serving it is printed.
    let (status, d) = call(
        &bases[0],
        &tokens["alice"],
        "POST",
        "/api/v1/decisions",
        Some(
            json!({"flag": "cap.image-generation", "env": "production", "action": "kill",
                    "reason": "abuse incident in progress"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{d}");
    let id = d["id"].as_i64().unwrap();
    let (status, d) = call(
        &bases[1],
        &tokens["bob"],
        "POST",
        &format!("/api/v1/decisions/{id}/approve"),
        Some(json!({})),
    )
    .await;
    assert_eq!((status, d["status"].as_str()), (200, Some("proposed")), "{d}");
    let (status, d) = call(
        &bases[2],
        &tokens["carol"],
        "POST",
        &format!("/api/v1/decisions/{id}/approve"),
        Some(json!({})),
    )
    .await;
    assert_eq!((status, d["status"].as_str()), (200, Some("active")), "{d}");
    let mut served_after = Vec::new();
    let approved = Instant::now();
    for b in &bases {
        // Well inside the 60 s tick: only the notification can have brought it.
        wait_for("the decision on every replica", Duration::from_secs(20), async || {
            ofrep(b, &tokens["web-app"], "cap.image-generation").await["value"] == false
        })
        .await;
        served_after.push(approved.elapsed());
    }
    println!(
        "decision served by all three replicas {:?} after the last approval (per replica, cumulative: {:?})",
        served_after.iter().max().unwrap(),
        served_after
    );

    // The replicas agree on the revision and the ETag of the same configuration, and an event
    // stream opened on one replica resumes on another: nothing missed, nothing repeated.
    let mut seen_etags = Vec::new();
    let mut revisions = Vec::new();
    let mut stream_uri = String::new();
    for b in &bases {
        let r = reqwest::Client::new()
            .post(format!("{b}/ofrep/v1/evaluate/flags"))
            .bearer_auth(&tokens["web-app"])
            .json(&json!({"context": {"targetingKey": "user-1"}}))
            .send()
            .await
            .unwrap();
        seen_etags.push(r.headers()["etag"].to_str().unwrap().to_owned());
        let body: Value = r.json().await.unwrap();
        revisions.push(body["metadata"]["revision"].as_u64().unwrap());
        stream_uri = body["eventStreams"][0]["endpoint"]["requestUri"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    assert!(seen_etags.iter().all(|e| *e == seen_etags[0]), "{seen_etags:?}");
    assert!(revisions.iter().all(|r| *r == revisions[0]), "{revisions:?}");
    let revision = revisions[0];
    let open = |base: &str, last: u64| {
        reqwest::Client::new()
            .get(format!("{base}{stream_uri}"))
            .header("last-event-id", last.to_string())
            .send()
    };
    // The stream URI came from the last replica; its signed channel opens on the first.
    let mut current = open(&bases[0], revision).await.unwrap();
    assert_eq!(current.status(), 200);
    assert!(
        crate::ofrep::next_event(&mut current, Instant::now() + Duration::from_millis(1500))
            .await
            .is_none(),
        "a client up to date got an event again"
    );
    let mut behind = open(&bases[1], revision - 1).await.unwrap();
    let (id, event) = crate::ofrep::next_event(&mut behind, Instant::now() + Duration::from_secs(5))
        .await
        .expect("the change the client missed");
    assert_eq!(
        (id, event["type"].as_str()),
        (Some(revision.to_string()), Some("refetchEvaluation"))
    );

    // The leader is killed: another replica leads within 10 s and polling goes on.
    let mut leader = None;
    for (i, b) in bases.iter().enumerate() {
        if role(b).await.as_deref() == Some("leader") {
            leader = Some(i);
        }
    }
    let leader = leader.expect("a leader");
    let killed = Instant::now();
    Command::new("kill")
        .args(["-KILL", &replicas[leader].child.id().to_string()])
        .status()
        .unwrap();
    let _ = replicas[leader].child.wait();
    let others: Vec<&String> = bases
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, b)| b)
        .collect();
    let mut took = Duration::ZERO;
    wait_for("a new leader", Duration::from_secs(30), async || {
        for b in &others {
            if role(b).await.as_deref() == Some("leader") {
                took = killed.elapsed();
                return true;
            }
        }
        false
    })
    .await;
    println!("a follower led {took:?} after the leader was killed");
    assert!(took <= Duration::from_secs(10), "takeover took {took:?}");
    let seen = fx.seen(STATUS_PATH).len();
    wait_for("polls by the new leader", Duration::from_secs(15), async || {
        fx.seen(STATUS_PATH).len() > seen + 1
    })
    .await;

    // Each event reached the webhook once: one accepted request per webhook-id, and the refused
    // first one was retried under its own id.
    wait_for("the webhook deliveries", Duration::from_secs(30), async || {
        hook.got.lock().unwrap().iter().filter(|(_, ok)| *ok).count() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = hook.got.lock().unwrap().clone();
    let mut accepted: HashMap<&str, usize> = HashMap::new();
    for (id, ok) in &got {
        assert!(!id.is_empty());
        if *ok {
            *accepted.entry(id).or_default() += 1;
        }
    }
    assert!(accepted.values().all(|n| *n == 1), "an event delivered twice: {got:?}");
    let refused = &got[0].0;
    assert_eq!(
        accepted.get(refused.as_str()),
        Some(&1),
        "the refused delivery was retried: {got:?}"
    );

    drop(replicas);
    // One chain, whole, after three writers.
    let o = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(["audit", "verify"])
        .env("DATABASE_URL", env.db_url())
        .env("SIGNALBOX_SOURCES", env.sources_dir())
        .env("SIGNALBOX_FLAGS", env.dir.path().join("flags"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused) and
/// restored on the same port: the database going away and coming back, as a replica sees it.
struct Proxy {
    port: u16,
    upstream: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let mut p = Proxy {
            port: free_port(),
            upstream: upstream.to_owned(),
            task: None,
        };
        p.restore().await;
        p
    }

    async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        let upstream = self.upstream.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        }));
    }

    /// Drops the listener and, with the task's `JoinSet`, every open connection.
    fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn when_postgresql_goes_away_flags_keep_serving_writes_get_503_and_everything_resumes() {
    let env = Env::new();
    if !env.is_postgres() {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    }
    std::fs::write(env.dir.path().join("flags/routes.yaml"), FLAGS).unwrap();
    let mut url = url::Url::parse(&env.db_url()).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port_or_known_default().unwrap());
    let mut proxy = Proxy::start(&upstream).await;
    url.set_port(Some(proxy.port)).unwrap();
    let mut settings = env.settings();
    settings.database = url.to_string();
    let tokens = make_tokens(
        &settings,
        "staging",
        &[
            ("web-app", &["flags:read"]),
            ("alice", &["decisions:propose"]),
            ("sam", &["decisions:approve"]),
        ],
    )
    .await;
    let run = crate::helpers::spawn_app_with(settings).await;
    let base = run.base.clone();
    let propose = async || {
        call(
            &base,
            &tokens["alice"],
            "POST",
            "/api/v1/decisions",
            Some(json!({"flag": "cap.image-generation", "env": "staging", "action": "kill", "reason": "drill"})),
        )
        .await
    };
    assert_eq!(
        ofrep(&base, &tokens["web-app"], "cap.image-generation").await["value"],
        true
    );

    proxy.cut();
    // Evaluation never touches the database: the last snapshot keeps serving.
    for _ in 0..20 {
        let v = ofrep(&base, &tokens["web-app"], "cap.image-generation").await;
        assert_eq!(v["value"], true, "{v}");
    }
    // A write says plainly that the database is unreachable, in JSON, with 503.
    let (status, body) = propose().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    // Still ready (apps read flags from it), and it says what is wrong.
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["database"], "unreachable");

    // The database is back: the same process writes again, without a restart.
    proxy.restore().await;
    let mut result = (0, Value::Null);
    wait_for("writes to resume", Duration::from_secs(30), async || {
        result = propose().await;
        result.0 != 503
    })
    .await;
    assert_eq!(result.0, 201, "{}", result.1);
    assert_eq!(get(&format!("{base}/readyz")).await.unwrap()["database"], "ok");
    let id = result.1["id"].as_i64().unwrap();
    let (status, d) = call(
        &base,
        &tokens["sam"],
        "POST",
        &format!("/api/v1/decisions/{id}/approve"),
        Some(json!({})),
    )
    .await;
    assert_eq!((status, d["status"].as_str()), (200, Some("active")), "{d}");
    wait_for("the decision served", Duration::from_secs(10), async || {
        ofrep(&base, &tokens["web-app"], "cap.image-generation").await["value"] == false
    })
    .await;
    // The lease went with the old connection; the next bid takes it again.
    wait_for("leadership again", Duration::from_secs(15), async || {
        role(&base).await.as_deref() == Some("leader")
    })
    .await;
}
