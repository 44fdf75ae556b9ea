//! The demo's provider documents: a fictional vendor, Acme AI, written in the shapes real vendors
//! publish (a Statuspage v2 summary, a Markdown deprecation table, an HTML price table, an HTML
//! usage policy), each in the versions the scripted history moves through. Dates are relative to
//! the day the demo runs, so the retirement is always 21 days away.

use chrono::{Datelike, NaiveDate};

/// "January 5th, 2027", as vendors write dates.
fn written(d: NaiveDate) -> String {
    let day = d.day();
    let suffix = match (day % 10, day % 100) {
        (1, n) if n != 11 => "st",
        (2, n) if n != 12 => "nd",
        (3, n) if n != 13 => "rd",
        _ => "th",
    };
    format!("{} {day}{suffix}, {}", d.format("%B"), d.year())
}

/// The status page: `operational`, `outage` (the API in a major outage with an open incident) or
/// `recovered` (the incident resolved).
pub fn status(state: &str) -> String {
    let api = if state == "outage" {
        "major_outage"
    } else {
        "operational"
    };
    let indicator = if state == "outage" { "major" } else { "none" };
    let incident = match state {
        "outage" => r#"{"id":"inc-42","name":"Elevated error rates on the API","status":"investigating","impact":"major","created_at":"CREATED","updated_at":"CREATED","incident_updates":[{"id":"u1","status":"investigating","body":"We are investigating elevated error rates for requests to the API.","created_at":"CREATED"}]}"#,
        "recovered" => r#"{"id":"inc-42","name":"Elevated error rates on the API","status":"resolved","impact":"major","created_at":"CREATED","updated_at":"CREATED","resolved_at":"CREATED","incident_updates":[{"id":"u2","status":"resolved","body":"This incident has been resolved.","created_at":"CREATED"}]}"#,
        _ => "",
    }
    .replace("CREATED", &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    format!(
        r#"{{"page":{{"id":"acme","name":"Acme AI","url":"https://status.acme.example"}},
"status":{{"indicator":"{indicator}","description":"{}"}},
"components":[
 {{"id":"c-api","name":"API","status":"{api}","group":false,"group_id":null}},
 {{"id":"c-console","name":"Console","status":"operational","group":false,"group_id":null}},
 {{"id":"c-images","name":"Image generation","status":"operational","group":false,"group_id":null}}
],
"incidents":[{incident}],
"scheduled_maintenances":[]}}"#,
        if state == "outage" {
            "Major System Outage"
        } else {
            "All Systems Operational"
        }
    )
}

/// The deprecation table; `with_retirement` adds the retirement date of the model `route.chat`
/// serves.
pub fn deprecations(today: NaiveDate, with_retirement: bool) -> String {
    let retirement = if with_retirement {
        written(today + chrono::Duration::days(21))
    } else {
        String::new()
    };
    format!(
        "# Model deprecations\n\n\
         When we retire a model, requests to it fail. We announce retirements at least 14 days ahead and\n\
         recommend a replacement for every retired model.\n\n\
         | Model | Deprecation date | Retirement date | Replacement |\n\
         |---|---|---|---|\n\
         | acme-large-2407 | {} | {retirement} | acme-large-2411 |\n\
         | acme-medium-2312 | June 1st, 2026 | September 30th, 2026 | acme-large-2411 |\n\
         | acme-image-1 | March 3rd, 2026 | May 4th, 2026 | acme-image-2 |\n",
        written(today - chrono::Duration::days(5)),
    )
}

/// The price table; `raised` raises acme-large-2411's output price from $8.00 to $10.00.
pub fn pricing(raised: bool) -> String {
    let output = if raised { "$10.00" } else { "$8.00" };
    format!(
        r#"<!doctype html>
<html><head><title>Pricing | Acme AI</title></head>
<body><nav><a href="/">Home</a> · <a href="/docs">Docs</a> · <a href="/pricing">Pricing</a></nav>
<main>
<h1>API pricing</h1>
<p>Prices are in US dollars. Batch requests cost half.</p>
<table>
<thead><tr><th>Model</th><th>Input (per 1M tokens)</th><th>Cached input (per 1M tokens)</th><th>Output (per 1M tokens)</th></tr></thead>
<tbody>
<tr><td>acme-large-2411</td><td>$2.00</td><td>$0.50</td><td>{output}</td></tr>
<tr><td>acme-large-2407</td><td>$3.00</td><td>$0.75</td><td>$12.00</td></tr>
<tr><td>acme-small-2</td><td>$0.20</td><td>$0.05</td><td>$0.80</td></tr>
</tbody></table>
<h2>Images</h2>
<table><thead><tr><th>Model</th><th>Price (per image)</th></tr></thead>
<tbody><tr><td>acme-image-2</td><td>$0.04</td></tr></tbody></table>
</main>
<footer>© 2026 Acme AI · <a href="/legal">Legal</a></footer>
</body></html>"#
    )
}

/// The usage policy; `tightened` adds a prohibition and a new effective date.
pub fn usage_policy(today: NaiveDate, tightened: bool) -> String {
    let effective = if tightened {
        written(today + chrono::Duration::days(33))
    } else {
        "March 1st, 2026".to_owned()
    };
    let extra = if tightened {
        "<li>Generate political campaign materials or messaging targeted at voters.</li>\n"
    } else {
        ""
    };
    format!(
        r#"<!doctype html>
<html><head><title>Usage Policy | Acme AI</title></head>
<body><main>
<h1>Usage Policy</h1>
<p>Effective {effective}</p>
<p>This policy applies to everyone who uses Acme AI's models, APIs and products.</p>
<h2>Prohibited uses</h2>
<p>You may not use our services to:</p>
<ul>
<li>Develop or distribute malware, or attack computer systems.</li>
<li>Harass, threaten or bully any person.</li>
<li>Generate sexual content involving minors.</li>
{extra}</ul>
<h2>High-risk uses</h2>
<p>Medical, legal and financial advice given to consumers must be reviewed by a qualified professional.</p>
</main></body></html>"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_vendors_write_them() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(written(d(2027, 1, 5)), "January 5th, 2027");
        assert_eq!(written(d(2026, 12, 1)), "December 1st, 2026");
        assert_eq!(written(d(2026, 12, 12)), "December 12th, 2026");
        assert_eq!(written(d(2026, 12, 22)), "December 22nd, 2026");
    }

    #[test]
    fn the_status_versions_are_statuspage_documents() {
        for state in ["operational", "outage", "recovered"] {
            let v: serde_json::Value = serde_json::from_str(&status(state)).unwrap();
            assert_eq!(v["components"].as_array().unwrap().len(), 3);
        }
    }
}
