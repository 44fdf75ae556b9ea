//! Playbooks: pre-approved decisions. A reviewed file (`flags/playbooks.toml` by default) says
//! "when this happens at this provider, apply this decision; revert it when it clears". They are
//! what lets a team fail over in seconds at 2 a.m. without waking two approvers, so every firing
//! is a decision with origin `playbook:<name>` and an audit event of its own.
//!
//! Two kinds of condition:
//! - **status** (`category = "incident"`, the default): the state of the provider's status page
//!   after each change. The condition holds while a matching component is in one of `statuses`;
//!   when it stops holding, the decision is reverted after `revert_after` of quiet (re-armed if
//!   the outage comes back first). State, not events: a missed poll cannot leave a failover on.
//! - **brief**: any other category; fires on a brief of that category at or above
//!   `min_severity`. It is reverted by its `expires_after` or by hand.

use super::{Action, DecisionError, Decisions, Proposal};
use crate::config::Source;
use crate::domain::brief::Severity;
use crate::domain::decision::{DecisionStatus, LifecycleError};
use crate::extract::{Normalized, StatusDoc};
use crate::flags::FlagSet;
use crate::store::{DecisionFilter, DecisionRecord, DecisionStoreError, NewAudit};
use chrono::Utc;
use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("cannot read playbooks file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("invalid playbooks file:\n{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    playbook: Vec<toml::Spanned<Raw>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    #[serde(default)]
    description: String,
    when: RawWhen,
    then: RawThen,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    provider: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default = "incident")]
    category: String,
    #[serde(default)]
    component: Option<String>,
    #[serde(default = "major_outage")]
    statuses: Vec<String>,
    #[serde(default = "high")]
    min_severity: String,
}

fn incident() -> String {
    "incident".into()
}
fn major_outage() -> Vec<String> {
    vec!["major_outage".into()]
}
fn high() -> String {
    "high".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThen {
    flag: String,
    env: String,
    action: Action,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    revert_after: Option<String>,
    #[serde(default)]
    expires_after: Option<String>,
}

/// One checked playbook.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub name: String,
    pub description: String,
    pub provider: String,
    pub source: Option<String>,
    pub category: String,
    pub component: Option<Regex>,
    pub statuses: Vec<String>,
    pub min_severity: Severity,
    pub flag: String,
    pub env: String,
    pub action: Action,
    pub variant: Option<String>,
    pub revert_after: Option<Duration>,
    pub expires_after: Option<Duration>,
}

impl Playbook {
    fn is_status(&self) -> bool {
        self.category == "incident"
    }

    fn origin(&self) -> String {
        format!("playbook:{}", self.name)
    }

    /// The matching components in a trigger status, as `name (status)`.
    fn matching(&self, doc: &StatusDoc) -> Vec<String> {
        doc.components
            .iter()
            .filter(|c| {
                let full = match &c.group {
                    Some(g) => format!("{g} / {}", c.name),
                    None => c.name.clone(),
                };
                self.component.as_ref().is_none_or(|re| re.is_match(&full))
                    && self.statuses.iter().any(|s| s == c.status.as_str())
            })
            .map(|c| format!("{} ({})", c.name, c.status.as_str()))
            .collect()
    }
}

const STATUSES: [&str; 6] = [
    "operational",
    "degraded",
    "partial_outage",
    "major_outage",
    "maintenance",
    "unknown",
];

/// The loaded playbooks.
#[derive(Debug, Clone, Default)]
pub struct Playbooks {
    pub list: Vec<Playbook>,
}

/// What happened to a brief, as a playbook sees it.
pub struct BriefSeen<'a> {
    pub brief_id: i64,
    pub source: &'a Source,
    pub material: bool,
    pub category: Option<&'a str>,
    pub severity: Severity,
    /// The normalized text of the version after the change.
    pub after: &'a str,
}

