//! Evidence bundles end to end: a provider page gains a retirement date, the watcher stores both
//! versions, triage writes a brief, someone acknowledges it, and the real binary writes the
//! archive a vendor or an auditor would receive; then the archive is checked, tampered with and
//! checked again.

use crate::fixture::{Fixture, Page};
use crate::helpers::Env;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

const TABLE: &str = "# Model deprecations\n\n| Model | Deprecation date | Retirement date | Replacement |\n|---|---|---|---|\n| acme-large-2407 | 2026-01-10 | RETIRES | acme-large-2411 |\n| acme-small-1 | 2025-06-01 | 2025-12-01 | acme-small-2 |\n";

fn signalbox(env: &Env, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signalbox"))
        .args(args)
        .current_dir(env.dir.path())
        .env("SIGNALBOX_SOURCES", env.sources_dir())
        .env("SIGNALBOX_FLAGS", env.dir.path().join("flags"))
        .env("DATABASE_URL", env.db_url())
        .env("USER", "tester")
        .env_remove("RUST_LOG")
        .env_remove("SIGNALBOX_CONFIG")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sha256(b: &[u8]) -> String {
    signalbox::store::sha256_hex(b)
}

/// The archive's files by their full path, in archive order.
fn untar(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        assert_eq!(e.header().mode().unwrap(), 0o644, "{path}");
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        out.push((path, bytes));
    }
    out
}

fn retar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, bytes.as_slice()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn json(files: &BTreeMap<String, Vec<u8>>, name: &str) -> Value {
    serde_json::from_slice(files.get(name).unwrap_or_else(|| panic!("{name} missing"))).unwrap()
}

/// Writes a bundle with the binary and returns (stdout lines, files by path inside the folder).
fn bundle(env: &Env, args: &[&str], out: &Path) -> (Vec<String>, String, BTreeMap<String, Vec<u8>>) {
    let mut all = args.to_vec();
    let out_s = out.display().to_string();
    all.extend(["--out", &out_s]);
    let o = signalbox(env, &all);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let lines: Vec<String> = text(&o.stdout).lines().map(str::to_owned).collect();
    let archive = std::fs::read(out).unwrap();
    let entries = untar(&archive);
    let root = entries[0].0.split('/').next().unwrap().to_owned();
    let files = entries
        .into_iter()
        .map(|(p, b)| {
            let rel = p
                .strip_prefix(&format!("{root}/"))
                .unwrap_or_else(|| panic!("{p} outside {root}"));
            (rel.to_owned(), b)
        })
        .collect();
    (lines, root, files)
}

/// A provider page that gains a retirement date between two polls, the brief triage wrote about
/// it, acknowledged by alice.
struct Scenario {
    env: Env,
    app: signalbox::server::App,
    brief: i64,
    /// A moment strictly between the two versions.
    between: chrono::DateTime<chrono::Utc>,
    old: String,
    new: String,
}

