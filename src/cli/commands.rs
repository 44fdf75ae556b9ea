//! The commands themselves.

use super::{
    AuditCommand, BriefFormat, BriefsCommand, Command, EvidenceCommand, EvidenceOf, Failure, FlagsCommand, Format,
    NotifyCommand, ReportFormat, SourcesCommand, TokenCommand,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use signalbox::config::{Settings, Source, sources};
use signalbox::extract::Extractor;
use signalbox::fetch::{Fetcher, Outcome, Validators};
use signalbox::health::source_rows;
use signalbox::server::{self, App};
use signalbox::store::Store;
use signalbox::watch::PollOutcome;
use std::io::IsTerminal;

pub async fn run(cmd: Command, s: Settings) -> Result<(), Failure> {
    match cmd {
        Command::Serve => serve(s).await,
        Command::Migrate { check } => migrate(s, check).await,
        Command::Check {
            source,
            dry_run,
            format,
        } => {
            if dry_run {
                dry_run_check(s, source.as_deref().unwrap_or_default()).await
            } else {
                check(s, source.as_deref(), format).await
            }
        }
        Command::Sources {
            command: SourcesCommand::Validate { dir, format },
        } => validate(dir.as_deref().unwrap_or(&s.sources), format),
        Command::Sources {
            command: SourcesCommand::List { format },
        } => list(s, format).await,
        Command::Sources {
            command: SourcesCommand::Catalogue { dir },
        } => {
            let all =
                sources::load_dir(dir.as_deref().unwrap_or(&s.sources)).map_err(|e| Failure::Usage(e.to_string()))?;
            print!("{}", sources::catalogue_markdown(&all));
            Ok(())
        }
        Command::History { source, format } => history(s, &source, format).await,
        Command::Show { source, at, format } => show(s, &source, at.as_deref(), format).await,
        Command::Flags {
            command: FlagsCommand::Validate { dir, format },
        } => flags_validate(dir.as_deref().unwrap_or(&s.flags), format),
        Command::Flags {
            command: FlagsCommand::List { format },
        } => flags_list(s, format).await,
        Command::Token { command } => token(s, command).await,
        Command::Briefs { command } => briefs(s, command).await,
        Command::Audit { command } => audit(s, command).await,
        Command::Report { since, format } => report(s, &since, format).await,
        Command::Demo {
            listen,
            pause,
            exit_when_done,
            data_dir,
        } => {
            let opts = signalbox::demo::DemoOptions {
                listen,
                pause: std::time::Duration::from_secs(pause),
                exit_when_done,
                data_dir,
            };
            signalbox::demo::run(opts, signalbox::server::shutdown_signal(), |line| println!("{line}"))
                .await
                .map(|_| ())
                .map_err(runtime)
        }
        Command::Notify {
            command: NotifyCommand::Secret,
        } => {
            println!("{}", signalbox::notify::generate_secret());
            Ok(())
        }
        Command::Triage {
            before,
            after,
            kind,
            doc_type,
            provider,
            rules,
            format,
        } => triage(
            &s,
            &before,
            &after,
            kind.as_deref(),
            doc_type.as_deref(),
            provider.as_deref(),
            &rules,
            format,
        ),
        Command::Evidence {
            command: Some(EvidenceCommand::Verify { path, format }),
            ..
        } => evidence_verify(&path, format),
        Command::Evidence {
            command: None,
            of,
            at,
            out,
            format,
        } => evidence(s, of, at.as_deref(), out, format).await,
        Command::DefaultConfig => {
            print!("{}", signalbox::config::settings::DEFAULT_CONFIG);
            Ok(())
        }
    }
}

fn runtime<E: std::fmt::Display>(e: E) -> Failure {
    Failure::Runtime(e.to_string())
}

/// Opens the store; a database URL we cannot use is a configuration error (exit 2).
async fn open_store(s: &Settings) -> Result<Store, Failure> {
    Store::open(&s.database).await.map_err(|e| match e {
        signalbox::store::StoreError::UnsupportedUrl(_) => Failure::Usage(e.to_string()),
        e => Failure::Runtime(e.to_string()),
    })
}

/// `signalbox migrate [--check]`: only the database is needed, no sources or flags.
async fn migrate(s: Settings, check: bool) -> Result<(), Failure> {
    let store = Store::connect(&s.database, std::sync::Arc::new(signalbox::clock::SystemClock))
        .await
        .map_err(|e| match e {
            signalbox::store::StoreError::UnsupportedUrl(_) => Failure::Usage(e.to_string()),
            e => Failure::Runtime(e.to_string()),
        })?;
    let pending = store
        .pending_migrations()
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let backend = store.backend().as_str();
    if check {
        for (version, name) in &pending {
            println!("pending: {version} {name}");
        }
        store.close().await;
        return if pending.is_empty() {
            println!("{backend} database is up to date");
            Ok(())
        } else {
            Err(Failure::Runtime(format!("{} migration(s) pending", pending.len())))
        };
    }
    store.migrate().await.map_err(|e| Failure::Runtime(e.to_string()))?;
    for (version, name) in &pending {
        println!("applied: {version} {name}");
    }
    println!("{backend} database is up to date ({} applied now)", pending.len());
    store.close().await;
    Ok(())
}

fn print_json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("output serializes"));
}

