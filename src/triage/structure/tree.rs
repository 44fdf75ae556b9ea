//! Data files as records: JSON, YAML, and the data literals of source files ([`super::literal`]).
//!
//! A tree is walked once:
//! - an array of objects is a collection: each object a record keyed by its id field (the first
//!   of `id`, `model`, `api_name`, `slug`, `name`... present and unique across the objects);
//! - an object whose keys are mostly ids (`{"acme-1": {...}, "acme-2": {...}}`, a litellm-style
//!   price table; `{"acme-1": "2026-01-05"}`, an SDK's deprecation table), or whose values are
//!   objects of one shape, is a collection keyed by those keys;
//! - any other object is one record whose fields are its scalars by dotted path
//!   (`prices.input_mtok.base`, `metadata.retirementDate`); collections inside it are walked
//!   on their own, their records belonging to it;
//! - an array of ids is an id list.
//!
//! Fields whose value is `null` are absent. Numbers keep their plain decimal form.

use super::{Format, IdList, Record, Structure, is_id_like, literal, slug};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Reads `text` as a data file, or `None` when it is not one (prose, Markdown, HTML text).
pub fn parse(text: &str) -> Option<Structure> {
    let (value, named) = as_data(text)?;
    let mut s = Structure {
        format: Format::Tree,
        records: Vec::new(),
        lists: Vec::new(),
        table_lines: BTreeSet::new(),
    };
    match (&value, named) {
        // A source file's literals, each under the name it is assigned to.
        (Value::Object(m), true) => {
            for (name, v) in m {
                walk(v, name, &[], &mut s);
            }
        }
        _ => walk(&value, "", &[], &mut s),
    }
    (!s.records.is_empty() || !s.lists.is_empty()).then_some(s)
}

/// The document as a JSON value: JSON itself, YAML whose top level is a mapping or sequence of
/// identifier-like keys, or the literals of a source file when they make up most of it (then
/// `true`: the value is an object of the literals by the names they are assigned to).
fn as_data(text: &str) -> Option<(Value, bool)> {
    let t = text.trim_start();
    if (t.starts_with('{') || t.starts_with('['))
        && let Ok(v) = serde_json::from_str::<Value>(text)
    {
        return Some((v, false));
    }
    if let Some(v) = yaml(text) {
        return Some((v, false));
    }
    let lits = literal::read(text)?;
    // Prose with a stray `x = [..]` is not a data file: the literals must hold most of what is
    // not comments or imports.
    let inside: usize = lits.values().map(|v| v.to_string().len()).sum();
    let visible: usize = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with(['#', '/', '*']) && !l.starts_with("import ") && !l.starts_with("from "))
        .map(|l| l.chars().filter(|c| !c.is_whitespace()).count())
        .sum();
    if inside * 2 < visible {
        return None;
    }
    Some((Value::Object(lits), true))
}

fn yaml(text: &str) -> Option<Value> {
    // Markdown and prose: YAML would read "Title: text" lines as a mapping of sentences.
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    if first.starts_with('|') || first.starts_with("---") && text.matches("\n---").count() > 1 {
        return None;
    }
    let v: serde_norway::Value = serde_norway::from_str(text).ok()?;
    let json = yaml_to_json(v, 0)?;
    // Keys of a data file are identifiers, not phrases: a Markdown list of "- v2.0 (fix): text"
    // lines also parses as YAML.
    let mut keys = Vec::new();
    collect_keys(&json, 0, &mut keys);
    let phrases = keys.iter().filter(|k| k.trim().contains(char::is_whitespace)).count();
    if keys.is_empty() || phrases * 5 > keys.len() {
        return None;
    }
    // Values of a data file are mostly short; a Markdown changelog's "- api: add x and y model
    // ids" items are sentences.
    let mut leaves = Vec::new();
    collect_strings(&json, 0, &mut leaves);
    let sentences = leaves.iter().filter(|v| v.split_whitespace().count() >= 6).count();
    if !leaves.is_empty() && sentences * 2 >= leaves.len() {
        return None;
    }
    // Markdown links in values, or Markdown headings (`## 2.8.0`) over items of several words:
    // release notes, not data.
    let headings = text
        .lines()
        .filter(|l| l.starts_with("##") && l.trim_start_matches('#').starts_with(' '))
        .count();
    if leaves.iter().any(|v| v.contains("]("))
        || headings >= 2 && leaves.iter().any(|v| v.split_whitespace().count() >= 4)
    {
        return None;
    }
    match &json {
        Value::Object(m) if m.len() >= 2 || m.values().any(|v| v.is_object() || v.is_array()) => {
            // Keys of a data file are identifiers, not phrases ("We may: ..." is a sentence).
            let phrase_keys = m.keys().filter(|k| k.trim().contains(' ')).count();
            (phrase_keys * 5 <= m.len()).then_some(json)
        }
        Value::Array(a) if a.iter().any(|v| v.is_object()) => Some(json),
        _ => None,
    }
}

