//! Triage on documents written here, one per layout the structure reader handles and one per
//! bug seen on real documents: the whole path (`triage::triage`), as the server and the CLI run
//! it. Vendors and models are invented (`acme`, `globex`).

use super::*;

fn brief(before: &str, after: &str, doc_type: DocType) -> Brief {
    let rules = classify::Rules::load(&[]).expect("shipped rules load");
    let ctx = Context {
        kind: None,
        doc_type: Some(doc_type),
        provider: Some("acme"),
        flags: None,
        rules: &rules,
        diff: None,
        today: chrono::Utc::now().date_naive(),
    };
    triage(before, after, &ctx)
}

/// (kind, subject, old, new, date) of a fact.
type Row<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

fn facts(b: &Brief) -> Vec<Row<'_>> {
    b.facts
        .iter()
        .map(|f| {
            (
                f.kind,
                f.subject.as_deref(),
                f.old.as_deref(),
                f.new.as_deref(),
                f.date.as_deref(),
            )
        })
        .collect()
}

fn has(b: &Brief, kind: &str, subject: &str) -> bool {
    b.facts
        .iter()
        .any(|f| f.kind == kind && f.subject.as_deref() == Some(subject))
}

const PRICES: &str = "# Pricing\n\nPrices per 1M tokens.\n\n| Model | Input | Cached input | Output |\n|---|---|---|---|\n| acme-large-3 | $2.00 | $0.50 | $8.00 |\n| acme-small-3 | $0.20 | $0.05 | $0.80 |\n| acme-nano-3 | $0.05 | $0.01 | $0.20 |\n";

#[test]
fn a_price_table_with_a_moved_row_and_a_changed_cell() {
    // acme-nano-3 moves to the top; acme-small-3's output price rises.
    let after = "# Pricing\n\nPrices per 1M tokens.\n\n| Model | Input | Cached input | Output |\n|---|---|---|---|\n| acme-nano-3 | $0.05 | $0.01 | $0.20 |\n| acme-large-3 | $2.00 | $0.50 | $8.00 |\n| acme-small-3 | $0.20 | $0.05 | $1.00 |\n";
    let b = brief(PRICES, after, DocType::Pricing);
    assert!(b.material);
    assert_eq!(b.category, Some("pricing"));
    assert_eq!(
        facts(&b),
        [("price", Some("acme-small-3"), Some("0.8"), Some("1"), None)]
    );
    assert_eq!(b.facts[0].field.as_deref(), Some("output"));
    assert_eq!(b.severity.as_str(), "high", "a price rise");
    // Only the order changed: nothing to say.
    let moved = "# Pricing\n\nPrices per 1M tokens.\n\n| Model | Input | Cached input | Output |\n|---|---|---|---|\n| acme-nano-3 | $0.05 | $0.01 | $0.20 |\n| acme-large-3 | $2 | $0.5 | $8 |\n| acme-small-3 | $0.20 | $0.05 | $0.80 |\n";
    assert!(!brief(PRICES, moved, DocType::Pricing).material);
}

#[test]
fn an_html_price_table_with_display_names_and_units_in_cells() {
    let before = "| Model | Input | Output |\n| Globex Chat 2 | $3 / MTok | $15 / MTok |\n| Globex Chat 2 Mini | $0.25 / MTok | $1.25 / MTok |\n";
    let after = before.replace("$0.25 / MTok", "$0.80 / MTok");
    let b = brief(before, &after, DocType::Pricing);
    assert_eq!(
        facts(&b),
        [("price", Some("globex-chat-2-mini"), Some("0.25"), Some("0.8"), None)]
    );
    assert_eq!(b.facts[0].unit.as_deref(), Some("per 1M tokens"));
}

#[test]
fn a_rate_limit_table_per_tier() {
    let before = "# Rate limits\n\n## Tier 1\n\n| Model | RPM | TPM | RPD |\n|---|---|---|---|\n| acme-large-3 | 500 | 30,000 | 10K |\n| acme-small-3 | 1,000 | 200,000 | 10K |\n\n## Tier 2\n\n| Model | RPM | TPM | RPD |\n|---|---|---|---|\n| acme-large-3 | 5,000 | 450,000 | 100K |\n| acme-small-3 | 5,000 | 2,000,000 | 100K |\n";
    let after = before.replacen("| acme-large-3 | 500 | 30,000 |", "| acme-large-3 | 500 | 60,000 |", 1);
    let b = brief(before, &after, DocType::RateLimits);
    assert_eq!(b.category, Some("rate_limit"));
    assert_eq!(
        facts(&b),
        [("rate_limit", Some("acme-large-3"), Some("30000"), Some("60000"), None)]
    );
    assert_eq!(b.facts[0].unit.as_deref(), Some("tokens per minute"));
}

const YAML: &str = "# yaml-language-server: $schema=.schema.json\nname: Acme\nid: acme\npricing_urls:\n  - https://acme.test/pricing\nmodels:\n  - id: acme-large-3\n    name: Acme Large 3\n    description: >-\n      Our most capable model, for complex tasks and agents.\n    match:\n      starts_with: acme-large-3\n    prices_checked: 2025-06-01\n    prices:\n      input_mtok: 2\n      cache_read_mtok: 0.5\n      output_mtok:\n        base: 8\n        tiers:\n          - start: 200000\n            price: 12\n  - id: acme-small-3\n    name: Acme Small 3\n    prices:\n      input_mtok: 0.2\n      output_mtok: 0.8\n";

