//! Evidence bundles: one archive with what a provider's document said before and after a change
//! (raw bytes as served, normalized text, fetch metadata), the diff, the brief signalbox wrote,
//! the decisions people took, and the audit events about all of it with the chain links needed to
//! check them, under a manifest of checksums. It is what a team sends a vendor when access is
//! disputed, or an auditor who asks which policy text was in force on a date: it must make sense
//! to someone with no access to our systems, and any edit after the fact must show.
//!
//! This file gathers a bundle from the store; `archive` lays it out, writes it as a `.tar.gz` and
//! checks one.

mod archive;

pub use archive::{
    AuditSummary, Broken, FileEntry, Manifest, Problem, Segment, VerifyReport, verify_archive, write_tar_gz,
};

use crate::audit::{AuditEvent, GENESIS};
use crate::store::{AuditFilter, BriefRecord, ChangeRecord, DecisionFilter, SnapshotMeta, Store, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// The manifest's `format`: readers refuse formats they do not know.
pub const FORMAT: &str = "signalbox-evidence/1";

/// Past this many audit events between the first and the last one about the subject, a bundle
/// carries only the events about it (a chain of a million unrelated events helps nobody).
pub const MAX_CONTIGUOUS: i64 = 50_000;

/// Versions listed on each side of the one in force in `source-history.json`.
const HISTORY_EACH_SIDE: i64 = 20;

/// Audit events read per query.
const PAGE: i64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The subject asked for does not exist (exit 2 on the command line).
    #[error("no {what}")]
    NotFound { what: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The records or the archive do not hold together.
    #[error("{what}: {reason}")]
    Corrupt { what: String, reason: String },
}

/// What a bundle is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Brief(i64),
    /// A decision and, when it answers a brief, everything about that brief.
    Decision(i64),
    /// The version of a source in force at a time: the last one fetched at or before it.
    SourceAt {
        source: String,
        at: DateTime<Utc>,
    },
}

impl Subject {
    /// The subject as it appears in the archive's folder name.
    fn slug(&self) -> String {
        match self {
            Subject::Brief(id) => format!("brief-{id}"),
            Subject::Decision(id) => format!("decision-{id}"),
            Subject::SourceAt { source, at } => {
                // Source ids come from configuration; keep the name safe on any file system.
                let safe: String = source
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                format!("source-{safe}-at-{}", stamp(*at))
            }
        }
    }
}

/// `yyyymmddThhmmssZ`.
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A bundle in memory: the files (paths relative to `root`, in archive order) and the manifest
/// that lists them.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The one top folder of the archive: `signalbox-evidence-<subject>-<created>`.
    pub root: String,
    pub files: Vec<(String, Vec<u8>)>,
    pub manifest: Manifest,
}

impl Bundle {
    /// The default archive name.
    pub fn file_name(&self) -> String {
        format!("{}.tar.gz", self.root)
    }
}

/// Gathers the bundle about `subject`, as `created_by` asked for it now.
pub async fn bundle(store: &Store, subject: Subject, created_by: &str) -> Result<Bundle, EvidenceError> {
    bundle_with(store, subject, created_by, Utc::now(), MAX_CONTIGUOUS).await
}

/// [`bundle`] with the clock and the contiguous-chain limit given (tests set both).
pub async fn bundle_with(
    store: &Store,
    subject: Subject,
    created_by: &str,
    now: DateTime<Utc>,
    max_contiguous: i64,
) -> Result<Bundle, EvidenceError> {
    // Whole seconds: the folder name, the manifest and the tar mtimes all say the same time.
    let created_at = now.trunc_subsecs(0);
    let mut g = Gather::new(store);
    let described = match &subject {
        Subject::Brief(id) => {
            let b = g.brief(*id).await?;
            json!({"type": "brief", "id": b.id, "change": b.change, "source": b.source, "title": b.title})
        }
        Subject::Decision(id) => g.decision(*id).await?,
        Subject::SourceAt { source, at } => g.source_at(source, *at).await?,
    };
    let run = g.audit(max_contiguous).await?;
    let root = format!("signalbox-evidence-{}-{}", subject.slug(), stamp(created_at));
    Ok(archive::assemble(root, described, created_by, created_at, g.files, run))
}

/// What the audit log holds about a subject, ready to copy.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditRun {
    /// `contiguous`, `partial` or `none`.
    pub chain: &'static str,
    pub events: Vec<AuditEvent>,
    pub concerned: Vec<i64>,
    pub anchor: Option<String>,
    pub segments: Vec<Segment>,
}

