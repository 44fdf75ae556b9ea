//! The JsonLogic side of flag evaluation, on top of datalogic-rs: one shared engine with flagd's
//! string operators, `$ref` expansion, rule compilation, and a borrowed view of the request context.
//!
//! datalogic-rs is a JsonLogic engine only; `fractional` and `sem_ver` are its built-ins (feature
//! `flagd`), while flagd's `starts_with` / `ends_with` are registered here because datalogic's own
//! versions (feature `ext-string`, which must stay off) return `false`, not `null`, for non-strings.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use datalogic_rs::bumpalo::Bump;
use datalogic_rs::bumpalo::collections::Vec as BumpVec;
use datalogic_rs::datavalue::NumberValue;
use datalogic_rs::operator::EvalContext;
use datalogic_rs::{ArenaExt, CustomOperator, DataValue, Engine, Logic};
use serde_json::{Map, Value};

/// The key flagd reserves in the evaluation context for its own properties.
pub(crate) const FLAGD_KEY: &str = "$flagd";

/// Built once: registering operators is builder-only, and rules must be evaluated by an engine
/// configured like the one that compiled them (custom operators are looked up by name at run time).
pub(crate) static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    Engine::builder()
        .add_operator("starts_with", Affix::Starts)
        .add_operator("ends_with", Affix::Ends)
        .build()
});

/// flagd's `starts_with` / `ends_with`: exactly two string arguments, otherwise `null` (flagd logs and
/// returns nil), so a non-string attribute falls through to the default variant instead of matching.
enum Affix {
    Starts,
    Ends,
}

impl CustomOperator for Affix {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        _ctx: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> datalogic_rs::Result<&'a DataValue<'a>> {
        let [value, affix] = args else {
            return Ok(arena.null());
        };
        let (Some(value), Some(affix)) = (value.as_str(), affix.as_str()) else {
            return Ok(arena.null());
        };
        Ok(arena.bool(match self {
            Self::Starts => value.starts_with(affix),
            Self::Ends => value.ends_with(affix),
        }))
    }
}

/// Why a targeting rule was rejected at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RuleError {
    MissingRef(String),
    RefCycle(String),
    BadRef,
    UnknownOperator(String),
    Compile(String),
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingRef(name) => write!(f, "$ref to unknown evaluator `{name}`"),
            Self::RefCycle(name) => write!(f, "$ref cycle through evaluator `{name}`"),
            Self::BadRef => f.write_str("a $ref object must be exactly {\"$ref\": \"<evaluator name>\"}"),
            Self::UnknownOperator(op) => write!(f, "unknown JsonLogic operator `{op}`"),
            Self::Compile(msg) => write!(f, "invalid JsonLogic: {msg}"),
        }
    }
}

/// Replaces every `{"$ref": "name"}` in `rule` by the named evaluator, recursively (evaluators may
/// reference each other). flagd splices the evaluator's body into the object holding the `$ref`; with
/// `$ref` as the object's only key, as flagd's examples use it, that is this replacement.
pub(crate) fn expand_refs(rule: &Value, evaluators: &Map<String, Value>) -> Result<Value, RuleError> {
    let mut stack = Vec::new();
    expand(rule, evaluators, &mut stack)
}

fn expand<'e>(rule: &Value, evaluators: &'e Map<String, Value>, stack: &mut Vec<&'e str>) -> Result<Value, RuleError> {
    match rule {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref") {
                let (Some(name), 1) = (target.as_str(), map.len()) else {
                    return Err(RuleError::BadRef);
                };
                let Some((name, body)) = evaluators.get_key_value(name) else {
                    return Err(RuleError::MissingRef(name.to_owned()));
                };
                if stack.contains(&name.as_str()) {
                    return Err(RuleError::RefCycle(name.clone()));
                }
                stack.push(name);
                let expanded = expand(body, evaluators, stack);
                stack.pop();
                return expanded;
            }
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), expand(v, evaluators, stack)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|v| expand(v, evaluators, stack))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// Compiles an expanded rule once for the life of a snapshot.
///
/// datalogic compiles an unknown single-key object into a custom-operator call that only fails when
/// evaluated, so the operator names are checked here first: a typo must be a load error, not a
/// runtime error on every request.
pub(crate) fn compile(rule: &Value) -> Result<Logic, RuleError> {
    check_operators(rule)?;
    ENGINE.compile(rule).map_err(|e| RuleError::Compile(e.to_string()))
}

fn check_operators(rule: &Value) -> Result<(), RuleError> {
    match rule {
        Value::Object(map) => {
            if let Some((op, _)) = map.iter().next().filter(|_| map.len() == 1)
                && !ENGINE.builtin_operator_names().any(|b| b == op)
                && !ENGINE.has_custom_operator(op)
            {
                return Err(RuleError::UnknownOperator(op.clone()));
            }
            map.values().try_for_each(check_operators)
        }
        Value::Array(items) => items.iter().try_for_each(check_operators),
        _ => Ok(()),
    }
}

