//! Numbers, money amounts and rate-limit quantities in free text.
//!
//! All values are returned as *plain decimal strings* (the facts contract: `"2"`, `"0.8"`,
//! `"1000"`): no currency sign, no thousands separators, no exponent, no trailing fractional
//! zeros. Conversion is exact (string arithmetic, never through `f64`), so `0.000015` stays
//! `0.000015` and `1.5e-6` becomes `0.0000015`.
//!
//! Magnitude suffixes `K`/`k` (×1,000), `M` (×1,000,000) and `B` (×1,000,000,000) are honoured
//! only when directly attached to the number and not followed by a letter (`2K`, `1.5M`, but
//! not `2 K` or `5MTok`). Lowercase `m`/`b` are not suffixes (too often minutes or bytes).
//! Thousands separators must be well formed (`1,000`, `12,345,678`); `1,00` or `1,5` (decimal
//! comma) are rejected rather than guessed.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// A money amount found in text. `amount` is a plain decimal; `unit` is one of the normalised
/// units listed on [`find_prices`]. `start..end` spans the currency sign/code, the amount and,
/// when recognised, the unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPrice {
    pub amount: String,
    pub unit: Option<String>,
    pub start: usize,
    pub end: usize,
}

/// A rate-limit quantity found in text. `value` is a plain decimal; `unit` is one of
/// `requests per minute`, `requests per day`, `requests per second`, `tokens per minute`,
/// `tokens per day`, `images per minute`. `start..end` spans the number and the unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundQuantity {
    pub value: String,
    pub unit: String,
    pub start: usize,
    pub end: usize,
}

/// Largest decimal exponent accepted; beyond it a "number" is garbage, not a price.
const MAX_EXP: i32 = 60;

/// A number with optional well-formed thousands separators and fraction (no sign, no exponent).
const NUM: &str = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+";

static DECIMAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?P<num>{NUM})(?:[eE](?P<exp>[+-]?\d+))?(?P<suffix>[kKMB])?$"
    ))
    .unwrap()
});

static CURRENCY_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:US\$|\$|€|£|(?i:usd|eur|gbp)\s*)").unwrap());
static CURRENCY_SUFFIX: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s*(?:\$|€|£|(?i:usd|eur|gbp))$").unwrap());

static PRICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:(?P<pre>US\$|\$|€|£|(?i:usd|eur|gbp))\s?(?P<n1>(?:{NUM})(?:[eE][+-]?\d+)?)|(?P<n2>(?:{NUM})(?:[eE][+-]?\d+)?)\s?(?P<post>\$|€|£|(?i:usd|eur|gbp)))"
    ))
    .unwrap()
});

static REDUNDANT_CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s?(?i:usd|eur|gbp)").unwrap());

static QUANTITY_NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"(?:{NUM})[kKMB]?")).unwrap());

/// Qualifier words allowed between a price's quantity and its noun ("per 1M *cached input* tokens").
const QUAL: &str = r"(?:(?:input|output|prompt|completion|cached|cache|read|write|hit|miss|batch|batched|text|audio|image|video|generated|sampled|training|context|reasoning)\s+){0,3}";
const PER: &str = r"^\s*(?:/|per\b|an?\b)\s*";
const ONE_MILLION: &str = r"(?:1\s*M|1\s*mn|1,000,000|1000000|(?:one|a|1)\s+million|million|M)";
const ONE_THOUSAND: &str = r"(?:1\s*K|1,000|1000|(?:one|a|1)\s+thousand|thousand|K)";