#[test]
fn a_yaml_price_file() {
    // A nested price falls, another model is added.
    let after = YAML.replace("        base: 8\n", "        base: 6\n")
        + "  - id: acme-vision-3\n    name: Acme Vision 3\n    prices:\n      input_mtok: 1\n      output_mtok: 4\n";
    let b = brief(YAML, &after, DocType::Pricing);
    assert!(
        facts(&b).contains(&("price", Some("acme-large-3"), Some("8"), Some("6"), None)),
        "{:?}",
        b.facts
    );
    assert!(has(&b, "model_added", "acme-vision-3"));
    let p = b.facts.iter().find(|f| f.kind == "price").unwrap();
    assert_eq!(
        (p.field.as_deref(), p.unit.as_deref()),
        (Some("output"), Some("per 1M tokens"))
    );
    // The new model's prices are part of its launch, not price changes.
    assert!(
        !b.facts
            .iter()
            .any(|f| f.kind == "price" && f.subject.as_deref() == Some("acme-vision-3"))
    );

    // Only a new model: a launch.
    let launch = YAML.to_owned() + "  - id: acme-vision-3\n    prices:\n      input_mtok: 1\n";
    let b = brief(YAML, &launch, DocType::Pricing);
    assert_eq!(b.category, Some("model_launch"));
    assert_eq!(facts(&b), [("model_added", Some("acme-vision-3"), None, None, None)]);

    // `deprecated: true` added to an entry.
    let deprecated = YAML.replace(
        "    name: Acme Small 3\n",
        "    name: Acme Small 3\n    deprecated: true\n",
    );
    let b = brief(YAML, &deprecated, DocType::Pricing);
    assert_eq!(b.category, Some("deprecation"));
    assert_eq!(facts(&b), [("deprecation", Some("acme-small-3"), None, None, None)]);
}

#[test]
fn a_yaml_price_files_bookkeeping_is_not_material() {
    for edit in [
        // Stamps, reflowed text, quote style, links, matchers.
        YAML.replace("prices_checked: 2025-06-01", "prices_checked: 2025-07-15"),
        YAML.replace(
            "      Our most capable model, for complex tasks and agents.\n",
            "      Our most capable model,\n      for complex tasks and agents.\n",
        ),
        YAML.replace("name: Acme Large 3", "name: 'Acme Large 3'"),
        YAML.replace("https://acme.test/pricing", "https://acme.test/en/pricing"),
        YAML.replace("starts_with: acme-large-3", "starts_with: acme-large"),
    ] {
        let b = brief(YAML, &edit, DocType::Pricing);
        assert!(!b.material, "{edit}\n{b:?}");
    }
}

#[test]
fn a_json_record_list_and_a_json_map_of_models() {
    let before = r#"{"data": [{"id": "acme-large-3", "object": "model", "created": 1700000000}, {"id": "acme-small-3", "object": "model", "created": 1700000001}]}"#;
    let after = r#"{"data": [{"id": "acme-large-3", "object": "model", "created": 1700000000}]}"#;
    let b = brief(before, after, DocType::Models);
    assert_eq!(facts(&b), [("model_removed", Some("acme-small-3"), None, None, None)]);
    assert_eq!(b.category, Some("deprecation"));

    let before = r#"{
  "acme-large-3": {"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06, "max_input_tokens": 200000, "mode": "chat"},
  "acme-small-3": {"input_cost_per_token": 2e-07, "output_cost_per_token": 8e-07, "mode": "chat"}
}"#;
    let after = before.replace(
        "\"output_cost_per_token\": 8e-07,",
        "\"output_cost_per_token\": 6e-07, \"deprecation_date\": \"2026-03-31\",",
    );
    let b = brief(before, &after, DocType::Pricing);
    assert!(
        facts(&b).contains(&(
            "price",
            Some("acme-small-3"),
            Some("0.0000008"),
            Some("0.0000006"),
            None
        )),
        "{:?}",
        b.facts
    );
    assert!(facts(&b).contains(&(
        "deprecation",
        Some("acme-small-3"),
        None,
        Some("2026-03-31"),
        Some("2026-03-31")
    )));
    assert_eq!(
        b.facts.iter().find(|f| f.kind == "price").unwrap().unit.as_deref(),
        Some("per token")
    );
}

#[test]
fn an_id_list_losing_and_gaining_ids() {
    let before = "from typing import Union\nfrom typing_extensions import Literal\n\nModel = Union[\n    Literal[\n        \"acme-large-3\",\n        \"acme-large-2\",\n        \"acme-small-2\",\n    ],\n    str,\n]\n";
    let after = before.replace("        \"acme-small-2\",\n", "");
    let b = brief(before, &after, DocType::Models);
    assert_eq!(facts(&b), [("model_removed", Some("acme-small-2"), None, None, None)]);
    assert_eq!(b.category, Some("deprecation"));
    let ts_before = "export type Model =\n  | 'acme-large-3'\n  | 'acme-large-2'\n  | (string & {});\n";
    let ts_after =
        "export type Model =\n  | 'acme-large-4'\n  | 'acme-large-3'\n  | 'acme-large-2'\n  | (string & {});\n";
    let b = brief(ts_before, ts_after, DocType::Models);
    assert_eq!(facts(&b), [("model_added", Some("acme-large-4"), None, None, None)]);
    assert_eq!(b.category, Some("model_launch"));
    // A Markdown list of ids.
    let md =
        "# Models\n\nAvailable models:\n\n- `acme-large-3`\n- `acme-large-2`\n- `acme-small-2`\n\nAsk us for more.\n";
    let b = brief(md, &md.replace("- `acme-large-2`\n", ""), DocType::Models);
    assert_eq!(facts(&b), [("model_removed", Some("acme-large-2"), None, None, None)]);
}