async fn serve(s: Settings) -> Result<(), Failure> {
    let listen = s.listen.clone();
    tracing::info!(database = %s.database_url_redacted(), sources = %s.sources.display(), "starting");
    let app = App::build(s).await.map_err(Failure::from_app)?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| Failure::Usage(format!("cannot listen on {listen}: {e}")))?;
    // Invalid flag files or serving settings are configuration errors (exit 2), found at start.
    server::serve(app, listener, server::shutdown_signal())
        .await
        .map_err(Failure::from_app)
}

fn validate(dir: &std::path::Path, format: Format) -> Result<(), Failure> {
    let result = sources::load_dir(dir).map(|l| l.len()).map_err(|e| {
        e.0.iter()
            .map(|p| {
                (
                    p.to_string(),
                    serde_json::json!({ "file": p.file, "line": p.line, "message": p.message }),
                )
            })
            .collect()
    });
    report_validation(dir, "sources", result, format)
}

/// Prints a validation result (every problem, or a count) and maps problems to exit status 2.
fn report_validation(
    dir: &std::path::Path,
    what: &str,
    result: Result<usize, Vec<(String, serde_json::Value)>>,
    format: Format,
) -> Result<(), Failure> {
    match result {
        Ok(n) => {
            if format == Format::Json {
                print_json(&serde_json::json!({ "valid": true, what: n, "problems": [] }));
            } else {
                println!("{}: {n} {what}, all valid", dir.display());
            }
            Ok(())
        }
        Err(problems) => {
            if format == Format::Json {
                let list: Vec<&serde_json::Value> = problems.iter().map(|(_, v)| v).collect();
                print_json(&serde_json::json!({ "valid": false, "problems": list }));
            } else {
                for (line, _) in &problems {
                    println!("{line}");
                }
            }
            Err(Failure::Usage(format!(
                "{} problem(s) in {}",
                problems.len(),
                dir.display()
            )))
        }
    }
}

