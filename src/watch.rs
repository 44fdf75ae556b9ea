//! One poll of one source: fetch → extract → compare → store, in that order, data moving forward.
//!
//! The rules that keep alerts honest live here:
//! - a failed fetch or extraction stores no snapshot and no change, only the attempt and health;
//! - a status source whose yield drops to nothing (see `extract::yield_dropped`) fails likewise;
//! - the same bytes, a 304, or a new body that normalizes to the same text is not a change;
//! - a document equal to one of the last five versions is a flip, not a change (documents only:
//!   a status page returning to "all operational" is exactly the news people wait for); a flip
//!   that is still there at the next poll stayed, and is reported then (a price that went
//!   18 → 15 → 18 and stays at 18 is news). Changes are always reported against the version last
//!   reported, so a brief never skips what a flip hid;
//! - a document that reads as an error page ("page not found", "access denied", a bot check)
//!   although it came with a success status is a failed fetch (`error_page`), never a version;
//! - when the source's extraction rules changed, the stored raw body is re-read under the new
//!   rules first, and that difference is recorded as a "rules upgrade", never as a change.

use crate::config::Source;
use crate::diff::diff;
use crate::extract::{ExtractError, Extractor, Normalized, yield_dropped};
use crate::fetch::{Attempt, ErrorClass, FetchError, Fetcher, Outcome, Validators};
use crate::store::{
    Blob, ChangeKind, ChangeRecord, NewChange, NewSnapshot, PollResult, PollWrite, SnapRef, SnapshotMeta,
    SnapshotOrigin, Store, StoreError,
};
use chrono::Utc;
use serde::Serialize;
use std::sync::Arc;