#[test]
fn a_line_appended_at_the_end_changes_only_itself() {
    // The old last row names a replacement; appending a row must not make it look deprecated.
    let before = "| Model | Shutdown date | Replacement |\n|---|---|---|\n| acme-large-1 | 2024-06-30 | acme-large-2 |";
    let after = "| Model | Shutdown date | Replacement |\n|---|---|---|\n| acme-large-1 | 2024-06-30 | acme-large-2 |\n| acme-small-1 | 2026-09-30 | acme-small-2 |";
    let b = brief(before, after, DocType::Deprecations);
    assert_eq!(
        facts(&b),
        [(
            "retirement",
            Some("acme-small-1"),
            None,
            Some("2026-09-30"),
            Some("2026-09-30")
        )]
    );
    // The same in prose.
    let before = "## Notices\n\nacme-large-1 retires on 2024-06-30; use acme-large-2.";
    let after =
        "## Notices\n\nacme-large-1 retires on 2024-06-30; use acme-large-2.\nacme-small-1 retires on 2026-09-30.";
    let b = brief(before, after, DocType::Changelog);
    assert_eq!(
        facts(&b),
        [(
            "retirement",
            Some("acme-small-1"),
            None,
            Some("2026-09-30"),
            Some("2026-09-30")
        )]
    );
}

#[test]
fn the_same_date_written_another_way_is_not_a_change() {
    let table = "| Model | Retirement date |\n|---|---|\n| acme-large-1 | 2025-1-6 |\n";
    let b = brief(table, &table.replace("2025-1-6", "2025-01-06"), DocType::Deprecations);
    assert!(!b.material, "{b:?}");
    let b = brief(
        table,
        &table.replace("2025-1-6", "January 6, 2025"),
        DocType::Deprecations,
    );
    assert!(!b.material, "{b:?}");
    let policy = "# Terms\n\nEffective June 5, 2024.\n\nYou must not resell the service.\n";
    let b = brief(policy, &policy.replace("June 5, 2024", "5 June 2024"), DocType::Terms);
    assert!(!b.material, "{b:?}");
    assert!(b.facts.is_empty());
}

#[test]
fn an_error_page_in_place_of_the_document_is_a_capture_artefact() {
    let policy = format!(
        "# Acceptable use\n\n{}You must not use the services to build weapons.\n",
        "This policy explains what you may and may not do with our services. ".repeat(20)
    );
    let error = "Page not found\n\nThe page you requested could not be found. Return to the home page.";
    for (b, a) in [(policy.as_str(), error), (error, policy.as_str())] {
        let brief = brief(b, a, DocType::Policy);
        assert!(!brief.material);
        assert!(brief.what_changed[0].contains("error page"), "{:?}", brief.what_changed);
    }
}

#[test]
fn subjects_are_ids_not_versions_hashes_display_prefixes_or_neighbours() {
    // A changelog line with a version and a commit hash: the model id is the subject.
    let before = "## Changelog\n\n- v2.0 (abc1234def): internal refactoring.\n";
    let after = "## Changelog\n\n- v2.0 (abc1234def): internal refactoring.\n- v2.1 (0f9e8d7c6b): acme-large-2 will be retired on 2026-02-01.\n";
    let b = brief(before, after, DocType::Changelog);
    assert_eq!(
        facts(&b),
        [(
            "retirement",
            Some("acme-large-2"),
            None,
            Some("2026-02-01"),
            Some("2026-02-01")
        )]
    );
    // A display name that starts like another model's id: the id column is the subject.
    let before = "| Name | API id | Input |\n|---|---|---|\n| Acme-5.6 Luna | `acme-5.6-luna` | $1 |\n| Acme-5.6 | `acme-5.6` | $2 |\n";
    let after = before.replace("| $1 |", "| $0.20 |");
    let b = brief(before, &after, DocType::Pricing);
    assert_eq!(
        facts(&b),
        [("price", Some("acme-5.6-luna"), Some("1"), Some("0.2"), None)]
    );
    // A model named on the line above is not the subject of this row's date.
    let before = "Models we serve: acme-large-3.\n\n| Model | Shutdown date |\n|---|---|\n| acme-small-1 | |\n";
    let after = before.replace("| acme-small-1 | |", "| acme-small-1 | 2026-05-01 |");
    let b = brief(before, &after, DocType::Deprecations);
    assert_eq!(
        facts(&b),
        [(
            "retirement",
            Some("acme-small-1"),
            None,
            Some("2026-05-01"),
            Some("2026-05-01")
        )]
    );
}

#[test]
fn a_model_card_deprecated_then_withdrawn() {
    let active = "import { Card } from '../schema';\nexport default {\n  name: 'Acme Nemo 12B',\n  slug: 'acme-nemo-12b',\n  status: 'Active',\n  avatar: { icon: 'nemo', backgroundColor: 'red' },\n  identifiers: { apiNames: ['open-acme-nemo-2407', 'open-acme-nemo'] },\n  metadata: {},\n} as const satisfies Card;\n";
    let deprecated = active.replace("status: 'Active'", "status: 'Deprecated'").replace(
        "metadata: {}",
        "metadata: {deprecationDate: 'May 22, 2026', retirementDate: 'August 31, 2026', replacement: 'Acme Mini 8B'}",
    );
    let b = brief(active, &deprecated, DocType::Models);
    assert_eq!(b.category, Some("deprecation"));
    assert!(
        facts(&b).contains(&(
            "retirement",
            Some("open-acme-nemo-2407"),
            None,
            Some("2026-08-31"),
            Some("2026-08-31")
        )),
        "{:?}",
        b.facts
    );
    let b = brief(&deprecated, active, DocType::Models);
    assert!(has(&b, "deprecation_withdrawn", "open-acme-nemo-2407"), "{:?}", b.facts);
    // The avatar's colour is not news.
    let b = brief(active, &active.replace("'red'", "'blue'"), DocType::Models);
    assert!(!b.material);
}

