//! The `html` extractor: selected parts of a page rendered as Markdown-like plain text.
//!
//! The rendering keeps what a reader sees as structure (headings, list items, table rows, links)
//! and drops what changes without the content changing: markup, source whitespace and
//! indentation, scripts and styles, image alt texts, tracking parameters.

use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use super::text::{is_invisible, normalize_text};
use super::{ExtractError, Rules};

/// Elements that never carry visible text worth watching; always skipped with their subtree.
const ALWAYS_REMOVED: &[&str] = &["script", "style", "noscript", "template", "svg", "iframe", "head"];

/// Block elements separated from their surroundings by a blank line, like Markdown paragraphs.
const PARAGRAPH_BLOCKS: &[&str] = &[
    "p",
    "pre",
    "table",
    "blockquote",
    "hr",
    "figure",
    "dl",
    "details",
    "address",
];

/// Block elements that only start and end on their own line. Layout containers (`div`,
/// `section`, ...) nest deeply, so giving them blank lines would mostly add noise.
const LINE_BLOCKS: &[&str] = &[
    "html",
    "body",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "nav",
    "aside",
    "dt",
    "dd",
    "thead",
    "tbody",
    "tfoot",
    "td",
    "th",
    "caption",
    "figcaption",
    "summary",
    "form",
    "fieldset",
    "legend",
    "hgroup",
    "dialog",
    "search",
    "center",
    "option",
];

/// Query parameters that only identify a click, campaign or visitor; removing them keeps a link
/// from "changing" each time a page is regenerated. `utm_*` is matched as a prefix.
const TRACKING_PARAMS: &[&str] = &[
    "gclid",
    "fbclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "_ga",
    "_gl",
    "igshid",
    "ref_src",
    "spm",
    "vero_id",
    "oly_enc_id",
    "oly_anon_id",
];

/// A cookie-consent banner (OneTrust, Cookiebot, the usual `cookie-banner` ids and classes):
/// text the page shows every visitor, not part of the document, and injected or not at random.
fn is_consent_banner(element: ElementRef<'_>) -> bool {
    const MARKS: &[&str] = &[
        "onetrust",
        "cookiebot",
        "cookie-banner",
        "cookie-consent",
        "cookieconsent",
        "cookie-notice",
        "consent-banner",
        "cc-window",
        "gdpr-banner",
        "truste",
        "osano",
    ];
    let v = element.value();
    let id = v.id().unwrap_or("").to_ascii_lowercase();
    let label = v.attr("aria-label").unwrap_or("").to_ascii_lowercase();
    MARKS
        .iter()
        .any(|m| id.contains(m) || v.classes().any(|c| c.to_ascii_lowercase().contains(m)))
        || label.contains("cookie")
}

/// The site around a document: its navigation, header, footer and sidebars (by element or ARIA
/// role). Their links and notices change with the site, not with the document. A `header` or
/// `footer` inside an `article` is the article's own and stays.
fn is_chrome(element: ElementRef<'_>) -> bool {
    let v = element.value();
    let in_article = || {
        element
            .ancestors()
            .any(|a| a.value().as_element().is_some_and(|e| e.name() == "article"))
    };
    const BARS: &[&str] = &[
        "announcement",
        "promo-banner",
        "site-banner",
        "top-banner",
        "topbar",
        "top-bar",
        "notification-bar",
        "alert-bar",
        "skip-link",
        "breadcrumb",
    ];
    (matches!(v.name(), "nav" | "aside") || matches!(v.name(), "header" | "footer") && !in_article())
        || matches!(
            v.attr("role"),
            Some("navigation" | "banner" | "contentinfo" | "complementary")
        )
        || v.classes().any(|c| {
            let c = c.to_ascii_lowercase();
            BARS.iter().any(|b| c.contains(b))
        })
}

