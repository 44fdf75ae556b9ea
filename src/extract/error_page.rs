//! Error pages served with status 200: a "page not found", "access denied", rate-limit,
//! bot-check or JavaScript-required shell in place of the document. Storing one as a version
//! would raise a false change twice (when it appears and when the document comes back), so the
//! watcher treats it as a failed fetch (`error_page`) and triage as a capture artefact.
//!
//! The test is deliberately narrow: the text is short (an error page has a few dozen words, a
//! watched document hundreds) and its opening words say what error pages say. A long document
//! that mentions "404" or "rate limit" in passing is never one.

use regex::Regex;
use std::sync::LazyLock;

/// Error pages are short; anything longer is a document, whatever it says.
const MAX_WORDS: usize = 150;
/// The error is stated early: in the title or the first sentence.
const OPENING_WORDS: usize = 60;

static ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)
        \b(?:page|document|resource|file|article)\s+(?:was\s+)?(?:not\s+found|isn[’']?t\s+available|is\s+not\s+available|cannot\s+be\s+found|could\s+not\s+be\s+found|does\s*n[o’']?t\s+exist|not\s+exist|has\s+(?:been\s+)?(?:moved|removed))
        | \b(?:404|403|401|410|429|500|502|503|504)\b[^.\n]{0,40}\b(?:not\s+found|forbidden|unauthori[sz]ed|gone|too\s+many\s+requests|error|unavailable|bad\s+gateway|time-?out)
        | \bnot\s+found\b
        | \baccess\s+(?:denied|forbidden|to\s+this\s+page\s+has\s+been\s+denied)
        | \bforbidden\b
        | \byou\s+(?:do\s*n[o’']?t|do\s+not)\s+have\s+(?:permission|access)
        | \btoo\s+many\s+requests\b
        | \b(?:you\s+(?:have\s+been|are\s+being)|request\s+(?:was\s+)?)\s*(?:rate[ -]limited|blocked|throttled)
        | \brate\s+limit(?:ed)?\s+exceeded
        | \bservice\s+(?:temporarily\s+)?unavailable\b
        | \b(?:bad\s+gateway|gateway\s+time-?out|internal\s+server\s+error)\b
        | \ban?\s+(?:unexpected\s+)?error\s+(?:has\s+)?occurred
        | \bsomething\s+went\s+wrong\b
        | \b(?:please\s+)?(?:enable|turn\s+on|activate)\s+javascript
        | \bjavascript\s+(?:is\s+)?(?:required|disabled|must\s+be\s+enabled)
        | \brequires\s+javascript
        | \b(?:enable|accept)\s+cookies\s+to\s+continue
        | \bchecking\s+(?:if\s+the\s+site\s+connection\s+is\s+secure|your\s+browser)
        | \bjust\s+a\s+moment\b
        | \battention\s+required\b
        | \bverify(?:ing)?\s+(?:you\s+are|that\s+you[’']?re)\s+(?:a\s+)?human
        | \bneeds\s+to\s+review\s+the\s+security\s+of\s+your\s+connection
        | \bperformance\s+&(?:amp;)?\s+security\s+by\s+cloudflare
        | \bare\s+you\s+a\s+robot
        | \bcloudflare\s+ray\s+id
        | \bddos\s+protection\s+by
        ",
    )
    .expect("valid regex")
});

/// Why `text` (a normalized document) is an error page, or `None` when it reads as a document.
pub fn error_page(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || words.len() > MAX_WORDS {
        return None;
    }
    let opening = words[..words.len().min(OPENING_WORDS)].join(" ");
    let m = ERROR.find(&opening)?;
    Some(format!(
        "the page is an error page served as a document (“{}”, {} words)",
        m.as_str().split_whitespace().collect::<Vec<_>>().join(" "),
        words.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shells_are_recognised() {
        for page in [
            "This page isn’t available\n-------------------------\n\nAn unexpected error has occurred. Try reloading the page or come back later.",
            "# 404\n\nPage not found. The page you are looking for does not exist.",
            "Access Denied\n\nYou don't have permission to access this page on this server. Reference #18.1234",
            "Just a moment...\n\nChecking if the site connection is secure. Cloudflare Ray ID: 8f00",
            "You need to enable JavaScript to run this app.",
            "429 Too Many Requests",
            "# acme.test\n\n## Verifying you are human. This may take a few seconds.\n\nacme.test needs to review the security of your connection before proceeding.\n\nRay ID: 8b9c3a1f\nPerformance & security by Cloudflare",
            "Something went wrong. Please try again later.",
        ] {
            assert!(error_page(page).is_some(), "{page}");
        }
    }

    #[test]
    fn documents_are_not_error_pages() {
        let long = format!(
            "# Rate limits\n\nIf you exceed a limit you get 429 Too Many Requests. {}",
            "Limits are measured per minute and per day for each model and tier. ".repeat(20)
        );
        for doc in [
            long.as_str(),
            "# Usage policy\n\nDo not use the services to build malware or to harass people.",
            "| Model | RPM |\n|---|---|\n| acme-x | 500 |",
            "All systems operational",
        ] {
            assert!(error_page(doc).is_none(), "{doc}");
        }
    }
}
