//! A decision's life, as plain functions: (the decision as it is, a command, the time) → (the
//! decision as it becomes, the audit events to record). The store loads, calls one of these and
//! writes the result with its events in one transaction; whichever database it is, the four-eyes
//! rule, expiry and the allowed transitions are written once, here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Where a decision stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionStatus {
    /// Waiting for approvals.
    Proposed,
    /// Approved; applied when its start comes.
    Approved,
    /// Applied: its override is served.
    Active,
    /// An approver said no.
    Rejected,
    /// Called off by a person before it was active.
    Withdrawn,
    /// Ended by a person, or by a playbook's quiet period.
    Reverted,
    /// Its expiry time passed.
    Expired,
    /// A later decision on the same flag and environment was applied.
    Superseded,
}

impl DecisionStatus {
    /// Proposed, approved or active: not yet over.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            DecisionStatus::Proposed | DecisionStatus::Approved | DecisionStatus::Active
        )
    }

    /// Ended by a person's hand (not by the clock or a rejection).
    pub fn ended_by_person(self) -> bool {
        matches!(
            self,
            DecisionStatus::Reverted | DecisionStatus::Withdrawn | DecisionStatus::Superseded
        )
    }
}

words_enum!(DecisionStatus, "decision status", {
    Proposed => "proposed",
    Approved => "approved",
    Active => "active",
    Rejected => "rejected",
    Withdrawn => "withdrawn",
    Reverted => "reverted",
    Expired => "expired",
    Superseded => "superseded",
});

pub use super::UnknownValue;

/// What a decision does to its flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Serve a named variant.
    Serve,
    /// Serve the flag's off variant.
    Kill,
    /// Serve what the flag file says (ends any override).
    Restore,
}

words_enum!(Action, "decision action", {
    Serve => "serve",
    Kill => "kill",
    Restore => "restore",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    Reject,
}

words_enum!(Verdict, "verdict", {
    Approve => "approve",
    Reject => "reject",
});

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vote {
    pub voter: String,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// A decision as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub id: i64,
    pub flag: String,
    pub env: String,
    pub action: Action,
    pub variant: Option<String>,
    pub reason: String,
    pub brief_id: Option<i64>,
    /// `manual` or `playbook:<name>`.
    pub origin: String,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub approvals_required: i64,
    pub status: DecisionStatus,
    pub applied_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<String>,
    pub end_reason: Option<String>,
    pub revert_at: Option<DateTime<Utc>>,
    pub votes: Vec<Vote>,
}

impl Decision {
    /// The distinct approvers, in the order they approved.
    pub fn approvers(&self) -> Vec<&str> {
        self.votes
            .iter()
            .filter(|v| v.verdict == Verdict::Approve)
            .map(|v| v.voter.as_str())
            .collect()
    }

    /// The audit payload of a decision: what it does and where it stands.
    pub fn summary(&self) -> serde_json::Value {
        json!({
            "flag": self.flag, "env": self.env, "action": self.action, "variant": self.variant,
            "status": self.status, "brief_id": self.brief_id, "origin": self.origin,
            "approvers": self.approvers(), "starts_at": self.starts_at, "expires_at": self.expires_at,
            "applied_at": self.applied_at,
        })
    }

    /// Whether its expiry time has passed at `now`.
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// An audit event a transition records: who, what (`decision.approved`), on which decision, and
/// its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub actor: String,
    pub action: String,
    pub decision: i64,
    pub payload: serde_json::Value,
}

impl Event {
    fn new(actor: &str, action: &str, decision: i64, payload: serde_json::Value) -> Event {
        Event {
            actor: actor.to_owned(),
            action: action.to_owned(),
            decision,
            payload,
        }
    }
}

/// The result of a command: the decision as it becomes, the vote to add (for a vote), and the
/// events, in the order they are recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub decision: Decision,
    pub vote: Option<Vote>,
    pub events: Vec<Event>,
}

