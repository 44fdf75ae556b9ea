//! Category and severity: facts first (a retirement date is a deprecation whatever the page is
//! called), then the rules file's vocabulary over the changed lines, with the source's doc_type
//! as a prior.

use super::facts::Fact;
use crate::config::DocType;
use crate::domain::brief::Severity;
use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use std::collections::BTreeMap;

pub const CATEGORIES: [&str; 8] = [
    "pricing",
    "rate_limit",
    "deprecation",
    "policy",
    "incident",
    "model_launch",
    "capability",
    "other",
];

/// A problem in a rules file; `file` is the path given (or `<built-in>` for the shipped rules).
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read rules file {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}:{line}: {message}")]
    Toml { file: String, line: usize, message: String },
    #[error("{file}: category `{category}`: bad pattern `{pattern}`: {reason}")]
    Pattern {
        file: String,
        category: String,
        pattern: String,
        reason: String,
    },
    #[error("{file}: unknown category `{category}` (known: {known})", known = CATEGORIES.join(", "))]
    Category { file: String, category: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    category: BTreeMap<String, RawCategory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    prior: Vec<String>,
}

pub struct Rules {
    categories: Vec<(String, Vec<Regex>, Vec<String>)>,
    /// The patterns the operator added (not the shipped ones): a changed line they match is
    /// material even where the shipped vocabulary would call the edit a rewording, because the
    /// owner said these words matter to them.
    owner: Vec<Regex>,
}

pub const DEFAULT_RULES: &str = include_str!("rules.toml");

impl Rules {
    /// The shipped rules, extended by the given rules files (their patterns and priors are
    /// added to the shipped ones). Every error names the file.
    pub fn load_files(paths: &[std::path::PathBuf]) -> Result<Rules, RulesError> {
        let texts = paths
            .iter()
            .map(|p| {
                let name = p.display().to_string();
                std::fs::read_to_string(p)
                    .map(|t| (name.clone(), t))
                    .map_err(|e| RulesError::Read {
                        file: name,
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::load_named(&texts.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect::<Vec<_>>())
    }

    /// The shipped rules extended by `extra` texts (for tests and embedding).
    pub fn load(extra: &[&str]) -> Result<Rules, RulesError> {
        Self::load_named(&extra.iter().map(|t| ("<extra rules>", *t)).collect::<Vec<_>>())
    }

    fn load_named(extra: &[(&str, &str)]) -> Result<Rules, RulesError> {
        let mut merged: BTreeMap<String, (String, RawCategory)> = BTreeMap::new();
        let mut compiled: BTreeMap<String, Vec<Regex>> = BTreeMap::new();
        let mut owner = Vec::new();
        for (file, text) in std::iter::once(("<built-in rules>", DEFAULT_RULES)).chain(extra.iter().copied()) {
            let raw: RawRules = toml::from_str(text).map_err(|e| RulesError::Toml {
                file: file.to_owned(),
                line: e.span().map(|s| text[..s.start].matches('\n').count() + 1).unwrap_or(1),
                message: e.message().to_owned(),
            })?;
            for (name, c) in raw.category {
                if !CATEGORIES.contains(&name.as_str()) {
                    return Err(RulesError::Category {
                        file: file.to_owned(),
                        category: name,
                    });
                }
                for p in &c.patterns {
                    let re = RegexBuilder::new(p)
                        .case_insensitive(true)
                        .build()
                        .map_err(|e| RulesError::Pattern {
                            file: file.to_owned(),
                            category: name.clone(),
                            pattern: p.clone(),
                            reason: e.to_string(),
                        })?;
                    if file != "<built-in rules>" {
                        owner.push(re.clone());
                    }
                    compiled.entry(name.clone()).or_default().push(re);
                }
                let e = merged.entry(name.clone()).or_insert_with(|| {
                    (
                        name,
                        RawCategory {
                            patterns: Vec::new(),
                            prior: Vec::new(),
                        },
                    )
                });
                e.1.prior.extend(c.prior);
            }
        }
        let categories = merged
            .into_values()
            .map(|(name, c)| {
                let res = compiled.remove(&name).unwrap_or_default();
                (name, res, c.prior)
            })
            .collect();
        Ok(Rules { categories, owner })
    }

    /// Whether any changed line matches a pattern the operator added.
    pub fn owner_matches(&self, changed: &[&str]) -> bool {
        changed.iter().any(|l| self.owner.iter().any(|p| p.is_match(l)))
    }

    /// Every category that applies, strongest first.
    pub fn categories(&self, changed: &[&str], facts: &[Fact], doc_type: Option<DocType>) -> Vec<&'static str> {
        let mut scores: BTreeMap<&'static str, f64> = BTreeMap::new();
        // Facts decide first: they are what the change does. When one change does several
        // things, the one that can break something leads (a retirement date moved beats five
        // models added beside it); the number of facts only orders within that.
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for f in facts {
            let cat = match f.kind {
                "retirement" | "deprecation" | "deprecation_withdrawn" => "deprecation",
                "price" => "pricing",
                "rate_limit" => "rate_limit",
                "model_added" => "model_launch",
                "capability_change" => "capability",
                // A model gone from a list or table is a retirement that already happened.
                "model_removed" => "deprecation",
                "alias_change" => {
                    // An alias moved to a model that is not new is a retarget: the old target
                    // loses its alias, which is what deprecation plans care about.
                    // An alias moved to a new model is that model's launch, already counted
                    // by its `model_added` fact: one event, one vote.
                    let new_model = facts.iter().any(|g| g.kind == "model_added" && g.subject == f.new);
                    if new_model {
                        continue;
                    }
                    "deprecation"
                }
                "effective_date" | "policy_clause_added" | "policy_clause_removed" => "policy",
                "incident" | "status_change" => "incident",
                _ => continue,
            };
            *counts.entry(cat).or_default() += 1;
        }
        for (cat, n) in counts {
            let weight = match cat {
                "incident" => 60.0,
                "deprecation" => 50.0,
                "pricing" | "rate_limit" => 40.0,
                "policy" => 30.0,
                _ => 20.0,
            };
            *scores.entry(cat).or_default() += weight + n.min(10) as f64;
        }
        for (name, patterns, prior) in &self.categories {
            let Some(cat) = CATEGORIES.iter().find(|c| **c == name.as_str()).copied() else {
                continue;
            };
            let hits = changed
                .iter()
                .filter(|l| patterns.iter().any(|p| p.is_match(l)))
                .count();
            let mut score = hits as f64 / (changed.len().max(1) as f64) * 5.0;
            if doc_type.is_some_and(|d| prior.iter().any(|p| p == d.as_str())) {
                score += 3.0;
            }
            if score > 0.0 {
                *scores.entry(cat).or_default() += score;
            }
        }
        let mut v: Vec<(&'static str, f64)> = scores.into_iter().collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut out: Vec<&'static str> = v.into_iter().map(|(c, _)| c).collect();
        if out.is_empty() {
            out.push("other");
        }
        out
    }
}

/// A clause that forbids something to the reader.
static PROHIBITION: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:must not|may not|shall not|cannot|can't|do not|don't|never|prohibit\w*|forbid\w*|not (?:be )?(?:permitted|allowed)|no longer (?:permitted|allowed)|is not allowed|are not allowed|ban(?:s|ned)?)\b|^\s*(?:[-*+•]|\d+[.)])?\s*(?:\*\*)?not\s+\w|(?:use|using) the services to:")
        .expect("valid regex")
});