async fn scenario() -> Scenario {
    use signalbox::briefs::BriefWriter;
    let (env, fx) = (Env::new(), Fixture::start().await);
    let old = TABLE.replace("RETIRES", "");
    let new = TABLE.replace("RETIRES", "January 5th, 2027");
    fx.set(
        "/deprecations.md",
        Page::new("text/markdown; charset=utf-8", old.clone()).header("x-vendor-revision", "r1"),
    );
    env.write_source(
        "acme-deprecations",
        "markdown",
        &fx.url("/deprecations.md"),
        "deprecations",
        "",
    );
    std::fs::write(
        env.dir.path().join("flags/routes.yaml"),
        "flags:\n  route.chat:\n    state: ENABLED\n    variants:\n      primary: { targets: [{ provider: acme, model: acme-large-2407 }] }\n    defaultVariant: primary\n    metadata: { providers: [acme/acme-large-2407] }\n",
    )
    .unwrap();
    let app = env.app().await;
    let src = env.source("acme-deprecations");
    app.watcher.poll(&src).await.unwrap();
    // Times are stored in milliseconds: step clear of both polls.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    fx.set(
        "/deprecations.md",
        Page::new("text/markdown; charset=utf-8", new.clone()).header("x-vendor-revision", "r2"),
    );
    app.watcher.poll(&src).await.unwrap();
    let writer = BriefWriter::new(
        app.watcher.store.clone(),
        app.sources.clone(),
        Some(signalbox::server::flag_service(&env.settings()).await.unwrap()),
        signalbox::triage::classify::Rules::load(&[]).unwrap(),
    );
    assert_eq!(writer.run_once().await.unwrap(), 1);
    let store = &app.watcher.store;
    let brief = store.briefs(&Default::default()).await.unwrap()[0].id;
    store
        .transition_brief(
            brief,
            signalbox::domain::brief::BriefStatus::Acknowledged,
            "alice",
            None,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    Scenario {
        env,
        app,
        brief,
        between,
        old,
        new,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_brief_bundle_carries_both_versions_the_diff_the_brief_and_a_verifiable_audit_chain() {
    let Scenario {
        env,
        app: _app,
        brief: id,
        between,
        old,
        new,
    } = scenario().await;
    let out = env.dir.path().join("brief.tar.gz");
    let (lines, root, files) = bundle(&env, &["evidence", "--brief", &id.to_string()], &out);
    let archive = std::fs::read(&out).unwrap();
    assert_eq!(lines[0], out.display().to_string());
    assert_eq!(lines[1], format!("sha256 {}", sha256(&archive)));
    assert!(root.starts_with(&format!("signalbox-evidence-brief-{id}-")), "{root}");

    // Both versions exactly as served, their normalized texts, and what was fetched when.
    assert_eq!(files["snapshots/before/raw.md"], old.as_bytes());
    assert_eq!(files["snapshots/after/raw.md"], new.as_bytes());
    for (side, revision) in [("before", "r1"), ("after", "r2")] {
        let normalized = &files[&format!("snapshots/{side}/normalized.txt")];
        assert!(text(normalized).contains("acme-large-2407"), "{side}");
        let meta = json(&files, &format!("snapshots/{side}/meta.json"));
        assert_eq!(meta["http_status"], 200);
        assert_eq!(meta["source"], "acme-deprecations");
        assert!(meta["fetched_at"].is_string());
        assert_eq!(meta["raw_sha256"], sha256(&files[&format!("snapshots/{side}/raw.md")]));
        assert_eq!(meta["text_sha256"], sha256(normalized));
        let headers = meta["headers"].as_array().unwrap();
        assert!(
            headers.iter().any(|h| h[0] == "x-vendor-revision" && h[1] == revision),
            "{side}: {headers:?}"
        );
        assert!(headers.iter().any(|h| h[0] == "content-type"), "{headers:?}");
    }
    assert!(text(&files["snapshots/after/normalized.txt"]).contains("January 5th, 2027"));

    let diff = text(&files["diff.txt"]);
    assert!(
        diff.lines()
            .any(|l| l.starts_with('+') && !l.starts_with("+++") && l.contains("January 5th, 2027")),
        "{diff}"
    );
    assert!(
        diff.lines()
            .any(|l| l.starts_with('-') && l.contains("acme-large-2407")),
        "{diff}"
    );

    let brief = json(&files, "brief.json");
    assert_eq!(brief["id"], id);
    assert!(
        brief["brief"]["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "retirement" && f["subject"] == "acme-large-2407" && f["date"] == "2027-01-05"),
        "{brief}"
    );
    assert!(text(&files["brief.md"]).contains("acme-large-2407 retires on 2027-01-05"));
    assert_eq!(json(&files, "change.json")["id"], brief["change"]);
    assert_eq!(json(&files, "decisions.json"), serde_json::json!([]));
    let events = json(&files, "brief-events.json");
    assert_eq!(events[1]["action"], "acknowledged");

    // The manifest covers every other file, with the right checksums.
    let manifest = json(&files, "manifest.json");
    assert_eq!(manifest["format"], "signalbox-evidence/1");
    assert_eq!(manifest["created_by"], "cli:tester");
    let listed: BTreeMap<String, (String, u64)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                (f["sha256"].as_str().unwrap().to_owned(), f["bytes"].as_u64().unwrap()),
            )
        })
        .collect();
    let present: Vec<&String> = files.keys().filter(|p| *p != "manifest.json").collect();
    assert_eq!(listed.keys().collect::<Vec<_>>(), present);
    for (path, (sum, bytes)) in &listed {
        assert_eq!(*sum, sha256(&files[path]), "{path}");
        assert_eq!(*bytes, files[path].len() as u64, "{path}");
    }

    // The audit lines: the brief's creation and acknowledgement, chained from the anchor, checked
    // here with nothing but the hash function.
    let audit = &manifest["audit"];
    assert_eq!(audit["chain"], "contiguous");
    assert_eq!(audit["verified"], true);
    let lines: Vec<Value> = text(&files["audit.jsonl"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = lines.iter().map(|l| l["action"].as_str().unwrap()).collect();
    assert!(
        actions.contains(&"brief.created") && actions.contains(&"brief.acknowledged"),
        "{actions:?}"
    );
    let mut prev = audit["anchor"].as_str().unwrap().to_owned();
    for l in &lines {
        let s = |k: &str| l[k].as_str().unwrap();
        assert_eq!(s("prev_hash"), prev, "event {}", l["id"]);
        let h = signalbox::audit::event_hash(
            &prev,
            l["at_ms"].as_i64().unwrap(),
            s("actor"),
            s("action"),
            s("object_type"),
            s("object_id"),
            s("payload_text"),
        );
        assert_eq!(s("hash"), h, "event {}", l["id"]);
        prev = h;
    }
    assert_eq!(audit["head"], prev);
    let ack = lines.iter().find(|l| l["action"] == "brief.acknowledged").unwrap();
    assert!(audit["concerned"].as_array().unwrap().contains(&ack["id"]));

    // The export itself is in the audit log, with the archive's hash.
    let o = signalbox(
        &env,
        &["audit", "list", "--action", "evidence.exported", "--format", "json"],
    );
    let exported: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        exported[0]["payload"]["sha256"].as_str(),
        Some(sha256(&archive).as_str()),
        "{exported}"
    );

    // `evidence verify` agrees; one flipped byte in a re-packed archive names the file.
    let o = signalbox(&env, &["evidence", "verify", &out.display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with("OK"), "{}", text(&o.stdout));
    let mut entries = untar(&archive);
    let target = format!("{root}/snapshots/after/raw.md");
    let entry = entries.iter_mut().find(|(p, _)| *p == target).unwrap();
    entry.1[0] ^= 0x01;
    let tampered = env.dir.path().join("tampered.tar.gz");
    std::fs::write(&tampered, retar(&entries)).unwrap();
    let o = signalbox(&env, &["evidence", "verify", &tampered.display().to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("snapshots/after/raw.md"),
        "{}",
        text(&o.stderr)
    );

    // The version in force between the two polls is the old one; at the end of today, the new
    // one with the change and the brief that reported it.
    let at = between.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (_, _, files) = bundle(
        &env,
        &["evidence", "--source", "acme-deprecations", "--at", &at],
        &env.dir.path().join("then.tar.gz"),
    );
    assert_eq!(files["snapshots/in-force/raw.md"], old.as_bytes());
    assert!(!files.contains_key("brief.json"), "no change brought the first version");
    let history = json(&files, "source-history.json");
    assert_eq!(history["versions"].as_array().unwrap().len(), 2);
    assert_eq!(history["versions"][0]["in_force"], true);

    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (_, _, files) = bundle(
        &env,
        &["evidence", "--source", "acme-deprecations", "--at", &today],
        &env.dir.path().join("now.tar.gz"),
    );
    assert_eq!(files["snapshots/in-force/raw.md"], new.as_bytes());
    assert_eq!(json(&files, "brief.json")["id"], id);

    // Nothing to bundle: exit 2 with the reason.
    let o = signalbox(&env, &["evidence", "--brief", "9999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("no brief 9999"), "{}", text(&o.stderr));
    let o = signalbox(
        &env,
        &["evidence", "--source", "acme-deprecations", "--at", "2000-01-01"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("at or before"), "{}", text(&o.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_audit_chain_is_still_bundled_says_so_and_fails() {
    let Scenario { env, app, brief, .. } = scenario().await;
    app.watcher.store.close().await;
    // Someone goes around signalbox and rewrites the acknowledgement in the database.
    let pool = env.raw_pool().await;
    sqlx::query(env.drop_audit_update_trigger())
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET actor = 'mallory' WHERE action = 'brief.acknowledged'")
        .execute(&pool)
        .await
        .unwrap();
    let ack: i64 = sqlx::query_scalar("SELECT id FROM audit_events WHERE action = 'brief.acknowledged'")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;

    let out = env.dir.path().join("broken.tar.gz");
    let o = signalbox(
        &env,
        &[
            "evidence",
            "--brief",
            &brief.to_string(),
            "--out",
            &out.display().to_string(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(&format!("does not hold at event {ack}")),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(text(&o.stdout).lines().next(), Some(out.display().to_string().as_str()));
    let archive = std::fs::read(&out).unwrap();
    let manifest = untar(&archive)
        .into_iter()
        .find(|(p, _)| p.ends_with("/manifest.json"))
        .map(|(_, b)| serde_json::from_slice::<Value>(&b).unwrap())
        .unwrap();
    assert_eq!(manifest["audit"]["verified"], false);
    assert_eq!(manifest["audit"]["broken"]["id"], ack);
    let readme = untar(&archive)
        .into_iter()
        .find(|(p, _)| p.ends_with("/README.txt"))
        .unwrap()
        .1;
    assert!(text(&readme).contains("did NOT hold"));

    let o = signalbox(&env, &["evidence", "verify", &out.display().to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains(&format!("event {ack}")), "{}", text(&o.stderr));
}
