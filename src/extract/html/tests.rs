//! Tests of the `html` extractor.

use super::*;

fn rules(select: &[&str], remove: &[&str]) -> Rules {
    Rules {
        select: select.iter().map(|s| s.to_string()).collect(),
        remove: remove.iter().map(|s| s.to_string()).collect(),
        ..Rules::default()
    }
}

const PAGE: &str = r#"<!DOCTYPE html>
<html>
<head><title>Pricing</title><style>body { color: red }</style></head>
<body>
  <header><a href="/">Home</a></header>
  <nav><ul><li><a href="/docs">Docs</a></li></ul></nav>
  <div class="cookie-banner">We use cookies. <button>OK</button></div>
  <main>
    <h1>Model   pricing</h1>
    <p>Prices are per
       million tokens. See the <a href="/docs/pricing?utm_source=news&amp;tab=api">pricing docs</a>.</p>
    <script>var tracking = 1;</script>
    <h2>Models</h2>
    <ul>
      <li>Large
        <ul>
          <li>Input: $3</li>
          <li>Output: $15</li>
        </ul>
      </li>
      <li><p>Small</p></li>
    </ul>
    <table>
      <thead><tr><th>Model</th><th> Input </th><th>Output</th></tr></thead>
      <tbody>
        <tr><td>large-2</td><td>$3</td><td>$15</td></tr>
        <tr><td>small-1</td><td>$0.25</td><td>$1.25</td></tr>
      </tbody>
    </table>
    <pre>curl https://api.example.com
  --header "x: y"   </pre>
  </main>
  <footer>&copy; Example</footer>
</body>
</html>"#;

const PAGE_TEXT: &str = "# Model pricing