async fn check(s: Settings, only: Option<&str>, format: Format) -> Result<(), Failure> {
    let concurrency = s.fetch.global_concurrency.max(1);
    let app = App::build(s).await.map_err(Failure::from_app)?;
    let selected: Vec<Source> = match only {
        Some(id) => vec![
            app.source(id)
                .cloned()
                .ok_or_else(|| Failure::Usage(format!("no source `{id}`")))?,
        ],
        None => app.sources.iter().filter(|s| s.enabled).cloned().collect(),
    };
    let bar = if format == Format::Text && selected.len() > 1 && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(selected.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").expect("valid progress template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut reports = app
        .watcher
        .poll_all(&selected, concurrency, |id| {
            bar.inc(1);
            bar.set_message(id.to_owned());
        })
        .await
        .map_err(runtime)?;
    bar.finish_and_clear();
    reports.sort_by(|a, b| a.source.cmp(&b.source));
    // The whole pipeline: what the polls found is triaged and briefed before `check` returns,
    // by the same writer as `serve` (safe beside it: a change is briefed once).
    let writer = match signalbox::server::brief_writer(&app).await {
        Ok(w) => w,
        // Watching works without flags; the briefs then name no affected flag and no playbook
        // runs (as `serve` would refuse to start, say why).
        Err(e) if e.is_config() => {
            eprintln!("signalbox: briefs are written without flags or playbooks: {e}");
            let rules = signalbox::triage::classify::Rules::load_files(&app.settings.triage.rules)
                .map_err(|e| Failure::Usage(e.to_string()))?;
            signalbox::briefs::BriefWriter::new(app.watcher.store.clone(), app.sources.clone(), None, rules)
        }
        Err(e) => return Err(Failure::from_app(e)),
    };
    let written = writer.run_once().await.map_err(runtime)?;
    let failed = reports
        .iter()
        .filter(|r| matches!(r.outcome, PollOutcome::Failed { .. }))
        .count();
    if format == Format::Json {
        print_json(&reports);
    } else {
        for r in &reports {
            let what = match &r.outcome {
                PollOutcome::First { snapshot } => format!("first snapshot {snapshot}"),
                PollOutcome::Unchanged => "unchanged".into(),
                PollOutcome::Flapped { snapshot } => {
                    format!("back to a recent version (snapshot {snapshot}), not a change")
                }
                PollOutcome::Changed { change, .. } => format!("CHANGED (change {change})"),
                PollOutcome::RulesUpgraded { snapshot } => format!("rules upgrade (snapshot {snapshot})"),
                PollOutcome::Failed { class, message } => format!("FAILED {class}: {message}"),
            };
            println!("{:<40} {what}", r.source);
        }
        if written > 0 {
            println!("{written} change(s) triaged: see `signalbox briefs list`");
        }
    }
    app.watcher.store.close().await;
    if failed > 0 {
        return Err(Failure::Runtime(format!(
            "{failed} of {} source(s) failed",
            reports.len()
        )));
    }
    Ok(())
}

/// Fetches one source and prints what the extractor makes of it, storing nothing: the way to try
/// a selector or an ignore rule.
async fn dry_run_check(s: Settings, id: &str) -> Result<(), Failure> {
    let list = sources::load_dir(&s.sources).map_err(|e| Failure::Usage(e.to_string()))?;
    let src = list
        .iter()
        .find(|x| x.id == id)
        .ok_or_else(|| Failure::Usage(format!("no source `{id}`")))?;
    let fetcher = Fetcher::new(s.fetch.clone(), s.allow_private_networks).map_err(runtime)?;
    let report = fetcher.fetch(&src.url, &src.headers, &Validators::default()).await;
    let body = match report.result.map_err(|e| Failure::Runtime(e.to_string()))? {
        Outcome::Body(f) => f.body,
        Outcome::NotModified => {
            return Err(Failure::Runtime(
                "server answered 304 to an unconditional request".into(),
            ));
        }
    };
    let ex = Extractor::new(src.kind, src.rules.clone(), Some(src.url.clone()))
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let doc = ex
        .extract(&body)
        .map_err(|e| Failure::Runtime(format!("extract_failed: {e}")))?;
    println!("{}", doc.to_text());
    Ok(())
}

async fn list(s: Settings, format: Format) -> Result<(), Failure> {
    let list = s.load_sources().map_err(|e| Failure::Usage(e.to_string()))?;
    let store = open_store(&s).await?;
    let rows = source_rows(&store, &list, &s.scheduler).await.map_err(runtime)?;
    store.close().await;
    if format == Format::Json {
        print_json(&rows);
        return Ok(());
    }
    let fmt_t = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "-".into())
    };
    println!(
        "{:<36} {:<12} {:<11} {:<10} {:<16} {:<16} {:>5} {:<16} LAST ERROR / NOTE",
        "ID", "PROVIDER", "KIND", "HEALTH", "LAST SUCCESS", "LAST CHANGE", "FAILS", "NEXT RUN"
    );
    for r in rows {
        let marks = [
            (!r.verified).then(|| "unverified URL".to_owned()),
            r.renders_with_js.then(|| {
                format!(
                    "needs JavaScript; watched instead: {}",
                    r.alternative.as_deref().unwrap_or("-")
                )
            }),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ");
        println!(
            "{:<36} {:<12} {:<11} {:<10} {:<16} {:<16} {:>5} {:<16} {}{}",
            r.id,
            r.provider,
            r.kind,
            if !r.verified && r.health == "pending" {
                "unverified"
            } else {
                r.health
            },
            fmt_t(r.last_success),
            fmt_t(r.last_change),
            r.consecutive_failures,
            fmt_t(r.next_run),
            r.last_error_class
                .map(|c| format!("{c}: {} ", r.last_error.unwrap_or_default()))
                .unwrap_or_default(),
            marks
        );
    }
    Ok(())
}

