//! The readable diff on the brief page: the line diff of the two normalized texts (with the
//! word-level spans of changed lines) laid out twice, inline and side by side, for the template to
//! show one or the other by screen width.

use crate::diff::{LineOp, TextDiff};
use serde::Serialize;

/// At most this many lines are shown; the rest is behind the snapshot links.
const MAX_LINES: usize = 600;

/// A piece of a line: `tag` is `ins`, `del` or empty (unchanged words).
#[derive(Debug, Serialize, PartialEq)]
pub struct Span {
    pub tag: &'static str,
    pub text: String,
}

/// One side of a line: its number in its version, `+`/`-`/space, and its spans.
#[derive(Debug, Serialize, PartialEq)]
pub struct Cell {
    pub no: usize,
    /// `equal`, `delete` or `insert` (the CSS class).
    pub op: &'static str,
    pub sign: &'static str,
    pub spans: Vec<Span>,
}

/// A row of the side-by-side layout: the old line on the left, the new on the right.
#[derive(Debug, Serialize, PartialEq)]
pub struct Row {
    pub left: Option<Cell>,
    pub right: Option<Cell>,
}

#[derive(Debug, Serialize)]
pub struct HunkView {
    pub header: String,
    pub inline: Vec<Cell>,
    pub side: Vec<Row>,
}

#[derive(Debug, Serialize)]
pub struct DiffView {
    pub added: usize,
    pub removed: usize,
    pub hunks: Vec<HunkView>,
    /// Lines left out past [`MAX_LINES`].
    pub truncated: usize,
}

/// `(old_start, new_start)` from `@@ -a,b +c,d @@`.
fn starts(header: &str) -> (usize, usize) {
    let num = |prefix: char| {
        header
            .split_whitespace()
            .find_map(|p| p.strip_prefix(prefix))
            .and_then(|p| p.split(',').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(1)
    };
    (num('-'), num('+'))
}

fn op_name(op: LineOp) -> (&'static str, &'static str) {
    match op {
        LineOp::Equal => ("equal", " "),
        LineOp::Delete => ("delete", "-"),
        LineOp::Insert => ("insert", "+"),
    }
}

pub fn view(d: &TextDiff) -> DiffView {
    let mut shown = 0;
    let mut truncated = 0;
    let mut hunks = Vec::new();
    for h in &d.hunks {
        if shown >= MAX_LINES {
            truncated += h.lines.len();
            continue;
        }
        let (mut old_no, mut new_no) = starts(&h.header);
        let mut inline = Vec::new();
        for l in &h.lines {
            if shown >= MAX_LINES {
                truncated += 1;
                continue;
            }
            shown += 1;
            let (op, sign) = op_name(l.op);
            let changed_tag = if l.op == LineOp::Insert { "ins" } else { "del" };
            let spans = if l.words.is_empty() {
                vec![Span {
                    tag: "",
                    text: l.text.clone(),
                }]
            } else {
                l.words
                    .iter()
                    .map(|w| Span {
                        tag: if w.changed { changed_tag } else { "" },
                        text: w.text.clone(),
                    })
                    .collect()
            };
            let no = match l.op {
                LineOp::Equal => {
                    old_no += 1;
                    new_no += 1;
                    new_no - 1
                }
                LineOp::Delete => {
                    old_no += 1;
                    old_no - 1
                }
                LineOp::Insert => {
                    new_no += 1;
                    new_no - 1
                }
            };
            inline.push(Cell { no, op, sign, spans });
        }
        let side = pair(&inline, starts(&h.header).0);
        hunks.push(HunkView {
            header: h.header.clone(),
            inline,
            side,
        });
    }
    DiffView {
        added: d.added,
        removed: d.removed,
        hunks,
        truncated,
    }
}

fn copy(c: &Cell, no: usize) -> Cell {
    Cell {
        no,
        op: c.op,
        sign: c.sign,
        spans: c
            .spans
            .iter()
            .map(|s| Span {
                tag: s.tag,
                text: s.text.clone(),
            })
            .collect(),
    }
}

/// Side by side: equal lines on both sides; a run of deleted lines faces the run of inserted lines
/// that follows it, line by line.
fn pair(lines: &[Cell], old_start: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut old_no = old_start;
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.op == "equal" {
            rows.push(Row {
                left: Some(copy(l, old_no)),
                right: Some(copy(l, l.no)),
            });
            old_no += 1;
            i += 1;
            continue;
        }
        let dels: Vec<&Cell> = lines[i..].iter().take_while(|c| c.op == "delete").collect();
        let after_dels = i + dels.len();
        let ins: Vec<&Cell> = lines[after_dels..].iter().take_while(|c| c.op == "insert").collect();
        for k in 0..dels.len().max(ins.len()) {
            rows.push(Row {
                left: dels.get(k).map(|c| copy(c, c.no)),
                right: ins.get(k).map(|c| copy(c, c.no)),
            });
        }
        old_no += dels.len();
        i = after_dels + ins.len();
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::text_diff;

    #[test]
    fn a_changed_word_is_marked_on_both_sides_and_the_lines_face_each_other() {
        let d = text_diff(
            "intro\nacme-large retires on 2026-12-01\nend\n",
            "intro\nacme-large retires on 2027-01-05\nend\nnew line\n",
        );
        let v = view(&d);
        assert_eq!((v.added, v.removed), (2, 1));
        let h = &v.hunks[0];
        let del = h.inline.iter().find(|c| c.op == "delete").unwrap();
        assert!(
            del.spans
                .iter()
                .any(|s| s.tag == "del" && s.text.contains("2026-12-01"))
        );
        assert!(del.spans.iter().any(|s| s.tag.is_empty() && s.text.contains("retires")));
        let ins = h.inline.iter().find(|c| c.op == "insert").unwrap();
        assert!(
            ins.spans
                .iter()
                .any(|s| s.tag == "ins" && s.text.contains("2027-01-05"))
        );
        assert_eq!(ins.no, 2);
        let row = h
            .side
            .iter()
            .find(|r| r.left.as_ref().is_some_and(|c| c.op == "delete"))
            .unwrap();
        assert_eq!(row.right.as_ref().unwrap().op, "insert");
        assert_eq!(row.left.as_ref().unwrap().no, 2);
        // The added line has no counterpart and no word spans: all of it is new.
        let last = h.side.last().unwrap();
        assert!(last.left.is_none());
        assert_eq!(last.right.as_ref().unwrap().spans[0].text, "new line");
        assert_eq!(last.right.as_ref().unwrap().no, 4);
    }
}
