//! The `signalbox` binary, as a user or a script runs it.

use crate::fixture::{Fixture, Page};
use crate::helpers::Env;
use std::process::{Command, Output};

fn signalbox(env: &Env, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(args)
        .env("SIGNALBOX_SOURCES", env.sources_dir())
        .env("DATABASE_URL", env.db_url())
        .env("SIGNALBOX_ALLOW_PRIVATE_NETWORKS", "true")
        .env_remove("RUST_LOG")
        .env_remove("SIGNALBOX_CONFIG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn validate_prints_every_problem_with_its_line() {
    let env = Env::new();
    std::fs::write(
        env.sources_dir().join("broken.toml"),
        r#"provider = "acme"

[[source]]
id = "acme-a"
kind = "webpage"
url = "https://acme.test/a"
doc_type = "policy"

[[source]]
id = "acme-b"
kind = "html"
url = "not a url"
doc_type = "pricing"
schedule = "*/5 * * *"
select = ["main >>> p"]
ignore = ['[unclosed']
colour = "red"

[[source]]
id = "acme-a"
kind = "json"
url = "https://acme.test/c"
doc_type = "sports"
"#,
    )
    .unwrap();
    std::fs::write(env.sources_dir().join("notes.txt"), "not a source file").unwrap();
    let o = signalbox(&env, &["sources", "validate"]);
    assert_eq!(o.status.code(), Some(2));
    let out = stdout(&o);
    for (line, what) in [
        (5, "unknown kind `webpage`"),
        (12, "bad URL"),
        (14, "bad cron schedule"),
        (15, "bad CSS selector"),
        (16, "bad ignore regex"),
        (17, "unknown key `colour`"),
        (23, "unknown doc_type `sports`"),
    ] {
        assert!(
            out.contains(&format!("broken.toml:{line}: {what}")),
            "missing line {line} `{what}` in:\n{out}"
        );
    }
    assert!(String::from_utf8_lossy(&o.stderr).contains("problem(s)"));

    // The JSON form carries the same problems for scripts.
    let o = signalbox(&env, &["sources", "validate", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert!(v["problems"].as_array().unwrap().len() >= 7);
}

#[test]
fn validate_passes_on_the_shipped_sources() {
    let env = Env::new();
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/sources");
    let o = signalbox(&env, &["sources", "validate", shipped]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn the_shipped_catalogue_covers_every_provider_and_matches_its_documentation() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let all = signalbox::config::sources::load_dir(&root.join("sources")).expect("the shipped sources are valid");
    let providers: std::collections::BTreeSet<&str> = all.iter().map(|s| s.provider.as_str()).collect();
    for p in [
        "openai",
        "anthropic",
        "google",
        "aws-bedrock",
        "azure-openai",
        "mistral",
        "cohere",
        "groq",
        "deepseek",
        "xai",
        "together",
    ] {
        assert!(providers.contains(p), "no sources for {p}");
        let of = |d: &str| all.iter().any(|s| s.provider == p && s.doc_type.as_str() == d);
        assert!(of("status"), "{p} has no status source");
    }
    for s in &all {
        // Loading checked kind, doc_type and schedule; what a user relies on beyond that:
        assert!(
            s.schedule.next_after(chrono::Utc::now()).is_some(),
            "{}: a schedule that never fires",
            s.id
        );
        assert_eq!(s.url.scheme(), "https", "{}: vendors publish over https", s.id);
        if s.renders_with_js {
            let alt = s.alternative.as_deref().expect("an alternative");
            assert!(
                all.iter().any(|a| a.id == alt && a.enabled && !a.renders_with_js),
                "{}: its alternative `{alt}` must be an enabled machine-readable source",
                s.id
            );
        }
    }
    for file in std::fs::read_dir(root.join("sources")).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        assert!(
            !text.contains("STATUS-ADAPTER"),
            "a placeholder is left in the catalogue"
        );
    }
    let docs = std::fs::read_to_string(root.join("docs/sources.md")).unwrap();
    let table = signalbox::config::sources::catalogue_markdown(&all);
    assert!(
        docs.contains(&table),
        "docs/sources.md's catalogue table is out of date: regenerate it with `signalbox sources catalogue`"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_history_show_and_list_from_the_command_line() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source("acme-policy", "html", &fx.url("/aup"), "policy", "select = [\"main\"]");
    fx.set("/aup", Page::html("<main><p>No spam.</p></main>"));
    let run = |args: Vec<&str>| signalbox(&env, &args);
    let o = run(vec!["check", "--source", "acme-policy", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["outcome"], "first");
    let between = chrono::Utc::now();
    std::thread::sleep(std::time::Duration::from_millis(20));

    fx.set("/aup", Page::html("<main><p>No spam.</p><p>No malware.</p></main>"));
    let o = run(vec!["check"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("CHANGED"), "{}", stdout(&o));

    let o = run(vec!["history", "acme-policy", "--format", "json"]);
    let h: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 1);
    for key in ["id", "source", "before", "after", "detected_at", "kind"] {
        assert!(h[0].get(key).is_some(), "history lacks {key}");
    }
    assert_eq!(h[0]["kind"], "change");

    let o = run(vec!["show", "acme-policy"]);
    assert_eq!(stdout(&o).trim(), "No spam.\n\nNo malware.");
    let at = between.to_rfc3339();
    let o = signalbox(&env, &["show", "acme-policy", "--at", &at]);
    assert_eq!(stdout(&o).trim(), "No spam.");
    let o = run(vec!["show", "acme-policy", "--at", "2001-01-01"]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(vec!["show", "acme-policy", "--at", "last tuesday"]);
    assert_eq!(o.status.code(), Some(2));

    let o = run(vec!["sources", "list", "--format", "json"]);
    let l: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(l[0]["id"], "acme-policy");
    assert!(l[0]["last_change"].is_string());
    assert!(l[0]["last_error_class"].is_null());

    // A failing source makes `check` exit 1 and shows in the health table.
    fx.set("/aup", Page::html("down").status(503));
    let o = run(vec!["check"]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(vec!["sources", "list"]);
    assert!(stdout(&o).contains("http_5xx"), "{}", stdout(&o));

    let o = run(vec!["check", "--source", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(vec!["default-config"]);
    assert!(stdout(&o).contains("[fetch]"));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_runs_the_whole_pipeline_and_its_briefs_are_listed() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    let table =
        "| Model | Shutdown date | Replacement |\n|---|---|---|\n| acme-large-1 | 2026-01-05 | acme-large-2 |\n";
    fx.set("/deprecations.md", Page::new("text/markdown", table));
    env.write_source(
        "acme-deprecations",
        "markdown",
        &fx.url("/deprecations.md"),
        "deprecations",
        "",
    );
    let o = signalbox(&env, &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    fx.set(
        "/deprecations.md",
        Page::new(
            "text/markdown",
            format!("{table}| acme-small-1 | 2026-09-30 | acme-small-2 |\n"),
        ),
    );
    let o = signalbox(&env, &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("1 change(s) triaged"), "{}", stdout(&o));
    // No server ran: the brief is there because `check` wrote it.
    let o = signalbox(&env, &["briefs", "list", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let briefs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let briefs = briefs.as_array().unwrap();
    assert_eq!(briefs.len(), 1, "{briefs:?}");
    assert_eq!(briefs[0]["source"], "acme-deprecations");
    assert_eq!(briefs[0]["material"], true);
    assert_eq!(briefs[0]["category"], "deprecation");
    assert_eq!(briefs[0]["title"], "acme-small-1 retires on 2026-09-30");
    // A second check finds nothing new and writes nothing twice.
    let o = signalbox(&env, &["check"]);
    assert!(!stdout(&o).contains("triaged"), "{}", stdout(&o));
    let o = signalbox(&env, &["briefs", "list", "--format", "json"]);
    let again: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(again.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_extracted_text_and_stores_nothing() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    env.write_source("acme-policy", "html", &fx.url("/aup"), "policy", "select = [\"main\"]");
    fx.set(
        "/aup",
        Page::html("<nav>menu</nav><main><h2>Rules</h2><ul><li>One</li></ul></main>"),
    );
    let o = signalbox(&env, &["check", "--source", "acme-policy", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o).trim(), "## Rules\n\n- One");
    let o = signalbox(&env, &["history", "acme-policy", "--format", "json"]);
    assert_eq!(stdout(&o).trim(), "[]");
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_shown_once_stored_hashed_listed_and_revoked() {
    let env = Env::new();
    let o = signalbox(
        &env,
        &[
            "token",
            "create",
            "--name",
            "web",
            "--scope",
            "flags:read",
            "--env",
            "production",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let t: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(t["name"], "web");
    assert_eq!(t["scopes"], serde_json::json!(["flags:read"]));
    assert_eq!(t["env"], "production");
    let token = t["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sbx_") && token.len() > 40);
    // Only the hash is stored.
    if env.is_postgres() {
        let pool = env.raw_pool().await;
        for table in ["tokens", "audit_events"] {
            let rows: Vec<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT CAST(t AS TEXT) FROM {table} t")))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            assert!(!rows.is_empty() && rows.iter().all(|r| !r.contains(&token)), "{table}");
        }
        pool.close().await;
    } else {
        let db = std::fs::read(env.db_path()).unwrap();
        let wal = std::fs::read(env.db_path().with_extension("db-wal")).unwrap_or_default();
        let needle = token.as_bytes();
        assert!(!db.windows(needle.len()).any(|w| w == needle) && !wal.windows(needle.len()).any(|w| w == needle));
    }

    let o = signalbox(&env, &["token", "list", "--format", "json"]);
    let l: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(l[0]["name"], "web");
    assert!(l[0].get("token").is_none() && l[0]["revoked_at"].is_null());
    assert!(!stdout(&o).contains(&token));

    // Same name twice, an unknown scope, an unknown environment: usage errors.
    for args in [
        vec!["token", "create", "--name", "web", "--scope", "flags:read"],
        vec!["token", "create", "--name", "x", "--scope", "flags:write"],
        vec![
            "token",
            "create",
            "--name",
            "y",
            "--scope",
            "flags:read",
            "--env",
            "moon",
        ],
    ] {
        let o = signalbox(&env, &args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = signalbox(&env, &["token", "revoke", "web"]);
    assert_eq!(o.status.code(), Some(0));
    let o = signalbox(&env, &["token", "revoke", "web"]);
    assert_eq!(o.status.code(), Some(2), "already revoked");
    let l: serde_json::Value =
        serde_json::from_slice(&signalbox(&env, &["token", "list", "--format", "json"]).stdout).unwrap();
    assert!(l[0]["revoked_at"].is_string());
}

#[test]
fn flags_validate_names_every_problem_and_passes_the_shipped_examples() {
    let env = Env::new();
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/flags");
    let o = signalbox(&env, &["flags", "validate", shipped]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let dir = env.dir.path().join("flags");
    std::fs::write(
        dir.join("bad.yaml"),
        "flags:\n  a.flag:\n    state: ENABLED\n    variants: { on: true, off: \"no\" }\n    defaultVariant: maybe\n  b.flag:\n    state: SOMETIMES\n    variants: { x: 1 }\n    targeting: { \"$ref\": missing }\n",
    )
    .unwrap();
    let o = signalbox(&env, &["flags", "validate", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let out = stdout(&o);
    for what in [
        "flags.a.flag.defaultVariant",
        "flags.a.flag.variants",
        "flags.b.flag.state",
        "missing",
    ] {
        assert!(out.contains(what), "missing `{what}` in:\n{out}");
    }
    assert!(out.contains("bad.yaml"));
}

/// The real binary: SIGHUP reloads flags at once, a broken file is refused with a logged error
/// and the last good flags keep serving, SIGTERM stops the server cleanly.
#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_flags_and_a_broken_file_is_logged_and_refused() {
    let env = Env::new();
    let flags = env.dir.path().join("flags/app.yaml");
    let write = |default: &str| {
        std::fs::write(
            &flags,
            format!("flags:\n  max.items:\n    state: ENABLED\n    variants: {{ small: 10, large: 100 }}\n    defaultVariant: {default}\n"),
        )
        .unwrap()
    };
    write("large");
    // Polling effectively off: only SIGHUP reloads.
    let config = env.dir.path().join("settings.toml");
    std::fs::write(&config, "[serving]\nreload_poll_ms = 3600000\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = signalbox(&env, &["token", "create", "--name", "app", "--scope", "flags:read"]);
    let token = stdout(&o).trim().to_owned();
    let log = env.dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("SIGNALBOX_SOURCES", env.sources_dir())
        .env("SIGNALBOX_FLAGS", env.dir.path().join("flags"))
        .env("DATABASE_URL", env.db_url())
        .env("SIGNALBOX_SSE_SECRET", env.settings().serving.sse_secret)
        .env("SIGNALBOX_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let value = || async {
        let r = client
            .post(format!("{base}/ofrep/v1/evaluate/flags/max.items"))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?;
        r.json::<serde_json::Value>().await.ok().map(|v| v["value"].clone())
    };
    let wait_for = |want: serde_json::Value| {
        let value = &value;
        async move {
            for _ in 0..100 {
                if value().await == Some(want.clone()) {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            false
        }
    };
    assert!(wait_for(serde_json::json!(100)).await, "server did not start serving");
    let hup = |pid: u32| Command::new("kill").args(["-HUP", &pid.to_string()]).status().unwrap();

    write("huge");
    assert!(hup(child.id()).success());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        value().await,
        Some(serde_json::json!(100)),
        "the last good flags keep serving"
    );
    write("small");
    assert!(hup(child.id()).success());
    assert!(wait_for(serde_json::json!(10)).await, "SIGHUP did not reload");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("flag reload refused"), "{logged}");
    assert!(logged.contains("huge"), "the log names the problem: {logged}");
}

#[test]
fn serve_refuses_invalid_flags_with_exit_status_2() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("flags/bad.yaml"),
        "flags:\n  x:\n    state: ENABLED\n    variants: {}\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(["serve"])
        .env("SIGNALBOX_SOURCES", env.sources_dir())
        .env("SIGNALBOX_FLAGS", env.dir.path().join("flags"))
        .env("DATABASE_URL", env.db_url())
        .env("SIGNALBOX_SSE_SECRET", env.settings().serving.sse_secret)
        .env("SIGNALBOX_LISTEN", format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad.yaml"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn triage_prints_a_readable_brief_and_the_json_contract() {
    let env = Env::new();
    let dir = env.dir.path();
    std::fs::write(
        dir.join("before.md"),
        "# Model deprecations\n\n| Model | Deprecation date | Retirement date | Replacement |\n|---|---|---|---|\n| acme-large-2407 | 2025-01-10 | | acme-large-2411 |\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("after.md"),
        "# Model deprecations\n\n| Model | Deprecation date | Retirement date | Replacement |\n|---|---|---|---|\n| acme-large-2407 | 2025-01-10 | March 30th, 2025 | acme-large-2411 |\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("flags/routes.yaml"),
        "flags:\n  route.chat:\n    state: ENABLED\n    variants:\n      primary: { targets: [{ provider: acme, model: acme-large-2407 }] }\n      failover: { targets: [{ provider: other, model: other-1 }] }\n    defaultVariant: primary\n    metadata: { providers: [acme/acme-large-2407, other/other-1] }\n",
    )
    .unwrap();
    let args = |format: &str| {
        vec![
            "--flags".to_owned(),
            dir.join("flags").display().to_string(),
            "triage".into(),
            dir.join("before.md").display().to_string(),
            dir.join("after.md").display().to_string(),
            "--doc-type".into(),
            "deprecations".into(),
            "--provider".into(),
            "acme".into(),
            "--format".into(),
            format.into(),
        ]
    };
    let json_args = args("json");
    let o = signalbox(&env, &json_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let b: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(b["material"], true);
    assert_eq!(b["category"], "deprecation");
    assert_eq!(b["title"], "acme-large-2407 retires on 2025-03-30");
    assert!(
        b["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "retirement" && f["subject"] == "acme-large-2407" && f["date"] == "2025-03-30")
    );
    assert!(b["what_breaks"][0].as_str().unwrap().contains("route.chat"), "{b}");
    assert!(matches!(b["severity"].as_str(), Some("high" | "critical")));
    for key in ["categories", "what_changed", "action", "diff"] {
        assert!(b.get(key).is_some(), "missing {key}");
    }
    let md_args = args("markdown");
    let o = signalbox(&env, &md_args.iter().map(String::as_str).collect::<Vec<_>>());
    let md = stdout(&o);
    assert!(md.starts_with("# acme-large-2407 retires on 2025-03-30"), "{md}");
    assert!(
        md.contains("## What breaks") && md.contains("## Action") && md.contains("```diff"),
        "{md}"
    );

    // A cosmetic edit: not material, stored but quiet.
    std::fs::write(
        dir.join("after2.md"),
        std::fs::read_to_string(dir.join("before.md"))
            .unwrap()
            .replace("| Replacement |", "|  Replacement  |"),
    )
    .unwrap();
    let o = signalbox(
        &env,
        &[
            "triage",
            dir.join("before.md").to_str().unwrap(),
            dir.join("after2.md").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let b: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (b["material"].clone(), b["category"].clone()),
        (serde_json::json!(false), serde_json::Value::Null)
    );
}

#[test]
fn triage_rules_files_extend_the_shipped_rules_and_bad_ones_name_file_and_line() {
    let env = Env::new();
    let dir = env.dir.path();
    std::fs::write(dir.join("b.md"), "# Notes\n\nThe service answers questions.\n").unwrap();
    std::fs::write(
        dir.join("a.md"),
        "# Notes\n\nThe service answers questions.\n\nThe service now accepts zorblax uploads.\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("rules.toml"),
        "[category.capability]\npatterns = ['\\bzorblax\\b']\n",
    )
    .unwrap();
    let (before, after) = (dir.join("b.md"), dir.join("a.md"));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "triage",
            before.to_str().unwrap(),
            after.to_str().unwrap(),
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        signalbox(&env, &args)
    };
    let plain: serde_json::Value = serde_json::from_slice(&run(&[]).stdout).unwrap();
    assert_ne!(plain["category"], "capability", "{plain}");
    let rules = dir.join("rules.toml");
    let o = run(&["--rules", rules.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let extended: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(extended["category"], "capability", "{extended}");

    // A broken rules file: exit 2, the file and the line named.
    std::fs::write(
        dir.join("bad.toml"),
        "[category.capability]\npatterns = ['ok']\nprior = 3\n",
    )
    .unwrap();
    let bad = dir.join("bad.toml");
    let o = run(&["--rules", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml:3"), "{err}");

    // The server refuses to start on it too, from the settings file.
    std::fs::write(
        dir.join("settings.toml"),
        format!("[triage]\nrules = [{:?}]\n", bad.display().to_string()),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(["--config", dir.join("settings.toml").to_str().unwrap(), "serve"])
        .env("SIGNALBOX_SOURCES", env.sources_dir())
        .env("SIGNALBOX_FLAGS", dir.join("flags"))
        .env("DATABASE_URL", env.db_url())
        .env("SIGNALBOX_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml:3"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_refuses_edits_and_verify_names_the_first_broken_link() {
    let env = Env::new();
    let mut secrets = Vec::new();
    for name in ["ci-deploy", "web-app", "ops"] {
        let o = signalbox(
            &env,
            &[
                "token",
                "create",
                "--name",
                name,
                "--scope",
                "flags:read",
                "--env",
                "production",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        secrets.push(stdout(&o).trim().to_owned());
    }
    let o = signalbox(&env, &["token", "revoke", "web-app"]);
    assert_eq!(o.status.code(), Some(0));
    let o = signalbox(&env, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("intact: 4 events"), "{}", stdout(&o));
    let o = signalbox(&env, &["audit", "list", "--action", "token.", "--format", "json"]);
    let events: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["token.created", "token.created", "token.created", "token.revoked"]
    );
    assert!(events[0]["actor"].as_str().unwrap().starts_with("cli:"));
    for secret in &secrets {
        assert!(
            secret.len() > 20 && !events.to_string().contains(secret.as_str()),
            "a token secret in the audit log"
        );
    }

    // The database itself refuses updates and deletes.
    let pool = env.raw_pool().await;
    for sql in [
        "UPDATE audit_events SET actor = 'mallory' WHERE id = 2",
        "DELETE FROM audit_events WHERE id = 2",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err().to_string();
        assert!(err.contains("append-only"), "{err}");
    }
    // Someone with file access drops the trigger and edits an event: verify names it.
    sqlx::query(env.drop_audit_update_trigger())
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET payload = replace(payload, 'ci-deploy', 'mallory') WHERE id = 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let o = signalbox(&env, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("broken at event 1") && err.contains("altered"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unconfirmed_source_is_unverified_until_its_first_successful_fetch_and_settings_select_a_subset() {
    let (env, fx) = (Env::new(), Fixture::start().await);
    fx.set("/models", Page::html("<main><p>acme-large-2</p></main>"));
    env.write_source("acme-models", "html", &fx.url("/models"), "models", "confirmed = false");
    let o = signalbox(&env, &["sources", "list"]);
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with("acme-models"))
        .unwrap()
        .to_owned();
    assert!(line.contains("unverified") && line.contains("unverified URL"), "{line}");
    let o = signalbox(&env, &["check", "--source", "acme-models"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let o = signalbox(&env, &["sources", "list", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (&rows[0]["verified"], &rows[0]["health"]),
        (&serde_json::json!(true), &serde_json::json!("ok"))
    );

    // Settings pick a subset by doc_type: the rest stays listed, disabled.
    std::fs::write(env.dir.path().join("s.toml"), "[catalogue]\ndoc_types = [\"status\"]\n").unwrap();
    let settings = env.dir.path().join("s.toml");
    let o = signalbox(
        &env,
        &[
            "--config",
            settings.to_str().unwrap(),
            "sources",
            "list",
            "--format",
            "json",
        ],
    );
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows[0]["health"], "disabled");
    std::fs::write(env.dir.path().join("s.toml"), "[catalogue]\nproviders = [\"globex\"]\n").unwrap();
    let o = signalbox(&env, &["--config", settings.to_str().unwrap(), "sources", "list"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown provider in the selection is a mistake"
    );
}

#[test]
fn migrate_applies_what_is_pending_and_check_says_so() {
    let env = Env::new();
    let o = signalbox(&env, &["migrate", "--check"]);
    assert_eq!(o.status.code(), Some(1), "a new database has everything pending");
    assert!(stdout(&o).contains("pending: 1 "), "{}", stdout(&o));
    let o = signalbox(&env, &["migrate"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("applied: "), "{}", stdout(&o));
    let o = signalbox(&env, &["migrate", "--check"]);
    assert_eq!(o.status.code(), Some(0));
    let want = if env.is_postgres() { "postgres" } else { "sqlite" };
    assert!(
        stdout(&o).contains(&format!("{want} database is up to date")),
        "{}",
        stdout(&o)
    );
    let o = signalbox(&env, &["--database", "mysql://h/db", "migrate"]);
    assert_eq!(o.status.code(), Some(2), "an unsupported URL is a usage error");
}
