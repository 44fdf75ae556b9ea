//! Reading and validating flag files (`*.yaml`, `*.yml`, `*.json`, flagd format).
//!
//! Validation never stops at the first problem: a broken edit should be fixed in one round trip, so
//! every problem is reported with its file, a path such as `flags.route.chat.defaultVariant`, and a
//! line where one is cheap to find (syntax errors, and the line of the flag's key).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::model::{
    FailMode, FlagDef, FlagSet, FlagState, META_APPROVALS, META_CLIENT_VISIBLE, META_FAIL_MODE, META_OWNER,
    META_PROVIDERS,
};
use super::rules;

/// One thing wrong with a flag file (or with an override, for [`super::Snapshot::build`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// Where in the document, dotted: `flags.<key>.<field>`; empty for whole-file problems.
    pub path: String,
    /// 1-based.
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    pub(crate) fn new(file: &Path, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            path: path.into(),
            line: None,
            message: message.into(),
        }
    }

    fn at(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found while loading flags or building a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct FlagErrors(pub Vec<Problem>);

fn render(problems: &[Problem]) -> String {
    let mut out = format!("{} problem(s) in flag definitions:", problems.len());
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    out
}

const FLAG_KEYS: [&str; 5] = ["state", "variants", "defaultVariant", "targeting", "metadata"];
const FILE_KEYS: [&str; 4] = ["flags", "$evaluators", "$schema", "metadata"];

/// Whether `name` is a flag file: `.yaml`, `.yml` or `.json`, and not a dot-file or an editor's
/// backup/lock file (`#foo.yaml#`, `foo.yaml~`).
fn is_flag_file(name: &str) -> bool {
    if name.starts_with('.') || name.starts_with('#') || name.ends_with('~') {
        return false;
    }
    matches!(
        Path::new(name).extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Loads every flag file in `dir` (not recursive), in file-name order.
pub fn load_dir(dir: &Path) -> Result<FlagSet, FlagErrors> {
    let entries = std::fs::read_dir(dir).map_err(|e| FlagErrors(vec![Problem::new(dir, "", e.to_string())]))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(is_flag_file))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();

    let mut problems = Vec::new();
    let mut set = FlagSet::default();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                problems.push(Problem::new(&file, "", e.to_string()));
                continue;
            }
        };
        let (defs, file_problems) = parse_file(&file, &text);
        problems.extend(file_problems);
        for def in defs {
            if let Some(first) = set.flags.get(&def.key) {
                problems.push(
                    Problem::new(
                        &file,
                        format!("flags.{}", def.key),
                        format!(
                            "duplicate flag key `{}`, already defined in {}",
                            def.key,
                            first.file.display()
                        ),
                    )
                    .at(flag_line(&text, &def.key)),
                );
                continue;
            }
            set.flags.insert(def.key.clone(), def);
        }
    }
    if problems.is_empty() {
        Ok(set)
    } else {
        Err(FlagErrors(problems))
    }
}

/// Parses and validates one flag file. Returns the flags that are valid and every problem found;
/// the caller decides whether a file with problems may be partially used (signalbox: it may not).
pub fn parse_file(path: &Path, text: &str) -> (Vec<FlagDef>, Vec<Problem>) {
    let mut problems = Vec::new();
    let doc = match parse_document(path, text) {
        Ok(doc) => doc,
        Err(problem) => return (Vec::new(), vec![problem]),
    };
    let Value::Object(root) = doc else {
        return (
            Vec::new(),
            vec![Problem::new(path, "", "a flag file must be a map with a `flags` key")],
        );
    };
    for key in root.keys().filter(|k| !FILE_KEYS.contains(&k.as_str())) {
        problems.push(Problem::new(
            path,
            key.as_str(),
            format!("unknown top-level key (allowed: {})", FILE_KEYS.join(", ")),
        ));
    }
    let empty = Map::new();
    let evaluators = match root.get("$evaluators") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => {
            problems.push(Problem::new(path, "$evaluators", "must be a map of name to JsonLogic"));
            &empty
        }
    };
    let flags = match root.get("flags") {
        Some(Value::Object(flags)) => flags,
        Some(_) => {
            problems.push(Problem::new(path, "flags", "must be a map of flag key to flag"));
            return (Vec::new(), problems);
        }
        None => {
            problems.push(Problem::new(path, "flags", "missing `flags`"));
            return (Vec::new(), problems);
        }
    };
    let mut defs = Vec::new();
    for (key, value) in flags {
        let mut flag = FlagCheck {
            file: path,
            key,
            line: flag_line(text, key),
            problems: Vec::new(),
        };
        let def = flag.check(value, evaluators);
        if flag.problems.is_empty()
            && let Some(def) = def
        {
            defs.push(def);
        }
        problems.append(&mut flag.problems);
    }
    (defs, problems)
}

