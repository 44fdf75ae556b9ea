//! The bundle on disk: the manifest, the audit lines, the README, the `.tar.gz`, and the check
//! of an archive someone hands back. Writing and checking share one description of the audit
//! chain (`check_audit`), so a bundle that verifies when made verifies the same way later.

use super::{AuditRun, Bundle, EvidenceError, FORMAT};
use crate::audit::{AuditEvent, Verifier};
use crate::store::sha256_hex;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub signalbox_version: String,
    pub subject: serde_json::Value,
    /// Every file of the archive except `manifest.json` itself.
    pub files: Vec<FileEntry>,
    pub audit: AuditSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// How `audit.jsonl` is checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditSummary {
    /// `contiguous` (every event from the first to the last concerned one), `partial` (only the
    /// concerned events, when the stretch is too long), or `none` (nothing in the log concerns
    /// the subject).
    pub chain: String,
    /// The hash the first event must link to: the event just before it, or all zeros when the log
    /// starts there.
    pub anchor: Option<String>,
    /// The hash of the last event included.
    pub head: Option<String>,
    pub first_id: Option<i64>,
    pub last_id: Option<i64>,
    /// The events about the subject (the others are there to close the chain).
    pub concerned: Vec<i64>,
    pub events: usize,
    /// Runs of events that follow each other in the chain, each with the hash it starts after.
    /// One run for a contiguous chain.
    pub segments: Vec<Segment>,
    /// Whether the chain held when the bundle was made.
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken: Option<Broken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub anchor: String,
    pub first_id: i64,
    pub last_id: i64,
}

/// The first link that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broken {
    /// The event, when the problem is one event.
    pub id: Option<i64>,
    pub reason: String,
}

/// One line of `audit.jsonl`: the stored event with exactly the fields that are hashed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AuditLine {
    id: i64,
    /// For people; must say the same instant as `at_ms`, which is what is hashed.
    at: String,
    at_ms: i64,
    actor: String,
    action: String,
    object_type: String,
    object_id: String,
    /// The payload exactly as hashed. Only this form is shipped: a second, parsed copy could be
    /// edited without breaking any hash and mislead a reader.
    payload_text: String,
    prev_hash: String,
    hash: String,
}

fn readable_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

