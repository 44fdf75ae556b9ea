//! Evaluation semantics, checked result for result against flagd's.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Map, Value, json};

use super::*;

const FLAGS: &str = r#"
$evaluators:
  is_staff: { ends_with: [{ var: email }, "@example.com"] }
flags:
  static.flag:
    state: ENABLED
    variants: { a: "A", b: "B" }
    defaultVariant: a
    metadata: { owner: platform, providers: [anthropic/claude-sonnet-4], approvals: 3 }
  disabled.flag:
    state: DISABLED
    variants: { a: "A" }
    defaultVariant: a
  nodefault.flag:
    state: ENABLED
    variants: { a: 1 }
  email.flag:
    state: ENABLED
    variants: { beta: "beta", stable: "stable" }
    defaultVariant: stable
    targeting:
      if:
        - in: [{ var: email }, ["alice@x.com", "bob@x.com"]]
        - beta
        - null
  affix.flag:
    state: ENABLED
    variants: { prefixed: 1, suffixed: 2 }
    targeting:
      if:
        - starts_with: [{ var: name }, "sig"]
        - prefixed
        - ends_with: [{ var: name }, "box"]
        - suffixed
        - null
  starts.flag:
    state: ENABLED
    variants: { "true": yes, "false": no, fallback: fallback }
    defaultVariant: fallback
    targeting: { starts_with: [{ var: name }, "sig"] }
  semver.flag:
    state: ENABLED
    variants: { new: true, old: false }
    defaultVariant: old
    targeting: { if: [{ sem_ver: [{ var: version }, ">=", "1.2.0"] }, new, old] }
  split.flag:
    state: ENABLED
    variants: { red: "red!", blue: "blue!" }
    defaultVariant: red
    targeting: { fractional: [[red, 50], [blue, 50]] }
  split3.flag:
    state: ENABLED
    variants: { a: 1, b: 2, c: 3 }
    targeting: { fractional: [[a, 10], [b, 30], [c, 60]] }
  split.email:
    state: ENABLED
    variants: { a: 1, b: 2 }
    targeting: { fractional: [{ cat: [{ var: $flagd.flagKey }, { var: email }] }, [a, 25], [b, 75]] }
  flagkey.flag:
    state: ENABLED
    variants: { "yes": true, "no": false }
    targeting: { if: [{ "==": [{ var: $flagd.flagKey }, flagkey.flag] }, "yes", "no"] }
  timestamp.flag:
    state: ENABLED
    variants: { "yes": true, "no": false }
    targeting: { if: [{ ">": [{ var: $flagd.timestamp }, 1700000000] }, "yes", "no"] }
  ref.flag:
    state: ENABLED
    variants: { staff: "staff", public: "public" }
    defaultVariant: public
    targeting: { if: [{ $ref: is_staff }, staff, null] }
  bool.flag:
    state: ENABLED
    variants: { "true": "enabled", "false": "disabled" }
    targeting: { "==": [{ var: plan }, pro] }
  unknown.flag:
    state: ENABLED
    variants: { a: 1 }
    defaultVariant: a
    targeting: { if: [true, nope, a] }
  error.flag:
    state: ENABLED
    variants: { a: 1 }
    defaultVariant: a
    targeting: { if: [{ ">": [{ "+": [{ var: n }, 1] }, 2] }, a, null] }
"#;

const REVISION: u64 = 7;

fn flag_set() -> FlagSet {
    let (defs, problems) = parse_file(Path::new("eval.yaml"), FLAGS);
    assert_eq!(problems, vec![], "test flags must be valid");
    FlagSet {
        flags: defs.into_iter().map(|d| (d.key.clone(), d)).collect(),
    }
}

fn snapshot() -> Snapshot {
    Snapshot::build(&flag_set(), &HashMap::new(), REVISION).expect("builds")
}

fn ctx(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// (variant, reason, value) of one evaluation, for compact assertions.
fn eval(snap: &Snapshot, key: &str, context: Value) -> (Option<String>, Reason, Option<Value>) {
    let e = snap
        .evaluate(key, &ctx(context))
        .unwrap_or_else(|err| panic!("{key}: {err}"));
    (e.variant.map(str::to_owned), e.reason, e.value.cloned())
}

fn variant(snap: &Snapshot, key: &str, context: Value) -> Option<String> {
    eval(snap, key, context).0
}

#[test]
fn snapshot_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Snapshot>();
}

