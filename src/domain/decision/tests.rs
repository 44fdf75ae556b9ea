use super::*;
use chrono::TimeZone;

fn at(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + chrono::Duration::minutes(min)
}

fn proposed(required: i64) -> Decision {
    Decision {
        id: 7,
        flag: "chat-model".into(),
        env: "production".into(),
        action: Action::Serve,
        variant: Some("fallback".into()),
        reason: "the vendor retires the model".into(),
        brief_id: Some(3),
        origin: "manual".into(),
        proposed_by: "alice".into(),
        proposed_at: at(0),
        starts_at: None,
        expires_at: Some(at(60)),
        approvals_required: required,
        status: DecisionStatus::Proposed,
        applied_at: None,
        ended_at: None,
        ended_by: None,
        end_reason: None,
        revert_at: None,
        votes: Vec::new(),
    }
}

#[test]
fn statuses_and_actions_round_trip_through_text_and_json() {
    for s in DecisionStatus::ALL {
        assert_eq!(s.as_str().parse::<DecisionStatus>(), Ok(s));
        assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        assert_eq!(
            serde_json::from_value::<DecisionStatus>(serde_json::json!(s.as_str())).unwrap(),
            s
        );
    }
    for a in [Action::Serve, Action::Kill, Action::Restore] {
        assert_eq!(a.as_str().parse::<Action>(), Ok(a));
    }
    let e = "paused".parse::<DecisionStatus>().unwrap_err();
    assert_eq!(e.to_string(), "unknown decision status `paused`");
}

#[test]
fn the_proposer_cannot_approve_their_own_decision() {
    let d = proposed(1);
    assert_eq!(
        vote(&d, "alice", Verdict::Approve, None, at(1)),
        Err(LifecycleError::OwnDecision)
    );
}

#[test]
fn two_distinct_approvers_are_needed_when_two_are_required() {
    let d = proposed(2);
    let t = vote(&d, "bob", Verdict::Approve, Some("ok"), at(1)).unwrap();
    assert_eq!(t.decision.status, DecisionStatus::Proposed);
    assert_eq!(t.events.len(), 1);
    assert_eq!(t.events[0].action, "decision.approval");
    assert_eq!(t.events[0].payload["approvals"], 1);
    // The same person again does not make two.
    assert_eq!(
        vote(&t.decision, "bob", Verdict::Approve, None, at(2)),
        Err(LifecycleError::AlreadyVoted("bob".into()))
    );
    let t2 = vote(&t.decision, "carol", Verdict::Approve, None, at(2)).unwrap();
    assert_eq!(t2.decision.status, DecisionStatus::Approved);
    assert_eq!(t2.decision.approvers(), vec!["bob", "carol"]);
    let actions: Vec<&str> = t2.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["decision.approval", "decision.approved"]);
    assert_eq!(t2.vote.as_ref().unwrap().at, at(2));
}

#[test]
fn one_rejection_ends_a_proposal_and_later_votes_are_refused() {
    let d = proposed(2);
    let t = vote(&d, "bob", Verdict::Reject, Some("no"), at(1)).unwrap();
    assert_eq!(t.decision.status, DecisionStatus::Rejected);
    assert_eq!(t.events[0].action, "decision.rejected");
    assert!(matches!(
        vote(&t.decision, "carol", Verdict::Approve, None, at(2)),
        Err(LifecycleError::NotAllowed { status, .. }) if status == "rejected"
    ));
}

#[test]
fn a_proposal_past_its_expiry_takes_no_votes_and_is_due_to_expire() {
    let d = proposed(1);
    assert!(matches!(
        vote(&d, "bob", Verdict::Approve, None, at(60)),
        Err(LifecycleError::NotAllowed { status, .. }) if status == "expired"
    ));
    assert_eq!(due(&d, at(59)), None);
    assert_eq!(due(&d, at(60)), Some(Due::End(Ending::Expire)));
    let t = end(&d, Ending::Expire, "system", Some(expiry_reason(d.status)), at(60)).unwrap();
    assert_eq!(t.decision.status, DecisionStatus::Expired);
    assert_eq!(t.decision.end_reason.as_deref(), Some("not approved before its expiry"));
    assert_eq!(t.events[0].action, "decision.expired");
    // Not before its time.
    assert!(end(&d, Ending::Expire, "system", None, at(30)).is_err());
}