/// Unit patterns tried in order right after an amount; each must end at a non-alphanumeric.
static PRICE_UNITS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let u = |body: String, unit: &'static str| (Regex::new(&format!("{PER}{body}")).unwrap(), unit);
    vec![
        u(format!(r"(?i:{ONE_MILLION}\s*{QUAL}tok(?:en)?s?)"), "per 1M tokens"),
        u(format!(r"(?i:{ONE_THOUSAND}\s*{QUAL}tok(?:en)?s?)"), "per 1K tokens"),
        u(
            format!(r"(?i:{ONE_MILLION}\s*{QUAL}char(?:acter)?s?)"),
            "per 1M characters",
        ),
        u(
            format!(r"(?i:{ONE_THOUSAND}\s*(?:api\s+)?(?:req(?:uest)?s?|calls?))"),
            "per 1K requests",
        ),
        u(format!(r"(?i:(?:1\s+)?{QUAL}tok(?:en)?)"), "per token"),
        u(r"(?i:(?:1\s+)?char(?:acter)?)".into(), "per character"),
        u(
            format!(r"(?i:(?:1\s+)?{QUAL}(?:image|img|picture|photo)s?)"),
            "per image",
        ),
        u(r"(?i:(?:1\s+)?(?:api\s+)?(?:req(?:uest)?|call))".into(), "per request"),
        u(r"(?i:(?:1\s+)?min(?:ute)?)".into(), "per minute"),
        u(r"(?i:(?:1\s+)?(?:sec(?:ond)?|s))".into(), "per second"),
        u(r"(?i:(?:1\s+)?(?:hour|hr|h))".into(), "per hour"),
        // Bare magnitudes: "/1M", "/ 1K", "per million" mean tokens on AI price sheets. A bare
        // lowercase "m" is not accepted (per minute? per month?).
        u(r"(?:1\s*[Mm]|M|(?i:million)|1,000,000)".into(), "per 1M tokens"),
        u(r"(?:1\s*[Kk]|[Kk]|(?i:thousand)|1,000)".into(), "per 1K tokens"),
    ]
});

/// Rate-limit unit patterns tried in order right after a number.
static QUANTITY_UNITS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let per = r"\s*(?:/|per\b|an?\b|each\b)\s*";
    let req = r"(?:api\s+)?(?:req(?:uest)?s?|calls?)";
    let tok = r"(?:(?:input|output|prompt|completion)\s+)?tok(?:en)?s?";
    let img = r"(?:images?|imgs?)";
    let minute = r"(?:min(?:ute)?|m)";
    let day = r"(?:day|d)";
    let second = r"(?:sec(?:ond)?|s)";
    let q = |body: String, unit: &'static str| (Regex::new(&format!(r"^\s*(?i:{body})")).unwrap(), unit);
    vec![
        q("rpm".into(), "requests per minute"),
        q("rpd".into(), "requests per day"),
        q("rps".into(), "requests per second"),
        q("tpm".into(), "tokens per minute"),
        q("tpd".into(), "tokens per day"),
        q("ipm".into(), "images per minute"),
        q(format!("{req}{per}{minute}"), "requests per minute"),
        q(format!("{req}{per}{day}"), "requests per day"),
        q(format!("{req}{per}{second}"), "requests per second"),
        q(format!("{tok}{per}{minute}"), "tokens per minute"),
        q(format!("{tok}{per}{day}"), "tokens per day"),
        q(format!("{img}{per}{minute}"), "images per minute"),
    ]
});

/// Characters that may wrap a value in a cell: whitespace, markdown emphasis, code ticks,
/// table pipes and quotes.
fn is_wrapper(c: char) -> bool {
    c.is_whitespace() || matches!(c, '*' | '_' | '`' | '|' | '"' | '\'')
}

/// Parses a string that is exactly one number, optionally with a sign, a currency sign or code
/// (before or after), thousands separators, an exponent and an attached K/M/B suffix, into a
/// plain decimal string. Dashes, `N/A`, empty cells and anything else give `None`.
///
/// `"$2.00"` → `"2"`, `"$0.80"` → `"0.8"`, `"1,000"` → `"1000"`, `"1.5e-6"` → `"0.0000015"`,
/// `"1.5M"` → `"1500000"`.
pub fn parse_decimal(s: &str) -> Option<String> {
    let mut rest = s.trim_matches(is_wrapper);
    let mut negative = false;
    if let Some(r) = rest.strip_prefix(['-', '−', '+']) {
        negative = rest.starts_with(['-', '−']);
        rest = r;
    }
    if let Some(m) = CURRENCY_PREFIX.find(rest) {
        rest = &rest[m.end()..];
        if let Some(r) = rest.strip_prefix(['-', '−', '+']) {
            if negative {
                return None; // two signs
            }
            negative = rest.starts_with(['-', '−']);
            rest = r;
        }
    } else if let Some(m) = CURRENCY_SUFFIX.find(rest) {
        rest = &rest[..m.start()];
    }
    let caps = DECIMAL.captures(rest)?;
    let value = plain_decimal(
        &caps["num"],
        caps.name("exp").map(|m| m.as_str()),
        caps.name("suffix").map(|m| m.as_str()),
    )?;
    Some(if negative && value != "0" {
        format!("-{value}")
    } else {
        value
    })
}

