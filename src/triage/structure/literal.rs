//! Data literals in source code: the object, array, dict, list and tuple literals of JavaScript,
//! TypeScript and Python files (a model card `export default { ... } as const`, an SDK's
//! `DEPRECATED_MODELS = { "x": "date" }`, a `Literal["a", "b"]` list of model ids), read into JSON
//! values so that they are diffed as records, not lines.
//!
//! No crate reads these: JSON5 parsers stop at the first TypeScript annotation (`as const
//! satisfies X`), an identifier value (`ModelStatus.Active`) or a Python `None`, and a language
//! parser per language would be three heavy dependencies for data literals. So this is a
//! tolerant reader: it tokenizes (strings in every quote style, numbers, identifiers, comments),
//! reads the literals it finds after an assignment (`name = {...}`, `name: Type = [...]`,
//! `export default {...}`), keeps identifiers as strings, reads `Name[...]` / `Name(...)` as the
//! list inside, and skips anything else up to the next `,` or closing bracket. It never fails:
//! what it cannot read, it leaves out. Depth and size are bounded, so hostile input costs little.

use serde_json::{Map, Value};

/// Nesting deeper than this is left out (a document that deep is not a data file).
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Num(String),
    Ident(String),
    Punct(char),
}

fn tokenize(src: &str) -> Vec<Tok> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // Comments: `//`, `/* */`, and `#` to the end of the line (Python; in JavaScript `#`
        // only starts private names, which never appear in data literals).
        if c == '/' && b.get(i + 1) == Some(&'/') || c == '#' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && b.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                i += 1;
            }
            i += 2;
            continue;
        }
        // Python string prefixes (r"", b'', f"") are part of the string, not identifiers.
        let prefixed = c.is_ascii_alphabetic()
            && matches!(c.to_ascii_lowercase(), 'r' | 'b' | 'f' | 'u')
            && matches!(b.get(i + 1), Some('"' | '\''))
            && (i == 0 || !is_ident_char(b[i - 1]));
        if matches!(c, '"' | '\'' | '`') || prefixed {
            if prefixed {
                i += 1;
            }
            let q = b[i];
            let triple = b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q) && q != '`';
            i += if triple { 3 } else { 1 };
            let mut s = String::new();
            while i < b.len() {
                if b[i] == '\\' && i + 1 < b.len() {
                    s.push(match b[i + 1] {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                    i += 2;
                    continue;
                }
                if b[i] == q && (!triple || (b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q))) {
                    i += if triple { 3 } else { 1 };
                    break;
                }
                // A one-line string that meets the end of its line was never closed: stop there
                // rather than swallow the rest of the file.
                if b[i] == '\n' && !triple && q != '`' {
                    break;
                }
                s.push(b[i]);
                i += 1;
            }
            out.push(Tok::Str(s));
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '.' || b[i] == '_') {
                // An exponent's sign belongs to the number.
                if matches!(b[i], 'e' | 'E') && matches!(b.get(i + 1), Some('+' | '-')) {
                    i += 1;
                }
                i += 1;
            }
            out.push(Tok::Num(b[start..i].iter().filter(|c| **c != '_').collect()));
            continue;
        }
        if is_ident_start(c) {
            let start = i;
            while i < b.len()
                && (is_ident_char(b[i]) || (b[i] == '.' && b.get(i + 1).is_some_and(|c| is_ident_start(*c))))
            {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
            continue;
        }
        out.push(Tok::Punct(c));
        i += 1;
    }
    out
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n)
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    /// Skips to the next `,` or closing bracket of the current level (type annotations such as
    /// `as const`, operators, calls we do not read), stepping over nested brackets.
    fn skip_rest_of_value(&mut self) {
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            match t {
                Tok::Punct('{' | '[' | '(') => depth += 1,
                Tok::Punct('}' | ']' | ')') if depth == 0 => return,
                Tok::Punct('}' | ']' | ')') => depth -= 1,
                Tok::Punct(',' | ';') if depth == 0 => return,
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// A value at the cursor, or `None` when there is none to read.
    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            self.skip_rest_of_value();
            return None;
        }
        let v = match self.peek()?.clone() {
            Tok::Punct('{') => {
                self.pos += 1;
                self.object(depth)
            }
            Tok::Punct('[') => {
                self.pos += 1;
                Value::Array(self.list(']', depth))
            }
            Tok::Punct('(') => {
                self.pos += 1;
                Value::Array(self.list(')', depth))
            }
            Tok::Punct('-') if matches!(self.peek_at(1), Some(Tok::Num(_))) => {
                self.pos += 1;
                let Some(Tok::Num(n)) = self.peek().cloned() else {
                    return None;
                };
                self.pos += 1;
                number(&format!("-{n}"))
            }
            Tok::Str(s) => {
                self.pos += 1;
                // Adjacent literals and `+` concatenation read as one string.
                let mut s = s;
                loop {
                    match (self.peek(), self.peek_at(1)) {
                        (Some(Tok::Str(t)), _) => {
                            s.push_str(&t.clone());
                            self.pos += 1;
                        }
                        (Some(Tok::Punct('+')), Some(Tok::Str(t))) => {
                            s.push_str(&t.clone());
                            self.pos += 2;
                        }
                        _ => break,
                    }
                }
                Value::String(s)
            }
            Tok::Num(n) => {
                self.pos += 1;
                number(&n)
            }
            Tok::Ident(id) => {
                self.pos += 1;
                match id.as_str() {
                    "true" | "True" => Value::Bool(true),
                    "false" | "False" => Value::Bool(false),
                    "null" | "None" | "undefined" | "nil" => Value::Null,
                    "new" => return self.value(depth),
                    _ => match self.peek() {
                        // `Literal[...]`, `Union[...]`, `dict(...)`, `frozenset({...})`: the
                        // list inside is the value.
                        Some(Tok::Punct('[' | '(')) => {
                            let close = if self.is_punct('[') { ']' } else { ')' };
                            self.pos += 1;
                            let items = self.list(close, depth);
                            match <[Value; 1]>::try_from(items) {
                                Ok([one]) if one.is_object() || one.is_array() => one,
                                Ok([one]) => Value::Array(vec![one]),
                                Err(items) => Value::Array(items),
                            }
                        }
                        _ => Value::String(id),
                    },
                }
            }
            _ => return None,
        };
        Some(v)
    }

    /// The entries of `{ ... }` after its `{`. Keys are strings, identifiers or numbers; a
    /// brace of bare values (`{"a", "b"}`, a Python set) reads as a list.
    fn object(&mut self, depth: usize) -> Value {
        let mut map = Map::new();
        let mut set = Vec::new();
        loop {
            match self.peek() {
                None => break,
                Some(Tok::Punct('}')) => {
                    self.pos += 1;
                    break;
                }
                Some(Tok::Punct(',' | ';')) => {
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            let start = self.pos;
            let key = match self.peek().cloned() {
                Some(Tok::Str(s) | Tok::Ident(s) | Tok::Num(s)) => Some(s),
                _ => None,
            };
            if let Some(key) = key
                && matches!(self.peek_at(1), Some(Tok::Punct(':' | '=')))
            {
                self.pos += 2;
                match self.value(depth + 1) {
                    Some(v) => {
                        map.insert(key, v);
                    }
                    None => self.skip_rest_of_value(),
                }
            } else if let Some(v) = self.value(depth + 1) {
                set.push(v);
            }
            self.skip_rest_of_value();
            if self.pos == start {
                // Nothing consumed (a stray closing bracket of another kind): step over it.
                self.pos += 1;
            }
        }
        if map.is_empty() && !set.is_empty() {
            Value::Array(set)
        } else {
            Value::Object(map)
        }
    }

    /// The items of a list up to `close`.
    fn list(&mut self, close: char, depth: usize) -> Vec<Value> {
        let mut items = Vec::new();
        loop {
            match self.peek() {
                None => break,
                Some(Tok::Punct(c)) if *c == close => {
                    self.pos += 1;
                    break;
                }
                Some(Tok::Punct(',')) => {
                    self.pos += 1;
                    continue;
                }
                Some(Tok::Punct('}' | ']' | ')')) => {
                    // A mismatched closing bracket ends this list too.
                    self.pos += 1;
                    break;
                }
                _ => {}
            }
            let start = self.pos;
            // Keyword arguments (`dict(a=1)`) are entries, not values.
            if matches!(self.peek(), Some(Tok::Ident(_))) && self.peek_at(1) == Some(&Tok::Punct('=')) {
                self.pos += 2;
            }
            if let Some(v) = self.value(depth + 1) {
                items.push(v);
            }
            self.skip_rest_of_value();
            if self.pos == start {
                self.pos += 1;
            }
        }
        items
    }
}

fn number(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::from(i);
    }
    match n.parse::<f64>() {
        Ok(f) if f.is_finite() => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        // Hex, octal and the like: kept as written.
        _ => Value::String(n.to_owned()),
    }
}