/// The string values of the first levels of a value.
fn collect_strings(v: &Value, depth: usize, out: &mut Vec<String>) {
    if depth > 3 || out.len() > 200 {
        return;
    }
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Object(m) => m.values().for_each(|x| collect_strings(x, depth + 1, out)),
        Value::Array(a) => a.iter().take(50).for_each(|x| collect_strings(x, depth + 1, out)),
        _ => {}
    }
}

/// The keys of the first levels of a value.
fn collect_keys(v: &Value, depth: usize, out: &mut Vec<String>) {
    if depth > 2 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, inner) in m {
                out.push(k.clone());
                collect_keys(inner, depth + 1, out);
            }
        }
        Value::Array(a) => a.iter().take(50).for_each(|x| collect_keys(x, depth + 1, out)),
        _ => {}
    }
}

fn yaml_to_json(v: serde_norway::Value, depth: usize) -> Option<Value> {
    use serde_norway::Value as Y;
    if depth > 64 {
        return None;
    }
    Some(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(s) => Value::Array(s.into_iter().filter_map(|v| yaml_to_json(v, depth + 1)).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    _ => continue,
                };
                out.insert(key, yaml_to_json(v, depth + 1)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value, depth + 1)?,
    })
}

/// A scalar as the text a reader sees; `None` for null.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => {
            Some(crate::triage::numbers::parse_decimal(&n.to_string()).unwrap_or_else(|| n.to_string()))
        }
        Value::String(s) => Some(s.trim().to_owned()),
        _ => None,
    }
}

fn is_scalar(v: &Value) -> bool {
    !v.is_object() && !v.is_array()
}

/// Field names that identify a record, best first: an API id before a slug before a display name.
const ID_FIELDS: &[&str] = &[
    "apinames",
    "apiname",
    "apiid",
    "modelid",
    "model",
    "id",
    "identifier",
    "identifiers",
    "slug",
    "name",
    "key",
    "modelname",
    "displayname",
    "title",
];

fn norm_key(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

/// The ids a record names: the first id field holding an id (an API id over a display name), or
/// the slug of its name.
fn ids_of(o: &Map<String, Value>, depth: usize) -> Vec<String> {
    for want in ID_FIELDS {
        for (k, v) in o {
            if norm_key(k) != *want {
                continue;
            }
            let found: Vec<String> = match v {
                Value::String(s) if is_id_like(s) => vec![s.trim().to_owned()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|s| is_id_like(s))
                    .map(str::to_owned)
                    .collect(),
                Value::Object(inner) if depth == 0 => ids_of(inner, 1),
                _ => Vec::new(),
            };
            if !found.is_empty() {
                return found;
            }
        }
    }
    if depth == 0 {
        for want in ["name", "displayname", "title", "model", "id"] {
            if let Some(s) = o
                .iter()
                .find(|(k, _)| norm_key(k) == want)
                .and_then(|(_, v)| v.as_str())
                && let Some(s) = slug(s)
            {
                return vec![s];
            }
        }
    }
    Vec::new()
}

/// The field that keys a collection of objects: present as a scalar in (nearly) all of them and
/// unique.
fn key_field(items: &[&Map<String, Value>]) -> Option<String> {
    let mut names: Vec<&String> = items.iter().flat_map(|o| o.keys()).collect();
    names.sort();
    names.dedup();
    for want in ID_FIELDS {
        for name in names.iter().filter(|n| norm_key(n) == *want) {
            let vals: Vec<String> = items
                .iter()
                .filter_map(|o| o.get(name.as_str()).and_then(scalar_text))
                .collect();
            if vals.len() * 10 < items.len() * 8 || vals.is_empty() {
                continue;
            }
            let unique: BTreeSet<&String> = vals.iter().collect();
            if unique.len() == vals.len() {
                return Some((*name).clone());
            }
        }
    }
    None
}

/// A key that names a model: an id with a separator (`acme-1.3`, `org/model`), not a field name
/// that happens to carry a digit (`bf16`, `fp8`).
fn is_model_key(k: &str) -> bool {
    is_id_like(k) && k.len() >= 4 && k.contains(['-', '.', '/', ':'])
}

/// Keys that are mostly model ids, or values that are objects of one shape: a map used as a
/// collection.
/// Inside a record, only model-id keys make a collection (`shape` off): a record's sub-objects
/// of one shape (`prices: {input: {...}, output: {...}}`) are its fields.
fn is_collection_map(m: &Map<String, Value>, shape: bool) -> bool {
    if m.len() < 2 {
        return false;
    }
    let ids = m.keys().filter(|k| is_model_key(k)).count();
    let objects: Vec<&Map<String, Value>> = m.values().filter_map(Value::as_object).collect();
    let uniform = m.values().all(is_scalar) || objects.len() == m.len();
    if ids * 10 >= m.len() * 6 && uniform {
        return true;
    }
    // Objects sharing most of their fields, under any keys (three or more of them).
    if shape && objects.len() == m.len() && m.len() >= 3 {
        let mut shared: Option<BTreeSet<&String>> = None;
        for o in &objects {
            let ks: BTreeSet<&String> = o.keys().collect();
            shared = Some(match shared {
                None => ks,
                Some(s) => s.intersection(&ks).copied().collect(),
            });
        }
        let shared = shared.map(|s| s.len()).unwrap_or(0);
        let avg = objects.iter().map(|o| o.len()).sum::<usize>() / objects.len();
        return shared >= 2 && shared * 2 >= avg;
    }
    false
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_owned()
    } else {
        format!("{path}.{k}")
    }
}

