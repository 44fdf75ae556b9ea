//! What the store promises several writers, on whichever backend this run uses (SQLite, or
//! PostgreSQL with `TEST_DATABASE_URL`): three `Store` handles on one database stand for three
//! replicas. Claims never hand one row to two writers, a dead writer's claim runs out, each
//! source's changes are handed out in order, the audit chain stays one chain under concurrent
//! appends, the flag revision is shared, and one candidate leads on PostgreSQL.

use crate::helpers::Env;
use chrono::{DateTime, Duration, Utc};
use signalbox::store::{
    Backend, Blob, ChangeKind, NewChange, NewDelivery, NewSnapshot, PollResult, PollWrite, SnapRef, SnapshotOrigin,
    Store,
};
use std::collections::HashSet;

async fn replicas(env: &Env, n: usize) -> Vec<Store> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(Store::open(&env.db_url()).await.unwrap());
    }
    out
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

/// Stores `versions` consecutive versions of `source`: `versions - 1` changes.
async fn changes(store: &Store, source: &str, versions: usize) {
    let mut latest = None;
    for v in 0..versions {
        let snap = |text: String| NewSnapshot {
            fetched_at: at(v as i64),
            url: format!("http://127.0.0.1/{source}"),
            http_status: Some(200),
            headers: vec![],
            raw: Blob::new(text.clone().into_bytes()),
            text: Blob::new(text.into_bytes()),
            rules_hash: "r".into(),
            origin: SnapshotOrigin::Fetch,
        };
        let changes = latest
            .map(|before| NewChange {
                kind: ChangeKind::Change,
                before: SnapRef::Stored(before),
                after: SnapRef::New(0),
                diff: serde_json::json!({}),
            })
            .into_iter()
            .collect();
        let c = store
            .commit_poll(PollWrite {
                source: source.into(),
                expected_latest: latest,
                url: format!("http://127.0.0.1/{source}"),
                at: at(v as i64),
                attempts: vec![],
                snapshots: vec![snap(format!("{source} version {v}"))],
                changes,
                result: PollResult::Success {
                    validators: Default::default(),
                    changed: latest.is_some(),
                },
            })
            .await
            .unwrap();
        latest = Some(c.snapshots[0]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_are_claimed_once_in_order_per_source_and_a_dead_writers_claim_runs_out() {
    let env = Env::new();
    let r = replicas(&env, 3).await;
    changes(&r[0], "a", 4).await; // a: three changes
    changes(&r[0], "b", 2).await; // b: one change
    let lease = Duration::minutes(10);

    // Writer 0 takes a's first change; nobody else may take a's later ones meanwhile.
    let first = r[0].claim_untriaged_changes(at(100), lease, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].source, "a");
    let others = r[1].claim_untriaged_changes(at(100), lease, 10).await.unwrap();
    assert_eq!(
        others.iter().map(|c| c.source.as_str()).collect::<Vec<_>>(),
        vec!["b"],
        "a's later changes wait for its first: {others:?}"
    );
    assert!(
        r[2].claim_untriaged_changes(at(100), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The writers die holding their claims: when the leases run out, the changes are taken
    // again, and never by two writers at once.
    let after_lease = at(100) + lease + Duration::seconds(1);
    let (x, y, z) = tokio::join!(
        r[0].claim_untriaged_changes(after_lease, lease, 10),
        r[1].claim_untriaged_changes(after_lease, lease, 10),
        r[2].claim_untriaged_changes(after_lease, lease, 10),
    );
    let all: Vec<_> = [x.unwrap(), y.unwrap(), z.unwrap()].concat();
    let ids: HashSet<i64> = all.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), all.len(), "a change handed to two writers: {all:?}");
    assert!(ids.contains(&first[0].id), "the dead writer's change is claimed again");
    assert_eq!(
        all.len(),
        4,
        "every change, b's too (its writer's lease ran out as well): {all:?}"
    );

    // Triaged changes are never handed out again; given-back ones are.
    r[0].mark_triaged(first[0].id, after_lease).await.unwrap();
    let rest: Vec<i64> = all.iter().map(|c| c.id).filter(|id| *id != first[0].id).collect();
    r[0].release_change_claims(&rest).await.unwrap();
    let again = r[1].claim_untriaged_changes(after_lease, lease, 10).await.unwrap();
    assert_eq!(again.iter().map(|c| c.id).collect::<Vec<_>>(), rest);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_due_delivery_goes_to_one_replica_and_returns_when_its_claim_runs_out() {
    let env = Env::new();
    let r = replicas(&env, 3).await;
    let head = r[0].audit_head_id().await.unwrap();
    let new: Vec<NewDelivery> = (0..30)
        .map(|i| NewDelivery {
            audit_id: head + 1 + i,
            event: "brief.created".into(),
            msg_id: format!("msg_{i}"),
            payload: "{}".into(),
        })
        .collect();
    // Two replicas queue the same events: each is queued once.
    r[0].enqueue_deliveries("hook", head + 30, &new).await.unwrap();
    r[1].enqueue_deliveries("hook", head + 30, &new).await.unwrap();
    let now = Utc::now();
    let lease = Duration::minutes(5);
    let (x, y, z) = tokio::join!(
        r[0].claim_due_deliveries(now, lease, 20, &["hook"]),
        r[1].claim_due_deliveries(now, lease, 20, &["hook"]),
        r[2].claim_due_deliveries(now, lease, 20, &["hook"]),
    );
    let all: Vec<_> = [x.unwrap(), y.unwrap(), z.unwrap()].concat();
    let ids: HashSet<i64> = all.iter().map(|d| d.id).collect();
    assert_eq!(all.len(), 30, "every delivery claimed once: {}", all.len());
    assert_eq!(ids.len(), 30, "a delivery claimed by two replicas");
    assert!(
        r[0].claim_due_deliveries(now, lease, 20, &["hook"])
            .await
            .unwrap()
            .is_empty()
    );
    // Nobody recorded an attempt (the replicas died): due again after the lease, same message ids.
    let later = r[1]
        .claim_due_deliveries(now + lease + Duration::seconds(1), lease, 100, &["hook"])
        .await
        .unwrap();
    assert_eq!(later.len(), 30);
    let msg_ids: HashSet<&str> = later.iter().map(|d| d.msg_id.as_str()).collect();
    assert!(msg_ids.contains("msg_0") && msg_ids.len() == 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_appends_from_three_replicas_make_one_chain() {
    let env = Env::new();
    let r = replicas(&env, 3).await;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, store) in r.iter().enumerate() {
        let store = store.clone();
        tasks.spawn(async move {
            for n in 0..20 {
                store
                    .audit(signalbox::store::NewAudit::new(
                        "test",
                        "test.event",
                        "test",
                        format!("{i}-{n}"),
                        serde_json::json!({"replica": i, "n": n}),
                    ))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
    let v = signalbox::api::audit::verify_chain(&r[2]).await.unwrap();
    assert_eq!(v.broken, None);
    assert_eq!(v.checked, 60);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_flag_revision_is_shared_and_only_goes_up() {
    let env = Env::new();
    let r = replicas(&env, 2).await;
    let now = Utc::now();
    let a = r[0].flag_revision_for("content-a", 1, now).await.unwrap();
    // Another replica publishing the same configuration gets the same revision.
    assert_eq!(r[1].flag_revision_for("content-a", 1, now).await.unwrap(), a);
    let b = r[1].flag_revision_for("content-b", a + 1, now).await.unwrap();
    assert_eq!(b, a + 1);
    assert_eq!(r[0].flag_revision_for("content-b", a + 1, now).await.unwrap(), b);
    // Back to an earlier configuration: a new revision, not the old one.
    let c = r[0].flag_revision_for("content-a", b + 1, now).await.unwrap();
    assert_eq!(c, b + 1);
    // A replica that numbered locally past the shared revision is never sent backwards.
    assert_eq!(r[1].flag_revision_for("content-a", c + 5, now).await.unwrap(), c + 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_candidate_leads_on_postgresql_and_another_takes_over_when_it_goes() {
    let env = Env::new();
    let r = replicas(&env, 2).await;
    let (mut a, mut b) = (r[0].candidate(), r[1].candidate());
    let (first, second) = (a.hold().await.unwrap(), b.hold().await.unwrap());
    if r[0].backend() == Backend::Sqlite {
        // One process per SQLite file: it always leads.
        assert!(first && second);
        return;
    }
    assert!(first && !second, "exactly one leader");
    assert!(a.hold().await.unwrap(), "the leader keeps its lease");
    assert!(!b.hold().await.unwrap());
    a.release().await;
    assert!(b.hold().await.unwrap(), "the follower leads once the leader is gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_playbook_has_one_live_decision_per_flag_and_environment_whoever_fires_it() {
    use signalbox::domain::decision::{Action, DecisionStatus};
    use signalbox::store::{DecisionStoreError, NewDecision};
    let env = Env::new();
    let r = replicas(&env, 2).await;
    let fire = |store: Store, env_name: &'static str| async move {
        store
            .insert_decision(NewDecision {
                flag: "route.chat",
                env: env_name,
                action: Action::Serve,
                variant: Some("failover"),
                reason: "outage",
                brief_id: None,
                origin: "playbook:failover",
                proposed_by: "playbook:failover",
                starts_at: None,
                expires_at: None,
                approvals_required: 0,
                status: DecisionStatus::Approved,
                now: Utc::now(),
            })
            .await
    };
    let (a, b) = tokio::join!(fire(r[0].clone(), "production"), fire(r[1].clone(), "production"));
    let won = [&a, &b].iter().filter(|x| x.is_ok()).count();
    assert_eq!(won, 1, "{a:?} {b:?}");
    assert!(
        [a, b]
            .into_iter()
            .any(|x| matches!(x, Err(DecisionStoreError::AlreadyLive(_))))
    );
    // Another environment is another decision.
    assert!(fire(r[0].clone(), "staging").await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_that_numbered_one_configuration_differently_come_to_agree() {
    use signalbox::flags::{FlagService, Override};
    use std::collections::HashMap;
    use std::sync::Arc;
    let env = Env::new();
    std::fs::write(env.dir.path().join("flags/routes.yaml"), crate::decisions::FLAGS).unwrap();
    let r = replicas(&env, 2).await;
    let envs = vec!["production".to_owned(), "staging".to_owned()];
    let (a, b) = (
        FlagService::new(env.dir.path().join("flags"), envs.clone()),
        FlagService::new(env.dir.path().join("flags"), envs),
    );
    a.reload().await.unwrap();
    b.reload().await.unwrap();
    let ra = a
        .share_revisions(Arc::new(signalbox::cluster::SharedRevisions(r[0].clone())))
        .await
        .unwrap();
    let rb = b
        .share_revisions(Arc::new(signalbox::cluster::SharedRevisions(r[1].clone())))
        .await
        .unwrap();
    assert_eq!(ra, rb, "the same files, the same revision");

    let serve = |variant: &str| {
        let mut m = HashMap::new();
        m.insert(
            "production".to_owned(),
            HashMap::from([(
                "route.chat".to_owned(),
                Override {
                    variant: variant.to_owned(),
                    metadata: Default::default(),
                },
            )]),
        );
        m
    };
    // A publishes the new configuration; B, from a read made just before, publishes a stale
    // one and then the new one: the same configuration, numbered higher on B.
    let x = a.replace_overrides(serve("failover")).await.unwrap().unwrap();
    b.replace_overrides(serve("off")).await.unwrap().unwrap();
    let y = b.replace_overrides(serve("failover")).await.unwrap().unwrap();
    assert!(y > x);
    // A's next tick takes the shared number; B has nothing to adopt.
    assert_eq!(a.adopt_shared_revision().await.unwrap(), Some(y));
    assert_eq!(b.adopt_shared_revision().await.unwrap(), None);
    assert_eq!(a.current().unwrap().revision, b.current().unwrap().revision);
    let etag = |s: &FlagService| s.current().unwrap().env("production").unwrap().config_etag.clone();
    assert_eq!(etag(&a), etag(&b));
}