#[test]
fn static_disabled_and_no_default() {
    let snap = snapshot();
    assert_eq!(
        eval(&snap, "static.flag", json!({})),
        (Some("a".into()), Reason::Static, Some(json!("A")))
    );
    assert_eq!(eval(&snap, "disabled.flag", json!({})), (None, Reason::Disabled, None));
    assert_eq!(eval(&snap, "nodefault.flag", json!({})), (None, Reason::Default, None));
    let err = snap.evaluate("missing.flag", &Map::new()).expect_err("not found");
    assert_eq!(
        (err.code(), err.to_string()),
        ("FLAG_NOT_FOUND", "flag `missing.flag` not found".to_owned())
    );
}

#[test]
fn evaluation_serializes_as_ofrep_body_with_flat_metadata() {
    let snap = snapshot();
    let e = snap.evaluate("static.flag", &Map::new()).expect("evaluates");
    assert_eq!(
        serde_json::to_value(e).expect("serializes"),
        json!({"key": "static.flag", "value": "A", "variant": "a", "reason": "STATIC",
               "metadata": {"owner": "platform", "approvals": 3, "revision": 7}}),
        "providers is an array and stays server-side"
    );
    let e = snap.evaluate("disabled.flag", &Map::new()).expect("evaluates");
    assert_eq!(
        serde_json::to_value(e).expect("serializes"),
        json!({"key": "disabled.flag", "variant": null, "reason": "DISABLED", "metadata": {"revision": 7}}),
        "no value (use the code default); the variant is null, not missing, for the Python provider"
    );
}

#[test]
fn targeting_match_and_fallthrough_to_default() {
    let snap = snapshot();
    let beta = (Some("beta".into()), Reason::TargetingMatch, Some(json!("beta")));
    assert_eq!(eval(&snap, "email.flag", json!({"email": "bob@x.com"})), beta);
    let stable = (Some("stable".into()), Reason::Default, Some(json!("stable")));
    assert_eq!(eval(&snap, "email.flag", json!({"email": "carol@x.com"})), stable);
    assert_eq!(eval(&snap, "email.flag", json!({})), stable);
}

#[test]
fn starts_with_and_ends_with_return_null_for_non_strings() {
    let snap = snapshot();
    assert_eq!(
        variant(&snap, "affix.flag", json!({"name": "signalbox"})),
        Some("prefixed".into())
    );
    assert_eq!(
        variant(&snap, "affix.flag", json!({"name": "toolbox"})),
        Some("suffixed".into())
    );
    assert_eq!(
        eval(&snap, "affix.flag", json!({"name": 42})),
        (None, Reason::Default, None)
    );
    // The operator's own result: true/false for strings name variants, null falls to the default.
    assert_eq!(
        variant(&snap, "starts.flag", json!({"name": "signal"})),
        Some("true".into())
    );
    assert_eq!(
        variant(&snap, "starts.flag", json!({"name": "other"})),
        Some("false".into())
    );
    assert_eq!(eval(&snap, "starts.flag", json!({"name": ["sig"]})).1, Reason::Default);
    assert_eq!(
        eval(&snap, "starts.flag", json!({})),
        (Some("fallback".into()), Reason::Default, Some(json!("fallback")))
    );
}

#[test]
fn sem_ver_normalises_like_flagd() {
    let snap = snapshot();
    for (version, expect) in [
        ("1.10.0", "new"),
        ("1.2", "new"),
        ("v1.3.0", "new"),
        ("1.1.9", "old"),
        ("1.2.0-rc.1", "old"),
    ] {
        assert_eq!(
            variant(&snap, "semver.flag", json!({"version": version})).as_deref(),
            Some(expect),
            "{version}"
        );
    }
    // Not a version: sem_ver is null, `if` takes the else branch.
    assert_eq!(
        variant(&snap, "semver.flag", json!({"version": "banana"})).as_deref(),
        Some("old")
    );
}

#[test]
fn flagd_properties_are_visible_and_cannot_be_spoofed() {
    let snap = snapshot();
    assert_eq!(variant(&snap, "flagkey.flag", json!({})).as_deref(), Some("yes"));
    let spoof = json!({"$flagd": {"flagKey": "other", "timestamp": 0}});
    assert_eq!(variant(&snap, "flagkey.flag", spoof.clone()).as_deref(), Some("yes"));
    assert_eq!(variant(&snap, "timestamp.flag", spoof).as_deref(), Some("yes"));
}