/// Exact conversion of `num` (digits, optional commas and fraction) × 10^exp × suffix to a
/// plain decimal string.
fn plain_decimal(num: &str, exp: Option<&str>, suffix: Option<&str>) -> Option<String> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let mut digits: String = int.chars().filter(char::is_ascii_digit).collect();
    digits.push_str(frac);
    let exp: i32 = match exp {
        Some(e) => e.parse().ok().filter(|e: &i32| e.abs() <= MAX_EXP)?,
        None => 0,
    };
    let suffix_exp = match suffix {
        Some("K" | "k") => 3,
        Some("M") => 6,
        Some("B") => 9,
        _ => 0,
    };
    let mut scale = exp + suffix_exp - i32::try_from(frac.len()).ok()?;
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        return Some("0".to_string());
    }
    let mut digits = trimmed.to_string();
    while scale < 0 && digits.ends_with('0') {
        digits.pop();
        scale += 1;
    }
    if scale >= 0 {
        digits.push_str(&"0".repeat(usize::try_from(scale).ok()?));
        return Some(digits);
    }
    let point = i32::try_from(digits.len()).ok()? + scale;
    Some(if point <= 0 {
        format!("0.{}{digits}", "0".repeat(usize::try_from(-point).ok()?))
    } else {
        let (i, f) = digits.split_at(usize::try_from(point).ok()?);
        format!("{i}.{f}")
    })
}

/// Whether `after` continues the number (`1,0000`, `1,00`, `1.2.3`).
fn number_continues(after: &str) -> bool {
    let mut chars = after.chars();
    match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some(',' | '.') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

fn starts_alnum(s: &str) -> bool {
    s.starts_with(char::is_alphanumeric)
}

fn ends_alnum(s: &str) -> bool {
    s.ends_with(char::is_alphanumeric)
}

/// Length of an attached magnitude suffix at the start of `after` (0 if none).
fn suffix_len(after: &str) -> usize {
    let mut chars = after.chars();
    match chars.next() {
        Some('K' | 'k' | 'M' | 'B') if !chars.next().is_some_and(char::is_alphanumeric) => 1,
        _ => 0,
    }
}

/// Money amounts with a currency sign or code (`$`, `US$`, `€`, `£`, `USD`, `EUR`, `GBP`,
/// before or after the number), in order of appearance, with the unit that directly follows,
/// normalised to one of: `per 1M tokens`, `per 1K tokens`, `per token`, `per image`,
/// `per minute`, `per second`, `per hour`, `per request`, `per 1K requests`, `per character`,
/// `per 1M characters`. Accepted unit spellings include `/ 1M tokens`, `/MTok`, `/M Tokens`,
/// `per million output tokens`, `per 1,000 tokens`, `/1K` (bare magnitudes mean tokens),
/// `/ image`, `per generated image`, `/min`, `/s`, `per 1K requests`.
pub fn find_prices(text: &str) -> Vec<FoundPrice> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos <= text.len() {
        let Some(caps) = PRICE.captures_at(text, pos) else {
            break;
        };
        let m = caps.get(0).expect("group 0");
        match price_at(text, &caps) {
            Some(p) => {
                pos = p.end.max(m.start() + 1);
                out.push(p);
            }
            None => pos = next_char_boundary(text, m.start()),
        }
    }
    out
}