/// Extracts the text of the elements selected by `rules` from an HTML page.
pub(super) fn extract(body: &[u8], rules: &Rules, base_url: Option<&Url>) -> Result<String, ExtractError> {
    let select = compile_selectors(&rules.select)?;
    let remove = compile_selectors(&rules.remove)?;
    let html = Html::parse_document(&String::from_utf8_lossy(body));

    let roots = select_roots(&html, &select);
    if roots.is_empty() {
        let first = rules.select.first().map_or("body", String::as_str);
        return Err(ExtractError::EmptySelection(first.to_owned()));
    }

    let mut renderer = Renderer::new(&remove, base_url);
    for root in roots {
        renderer.blank_line();
        renderer.element(root);
        renderer.blank_line();
    }
    let text = normalize_text(&renderer.out);
    if text.is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(text)
}

/// Renders an HTML fragment (a feed summary, say) as plain text with the same rules as pages.
/// Relative links are resolved against `base_url` when given. May return an empty string.
pub(super) fn html_fragment_to_text(fragment: &str, base_url: Option<&Url>) -> String {
    let html = Html::parse_fragment(fragment);
    let mut renderer = Renderer::new(&[], base_url);
    renderer.children(html.root_element());
    normalize_text(&renderer.out)
}

/// Removes tracking query parameters (see [`TRACKING_PARAMS`]) from an absolute or relative URL,
/// keeping the other parameters in order and dropping a `?` left empty.
///
/// This edits the query string as text instead of going through `url::Url`'s query pairs:
/// re-serializing would re-encode the parameters that are kept (`%20` becoming `+` and so on),
/// which would change URLs that carried no tracking at all, and it works the same for relative
/// URLs, which `Url` cannot parse without a base.
pub fn strip_tracking(url: &str) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((head, frag)) => (head, Some(frag)),
        None => (url, None),
    };
    let Some((path, query)) = before_fragment.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !is_tracking_param(pair))
        .collect();

    let mut out = String::with_capacity(url.len());
    out.push_str(path);
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    if let Some(frag) = fragment {
        out.push('#');
        out.push_str(frag);
    }
    out
}

fn is_tracking_param(pair: &str) -> bool {
    let name = pair.split_once('=').map_or(pair, |(name, _)| name);
    let name = name.to_ascii_lowercase();
    name.starts_with("utm_") || TRACKING_PARAMS.contains(&name.as_str())
}

fn compile_selectors(selectors: &[String]) -> Result<Vec<Selector>, ExtractError> {
    selectors
        .iter()
        .map(|s| Selector::parse(s).map_err(|e| ExtractError::BadRule(format!("selector `{s}`: {e}"))))
        .collect()
}

/// The elements whose text makes up the document, in document order. A match nested inside
/// another match is skipped, since its text is already part of the outer one.
fn select_roots<'a>(html: &'a Html, select: &[Selector]) -> Vec<ElementRef<'a>> {
    let document = html.root_element();
    if select.is_empty() {
        let body = document.descendent_elements().find(|e| e.value().name() == "body");
        return vec![body.unwrap_or(document)];
    }
    // Walking the tree rather than using `Html::select`, which yields nodes in parse (arena)
    // order; the parser's error recovery can make that differ from document order.
    let mut roots: Vec<ElementRef<'a>> = Vec::new();
    for element in document.descendent_elements() {
        if !select.iter().any(|s| s.matches(&element)) {
            continue;
        }
        // In document order, a match nested in an earlier kept root is nested in the last one.
        let nested = roots
            .last()
            .is_some_and(|root| element.ancestors().any(|a| a.id() == root.id()));
        if !nested {
            roots.push(element);
        }
    }
    roots
}

