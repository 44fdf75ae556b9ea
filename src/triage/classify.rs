//! Category and severity: facts first (a retirement date is a deprecation whatever the page is
//! called), then the rules file's vocabulary over the changed lines, with the source's doc_type
//! as a prior.

use super::facts::Fact;
use crate::config::DocType;
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

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("invalid rules file: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("rules file: category `{category}`: bad pattern `{pattern}`: {reason}")]
    Pattern {
        category: String,
        pattern: String,
        reason: String,
    },
    #[error("rules file: unknown category `{0}`")]
    Category(String),
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
}

pub const DEFAULT_RULES: &str = include_str!("rules.toml");

impl Rules {
    /// The shipped rules, extended by `extra` files (their patterns and priors are added).
    pub fn load(extra: &[&str]) -> Result<Rules, RulesError> {
        let mut merged: BTreeMap<String, RawCategory> = BTreeMap::new();
        for text in std::iter::once(DEFAULT_RULES).chain(extra.iter().copied()) {
            let raw: RawRules = toml::from_str(text)?;
            for (name, c) in raw.category {
                if !CATEGORIES.contains(&name.as_str()) {
                    return Err(RulesError::Category(name));
                }
                let e = merged.entry(name).or_insert(RawCategory {
                    patterns: Vec::new(),
                    prior: Vec::new(),
                });
                e.patterns.extend(c.patterns);
                e.prior.extend(c.prior);
            }
        }
        let categories = merged
            .into_iter()
            .map(|(name, c)| {
                let res = c
                    .patterns
                    .iter()
                    .map(|p| {
                        RegexBuilder::new(p)
                            .case_insensitive(true)
                            .build()
                            .map_err(|e| RulesError::Pattern {
                                category: name.clone(),
                                pattern: p.clone(),
                                reason: e.to_string(),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((name, res, c.prior))
            })
            .collect::<Result<_, RulesError>>()?;
        Ok(Rules { categories })
    }

    /// Every category that applies, strongest first.
    pub fn categories(&self, changed: &[&str], facts: &[Fact], doc_type: Option<DocType>) -> Vec<&'static str> {
        let mut scores: BTreeMap<&'static str, f64> = BTreeMap::new();
        // Facts decide first: they are what the change does.
        for f in facts {
            let cat = match f.kind {
                "retirement" | "deprecation" | "deprecation_withdrawn" => "deprecation",
                "price" => "pricing",
                "rate_limit" => "rate_limit",
                "model_added" | "model_removed" => "model_launch",
                "alias_change" => {
                    // An alias moved to a model that is not new is a retarget: the old target
                    // loses its alias, which is what deprecation plans care about.
                    let new_model = facts.iter().any(|g| g.kind == "model_added" && g.subject == f.new);
                    if new_model { "model_launch" } else { "deprecation" }
                }
                "effective_date" | "policy_clause_added" | "policy_clause_removed" => "policy",
                "incident" | "status_change" => "incident",
                _ => continue,
            };
            *scores.entry(cat).or_default() += 10.0;
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

/// Severity from what the change does; raised later when it touches what we use.
pub fn severity(category: &str, facts: &[Fact], changed_lines: usize) -> &'static str {
    match category {
        "deprecation" if facts.iter().any(|f| matches!(f.kind, "retirement" | "deprecation")) => "high",
        "deprecation" => "medium",
        "incident" => "high",
        "pricing" => {
            let increase = facts.iter().any(|f| match (f.old.as_deref(), f.new.as_deref()) {
                (Some(o), Some(n)) => n.parse::<f64>().unwrap_or(0.0) > o.parse::<f64>().unwrap_or(0.0),
                _ => false,
            });
            if increase { "high" } else { "medium" }
        }
        "policy" if changed_lines > 40 => "high",
        // A new prohibition or obligation is what gets an account suspended.
        "policy" if facts.iter().any(|f| f.kind == "policy_clause_added") => "high",
        "policy" | "rate_limit" | "model_launch" => "medium",
        "capability" => "low",
        _ => "low",
    }
}
