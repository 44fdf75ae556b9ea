use std::path::Path;

use serde_json::json;

use super::*;
use crate::flags::model::FailMode;

const GOOD_YAML: &str = include_str!("testdata/good.yaml");
const GOOD_JSON: &str = include_str!("testdata/good.json");
const BROKEN_YAML: &str = include_str!("testdata/broken.yaml");

fn parse(name: &str, text: &str) -> (BTreeMap<String, FlagDef>, Vec<Problem>) {
    let (defs, problems) = parse_file(Path::new(name), text);
    (defs.into_iter().map(|d| (d.key.clone(), d)).collect(), problems)
}

#[test]
fn good_yaml_loads_with_refs_expanded_and_signalbox_metadata() {
    let (flags, problems) = parse("good.yaml", GOOD_YAML);
    assert_eq!(problems, vec![]);
    assert_eq!(flags.keys().collect::<Vec<_>>(), ["cap.summaries", "route.chat"]);

    let route = &flags["route.chat"];
    assert_eq!(route.state, FlagState::Enabled);
    assert_eq!(route.default_variant.as_deref(), Some("primary"));
    assert_eq!(
        route.variants.keys().collect::<Vec<_>>(),
        ["failover", "off", "primary"]
    );
    assert_eq!(route.variants["off"]["enabled"], json!(false));
    assert_eq!(
        route.targeting,
        Some(json!({"if": [{"in": ["@example.com", {"var": "email"}]}, "failover", null]}))
    );
    assert_eq!(route.owner(), Some("platform"));
    assert_eq!(
        route.providers().collect::<Vec<_>>(),
        ["anthropic/claude-sonnet-4", "openai/gpt-4.1"]
    );
    assert_eq!(route.approvals(), 2);
    assert_eq!(route.fail_mode(), Some(FailMode::Open));
    assert!(!route.client_visible());
    assert_eq!(route.file, Path::new("good.yaml"));

    // Quoted "on"/"off" stay strings; the kill-switch convention relies on it.
    let cap = &flags["cap.summaries"];
    assert_eq!(cap.variants["on"], json!(true));
    assert_eq!(cap.targeting, None);
    assert_eq!(cap.approvals(), crate::flags::DEFAULT_APPROVALS);
}

#[test]
fn good_json_loads_null_default_disabled_and_empty_targeting() {
    let (flags, problems) = parse("good.json", GOOD_JSON);
    assert_eq!(problems, vec![]);
    assert_eq!(flags["banner.text"].default_variant, None);
    assert!(flags["banner.text"].targeting.is_some());
    let retry = &flags["retry.budget"];
    assert_eq!(retry.state, FlagState::Disabled);
    assert_eq!(retry.targeting, None, "`{{}}` means no targeting");
    assert_eq!(
        retry.variants["high"],
        json!(2.5),
        "ints and floats are one kind: number"
    );
}

#[test]
fn broken_file_reports_every_problem_with_path_and_line() {
    let (flags, problems) = parse("broken.yaml", BROKEN_YAML);
    assert_eq!(
        flags.keys().collect::<Vec<_>>(),
        ["fine"],
        "valid flags are still returned"
    );
    let got: Vec<(String, Option<usize>, String)> = problems
        .iter()
        .map(|p| (p.path.clone(), p.line, p.message.clone()))
        .collect();
    let expect = [
        (
            "flags.bad.default.defaultVariant",
            4,
            "unknown variant `c` (variants: a, b)",
        ),
        (
            "flags.bad.key.defualtVariant",
            19,
            "unknown key (allowed: state, variants, defaultVariant, targeting, metadata)",
        ),
        (
            "flags.bad.logic.targeting",
            11,
            "unknown JsonLogic operator `frobnicate`",
        ),
        ("flags.bad.meta.metadata.approvals", 26, "must be an integer ≥ 1"),
        (
            "flags.bad.meta.metadata.failMode",
            26,
            "must be \"open\" or \"closed\", found \"sideways\"",
        ),
        (
            "flags.bad.meta.metadata.nested",
            26,
            "metadata values must be strings, numbers or booleans (OFREP metadata is flat)",
        ),
        (
            "flags.bad.meta.metadata.providers",
            26,
            "must be an array of provider/model ids (strings)",
        ),
        (
            "flags.bad.mixed.variants",
            8,
            "all variants must have the same type, found bool (a) and string (b)",
        ),
        ("flags.bad.ref.targeting", 15, "$ref to unknown evaluator `missing`"),
        (
            "flags.bad.state.state",
            23,
            "invalid state \"enabled\" (expected ENABLED or DISABLED)",
        ),
        ("flags.no.variants.variants", 30, "a flag needs at least one variant"),
    ];
    let expect: Vec<(String, Option<usize>, String)> = expect
        .iter()
        .map(|(p, l, m)| (p.to_string(), Some(*l), m.to_string()))
        .collect();
    assert_eq!(got, expect);
    assert_eq!(
        problems[0].to_string(),
        "broken.yaml:4: flags.bad.default.defaultVariant: unknown variant `c` (variants: a, b)"
    );
}