/// Walks a value at `path`; `parent` are the ids of the record it belongs to.
fn walk(v: &Value, path: &str, parent: &[String], out: &mut Structure) {
    match v {
        Value::Array(a) => {
            let objects: Vec<&Map<String, Value>> = a.iter().filter_map(Value::as_object).collect();
            if !objects.is_empty() && objects.len() * 10 >= a.len() * 8 {
                let key = key_field(&objects);
                let scope = format!("{path}[]");
                for (i, o) in objects.iter().enumerate() {
                    let k = key
                        .as_ref()
                        .and_then(|f| o.get(f))
                        .and_then(scalar_text)
                        .unwrap_or_else(|| format!("#{}", i + 1));
                    record(o, &scope, k, parent, out);
                }
                return;
            }
            let strings: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
            let ids: Vec<String> = strings
                .iter()
                .filter(|s| is_id_like(s))
                .map(|s| s.trim().to_owned())
                .collect();
            if !ids.is_empty() && ids.len() * 2 >= a.len() && strings.len() == a.len() {
                out.lists.push(IdList {
                    scope: path.to_owned(),
                    ids,
                });
                return;
            }
            for (i, item) in a.iter().enumerate() {
                if !is_scalar(item) {
                    walk(item, &format!("{path}[{i}]"), parent, out);
                }
            }
        }
        Value::Object(m) if is_collection_map(m, true) => {
            let name = path.rsplit('.').next().unwrap_or(path).to_owned();
            for (k, item) in m {
                match item {
                    Value::Object(o) => record(o, path, k.clone(), parent, out),
                    other => {
                        let mut fields = Vec::new();
                        flatten(other, &name, &mut fields, &[], out);
                        out.records.push(Record {
                            scope: path.to_owned(),
                            heading: None,
                            key: k.to_lowercase(),
                            subjects: if is_id_like(k) {
                                vec![k.clone()]
                            } else {
                                slug(k).into_iter().collect()
                            },
                            inherited: false,
                            fields,
                            line: None,
                        });
                    }
                }
            }
        }
        Value::Object(m) => {
            let key = ids_of(m, 0).first().cloned().unwrap_or_else(|| path.to_owned());
            record(m, path, key, parent, out);
        }
        _ => {}
    }
}

/// One object as a record; the collections inside it are walked as records of their own.
fn record(o: &Map<String, Value>, scope: &str, key: String, parent: &[String], out: &mut Structure) {
    let mut subjects = ids_of(o, 0);
    if subjects.is_empty() && is_id_like(&key) {
        subjects.push(key.clone());
    }
    let inherited = subjects.is_empty() && !parent.is_empty();
    if inherited {
        subjects = parent.to_vec();
    }
    let mut fields = Vec::new();
    for (k, v) in o {
        flatten(v, k, &mut fields, &subjects, out);
    }
    if fields.is_empty() {
        return;
    }
    out.records.push(Record {
        scope: scope.to_owned(),
        heading: None,
        key: key.to_lowercase(),
        subjects,
        inherited,
        fields,
        line: None,
    });
}

