use super::*;
use serde_json::json;

fn run(m: &mut Monitor, s: &str, v: Value) -> Vec<&'static str> {
    let t = v.to_string();
    m.inbound(s, &t, Some(&v))
        .iter()
        .map(|x| x.invariant.id)
        .collect()
}

#[test]
fn catches_gaps_features_retryable_leaks_budget_and_double_terminal() {
    let mut m = Monitor::new();
    m.schema = false;
    m.opened("a", "alice", &["provisioned_credentials".into()]);
    m.opened("b", "bob", &[]);
    let ev = |seq: u64| json!({"type": "job.event", "job_id": "j", "event_seq": seq, "payload": {"kind": "log", "body": {}}});
    assert!(run(&mut m, "a", ev(1)).is_empty());
    assert_eq!(run(&mut m, "a", ev(3)), ["frame.event-seq"]);
    assert_eq!(
        run(
            &mut m,
            "a",
            json!({"type": "job.event", "event_seq": 4, "payload": {"kind": "progress", "body": {"current": 1}}})
        ),
        ["frame.features"]
    );
    assert_eq!(
        run(
            &mut m,
            "a",
            json!({"type": "session.error", "payload": {"code": "LEASE_EXPIRED", "retryable": true}})
        ),
        ["frame.retryable"]
    );
    run(
        &mut m,
        "a",
        json!({"type": "job.accepted", "payload": {"job_id": "j", "budget": {"USD": 1.0}, "credentials": [{"value": "sk-secret"}]}}),
    );
    assert_eq!(
        run(
            &mut m,
            "b",
            json!({"type": "x", "payload": {"v": "sk-secret"}})
        ),
        ["frame.credentials"]
    );
    let rem = |x: f64, seq: u64| json!({"type": "job.event", "job_id": "j", "event_seq": seq, "payload": {"kind": "metric", "body": {"name": "cost.budget.remaining", "value": x, "unit": "USD"}}});
    assert!(run(&mut m, "a", rem(0.5, 5)).is_empty());
    assert_eq!(run(&mut m, "a", rem(0.7, 6)), ["frame.budget"]);
    let term = |seq: u64| json!({"type": "job.result", "job_id": "j", "event_seq": seq, "payload": {"final_status": "success"}});
    assert!(run(&mut m, "a", term(7)).is_empty());
    assert_eq!(run(&mut m, "a", term(8)), ["frame.terminal-once"]);
    m.resumed("a", 6);
    assert!(run(&mut m, "a", term(7)).is_empty());
}

#[test]
fn catches_chunk_order_inline_mix_missing_result_id_and_progress_over_total() {
    let mut m = Monitor::new();
    m.schema = false;
    m.opened(
        "a",
        "alice",
        &["result_chunk".into(), "progress".into(), "subscribe".into()],
    );
    let chunk = |seq: u64, cs: u64| json!({"type": "job.event", "job_id": "j", "event_seq": seq, "payload": {"kind": "result_chunk", "body": {"result_id": "r", "chunk_seq": cs, "data": "x", "encoding": "utf8", "more": true}}});
    assert!(run(&mut m, "a", chunk(1, 0)).is_empty());
    assert!(run(&mut m, "a", chunk(2, 1)).is_empty());
    assert_eq!(run(&mut m, "a", chunk(3, 1)), ["frame.chunk-order"]);
    let progress = |seq: u64, cur: f64| json!({"type": "job.event", "job_id": "j", "event_seq": seq, "payload": {"kind": "progress", "body": {"current": cur, "total": 3}}});
    assert!(run(&mut m, "a", progress(4, 3.0)).is_empty());
    assert_eq!(run(&mut m, "a", progress(5, 4.0)), ["frame.progress-total"]);
    let result = json!({"type": "job.result", "job_id": "j", "event_seq": 6, "payload": {"final_status": "success", "result": 1}});
    assert_eq!(
        run(&mut m, "a", result),
        ["frame.chunk-no-inline", "frame.chunk-result-id"]
    );
    // A history replay sends the chunks again: not out of order.
    let sub = json!({"type": "job.subscribed", "job_id": "j", "payload": {"job_id": "j", "replayed": true}});
    assert!(run(&mut m, "a", sub).is_empty());
    assert!(run(&mut m, "a", chunk(7, 0)).is_empty());
    // Another job, no chunks: an inline result is fine.
    let other = json!({"type": "job.result", "job_id": "k", "event_seq": 8, "payload": {"final_status": "success", "result": 1}});
    assert!(run(&mut m, "a", other).is_empty());
}

