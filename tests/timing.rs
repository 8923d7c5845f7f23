//! Timing is not a verdict: waits come from the target, cases that cannot be
//! judged in time are UNTESTABLE or N/A before they run, and a case that
//! failed only on a deadline is retried and, if it then passes, marked flaky.

use arcp_conform::engine::runner::{run_all, run_with_retries, CaseResult, RunOptions};
use arcp_conform::engine::EngineOptions;
use arcp_conform::runtime::{Fault, RuntimeConfig};
use arcp_conform::target::{suite_runtime_config, Target};
use arcp_conform::verdict::Verdict;
use std::sync::Arc;
use std::time::Duration;

fn suite_cases(globs: &[&str]) -> Vec<Arc<arcp_conform::case::Case>> {
    arcp_conform::suite::runtime_suite()
        .unwrap()
        .into_iter()
        .filter(|c| {
            globs.iter().any(|g| match g.strip_suffix('*') {
                Some(prefix) => c.id.starts_with(prefix),
                None => c.id == *g,
            })
        })
        .map(Arc::new)
        .collect()
}

async fn run(target: Target, globs: &[&str]) -> Vec<CaseResult> {
    let cases = suite_cases(globs);
    assert!(!cases.is_empty());
    run_all(
        cases,
        Arc::new(target),
        RunOptions::new(8, EngineOptions::default()),
        |_| {},
    )
    .await
}

/// `serve`'s defaults in real time: the window cases would need ten minutes
/// and the heartbeat-loss cases over 90 s; they are UNTESTABLE at once, with
/// the knob, and the buffer case reads the buffer from the profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_limits_are_untestable_before_running() {
    let cfg = RuntimeConfig {
        clock: arcp_conform::clock::ScaledClock::shared(1.0),
        ..RuntimeConfig::default()
    };
    let started = std::time::Instant::now();
    let results = run(
        Target::embedded(cfg),
        &[
            "session.resume.window-expired-after-ack",
            "session.heartbeat.loss-*",
        ],
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(20));
    for r in &results {
        let (v, why) = (r.outcome.verdict, &r.outcome.reason);
        assert!(matches!(v, Verdict::Untestable), "{}: {v} {why}", r.case.id);
    }
    let window = results
        .iter()
        .find(|r| r.case.id == "session.resume.window-expired-after-ack")
        .unwrap();
    let why = &window.outcome.reason;
    assert!(
        why.contains("605s of wall time")
            && why.contains("--max-case-time 90s")
            && why.contains("time_scale` 7")
            && why.contains("resume_window"),
        "{why}"
    );
}

/// A target advertising no heartbeat interval has no heartbeat rule to
/// test: N/A, and nothing waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_heartbeat_interval_is_not_applicable() {
    let mut cfg = suite_runtime_config(10.0);
    cfg.faults = [Fault::BareWelcome].into_iter().collect();
    let results = run(
        Target::embedded(cfg),
        &["session.heartbeat.*", "jobs.subscribe.survives-*"],
    )
    .await;
    let na = results
        .iter()
        .filter(|r| r.outcome.verdict == Verdict::NotApplicable)
        .count();
    assert!(na >= 6, "{na} N/A");
    for r in &results {
        assert!(
            matches!(r.outcome.verdict, Verdict::NotApplicable | Verdict::Pass),
            "{}: {} {}",
            r.case.id,
            r.outcome.verdict,
            r.outcome.reason
        );
        assert!(r.outcome.duration < Duration::from_secs(5));
    }
}

/// No profile `limits.replay_buffer` for an external-style target: the
/// buffer case is UNTESTABLE and names the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_replay_buffer_is_untestable() {
    let mut t = Target::embedded(suite_runtime_config(10.0));
    t.profile.limits.replay_buffer = None;
    let results = run(t, &["session.resume.window-expired-buffer-overflow"]).await;
    let o = &results[0].outcome;
    assert_eq!(o.verdict, Verdict::Untestable, "{}", o.reason);
    assert!(o.reason.contains("limits.replay_buffer"), "{}", o.reason);
}

const LATE_LOG: &str = r#"
id: timing.late-log
title: A log the target sends after 3 s, awaited with a 2 s deadline
sections: ["8.3"]
level: MUST
requirement: "R."
steps:
  - open: {}
  - submit:
      input: {steps: [{op: sleep, ms: 3000}, {op: log, message: late}, {op: finish, result: ok}]}
  - expect:
      match: {type: job.event, payload: {body: {message: late}}}
      within: 1s
"#;

fn late_log_case() -> arcp_conform::case::Case {
    arcp_conform::case::parse_str(LATE_LOG, std::path::Path::new("timing.yaml"))
        .unwrap()
        .remove(0)
}

/// A deadline-only failure is retried with doubled deadlines; its pass is
/// reported flaky in JSON and JUnit. Without retries it stays a FAIL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_failure_is_retried_and_marked_flaky() {
    // Real time: the 1 s wait gets the 2 s floor, the log comes after 3 s.
    let target = Target::embedded(suite_runtime_config(1.0));
    let case = late_log_case();
    let opts = EngineOptions::default();
    let strict = run_with_retries(&case, &target, &opts, 0).await;
    assert_eq!(strict.verdict, Verdict::Fail, "{}", strict.reason);
    assert!(strict.flaky.is_none());
    let o = run_with_retries(&case, &target, &opts, 1).await;
    assert_eq!(o.verdict, Verdict::Pass, "{}", o.reason);
    let flaky = o.flaky.clone().expect("marked flaky");
    assert!(
        flaky.contains("within") && flaky.contains("retry 1"),
        "{flaky}"
    );
    let result = CaseResult {
        case: Arc::new(case),
        outcome: o,
    };
    let report = arcp_conform::report::RunReport::new(
        "t".into(),
        "embedded".into(),
        "now".into(),
        Duration::ZERO,
        &[result],
        arcp_conform::checks::ALL,
    );
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"flaky\""), "{json}");
    let junit = arcp_conform::report::junit::render(&report, false);
    assert!(junit.contains("<property name=\"flaky\""), "{junit}");
    assert!(junit.contains("FLAKY: "), "{junit}");
}

/// A failure on what arrived (not on a deadline) is not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_failure_is_not_retried() {
    let cases = suite_cases(&["session.hello.welcome"]);
    let mut cfg = suite_runtime_config(10.0);
    cfg.faults = [Fault::BareWelcome].into_iter().collect();
    let bare = Target::embedded(cfg);
    let o = run_with_retries(&cases[0], &bare, &EngineOptions::default(), 3).await;
    // session.hello.welcome is INFO (§6.2's welcome sentence has no keyword).
    assert_eq!(o.verdict, Verdict::Info, "{}", o.reason);
    assert!(!o.deadline_missed && o.flaky.is_none());
    assert!(!o.reason.contains("retry"), "{}", o.reason);
    // And a deadline failure that persists says it was retried.
    let mut cfg = suite_runtime_config(10.0);
    cfg.faults = [Fault::NoPong].into_iter().collect();
    let target = Target::embedded(cfg);
    let pong = suite_cases(&["session.heartbeat.pong-echoes-nonce"]);
    let o = run_with_retries(&pong[0], &target, &EngineOptions::default(), 1).await;
    assert_eq!(o.verdict, Verdict::Fail, "{}", o.reason);
    assert!(o.reason.contains("also on retry 1"), "{}", o.reason);
}