struct Gather<'a> {
    store: &'a Store,
    files: Vec<(String, Vec<u8>)>,
    /// The audit log's (object_type, object_id) pairs that the bundle is about.
    objects: BTreeSet<(String, String)>,
    briefs: BTreeSet<i64>,
    decisions: BTreeSet<i64>,
}

fn pretty<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).expect("records serialize");
    out.push(b'\n');
    out
}

fn corrupt(what: impl Into<String>, reason: impl Into<String>) -> EvidenceError {
    EvidenceError::Corrupt {
        what: what.into(),
        reason: reason.into(),
    }
}

impl<'a> Gather<'a> {
    fn new(store: &'a Store) -> Gather<'a> {
        Gather {
            store,
            files: Vec::new(),
            objects: BTreeSet::new(),
            briefs: BTreeSet::new(),
            decisions: BTreeSet::new(),
        }
    }

    fn add(&mut self, path: impl Into<String>, bytes: Vec<u8>) {
        let path = path.into();
        // One subject can reach the same record twice (a decision's brief lists the decision
        // again); the first copy stands.
        if !self.files.iter().any(|(p, _)| *p == path) {
            self.files.push((path, bytes));
        }
    }

    fn object(&mut self, kind: &str, id: impl ToString) {
        self.objects.insert((kind.to_owned(), id.to_string()));
    }

    /// `dir/raw.<ext>` (the bytes as served), `dir/normalized.txt` and `dir/meta.json`; returns
    /// the normalized text.
    async fn snapshot(&mut self, dir: &str, s: &SnapshotMeta) -> Result<String, EvidenceError> {
        let raw = self.store.blob(&s.raw_sha256).await?;
        let text = self.store.blob(&s.text_sha256).await?;
        let raw_name = format!("raw.{}", extension(&s.headers));
        let meta = json!({
            "snapshot": s.id,
            "source": s.source,
            "url": s.url,
            "fetched_at": s.fetched_at,
            "http_status": s.http_status,
            "headers": s.headers,
            "raw_file": raw_name,
            "raw_bytes": raw.len(),
            "raw_sha256": s.raw_sha256,
            "text_sha256": s.text_sha256,
            "rules_hash": s.rules_hash,
            "origin": s.origin,
        });
        let normalized = String::from_utf8_lossy(&text).into_owned();
        self.add(format!("{dir}/{raw_name}"), raw);
        self.add(format!("{dir}/normalized.txt"), text);
        self.add(format!("{dir}/meta.json"), pretty(&meta));
        Ok(normalized)
    }

    /// `change.json`, `diff.txt` and the two versions under `snapshots/before` and `/after`.
    async fn change(&mut self, c: &ChangeRecord) -> Result<(), EvidenceError> {
        let store = self.store;
        let load = |id: i64| async move {
            store
                .snapshot(id)
                .await?
                .ok_or_else(|| corrupt(format!("change {}", c.id), format!("its snapshot {id} is missing")))
        };
        let (before, after) = (load(c.before).await?, load(c.after).await?);
        self.add("change.json", pretty(c));
        let old = self.snapshot("snapshots/before", &before).await?;
        let new = self.snapshot("snapshots/after", &after).await?;
        self.add("diff.txt", unified_diff(c, &before, &after, &old, &new).into_bytes());
        self.object("source", &c.source);
        Ok(())
    }

    /// The brief with its history, its change and every decision that answers it.
    async fn brief(&mut self, id: i64) -> Result<BriefRecord, EvidenceError> {
        let b = self.store.brief(id).await?.ok_or_else(|| EvidenceError::NotFound {
            what: format!("brief {id}"),
        })?;
        self.add("brief.json", pretty(&b));
        // The stored body is the triage contract's JSON; `markdown` renders it as `briefs show`
        // does. A body that is not a brief (it never should be) is simply not rendered.
        if let Some(body) = b.brief.as_ref().filter(|v| v["title"].is_string()) {
            self.add("brief.md", crate::triage::markdown(body).into_bytes());
        }
        self.add("brief-events.json", pretty(&self.store.brief_events(id).await?));
        let change = self
            .store
            .change(b.change)
            .await?
            .ok_or_else(|| corrupt(format!("brief {id}"), format!("its change {} is missing", b.change)))?;
        self.change(&change).await?;
        let mut decisions = self
            .store
            .decisions(&DecisionFilter {
                brief_id: Some(id),
                ..Default::default()
            })
            .await?;
        decisions.sort_by_key(|d| d.id);
        for d in &decisions {
            self.object("decision", d.id);
            self.decisions.insert(d.id);
        }
        self.add("decisions.json", pretty(&decisions));
        self.object("brief", id);
        self.briefs.insert(id);
        Ok(b)
    }

    async fn decision(&mut self, id: i64) -> Result<serde_json::Value, EvidenceError> {
        let d = self.store.decision(id).await?.ok_or_else(|| EvidenceError::NotFound {
            what: format!("decision {id}"),
        })?;
        self.add("decision.json", pretty(&d));
        self.object("decision", id);
        self.decisions.insert(id);
        if let Some(b) = d.brief_id {
            self.brief(b).await?;
        }
        Ok(json!({"type": "decision", "id": id, "flag": d.flag, "env": d.env, "brief": d.brief_id}))
    }

    async fn source_at(&mut self, source: &str, at: DateTime<Utc>) -> Result<serde_json::Value, EvidenceError> {
        let Some(snap) = self.store.snapshot_at(source, at).await? else {
            let what = if self.store.latest_snapshot(source).await?.is_none() {
                format!("source `{source}` in the database (no version of it was ever stored)")
            } else {
                format!("version of `{source}` fetched at or before {}", at.to_rfc3339())
            };
            return Err(EvidenceError::NotFound { what });
        };
        self.snapshot("snapshots/in-force", &snap).await?;
        self.object("source", source);

        let history = self.store.snapshots_around(source, snap.id, HISTORY_EACH_SIDE).await?;
        let versions: Vec<serde_json::Value> = history
            .iter()
            .map(|s| {
                json!({"snapshot": s.id, "fetched_at": s.fetched_at, "raw_sha256": s.raw_sha256,
                    "text_sha256": s.text_sha256, "rules_hash": s.rules_hash, "origin": s.origin,
                    "in_force": s.id == snap.id})
            })
            .collect();

        // The change that brought this text in. A later snapshot with the same text (a re-read
        // under new rules) is still that change's version; a flap back to an older text was
        // recorded without a change, and then no change describes this version.
        let mut introduced = None;
        if let Some(c) = self.store.latest_change_up_to(source, snap.id).await? {
            let same_text = c.after == snap.id
                || self
                    .store
                    .snapshot(c.after)
                    .await?
                    .is_some_and(|a| a.text_sha256 == snap.text_sha256);
            if same_text {
                introduced = Some(c);
            }
        }
        let mut brief = None;
        if let Some(c) = &introduced {
            brief = self.store.brief_id_for_change(c.id).await?;
            match brief {
                Some(b) => {
                    self.brief(b).await?;
                }
                None => self.change(c).await?,
            }
        }
        self.add(
            "source-history.json",
            pretty(&json!({
                "source": source,
                "at": at,
                "in_force": snap.id,
                "introduced_by_change": introduced.as_ref().map(|c| c.id),
                "note": format!("the stored versions of the source, up to {HISTORY_EACH_SIDE} on each side of the one in force at `at`, oldest first"),
                "versions": versions,
            })),
        );
        Ok(json!({
            "type": "source_at", "source": source, "at": at, "snapshot": snap.id, "fetched_at": snap.fetched_at,
            "change": introduced.as_ref().map(|c| c.id), "brief": brief,
        }))
    }

    /// The audit events about the bundle's objects, and the stretch of chain that proves them.
    async fn audit(&self, max_contiguous: i64) -> Result<AuditRun, EvidenceError> {
        let mut concerned: BTreeMap<i64, AuditEvent> = BTreeMap::new();
        for (kind, id) in &self.objects {
            let filter = AuditFilter {
                object_type: Some(kind.clone()),
                object_id: Some(id.clone()),
                ..Default::default()
            };
            for e in self.all_events(filter).await? {
                concerned.insert(e.id, e);
            }
        }
        // A playbook's firing is recorded against the playbook; its payload names the brief and
        // the decision it made.
        let fired = AuditFilter {
            action: Some("playbook.fired".into()),
            ..Default::default()
        };
        for e in self.all_events(fired).await? {
            let about = |key: &str, set: &BTreeSet<i64>| e.payload[key].as_i64().is_some_and(|v| set.contains(&v));
            if about("brief_id", &self.briefs) || about("decision", &self.decisions) {
                concerned.insert(e.id, e);
            }
        }
        let (Some(&first), Some(&last)) = (concerned.keys().next(), concerned.keys().next_back()) else {
            return Ok(AuditRun {
                chain: "none",
                ..Default::default()
            });
        };
        let ids: Vec<i64> = concerned.keys().copied().collect();
        if self.store.audit_count_between(first, last).await? <= max_contiguous {
            let anchor = self
                .store
                .audit_before(first)
                .await?
                .map(|e| e.hash)
                .unwrap_or_else(|| GENESIS.to_owned());
            let mut events = Vec::new();
            let mut after = first - 1;
            'pages: loop {
                let page = self.store.audit_page(after, PAGE).await?;
                let n = page.len() as i64;
                for e in page {
                    if e.id > last {
                        break 'pages;
                    }
                    after = e.id;
                    events.push(e);
                }
                if n < PAGE {
                    break;
                }
            }
            return Ok(AuditRun {
                chain: "contiguous",
                segments: vec![Segment {
                    anchor: anchor.clone(),
                    first_id: first,
                    last_id: last,
                }],
                anchor: Some(anchor),
                events,
                concerned: ids,
            });
        }
        // Too long to copy: each concerned event with the link to the one before it (its
        // prev_hash); events that follow each other in the chain form one segment.
        let events: Vec<AuditEvent> = concerned.into_values().collect();
        let mut segments: Vec<Segment> = Vec::new();
        for (i, e) in events.iter().enumerate() {
            match segments.last_mut() {
                Some(s) if i > 0 && events[i - 1].hash == e.prev_hash => s.last_id = e.id,
                _ => segments.push(Segment {
                    anchor: e.prev_hash.clone(),
                    first_id: e.id,
                    last_id: e.id,
                }),
            }
        }
        Ok(AuditRun {
            chain: "partial",
            anchor: events.first().map(|e| e.prev_hash.clone()),
            events,
            concerned: ids,
            segments,
        })
    }