impl Playbooks {
    /// Reads and checks a playbooks file against the flags and environments being served. A
    /// missing file means no playbooks; any problem is reported with the file and line.
    pub fn load(path: &Path, flags: &FlagSet, environments: &[String]) -> Result<Playbooks, PlaybookError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Playbooks::default()),
            Err(e) => return Err(PlaybookError::Read(path.to_path_buf(), e)),
        };
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let file: File = toml::from_str(&text).map_err(|e| {
            PlaybookError::Invalid(vec![format!(
                "{}:{}: {}",
                path.display(),
                e.span().map(|s| line_of(s.start)).unwrap_or(1),
                e.message()
            )])
        })?;
        let mut problems = Vec::new();
        let mut list: Vec<Playbook> = Vec::new();
        for spanned in file.playbook {
            let line = line_of(spanned.span().start);
            let raw = spanned.into_inner();
            let mut bad = |m: String| problems.push(format!("{}:{line}: playbook `{}`: {m}", path.display(), raw.name));
            if list.iter().any(|p| p.name == raw.name) {
                bad("the name is used twice".into());
            }
            let component = match raw
                .when
                .component
                .as_deref()
                .map(|c| RegexBuilder::new(c).case_insensitive(true).build())
            {
                Some(Err(e)) => {
                    bad(format!("bad component pattern: {e}"));
                    None
                }
                Some(Ok(re)) => Some(re),
                None => None,
            };
            for s in &raw.when.statuses {
                if !STATUSES.contains(&s.as_str()) {
                    bad(format!("unknown status `{s}` (known: {})", STATUSES.join(", ")));
                }
            }
            if !crate::triage::classify::CATEGORIES.contains(&raw.when.category.as_str()) {
                bad(format!("unknown category `{}`", raw.when.category));
            }
            let min_severity = match raw.when.min_severity.parse::<Severity>() {
                Ok(s) => s,
                Err(e) => {
                    bad(e.to_string());
                    Severity::Info
                }
            };
            if !environments.contains(&raw.then.env) {
                bad(format!("environment `{}` is not configured", raw.then.env));
            }
            match flags.flags.get(&raw.then.flag) {
                None => bad(format!("no flag `{}`", raw.then.flag)),
                Some(def) => match (raw.then.action, &raw.then.variant) {
                    (Action::Serve, Some(v)) if !def.variants.contains_key(v) => {
                        bad(format!("flag `{}` has no variant `{v}`", raw.then.flag))
                    }
                    (Action::Serve, None) => bad("serve needs a variant".into()),
                    (Action::Kill, None) if super::off_variant(&def.variants).is_none() => {
                        bad(format!("flag `{}` has no off variant", raw.then.flag))
                    }
                    (Action::Kill | Action::Restore, Some(_)) => bad("only serve takes a variant".into()),
                    _ => {}
                },
            }
            let mut duration = |what: &str, v: &Option<String>| match v.as_deref().map(humantime::parse_duration) {
                Some(Ok(d)) => Some(d),
                Some(Err(e)) => {
                    bad(format!("bad {what} `{}`: {e}", v.as_deref().unwrap_or_default()));
                    None
                }
                None => None,
            };
            let revert_after = duration("revert_after", &raw.then.revert_after);
            let expires_after = duration("expires_after", &raw.then.expires_after);
            list.push(Playbook {
                name: raw.name,
                description: raw.description,
                provider: raw.when.provider,
                source: raw.when.source,
                category: raw.when.category,
                component,
                statuses: raw.when.statuses,
                min_severity,
                flag: raw.then.flag,
                env: raw.then.env,
                action: raw.then.action,
                variant: raw.then.variant,
                revert_after,
                expires_after,
            });
        }
        if problems.is_empty() {
            Ok(Playbooks { list })
        } else {
            Err(PlaybookError::Invalid(problems))
        }
    }

    /// Runs every playbook that watches this brief's provider: fires, re-arms or schedules the
    /// revert of their decisions. Returns the decisions fired.
    pub async fn on_brief(
        &self,
        decisions: &Decisions,
        seen: &BriefSeen<'_>,
    ) -> Result<Vec<DecisionRecord>, DecisionError> {
        let mut fired = Vec::new();
        for p in &self.list {
            if p.provider != seen.source.provider || p.source.as_ref().is_some_and(|s| *s != seen.source.id) {
                continue;
            }
            let live = live_decision(decisions, p).await?;
            if p.is_status() {
                let Ok(Normalized::Status(doc)) = Normalized::from_text(seen.source.kind, seen.after) else {
                    continue;
                };
                // A page that lists no components says nothing about them (a parse that yields
                // nothing is a broken source, not a recovery).
                if doc.components.is_empty() {
                    continue;
                }
                let matching = p.matching(&doc);
                // A person who reverted (or overrode) this playbook's decision during an outage
                // has the last word until the outage is over: the playbook does not fire again
                // until its condition has cleared once.
                let held = held_by_a_person(decisions, p).await?;
                match (matching.is_empty(), live) {
                    (false, None) if held => {
                        tracing::info!(playbook = %p.name, "condition holds, but a person ended this playbook's decision; not firing until it clears");
                    }
                    (true, None) if held => {
                        decisions
                            .store()
                            .audit(NewAudit::new(
                                &p.origin(),
                                "playbook.rearmed",
                                "playbook",
                                &p.name,
                                serde_json::json!({"brief_id": seen.brief_id, "source": seen.source.id}),
                            ))
                            .await?;
                    }
                    (false, None) => {
                        let why = format!("{} at {}", matching.join(", "), seen.source.provider);
                        fired.extend(fire(decisions, p, seen, &why).await?);
                    }
                    (false, Some(d)) if d.revert_at.is_some() => {
                        // The outage is back before the quiet period ended: keep the failover. If
                        // the revert won the race, fire again.
                        match decisions.set_revert_at(d.id, None, &p.origin()).await {
                            Err(DecisionStoreError::Refused(LifecycleError::NotAllowed { .. })) => {
                                let why = format!("{} at {} (again)", matching.join(", "), seen.source.provider);
                                fired.extend(fire(decisions, p, seen, &why).await?);
                            }
                            other => {
                                other?;
                            }
                        }
                    }
                    (true, Some(d)) if d.status == DecisionStatus::Active && d.revert_at.is_none() => {
                        if let Some(quiet) = p.revert_after {
                            let at = Utc::now() + chrono::Duration::from_std(quiet).unwrap_or_default();
                            // Ended meanwhile (a person reverted it): nothing to schedule.
                            match decisions.set_revert_at(d.id, Some(at), &p.origin()).await {
                                Err(DecisionStoreError::Refused(LifecycleError::NotAllowed { .. })) => {}
                                other => {
                                    other?;
                                }
                            }
                        }
                    }
                    _ => {}
                }
            } else if seen.material
                && seen.category == Some(p.category.as_str())
                && seen.severity >= p.min_severity
                && live.is_none()
            {
                let why = format!(
                    "a {} {} brief about {}",
                    seen.severity, p.category, seen.source.provider
                );
                fired.extend(fire(decisions, p, seen, &why).await?);
            }
        }
        if !fired.is_empty() {
            decisions.reconcile().await?;
        }
        Ok(fired)
    }
}