fn price_at(text: &str, caps: &Captures<'_>) -> Option<FoundPrice> {
    let m = caps.get(0)?;
    let before = &text[..m.start()];
    let (num, mut end) = if let Some(n) = caps.name("n1") {
        let pre = caps.name("pre")?;
        // A code must start a word; a sign may follow anything except a digit ("5$5").
        if pre.as_str().starts_with(char::is_alphabetic) && ends_alnum(before) {
            return None;
        }
        if number_continues(&text[n.end()..]) {
            return None;
        }
        let num_end = n.end() + suffix_len(&text[n.end()..]);
        let end = match REDUNDANT_CODE.find(&text[num_end..]) {
            Some(code) if !starts_alnum(&text[num_end + code.end()..]) => num_end + code.end(),
            _ => num_end,
        };
        (&text[n.start()..num_end], end)
    } else {
        let n = caps.name("n2")?;
        let post = caps.name("post")?;
        if ends_alnum(before) || before.ends_with(['.', ',', '$', '€', '£', '-']) {
            return None;
        }
        if starts_alnum(&text[post.end()..]) {
            return None;
        }
        (n.as_str(), post.end())
    };
    let amount = parse_decimal(num)?;
    let mut unit = None;
    let after = &text[end..];
    for (re, name) in PRICE_UNITS.iter() {
        if let Some(u) = re.find(after)
            && !starts_alnum(&after[u.end()..])
        {
            unit = Some((*name).to_string());
            end += u.end();
            break;
        }
    }
    Some(FoundPrice {
        amount,
        unit,
        start: m.start(),
        end,
    })
}

/// Rate-limit quantities: `60 RPM`, `10,000 TPM`, `1M tokens per minute`, `500 requests/min`,
/// `100 RPD`, `2,000,000 tokens per day`, `5 RPS`, `20 images per minute`, in order of
/// appearance. Numbers glued to a currency sign or a word are ignored.
pub fn find_quantities(text: &str) -> Vec<FoundQuantity> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos <= text.len() {
        let Some(m) = QUANTITY_NUMBER.find_at(text, pos) else {
            break;
        };
        match quantity_at(text, m.start(), m.end()) {
            Some(q) => {
                pos = q.end;
                out.push(q);
            }
            None => pos = next_char_boundary(text, m.start()),
        }
    }
    out
}

fn quantity_at(text: &str, start: usize, num_end: usize) -> Option<FoundQuantity> {
    let before = &text[..start];
    if ends_alnum(before) || before.ends_with(['.', ',', '$', '€', '£', '-', '_']) {
        return None;
    }
    // The regex may have taken a letter that is really the start of a unit ("5 RPS" is fine,
    // but "5Mtok" is not a suffix); only keep a suffix followed by a non-alphanumeric.
    let mut num_end = num_end;
    if text[..num_end].ends_with(['K', 'k', 'M', 'B']) && starts_alnum(&text[num_end..]) {
        num_end -= 1;
    }
    if number_continues(&text[num_end..]) {
        return None;
    }
    let value = parse_decimal(&text[start..num_end])?;
    let after = &text[num_end..];
    QUANTITY_UNITS.iter().find_map(|(re, unit)| {
        let u = re.find(after)?;
        (!starts_alnum(&after[u.end()..])).then(|| FoundQuantity {
            value: value.clone(),
            unit: (*unit).to_string(),
            start,
            end: num_end + u.end(),
        })
    })
}