/// Whether the change's `kind` facts all moved one way (`Greater`: every new value above its
/// old one), and there is at least one.
pub fn all_moved(facts: &[Fact], kind: &str, way: std::cmp::Ordering) -> bool {
    let num = |v: Option<&str>| v.and_then(|v| v.replace(',', "").parse::<f64>().ok());
    let mut of_kind = facts.iter().filter(|f| f.kind == kind).peekable();
    of_kind.peek().is_some()
        && of_kind.all(|f| match (num(f.new.as_deref()), num(f.old.as_deref())) {
            (Some(n), Some(o)) => n.partial_cmp(&o) == Some(way),
            _ => false,
        })
}

/// Severity from what the change does; raised later when it touches what we use.
pub fn severity(category: &str, facts: &[Fact], changed_lines: usize) -> Severity {
    match category {
        "deprecation" if facts.iter().any(|f| matches!(f.kind, "retirement" | "deprecation")) => Severity::High,
        "deprecation" => Severity::Medium,
        "incident" => Severity::High,
        "pricing" => {
            let increase = facts.iter().any(|f| match (f.old.as_deref(), f.new.as_deref()) {
                (Some(o), Some(n)) => n.parse::<f64>().unwrap_or(0.0) > o.parse::<f64>().unwrap_or(0.0),
                _ => false,
            });
            if increase { Severity::High } else { Severity::Medium }
        }
        "policy" if changed_lines > 40 => Severity::High,
        // A new prohibition is what gets an account suspended; a new option or a provider's
        // commitment is worth reading, not urgent.
        "policy"
            if facts.iter().any(|f| {
                f.kind == "policy_clause_added" && f.new.as_deref().is_some_and(|c| PROHIBITION.is_match(c))
            }) =>
        {
            Severity::High
        }
        // Limits raised and none lowered: more room, nothing to do.
        "rate_limit" if all_moved(facts, "rate_limit", std::cmp::Ordering::Greater) => Severity::Low,
        "policy" | "rate_limit" | "model_launch" => Severity::Medium,
        "capability" => Severity::Low,
        _ => Severity::Low,
    }
}