/// Accumulates rendered text, tracking where lines start so that source whitespace never leaks
/// into the output: whitespace runs become one space, and only between words of the same line.
struct Renderer<'r> {
    /// `remove` selectors. Matched while walking down (a removed element's subtree is never
    /// visited) rather than collected up front as node ids: scraper does not re-export
    /// `ego_tree::NodeId`, and this needs no extra dependency for the same result.
    remove: &'r [Selector],
    base_url: Option<&'r Url>,
    out: String,
    /// The current line has no content yet.
    at_line_start: bool,
    /// Whitespace was seen since the last character written.
    pending_space: bool,
    /// Indentation of continuation lines (inside list items).
    indent: usize,
    /// A list item's `- ` marker, with its indentation, waiting for the item's first text.
    bullet: Option<usize>,
    list_depth: usize,
    pre_depth: usize,
    /// Elements entered: 0 at a selected root. Page chrome (navigation, site header and footer,
    /// sidebars) is skipped below a root, never as the root a source selected.
    depth: usize,
}

impl<'r> Renderer<'r> {
    fn new(remove: &'r [Selector], base_url: Option<&'r Url>) -> Self {
        Renderer {
            remove,
            base_url,
            out: String::new(),
            at_line_start: true,
            pending_space: false,
            indent: 0,
            bullet: None,
            list_depth: 0,
            pre_depth: 0,
            depth: 0,
        }
    }

    fn children(&mut self, parent: ElementRef<'_>) {
        for child in parent.children() {
            match child.value() {
                Node::Text(text) => self.text(text),
                Node::Element(_) => {
                    if let Some(element) = ElementRef::wrap(child) {
                        self.element(element);
                    }
                }
                // Comments, doctypes and processing instructions are not content.
                _ => {}
            }
        }
    }

    fn element(&mut self, element: ElementRef<'_>) {
        let name = element.value().name();
        if ALWAYS_REMOVED.contains(&name)
            || self.remove.iter().any(|s| s.matches(&element))
            || is_consent_banner(element)
            || (self.depth > 0 && is_chrome(element))
        {
            return;
        }
        self.depth += 1;
        self.element_inner(element, name);
        self.depth -= 1;
    }

    fn element_inner(&mut self, element: ElementRef<'_>, name: &str) {
        match name {
            "br" => self.newline(),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => self.heading(element, &name[1..]),
            "ul" | "ol" | "menu" => {
                self.blank_line();
                self.list_depth += 1;
                self.children(element);
                self.list_depth -= 1;
                self.blank_line();
            }
            "li" => self.list_item(element),
            "tr" => self.table_row(element),
            "pre" => {
                self.blank_line();
                self.pre_depth += 1;
                self.children(element);
                self.pre_depth -= 1;
                self.blank_line();
            }
            "a" => self.link(element),
            _ if PARAGRAPH_BLOCKS.contains(&name) => {
                self.blank_line();
                self.children(element);
                self.blank_line();
            }
            _ if LINE_BLOCKS.contains(&name) => {
                self.newline();
                self.children(element);
                self.newline();
            }
            // Inline elements (`img` included: its alt text is deliberately ignored).
            _ => self.children(element),
        }
    }

    fn heading(&mut self, element: ElementRef<'_>, level: &str) {
        let text = self.inline(element);
        if text.is_empty() {
            return;
        }
        let level = level.parse::<usize>().unwrap_or(1);
        self.blank_line();
        self.word(&format!("{} {text}", "#".repeat(level)));
        self.blank_line();
    }

    /// `- item`, nested lists indented by two spaces per level. Ordered lists use `- ` too:
    /// numbers would renumber every following item when one is inserted.
    fn list_item(&mut self, element: ElementRef<'_>) {
        self.newline();
        let bullet_indent = 2 * self.list_depth.saturating_sub(1);
        let outer_indent = self.indent;
        // An outer item whose first content is this nested list loses its (empty) bullet.
        self.bullet = Some(bullet_indent);
        self.indent = bullet_indent + 2;
        self.children(element);
        self.newline();
        self.indent = outer_indent;
        self.bullet = None;
    }