impl AuditLine {
    fn from_event(e: &AuditEvent) -> AuditLine {
        let at_ms = e.at.timestamp_millis();
        AuditLine {
            id: e.id,
            at: readable_ms(at_ms),
            at_ms,
            actor: e.actor.clone(),
            action: e.action.clone(),
            object_type: e.object_type.clone(),
            object_id: e.object_id.clone(),
            payload_text: e.payload_text.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }

    fn to_event(&self) -> AuditEvent {
        AuditEvent {
            id: self.id,
            at: DateTime::from_timestamp_millis(self.at_ms).unwrap_or_default(),
            actor: self.actor.clone(),
            action: self.action.clone(),
            object_type: self.object_type.clone(),
            object_id: self.object_id.clone(),
            payload: serde_json::Value::Null,
            payload_text: self.payload_text.clone(),
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        }
    }
}

/// Walks the lines as the summary describes them. Returns how many events verified and the first
/// broken link, if any.
fn check_audit(lines: &[AuditLine], s: &AuditSummary) -> (u64, Option<Broken>) {
    let broken = |id: Option<i64>, reason: String| Some(Broken { id, reason });
    if s.chain == "none" {
        return match lines.first() {
            None => (0, None),
            Some(l) => (0, broken(Some(l.id), "the manifest says no event is included".into())),
        };
    }
    if s.chain == "contiguous" && (s.segments.len() != 1 || s.segments.first().map(|g| &g.anchor) != s.anchor.as_ref())
    {
        return (
            0,
            broken(None, "a contiguous chain has one segment, from the anchor".into()),
        );
    }
    let mut checked = 0;
    let mut rest = lines;
    for seg in &s.segments {
        let n = rest.iter().take_while(|l| l.id <= seg.last_id).count();
        let (run, tail) = rest.split_at(n);
        rest = tail;
        match (run.first(), run.last()) {
            (Some(a), Some(b)) if a.id == seg.first_id && b.id == seg.last_id => {}
            _ => {
                return (
                    checked,
                    broken(
                        Some(seg.first_id),
                        format!("the events {}..={} are not all there", seg.first_id, seg.last_id),
                    ),
                );
            }
        }
        let mut v = Verifier::starting_after(&seg.anchor);
        let mut prev_id = None;
        for l in run {
            if prev_id.is_some_and(|p| l.id <= p) {
                return (checked, broken(Some(l.id), "events are out of order".into()));
            }
            prev_id = Some(l.id);
            if l.at != readable_ms(l.at_ms) {
                return (
                    checked,
                    broken(Some(l.id), format!("its time `{}` is not its at_ms {}", l.at, l.at_ms)),
                );
            }
            if !v.feed(&l.to_event()) {
                let b = v.broken.take().map(|b| Broken {
                    id: Some(b.id),
                    reason: b.reason,
                });
                return (checked + v.checked, b);
            }
        }
        checked += v.checked;
    }
    if let Some(l) = rest.first() {
        return (checked, broken(Some(l.id), "the event is outside every segment".into()));
    }
    if lines.last().map(|l| &l.hash) != s.head.as_ref() {
        return (
            checked,
            broken(
                lines.last().map(|l| l.id),
                "the last event is not the head the manifest names".into(),
            ),
        );
    }
    let present: BTreeSet<i64> = lines.iter().map(|l| l.id).collect();
    if let Some(missing) = s.concerned.iter().find(|id| !present.contains(id)) {
        return (
            checked,
            broken(Some(*missing), "a concerned event is missing from audit.jsonl".into()),
        );
    }
    (checked, None)
}

/// Lays out the bundle: the gathered files, `audit.jsonl`, `README.txt`, `SHA256SUMS` and the
/// manifest over all of them. The chain is checked here, with the same code `verify` uses.
pub(crate) fn assemble(
    root: String,
    subject: serde_json::Value,
    created_by: &str,
    created_at: DateTime<Utc>,
    gathered: Vec<(String, Vec<u8>)>,
    run: AuditRun,
) -> Bundle {
    let lines: Vec<AuditLine> = run.events.iter().map(AuditLine::from_event).collect();
    let mut jsonl = Vec::new();
    for l in &lines {
        jsonl.extend(serde_json::to_vec(l).expect("audit lines serialize"));
        jsonl.push(b'\n');
    }
    let mut audit = AuditSummary {
        chain: if run.chain.is_empty() { "none" } else { run.chain }.to_owned(),
        anchor: run.anchor,
        head: lines.last().map(|l| l.hash.clone()),
        first_id: lines.first().map(|l| l.id),
        last_id: lines.last().map(|l| l.id),
        concerned: run.concerned,
        events: lines.len(),
        segments: run.segments,
        verified: false,
        broken: None,
        note: match run.chain {
            "partial" => Some(format!(
                "more than {} events lie between the first and the last concerned one, so only the concerned events are \
                 included; each still proves its own content and its link to the event before it",
                super::MAX_CONTIGUOUS
            )),
            _ => None,
        },
    };
    let (_, broken) = check_audit(&lines, &audit);
    audit.verified = broken.is_none();
    audit.broken = broken;

    let mut files = vec![(
        "README.txt".to_owned(),
        readme(&root, &subject, created_by, created_at, &audit),
    )];
    files.extend(gathered);
    files.push(("audit.jsonl".to_owned(), jsonl));
    let sums: String = files.iter().map(|(p, b)| format!("{}  {p}\n", sha256_hex(b))).collect();
    files.push(("SHA256SUMS".to_owned(), sums.into_bytes()));
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        created_at,
        created_by: created_by.to_owned(),
        signalbox_version: env!("CARGO_PKG_VERSION").to_owned(),
        subject,
        files: files
            .iter()
            .map(|(p, b)| FileEntry {
                path: p.clone(),
                sha256: sha256_hex(b),
                bytes: b.len() as u64,
            })
            .collect(),
        audit,
    };
    Bundle { root, files, manifest }
}