fn parse_document(path: &Path, text: &str) -> Result<Value, Problem> {
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        return serde_json::from_str(text)
            .map_err(|e| Problem::new(path, "", format!("invalid JSON: {e}")).at(Some(e.line()).filter(|l| *l > 0)));
    }
    let mut yaml: serde_norway::Value = serde_norway::from_str(text)
        .map_err(|e| Problem::new(path, "", format!("invalid YAML: {e}")).at(e.location().map(|l| l.line())))?;
    yaml.apply_merge()
        .map_err(|e| Problem::new(path, "", format!("invalid YAML merge: {e}")))?;
    yaml_to_json(yaml, "").map_err(|(at, msg)| Problem::new(path, at, msg))
}

/// YAML → JSON. Scalar mapping keys become strings, so `variants: {true: true, false: false}` names the
/// variants "true" and "false", which is how flagd maps a boolean targeting result.
fn yaml_to_json(value: serde_norway::Value, at: &str) -> Result<Value, (String, String)> {
    use serde_norway::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            let number = match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Some(i.into()),
                (None, Some(u), _) => Some(u.into()),
                (None, None, Some(f)) => serde_json::Number::from_f64(f),
                _ => None,
            };
            Value::Number(number.ok_or_else(|| (at.to_owned(), format!("number {n} is not representable in JSON")))?)
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| yaml_to_json(v, &join(at, &i.to_string())))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    _ => return Err((at.to_owned(), "mapping keys must be strings".to_owned())),
                };
                let v = yaml_to_json(v, &join(at, &key))?;
                out.insert(key, v);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => return Err((at.to_owned(), format!("YAML tag {} is not supported", t.tag))),
    })
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

/// The 1-based line of flag `key` under `flags:`, found textually: exact positions would need a
/// span-aware parser, and the flag's line is what an editor needs to jump to the problem.
fn flag_line(text: &str, key: &str) -> Option<usize> {
    let start = text.lines().position(|l| {
        let t = l.trim_start().trim_start_matches(['{', ' ']);
        t.starts_with("flags:") || t.starts_with("\"flags\"")
    })?;
    let quoted = [format!("\"{key}\""), format!("'{key}'")];
    text.lines().enumerate().skip(start).find_map(|(i, line)| {
        let t = line.trim_start();
        let plain = t
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'));
        let quoted = quoted.iter().any(|q| {
            line.match_indices(q.as_str())
                .any(|(at, _)| line[at + q.len()..].trim_start().starts_with(':'))
        });
        (plain || quoted).then_some(i + 1)
    })
}

/// The JSON kind of a variant value; all variants of a flag must share one.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Validation of one flag, collecting its problems.
struct FlagCheck<'a> {
    file: &'a Path,
    key: &'a str,
    line: Option<usize>,
    problems: Vec<Problem>,
}

