//! A brief's life and its severity, as plain values and functions: the store persists what
//! these decide, services pass the time.

use serde::{Deserialize, Serialize};

/// How urgent a brief is, least first (so `Ord` ranks them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

words_enum!(Severity, "severity", {
    Info => "info",
    Low => "low",
    Medium => "medium",
    High => "high",
    Critical => "critical",
});

impl Severity {
    /// A level as people write it in settings: surrounding spaces and ASCII case ignored.
    pub fn parse_loose(s: &str) -> Option<Severity> {
        s.trim().to_ascii_lowercase().parse().ok()
    }
}

/// Where a brief stands: new → acknowledged → decided or dismissed → closed (a new brief may also
/// be decided or dismissed directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BriefStatus {
    New,
    Acknowledged,
    Decided,
    Dismissed,
    Closed,
}

words_enum!(BriefStatus, "brief status", {
    New => "new",
    Acknowledged => "acknowledged",
    Decided => "decided",
    Dismissed => "dismissed",
    Closed => "closed",
});

impl BriefStatus {
    /// Waiting for triage: new or acknowledged.
    pub fn awaiting_triage(self) -> bool {
        matches!(self, BriefStatus::New | BriefStatus::Acknowledged)
    }

    /// Still standing: not dismissed or closed.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            BriefStatus::New | BriefStatus::Acknowledged | BriefStatus::Decided
        )
    }
}

/// Why a brief cannot move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BriefLifecycleError {
    #[error("a {from} brief cannot become {to}")]
    NotAllowed { from: BriefStatus, to: BriefStatus },
    #[error("dismissing a brief needs a reason")]
    ReasonRequired,
}

/// Whether a brief may go from `from` to `to`, with `reason` (a dismissal needs one).
pub fn transition(from: BriefStatus, to: BriefStatus, reason: Option<&str>) -> Result<(), BriefLifecycleError> {
    use BriefStatus::*;
    if to == Dismissed && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(BriefLifecycleError::ReasonRequired);
    }
    let allowed = matches!(
        (from, to),
        (New, Acknowledged) | (New | Acknowledged, Decided | Dismissed) | (Decided | Dismissed, Closed)
    );
    if allowed {
        Ok(())
    } else {
        Err(BriefLifecycleError::NotAllowed { from, to })
    }
}

/// A severity change the clock or a person makes: only when it differs, and (for the daily
/// deadline check) only upwards when `only_up`.
pub fn reseverity(current: Severity, wanted: Severity, only_up: bool) -> Option<Severity> {
    (wanted != current && (!only_up || wanted > current)).then_some(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_rank_and_round_trip() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        assert!("severe".parse::<Severity>().is_err());
    }

    #[test]
    fn the_lifecycle_allows_only_its_steps() {
        use BriefStatus::*;
        for s in BriefStatus::ALL {
            assert_eq!(s.as_str().parse::<BriefStatus>(), Ok(s));
        }
        assert_eq!(transition(New, Acknowledged, None), Ok(()));
        assert_eq!(transition(Acknowledged, Decided, None), Ok(()));
        assert_eq!(transition(New, Dismissed, Some("not ours")), Ok(()));
        assert_eq!(transition(Dismissed, Closed, None), Ok(()));
        assert_eq!(
            transition(New, Dismissed, Some("  ")),
            Err(BriefLifecycleError::ReasonRequired)
        );
        assert_eq!(
            transition(Closed, Acknowledged, None),
            Err(BriefLifecycleError::NotAllowed {
                from: Closed,
                to: Acknowledged
            })
        );
        assert!(transition(New, Closed, None).is_err());
        assert!(transition(Acknowledged, New, None).is_err());
        assert!(New.is_open() && Decided.is_open() && !Dismissed.is_open() && !Closed.is_open());
    }

    #[test]
    fn severity_moves_only_up_for_the_clock() {
        assert_eq!(reseverity(Severity::Medium, Severity::High, true), Some(Severity::High));
        assert_eq!(reseverity(Severity::High, Severity::Medium, true), None);
        assert_eq!(
            reseverity(Severity::High, Severity::Medium, false),
            Some(Severity::Medium)
        );
        assert_eq!(reseverity(Severity::High, Severity::High, false), None);
    }
}