async fn history(s: Settings, source: &str, format: Format) -> Result<(), Failure> {
    let store = open_store(&s).await?;
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = store.changes(Some(source), after, 1000).await.map_err(runtime)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        all.extend(page);
    }
    let known = !all.is_empty() || store.latest_snapshot(source).await.map_err(runtime)?.is_some();
    store.close().await;
    if !known && !sources::load_dir(&s.sources).is_ok_and(|l| l.iter().any(|x| x.id == source)) {
        return Err(Failure::Usage(format!("no source `{source}`")));
    }
    if format == Format::Json {
        print_json(&all);
    } else if all.is_empty() {
        println!("{source}: no changes recorded");
    } else {
        for c in all {
            println!(
                "{:>6}  {}  {:<13} snapshot {} -> {}",
                c.id,
                c.detected_at.format("%Y-%m-%d %H:%M:%S"),
                c.kind.as_str(),
                c.before,
                c.after
            );
        }
    }
    Ok(())
}

/// RFC 3339, `YYYY-MM-DD` (end of that day) or `YYYY-MM-DD HH:MM[:SS]`, all UTC.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999))
        .map(|t| t.and_utc())
}

async fn show(s: Settings, source: &str, at: Option<&str>, format: Format) -> Result<(), Failure> {
    let when = match at {
        None => None,
        Some(a) => Some(parse_time(a).ok_or_else(|| {
            Failure::Usage(format!(
                "cannot read time `{a}` (use RFC 3339, YYYY-MM-DD or YYYY-MM-DD HH:MM)"
            ))
        })?),
    };
    let store = open_store(&s).await?;
    let snap = match when {
        None => store.latest_snapshot(source).await,
        Some(t) => store.snapshot_at(source, t).await,
    }
    .map_err(runtime)?;
    let Some(snap) = snap else {
        store.close().await;
        return Err(match when {
            Some(t) => Failure::Runtime(format!("no snapshot of `{source}` at or before {}", t.to_rfc3339())),
            None => Failure::Runtime(format!("no snapshot of `{source}`")),
        });
    };
    let text = store.blob_text(&snap.text_sha256).await.map_err(runtime)?;
    store.close().await;
    if format == Format::Json {
        let mut v = serde_json::to_value(&snap).expect("snapshot serializes");
        v["text"] = serde_json::Value::String(text);
        print_json(&v);
    } else {
        println!("{text}");
    }
    Ok(())
}

fn flags_validate(dir: &std::path::Path, format: Format) -> Result<(), Failure> {
    let result = signalbox::flags::load_dir(dir).map(|set| set.flags.len()).map_err(|e| {
        e.0.iter()
            .map(|p| {
                let v = serde_json::json!({ "file": p.file, "line": p.line, "path": p.path, "message": p.message });
                (p.to_string(), v)
            })
            .collect()
    });
    report_validation(dir, "flags", result, format)
}

async fn flags_list(s: Settings, format: Format) -> Result<(), Failure> {
    let set = signalbox::flags::load_dir(&s.flags).map_err(|e| Failure::Usage(e.to_string()))?;
    let store = open_store(&s).await?;
    let usage = store.usage(None).await.map_err(runtime)?;
    store.close().await;
    let rows: Vec<serde_json::Value> = set
        .flags
        .values()
        .map(|f| {
            let apps: std::collections::BTreeSet<&str> = usage
                .iter()
                .filter(|u| u.flag == f.key)
                .map(|u| u.app.as_str())
                .collect();
            serde_json::json!({
                "key": f.key,
                "state": f.state,
                "defaultVariant": f.default_variant,
                "variants": f.variants.keys().collect::<Vec<_>>(),
                "owner": f.owner(),
                "providers": f.providers().collect::<Vec<_>>(),
                "apps": apps,
                "file": f.file,
            })
        })
        .collect();
    if format == Format::Json {
        print_json(&rows);
    } else {
        println!("{:<32} {:<9} {:<12} {:<24} APPS", "KEY", "STATE", "DEFAULT", "VARIANTS");
        for r in rows {
            let list = |v: &serde_json::Value| {
                v.as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(","))
                    .unwrap_or_default()
            };
            println!(
                "{:<32} {:<9} {:<12} {:<24} {}",
                r["key"].as_str().unwrap_or_default(),
                r["state"].as_str().unwrap_or_default(),
                r["defaultVariant"].as_str().unwrap_or("-"),
                list(&r["variants"]),
                list(&r["apps"]),
            );
        }
    }
    Ok(())
}