/// Whether the playbook's latest decision was ended by a person (reverted, withdrawn or
/// superseded by someone other than the playbook or the clock) and the condition has not cleared
/// since (no `playbook.rearmed` event after it ended).
async fn held_by_a_person(decisions: &Decisions, p: &Playbook) -> Result<bool, DecisionError> {
    let origin = p.origin();
    let latest = decisions
        .list(&DecisionFilter {
            flag: Some(p.flag.clone()),
            env: Some(p.env.clone()),
            ..Default::default()
        })
        .await?
        .into_iter()
        .find(|d| d.origin == origin);
    let Some(d) = latest else { return Ok(false) };
    let by_person =
        d.status.ended_by_person() && d.ended_by.as_deref().is_some_and(|by| by != origin && by != "system");
    if !by_person {
        return Ok(false);
    }
    let rearmed = decisions
        .store()
        .audit_events(&crate::store::AuditFilter {
            object_type: Some("playbook".into()),
            object_id: Some(p.name.clone()),
            action: Some("playbook.rearmed".into()),
            since: d.ended_at,
            limit: 1,
            ..Default::default()
        })
        .await?;
    Ok(rearmed.is_empty())
}

/// The playbook's decision on its flag that is approved or active, if any.
async fn live_decision(decisions: &Decisions, p: &Playbook) -> Result<Option<DecisionRecord>, DecisionError> {
    let origin = p.origin();
    let mut all = decisions
        .list(&DecisionFilter {
            flag: Some(p.flag.clone()),
            env: Some(p.env.clone()),
            ..Default::default()
        })
        .await?;
    all.retain(|d| d.origin == origin && matches!(d.status, DecisionStatus::Approved | DecisionStatus::Active));
    Ok(all.into_iter().next())
}