#[test]
fn evaluator_refs_are_expanded() {
    let snap = snapshot();
    assert_eq!(
        variant(&snap, "ref.flag", json!({"email": "eve@example.com"})).as_deref(),
        Some("staff")
    );
    assert_eq!(
        eval(&snap, "ref.flag", json!({"email": "eve@else.com"})).1,
        Reason::Default
    );
}

#[test]
fn boolean_result_names_true_and_false_variants() {
    let snap = snapshot();
    let pro = (Some("true".into()), Reason::TargetingMatch, Some(json!("enabled")));
    assert_eq!(eval(&snap, "bool.flag", json!({"plan": "pro"})), pro);
    assert_eq!(
        variant(&snap, "bool.flag", json!({"plan": "free"})).as_deref(),
        Some("false")
    );
}

#[test]
fn unknown_variant_and_rule_errors_are_errors() {
    let snap = snapshot();
    let err = snap.evaluate("unknown.flag", &Map::new()).expect_err("unknown variant");
    assert_eq!(
        err,
        EvalError::Targeting("variant `nope` not found in flag `unknown.flag`".into())
    );
    assert_eq!(err.code(), "PARSE_ERROR");
    let err = snap
        .evaluate("error.flag", &ctx(json!({"n": "abc"})))
        .expect_err("NaN arithmetic");
    assert_eq!(err.code(), "PARSE_ERROR");
    assert_eq!(variant(&snap, "error.flag", json!({"n": 5})).as_deref(), Some("a"));
}

#[test]
fn fractional_is_sticky_and_even() {
    let snap = snapshot();
    let first = variant(&snap, "split.flag", json!({"targetingKey": "user-42"}));
    for _ in 0..1_000 {
        assert_eq!(variant(&snap, "split.flag", json!({"targetingKey": "user-42"})), first);
    }
    assert_eq!(
        eval(&snap, "split.flag", json!({"targetingKey": "user-42"})).1,
        Reason::TargetingMatch
    );

    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for i in 0..10_000 {
        let v = variant(&snap, "split.flag", json!({"targetingKey": format!("user-{i}")})).expect("a variant");
        *counts.entry(v).or_default() += 1;
    }
    for (v, n) in &counts {
        assert!((4_750..=5_250).contains(n), "{v}: {n} of 10000 ({counts:?})");
    }
    // No targeting key and no explicit bucketing value: flagd's fractional yields null → default.
    assert_eq!(eval(&snap, "split.flag", json!({})).1, Reason::Default);
}

/// MurmurHash3 x86_32, written from the reference algorithm, independently of datalogic-rs.
fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    let (c1, c2) = (0xcc9e_2d51_u32, 0x1b87_3593_u32);
    let mix = |k: u32| k.wrapping_mul(c1).rotate_left(15).wrapping_mul(c2);
    let mut h = seed;
    let mut blocks = data.chunks_exact(4);
    for b in &mut blocks {
        h ^= mix(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        h ^= mix(tail.iter().rev().fold(0u32, |k, &b| (k << 8) | u32::from(b)));
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// flagd's bucketing (flagd PR #1909, "high-precision fractional"): `(hash * totalWeight) >> 32` over
/// the cumulative weights.
fn flagd_bucket<'v>(bucket_key: &str, weights: &[(&'v str, u64)]) -> &'v str {
    let total: u64 = weights.iter().map(|w| w.1).sum();
    let bucket = (u64::from(murmur3_32(bucket_key.as_bytes(), 0)) * total) >> 32;
    let mut end = 0;
    for (variant, weight) in weights {
        end += weight;
        if bucket < end {
            return variant;
        }
    }
    unreachable!("bucket < total")
}

