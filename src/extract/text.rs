//! Plain-text normalization, shared by every extractor, and the `markdown` / `text` extractor.
//!
//! The goal is that two renderings of the same content compare equal: invisible characters,
//! exotic spaces, line-ending styles and whitespace runs are all folded away, while line
//! structure and leading indentation (which carries meaning in lists and code) are kept.

use super::ExtractError;

/// Characters that render as nothing but make otherwise equal strings differ. CMSs sprinkle them
/// (zero-width spaces to allow line breaks, soft hyphens for hyphenation, stray BOMs from
/// concatenated files) and editors change them without anyone seeing it.
pub(super) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Horizontal spacing characters that are all rendered as (some width of) a plain space: tab,
/// vertical tab, form feed and the Unicode space separators (category Zs).
fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\u{0B}' | '\u{0C}' | '\u{00A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// Normalizes text so that invisible differences are not reported as changes.
///
/// Line endings become `\n`; zero-width characters and soft hyphens are removed; every kind of
/// space becomes `' '`; runs of spaces inside a line collapse to one, but a line's leading
/// indentation is kept as-is (it is the nesting of lists and code); trailing spaces are trimmed;
/// at most one blank line separates paragraphs; the document has no leading or trailing blank
/// lines and no final newline.
pub fn normalize_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Blank lines seen since the last non-blank line; only emitted once more text follows, which
    // trims trailing blank lines for free.
    let mut blank_run = 0usize;
    let mut seen_text = false;

    let unified = s.replace("\r\n", "\n").replace(['\r', '\u{2028}', '\u{2029}'], "\n");
    for raw_line in unified.split('\n') {
        let line = normalize_line(raw_line);
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if seen_text {
            out.push('\n');
            if blank_run > 0 {
                out.push('\n');
            }
        }
        out.push_str(&line);
        seen_text = true;
        blank_run = 0;
    }
    out
}

/// One line: invisible characters dropped, spaces unified, inner runs collapsed, indentation
/// kept, trailing spaces trimmed. A line of only spaces becomes empty.
fn normalize_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_indent = true;
    let mut pending_space = false;
    for c in line.chars().filter(|&c| !is_invisible(c)) {
        if is_space(c) {
            if in_indent {
                out.push(' ');
            } else {
                pending_space = true;
            }
            continue;
        }
        in_indent = false;
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    if in_indent {
        // Nothing but spaces: a blank line, not an indented empty one.
        out.clear();
    }
    out
}

/// The `markdown` and `text` extractor: the document is its own text. Undecodable bytes become
/// U+FFFD rather than failing, so one bad byte cannot stop a source from being watched.
pub(super) fn extract(body: &[u8]) -> Result<String, ExtractError> {
    let decoded = String::from_utf8_lossy(body);
    let decoded = decoded.strip_prefix('\u{FEFF}').unwrap_or(&decoded);
    let text = normalize_text(&tab_tables(decoded));
    if text.is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(text)
}

/// The cells of a tab-separated line (a table copied from a page or exported as TSV): two or
/// more, split at inner tabs; `None` for a line without inner tabs.
fn tab_cells(line: &str) -> Option<Vec<&str>> {
    let body = line.trim();
    if !body.contains('\t') {
        return None;
    }
    let cells: Vec<&str> = body.split('\t').map(str::trim).filter(|c| !c.is_empty()).collect();
    (cells.len() >= 2).then_some(cells)
}

/// Tab-separated tables written as pipe tables, so that their columns survive the folding of
/// spaces (and the triage reads them as tables): runs of two or more adjacent lines that each
/// split into the same number of cells at tabs, outside code fences. A stray tab in prose, or
/// tabs in code, are left to be folded as spaces.
fn tab_tables(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut fenced = false;
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.trim_start().starts_with("```") || l.trim_start().starts_with("~~~") {
            fenced = !fenced;
        }
        let width = (!fenced).then(|| tab_cells(l).map(|c| c.len())).flatten();
        let Some(width) = width else {
            out.push(l.to_owned());
            i += 1;
            continue;
        };
        let mut end = i + 1;
        while end < lines.len() && tab_cells(lines[end]).is_some_and(|c| c.len() == width) {
            end += 1;
        }
        if end - i < 2 {
            out.push(l.to_owned());
            i += 1;
            continue;
        }
        for row in &lines[i..end] {
            let cells = tab_cells(row).unwrap_or_default();
            out.push(format!("| {} |", cells.join(" | ")));
        }
        i = end;
    }
    std::borrow::Cow::Owned(out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_and_blank_lines() {
        let input = "\r\n\r\nfirst\r\nsecond\rthird\n\n\n\n\nfourth\n\n";
        assert_eq!(normalize_text(input), "first\nsecond\nthird\n\nfourth");
    }

    #[test]
    fn invisible_characters_and_exotic_spaces() {
        let input = "Pri\u{200B}cing\u{00A0}\u{00A0}per\u{2009}token\u{FEFF} co\u{00AD}st\u{200D}s";
        assert_eq!(normalize_text(input), "Pricing per token costs");
    }

    #[test]
    fn collapses_inner_spaces_but_keeps_indentation() {
        let input = "top   level\t\tline   \n  - nested    item\n\t\tcode  x";
        assert_eq!(normalize_text(input), "top level line\n  - nested item\n  code x");
    }

    #[test]
    fn whitespace_only_lines_are_blank() {
        let input = "a\n   \n\u{00A0}\u{200B}\n\t\nb";
        assert_eq!(normalize_text(input), "a\n\nb");
    }

    #[test]
    fn empty_input() {
        assert_eq!(normalize_text(""), "");
        assert_eq!(normalize_text(" \n\u{200B}\n\t"), "");
    }

    #[test]
    fn extract_strips_bom_and_tolerates_bad_utf8() {
        let mut body = b"\xEF\xBB\xBF# Title\r\n\r\nBody \xFF text\r\n".to_vec();
        body.extend_from_slice(b"\n\n");
        assert_eq!(extract(&body).unwrap(), "# Title\n\nBody \u{FFFD} text");
    }

    #[test]
    fn extract_empty_is_an_error() {
        assert!(matches!(extract(b" \r\n\t\n"), Err(ExtractError::Empty)));
        assert!(matches!(extract(b""), Err(ExtractError::Empty)));
    }

    #[test]
    fn tab_separated_tables_become_pipe_tables_and_stray_tabs_fold() {
        let input = "Intro\twith a stray tab\n\nDate\tModel\tReplacement\n01/20/27\tacme-8b\tacme-20b\n\n```\nx\t// code\ny\t// more\n```";
        let out = extract(input.as_bytes()).unwrap();
        assert_eq!(
            out,
            "Intro with a stray tab\n\n| Date | Model | Replacement |\n| 01/20/27 | acme-8b | acme-20b |\n\n```\nx // code\ny // more\n```"
        );
    }
}