/// Whether a rule can observe `$flagd.timestamp`. Reading the clock costs about a third of a
/// fractional evaluation here, so rules that cannot see it get a constant instead; the answer errs
/// towards `true` (any string mentioning `timestamp`, a bare `$flagd` or `""` path, or a computed
/// `var` path), since a wrong `false` would change results.
pub(crate) fn reads_timestamp(rule: &Value) -> bool {
    match rule {
        Value::String(s) => s.is_empty() || s == FLAGD_KEY || s.contains("timestamp"),
        Value::Array(items) => items.iter().any(reads_timestamp),
        Value::Object(map) => map.iter().any(|(op, arg)| {
            let path = match arg {
                Value::Array(items) => items.first(),
                other => Some(other),
            };
            let computed =
                matches!(op.as_str(), "var" | "val") && !matches!(path, Some(Value::String(_) | Value::Number(_)));
            computed || reads_timestamp(arg)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The request context converted once into datalogic's arena form, borrowing every string from the
/// request (only the array/object spines are allocated in the arena). `$flagd` is added per flag by
/// [`ContextView::for_flag`], so a bulk evaluation converts the context only once.
pub(crate) struct ContextView<'a> {
    /// Sorted by key (the request map is a BTreeMap), with a placeholder slot for `$flagd` at its sorted
    /// position: datalogic probes wide objects by binary search before scanning, so order pays.
    pairs: &'a [(&'a str, DataValue<'a>)],
    flagd_slot: usize,
}

impl<'a> ContextView<'a> {
    pub(crate) fn new(ctx: &'a Map<String, Value>, arena: &'a Bump) -> Self {
        let mut pairs = BumpVec::with_capacity_in(ctx.len() + 1, arena);
        let mut flagd_slot = None;
        for (key, value) in ctx {
            // flagd overwrites a caller-supplied `$flagd`, so it never reaches the rule.
            if key == FLAGD_KEY {
                continue;
            }
            if flagd_slot.is_none() && key.as_str() > FLAGD_KEY {
                flagd_slot = Some(pairs.len());
                pairs.push((FLAGD_KEY, DataValue::Null));
            }
            pairs.push((key.as_str(), borrow_json(value, arena)));
        }
        let flagd_slot = flagd_slot.unwrap_or_else(|| {
            pairs.push((FLAGD_KEY, DataValue::Null));
            pairs.len() - 1
        });
        Self {
            pairs: pairs.into_bump_slice(),
            flagd_slot,
        }
    }

    /// The rule's root data: the request context plus `$flagd: {flagKey, timestamp}`. Costs one shallow
    /// copy of the top-level pairs.
    pub(crate) fn for_flag(&self, flag_key: &'a str, timestamp: i64, arena: &'a Bump) -> &'a DataValue<'a> {
        let flagd = arena.alloc_slice_copy(&[
            ("flagKey", DataValue::String(flag_key)),
            ("timestamp", DataValue::Number(NumberValue::Integer(timestamp))),
        ]);
        let pairs = arena.alloc_slice_copy(self.pairs);
        pairs[self.flagd_slot].1 = DataValue::Object(flagd);
        arena.alloc(DataValue::Object(pairs))
    }
}

/// `serde_json::Value` → `DataValue` without copying string bytes (datalogic's own bridge copies them).
fn borrow_json<'a>(value: &'a Value, arena: &'a Bump) -> DataValue<'a> {
    match value {
        Value::Null => DataValue::Null,
        Value::Bool(b) => DataValue::Bool(*b),
        Value::Number(n) => DataValue::Number(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => NumberValue::Integer(i),
            (None, Some(f)) => NumberValue::Float(f),
            (None, None) => NumberValue::Float(f64::NAN),
        }),
        Value::String(s) => DataValue::String(s),
        Value::Array(items) => {
            DataValue::Array(arena.alloc_slice_fill_with(items.len(), |i| borrow_json(&items[i], arena)))
        }
        Value::Object(map) => {
            let mut entries = map.iter();
            DataValue::Object(arena.alloc_slice_fill_with(map.len(), |_| match entries.next() {
                Some((k, v)) => (k.as_str(), borrow_json(v, arena)),
                None => ("", DataValue::Null),
            }))
        }
    }
}

/// What a targeting result names, in flagd's terms: flagd JSON-encodes the result and strips quotes,
/// so a string names a variant, `true`/`false` name the variants "true"/"false", and a number names
/// the variant spelled like it.
pub(crate) enum Named<'r> {
    /// `null` or `""`: no variant chosen, use the default.
    Nothing,
    Variant(std::borrow::Cow<'r, str>),
    /// An array or object: never a variant key.
    NotAName,
}

pub(crate) fn variant_name<'r>(result: &'r DataValue<'_>) -> Named<'r> {
    use std::borrow::Cow;
    match result {
        DataValue::Null => Named::Nothing,
        DataValue::String("") => Named::Nothing,
        DataValue::String(s) => Named::Variant(Cow::Borrowed(s)),
        DataValue::Bool(true) => Named::Variant(Cow::Borrowed("true")),
        DataValue::Bool(false) => Named::Variant(Cow::Borrowed("false")),
        DataValue::Number(NumberValue::Integer(i)) => Named::Variant(Cow::Owned(i.to_string())),
        DataValue::Number(NumberValue::Float(f)) => Named::Variant(Cow::Owned(f.to_string())),
        _ => Named::NotAName,
    }
}

/// Looks a targeting result up among a flag's variants, returning the snapshot's own key so the
/// evaluation can outlive the arena the result lives in.
pub(crate) fn find_variant<'s>(variants: &'s BTreeMap<String, Value>, name: &str) -> Option<(&'s str, &'s Value)> {
    variants.get_key_value(name).map(|(k, v)| (k.as_str(), v))
}