#[test]
fn a_price_schedule_reads_as_a_change_from_the_entry_before() {
    let before = "models:\n  - id: acme-o\n    prices:\n      input_mtok: 2\n      output_mtok: 8\n";
    let after = "models:\n  - id: acme-o\n    prices:\n      - prices:\n          input_mtok: 10\n          output_mtok: 40\n      - constraint:\n          start_date: 2025-06-10\n        prices:\n          input_mtok: 2\n          output_mtok: 8\n";
    let b = brief(before, after, DocType::Pricing);
    assert!(
        facts(&b).contains(&("price", Some("acme-o"), Some("10"), Some("2"), Some("2025-06-10"))),
        "{:?}",
        b.facts
    );
}

#[test]
fn an_alias_column_and_an_alias_sentence() {
    // The alias column is the row's identity; the model it names changes.
    let before = "| Model | Alias | Model ID |\n|---|---|---|\n| Acme Large 3 | acme-large-latest | acme-large-3-20250101 |\n| Acme Small 3 | acme-small-latest | acme-small-3-20250101 |\n";
    let after = before.replace("| acme-large-3-20250101 |", "| acme-large-3-20250601 |");
    let b = brief(before, &after, DocType::Models);
    assert_eq!(
        facts(&b),
        [(
            "alias_change",
            Some("acme-large-latest"),
            Some("acme-large-3-20250101"),
            Some("acme-large-3-20250601"),
            None
        )]
    );
    // "Currently points to" in a description cell.
    let before = "| Model | Description |\n|---|---|\n| acme-4o | Our flagship. Currently points to acme-4o-2025-01-06. |\n| acme-4o-2025-03-01 | Latest snapshot. |\n";
    let after = "| Model | Description |\n|---|---|\n| acme-4o | Our flagship. Currently points to acme-4o-2025-03-01. |\n| acme-4o-2025-03-01 | Latest snapshot. acme-4o currently points to this version. |\n";
    let b = brief(before, after, DocType::Models);
    assert!(b.material);
    assert!(
        facts(&b).contains(&(
            "alias_change",
            Some("acme-4o"),
            Some("acme-4o-2025-01-06"),
            Some("acme-4o-2025-03-01"),
            None
        )),
        "{:?}",
        b.facts
    );
}

#[test]
fn a_table_of_one_models_prices_under_its_heading_with_tiers_in_a_cell() {
    let before = "## Acme 2.5 Pro\n\n*`acme-2.5-pro`*\n\n| | Free | Paid, per 1M tokens in USD |\n| Input price | Free of charge | $1.25, prompts <= 200k tokens<br>$2.50, prompts > 200k tokens |\n| Output price | Free of charge | $10.00, prompts <= 200k tokens<br>$15.00, prompts > 200k |\n";
    let after = before.replace("$15.00", "$18.00");
    let b = brief(before, &after, DocType::Pricing);
    assert_eq!(
        facts(&b),
        [("price", Some("acme-2.5-pro"), Some("15"), Some("18"), None)]
    );
    assert_eq!(b.facts[0].field.as_deref(), Some("output (prompts > 200k)"));
    assert_eq!(b.facts[0].unit.as_deref(), Some("per 1M tokens"));
}