    /// One line per row: `| a | b |`. Rows of empty cells (spacers) are dropped.
    fn table_row(&mut self, row: ElementRef<'_>) {
        let cells: Vec<String> = row
            .child_elements()
            .filter(|c| matches!(c.value().name(), "td" | "th"))
            .filter(|c| !self.remove.iter().any(|s| s.matches(c)))
            .map(|c| self.inline(c))
            .collect();
        if cells.iter().all(String::is_empty) {
            return;
        }
        self.newline();
        self.word(&format!("| {} |", cells.join(" | ")));
        self.newline();
    }

    fn link(&mut self, element: ElementRef<'_>) {
        let Some(url) = element.attr("href").and_then(|h| self.link_target(h)) else {
            // Not a web link (anchor, script, mail...): its text reads as plain text.
            self.children(element);
            return;
        };
        let text = self.inline(element);
        if text.is_empty() {
            // Icon or image links: their alt texts are ignored, so there is nothing to show.
            return;
        }
        // Whitespace just inside the link still separates it from its neighbours.
        let raw: String = element.text().collect();
        if raw.starts_with(char::is_whitespace) {
            self.pending_space = true;
        }
        self.word(&format!("[{text}]({url})"));
        if raw.ends_with(char::is_whitespace) {
            self.pending_space = true;
        }
    }

    /// The URL a link renders with, or `None` when it is not a web link.
    fn link_target(&self, href: &str) -> Option<String> {
        let href = href.trim();
        if href.is_empty() || href.starts_with('#') {
            return None;
        }
        let absolute = match Url::parse(href) {
            Ok(url) => url,
            Err(url::ParseError::RelativeUrlWithoutBase) => match self.base_url {
                Some(base) => base.join(href).ok()?,
                // Without a base, a relative link is kept as written (minus tracking).
                None => return Some(strip_tracking(href)),
            },
            Err(_) => return None,
        };
        matches!(absolute.scheme(), "http" | "https").then(|| strip_tracking(absolute.as_str()))
    }

    /// The element's content rendered on a single line (headings, table cells, link texts).
    fn inline(&self, element: ElementRef<'_>) -> String {
        let mut sub = Renderer::new(self.remove, self.base_url);
        sub.children(element);
        sub.out.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn text(&mut self, text: &str) {
        if self.pre_depth > 0 {
            return self.preformatted(text);
        }
        for c in text.chars() {
            if is_invisible(c) {
                continue;
            }
            if c.is_whitespace() {
                self.pending_space = true;
                continue;
            }
            self.start_content();
            self.out.push(c);
        }
    }

    /// Text inside `<pre>`: line breaks are kept, spacing is left to `normalize_text`.
    fn preformatted(&mut self, text: &str) {
        for c in text.chars() {
            match c {
                '\n' => {
                    // An empty line inside `pre` is kept as a blank line.
                    self.out.push('\n');
                    self.at_line_start = true;
                }
                c if is_invisible(c) => {}
                c => {
                    if self.at_line_start {
                        self.start_line();
                    }
                    self.out.push(c);
                }
            }
        }
    }

    /// Writes a token that must not be split, with the usual spacing before it.
    fn word(&mut self, word: &str) {
        self.start_content();
        self.out.push_str(word);
    }

    /// Prepares for a non-space character: indentation at a line start, else a pending space.
    fn start_content(&mut self) {
        if self.at_line_start {
            self.start_line();
        } else if self.pending_space {
            self.out.push(' ');
        }
        self.pending_space = false;
    }

    fn start_line(&mut self) {
        match self.bullet.take() {
            Some(indent) => {
                self.push_spaces(indent);
                self.out.push_str("- ");
            }
            None => self.push_spaces(self.indent),
        }
        self.at_line_start = false;
    }

    fn push_spaces(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(' ', n));
    }

    fn newline(&mut self) {
        if !self.at_line_start {
            self.out.push('\n');
            self.at_line_start = true;
        }
        self.pending_space = false;
    }

    /// Ends the line and leaves one blank line, except inside lists, which stay compact.
    fn blank_line(&mut self) {
        self.newline();
        if self.list_depth == 0 && !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests;