#[test]
fn fractional_buckets_match_flagds_algorithm() {
    assert_eq!(murmur3_32(b"hello", 0), 0x248b_fa47, "SMHasher reference vector");
    assert_eq!(
        murmur3_32(b"The quick brown fox jumps over the lazy dog", 0),
        0x2e4f_f723
    );
    let snap = snapshot();
    for i in 0..2_000 {
        let user = format!("user-{i}");
        let got = variant(&snap, "split.flag", json!({"targetingKey": user}));
        let want = flagd_bucket(&format!("split.flag{user}"), &[("red", 50), ("blue", 50)]);
        assert_eq!(got.as_deref(), Some(want), "{user}");

        let got = variant(&snap, "split3.flag", json!({"targetingKey": user}));
        let want = flagd_bucket(&format!("split3.flag{user}"), &[("a", 10), ("b", 30), ("c", 60)]);
        assert_eq!(got.as_deref(), Some(want), "{user}");

        let email = format!("{user}@example.com");
        let got = variant(&snap, "split.email", json!({"email": email}));
        let want = flagd_bucket(&format!("split.email{email}"), &[("a", 25), ("b", 75)]);
        assert_eq!(got.as_deref(), Some(want), "{email}");
    }
}

#[test]
fn overrides_serve_their_variant_with_decision_metadata() {
    let set = flag_set();
    let mut metadata = BTreeMap::new();
    metadata.insert("decisionId".to_owned(), MetaValue::from("dec-1"));
    metadata.insert("approvedBy".to_owned(), MetaValue::from("alice,bob"));
    let over = Override {
        variant: "failover-ish".into(),
        metadata,
    };
    let mut overrides = HashMap::from([("email.flag".to_owned(), over.clone())]);

    let errors = Snapshot::build(&set, &overrides, 8).expect_err("unknown variant");
    assert_eq!(
        errors.0.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "eval.yaml: overrides.email.flag.variant: override serves unknown variant `failover-ish` (variants: beta, stable)"
        ]
    );

    overrides.insert(
        "email.flag".to_owned(),
        Override {
            variant: "beta".into(),
            ..over
        },
    );
    let snap = Snapshot::build(&set, &overrides, 8).expect("builds");
    let e = snap
        .evaluate("email.flag", &ctx(json!({"email": "carol@x.com"})))
        .expect("evaluates");
    assert_eq!(
        (e.variant, e.reason, e.value),
        (Some("beta"), Reason::Static, Some(&json!("beta")))
    );
    assert_eq!(e.metadata.get("decisionId"), Some(&MetaValue::from("dec-1")));
    assert_eq!(e.metadata.get(META_REVISION), Some(&MetaValue::from(8u64)));
    assert_eq!(snap.revision(), 8);

    overrides.insert(
        "gone.flag".to_owned(),
        Override {
            variant: "x".into(),
            metadata: BTreeMap::new(),
        },
    );
    let errors = Snapshot::build(&set, &overrides, 9).expect_err("unknown flag");
    assert_eq!(errors.0[0].path, "overrides.gone.flag");
}

#[test]
fn evaluate_all_is_in_key_order_and_keeps_errors_per_flag() {
    let snap = snapshot();
    let all = snap.evaluate_all(&ctx(
        json!({"targetingKey": "user-1", "email": "bob@x.com", "plan": "pro"}),
    ));
    let keys: Vec<&str> = all.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, snap.keys().collect::<Vec<_>>());
    let by_key: HashMap<&str, _> = all.into_iter().collect();
    assert_eq!(by_key["email.flag"].as_ref().map(|e| e.variant), Ok(Some("beta")));
    assert_eq!(by_key["bool.flag"].as_ref().map(|e| e.variant), Ok(Some("true")));
    assert_eq!(
        by_key["flagkey.flag"].as_ref().map(|e| e.variant),
        Ok(Some("yes")),
        "$flagd.flagKey per flag"
    );
    assert!(by_key["unknown.flag"].is_err());
    assert_eq!(snap.get("static.flag").map(|d| d.owner()), Some(Some("platform")));
}

#[test]
fn clock_is_read_whenever_a_rule_could_see_the_timestamp() {
    use super::rules::reads_timestamp;
    for rule in [
        json!({">": [{"var": "$flagd.timestamp"}, 1]}),
        json!({"var": "$flagd"}),
        json!({"var": ""}),
        json!({"val": ["$flagd", "timestamp"]}),
        json!({"var": {"cat": ["$flagd.", "time", "stamp"]}}),
        json!({"if": [true, {"var": ["$flagd.timestamp", 0]}, null]}),
    ] {
        assert!(reads_timestamp(&rule), "{rule}");
    }
    for rule in [
        json!({"fractional": [["a", 1], ["b", 1]]}),
        json!({"==": [{"var": "$flagd.flagKey"}, "x"]}),
    ] {
        assert!(!reads_timestamp(&rule), "{rule}");
    }
}