#[test]
fn catches_migrated_versions_differing_resubmissions_and_reused_credentials() {
    let mut m = Monitor::new();
    m.schema = false;
    let all = [
        "list_jobs".into(),
        "subscribe".into(),
        "provisioned_credentials".into(),
    ];
    m.opened("a", "alice", &all);
    m.opened("b", "alice", &all);
    let accepted = |job: &str, agent: &str, cred: &str| json!({"type": "job.accepted", "job_id": job, "payload": {"job_id": job, "agent": agent, "credentials": [{"id": "c", "value": cred}]}});
    assert!(run(&mut m, "a", accepted("j", "conformance@1.0.0", "v1")).is_empty());
    // The same payload again (an idempotent resubmission), in any session.
    assert!(run(&mut m, "b", accepted("j", "conformance@1.0.0", "v1")).is_empty());
    assert_eq!(
        run(&mut m, "b", accepted("j", "conformance@1.0.0", "v2")),
        ["frame.idempotent-accepted"]
    );
    assert_eq!(
        run(&mut m, "a", accepted("k", "conformance@1.0.0", "v1")),
        ["frame.credential-reuse"]
    );
    let jobs = |agent: &str| json!({"type": "session.jobs", "payload": {"jobs": [{"job_id": "j", "agent": agent}]}});
    assert!(run(&mut m, "a", jobs("conformance@1.0.0")).is_empty());
    assert!(
        run(&mut m, "a", jobs("conformance")).is_empty(),
        "a bare name says no version"
    );
    assert_eq!(
        run(&mut m, "b", jobs("conformance@2.0.0")),
        ["frame.agent-version"]
    );
}

#[test]
fn catches_a_delegated_lease_beyond_the_parent() {
    let mut m = Monitor::new();
    m.schema = false;
    m.opened("a", "alice", &[]);
    let accepted = json!({"type": "job.accepted", "job_id": "p", "payload": {"job_id": "p",
        "lease": {"fs.read": ["/w/**"], "agent.delegate": ["echo"], "cost.budget": ["USD:5"]},
        "lease_constraints": {"expires_at": "2030-01-01T00:00:00Z"}, "budget": {"USD": 5.0}}});
    assert!(run(&mut m, "a", accepted).is_empty());
    let delegate = |seq: u64, lease: Value, exp: &str| {
        json!({"type": "job.event", "job_id": "p", "event_seq": seq,
        "payload": {"kind": "delegate", "body": {"child_job_id": "c", "agent": "echo", "lease": lease,
        "lease_constraints": {"expires_at": exp}}}})
    };
    let ok = json!({"fs.read": ["/w/src/**"], "cost.budget": ["USD:5"]});
    assert!(run(&mut m, "a", delegate(1, ok, "2029-01-01T00:00:00Z")).is_empty());
    let wider = json!({"fs.read": ["/**"]});
    assert_eq!(
        run(&mut m, "a", delegate(2, wider, "2029-01-01T00:00:00Z")),
        ["frame.delegate-lease"]
    );
    let rich = json!({"cost.budget": ["USD:6"]});
    assert_eq!(
        run(&mut m, "a", delegate(3, rich, "2029-01-01T00:00:00Z")),
        ["frame.delegate-lease"]
    );
    let later = json!({"fs.read": ["/w/**"]});
    assert_eq!(
        run(&mut m, "a", delegate(4, later, "2031-01-01T00:00:00Z")),
        ["frame.delegate-lease"]
    );
}

#[test]
fn an_idempotent_resubmission_repeats_the_accepted_budget() {
    let mut m = Monitor::new();
    m.schema = false;
    m.opened("a", "alice", &[]);
    let accepted = json!({"type": "job.accepted", "job_id": "j", "payload": {"job_id": "j", "budget": {"USD": 1.0}}});
    let rem = |x: f64, seq: u64| json!({"type": "job.event", "job_id": "j", "event_seq": seq, "payload": {"kind": "metric", "body": {"name": "cost.budget.remaining", "value": x, "unit": "USD"}}});
    assert!(run(&mut m, "a", accepted.clone()).is_empty());
    assert!(run(&mut m, "a", rem(-2.0, 1)).is_empty());
    // §7.2: "the same job.accepted payload", budget at acceptance and all.
    assert!(run(&mut m, "a", accepted).is_empty());
    assert_eq!(run(&mut m, "a", rem(0.5, 2)), ["frame.budget"]);
}

#[test]
fn a_history_replay_may_repeat_terminals_and_older_budgets() {
    let mut m = Monitor::new();
    m.schema = false;
    m.opened("a", "alice", &["subscribe".into()]);
    let term = |seq: u64| json!({"type": "job.result", "job_id": "j", "event_seq": seq, "payload": {"final_status": "success"}});
    let rem = |x: f64, seq: u64| json!({"type": "job.event", "job_id": "j", "event_seq": seq, "payload": {"kind": "metric", "body": {"name": "cost.budget.remaining", "value": x, "unit": "USD"}}});
    assert!(run(&mut m, "a", rem(0.5, 1)).is_empty());
    assert!(run(&mut m, "a", rem(-1.0, 2)).is_empty());
    assert!(run(&mut m, "a", term(3)).is_empty());
    let sub = json!({"type": "job.subscribed", "job_id": "j", "payload": {"job_id": "j", "replayed": true}});
    assert!(run(&mut m, "a", sub).is_empty());
    assert!(run(&mut m, "a", rem(0.5, 4)).is_empty());
    assert!(run(&mut m, "a", rem(-1.0, 5)).is_empty());
    assert!(run(&mut m, "a", term(6)).is_empty());
    // A resume replays both copies, without the job.subscribed between them.
    m.resumed("a", 0);
    for (i, f) in [
        rem(0.5, 1),
        rem(-1.0, 2),
        term(3),
        rem(0.5, 4),
        rem(-1.0, 5),
        term(6),
    ]
    .into_iter()
    .enumerate()
    {
        assert!(run(&mut m, "a", f).is_empty(), "frame {i}");
    }
    assert_eq!(run(&mut m, "a", term(7)), ["frame.terminal-once"]);
}
