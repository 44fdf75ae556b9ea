//! A brief's life and its severity, as plain values and functions: the store persists what
//! these decide, services pass the time.

use super::decision::UnknownValue;
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

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownValue {
                what: "severity",
                value: s.to_owned(),
            })
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

impl BriefStatus {
    pub const ALL: [BriefStatus; 5] = [
        BriefStatus::New,
        BriefStatus::Acknowledged,
        BriefStatus::Decided,
        BriefStatus::Dismissed,
        BriefStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BriefStatus::New => "new",
            BriefStatus::Acknowledged => "acknowledged",
            BriefStatus::Decided => "decided",
            BriefStatus::Dismissed => "dismissed",
            BriefStatus::Closed => "closed",
        }
    }

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

impl std::fmt::Display for BriefStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BriefStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BriefStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownValue {
                what: "brief status",
                value: s.to_owned(),
            })
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