impl FlagCheck<'_> {
    fn problem(&mut self, field: &str, message: impl Into<String>) {
        let path = if field.is_empty() {
            format!("flags.{}", self.key)
        } else {
            format!("flags.{}.{field}", self.key)
        };
        self.problems.push(Problem::new(self.file, path, message).at(self.line));
    }

    fn check(&mut self, value: &Value, evaluators: &Map<String, Value>) -> Option<FlagDef> {
        let Value::Object(flag) = value else {
            self.problem("", "a flag must be a map");
            return None;
        };
        for key in flag.keys().filter(|k| !FLAG_KEYS.contains(&k.as_str())) {
            self.problem(key, format!("unknown key (allowed: {})", FLAG_KEYS.join(", ")));
        }
        let state = self.state(flag.get("state"));
        let variants = self.variants(flag.get("variants"));
        let default_variant = self.default_variant(flag.get("defaultVariant"), variants.as_ref());
        let targeting = self.targeting(flag.get("targeting"), evaluators);
        let metadata = self.metadata(flag.get("metadata"));
        Some(FlagDef {
            key: self.key.to_owned(),
            state: state?,
            variants: variants?,
            default_variant,
            targeting,
            metadata,
            file: self.file.to_owned(),
        })
    }

    fn state(&mut self, value: Option<&Value>) -> Option<FlagState> {
        match value {
            None => self.problem("state", "missing `state` (ENABLED or DISABLED)"),
            Some(v) => match v.as_str().and_then(FlagState::parse) {
                Some(state) => return Some(state),
                None => self.problem("state", format!("invalid state {v} (expected ENABLED or DISABLED)")),
            },
        }
        None
    }

    fn variants(&mut self, value: Option<&Value>) -> Option<BTreeMap<String, Value>> {
        let variants = match value {
            Some(Value::Object(map)) if !map.is_empty() => map,
            Some(Value::Object(_)) | None => {
                self.problem("variants", "a flag needs at least one variant");
                return None;
            }
            Some(_) => {
                self.problem("variants", "must be a map of variant name to value");
                return None;
            }
        };
        let mut kinds: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, v) in variants {
            kinds.entry(kind(v)).or_default().push(name);
        }
        if let Some(nulls) = kinds.get("null") {
            self.problem(
                "variants",
                format!("variant(s) {} are null; a variant needs a value", nulls.join(", ")),
            );
        } else if kinds.len() > 1 {
            let mix: Vec<String> = kinds
                .iter()
                .map(|(k, names)| format!("{k} ({})", names.join(", ")))
                .collect();
            self.problem(
                "variants",
                format!("all variants must have the same type, found {}", mix.join(" and ")),
            );
        }
        Some(variants.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    fn default_variant(&mut self, value: Option<&Value>, variants: Option<&BTreeMap<String, Value>>) -> Option<String> {
        match value {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => {
                if let Some(variants) = variants
                    && !variants.contains_key(name)
                {
                    let known: Vec<&str> = variants.keys().map(String::as_str).collect();
                    self.problem(
                        "defaultVariant",
                        format!("unknown variant `{name}` (variants: {})", known.join(", ")),
                    );
                }
                Some(name.clone())
            }
            Some(other) => {
                self.problem(
                    "defaultVariant",
                    format!("must be a variant name or null, found {other}"),
                );
                None
            }
        }
    }

    fn targeting(&mut self, value: Option<&Value>, evaluators: &Map<String, Value>) -> Option<Value> {
        let rule = match value {
            None | Some(Value::Null) => return None,
            Some(Value::Object(map)) if map.is_empty() => return None,
            Some(rule @ Value::Object(_)) => rule,
            Some(other) => {
                self.problem("targeting", format!("must be a JsonLogic object, found {other}"));
                return None;
            }
        };
        let expanded = match rules::expand_refs(rule, evaluators) {
            Ok(expanded) => expanded,
            Err(e) => {
                self.problem("targeting", e.to_string());
                return None;
            }
        };
        if let Err(e) = rules::compile(&expanded) {
            self.problem("targeting", e.to_string());
        }
        Some(expanded)
    }

    fn metadata(&mut self, value: Option<&Value>) -> Map<String, Value> {
        let map = match value {
            None | Some(Value::Null) => return Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => {
                self.problem("metadata", "must be a map");
                return Map::new();
            }
        };
        for (key, v) in map {
            let field = format!("metadata.{key}");
            let error = match key.as_str() {
                META_OWNER if !v.is_string() => Some("must be a string".to_owned()),
                META_PROVIDERS if v.as_array().is_none_or(|a| !a.iter().all(Value::is_string)) => {
                    Some("must be an array of provider/model ids (strings)".to_owned())
                }
                META_APPROVALS if v.as_u64().is_none_or(|n| n < 1) => Some("must be an integer ≥ 1".to_owned()),
                META_FAIL_MODE if v.as_str().and_then(FailMode::parse).is_none() => {
                    Some(format!("must be \"open\" or \"closed\", found {v}"))
                }
                META_CLIENT_VISIBLE if !v.is_boolean() => Some("must be true or false".to_owned()),
                META_OWNER | META_PROVIDERS | META_APPROVALS | META_FAIL_MODE | META_CLIENT_VISIBLE => None,
                _ if matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)) => None,
                _ => Some("metadata values must be strings, numbers or booleans (OFREP metadata is flat)".to_owned()),
            };
            if let Some(message) = error {
                self.problem(&field, message);
            }
        }
        map.clone()
    }
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