/// `signalbox report`: the summary page's data as Markdown or as the page itself (standalone).
async fn report(s: Settings, since: &str, format: ReportFormat) -> Result<(), Failure> {
    let since = signalbox::report::parse_since(since, Utc::now()).map_err(Failure::Usage)?;
    let list = s.load_sources().map_err(|e| Failure::Usage(e.to_string()))?;
    // Flags name the models in use; a report without readable flag files still reports the rest.
    let flags = signalbox::flags::load_dir(&s.flags).ok();
    let store = open_store(&s).await?;
    let r = signalbox::report::gather(&store, &list, flags.as_ref(), since)
        .await
        .map_err(runtime)?;
    store.close().await;
    match format {
        ReportFormat::Markdown => print!("{}", signalbox::report::markdown(&r)),
        ReportFormat::Html => println!("{}", signalbox::web::summary::standalone_html(&r).map_err(runtime)?),
    }
    Ok(())
}

async fn audit(s: Settings, cmd: AuditCommand) -> Result<(), Failure> {
    let store = open_store(&s).await?;
    match cmd {
        AuditCommand::Verify { format } => {
            let v = signalbox::api::audit::verify_chain(&store).await.map_err(runtime)?;
            if format == Format::Json {
                print_json(&serde_json::json!({
                    "ok": v.broken.is_none(), "checked": v.checked, "head": v.head(), "broken": v.broken,
                }));
            }
            match &v.broken {
                None => {
                    if format != Format::Json {
                        println!("audit log intact: {} events, head {}", v.checked, v.head());
                    }
                    Ok(())
                }
                Some(b) => Err(Failure::Runtime(format!(
                    "audit chain broken at event {}: {} ({} events before it verified)",
                    b.id, b.reason, v.checked
                ))),
            }
        }
        AuditCommand::List {
            since,
            actor,
            object_type,
            object_id,
            action,
            limit,
            format,
        } => {
            let f = signalbox::store::AuditFilter {
                since: since
                    .as_deref()
                    .map(|t| signalbox::report::parse_since(t, Utc::now()).map_err(Failure::Usage))
                    .transpose()?,
                actor,
                object_type,
                object_id,
                action,
                limit,
                ..Default::default()
            };
            let events = store.audit_events(&f).await.map_err(runtime)?;
            if format == Format::Json {
                print_json(&events);
            } else {
                for e in events {
                    println!(
                        "{:>6} {} {:<24} {:<28} {}/{} {}",
                        e.id,
                        e.at.format("%Y-%m-%d %H:%M:%S"),
                        e.actor,
                        e.action,
                        e.object_type,
                        e.object_id,
                        e.payload_text
                    );
                }
            }
            Ok(())
        }
    }
}

/// Who runs a command, for the audit log: `cli:` and the login name.
fn cli_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

