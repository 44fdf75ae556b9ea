//! CPU cost of the pipeline stages that run per poll: extraction and diff.
//! Run: `cargo bench --bench pipeline`. Results: docs/benchmarks.md.

use criterion::{Criterion, criterion_group, criterion_main};
use signalbox::diff::{diff, text_diff};
use signalbox::extract::{Extractor, Kind, Rules};
use std::hint::black_box;

/// A pricing-page-like document: navigation noise, headings, a long table, paragraphs.
fn pricing_page(rows: usize, price_bump: usize) -> String {
    let mut s = String::from(
        "<html><head><script>var x=1;</script><style>.a{}</style></head><body><nav><a href=\"/\">Home</a></nav><main><h1>Pricing</h1>",
    );
    for section in 0..10 {
        s.push_str(&format!("<h2>Family {section}</h2><p>Prices per 1M tokens. <a href=\"/docs?utm_source=x\">Docs</a></p><table><tr><th>Model</th><th>Input</th><th>Output</th></tr>"));
        for r in 0..rows / 10 {
            let out = 8 + if r == 3 && section == 4 { price_bump } else { 0 };
            s.push_str(&format!(
                "<tr><td>model-{section}-{r}</td><td>$2.00</td><td>${out}.00</td></tr>"
            ));
        }
        s.push_str("</table>");
    }
    s.push_str("</main><footer>© Acme</footer></body></html>");
    s
}

fn bench(c: &mut Criterion) {
    let page = pricing_page(1000, 0);
    let rules = Rules {
        select: vec!["main".into()],
        remove: vec!["nav".into()],
        ..Rules::default()
    };
    let html = Extractor::new(Kind::Html, rules, None).unwrap();
    c.bench_function(
        &format!("extract html ({} KiB, 1000 table rows)", page.len() / 1024),
        |b| b.iter(|| html.extract(black_box(page.as_bytes())).unwrap()),
    );

    let before = html.extract(page.as_bytes()).unwrap();
    let after = html.extract(pricing_page(1000, 2).as_bytes()).unwrap();
    c.bench_function("diff text (1000-row page, one price changed)", |b| {
        b.iter(|| diff(black_box(&before), black_box(&after)))
    });
    let (a, b2) = (before.to_text(), after.to_text());
    c.bench_function("diff text (identical, 1000 rows)", |b| {
        b.iter(|| text_diff(black_box(&a), black_box(&a)))
    });
    let _ = b2;

    let mut summary = String::from(
        r#"{"page":{"id":"p","updated_at":"2026-01-01T00:00:00Z"},"status":{"indicator":"none","description":"ok"},"components":["#,
    );
    for i in 0..200 {
        if i > 0 {
            summary.push(',');
        }
        summary.push_str(&format!(
            r#"{{"id":"c{i}","name":"Component {i}","status":"operational","group":false}}"#
        ));
    }
    summary.push_str(r#"],"incidents":[],"scheduled_maintenances":[]}"#);
    let sp = Extractor::new(Kind::Statuspage, Rules::default(), None).unwrap();
    c.bench_function("extract statuspage (200 components)", |b| {
        b.iter(|| sp.extract(black_box(summary.as_bytes())).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