/// Why a command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("a {status} decision cannot be {action}")]
    NotAllowed { status: String, action: &'static str },
    #[error("the proposer of a decision cannot approve or reject it")]
    OwnDecision,
    #[error("{0} has already voted on this decision")]
    AlreadyVoted(String),
}

fn not_allowed(status: impl std::fmt::Display, action: &'static str) -> LifecycleError {
    LifecycleError::NotAllowed {
        status: status.to_string(),
        action,
    }
}

/// The event of a new decision (`proposed` or pre-approved by a playbook).
pub fn proposed(d: &Decision) -> Event {
    let mut payload = d.summary();
    payload["reason"] = json!(d.reason);
    payload["approvals_required"] = json!(d.approvals_required);
    Event::new(&d.proposed_by, "decision.proposed", d.id, payload)
}

/// An approval or a rejection by `voter` at `now`. Enough distinct approvals (the proposer's never
/// counts: four eyes) make the decision `approved`; one rejection makes it `rejected`. A decision
/// past its expiry takes no votes.
pub fn vote(
    d: &Decision,
    voter: &str,
    verdict: Verdict,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Transition, LifecycleError> {
    let action = match verdict {
        Verdict::Approve => "approved",
        Verdict::Reject => "rejected",
    };
    if d.status != DecisionStatus::Proposed {
        return Err(not_allowed(d.status, action));
    }
    if d.proposed_by == voter {
        return Err(LifecycleError::OwnDecision);
    }
    if d.expired_at(now) {
        return Err(not_allowed(DecisionStatus::Expired, action));
    }
    if d.votes.iter().any(|v| v.voter == voter) {
        return Err(LifecycleError::AlreadyVoted(voter.to_owned()));
    }
    let v = Vote {
        voter: voter.to_owned(),
        verdict,
        reason: reason.map(str::to_owned),
        at: now,
    };
    let mut next = d.clone();
    next.votes.push(v.clone());
    let approvals = next.approvers().len() as i64;
    match verdict {
        Verdict::Reject => next.status = DecisionStatus::Rejected,
        Verdict::Approve if approvals >= d.approvals_required => next.status = DecisionStatus::Approved,
        Verdict::Approve => {}
    }
    let mut payload = next.summary();
    payload["reason"] = json!(reason);
    payload["approvals"] = json!(approvals);
    payload["approvals_required"] = json!(d.approvals_required);
    let mut events = vec![Event::new(
        voter,
        match verdict {
            Verdict::Approve => "decision.approval",
            Verdict::Reject => "decision.rejected",
        },
        d.id,
        payload.clone(),
    )];
    if next.status == DecisionStatus::Approved {
        events.push(Event::new(voter, "decision.approved", d.id, payload));
    }
    Ok(Transition {
        decision: next,
        vote: Some(v),
        events,
    })
}

/// How a decision ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// By a person, before it is active.
    Withdraw,
    /// By a person, while it is active.
    Revert,
    /// By the clock: an unapproved or a scheduled decision, or an active one, past its expiry.
    Expire,
    /// By the clock: an active playbook decision whose quiet-period revert is due.
    RevertAfterQuiet,
}

impl Ending {
    pub fn status(self) -> DecisionStatus {
        match self {
            Ending::Withdraw => DecisionStatus::Withdrawn,
            Ending::Revert | Ending::RevertAfterQuiet => DecisionStatus::Reverted,
            Ending::Expire => DecisionStatus::Expired,
        }
    }
}