async fn token(s: Settings, cmd: TokenCommand) -> Result<(), Failure> {
    let store = open_store(&s).await?;
    let result = match cmd {
        TokenCommand::Create {
            name,
            scope,
            env,
            format,
        } => {
            let t = signalbox::auth::create_token(&store, &name, &scope, &env, &s.serving.environments, &cli_actor())
                .await
                .map_err(|e| match e {
                    signalbox::auth::AuthError::Store(signalbox::store::StoreError::Db(_)) => runtime(e),
                    e => Failure::Usage(e.to_string()),
                })?;
            if format == Format::Json {
                print_json(&t);
            } else {
                println!("{}", t.token);
                eprintln!(
                    "token `{}` for {} with {}: shown this once, store it now",
                    t.name,
                    t.env,
                    t.scopes.join(",")
                );
            }
            Ok(())
        }
        TokenCommand::List { format } => {
            let list = store.tokens().await.map_err(runtime)?;
            if format == Format::Json {
                print_json(&list);
            } else {
                println!(
                    "{:>4} {:<24} {:<12} {:<14} {:<40} {:<17} REVOKED",
                    "ID", "NAME", "PREFIX", "ENV", "SCOPES", "CREATED"
                );
                for t in list {
                    println!(
                        "{:>4} {:<24} {:<12} {:<14} {:<40} {:<17} {}",
                        t.id,
                        t.name,
                        t.prefix,
                        t.env,
                        t.scopes.join(","),
                        t.created_at.format("%Y-%m-%d %H:%M"),
                        t.revoked_at
                            .map(|r| r.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        TokenCommand::Revoke { name } => match store.revoke_token(&name, &cli_actor()).await.map_err(runtime)? {
            Some(t) => {
                println!("revoked token `{}` ({})", t.name, t.id);
                Ok(())
            }
            None => Err(Failure::Usage(format!("no active token `{name}`"))),
        },
    };
    store.close().await;
    result
}

async fn briefs(s: Settings, cmd: BriefsCommand) -> Result<(), Failure> {
    let store = open_store(&s).await?;
    let result = match cmd {
        BriefsCommand::List {
            source,
            provider,
            status,
            severity,
            material,
            format,
        } => {
            // Unknown words are usage errors that name the known ones.
            let status = status
                .map(|s| s.parse::<signalbox::domain::brief::BriefStatus>())
                .transpose()
                .map_err(|e| Failure::Usage(format!("{e} (new, acknowledged, decided, dismissed or closed)")))?;
            let severity = severity
                .map(|s| s.parse::<signalbox::domain::brief::Severity>())
                .transpose()
                .map_err(|e| Failure::Usage(format!("{e} (info, low, medium, high or critical)")))?;
            let f = signalbox::store::BriefFilter {
                source,
                provider,
                status,
                severity,
                material: material.then_some(true),
                ..Default::default()
            };
            let list = store.briefs(&f).await.map_err(runtime)?;
            if format == Format::Json {
                print_json(&list);
            } else {
                println!(
                    "{:>5} {:<9} {:<13} {:<12} {:<28} {:<17} TITLE",
                    "ID", "SEVERITY", "CATEGORY", "STATUS", "SOURCE", "CREATED"
                );
                for b in list {
                    println!(
                        "{:>5} {:<9} {:<13} {:<12} {:<28} {:<17} {}",
                        b.id,
                        b.severity.as_str(),
                        b.category.as_deref().unwrap_or("-"),
                        b.status.as_str(),
                        b.source,
                        b.created_at.format("%Y-%m-%d %H:%M"),
                        b.title
                    );
                }
            }
            Ok(())
        }
        BriefsCommand::Ack { id, actor } => transition(&store, id, BriefStatus::Acknowledged, &actor, None).await,
        BriefsCommand::Dismiss { id, reason, actor } => {
            transition(&store, id, BriefStatus::Dismissed, &actor, Some(&reason)).await
        }
        BriefsCommand::Close { id, actor } => transition(&store, id, BriefStatus::Closed, &actor, None).await,
        BriefsCommand::Show { id, format } => match store.brief(id).await.map_err(runtime)? {
            None => Err(Failure::Usage(format!("no brief {id}"))),
            Some(b) => {
                let body = b.brief.clone().unwrap_or_default();
                match format {
                    BriefFormat::Json => print_json(&b),
                    BriefFormat::Markdown => print!("{}", signalbox::triage::markdown(&body)),
                }
                Ok(())
            }
        },
    };
    store.close().await;
    result
}

use signalbox::domain::brief::BriefStatus;

async fn transition(
    store: &Store,
    id: i64,
    to: signalbox::domain::brief::BriefStatus,
    actor: &str,
    reason: Option<&str>,
) -> Result<(), Failure> {
    match store.transition_brief(id, to, actor, reason, chrono::Utc::now()).await {
        Ok(b) => {
            println!("brief {} is {} ({})", b.id, b.status, b.title);
            Ok(())
        }
        Err(signalbox::store::TransitionError::Store(e)) => Err(runtime(e)),
        Err(e) => Err(Failure::Usage(e.to_string())),
    }
}

/// Writes the evidence bundle about one brief, decision or source-at-a-time.
async fn evidence(
    s: Settings,
    of: EvidenceOf,
    at: Option<&str>,
    out: Option<std::path::PathBuf>,
    format: Format,
) -> Result<(), Failure> {
    use signalbox::evidence::{self, EvidenceError, Subject};
    // clap lets `--at` through beside `--brief`: `--source`, which it requires, conflicts with
    // `--brief`, and clap counts a conflicting requirement as met.
    if at.is_some() && of.source.is_none() {
        return Err(Failure::Usage("--at goes with --source ID".into()));
    }
    let subject = match (of.brief, of.decision, of.source) {
        (Some(id), _, _) => Subject::Brief(id),
        (_, Some(id), _) => Subject::Decision(id),
        (_, _, Some(source)) => {
            let text = at.ok_or_else(|| Failure::Usage("--source needs --at TIME".into()))?;
            let at = parse_time(text).ok_or_else(|| {
                Failure::Usage(format!(
                    "cannot read time `{text}` (use RFC 3339, YYYY-MM-DD or YYYY-MM-DD HH:MM)"
                ))
            })?;
            Subject::SourceAt { source, at }
        }
        _ => {
            return Err(Failure::Usage(
                "say what the bundle is about: --brief ID, --decision ID or --source ID --at TIME".into(),
            ));
        }
    };
    let store = open_store(&s).await?;
    let result = evidence::bundle(&store, subject, &cli_actor()).await;
    let bundle = match result {
        Ok(b) => b,
        Err(e) => {
            store.close().await;
            return Err(match e {
                EvidenceError::NotFound { .. } => Failure::Usage(e.to_string()),
                e => runtime(e),
            });
        }
    };
    let mut bytes = Vec::new();
    evidence::write_tar_gz(&bundle, &mut bytes).map_err(runtime)?;
    let path = out.unwrap_or_else(|| std::path::PathBuf::from(bundle.file_name()));
    // Written beside the target and renamed, so an interrupted run never leaves half an archive
    // under the name a recipient would trust.
    let mut partial = path.clone().into_os_string();
    partial.push(".partial");
    let write = std::fs::write(&partial, &bytes).and_then(|()| std::fs::rename(&partial, &path));
    if let Err(e) = write {
        let _ = std::fs::remove_file(&partial);
        return Err(Failure::Runtime(format!("cannot write {}: {e}", path.display())));
    }
    let sha = signalbox::store::sha256_hex(&bytes);
    // Who took what out of the system is itself part of the record. (After the bundle was built,
    // so the bundle never contains its own export.)
    let exported = store
        .audit(signalbox::store::NewAudit::new(
            &cli_actor(),
            "evidence.exported",
            "evidence",
            &bundle.root,
            serde_json::json!({"subject": bundle.manifest.subject, "sha256": sha, "path": path.display().to_string()}),
        ))
        .await;
    store.close().await;
    exported.map_err(runtime)?;
    let audit = &bundle.manifest.audit;
    if format == Format::Json {
        print_json(&serde_json::json!({
            "path": path, "sha256": sha, "bytes": bytes.len(), "root": bundle.root,
            "subject": bundle.manifest.subject, "files": bundle.manifest.files.len(), "audit": audit,
        }));
    } else {
        println!("{}", path.display());
        println!("sha256 {sha}");
        eprintln!(
            "{} files, {} audit events ({} chain{}); send the sha256 above to the recipient separately",
            bundle.manifest.files.len(),
            audit.events,
            audit.chain,
            if audit.verified { ", verified" } else { "" }
        );
    }
    match &audit.broken {
        None => Ok(()),
        Some(b) => Err(Failure::Runtime(format!(
            "warning: the audit chain does not hold{}: {}; the bundle was written anyway and says so",
            b.id.map(|id| format!(" at event {id}")).unwrap_or_default(),
            b.reason
        ))),
    }
}

/// Checks an evidence archive someone handed over.
fn evidence_verify(path: &std::path::Path, format: Format) -> Result<(), Failure> {
    use sha2::Digest;
    let open = || std::fs::File::open(path).map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())));
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut open()?, &mut hasher).map_err(|e| runtime(format!("{}: {e}", path.display())))?;
    let sha = hex::encode(hasher.finalize());
    let report = signalbox::evidence::verify_archive(std::io::BufReader::new(open()?))
        .map_err(|e| Failure::Runtime(format!("{}: {e}", path.display())))?;
    if format == Format::Json {
        let mut v = serde_json::to_value(&report).expect("the report serializes");
        v["ok"] = report.ok().into();
        v["sha256"] = sha.clone().into();
        print_json(&v);
    }
    if report.ok() {
        if format != Format::Json {
            println!(
                "OK: {} files match the manifest; {} audit events verify ({} chain, anchor {}, head {})",
                report.files_checked,
                report.audit_events_checked,
                report.chain,
                report.anchor.as_deref().unwrap_or("-"),
                report.head.as_deref().unwrap_or("-"),
            );
            println!("sha256 {sha}");
        }
        return Ok(());
    }
    let problems: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    Err(Failure::Runtime(format!(
        "{} does not verify:\n  {}",
        path.display(),
        problems.join("\n  ")
    )))
}

/// Runs extract → triage on two local files, exactly as the server will on two snapshots.
#[allow(clippy::too_many_arguments)]
fn triage(
    s: &Settings,
    before: &std::path::Path,
    after: &std::path::Path,
    kind: Option<&str>,
    doc_type: Option<&str>,
    provider: Option<&str>,
    rules: &[std::path::PathBuf],
    format: BriefFormat,
) -> Result<(), Failure> {
    use signalbox::extract::{Kind, Rules as ExtractRules};
    let kind = match kind {
        Some(k) => Kind::parse(k).ok_or_else(|| Failure::Usage(format!("unknown kind `{k}`")))?,
        None => match after.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "html" | "htm" => Kind::Html,
            "md" | "markdown" => Kind::Markdown,
            "json" => Kind::Json,
            "xml" | "rss" | "atom" => Kind::Feed,
            _ => Kind::Text,
        },
    };
    let doc_type = match doc_type {
        Some(d) => Some(
            signalbox::config::DocType::parse(d).ok_or_else(|| Failure::Usage(format!("unknown doc type `{d}`")))?,
        ),
        None => None,
    };
    let extractor = Extractor::new(kind, ExtractRules::default(), None).map_err(|e| Failure::Usage(e.to_string()))?;
    let read = |p: &std::path::Path| -> Result<String, Failure> {
        let bytes = std::fs::read(p).map_err(|e| Failure::Usage(format!("cannot read {}: {e}", p.display())))?;
        extractor
            .extract(&bytes)
            .map(|d| d.to_text())
            .map_err(|e| Failure::Runtime(format!("{}: {e}", p.display())))
    };
    let (b, a) = (read(before)?, read(after)?);
    // Rules from the settings file first, then the ones given on the command line.
    let files: Vec<std::path::PathBuf> = s.triage.rules.iter().chain(rules).cloned().collect();
    let rules = signalbox::triage::classify::Rules::load_files(&files).map_err(|e| Failure::Usage(e.to_string()))?;
    // Flags are optional here: without them the brief cannot say what breaks.
    let flags = signalbox::flags::load_dir(&s.flags).ok();
    let ctx = signalbox::triage::Context {
        kind: Some(kind),
        doc_type,
        provider,
        flags: flags.as_ref(),
        rules: &rules,
        diff: None,
        today: chrono::Utc::now().date_naive(),
    };
    let brief = signalbox::triage::triage(&b, &a, &ctx);
    match format {
        BriefFormat::Json => println!("{}", serde_json::to_string(&brief).expect("brief serializes")),
        BriefFormat::Markdown => print!("{}", signalbox::triage::to_markdown(&brief)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_in_the_usual_forms() {
        assert_eq!(
            parse_time("2026-01-05T10:00:00Z").unwrap().to_rfc3339(),
            "2026-01-05T10:00:00+00:00"
        );
        assert_eq!(
            parse_time("2026-01-05 10:00").unwrap().to_rfc3339(),
            "2026-01-05T10:00:00+00:00"
        );
        assert!(
            parse_time("2026-01-05")
                .unwrap()
                .to_rfc3339()
                .starts_with("2026-01-05T23:59:59")
        );
        assert!(parse_time("yesterday").is_none());
    }
}