/// How many distinct recent versions count as "seen before" for the flapping rule.
const FLAP_WINDOW: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("extraction task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Told about every change right after it is committed. The triage stage plugs in here; changes
/// also stay marked untriaged in the store until triage reads them, so a crash between commit and
/// notification loses nothing.
pub trait ChangeObserver: Send + Sync {
    fn on_change(&self, source: &Source, change: &ChangeRecord);
}

/// Logs changes; the default until triage exists.
pub struct LogObserver;

impl ChangeObserver for LogObserver {
    fn on_change(&self, source: &Source, change: &ChangeRecord) {
        tracing::info!(
            source = %source.id, change = change.id, kind = change.kind.as_str(),
            before = change.before, after = change.after, "change recorded"
        );
    }
}

/// What a poll found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PollOutcome {
    /// The first version of this source was stored.
    First {
        snapshot: i64,
    },
    /// Same content (same bytes, a 304, or the same normalized text).
    Unchanged,
    /// The document went back to a recent version: stored, not reported.
    Flapped {
        snapshot: i64,
    },
    /// A new version and its change.
    Changed {
        snapshot: i64,
        change: i64,
    },
    /// Only our rules changed: the baseline was re-derived (with a `rules_upgrade` record when the
    /// text differs) and the provider's document itself is unchanged.
    RulesUpgraded {
        snapshot: i64,
    },
    Failed {
        class: ErrorClass,
        message: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct PollReport {
    pub source: String,
    #[serde(flatten)]
    pub outcome: PollOutcome,
    /// Change records committed by this poll (a rules upgrade, a change, or both).
    pub changes: Vec<i64>,
    pub attempts: usize,
}

/// The watcher: a fetcher, a store and whoever wants to hear about changes.
pub struct Watcher {
    pub store: Store,
    fetcher: Fetcher,
    observer: Arc<dyn ChangeObserver>,
}

/// The comparison baseline of a poll: the latest version under the current rules.
struct Baseline {
    snap: SnapRef,
    text_sha: String,
    doc: Normalized,
}

impl Watcher {
    pub fn new(store: Store, fetcher: Fetcher, observer: Arc<dyn ChangeObserver>) -> Watcher {
        Watcher {
            store,
            fetcher,
            observer,
        }
    }

    /// Polls every source once, at most `concurrency` at a time; `done` is called with each
    /// source id as its poll finishes. Memory is bounded by `concurrency`, not by the number of
    /// sources.
    pub async fn poll_all(
        &self,
        sources: &[Source],
        concurrency: usize,
        done: impl Fn(&str),
    ) -> Result<Vec<PollReport>, WatchError> {
        use futures_util::StreamExt;
        futures_util::stream::iter(sources)
            .map(|src| async move { self.poll(src).await })
            .buffer_unordered(concurrency.max(1))
            .map(|r| {
                if let Ok(r) = &r {
                    done(&r.source);
                }
                r
            })
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// Polls one source once and commits what it found.
    pub async fn poll(&self, source: &Source) -> Result<PollReport, WatchError> {
        match self.poll_once(source).await {
            // Another process (a `check` beside `serve`) recorded a version first: compare again
            // against what it stored rather than record the same change twice.
            Err(WatchError::Store(StoreError::Conflict)) => {
                tracing::info!(source = %source.id, "another poll committed first; polling again");
                self.poll_once(source).await
            }
            r => r,
        }
    }

    async fn poll_once(&self, source: &Source) -> Result<PollReport, WatchError> {
        let extractor = match Extractor::new(source.kind, source.rules.clone(), Some(source.url.clone())) {
            Ok(e) => Arc::new(e),
            Err(e) => {
                let err = FetchError::new(ErrorClass::ExtractFailed, e.to_string());
                return self.fail(source, Vec::new(), err).await;
            }
        };
        let rules_hash = source.rules_hash();
        let latest = self.store.latest_snapshot(&source.id).await?;
        let state = self.store.state(&source.id).await?.unwrap_or_default();
        // The owner pointed the source at another URL: the old version says nothing about the new
        // document, so the first fetch of the new URL becomes the baseline (never a change).
        let repointed = state.source_url.as_deref().is_some_and(|u| u != source.url.as_str());
        if repointed {
            tracing::warn!(source = %source.id, from = ?state.source_url, to = %source.url,
                "source URL changed: the next version becomes the baseline");
        }
        // Validators are only worth sending when we hold the body they describe, read under the
        // current rules from the current URL: otherwise a 304 would hide the new rules' effect.
        let validators = match &latest {
            Some(l) if !repointed && l.rules_hash == rules_hash => Validators {
                etag: state.etag,
                last_modified: state.last_modified,
            },
            _ => Validators::default(),
        };

        let mut write = PollWrite {
            source: source.id.clone(),
            expected_latest: latest.as_ref().map(|l| l.id),
            url: source.url.to_string(),
            at: Utc::now(),
            attempts: Vec::new(),
            snapshots: Vec::new(),
            changes: Vec::new(),
            result: PollResult::NotModified,
        };

        let baseline = match &latest {
            None => None,
            Some(_) if repointed => None,
            Some(l) if l.rules_hash == rules_hash => Some(self.baseline_from(l, source).await?),
            Some(l) => {
                self.rules_upgrade(l, source, &extractor, &rules_hash, &mut write)
                    .await?
            }
        };

        let report = self.fetcher.fetch(&source.url, &source.headers, &validators).await;
        write.attempts = report.attempts;
        let fetched = match report.result {
            Err(err) => return self.fail(source, std::mem::take(&mut write.attempts), err).await,
            Ok(Outcome::NotModified) => {
                let outcome = self.unchanged_or_confirmed(source, latest.as_ref(), &mut write).await?;
                return self.finish(source, write, outcome).await;
            }
            Ok(Outcome::Body(f)) => f,
        };
        write.result = PollResult::Success {
            validators: fetched.validators.clone(),
            changed: false,
        };
        let raw = Blob::new(fetched.body);
        // The same bytes as the latest version normalize to the baseline: skip the extraction.
        if let (Some(l), Some(_)) = (&latest, &baseline)
            && l.raw_sha256 == raw.sha256
        {
            let outcome = self.unchanged_or_confirmed(source, latest.as_ref(), &mut write).await?;
            return self.finish(source, write, outcome).await;
        }

        let bytes = raw.bytes.clone().expect("a fresh blob has its bytes");
        let extracted = extract_off_thread(&extractor, bytes).await;
        // A status source that named something and now names nothing has most likely moved to
        // another platform: a failure that counts towards "broken", never "all resolved".
        if let Some(why) = baseline.as_ref().and_then(|b| yield_dropped(&b.doc, &extracted)) {
            let err = FetchError::new(ErrorClass::ParseYieldDropped, why);
            return self.fail(source, std::mem::take(&mut write.attempts), err).await;
        }
        let doc = match extracted {
            Ok(doc) => doc,
            Err(e) => {
                let err = FetchError::new(ErrorClass::ExtractFailed, e.to_string());
                return self.fail(source, std::mem::take(&mut write.attempts), err).await;
            }
        };
        let text = Blob::new(doc.to_text().into_bytes());
        if source.kind.is_text()
            && let Some(why) = crate::extract::error_page(&doc.to_text())
            && baseline
                .as_ref()
                .is_none_or(|b| crate::extract::error_page(&b.doc.to_text()).is_none())
        {
            let err = FetchError::new(ErrorClass::ErrorPage, why);
            return self.fail(source, std::mem::take(&mut write.attempts), err).await;
        }
        let new_snapshot = NewSnapshot {
            fetched_at: write.at,
            url: fetched.final_url.clone(),
            http_status: Some(fetched.status),
            headers: fetched.headers.clone(),
            raw,
            text: text.clone(),
            rules_hash: rules_hash.clone(),
            origin: SnapshotOrigin::Fetch,
        };

        let Some(base) = baseline else {
            write.snapshots.push(new_snapshot);
            let idx = write.snapshots.len() - 1;
            let outcome = match &latest {
                None => PollOutcome::First { snapshot: 0 },
                // The source was re-pointed at another URL, or its old version cannot be read under
                // the new rules: the fresh version becomes the baseline, recorded as a rules
                // upgrade (our side changed) rather than raised as news.
                Some(l) => {
                    let before = Normalized::from_text(source.kind, &self.store.blob_text(&l.text_sha256).await?);
                    let d = before.map(|b| diff(&b, &doc)).ok();
                    write.changes.push(NewChange {
                        kind: ChangeKind::RulesUpgrade,
                        before: SnapRef::Stored(l.id),
                        after: SnapRef::New(idx),
                        diff: serde_json::to_value(d).expect("diff serializes"),
                    });
                    PollOutcome::RulesUpgraded { snapshot: 0 }
                }
            };
            return self.finish(source, write, outcome).await;
        };

        if base.text_sha == text.sha256 {
            let outcome = self.unchanged_or_confirmed(source, latest.as_ref(), &mut write).await?;
            return self.finish(source, write, outcome).await;
        }
        // What readers were last told: the latest version, unless that was a flip.
        let reported = match (&latest, &base.snap) {
            (Some(l), SnapRef::Stored(_)) if !source.kind.is_state() => self
                .store
                .reported_snapshot(&source.id)
                .await?
                .filter(|r| r.id != l.id && r.rules_hash == rules_hash),
            _ => None,
        };
        let flapped = !source.kind.is_state()
            && (reported.as_ref().is_some_and(|r| r.text_sha256 == text.sha256)
                || self
                    .store
                    .recent_text_hashes(&source.id, &rules_hash, FLAP_WINDOW)
                    .await?
                    .contains(&text.sha256));
        write.snapshots.push(new_snapshot);
        let idx = write.snapshots.len() - 1;
        if flapped {
            return self.finish(source, write, PollOutcome::Flapped { snapshot: 0 }).await;
        }
        let (before_ref, before_doc) = match reported {
            Some(r) => {
                let text = self.store.blob_text(&r.text_sha256).await?;
                let doc = Normalized::from_text(source.kind, &text).unwrap_or(Normalized::Text(text));
                (SnapRef::Stored(r.id), doc)
            }
            None => (base.snap, base.doc),
        };
        let d = tokio::task::spawn_blocking(move || diff(&before_doc, &doc)).await?;
        write.changes.push(NewChange {
            kind: ChangeKind::Change,
            before: before_ref,
            after: SnapRef::New(idx),
            diff: serde_json::to_value(&d).expect("diff serializes"),
        });
        if let PollResult::Success { changed, .. } = &mut write.result {
            *changed = true;
        }
        self.finish(source, write, PollOutcome::Changed { snapshot: 0, change: 0 })
            .await
    }
}

/// Extraction is CPU work (an HTML parse can take milliseconds): it runs on the blocking pool so
/// it never stalls the scheduler or the HTTP server. A panic in an extractor is an extraction
/// error of this document, not a crash of the poll.
async fn extract_off_thread(ex: &Arc<Extractor>, bytes: Vec<u8>) -> Result<Normalized, ExtractError> {
    let ex = ex.clone();
    tokio::task::spawn_blocking(move || ex.extract(&bytes))
        .await
        .unwrap_or_else(|e| Err(ExtractError::Structure(format!("extractor failed: {e}"))))
}

/// The outcome of a poll whose fetched document equals the baseline: nothing new from the
/// provider, but possibly a rules upgrade written on the way.
fn unchanged(write: &PollWrite) -> PollOutcome {
    if write.snapshots.is_empty() {
        PollOutcome::Unchanged
    } else {
        PollOutcome::RulesUpgraded { snapshot: 0 }
    }
}

impl Watcher {
    /// The outcome of a poll whose document equals the latest version. When that version was
    /// stored as a flip and is still there, it stayed: the change from the version last reported
    /// is recorded now.
    async fn unchanged_or_confirmed(
        &self,
        source: &Source,
        latest: Option<&SnapshotMeta>,
        write: &mut PollWrite,
    ) -> Result<PollOutcome, WatchError> {
        let Some(latest) = latest.filter(|_| write.snapshots.is_empty() && source.kind.is_document()) else {
            return Ok(unchanged(write));
        };
        let Some(reported) = self.store.reported_snapshot(&source.id).await? else {
            return Ok(unchanged(write));
        };
        if reported.id == latest.id
            || reported.text_sha256 == latest.text_sha256
            || reported.rules_hash != latest.rules_hash
        {
            return Ok(unchanged(write));
        }
        let (old, new) = (
            self.store.blob_text(&reported.text_sha256).await?,
            self.store.blob_text(&latest.text_sha256).await?,
        );
        let kind = source.kind;
        let d = tokio::task::spawn_blocking(move || {
            let read = |t: String| Normalized::from_text(kind, &t).unwrap_or(Normalized::Text(t));
            diff(&read(old), &read(new))
        })
        .await?;
        tracing::info!(source = %source.id, version = latest.id, "a version seen before came back and stayed: reported");
        write.changes.push(NewChange {
            kind: ChangeKind::Change,
            before: SnapRef::Stored(reported.id),
            after: SnapRef::Stored(latest.id),
            diff: serde_json::to_value(&d).expect("diff serializes"),
        });
        if let PollResult::Success { changed, .. } = &mut write.result {
            *changed = true;
        }
        Ok(PollOutcome::Changed { snapshot: 0, change: 0 })
    }

    async fn baseline_from(&self, snap: &SnapshotMeta, source: &Source) -> Result<Baseline, WatchError> {
        let text = self.store.blob_text(&snap.text_sha256).await?;
        // A stored text that no longer parses (it never should) compares as plain text.
        let doc = Normalized::from_text(source.kind, &text).unwrap_or(Normalized::Text(text));
        Ok(Baseline {
            snap: SnapRef::Stored(snap.id),
            text_sha: snap.text_sha256.clone(),
            doc,
        })
    }

    /// Re-reads the latest raw body under the new rules. Returns the new baseline, or `None` when
    /// the old body cannot be read under the new rules.
    async fn rules_upgrade(
        &self,
        latest: &SnapshotMeta,
        source: &Source,
        extractor: &Arc<Extractor>,
        rules_hash: &str,
        write: &mut PollWrite,
    ) -> Result<Option<Baseline>, WatchError> {
        let raw = self.store.blob(&latest.raw_sha256).await?;
        let doc = match extract_off_thread(extractor, raw).await {
            Ok(doc) => doc,
            Err(e) => {
                tracing::warn!(source = %source.id, error = %e, "stored version cannot be re-read under the new rules");
                return Ok(None);
            }
        };
        let text = Blob::new(doc.to_text().into_bytes());
        let text_sha = text.sha256.clone();
        write.snapshots.push(NewSnapshot {
            fetched_at: write.at,
            url: latest.url.clone(),
            http_status: latest.http_status,
            headers: latest.headers.clone(),
            raw: Blob::stored(latest.raw_sha256.clone()),
            text,
            rules_hash: rules_hash.to_owned(),
            origin: SnapshotOrigin::RulesUpgrade,
        });
        let idx = write.snapshots.len() - 1;
        if text_sha != latest.text_sha256 {
            let old = self.store.blob_text(&latest.text_sha256).await?;
            let old_doc = Normalized::from_text(source.kind, &old).unwrap_or(Normalized::Text(old));
            write.changes.push(NewChange {
                kind: ChangeKind::RulesUpgrade,
                before: SnapRef::Stored(latest.id),
                after: SnapRef::New(idx),
                diff: serde_json::to_value(diff(&old_doc, &doc)).expect("diff serializes"),
            });
        }
        Ok(Some(Baseline {
            snap: SnapRef::New(idx),
            text_sha,
            doc,
        }))
    }

    async fn fail(&self, source: &Source, attempts: Vec<Attempt>, err: FetchError) -> Result<PollReport, WatchError> {
        let FetchError {
            class,
            message,
            retry_after,
        } = err;
        // A Retry-After longer than we wait in-line is kept, so the scheduler honours it too.
        let not_before = retry_after.map(|s| Utc::now() + chrono::Duration::seconds(s.min(86_400) as i64));
        let failures_before = self
            .store
            .state(&source.id)
            .await?
            .map(|s| s.consecutive_failures)
            .unwrap_or(0);
        let write = PollWrite {
            source: source.id.clone(),
            url: source.url.to_string(),
            at: Utc::now(),
            attempts,
            // Nothing of a failed poll is stored as a version, not even a rules upgrade.
            snapshots: Vec::new(),
            changes: Vec::new(),
            expected_latest: None,
            result: PollResult::Failure {
                class: class.as_str().to_owned(),
                message: message.clone(),
                not_before,
            },
        };
        let n = write.attempts.len();
        self.store.commit_poll(write).await?;
        tracing::warn!(source = %source.id, class = %class, error = %message, failures = failures_before + 1, "poll failed");
        Ok(PollReport {
            source: source.id.clone(),
            outcome: PollOutcome::Failed { class, message },
            changes: Vec::new(),
            attempts: n,
        })
    }

    async fn finish(&self, source: &Source, write: PollWrite, outcome: PollOutcome) -> Result<PollReport, WatchError> {
        let attempts = write.attempts.len();
        let committed = self.store.commit_poll(write).await?;
        let last_snapshot = committed.snapshots.last().copied().unwrap_or(0);
        let last_change = committed.changes.last().map(|c| c.id).unwrap_or(0);
        let outcome = match outcome {
            PollOutcome::First { .. } => PollOutcome::First {
                snapshot: last_snapshot,
            },
            PollOutcome::Flapped { .. } => PollOutcome::Flapped {
                snapshot: last_snapshot,
            },
            PollOutcome::RulesUpgraded { .. } => PollOutcome::RulesUpgraded {
                snapshot: last_snapshot,
            },
            PollOutcome::Changed { .. } => PollOutcome::Changed {
                snapshot: last_snapshot,
                change: last_change,
            },
            other => other,
        };
        for c in &committed.changes {
            self.observer.on_change(source, c);
        }
        Ok(PollReport {
            source: source.id.clone(),
            outcome,
            changes: committed.changes.iter().map(|c| c.id).collect(),
            attempts,
        })
    }
}