/// Ends a decision by `actor` at `now`, if it may end that way now.
pub fn end(
    d: &Decision,
    how: Ending,
    actor: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Transition, LifecycleError> {
    use DecisionStatus::*;
    let allowed = match how {
        Ending::Withdraw => matches!(d.status, Proposed | Approved),
        Ending::Revert => d.status == Active,
        Ending::Expire => d.status.is_live() && d.expired_at(now),
        Ending::RevertAfterQuiet => d.status == Active && d.revert_at.is_some_and(|r| r <= now),
    };
    let to = how.status();
    if !allowed {
        return Err(not_allowed(d.status, to.as_str()));
    }
    let mut next = d.clone();
    next.status = to;
    next.ended_at = Some(now);
    next.ended_by = Some(actor.to_owned());
    next.end_reason = reason.map(str::to_owned);
    next.revert_at = None;
    let mut payload = next.summary();
    payload["reason"] = json!(reason);
    let event = Event::new(actor, &format!("decision.{to}"), d.id, payload);
    Ok(Transition {
        decision: next,
        vote: None,
        events: vec![event],
    })
}

/// Applies an approved decision at `now`: it becomes `active`, and `active_before` (the decisions
/// active on the same flag and environment) are `superseded`. Returns the applied decision's
/// transition first, then one per superseded decision; the superseding events come first in the
/// audit, as the old decisions end before the new one starts.
pub fn activate(
    d: &Decision,
    active_before: &[Decision],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Transition>, LifecycleError> {
    if d.status != DecisionStatus::Approved {
        return Err(not_allowed(d.status, "applied"));
    }
    let mut out = Vec::new();
    let mut next = d.clone();
    next.status = DecisionStatus::Active;
    next.applied_at = Some(now);
    let applied = Event::new(actor, "decision.applied", d.id, next.summary());
    out.push(Transition {
        decision: next,
        vote: None,
        events: vec![applied],
    });
    for old in active_before
        .iter()
        .filter(|o| o.id != d.id && o.status == DecisionStatus::Active && o.flag == d.flag && o.env == d.env)
    {
        let mut o = old.clone();
        o.status = DecisionStatus::Superseded;
        o.ended_at = Some(now);
        o.ended_by = Some(actor.to_owned());
        o.end_reason = Some(format!("superseded by decision {}", d.id));
        o.revert_at = None;
        out.push(Transition {
            decision: o,
            vote: None,
            events: vec![Event::new(actor, "decision.superseded", old.id, json!({"by": d.id}))],
        });
    }
    Ok(out)
}

/// Arms (or, with `None`, disarms) an active decision's quiet-period revert.
pub fn set_revert_at(d: &Decision, at: Option<DateTime<Utc>>, actor: &str) -> Result<Transition, LifecycleError> {
    if d.status != DecisionStatus::Active {
        return Err(not_allowed(d.status, "scheduled for revert"));
    }
    let mut next = d.clone();
    next.revert_at = at;
    let action = if at.is_some() {
        "decision.revert_scheduled"
    } else {
        "decision.revert_cancelled"
    };
    Ok(Transition {
        decision: next,
        vote: None,
        events: vec![Event::new(actor, action, d.id, json!({"revert_at": at}))],
    })
}

/// What the clock does to a live decision at `now`, if anything: an approved decision whose start
/// has come is applied; one past its expiry (approved or active) expires; an active decision whose
/// quiet-period revert is due is reverted. Proposed decisions past their expiry expire too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Apply,
    End(Ending),
}

/// Why the clock ended a decision of `status`, in words for its record.
pub fn expiry_reason(status: DecisionStatus) -> &'static str {
    match status {
        DecisionStatus::Proposed => "not approved before its expiry",
        DecisionStatus::Approved => "expired before it started",
        _ => "its expiry time passed",
    }
}

pub fn due(d: &Decision, now: DateTime<Utc>) -> Option<Due> {
    let expired = d.expired_at(now);
    match d.status {
        DecisionStatus::Proposed | DecisionStatus::Approved if expired => Some(Due::End(Ending::Expire)),
        DecisionStatus::Approved if d.starts_at.is_none_or(|s| s <= now) => Some(Due::Apply),
        DecisionStatus::Active if expired => Some(Due::End(Ending::Expire)),
        DecisionStatus::Active if d.revert_at.is_some_and(|r| r <= now) => Some(Due::End(Ending::RevertAfterQuiet)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