#[test]
fn syntax_errors_carry_a_line() {
    let (_, problems) = parse("x.yaml", "flags:\n  a:\n    state: ENABLED\n   variants: [\n");
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.starts_with("invalid YAML"), "{}", problems[0]);
    assert!(problems[0].line.is_some());

    let (_, problems) = parse("x.json", "{\n  \"flags\": {\n    \"a\": { \"state\": }\n  }\n}\n");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, Some(3));
    assert!(
        problems[0].to_string().starts_with("x.json:3: invalid JSON"),
        "{}",
        problems[0]
    );
}

#[test]
fn file_level_problems() {
    let (_, problems) = parse("x.yaml", "flagz: {}\n");
    let got: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "x.yaml: flagz: unknown top-level key (allowed: flags, $evaluators, $schema, metadata)",
            "x.yaml: flags: missing `flags`"
        ]
    );
    let (_, problems) = parse("x.yaml", "- 1\n");
    assert_eq!(problems[0].message, "a flag file must be a map with a `flags` key");
}

#[test]
fn ref_cycles_and_nested_refs() {
    let text = r#"{
      "$evaluators": {
        "a": {"$ref": "b"}, "b": {"$ref": "a"},
        "inner": {"==": [{"var": "tier"}, "gold"]},
        "outer": {"and": [{"$ref": "inner"}, true]}
      },
      "flags": {
        "cyclic": {"state": "ENABLED", "variants": {"x": 1}, "targeting": {"$ref": "a"}},
        "nested": {"state": "ENABLED", "variants": {"x": 1}, "targeting": {"if": [{"$ref": "outer"}, "x", null]}}
      }
    }"#;
    let (flags, problems) = parse("r.json", text);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "flags.cyclic.targeting");
    assert_eq!(problems[0].message, "$ref cycle through evaluator `a`");
    assert_eq!(
        flags["nested"].targeting,
        Some(json!({"if": [{"and": [{"==": [{"var": "tier"}, "gold"]}, true]}, "x", null]}))
    );
}

#[test]
fn yaml_boolean_keys_become_variant_names() {
    let text =
        "flags:\n  f:\n    state: ENABLED\n    variants:\n      true: 1\n      false: 0\n    defaultVariant: 'false'\n";
    let (flags, problems) = parse("b.yaml", text);
    assert_eq!(problems, vec![]);
    assert_eq!(flags["f"].variants.keys().collect::<Vec<_>>(), ["false", "true"]);
}

#[test]
fn load_dir_picks_flag_files_in_order_and_rejects_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
    let flag = |key: &str| format!("flags:\n  {key}:\n    state: ENABLED\n    variants: {{a: 1}}\n");
    write("b.yaml", &flag("shared"));
    write(
        "a.json",
        r#"{"flags": {"shared": {"state": "ENABLED", "variants": {"a": 1}}}}"#,
    );
    write("c.yml", &flag("only.c"));
    // None of these are read: they would be broken or duplicates if they were.
    for ignored in [".hidden.yaml", "#b.yaml#", "b.yaml~", "notes.txt"] {
        write(ignored, "not: [valid");
    }

    let errors = load_dir(dir.path()).expect_err("duplicate key");
    assert_eq!(errors.0.len(), 1);
    let p = &errors.0[0];
    assert_eq!(p.file, dir.path().join("b.yaml"));
    assert_eq!(p.path, "flags.shared");
    assert_eq!(p.line, Some(2));
    assert_eq!(
        p.message,
        format!(
            "duplicate flag key `shared`, already defined in {}",
            dir.path().join("a.json").display()
        )
    );
    assert!(
        errors.to_string().starts_with("1 problem(s) in flag definitions:\n  "),
        "{errors}"
    );

    std::fs::remove_file(dir.path().join("b.yaml")).expect("rm");
    let set = load_dir(dir.path()).expect("loads");
    assert_eq!(set.flags.keys().collect::<Vec<_>>(), ["only.c", "shared"]);
}

#[test]
fn flagd_json_round_trips() {
    let (flags, _) = parse("good.yaml", GOOD_YAML);
    let set = FlagSet { flags };
    let text = set.to_flagd_json().to_string();
    let (again, problems) = parse("again.json", &text);
    assert_eq!(problems, vec![]);
    for (key, def) in &set.flags {
        let other = &again[key];
        assert_eq!(
            (&def.variants, &def.default_variant, &def.targeting),
            (&other.variants, &other.default_variant, &other.targeting)
        );
        assert_eq!(def.metadata, other.metadata);
    }
}

#[test]
fn unquoted_on_off_are_variant_names_not_booleans() {
    let text = "flags:\n  cap.x:\n    state: ENABLED\n    variants: {on: true, off: false}\n    defaultVariant: on\n";
    let (flags, problems) = parse("o.yaml", text);
    assert_eq!(problems, vec![]);
    assert_eq!(flags["cap.x"].variants.keys().collect::<Vec<_>>(), ["off", "on"]);
    assert_eq!(flags["cap.x"].variants["off"], json!(false));
}