fn next_char_boundary(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(text.len() + 1, |c| i + c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<String> {
        parse_decimal(s)
    }

    fn prices(text: &str) -> Vec<(String, Option<String>)> {
        find_prices(text).into_iter().map(|p| (p.amount, p.unit)).collect()
    }

    fn price(amount: &str, unit: Option<&str>) -> (String, Option<String>) {
        (amount.to_string(), unit.map(str::to_string))
    }

    fn quantities(text: &str) -> Vec<(String, String)> {
        find_quantities(text).into_iter().map(|q| (q.value, q.unit)).collect()
    }

    fn qty(v: &str, u: &str) -> (String, String) {
        (v.to_string(), u.to_string())
    }

    // ---- parse_decimal ----

    #[test]
    fn decimal_currency_and_trailing_zeros() {
        assert_eq!(d("$2.00").as_deref(), Some("2"));
        assert_eq!(d("$0.80").as_deref(), Some("0.8"));
        assert_eq!(d("€1.5").as_deref(), Some("1.5"));
        assert_eq!(d("£12.340").as_deref(), Some("12.34"));
        assert_eq!(d("US$7").as_deref(), Some("7"));
        assert_eq!(d("USD 3.10").as_deref(), Some("3.1"));
        assert_eq!(d("0.25 EUR").as_deref(), Some("0.25"));
        assert_eq!(d("4.5€").as_deref(), Some("4.5"));
        assert_eq!(d("10.0").as_deref(), Some("10"));
        assert_eq!(d("100").as_deref(), Some("100"));
    }

    #[test]
    fn decimal_thousands_separators() {
        assert_eq!(d("1,000").as_deref(), Some("1000"));
        assert_eq!(d("12,345,678.90").as_deref(), Some("12345678.9"));
        assert_eq!(d("$1,250.50").as_deref(), Some("1250.5"));
        assert_eq!(d("1,00"), None);
        assert_eq!(d("1,5"), None);
        assert_eq!(d("1234,567"), None);
        assert_eq!(d(",100"), None);
    }

    #[test]
    fn decimal_small_and_exponent() {
        assert_eq!(d("0.000015").as_deref(), Some("0.000015"));
        assert_eq!(d("1.5e-6").as_deref(), Some("0.0000015"));
        assert_eq!(d("2E3").as_deref(), Some("2000"));
        assert_eq!(d("2.5e+2").as_deref(), Some("250"));
        assert_eq!(d("1e0").as_deref(), Some("1"));
        assert_eq!(d(".5").as_deref(), Some("0.5"));
        assert_eq!(d("0.0").as_deref(), Some("0"));
        assert_eq!(d("000.0100").as_deref(), Some("0.01"));
        assert_eq!(d("1e999999"), None);
    }

    #[test]
    fn decimal_magnitude_suffixes() {
        assert_eq!(d("2K").as_deref(), Some("2000"));
        assert_eq!(d("128k").as_deref(), Some("128000"));
        assert_eq!(d("1.5M").as_deref(), Some("1500000"));
        assert_eq!(d("2.25B").as_deref(), Some("2250000000"));
        assert_eq!(d("$0.5K").as_deref(), Some("500"));
        assert_eq!(d("1.0005K").as_deref(), Some("1000.5"));
        assert_eq!(d("2 K"), None);
        assert_eq!(d("5m"), None);
        assert_eq!(d("5KB"), None);
    }

    #[test]
    fn decimal_signs_and_wrappers() {
        assert_eq!(d("-3.5").as_deref(), Some("-3.5"));
        assert_eq!(d("-$2").as_deref(), Some("-2"));
        assert_eq!(d("$-2").as_deref(), Some("-2"));
        assert_eq!(d("+4").as_deref(), Some("4"));
        assert_eq!(d("-0.00").as_deref(), Some("0"));
        assert_eq!(d("**$3.00**").as_deref(), Some("3"));
        assert_eq!(d("| `0.40` |").as_deref(), Some("0.4"));
        assert_eq!(d("  7  ").as_deref(), Some("7"));
        assert_eq!(d("--2"), None);
    }

    #[test]
    fn decimal_non_numbers() {
        for s in [
            "-", "—", "N/A", "n/a", "", "  ", "$", "free", "1.2.3", "v2.10.3", "2.", "1 000", "12%", "$2.50/1M",
            "0x10", "1e",
        ] {
            assert_eq!(d(s), None, "{s:?}");
        }
    }

    // ---- find_prices ----

    #[test]
    fn price_cells_with_units() {
        assert_eq!(prices("$2.50 / 1M tokens"), vec![price("2.5", Some("per 1M tokens"))]);
        assert_eq!(
            prices("$15 per million output tokens"),
            vec![price("15", Some("per 1M tokens"))]
        );
        assert_eq!(prices("€0.40/1K"), vec![price("0.4", Some("per 1K tokens"))]);
        assert_eq!(prices("$3/MTok"), vec![price("3", Some("per 1M tokens"))]);
        assert_eq!(prices("$0.30 /M Tokens"), vec![price("0.3", Some("per 1M tokens"))]);
        assert_eq!(
            prices("$0.002 per 1,000 tokens"),
            vec![price("0.002", Some("per 1K tokens"))]
        );
        assert_eq!(
            prices("$0.03 per 1K prompt tokens"),
            vec![price("0.03", Some("per 1K tokens"))]
        );
        assert_eq!(
            prices("$1.25 per 1M cached input tokens"),
            vec![price("1.25", Some("per 1M tokens"))]
        );
        assert_eq!(
            prices("$0.000002 per token"),
            vec![price("0.000002", Some("per token"))]
        );
        assert_eq!(prices("$0.04 / image"), vec![price("0.04", Some("per image"))]);
        assert_eq!(
            prices("$0.08 per generated image"),
            vec![price("0.08", Some("per image"))]
        );
        assert_eq!(prices("$0.006 / minute"), vec![price("0.006", Some("per minute"))]);
        assert_eq!(prices("$0.006/min"), vec![price("0.006", Some("per minute"))]);
        assert_eq!(prices("$0.0001/s"), vec![price("0.0001", Some("per second"))]);
        assert_eq!(prices("$1.20 per hour"), vec![price("1.2", Some("per hour"))]);
        assert_eq!(prices("$0.01 per request"), vec![price("0.01", Some("per request"))]);
        assert_eq!(
            prices("$25 per 1K requests"),
            vec![price("25", Some("per 1K requests"))]
        );
        assert_eq!(prices("$35 / 1,000 calls"), vec![price("35", Some("per 1K requests"))]);
        assert_eq!(
            prices("$0.00002 per character"),
            vec![price("0.00002", Some("per character"))]
        );
        assert_eq!(
            prices("$16 per 1M characters"),
            vec![price("16", Some("per 1M characters"))]
        );
        assert_eq!(
            prices("USD 4 per million tokens"),
            vec![price("4", Some("per 1M tokens"))]
        );
        assert_eq!(prices("$1 / 1M"), vec![price("1", Some("per 1M tokens"))]);
    }

    #[test]
    fn price_spans_cover_sign_amount_and_unit() {
        let t = "Input: **$2.50 / 1M tokens**, output $10.";
        let got = find_prices(t);
        assert_eq!(got.len(), 2);
        assert_eq!(&t[got[0].start..got[0].end], "$2.50 / 1M tokens");
        assert_eq!(&t[got[1].start..got[1].end], "$10");
        assert_eq!(got[1].unit, None);
    }

    #[test]
    fn price_without_unit_and_unknown_unit() {
        assert_eq!(prices("costs $5."), vec![price("5", None)]);
        assert_eq!(prices("$20/month"), vec![price("20", None)]);
        assert_eq!(prices("$20 per seat"), vec![price("20", None)]);
        assert_eq!(prices("$2/m"), vec![price("2", None)]); // ambiguous: minute or month
    }

    #[test]
    fn price_currency_forms() {
        assert_eq!(prices("£0.75 per hour"), vec![price("0.75", Some("per hour"))]);
        assert_eq!(
            prices("0.50 USD per 1M tokens"),
            vec![price("0.5", Some("per 1M tokens"))]
        );
        assert_eq!(prices("1.10€/1M tokens"), vec![price("1.1", Some("per 1M tokens"))]);
        assert_eq!(prices("EUR 0.9"), vec![price("0.9", None)]);
        assert_eq!(prices("US$ 3 / 1M tokens"), vec![price("3", Some("per 1M tokens"))]);
        assert_eq!(
            prices("$2.50 USD / 1M tokens"),
            vec![price("2.5", Some("per 1M tokens"))]
        );
        assert_eq!(prices("$ 4"), vec![price("4", None)]);
    }

    #[test]
    fn price_thousands_and_suffixes() {
        assert_eq!(prices("$1,500 per hour"), vec![price("1500", Some("per hour"))]);
        assert_eq!(prices("a $2.5M contract"), vec![price("2500000", None)]);
        assert_eq!(prices("$12,000,000"), vec![price("12000000", None)]);
        assert_eq!(prices("$3M tokens"), vec![price("3000000", None)]);
    }

    #[test]
    fn several_prices_in_a_table_row() {
        let t = "| some-model | $1.10 / 1M tokens | $4.40 / 1M tokens | $0.275 / 1M tokens |";
        assert_eq!(
            prices(t),
            vec![
                price("1.1", Some("per 1M tokens")),
                price("4.4", Some("per 1M tokens")),
                price("0.275", Some("per 1M tokens"))
            ]
        );
    }

    #[test]
    fn prices_need_a_currency() {
        assert!(prices("input_mtok: 0.4").is_empty());
        assert!(prices("version 2.10.3, 128k context, 60 RPM").is_empty());
        assert!(prices("$").is_empty());
        assert!(prices("").is_empty());
        assert!(prices("USDC 5").is_empty());
        assert!(prices("5 USDC").is_empty());
        assert!(prices("AUSD 5").is_empty());
        assert!(prices("v1.5EUR").is_empty());
    }

    #[test]
    fn malformed_amounts_rejected() {
        assert!(prices("$1,00 per token").is_empty());
        assert!(prices("$1.2.3").is_empty());
        assert_eq!(prices("$1,0000"), vec![]);
    }

    #[test]
    fn unit_must_end_at_word_boundary() {
        assert_eq!(prices("$2/minimum order"), vec![price("2", None)]);
        assert_eq!(prices("$3 per tokenizer"), vec![price("3", None)]);
        assert_eq!(prices("$1 per images"), vec![price("1", Some("per image"))]);
    }

    #[test]
    fn unicode_around_prices() {
        let t = "Prix : 0,5 € — “$0.10 / image” ✓";
        let got = find_prices(t);
        assert_eq!(got.iter().map(|p| p.amount.as_str()).collect::<Vec<_>>(), vec!["0.1"]);
        assert!(t.is_char_boundary(got[0].start) && t.is_char_boundary(got[0].end));
    }

    // ---- find_quantities ----

    #[test]
    fn rate_limit_acronyms() {
        assert_eq!(quantities("60 RPM"), vec![qty("60", "requests per minute")]);
        assert_eq!(quantities("10,000 TPM"), vec![qty("10000", "tokens per minute")]);
        assert_eq!(quantities("100 RPD"), vec![qty("100", "requests per day")]);
        assert_eq!(quantities("5 RPS"), vec![qty("5", "requests per second")]);
        assert_eq!(quantities("250 tpd"), vec![qty("250", "tokens per day")]);
        assert_eq!(quantities("7 IPM"), vec![qty("7", "images per minute")]);
        assert_eq!(quantities("40k TPM"), vec![qty("40000", "tokens per minute")]);
        assert_eq!(quantities("30RPM"), vec![qty("30", "requests per minute")]);
    }

    #[test]
    fn rate_limit_spelled_out() {
        assert_eq!(
            quantities("1M tokens per minute"),
            vec![qty("1000000", "tokens per minute")]
        );
        assert_eq!(quantities("500 requests/min"), vec![qty("500", "requests per minute")]);
        assert_eq!(
            quantities("2,000,000 tokens per day"),
            vec![qty("2000000", "tokens per day")]
        );
        assert_eq!(
            quantities("3 requests per second"),
            vec![qty("3", "requests per second")]
        );
        assert_eq!(
            quantities("1,500 requests a day"),
            vec![qty("1500", "requests per day")]
        );
        assert_eq!(
            quantities("80,000 input tokens per minute"),
            vec![qty("80000", "tokens per minute")]
        );
        assert_eq!(quantities("15 images/minute"), vec![qty("15", "images per minute")]);
        assert_eq!(quantities("20 calls / min"), vec![qty("20", "requests per minute")]);
        assert_eq!(quantities("1.5M TPD"), vec![qty("1500000", "tokens per day")]);
    }

    #[test]
    fn rate_limits_in_table_and_prose() {
        let t = "| tier-1 | 500 RPM | 30,000 TPM | 10,000 RPD |";
        assert_eq!(
            quantities(t),
            vec![
                qty("500", "requests per minute"),
                qty("30000", "tokens per minute"),
                qty("10000", "requests per day")
            ]
        );
        let t = "Limits rise from 50 RPM to 1,000 RPM.";
        let got = find_quantities(t);
        assert_eq!(got.len(), 2);
        assert_eq!(&t[got[1].start..got[1].end], "1,000 RPM");
    }

    #[test]
    fn non_rate_limits_ignored() {
        assert!(quantities("128k context window").is_empty());
        assert!(quantities("v2.10.3").is_empty());
        assert!(quantities("$5 RPM").is_empty());
        assert!(quantities("gpt5 RPM").is_empty());
        assert!(quantities("60 RPMs").is_empty());
        assert!(quantities("60 requests per month").is_empty());
        assert!(quantities("1,00 RPM").is_empty());
        assert!(quantities("").is_empty());
        assert!(quantities("tokens per minute").is_empty());
    }
}