#[test]
fn a_price_change_told_in_a_sentence() {
    let before = "## Changelog\n\n### Jun 3\n\nBug fixes.\n";
    let after = "## Changelog\n\n### Jun 10\n\nReduced the price of o3 by 80%. Input now costs $2 per 1M tokens (previously $10) and output $8 per 1M tokens (previously $40).\n\n### Jun 3\n\nBug fixes.\n";
    let b = brief(before, after, DocType::Changelog);
    assert_eq!(b.category, Some("pricing"));
    let p: Vec<_> = b
        .facts
        .iter()
        .map(|f| {
            (
                f.subject.as_deref(),
                f.field.as_deref(),
                f.old.as_deref(),
                f.new.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        p,
        [
            (Some("o3"), Some("input"), Some("10"), Some("2")),
            (Some("o3"), Some("output"), Some("40"), Some("8"))
        ]
    );
}

#[test]
fn a_list_item_under_a_prohibiting_heading_is_a_clause() {
    let before = "## Do not compromise computer systems\n\nThis includes using our services to:\n\n- Discover vulnerabilities without permission\n- Build malware\n\n## Be nice\n\nPlease.\n";
    let after = before.replace(
        "- Build malware\n",
        "- Build malware\n- Run automated intrusion campaigns\n",
    );
    let b = brief(before, &after, DocType::Policy);
    let added: Vec<_> = b.facts.iter().filter(|f| f.kind == "policy_clause_added").collect();
    assert_eq!(added.len(), 1, "{:?}", b.facts);
    assert!(
        added[0]
            .new
            .as_deref()
            .unwrap()
            .contains("Run automated intrusion campaigns")
    );
    assert_eq!(b.severity.as_str(), "high");
}

#[test]
fn release_dates_are_not_retirements_and_a_model_back_to_active_is_withdrawn() {
    let before = "| Model | Release date | Retirement date | Recommended upgrade |\n|---|---|---|---|\n| acme-1.5-pro | 2024-09-24 | 2025-09-24 | acme-2.5-pro |\n";
    let after = format!("{before}| acme-2.0-flash-exp | 2025-01-21 | 2025-12-02 | acme-2.5-flash |\n");
    let b = brief(before, &after, DocType::Deprecations);
    assert_eq!(
        facts(&b),
        [(
            "retirement",
            Some("acme-2.0-flash-exp"),
            None,
            Some("2025-12-02"),
            Some("2025-12-02")
        )]
    );
    let before = "| API model name | Current state | Deprecated | Tentative retirement date |\n|---|---|---|---|\n| acme-haiku-20241022 | Deprecated | June 30, 2025 | December 19, 2025 |\n";
    let after = "| API model name | Current state | Deprecated | Tentative retirement date |\n|---|---|---|---|\n| acme-haiku-20241022 | Active | N/A | Not sooner than October 22, 2025 |\n";
    let b = brief(before, after, DocType::Deprecations);
    assert_eq!(
        facts(&b),
        [("deprecation_withdrawn", Some("acme-haiku-20241022"), None, None, None)]
    );
}

#[test]
fn cosmetic_edits_of_tabular_pages() {
    // Trailing zeros, another unit wording, a reworded introduction.
    let before = "# Pricing\n\nWe regularly refresh our lineup.\n\n| Model | Input | Output |\n|---|---|---|\n| acme-x-1 | $2.00 / MTok | $8.00 / MTok |\n| Web search | $10.00 / 1k calls | |\n";
    let after = "# Pricing\n\nWe periodically refresh our lineup.\n\n| Model | Input | Output |\n|---|---|---|\n| acme-x-1 | $2 per million tokens | $8 per million tokens |\n| Web search | $10 / 1k calls | |\n";
    let b = brief(before, after, DocType::Pricing);
    assert!(!b.material, "{b:?}");
}

#[test]
fn a_model_card_in_prose_under_its_heading() {
    let before = "# Models\n\n## Acme R Plus\n\n`acme-r-plus-08-2024`\n\nOur most capable model.\n\n- Context: 128k tokens\n- Input: $2.50 / 1M tokens\n- Output: $10.00 / 1M tokens\n\n## Acme R\n\n- Input: $0.15 / 1M tokens\n- Output: $0.60 / 1M tokens\n";
    let after = before.replace("$10.00 / 1M", "$8.00 / 1M");
    let b = brief(before, &after, DocType::Pricing);
    assert_eq!(
        facts(&b),
        [("price", Some("acme-r-plus-08-2024"), Some("10"), Some("8"), None)]
    );
    assert_eq!(b.facts[0].field.as_deref(), Some("output"));
}

#[test]
fn two_dates_in_one_sentence_keep_their_own_words() {
    let before = "## Notices\n\nNothing yet.\n";
    let after = "## Notices\n\nacme-code-1 will be deprecated on February 1, 2025 and will reach end of life on March 1, 2025.\n";
    let b = brief(before, after, DocType::Changelog);
    assert_eq!(
        facts(&b),
        [
            (
                "deprecation",
                Some("acme-code-1"),
                None,
                Some("2025-02-01"),
                Some("2025-02-01")
            ),
            (
                "retirement",
                Some("acme-code-1"),
                None,
                Some("2025-03-01"),
                Some("2025-03-01")
            )
        ]
    );
    // Ids as providers write them in prose: with an organisation, capitals, a colon version.
    let after = "## Notices\n\nThe following models will be sunset on 03/20/25: `togethercomputer/llama-2-70b-chat`, `mistralai/Mistral-7B-Instruct-v0.1` and `vendor.acme-v2:1`.\n";
    let b = brief(before, after, DocType::Changelog);
    for id in [
        "togethercomputer/llama-2-70b-chat",
        "mistralai/Mistral-7B-Instruct-v0.1",
        "vendor.acme-v2:1",
    ] {
        assert!(
            facts(&b).contains(&("retirement", Some(id), None, Some("2025-03-20"), Some("2025-03-20"))),
            "{id}: {:?}",
            b.facts
        );
    }
}

#[test]
fn the_same_sub_heading_under_two_models_is_two_scopes() {
    // Each model's section has a `### Standard` table of labelled rows; only acme-2-flash's
    // prices change. The other model's equal rows must not be compared with them.
    let section = |name: &str, id: &str, input: &str, output: &str| {
        format!(
            "## {name}\n\n*`{id}`*\n\nA model.\n\n### Standard\n\n| | Free Tier | Paid Tier, per 1M tokens in USD |\n| --- | --- | --- |\n| Input price | Free of charge | {input} |\n| Output price | Free of charge | {output} |\n\n"
        )
    };
    let page = |flash_in: &str, flash_out: &str| {
        format!(
            "# Pricing\n\n{}{}",
            section("Acme 2 Pro", "acme-2-pro", "$1.25", "$10.00"),
            section("Acme 2 Flash", "acme-2-flash", flash_in, flash_out)
        )
    };
    let b = brief(&page("$0.15", "$0.60"), &page("$0.30", "$2.50"), DocType::Pricing);
    assert_eq!(b.category, Some("pricing"));
    let prices: Vec<_> = facts(&b).into_iter().filter(|f| f.0 == "price").collect();
    assert_eq!(
        prices,
        vec![
            ("price", Some("acme-2-flash"), Some("0.15"), Some("0.3"), None),
            ("price", Some("acme-2-flash"), Some("0.6"), Some("2.5"), None),
        ],
        "{:?}",
        b.facts
    );
    assert!(
        !b.facts
            .iter()
            .any(|f| f.kind == "model_removed" || f.kind == "model_added")
    );
}

#[test]
fn models_as_columns_under_display_names_with_a_row_of_ids() {
    let table = |cols: &[(&str, &str, &str)]| {
        let mut t = String::from("| Feature |");
        for (name, _, _) in cols {
            t += &format!(" {name} |");
        }
        t += "\n|---|";
        t += &"---|".repeat(cols.len());
        t += "\n| API ID |";
        for (_, id, _) in cols {
            t += &format!(" {id} |");
        }
        t += "\n| Pricing |";
        for (_, _, p) in cols {
            t += &format!(" {p} |");
        }
        t += "\n| Context window |";
        for _ in cols {
            t += " 200K tokens |";
        }
        format!("# Models\n\n{t}\n")
    };
    let large = ("Acme Large 4", "acme-large-4-20250101", "$3 / input MTok");
    let small = ("Acme Small 4", "acme-small-4-20250101", "$1 / input MTok");
    let mini = ("Acme Mini 4", "acme-mini-4-20251001", "$0.5 / input MTok");
    // A column inserted in the middle: one model added, nothing removed, no value moves.
    let b = brief(&table(&[large, small]), &table(&[large, mini, small]), DocType::Models);
    assert_eq!(b.category, Some("model_launch"), "{:?}", b.facts);
    assert_eq!(
        facts(&b),
        vec![("model_added", Some("acme-mini-4-20251001"), None, None, None)]
    );
}

#[test]
fn a_tab_separated_deprecation_table_names_the_replacement_as_a_replacement() {
    // As the text extractor keeps it (tab-separated rows become a table).
    let ex = crate::extract::Extractor::new(crate::extract::Kind::Text, Default::default(), None).unwrap();
    let extract = |t: &str| ex.extract(t.as_bytes()).unwrap().to_text();
    let before =
        extract("Deprecations\n\nShutdown Date\tModel ID\tRecommended Replacement\n06/01/26\tacme-7b\tacme-20b\n");
    let after = extract(
        "Deprecations\n\nShutdown Date\tModel ID\tRecommended Replacement\n01/20/27\tacme-8b-instant\tacme-20b\n01/20/27\tglobex/g3-32b\tacme-120b\n06/01/26\tacme-7b\tacme-20b\n",
    );
    let b = brief(&before, &after, DocType::Deprecations);
    assert_eq!(b.category, Some("deprecation"));
    assert!(has(&b, "retirement", "acme-8b-instant") && has(&b, "retirement", "globex/g3-32b"));
    assert!(
        !has(&b, "retirement", "acme-120b") && !has(&b, "retirement", "acme-20b"),
        "{:?}",
        b.facts
    );
}

#[test]
fn front_matter_stamps_copyright_years_renamed_headings_and_ampersands_are_cosmetic() {
    let doc = |date: &str, nav: &str, year: &str, heading: &str, anchor: &str| {
        format!(
            "---\ntitle: Quotas\nms.date: {date}\n---\n\n{nav}\n\n# Quotas and limits\n\n## {heading}\n\n| Tier | RPM |\n|---|---|\n| Tier 1 | 500 |\n\nSee [{heading}](#{anchor}) for other tiers.\n\nCopyright © {year} Acme, Inc.\n"
        )
    };
    let before = doc(
        "07/29/2026",
        "Models & Pricing",
        "2025",
        "Current rate limits",
        "current-rate-limits",
    );
    let after = doc(
        "10/03/2026",
        "Models and Pricing",
        "2026",
        "Rate limits by usage tier",
        "rate-limits-by-usage-tier",
    );
    let b = brief(&before, &after, DocType::RateLimits);
    assert!(!b.material, "{b:?}");
    // A clause about copyright is not a copyright line.
    let b = brief(
        "# Usage policy\n\nDo not send spam.\n",
        "# Usage policy\n\nDo not send spam.\n\nCopyright infringement is prohibited.\n",
        DocType::Policy,
    );
    assert!(b.material);
    // A heading that says where a model stands is not a rename.
    let b = brief(
        "# Models\n\n## acme-large-2\n\nOur model.\n",
        "# Models\n\n## acme-large-2 (Legacy)\n\nOur model.\n",
        DocType::Models,
    );
    assert!(b.material);
}

#[test]
fn a_wrapped_sentence_moving_a_shutdown_names_its_paragraphs_model_not_the_pages() {
    let page = |date: &str, extra: &str| {
        format!(
            "# Deprecations\n\n### 2025-11-17: acme-mini-latest\n\nOn November 17th, 2025, we notified developers using `acme-mini-latest` of its removal from\nthe API on {date}.{extra}\n\n| Shutdown date | Model | Replacement |\n| --- | --- | --- |\n| {date} | `acme-mini-latest` | `acme-mini-2` |\n\n### 2025-09-15: acme-rt models\n\n| Shutdown date | Model | Replacement |\n| --- | --- | --- |\n| 2026-03-24 | `acme-rt-preview` | `acme-rt` |\n| 2026-03-24 | `acme-rt-preview-2024-10-01` | `acme-rt` |\n| 2026-03-24 | `acme-rt-preview-2024-12-17` | `acme-rt` |\n\nThe `acme-rt-preview-2024-10-01` snapshot is listed for `acme-rt-preview-2024-10-01` users.\n"
        )
    };
    let b = brief(
        &page("January 16, 2026", ""),
        &page(
            "February 12, 2026",
            " The shutdown was moved from January 16, 2026\nto give users more time to migrate.",
        ),
        DocType::Deprecations,
    );
    assert!(
        b.facts.iter().all(|f| f.subject.as_deref() == Some("acme-mini-latest")),
        "{:?}",
        b.facts
    );
    assert!(has(&b, "retirement", "acme-mini-latest"));
}

#[test]
fn an_extended_access_date_is_a_stage_not_the_end() {
    let table = |rows: &str| {
        format!(
            "# Model lifecycle\n\n| Model version | Model ID | Legacy date | Public extended access date | EOL date |\n| --- | --- | --- | --- | --- |\n{rows}"
        )
    };
    let b = brief(
        &table(""),
        &table("| Acme Large 3 | acme.large-3-v1:0 | October 28, 2026 | January 28, 2027 | April 28, 2027 |\n"),
        DocType::Deprecations,
    );
    let retirements: Vec<_> = b.facts.iter().filter(|f| f.kind == "retirement").collect();
    assert_eq!(retirements.len(), 1, "{:?}", b.facts);
    assert_eq!(retirements[0].date.as_deref(), Some("2027-04-28"));
    assert!(b.title.contains("2027-04-28"), "{}", b.title);
}
#[test]
fn release_notes_with_scoped_items_are_prose_and_dated_snapshot_ids_are_ids() {
    // `- api: add x` items parse as YAML; they are release notes, and the ids in them (ending in
    // a date) are new models.
    let before = "## v2.7.0\n\n### Features\n\n- api: add conversation items pagination ([9ad2c41](https://example.com/c/9ad2c41))\n";
    let after = "## v2.8.0\n\n### Features\n\n- api: add acme-rt-mini-2026-10-06 and acme-audio-mini-2026-10-06 model ids ([b71c0de](https://example.com/c/b71c0de))\n\n## v2.7.0\n\n### Features\n\n- api: add conversation items pagination ([9ad2c41](https://example.com/c/9ad2c41))\n";
    let b = brief(before, after, DocType::Changelog);
    assert_eq!(b.category, Some("model_launch"));
    assert!(has(&b, "model_added", "acme-rt-mini-2026-10-06"), "{:?}", b.facts);
    assert!(has(&b, "model_added", "acme-audio-mini-2026-10-06"));
    assert!(!b.facts.iter().any(|f| f.kind == "retirement"), "{:?}", b.facts);
}

#[test]
fn a_price_edited_in_a_wrapped_sentence_names_the_paragraphs_model_and_the_priced_item() {
    let page = |reasoning: &str| {
        format!(
            "# Pricing\n\n**Acme Quick** (`acme-quick`) costs $1 per million input tokens.\n\n**Acme Deep Research** (`acme-deep-research`) runs long research. It costs $2 per million input\ntokens, $8 per million output tokens, {reasoning} per million reasoning tokens and $5 per\n1,000 search queries.\n"
        )
    };
    let b = brief(&page("$3"), &page("$5"), DocType::Pricing);
    assert_eq!(b.category, Some("pricing"));
    assert_eq!(b.severity.as_str(), "high", "a rise");
    assert_eq!(b.facts.len(), 1, "{:?}", b.facts);
    let f = &b.facts[0];
    assert_eq!(
        (
            f.subject.as_deref(),
            f.field.as_deref(),
            f.old.as_deref(),
            f.new.as_deref()
        ),
        (Some("acme-deep-research"), Some("reasoning"), Some("3"), Some("5"))
    );
}

#[test]
fn an_alias_arrow_that_moves_to_another_snapshot() {
    let page = |target: &str, extra: &str| {
        format!("# acme-4o\n\nOur model.\n\n## Snapshots\n\n- `acme-4o` → `{target}`\n{extra}- `acme-4o-2024-08-06`\n")
    };
    let b = brief(
        &page("acme-4o-2024-08-06", ""),
        &page("acme-4o-2024-11-20", "- `acme-4o-2024-11-20`\n"),
        DocType::Models,
    );
    assert!(
        facts(&b).contains(&(
            "alias_change",
            Some("acme-4o"),
            Some("acme-4o-2024-08-06"),
            Some("acme-4o-2024-11-20"),
            None
        )),
        "{:?}",
        b.facts
    );
    assert!(has(&b, "model_added", "acme-4o-2024-11-20"));
}

#[test]
fn a_tier_table_on_one_models_page_is_that_models_and_a_raise_is_low() {
    let page = |tpm: &str| {
        format!(
            "# acme-4.1\n\nFlagship model.\n\n- **Context window:** 1,047,576 tokens\n\n## Rate limits\n\nYour usage tier sets these limits.\n\n| Tier | RPM | TPM |\n| --- | --- | --- |\n| Free | Not supported | |\n| Tier 1 | 500 | {tpm} |\n| Tier 2 | 5,000 | 450,000 |\n"
        )
    };
    let b = brief(&page("30,000"), &page("60,000"), DocType::RateLimits);
    assert_eq!(b.category, Some("rate_limit"));
    assert_eq!(b.severity.as_str(), "low", "more room is not urgent");
    let f = &b.facts[0];
    assert_eq!(
        (
            f.kind,
            f.subject.as_deref(),
            f.field.as_deref(),
            f.old.as_deref(),
            f.new.as_deref()
        ),
        (
            "rate_limit",
            Some("acme-4.1"),
            Some("Tier 1 TPM"),
            Some("30000"),
            Some("60000")
        )
    );
    // Lowered, it is worth a look.
    let b = brief(&page("60,000"), &page("30,000"), DocType::RateLimits);
    assert_eq!(b.severity.as_str(), "medium");
}
#[test]
fn renumbered_footnotes_and_placeholder_cells_are_not_changes() {
    let page = |refs: [&str; 2], defs: &str| {
        format!(
            "# Pricing\n\n| Model | Input | Batch input | Notes |\n| --- | --- | --- | --- |\n| `acme-a-03` | $2.50 / 1M tokens | N/A | {} |\n| `acme-r-08` | $0.15 / 1M tokens | N/A | {} |\n\n{defs}\n",
            refs[0], refs[1]
        )
    };
    let before = page(
        ["[^1]", "[^2]"],
        "[^1]: Includes a 256K context window.\n[^2]: Available on trial keys.",
    );
    let after = page(
        ["[^2]", "[^1]"],
        "[^1]: Available on trial keys.\n[^2]: Includes a 256K context window.",
    );
    let b = brief(&before, &after, DocType::Pricing);
    assert!(!b.material, "{b:?}");
    // A batch price where there was none (`N/A` is not a name): a price for that model only.
    let after = before.replace("| N/A | [^1] |", "| $1.25 / 1M tokens | [^1] |");
    let b = brief(&before, &after, DocType::Pricing);
    assert_eq!(b.category, Some("pricing"));
    assert!(
        !b.facts
            .iter()
            .any(|f| f.kind == "model_removed" || f.kind == "model_added"),
        "{:?}",
        b.facts
    );
    assert!(has(&b, "price", "acme-a-03"), "{:?}", b.facts);
}

#[test]
fn the_same_prices_told_per_million_instead_of_per_thousand_are_not_a_change() {
    let page = |unit: &str, rows: [&str; 2]| {
        format!(
            "# Pricing\n\n| Models | Price per {unit} input tokens | Price per {unit} output tokens |\n| --- | --- | --- |\n| Acme Small 3 | {} |\n| Acme Large 3 | {} |\n\nPricing is per {unit} tokens unless noted.\n",
            rows[0], rows[1]
        )
    };
    let before = page("1,000", ["$0.0008 | $0.004", "$0.003 | $0.015"]);
    let b = brief(
        &before,
        &page("1M", ["$0.80 | $4.00", "$3.00 | $15.00"]),
        DocType::Pricing,
    );
    assert!(!b.material, "{b:?}");
    // A real change in the same move is still one.
    let b = brief(
        &before,
        &page("1M", ["$0.80 | $4.00", "$3.00 | $18.00"]),
        DocType::Pricing,
    );
    assert!(b.material);
    assert!(facts(&b).iter().any(|f| f.0 == "price"), "{:?}", b.facts);
    // A limit that grows a thousandfold in prose is not a unit restated.
    let b = brief(
        "# Limits\n\nEach key may send up to 1,000 requests per day.\n",
        "# Limits\n\nEach key may send up to 1M requests per day.\n",
        DocType::RateLimits,
    );
    assert!(b.material);
}

#[test]
fn a_display_name_reworded_beside_an_unchanged_id_is_cosmetic() {
    let table = |name: &str| {
        format!(
            "# Supported models\n\n| Provider | Model name | Model ID | Regions |\n| --- | --- | --- | --- |\n| Acme | {name} | `acme.large-3-5-20241022-v1:0` | us-east-1, us-west-2 |\n| Acme | Acme Small 3 | `acme.small-3-20240307-v1:0` | us-east-1 |\n"
        )
    };
    let b = brief(&table("Acme 3.5 Large"), &table("Acme Large 3.5"), DocType::Models);
    assert!(!b.material, "{b:?}");
}

#[test]
fn a_price_rise_in_a_text_news_entry_with_arrows() {
    let before = "News\n\n2026-08-01  New model\nacme-chat-2 is available.\n";
    let after = "News\n\n2026-09-18  Pricing adjustment for acme-chat-2\nStarting 2026-10-01 00:00 UTC, acme-chat-2 is billed at the following rates\n(USD per 1M tokens):\n\n    Input (cache hit)     $0.07   (unchanged)\n    Input (cache miss)    $0.27 -> $0.56\n    Output                $1.10 -> $1.68\n\n2026-08-01  New model\nacme-chat-2 is available.\n";
    let b = brief(before, after, DocType::Changelog);
    assert_eq!(b.category, Some("pricing"));
    let prices: Vec<_> = b
        .facts
        .iter()
        .filter(|f| f.kind == "price")
        .map(|f| (f.subject.as_deref(), f.old.as_deref(), f.new.as_deref()))
        .collect();
    assert_eq!(
        prices,
        vec![
            (Some("acme-chat-2"), Some("0.27"), Some("0.56")),
            (Some("acme-chat-2"), Some("1.1"), Some("1.68"))
        ]
    );
    assert!(
        facts(&b).contains(&("effective_date", None, None, Some("2026-10-01"), None)),
        "{:?}",
        b.facts
    );
}

#[test]
fn the_flags_a_brief_reaches_are_read_from_its_data_and_from_older_briefs_text() {
    use serde_json::json;
    let a = Affected {
        flag: "route.chat".into(),
        uses: "acme/acme-large".into(),
        variants: vec!["primary".into(), "canary".into()],
    };
    assert_eq!(
        a.line(),
        "flag route.chat uses acme/acme-large in variant primary, canary"
    );
    // New briefs: `affects`, even when the text says something else.
    let body = json!({"affects": [a, {"flag": "cap.x", "uses": "acme", "variants": []},
                                  {"flag": "route.chat", "uses": "acme/acme-mini", "variants": []}],
                      "what_breaks": ["flag other.flag uses y"]});
    assert_eq!(affected_flags(&body), vec!["route.chat", "cap.x"]);
    // Briefs stored before the field: the flag keys the lines start with.
    let old = json!({"what_breaks": ["flag route.summarize uses acme/m in variant primary", "not a flag line"]});
    assert_eq!(affected_flags(&old), vec!["route.summarize"]);
    assert!(affected_flags(&json!({})).is_empty());
}