async fn fire(
    decisions: &Decisions,
    p: &Playbook,
    seen: &BriefSeen<'_>,
    why: &str,
) -> Result<Option<DecisionRecord>, DecisionError> {
    let origin = p.origin();
    let proposal = Proposal {
        flag: p.flag.clone(),
        env: p.env.clone(),
        action: p.action,
        variant: p.variant.clone(),
        reason: format!("playbook {}: {why} (brief {})", p.name, seen.brief_id),
        brief_id: Some(seen.brief_id),
        starts_at: None,
        expires_at: p
            .expires_after
            .map(|d| Utc::now() + chrono::Duration::from_std(d).unwrap_or_default()),
    };
    // The firing is recorded with the decision, in its transaction: there is no decision made by
    // a playbook without the event that says why.
    let fired = NewAudit::new(
        &origin,
        "playbook.fired",
        "playbook",
        &p.name,
        serde_json::json!({
            "brief_id": seen.brief_id, "source": seen.source.id, "provider": seen.source.provider,
            "category": seen.category, "severity": seen.severity, "why": why,
        }),
    );
    let d = match decisions.propose_with(&origin, &proposal, &origin, Some(fired)).await {
        Err(DecisionError::Store(DecisionStoreError::AlreadyLive(_))) => {
            tracing::info!(playbook = %p.name, "already fired (by another replica); not firing again");
            return Ok(None);
        }
        other => other?,
    };
    tracing::warn!(playbook = %p.name, decision = d.id, flag = %d.flag, env = %d.env, variant = ?d.variant, %why, "playbook fired");
    Ok(Some(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> FlagSet {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("f.yaml"),
            "flags:\n  route.chat:\n    state: ENABLED\n    variants: { primary: 1, failover: 2 }\n    defaultVariant: primary\n  cap.x:\n    state: ENABLED\n    variants: { \"on\": true, \"off\": false }\n    defaultVariant: \"on\"\n",
        )
        .unwrap();
        crate::flags::load_dir(dir.path()).unwrap()
    }

    fn load(text: &str) -> Result<Playbooks, PlaybookError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("playbooks.toml");
        std::fs::write(&p, text).unwrap();
        Playbooks::load(&p, &flags(), &["staging".into(), "production".into()])
    }

    const GOOD: &str = "[[playbook]]\nname = \"a\"\n[playbook.when]\nprovider = \"acme\"\ncomponent = \"api\"\n[playbook.then]\nflag = \"route.chat\"\nenv = \"production\"\naction = \"serve\"\nvariant = \"failover\"\nrevert_after = \"10m\"\n";

    #[test]
    fn a_good_file_loads_with_its_defaults() {
        let p = load(GOOD).unwrap();
        let a = &p.list[0];
        assert_eq!(
            (a.category.as_str(), a.statuses.as_slice()),
            ("incident", &["major_outage".to_owned()][..])
        );
        assert_eq!(a.revert_after, Some(Duration::from_secs(600)));
        assert!(a.component.as_ref().unwrap().is_match("Claude API"));
    }

    #[test]
    fn a_missing_file_means_no_playbooks() {
        let p = Playbooks::load(Path::new("/nonexistent/playbooks.toml"), &flags(), &[]).unwrap();
        assert!(p.list.is_empty());
    }

    #[test]
    fn every_problem_is_named_with_its_line() {
        let second = GOOD
            .replace("name = \"a\"", "name = \"b\"")
            .replace("failover", "nope")
            .replace("10m", "ten minutes")
            .replace("production", "prod")
            .replace("component = \"api\"", "component = \"api\"\nstatuses = [\"down\"]");
        let text = format!(
            "{GOOD}\n{second}\n[[playbook]]\nname = \"c\"\n[playbook.when]\nprovider = \"acme\"\n[playbook.then]\nflag = \"nope\"\nenv = \"staging\"\naction = \"kill\"\n"
        );
        let Err(PlaybookError::Invalid(problems)) = load(&text) else {
            panic!("accepted")
        };
        let all = problems.join("\n");
        for needle in [
            "no variant `nope`",
            "bad revert_after `ten minutes`",
            "environment `prod`",
            "unknown status `down`",
            "no flag `nope`",
        ] {
            assert!(all.contains(needle), "{needle} missing from:\n{all}");
        }
        // The second playbook starts on line 13 of the file, the third on 26.
        assert!(
            problems
                .iter()
                .filter(|p| p.contains("`b`"))
                .all(|p| p.contains("playbooks.toml:13:")),
            "{all}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("playbooks.toml:26:") && p.contains("`c`")),
            "{all}"
        );
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let Err(PlaybookError::Invalid(p)) = load("[[playbook]]\nname = \"a\"\nwhen = 3\n") else {
            panic!("accepted")
        };
        assert!(p[0].contains("playbooks.toml:3:"), "{p:?}");
    }

    #[test]
    fn status_matching_uses_component_and_statuses() {
        let p = load(GOOD).unwrap().list.remove(0);
        let doc = |status: &str| StatusDoc {
            indicator: "major".into(),
            description: String::new(),
            components: vec![crate::extract::Component {
                id: "1".into(),
                name: "API".into(),
                group: None,
                status: serde_json::from_value(serde_json::json!(status)).unwrap(),
                raw_status: status.into(),
            }],
            incidents: vec![],
            maintenances: vec![],
            windowed: false,
        };
        assert_eq!(p.matching(&doc("major_outage")), ["API (major_outage)"]);
        assert!(p.matching(&doc("degraded")).is_empty());
    }
}