    /// Every event matching `filter`, oldest first, read page by page.
    async fn all_events(&self, mut filter: AuditFilter) -> Result<Vec<AuditEvent>, EvidenceError> {
        let mut out = Vec::new();
        filter.limit = PAGE;
        loop {
            let page = self.store.audit_events(&filter).await?;
            let n = page.len() as i64;
            filter.after_id = page.last().map(|e| e.id).or(filter.after_id);
            out.extend(page);
            if n < PAGE {
                return Ok(out);
            }
        }
    }
}

/// The raw file's extension, from the Content-Type the provider sent.
fn extension(headers: &[(String, String)]) -> &'static str {
    let ct = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    let mime = ct.split(';').next().unwrap_or_default().trim();
    if mime.contains("html") {
        "html"
    } else if mime.contains("json") {
        "json"
    } else if mime.contains("xml") || mime.contains("rss") || mime.contains("atom") {
        "xml"
    } else if mime.contains("markdown") {
        "md"
    } else {
        "txt"
    }
}

/// A unified diff of the normalized texts, for people (`change.json` has the structured one).
fn unified_diff(c: &ChangeRecord, before: &SnapshotMeta, after: &SnapshotMeta, old: &str, new: &str) -> String {
    let mut out = format!(
        "Change {} of {} ({}), detected {}\n\n",
        c.id,
        c.source,
        c.kind.as_str(),
        c.detected_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    let diff = similar::TextDiff::from_lines(old, new);
    let body = diff
        .unified_diff()
        .context_radius(3)
        .header(
            &format!(
                "snapshots/before/normalized.txt\tsnapshot {}, fetched {}",
                before.id,
                before.fetched_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
            &format!(
                "snapshots/after/normalized.txt\tsnapshot {}, fetched {}",
                after.id,
                after.fetched_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
        )
        .to_string();
    if body.is_empty() {
        out.push_str("The normalized texts are identical.\n");
    } else {
        out.push_str(&body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{
        Blob, ChangeKind, NewAudit, NewBrief, NewChange, NewDecision, NewSnapshot, PollResult, PollWrite, SnapRef,
        SnapshotOrigin,
    };

    fn snap(at: DateTime<Utc>, body: &str) -> NewSnapshot {
        NewSnapshot {
            fetched_at: at,
            url: "https://acme.test/models.md".into(),
            http_status: Some(200),
            headers: vec![("content-type".into(), "text/markdown".into())],
            raw: Blob::new(body.as_bytes().to_vec()),
            text: Blob::new(body.as_bytes().to_vec()),
            rules_hash: "r1".into(),
            origin: SnapshotOrigin::Fetch,
        }
    }

    /// A source with two versions and a change between them, a brief, a decision answering it, a
    /// playbook firing about it, and unrelated events before, between and after.
    async fn scenario(store: &Store) -> (i64, i64) {
        let t0 = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        let write = |snapshots, changes, expected_latest| PollWrite {
            source: "acme-models".into(),
            expected_latest,
            url: "https://acme.test/models.md".into(),
            at: t0,
            attempts: Vec::new(),
            snapshots,
            changes,
            result: PollResult::Success {
                validators: Default::default(),
                changed: true,
            },
        };
        let first = store
            .commit_poll(write(vec![snap(t0, "acme-large\n")], vec![], None))
            .await
            .unwrap();
        let change = NewChange {
            kind: ChangeKind::Change,
            before: SnapRef::Stored(first.snapshots[0]),
            after: SnapRef::New(0),
            diff: json!({"type": "text"}),
        };
        let second = store
            .commit_poll(write(
                vec![snap(t0 + chrono::Duration::days(1), "acme-large retires 2027-01-05\n")],
                vec![change],
                Some(first.snapshots[0]),
            ))
            .await
            .unwrap();
        let unrelated = |n: i64| NewAudit::new("system", "flags.reloaded", "flags", "flags", json!({"n": n}));
        store.audit(unrelated(1)).await.unwrap();
        let brief = store
            .insert_brief(NewBrief {
                change_id: second.changes[0].id,
                source: "acme-models",
                provider: "acme",
                owner: None,
                material: true,
                category: Some("deprecation"),
                severity: crate::domain::brief::Severity::High,
                title: "acme-large retires on 2027-01-05",
                body: json!({"title": "acme-large retires on 2027-01-05", "facts": []}),
                threads: Vec::new(),
                now: Utc::now(),
            })
            .await
            .unwrap()
            .id();
        store.audit(unrelated(2)).await.unwrap();
        let d = store
            .insert_decision(NewDecision {
                flag: "route.chat",
                env: "production",
                action: crate::domain::decision::Action::Serve,
                variant: Some("failover"),
                reason: "move off acme-large",
                brief_id: Some(brief),
                origin: "playbook:retire",
                proposed_by: "playbook:retire",
                starts_at: None,
                expires_at: None,
                approvals_required: 0,
                status: crate::domain::decision::DecisionStatus::Approved,
                now: Utc::now(),
            })
            .await
            .unwrap();
        store.audit(unrelated(3)).await.unwrap();
        store
            .audit(NewAudit::new(
                "playbook:retire",
                "playbook.fired",
                "playbook",
                "retire",
                json!({"decision": d.id, "brief_id": brief}),
            ))
            .await
            .unwrap();
        // A firing about some other brief is not ours.
        store
            .audit(NewAudit::new(
                "playbook:retire",
                "playbook.fired",
                "playbook",
                "retire",
                json!({"decision": 999, "brief_id": 998}),
            ))
            .await
            .unwrap();
        store.audit(unrelated(4)).await.unwrap();
        (brief, d.id)
    }

    fn names(b: &Bundle) -> Vec<&str> {
        b.files.iter().map(|(p, _)| p.as_str()).collect()
    }

    fn audit_actions(b: &Bundle) -> Vec<String> {
        let jsonl = &b.files.iter().find(|(p, _)| p == "audit.jsonl").unwrap().1;
        String::from_utf8_lossy(jsonl)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["action"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_decision_bundle_carries_its_brief_and_the_chain_contiguous_or_partial() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::TestDb::new(dir.path());
        let store = Store::open(&db.url).await.unwrap();
        let (brief, decision) = scenario(&store).await;
        let now = DateTime::from_timestamp(1_767_400_000, 0).unwrap();

        let b = bundle_with(&store, Subject::Decision(decision), "cli:test", now, MAX_CONTIGUOUS)
            .await
            .unwrap();
        assert_eq!(
            b.root,
            format!("signalbox-evidence-decision-{decision}-20260103T002640Z")
        );
        for f in [
            "decision.json",
            "brief.json",
            "brief.md",
            "brief-events.json",
            "change.json",
            "diff.txt",
            "snapshots/before/raw.md",
            "snapshots/after/normalized.txt",
            "snapshots/after/meta.json",
            "decisions.json",
            "audit.jsonl",
        ] {
            assert!(names(&b).contains(&f), "{f} missing from {:?}", names(&b));
        }
        let a = &b.manifest.audit;
        assert_eq!(a.chain, "contiguous");
        assert!(a.verified, "{:?}", a.broken);
        // Between the brief's creation and the playbook firing: everything, unrelated included,
        // so the chain has no gap; nothing after the last concerned event.
        assert_eq!(
            audit_actions(&b),
            [
                "brief.created",
                "flags.reloaded",
                "decision.proposed",
                "flags.reloaded",
                "playbook.fired"
            ]
        );
        assert_eq!(a.concerned.len(), 3);
        let before_first = store.audit_before(a.first_id.unwrap()).await.unwrap().unwrap();
        assert_eq!(a.anchor.as_deref(), Some(before_first.hash.as_str()));
        let diff = String::from_utf8_lossy(&b.files.iter().find(|(p, _)| p == "diff.txt").unwrap().1).into_owned();
        assert!(diff.contains("+acme-large retires 2027-01-05"), "{diff}");

        // Over the limit: only the concerned events, each chained from its own predecessor.
        let b = bundle_with(&store, Subject::Decision(decision), "cli:test", now, 2)
            .await
            .unwrap();
        let a = &b.manifest.audit;
        assert_eq!(a.chain, "partial");
        assert!(a.verified, "{:?}", a.broken);
        assert_eq!(
            audit_actions(&b),
            ["brief.created", "decision.proposed", "playbook.fired"]
        );
        assert_eq!(a.segments.len(), 3);
        let mut out = Vec::new();
        write_tar_gz(&b, &mut out).unwrap();
        assert!(verify_archive(out.as_slice()).unwrap().ok());

        // Unknown subjects are NotFound, so the command line can say so with exit 2.
        for s in [
            Subject::Brief(brief + 100),
            Subject::Decision(decision + 100),
            Subject::SourceAt {
                source: "nope".into(),
                at: now,
            },
            Subject::SourceAt {
                source: "acme-models".into(),
                at: DateTime::from_timestamp(1_000_000_000, 0).unwrap(),
            },
        ] {
            let e = bundle_with(&store, s.clone(), "cli:test", now, MAX_CONTIGUOUS).await;
            assert!(matches!(e, Err(EvidenceError::NotFound { .. })), "{s:?}: {e:?}");
        }
    }

    #[tokio::test]
    async fn the_version_in_force_is_the_last_fetched_at_or_before_the_time() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::TestDb::new(dir.path());
        let store = Store::open(&db.url).await.unwrap();
        let (brief, _) = scenario(&store).await;
        let now = DateTime::from_timestamp(1_767_400_000, 0).unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);

        // Before the change: the first version, introduced by no change, no brief.
        let b = bundle_with(
            &store,
            Subject::SourceAt {
                source: "acme-models".into(),
                at: at("2026-01-01T12:00:00Z"),
            },
            "cli:test",
            now,
            MAX_CONTIGUOUS,
        )
        .await
        .unwrap();
        let raw = &b
            .files
            .iter()
            .find(|(p, _)| p == "snapshots/in-force/raw.md")
            .unwrap()
            .1;
        assert_eq!(raw, b"acme-large\n");
        assert!(!names(&b).contains(&"brief.json"));
        assert_eq!(b.manifest.subject["change"], serde_json::Value::Null);

        // After it: the new version, with the change and the brief that reported it.
        let b = bundle_with(
            &store,
            Subject::SourceAt {
                source: "acme-models".into(),
                at: at("2026-01-02T00:00:00Z"),
            },
            "cli:test",
            now,
            MAX_CONTIGUOUS,
        )
        .await
        .unwrap();
        let raw = &b
            .files
            .iter()
            .find(|(p, _)| p == "snapshots/in-force/raw.md")
            .unwrap()
            .1;
        assert_eq!(raw, b"acme-large retires 2027-01-05\n");
        assert_eq!(b.manifest.subject["brief"], brief);
        let history: serde_json::Value =
            serde_json::from_slice(&b.files.iter().find(|(p, _)| p == "source-history.json").unwrap().1).unwrap();
        let in_force: Vec<bool> = history["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["in_force"].as_bool().unwrap())
            .collect();
        assert_eq!(in_force, [false, true]);
    }
}
