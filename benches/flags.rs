//! In-process flag evaluation, the whole lookup (context in, variant out). DESIGN.md targets: a flag
//! with three targeting rules under 300 ns, a fractional split under 200 ns.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use signalbox::flags::{FlagSet, Snapshot, parse_file};

const FLAGS: &str = r#"
flags:
  static.flag:
    state: ENABLED
    variants: { "on": true, "off": false }
    defaultVariant: "on"
  targeting.flag:
    state: ENABLED
    variants: { beta: beta, staff: staff, modern: modern, stable: stable }
    defaultVariant: stable
    targeting:
      if:
        - in: [{ var: email }, ["alice@example.org", "bob@example.org", "carol@example.org"]]
        - beta
        - ends_with: [{ var: email }, "@signalbox.dev"]
        - staff
        - sem_ver: [{ var: appVersion }, ">=", "2.0.0"]
        - modern
        - null
  split.flag:
    state: ENABLED
    variants: { red: red, blue: blue }
    defaultVariant: red
    targeting: { fractional: [[red, 50], [blue, 50]] }
"#;

fn snapshot() -> Snapshot {
    let (defs, problems) = parse_file(Path::new("bench.yaml"), FLAGS);
    assert!(problems.is_empty(), "{problems:?}");
    let set = FlagSet {
        flags: defs.into_iter().map(|d| (d.key.clone(), d)).collect(),
    };
    Snapshot::build(&set, &HashMap::new(), 1).expect("builds")
}

fn context() -> Map<String, Value> {
    // A typical app context; the targeting flag walks all three rules and matches the last.
    let ctx = json!({
        "targetingKey": "user-8c1f2e", "email": "dana@customer.com", "appVersion": "2.3.1",
        "plan": "pro", "country": "DE",
    });
    match ctx {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn bench(c: &mut Criterion) {
    let snap = snapshot();
    let ctx = context();
    assert_eq!(
        snap.evaluate("targeting.flag", &ctx).ok().and_then(|e| e.variant),
        Some("modern")
    );
    let mut group = c.benchmark_group("evaluate");
    for key in ["static.flag", "targeting.flag", "split.flag"] {
        group.bench_function(key, |b| {
            b.iter(|| black_box(snap.evaluate(black_box(key), black_box(&ctx)).is_ok()))
        });
    }
    group.bench_function("all (3 flags)", |b| {
        b.iter(|| black_box(snap.evaluate_all(black_box(&ctx)).len()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