/// The data literals assigned at the top level of a source file, by the name they are assigned
/// to (`export default` is `default`); `None` when the file has none.
pub fn read(src: &str) -> Option<Map<String, Value>> {
    let mut p = Parser {
        toks: tokenize(src),
        pos: 0,
    };
    let mut out = Map::new();
    let mut depth = 0usize;
    while let Some(t) = p.peek().cloned() {
        // `type Model = 'a' | 'b' | (string & {})`: a TypeScript union of string literals.
        if depth == 0
            && matches!(t, Tok::Str(_) | Tok::Punct('|'))
            && let Some(name) = assignment_name(&p.toks, p.pos)
        {
            let mut items = Vec::new();
            while let Some(tok) = p.peek().cloned() {
                match tok {
                    Tok::Str(s) => items.push(Value::String(s)),
                    Tok::Punct('|') => {}
                    _ => break,
                }
                p.pos += 1;
            }
            if items.len() >= 2 {
                out.insert(name, Value::Array(items));
            }
            continue;
        }
        let named = match (&t, depth) {
            (Tok::Punct('{' | '['), 0) => assignment_name(&p.toks, p.pos),
            (Tok::Ident(_), 0) if matches!(p.peek_at(1), Some(Tok::Punct('[' | '('))) => {
                // `Name = Union[...]`: a call or generic right after an assignment.
                assignment_name(&p.toks, p.pos).filter(|_| p.pos > 0)
            }
            _ => None,
        };
        match named {
            Some(name) => {
                if let Some(v) = p.value(0) {
                    let mut key = name.clone();
                    let mut n = 2;
                    while out.contains_key(&key) {
                        key = format!("{name}#{n}");
                        n += 1;
                    }
                    out.insert(key, v);
                }
            }
            None => {
                match t {
                    Tok::Punct('{' | '[' | '(') => depth += 1,
                    Tok::Punct('}' | ']' | ')') => depth = depth.saturating_sub(1),
                    _ => {}
                }
                p.pos += 1;
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The name a literal at `at` is assigned to: `name = {`, `name: Type = {`, `export default {`,
/// `module.exports = {`; the whole document when it starts with the literal (`"document"`).
fn assignment_name(toks: &[Tok], at: usize) -> Option<String> {
    if at == 0 {
        return Some("document".into());
    }
    match toks.get(at - 1)? {
        Tok::Ident(d) if d == "default" => Some("default".into()),
        Tok::Punct('=') => {
            let ident = |i: usize| match toks.get(i) {
                Some(Tok::Ident(s)) => Some(s.clone()),
                _ => None,
            };
            let before = at.checked_sub(2)?;
            // `name: Type = ...`, `name: Model[] = ...`, `name: Dict[str, Model] = ...`: walk back
            // over the annotation to the colon; the name is before it.
            let mut i = before;
            let mut depth = 0usize;
            for _ in 0..24 {
                match &toks[i] {
                    Tok::Punct(']' | '>' | ')') => depth += 1,
                    Tok::Punct('[' | '<' | '(') => depth = depth.saturating_sub(1),
                    Tok::Punct(':') if depth == 0 => return i.checked_sub(1).and_then(ident),
                    Tok::Ident(_) | Tok::Punct(',' | '.' | '|' | '&' | '?') => {}
                    _ => break,
                }
                if i == 0 {
                    break;
                }
                i -= 1;
            }
            ident(before)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_typescript_model_card() {
        let src = "import { StaticModel } from '../schema';\nexport default {\n  name: 'Acme Large',\n  slug: 'acme-large-24-11', // the page\n  status: ModelStatus.Active,\n  price: 0.15,\n  identifiers: { apiNames: ['acme-large-2411', 'acme-large-latest'] },\n  metadata: {deprecationDate: '2026-05-22', replacement: `Acme 3`},\n  legacy: false,\n  paperlink: null,\n} as const satisfies StaticModel;\n";
        let m = read(src).unwrap();
        assert_eq!(
            m["default"],
            json!({"name": "Acme Large", "slug": "acme-large-24-11", "status": "ModelStatus.Active", "price": 0.15,
                "identifiers": {"apiNames": ["acme-large-2411", "acme-large-latest"]},
                "metadata": {"deprecationDate": "2026-05-22", "replacement": "Acme 3"}, "legacy": false, "paperlink": null})
        );
        assert_eq!(m.len(), 1, "the import's braces are not data: {m:?}");
    }

    #[test]
    fn python_dicts_lists_and_literal_types() {
        let src = "# generated\nfrom typing import Union\n__all__ = [\"Model\"]\nModel: TypeAlias = Union[\n    Literal[\n        \"acme-2\",\n        'acme-1',  # old\n    ],\n    str,\n]\nDEPRECATED = {\n    \"acme-0\": \"June 1st, 2025\",\n    'x': None,\n}\n";
        let m = read(src).unwrap();
        assert_eq!(m["__all__"], json!(["Model"]));
        assert_eq!(m["Model"], json!([["acme-2", "acme-1"], "str"]));
        assert_eq!(m["DEPRECATED"], json!({"acme-0": "June 1st, 2025", "x": null}));
    }

    #[test]
    fn annotated_assignments() {
        let m = read("export const models: Model[] = [{ id: 'acme-1', inputPrice: 2 }];\nconst prices: Record<string, number> = { 'acme-1': 2 };\n").unwrap();
        assert_eq!(m["models"], json!([{"id": "acme-1", "inputPrice": 2}]));
        assert_eq!(m["prices"], json!({"acme-1": 2}));
    }

    #[test]
    fn a_typescript_union_of_ids() {
        let src =
            "export type ChatModel =\n  | 'acme-2'\n  | 'acme-1-mini'\n  | (string & {});\nexport const x = 'one';\n";
        let m = read(src).unwrap();
        assert_eq!(m["ChatModel"], json!(["acme-2", "acme-1-mini"]));
        assert!(!m.contains_key("x"));
    }

    #[test]
    fn hostile_input_ends() {
        for src in [
            "x = {{{{{{{",
            "x = [1, 2",
            "x = {'a': ",
            "x = '''",
            "]]]}}} = {",
            "x = {a:[}]}",
            "",
        ] {
            let _ = read(src);
        }
        let deep = format!("x = {}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(read(&deep).is_some());
    }
}