#[test]
fn an_approved_decision_applies_when_its_start_comes_and_supersedes_the_active_one() {
    let mut d = proposed(1);
    d.starts_at = Some(at(10));
    let d = vote(&d, "bob", Verdict::Approve, None, at(1)).unwrap().decision;
    assert_eq!(due(&d, at(5)), None);
    assert_eq!(due(&d, at(10)), Some(Due::Apply));
    let mut old = proposed(1);
    old.id = 2;
    old.status = DecisionStatus::Active;
    let mut elsewhere = old.clone();
    elsewhere.id = 3;
    elsewhere.env = "staging".into();
    let ts = activate(&d, &[old.clone(), elsewhere], "bob", at(10)).unwrap();
    assert_eq!(ts.len(), 2, "only the same flag and environment is superseded");
    assert_eq!(ts[0].decision.status, DecisionStatus::Active);
    assert_eq!(ts[0].decision.applied_at, Some(at(10)));
    assert_eq!(ts[1].decision.id, 2);
    assert_eq!(ts[1].decision.status, DecisionStatus::Superseded);
    assert_eq!(ts[1].decision.end_reason.as_deref(), Some("superseded by decision 7"));
    assert_eq!(ts[1].events[0].action, "decision.superseded");
    // Applying twice is refused.
    assert!(activate(&ts[0].decision, &[], "bob", at(11)).is_err());
}

#[test]
fn withdraw_only_before_active_and_revert_only_while_active() {
    let d = proposed(1);
    assert_eq!(
        end(&d, Ending::Withdraw, "alice", None, at(1)).unwrap().decision.status,
        DecisionStatus::Withdrawn
    );
    assert!(end(&d, Ending::Revert, "alice", None, at(1)).is_err());
    let mut active = d.clone();
    active.status = DecisionStatus::Active;
    assert!(end(&active, Ending::Withdraw, "alice", None, at(1)).is_err());
    let t = end(&active, Ending::Revert, "bob", Some("vendor fixed it"), at(2)).unwrap();
    assert_eq!(t.decision.status, DecisionStatus::Reverted);
    assert_eq!(t.decision.ended_by.as_deref(), Some("bob"));
    assert_eq!(t.decision.ended_at, Some(at(2)));
    assert_eq!(t.events[0].payload["reason"], "vendor fixed it");
}

#[test]
fn a_quiet_period_revert_is_armed_and_due_only_when_its_time_comes() {
    let mut d = proposed(1);
    d.status = DecisionStatus::Active;
    d.expires_at = None;
    let armed = set_revert_at(&d, Some(at(15)), "playbook:x").unwrap();
    assert_eq!(armed.events[0].action, "decision.revert_scheduled");
    let d = armed.decision;
    assert_eq!(due(&d, at(14)), None);
    assert_eq!(due(&d, at(15)), Some(Due::End(Ending::RevertAfterQuiet)));
    assert!(end(&d, Ending::RevertAfterQuiet, "playbook:x", None, at(14)).is_err());
    let t = end(&d, Ending::RevertAfterQuiet, "playbook:x", None, at(15)).unwrap();
    assert_eq!(
        (t.decision.status, t.decision.revert_at),
        (DecisionStatus::Reverted, None)
    );
    // Disarmed, nothing is due.
    let disarmed = set_revert_at(&d, None, "playbook:x").unwrap();
    assert_eq!(disarmed.events[0].action, "decision.revert_cancelled");
    assert_eq!(due(&disarmed.decision, at(20)), None);
    // Only an active decision can be armed.
    assert!(set_revert_at(&proposed(1), Some(at(5)), "x").is_err());
}

#[test]
fn an_active_decision_past_its_expiry_expires_before_any_revert() {
    let mut d = proposed(1);
    d.status = DecisionStatus::Active;
    d.revert_at = Some(at(30));
    assert_eq!(due(&d, at(61)), Some(Due::End(Ending::Expire)));
    assert_eq!(expiry_reason(d.status), "its expiry time passed");
}