/// The scalars under `v` as fields by dotted path. Arrays of scalars are one field (their items
/// joined); collections are walked as records of their own.
fn flatten(v: &Value, path: &str, fields: &mut Vec<(String, String)>, subjects: &[String], out: &mut Structure) {
    match v {
        Value::Object(m) if is_collection_map(m, false) => walk(v, path, subjects, out),
        Value::Object(m) => {
            for (k, inner) in m {
                flatten(inner, &join(path, k), fields, subjects, out);
            }
        }
        Value::Array(a) if a.iter().all(is_scalar) => {
            let items: Vec<String> = a.iter().filter_map(scalar_text).collect();
            // A list of model ids (`apiNames`, a provider's `models`) is also an id list, so
            // that an id joining or leaving it is a model added or removed.
            let ids: Vec<String> = items.iter().filter(|i| is_model_key(i)).cloned().collect();
            if ids.len() >= 2 && ids.len() * 2 >= items.len() {
                out.lists.push(IdList {
                    scope: format!("{}:{path}", subjects.first().map(String::as_str).unwrap_or("")),
                    ids,
                });
            }
            if !items.is_empty() {
                fields.push((path.to_owned(), items.join(", ")));
            }
        }
        Value::Array(a) => {
            let objects: Vec<&Map<String, Value>> = a.iter().filter_map(Value::as_object).collect();
            let key = key_field(&objects);
            // Objects with ids of their own are records of their own; others (price tiers,
            // matchers) are fields of this one, by position.
            let own_ids = key.as_deref().is_some_and(|k| {
                let ids = objects
                    .iter()
                    .filter(|o| o.get(k).and_then(Value::as_str).is_some_and(is_id_like))
                    .count();
                ids * 2 >= objects.len()
            });
            if own_ids && objects.len() == a.len() {
                walk(v, path, subjects, out);
                return;
            }
            for (i, item) in a.iter().enumerate() {
                let label = item
                    .as_object()
                    .and_then(|o| key.as_ref().and_then(|k| o.get(k)))
                    .and_then(scalar_text)
                    .unwrap_or_else(|| i.to_string());
                flatten(item, &format!("{path}[{label}]"), fields, subjects, out);
            }
        }
        other => {
            if let Some(s) = scalar_text(other) {
                fields.push((path.to_owned(), s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_yaml_price_file() {
        let y = "name: Acme\nid: acme\nmodels:\n  - id: acme-x-1\n    name: Acme X\n    prices_checked: 2025-01-01\n    prices:\n      input_mtok: 2\n      output_mtok:\n        base: 8\n        tiers:\n          - start: 200000\n            price: 12\n  - id: acme-y-1\n    deprecated: true\n    prices: {input_mtok: 1}\n";
        let s = parse(y).unwrap();
        let x = s.records.iter().find(|r| r.key == "acme-x-1").unwrap();
        assert_eq!(x.subjects, ["acme-x-1"]);
        assert_eq!(x.field("prices.input_mtok"), Some("2"));
        assert_eq!(x.field("prices.output_mtok.tiers[0].price"), Some("12"));
        let y = s.records.iter().find(|r| r.key == "acme-y-1").unwrap();
        assert_eq!(y.field("deprecated"), Some("true"));
        let top = s.records.iter().find(|r| r.key == "acme").unwrap();
        assert_eq!(top.field("name"), Some("Acme"));
    }

    #[test]
    fn a_json_map_of_models_and_a_list_of_ids() {
        let j = r#"{"acme-x-1": {"input_cost_per_token": 3e-06, "mode": "chat"}, "acme-y-2": {"input_cost_per_token": 1e-06, "deprecation_date": "2026-01-05"}}"#;
        let s = parse(j).unwrap();
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.records[0].field("input_cost_per_token"), Some("0.000003"));
        let j = r#"{"object": "list", "data": ["acme-x-1", "acme-y-2", "acme-z-3"]}"#;
        let s = parse(j).unwrap();
        assert_eq!(s.lists[0].ids, ["acme-x-1", "acme-y-2", "acme-z-3"]);
    }

    #[test]
    fn a_code_deprecation_table_and_model_card() {
        let py = "DEPRECATED_MODELS = {\n    \"acme-1\": \"June 1st, 2025\",\n    \"acme-2-mini\": \"January 5th, 2026\",\n}\n";
        let s = parse(py).unwrap();
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.records[1].subjects, ["acme-2-mini"]);
        assert_eq!(s.records[1].field("DEPRECATED_MODELS"), Some("January 5th, 2026"));
        let ts = "export default {\n  name: 'Acme Nemo',\n  slug: 'acme-nemo-12b',\n  status: 'Active',\n  identifiers: { apiNames: ['open-acme-nemo-2407', 'open-acme-nemo'] },\n  weights: [{ name: 'Base', url: 'https://x.test/a' }],\n  metadata: {},\n};\n";
        let s = parse(ts).unwrap();
        assert_eq!(s.records.len(), 1, "{:?}", s.records);
        assert_eq!(s.records[0].subjects, ["open-acme-nemo-2407", "open-acme-nemo"]);
        assert_eq!(s.records[0].field("weights[Base].url"), Some("https://x.test/a"));
    }

    #[test]
    fn prose_is_not_data() {
        assert!(parse("# Terms\n\nEffective date: 2024-01-01\n\nYou agree: to things.\n").is_none());
        assert!(parse("Title: A policy about things\nWe may: do this and that, at any time we like.\n").is_none());
    }
}