Prices are per million tokens. See the [pricing docs](https://example.com/docs/pricing?tab=api).

## Models

- Large
  - Input: $3
  - Output: $15
- Small

| Model | Input | Output |
| large-2 | $3 | $15 |
| small-1 | $0.25 | $1.25 |

curl https://api.example.com
  --header \"x: y\"";

#[test]
fn renders_selected_main_without_noise() {
    let base = Url::parse("https://example.com/pricing").unwrap();
    let text = extract(
        PAGE.as_bytes(),
        &rules(&["main"], &["nav", ".cookie-banner"]),
        Some(&base),
    )
    .unwrap();
    assert_eq!(text, PAGE_TEXT);
}

#[test]
fn whole_body_when_nothing_selected() {
    let text = extract(PAGE.as_bytes(), &rules(&[], &["nav", ".cookie-banner"]), None).unwrap();
    // The site's header and footer are chrome, not the document.
    assert!(text.starts_with("# Model pricing"), "{text}");
    assert!(text.contains("[pricing docs](/docs/pricing?tab=api)"), "{text}");
    assert!(!text.contains("© Example") && !text.contains("[Home]"), "{text}");
    assert!(!text.contains("cookies") && !text.contains("tracking") && !text.contains("color"));
    // Selected on purpose, a footer is the document.
    let footer = extract(PAGE.as_bytes(), &rules(&["footer"], &[]), None).unwrap();
    assert!(footer.contains("© Example"), "{footer}");
    // Without any remove rule, navigation and consent banners still go.
    let bare = extract(
        b"<body><nav><a href='/'>Home</a></nav><div id='onetrust-banner-sdk'><p>We use cookies.</p></div><main><p>Do not spam.</p></main><footer>(c) Acme</footer></body>",
        &rules(&[], &[]),
        None,
    )
    .unwrap();
    assert_eq!(bare, "Do not spam.");
}

#[test]
fn empty_selection_is_a_structure_error() {
    let err = extract(PAGE.as_bytes(), &rules(&["#gone", ".also-gone"], &[]), None).unwrap_err();
    assert!(matches!(err, ExtractError::EmptySelection(s) if s == "#gone"));
}

#[test]
fn one_matching_selector_is_enough_and_nested_matches_are_not_repeated() {
    let page = "<body><div id=a><p>one</p><div class=x><p>two</p></div></div>\
                <div class=x><p>three</p></div></body>";
    let text = extract(page.as_bytes(), &rules(&["#gone", ".x", "#a"], &[]), None).unwrap();
    assert_eq!(text, "one\n\ntwo\n\nthree");
}

#[test]
fn bad_selector_is_a_bad_rule() {
    let err = extract(b"<p>x</p>", &rules(&["main["], &[]), None).unwrap_err();
    assert!(matches!(err, ExtractError::BadRule(s) if s.contains("main[")));
    let err = extract(b"<p>x</p>", &rules(&[], &["::"]), None).unwrap_err();
    assert!(matches!(err, ExtractError::BadRule(_)));
}

#[test]
fn empty_document_is_an_error() {
    let page = b"<html><body><script>x()</script> \n <img alt=logo></body></html>";
    assert!(matches!(
        extract(page, &rules(&[], &[]), None),
        Err(ExtractError::Empty)
    ));
}

#[test]
fn links_are_resolved_filtered_and_stripped() {
    let page = r##"<p>
        <a href="https://x.com/a?utm_source=a&amp;id=7&amp;gclid=zz#top">abs</a>
        <a href="b?fbclid=1">rel</a>
        <a href="#section">anchor</a>
        <a href="javascript:void(0)">js</a>
        <a href="mailto:team@example.com">mail</a>
        <a href="/c"><img src="i.png" alt="icon"></a>
        <a href=" https://x.com/d?UTM_Medium=x "> spaced </a>end
    </p>"##;
    let base = Url::parse("https://example.com/dir/page").unwrap();
    let text = extract(page.as_bytes(), &rules(&["p"], &[]), Some(&base)).unwrap();
    assert_eq!(
        text,
        "[abs](https://x.com/a?id=7#top) [rel](https://example.com/dir/b) anchor js mail \
         [spaced](https://x.com/d) end"
    );
}

#[test]
fn strip_tracking_cases() {
    assert_eq!(
        strip_tracking("https://a.com/p?utm_source=x&q=rust%20lang&utm_campaign=y"),
        "https://a.com/p?q=rust%20lang"
    );
    assert_eq!(
        strip_tracking("https://a.com/p?gclid=1&_ga=2#frag"),
        "https://a.com/p#frag"
    );
    assert_eq!(strip_tracking("/rel?b=2&MSCLKID=1&a=1"), "/rel?b=2&a=1");
    assert_eq!(strip_tracking("https://a.com/p?"), "https://a.com/p");
    assert_eq!(strip_tracking("https://a.com/p?ref=1"), "https://a.com/p?ref=1");
    assert_eq!(strip_tracking("not a url"), "not a url");
}

#[test]
fn zero_width_characters_removed() {
    let page = "<p>\u{200B} Pri\u{200B}cing&shy; page\u{FEFF}</p><p>&nbsp;next&#8203;</p>";
    let text = extract(page.as_bytes(), &rules(&[], &[]), None).unwrap();
    assert_eq!(text, "Pricing page\n\nnext");
}

#[test]
fn whitespace_and_indentation_do_not_matter() {
    let compact = "<html><body><main><h2>Limits</h2><p>Rate <b>limits</b> apply.</p>\
                   <ul><li>Tier 1: 50 RPM</li><li>Tier 2: 1000 RPM</li></ul></main></body></html>";
    let indented = "<html>
      <body>
        <main>
          <h2>
            Limits
          </h2>
          <p>
            Rate
            <b>limits</b>
            apply.
          </p>
          <ul>
            <li>
              Tier 1: 50 RPM
            </li>
            <li>Tier 2:    1000 RPM</li>
          </ul>
        </main>
      </body>
    </html>";
    let r = rules(&["main"], &[]);
    let a = extract(compact.as_bytes(), &r, None).unwrap();
    let b = extract(indented.as_bytes(), &r, None).unwrap();
    assert_eq!(
        a,
        "## Limits\n\nRate limits apply.\n\n- Tier 1: 50 RPM\n- Tier 2: 1000 RPM"
    );
    assert_eq!(a, b);
}

#[test]
fn fragment_to_text() {
    let base = Url::parse("https://blog.example.com/posts/1").unwrap();
    let text = html_fragment_to_text(
        "<p>New <em>model</em>.</p><p>Read <a href='/posts/2?utm_x=1'>more</a></p>",
        Some(&base),
    );
    assert_eq!(text, "New model.\n\nRead [more](https://blog.example.com/posts/2)");
    assert_eq!(html_fragment_to_text("plain &amp; simple", None), "plain & simple");
}
