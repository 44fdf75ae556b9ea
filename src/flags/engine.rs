//! The compiled, immutable flag snapshot and flagd-compatible evaluation.
//!
//! A [`Snapshot`] is built once per revision (file reload, decision applied or expired) and then only
//! read, from any number of threads; the hot path allocates nothing of its own beyond a thread-local
//! arena that is reused across evaluations.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use datalogic_rs::Logic;
use datalogic_rs::bumpalo::Bump;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::load::{FlagErrors, Problem};
use super::model::{FlagDef, FlagSet, FlagState, MetaValue};
use super::rules::{self, ContextView, Named};

/// Evaluation metadata key carrying the snapshot revision.
pub const META_REVISION: &str = "revision";

/// The active effect of an applied decision: serve `variant`, and add `metadata` (decisionId, briefId,
/// approvedBy, expiresAt...) to every evaluation of the flag.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Override {
    pub variant: String,
    pub metadata: BTreeMap<String, MetaValue>,
}

/// Why an evaluation produced its value, as OFREP spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    Static,
    TargetingMatch,
    Default,
    Disabled,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "STATIC",
            Self::TargetingMatch => "TARGETING_MATCH",
            Self::Default => "DEFAULT",
            Self::Disabled => "DISABLED",
        }
    }
}

/// Flat evaluation metadata (OFREP allows only string, number and bool values), sorted by key.
/// Serializes as a JSON object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlatMetadata(Vec<(String, MetaValue)>);

impl FlatMetadata {
    pub fn as_slice(&self) -> &[(String, MetaValue)] {
        &self.0
    }

    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &MetaValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for FlatMetadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// One flag's evaluation, borrowing everything from the snapshot. Serializes as OFREP's success body.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evaluation<'a> {
    pub key: &'a str,
    /// `None` means "use the code default" (OFREP ADR 0006): DISABLED, or no default variant chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a Value>,
    /// Always present, `null` when no variant was chosen: the Python OFREP provider reads
    /// `variant` unconditionally, while `value` may be absent.
    pub variant: Option<&'a str>,
    pub reason: Reason,
    pub metadata: &'a FlatMetadata,
}

/// Why a flag could not be evaluated. One variant per OFREP error code signalbox can produce here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("flag `{0}` not found")]
    FlagNotFound(String),
    /// The targeting rule failed, or returned something that is not one of the flag's variants.
    /// flagd answers both with PARSE_ERROR (evaluateVariant in flagd's core/pkg/evaluator/json.go), so
    /// this does too.
    #[error("{0}")]
    Targeting(String),
    #[error("{0}")]
    General(String),
}

impl EvalError {
    /// The OFREP `errorCode`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::FlagNotFound(_) => "FLAG_NOT_FOUND",
            Self::Targeting(_) => "PARSE_ERROR",
            Self::General(_) => "GENERAL",
        }
    }
}

struct CompiledFlag {
    def: FlagDef,
    rule: Option<Logic>,
    /// Whether the rule can see `$flagd.timestamp`, so the clock is read only when it matters.
    reads_clock: bool,
    /// The variant an active override serves; validated against `def.variants` at build time.
    forced: Option<String>,
    metadata: FlatMetadata,
}

/// An immutable, compiled view of every flag at one revision. `Send + Sync`, meant to sit behind an
/// atomic pointer and be replaced wholesale.
pub struct Snapshot {
    flags: BTreeMap<String, CompiledFlag>,
    revision: u64,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("revision", &self.revision)
            .field("flags", &self.flags.len())
            .finish()
    }
}

thread_local! {
    /// Reused by every evaluation on this thread: reset is O(1) and keeps the largest chunk, so after
    /// warm-up an evaluation mallocs nothing. Memory held is bounded by the largest single evaluation.
    static ARENA: RefCell<Bump> = RefCell::new(Bump::with_capacity(4096));
}

fn with_arena<R>(f: impl FnOnce(&Bump) -> R) -> R {
    ARENA.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bump) => {
            bump.reset();
            f(&bump)
        }
        // Only reachable if an evaluation re-enters itself on this thread; never share the arena then.
        Err(_) => f(&Bump::new()),
    })
}

/// `$flagd.timestamp` (unix seconds), read at most once per request and only when a rule can see it.
#[derive(Default)]
struct Clock(Option<i64>);

impl Clock {
    fn now(&mut self) -> i64 {
        *self.0.get_or_insert_with(|| chrono::Utc::now().timestamp())
    }
}

impl Snapshot {
    /// Compiles every targeting rule and applies `overrides` (flag key → override). Reports every
    /// problem at once: a rule that does not compile, an override for an unknown flag or variant.
    pub fn build(set: &FlagSet, overrides: &HashMap<String, Override>, revision: u64) -> Result<Snapshot, FlagErrors> {
        let mut problems = Vec::new();
        let mut flags = BTreeMap::new();
        for (key, def) in &set.flags {
            let rule = match def.targeting.as_ref().map(rules::compile).transpose() {
                Ok(rule) => rule,
                Err(e) => {
                    problems.push(Problem::new(&def.file, format!("flags.{key}.targeting"), e.to_string()));
                    None
                }
            };
            let over = overrides.get(key);
            if let Some(o) = over
                && !def.variants.contains_key(&o.variant)
            {
                problems.push(Problem::new(
                    &def.file,
                    format!("overrides.{key}.variant"),
                    format!(
                        "override serves unknown variant `{}` (variants: {})",
                        o.variant,
                        variant_list(def)
                    ),
                ));
            }
            let reads_clock = def.targeting.as_ref().is_some_and(rules::reads_timestamp);
            let forced = over.map(|o| o.variant.clone());
            let metadata = evaluation_metadata(&def.metadata, over, revision);
            flags.insert(
                key.clone(),
                CompiledFlag {
                    def: def.clone(),
                    rule,
                    reads_clock,
                    forced,
                    metadata,
                },
            );
        }
        let mut unknown: Vec<&String> = overrides.keys().filter(|k| !set.flags.contains_key(*k)).collect();
        unknown.sort();
        for key in unknown {
            problems.push(Problem::new(
                &PathBuf::from("<overrides>"),
                format!("overrides.{key}"),
                "override for a flag that is not defined".to_owned(),
            ));
        }
        if problems.is_empty() {
            Ok(Snapshot { flags, revision })
        } else {
            Err(FlagErrors(problems))
        }
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Flag keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.flags.keys().map(String::as_str)
    }