fn readme(
    root: &str,
    subject: &serde_json::Value,
    created_by: &str,
    created_at: DateTime<Utc>,
    audit: &AuditSummary,
) -> Vec<u8> {
    let about = match subject["type"].as_str() {
        Some("brief") => format!(
            "change brief {} about a change to the document `{}`: {}",
            subject["id"],
            subject["source"].as_str().unwrap_or_default(),
            subject["title"].as_str().unwrap_or_default()
        ),
        Some("decision") => format!(
            "decision {} (flag `{}` in {}){}",
            subject["id"],
            subject["flag"].as_str().unwrap_or_default(),
            subject["env"].as_str().unwrap_or_default(),
            subject["brief"]
                .as_i64()
                .map(|b| format!(" and change brief {b}, which it answers"))
                .unwrap_or_default()
        ),
        _ => format!(
            "the version of the document `{}` in force at {} (the last one fetched at or before then)",
            subject["source"].as_str().unwrap_or_default(),
            subject["at"].as_str().unwrap_or_default()
        ),
    };
    let chain = match audit.chain.as_str() {
        "none" => "Nothing in the audit log concerns this subject, so audit.jsonl is empty.".to_owned(),
        "partial" => format!(
            "The log between the first and the last event about this subject was too long to include, so only \
             those events are here ({} of them). Each one still proves its content; the segments in the manifest \
             say which events follow each other.",
            audit.events
        ),
        _ => format!(
            "audit.jsonl holds every event of the log from {} to {} ({} events). The ones about this subject are \
             listed in manifest.json under audit.concerned; the others are there so that the chain has no gap.",
            audit.first_id.unwrap_or_default(),
            audit.last_id.unwrap_or_default(),
            audit.events
        ),
    };
    let state = if audit.verified {
        "The chain held when the bundle was made.".to_owned()
    } else {
        format!(
            "WARNING: the chain did NOT hold when the bundle was made: {}. The bundle was written anyway, as evidence.",
            audit
                .broken
                .as_ref()
                .map(|b| match b.id {
                    Some(id) => format!("event {id}: {}", b.reason),
                    None => b.reason.clone(),
                })
                .unwrap_or_default()
        )
    };
    let intro = wrap(&format!(
        "This archive ({root}) is evidence about {about}. It was made on {} by {created_by} with signalbox {}.",
        created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        env!("CARGO_PKG_VERSION"),
    ));
    let chain = wrap(&format!("{chain} {state}"));
    format!(
        r#"signalbox evidence bundle
=========================

{intro}

signalbox watches the documents our AI features depend on (vendors' status, pricing, deprecation
and policy pages, terms, changelogs). It stores every version exactly as it was served, records
each change, writes a brief about it, and keeps an append-only, hash-chained audit log of who did
what and when. These files are copies of those records, made so that someone with no access to
our systems can check them.

What is here (only the files that apply to this subject)
--------------------------------------------------------
manifest.json                 what this is about, and the SHA-256 and size of every other file
SHA256SUMS                    the same checksums, in the format `sha256sum -c` reads
snapshots/*/raw.*             the document exactly as the provider's server sent it, byte for byte
snapshots/*/normalized.txt    the text signalbox compared (page furniture and noise removed)
snapshots/*/meta.json         when and from which URL it was fetched, the HTTP status, the response
                              headers, and the SHA-256 of the raw and normalized files
                              (before = the old version, after = the new one, in-force = the
                              version in force at the time asked about)
change.json, diff.txt         the recorded change between the two versions, and a readable diff
brief.json, brief.md          the brief signalbox wrote about the change (facts, severity, action)
brief-events.json             who acknowledged, assigned, dismissed or closed the brief, and when
decision.json, decisions.json flag decisions about it, with every approval and rejection
source-history.json           the stored versions around the time asked about, with their hashes
audit.jsonl                   audit log events, one JSON object per line

Checking the files
------------------
In this folder run:

    sha256sum -c SHA256SUMS          (macOS: shasum -a 256 -c SHA256SUMS)

Every line must end in OK. The same checksums are in manifest.json ("files"). Anyone who can edit
the files can also edit the checksums, so ask the sender for the SHA-256 of the archive itself,
over another channel: `signalbox evidence` printed it when the bundle was made.

Checking the audit log
----------------------
Each event's "hash" is the SHA-256 (hex) of the JSON array

    [prev_hash, at_ms, actor, action, object_type, object_id, payload_text]

written compactly (no spaces, standard JSON escapes, other characters as UTF-8), and each event's
"prev_hash" is the hash of the event before it in the log. Editing, removing, inserting or
reordering an event breaks a link. The first event must link to manifest.json's audit.anchor
(the event just before, all zeros when the log starts there); the last event's hash is audit.head.

{chain}

With Python 3, in this folder:

    import hashlib, json
    audit = json.load(open("manifest.json"))["audit"]
    starts = {{s["first_id"]: s["anchor"] for s in audit["segments"]}}
    prev = None
    for line in open("audit.jsonl", encoding="utf-8"):
        e = json.loads(line)
        prev = starts.get(e["id"], prev)
        body = [e["prev_hash"], e["at_ms"], e["actor"], e["action"], e["object_type"], e["object_id"], e["payload_text"]]
        h = hashlib.sha256(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
        assert e["prev_hash"] == prev and e["hash"] == h, "broken at event %d" % e["id"]
        prev = h
    print("audit chain OK, head", prev)

Or, with signalbox installed, check the checksums and the chain at once:

    signalbox evidence verify {root}.tar.gz

The sender can show that these events are the ones in the live log: `signalbox audit verify`
checks the whole log, and `signalbox audit list --format json` shows each event's hash.
"#
    )
    .into_bytes()
}

/// Words wrapped at 98 columns, for a README read in a terminal.
fn wrap(text: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for word in text.split_whitespace() {
        if width > 0 && width + 1 + word.chars().count() > 98 {
            out.push('\n');
            width = 0;
        } else if width > 0 {
            out.push(' ');
            width += 1;
        }
        out.push_str(word);
        width += word.chars().count();
    }
    out
}

fn manifest_bytes(m: &Manifest) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(m).expect("the manifest serializes");
    out.push(b'\n');
    out
}

/// Writes the bundle as a gzipped tar: everything under the one top folder, `manifest.json`
/// first, files in the bundle's order, mode 0644, owned by nobody in particular, all with the
/// bundle's creation time, so that the same bundle always gives the same bytes.
pub fn write_tar_gz<W: Write>(bundle: &Bundle, writer: W) -> Result<(), EvidenceError> {
    let gz = flate2::write::GzEncoder::new(writer, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mtime = bundle.manifest.created_at.timestamp().max(0) as u64;
    let manifest = manifest_bytes(&bundle.manifest);
    let all = std::iter::once(("manifest.json", manifest.as_slice()))
        .chain(bundle.files.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
    for (path, bytes) in all {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        tar.append_data(&mut h, format!("{}/{path}", bundle.root), bytes)?;
    }
    tar.into_inner()?.finish()?.flush()?;
    Ok(())
}

/// What checking an archive found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub root: String,
    pub subject: serde_json::Value,
    pub files_checked: usize,
    pub audit_events_checked: u64,
    pub chain: String,
    pub anchor: Option<String>,
    pub head: Option<String>,
    /// Empty when everything holds; the first one is the first that went wrong.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A file's content is not what the manifest says.
    FileMismatch {
        path: String,
        expected: String,
        actual: String,
    },
    FileMissing {
        path: String,
    },
    /// A file in the archive that the manifest does not list.
    FileUnlisted {
        path: String,
    },
    AuditBroken {
        id: Option<i64>,
        reason: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::FileMismatch { path, expected, actual } => write!(
                f,
                "{path}: its SHA-256 is {actual}, the manifest says {expected}: the file was changed"
            ),
            Problem::FileMissing { path } => write!(f, "{path}: listed in the manifest but not in the archive"),
            Problem::FileUnlisted { path } => write!(f, "{path}: in the archive but not in the manifest"),
            Problem::AuditBroken { id: Some(id), reason } => write!(f, "audit.jsonl, event {id}: {reason}"),
            Problem::AuditBroken { id: None, reason } => write!(f, "audit.jsonl: {reason}"),
        }
    }
}

/// The most of `manifest.json` or `audit.jsonl` read into memory; other files are only hashed.
const MAX_KEPT: u64 = 512 << 20;

fn bad_archive(reason: impl std::fmt::Display) -> EvidenceError {
    EvidenceError::Corrupt {
        what: "not a readable evidence archive".into(),
        reason: reason.to_string(),
    }
}

/// Checks an archive: every file against the manifest, and the audit lines from their anchor.
/// `Err` only when it is not an evidence archive at all; everything else is a [`Problem`].
pub fn verify_archive<R: Read>(reader: R) -> Result<VerifyReport, EvidenceError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
    let mut root: Option<String> = None;
    let mut found: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let (mut manifest, mut audit) = (None, None);
    for entry in archive.entries().map_err(bad_archive)? {
        let mut entry = entry.map_err(bad_archive)?;
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let full = entry.path().map_err(bad_archive)?.to_string_lossy().into_owned();
        let (top, rel) = full
            .split_once('/')
            .ok_or_else(|| bad_archive(format!("`{full}` is outside the bundle's folder")))?;
        match &root {
            None => root = Some(top.to_owned()),
            Some(r) if r != top => return Err(bad_archive("the archive has more than one top folder")),
            Some(_) => {}
        }
        let rel = rel.to_owned();
        if !kind.is_file() {
            // Nothing in a bundle is a link or a device: such an entry was added afterwards.
            found.insert(rel.clone(), ("(not a regular file)".into(), 0));
            order.push(rel);
            continue;
        }
        let keep = rel == "manifest.json" || rel == "audit.jsonl";
        let mut hasher = Sha256::new();
        let mut kept = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = entry.read(&mut buf).map_err(bad_archive)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
            if keep {
                if total > MAX_KEPT {
                    return Err(bad_archive(format!("{rel} is larger than {MAX_KEPT} bytes")));
                }
                kept.extend_from_slice(&buf[..n]);
            }
        }
        match rel.as_str() {
            "manifest.json" => manifest = Some(kept),
            "audit.jsonl" => audit = Some(kept),
            _ => {}
        }
        found.insert(rel.clone(), (hex::encode(hasher.finalize()), total));
        order.push(rel);
    }
    let root = root.ok_or_else(|| bad_archive("the archive is empty"))?;
    let manifest: Manifest = serde_json::from_slice(&manifest.ok_or_else(|| bad_archive("it has no manifest.json"))?)
        .map_err(|e| bad_archive(format!("manifest.json: {e}")))?;
    if manifest.format != FORMAT {
        return Err(bad_archive(format!(
            "manifest.json is in format `{}`, not {FORMAT}",
            manifest.format
        )));
    }

    let mut problems = Vec::new();
    let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    for f in &manifest.files {
        match found.get(&f.path) {
            None => problems.push(Problem::FileMissing { path: f.path.clone() }),
            Some((sha, bytes)) if *sha != f.sha256 || *bytes != f.bytes => problems.push(Problem::FileMismatch {
                path: f.path.clone(),
                expected: f.sha256.clone(),
                actual: sha.clone(),
            }),
            Some(_) => {}
        }
    }
    for p in &order {
        if p != "manifest.json" && !listed.contains(p.as_str()) {
            problems.push(Problem::FileUnlisted { path: p.clone() });
        }
    }

    // The chain is checked from the lines themselves, whatever the checksums said: a reader
    // wants to know whether the events hold even when some other file was touched.
    let mut lines = Vec::new();
    let mut audit_checked = 0;
    let mut unreadable = None;
    for (i, text) in String::from_utf8_lossy(&audit.unwrap_or_default()).lines().enumerate() {
        match serde_json::from_str::<AuditLine>(text) {
            Ok(l) => lines.push(l),
            Err(e) => {
                unreadable = Some(Problem::AuditBroken {
                    id: None,
                    reason: format!("line {} is not an audit event: {e}", i + 1),
                });
                break;
            }
        }
    }
    match unreadable {
        Some(p) => problems.push(p),
        None => {
            let (checked, broken) = check_audit(&lines, &manifest.audit);
            audit_checked = checked;
            if let Some(b) = broken {
                problems.push(Problem::AuditBroken {
                    id: b.id,
                    reason: b.reason,
                });
            }
        }
    }
    Ok(VerifyReport {
        root,
        subject: manifest.subject.clone(),
        files_checked: manifest.files.len(),
        audit_events_checked: audit_checked,
        chain: manifest.audit.chain.clone(),
        anchor: manifest.audit.anchor.clone(),
        head: manifest.audit.head.clone(),
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::GENESIS;

    fn chain(anchor: &str, first: i64, n: usize) -> Vec<AuditEvent> {
        crate::audit::sample_chain(anchor, first, n)
    }

    fn contiguous(events: Vec<AuditEvent>, concerned: Vec<i64>) -> AuditRun {
        let anchor = events[0].prev_hash.clone();
        AuditRun {
            chain: "contiguous",
            segments: vec![Segment {
                anchor: anchor.clone(),
                first_id: events[0].id,
                last_id: events.last().unwrap().id,
            }],
            anchor: Some(anchor),
            events,
            concerned,
        }
    }

    fn sample(run: AuditRun) -> Bundle {
        let files = vec![
            ("brief.json".to_owned(), b"{\"id\":7}\n".to_vec()),
            (
                "snapshots/after/raw.md".to_owned(),
                b"| acme-large | 2027-01-05 |\n".to_vec(),
            ),
        ];
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        assemble(
            "signalbox-evidence-brief-7-20260101T000000Z".into(),
            serde_json::json!({"type": "brief", "id": 7, "source": "acme", "title": "t"}),
            "cli:test",
            at,
            files,
            run,
        )
    }

    fn tar_gz(b: &Bundle) -> Vec<u8> {
        let mut out = Vec::new();
        write_tar_gz(b, &mut out).unwrap();
        out
    }

    #[test]
    fn the_manifest_lists_every_file_with_its_checksum() {
        let b = sample(contiguous(chain(GENESIS, 1, 3), vec![2]));
        let paths: Vec<&str> = b.manifest.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "README.txt",
                "brief.json",
                "snapshots/after/raw.md",
                "audit.jsonl",
                "SHA256SUMS"
            ]
        );
        for ((path, bytes), f) in b.files.iter().zip(&b.manifest.files) {
            assert_eq!(&f.path, path);
            assert_eq!(f.sha256, hex::encode(Sha256::digest(bytes)), "{path}");
            assert_eq!(f.bytes, bytes.len() as u64);
        }
        // SHA256SUMS is what `sha256sum -c` reads, over every file but the manifest and itself.
        let sums = String::from_utf8(b.files.last().unwrap().1.clone()).unwrap();
        assert_eq!(sums.lines().count(), 4);
        assert!(sums.contains(&format!("{}  brief.json\n", sha256_hex(b"{\"id\":7}\n"))));
        assert!(b.manifest.audit.verified);
        assert_eq!(
            b.manifest.audit.head.as_deref(),
            Some(chain(GENESIS, 1, 3)[2].hash.as_str())
        );
        // The same bundle gives the same bytes.
        assert_eq!(tar_gz(&b), tar_gz(&b));
    }

    #[test]
    fn an_intact_archive_verifies() {
        let b = sample(contiguous(chain(GENESIS, 1, 3), vec![1, 3]));
        let r = verify_archive(tar_gz(&b).as_slice()).unwrap();
        assert!(r.ok(), "{:?}", r.problems);
        assert_eq!((r.files_checked, r.audit_events_checked), (5, 3));
        assert_eq!(r.root, b.root);
    }

    #[test]
    fn a_modified_file_is_named() {
        let mut b = sample(contiguous(chain(GENESIS, 1, 3), vec![2]));
        b.files[2].1 = b"| acme-large | 2028-01-05 |\n".to_vec();
        let r = verify_archive(tar_gz(&b).as_slice()).unwrap();
        assert!(!r.ok());
        assert!(
            matches!(&r.problems[0], Problem::FileMismatch { path, .. } if path == "snapshots/after/raw.md"),
            "{:?}",
            r.problems
        );
        assert!(r.problems[0].to_string().contains("snapshots/after/raw.md"));
    }

    #[test]
    fn a_modified_audit_line_breaks_the_chain_even_with_the_checksums_redone() {
        let b = sample(contiguous(chain(GENESIS, 1, 3), vec![2]));
        // Someone rewrites event 2's payload and, to hide it, the manifest's checksum too.
        let idx = b.files.iter().position(|(p, _)| p == "audit.jsonl").unwrap();
        let mut forged = b.clone();
        let text = String::from_utf8(forged.files[idx].1.clone()).unwrap();
        let text = text.replacen(r#"\"n\":1}"#, r#"\"n\":1,\"approved\":true}"#, 1);
        assert_ne!(
            text.as_bytes(),
            forged.files[idx].1.as_slice(),
            "the forgery changed nothing"
        );
        forged.files[idx].1 = text.into_bytes();
        forged.manifest.files[idx].sha256 = sha256_hex(&forged.files[idx].1);
        forged.manifest.files[idx].bytes = forged.files[idx].1.len() as u64;
        let r = verify_archive(tar_gz(&forged).as_slice()).unwrap();
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        match &r.problems[0] {
            Problem::AuditBroken { id, reason } => {
                assert_eq!(*id, Some(2));
                assert!(reason.contains("altered"), "{reason}");
            }
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn a_removed_event_or_a_wrong_anchor_is_found() {
        let events = chain(GENESIS, 1, 4);
        let mut run = contiguous(events.clone(), vec![1, 4]);
        run.events.remove(1);
        let b = sample(run);
        assert!(!b.manifest.audit.verified, "a gap found while building is recorded");
        assert_eq!(b.manifest.audit.broken.as_ref().and_then(|x| x.id), Some(3));
        let r = verify_archive(tar_gz(&b).as_slice()).unwrap();
        assert!(matches!(r.problems[0], Problem::AuditBroken { id: Some(3), .. }));

        // A run that does not start after the anchor the manifest names.
        let mut run = contiguous(events[1..].to_vec(), vec![2]);
        run.anchor = Some(GENESIS.into());
        run.segments[0].anchor = GENESIS.into();
        let b = sample(run);
        assert!(!b.manifest.audit.verified);
        assert!(
            b.manifest.audit.broken.as_ref().unwrap().reason.contains("removed"),
            "{:?}",
            b.manifest.audit.broken
        );
    }

    #[test]
    fn a_partial_chain_verifies_segment_by_segment() {
        let all = chain(GENESIS, 1, 10);
        let picked: Vec<AuditEvent> = [2usize, 3, 8].iter().map(|&i| all[i - 1].clone()).collect();
        let run = AuditRun {
            chain: "partial",
            anchor: Some(picked[0].prev_hash.clone()),
            segments: vec![
                Segment {
                    anchor: all[0].hash.clone(),
                    first_id: 2,
                    last_id: 3,
                },
                Segment {
                    anchor: all[6].hash.clone(),
                    first_id: 8,
                    last_id: 8,
                },
            ],
            events: picked,
            concerned: vec![2, 3, 8],
        };
        let b = sample(run);
        assert!(b.manifest.audit.verified, "{:?}", b.manifest.audit.broken);
        assert!(b.manifest.audit.note.is_some());
        let r = verify_archive(tar_gz(&b).as_slice()).unwrap();
        assert!(r.ok(), "{:?}", r.problems);
        assert_eq!(r.audit_events_checked, 3);
    }

    #[test]
    fn an_added_file_and_a_foreign_archive_are_refused() {
        let mut b = sample(contiguous(chain(GENESIS, 1, 2), vec![1]));
        b.files.push(("extra.txt".into(), b"hello".to_vec()));
        let r = verify_archive(tar_gz(&b).as_slice()).unwrap();
        assert_eq!(
            r.problems,
            [Problem::FileUnlisted {
                path: "extra.txt".into()
            }]
        );
        assert!(matches!(
            verify_archive(&b"not gzip at all"[..]),
            Err(EvidenceError::Corrupt { .. })
        ));
    }
}