    pub fn get(&self, key: &str) -> Option<&FlagDef> {
        self.flags.get(key).map(|f| &f.def)
    }

    /// Whether an active (not overridden) targeting rule of a client-visible flag can read
    /// `$flagd.timestamp`: its answers then change with time alone, and no ETag may promise
    /// otherwise.
    pub fn visible_reads_clock(&self) -> bool {
        self.flags
            .values()
            .any(|f| f.reads_clock && f.forced.is_none() && f.def.client_visible())
    }

    pub fn len(&self) -> usize {
        self.flags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// Evaluates one flag against a request context, with flagd's semantics.
    pub fn evaluate(&self, key: &str, ctx: &Map<String, Value>) -> Result<Evaluation<'_>, EvalError> {
        let (key, flag) = self
            .flags
            .get_key_value(key)
            .ok_or_else(|| EvalError::FlagNotFound(key.to_owned()))?;
        if let Some(done) = flag.without_rule(key) {
            return Ok(done);
        }
        let mut clock = Clock::default();
        with_arena(|arena| flag.run_rule(key, &ContextView::new(ctx, arena), &mut clock, arena))
    }

    /// Evaluates every flag, in key order, converting the context once.
    pub fn evaluate_all(&self, ctx: &Map<String, Value>) -> Vec<(&str, Result<Evaluation<'_>, EvalError>)> {
        let mut clock = Clock::default();
        with_arena(|arena| {
            let view = ContextView::new(ctx, arena);
            self.flags
                .iter()
                .map(|(key, flag)| {
                    let result = match flag.without_rule(key) {
                        Some(done) => Ok(done),
                        None => flag.run_rule(key, &view, &mut clock, arena),
                    };
                    (key.as_str(), result)
                })
                .collect()
        })
    }
}

impl CompiledFlag {
    fn eval<'s>(&'s self, key: &'s str, variant: Option<(&'s str, &'s Value)>, reason: Reason) -> Evaluation<'s> {
        Evaluation {
            key,
            value: variant.map(|v| v.1),
            variant: variant.map(|v| v.0),
            reason,
            metadata: &self.metadata,
        }
    }

    fn default_variant(&self) -> Option<(&str, &Value)> {
        self.def
            .default_variant
            .as_deref()
            .and_then(|d| rules::find_variant(&self.def.variants, d))
    }

    /// The answer when no rule has to run: disabled, overridden, or no targeting.
    fn without_rule<'s>(&'s self, key: &'s str) -> Option<Evaluation<'s>> {
        if self.def.state == FlagState::Disabled {
            return Some(self.eval(key, None, Reason::Disabled));
        }
        if let Some(forced) = &self.forced {
            return Some(self.eval(key, rules::find_variant(&self.def.variants, forced), Reason::Static));
        }
        if self.rule.is_none() {
            return Some(match self.default_variant() {
                Some(v) => self.eval(key, Some(v), Reason::Static),
                None => self.eval(key, None, Reason::Default),
            });
        }
        None
    }

    fn run_rule<'s>(
        &'s self,
        key: &'s str,
        view: &ContextView<'_>,
        clock: &mut Clock,
        arena: &Bump,
    ) -> Result<Evaluation<'s>, EvalError> {
        let Some(rule) = &self.rule else {
            return Err(EvalError::General(format!("flag `{key}` has no targeting rule")));
        };
        let now = if self.reads_clock { clock.now() } else { 0 };
        let data = view.for_flag(key, now, arena);
        let result = rules::ENGINE
            .evaluate(rule, data, arena)
            .map_err(|e| EvalError::Targeting(e.to_string()))?;
        match rules::variant_name(result) {
            Named::Nothing => Ok(self.eval(key, self.default_variant(), Reason::Default)),
            Named::Variant(name) => match rules::find_variant(&self.def.variants, &name) {
                Some(v) => Ok(self.eval(key, Some(v), Reason::TargetingMatch)),
                None => Err(EvalError::Targeting(format!(
                    "variant `{name}` not found in flag `{key}`"
                ))),
            },
            Named::NotAName => Err(EvalError::Targeting(format!(
                "targeting of flag `{key}` returned {result}, not a variant name"
            ))),
        }
    }
}

fn variant_list(def: &FlagDef) -> String {
    def.variants.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
}

/// The flag's flat metadata (arrays such as `providers` stay server-side), then the override's, then
/// `revision`, later entries winning.
fn evaluation_metadata(flag: &Map<String, Value>, over: Option<&Override>, revision: u64) -> FlatMetadata {
    let mut merged: BTreeMap<String, MetaValue> = flag
        .iter()
        .filter_map(|(k, v)| MetaValue::from_json(v).map(|m| (k.clone(), m)))
        .collect();
    if let Some(o) = over {
        merged.extend(o.metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    merged.insert(META_REVISION.to_owned(), MetaValue::from(revision));
    FlatMetadata(merged.into_iter().collect())
}
