//! The case language's credential-upstream steps: how they parse, and the
//! line-numbered errors a broken one gets.

use arcp_conform::case::{parse_str, StepKind, UpstreamFact, UpstreamOp};
use std::path::Path;
use std::time::Duration;

const FILE: &str = "cases/credentials/x.yaml";

fn with_steps(steps: &str) -> String {
    format!(
        "id: t.case\ntitle: T\nsections: [\"9.8.2\"]\nlevel: MUST\nrequirement: \"R.\"\nsteps:\n  - set: {{cred: c1, job: j1}}\n{steps}"
    )
}

fn steps(steps: &str) -> Vec<StepKind> {
    let mut cases = parse_str(&with_steps(steps), Path::new(FILE)).expect("parses");
    cases
        .remove(0)
        .steps
        .into_iter()
        .skip(1)
        .map(|s| s.kind)
        .collect()
}

fn err(steps: &str) -> String {
    match parse_str(&with_steps(steps), Path::new(FILE)) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn parses_every_fact_and_fail_plan() {
    let s = steps(
        r#"  - expect_upstream: {revoked: "${cred}", within: 2s}
  - expect_upstream: {revoked_for: "${job}"}
  - expect_upstream_none: {presented_elsewhere: "*", for: 500ms}
  - upstream_fail: {op: revoke, status: 503, times: 2}
  - upstream_fail: {times: 1, credential: "${cred}"}
  - upstream_fail: {delay: 300ms}
"#,
    );
    match &s[0] {
        StepKind::ExpectUpstream(e) => {
            assert_eq!(e.fact, UpstreamFact::Revoked("${cred}".into()));
            assert_eq!(e.within, Duration::from_secs(2));
        }
        k => panic!("{k:?}"),
    }
    match &s[1] {
        StepKind::ExpectUpstream(e) => assert_eq!(e.within, Duration::from_secs(5)),
        k => panic!("{k:?}"),
    }
    match &s[2] {
        StepKind::ExpectUpstreamNone(e) => {
            assert_eq!(e.fact, UpstreamFact::PresentedElsewhere("*".into()));
            assert_eq!(e.duration, Duration::from_millis(500));
        }
        k => panic!("{k:?}"),
    }
    match (&s[3], &s[4], &s[5]) {
        (StepKind::UpstreamFail(a), StepKind::UpstreamFail(b), StepKind::UpstreamFail(c)) => {
            assert_eq!(
                (a.op, a.status, a.times),
                (UpstreamOp::Revoke, 503, Some(2))
            );
            assert_eq!((b.op, b.status, b.times), (UpstreamOp::Any, 503, Some(1)));
            assert_eq!(b.credential.as_deref(), Some("${cred}"));
            assert_eq!(a.credential, None);
            assert_eq!(
                (c.status, c.times, c.delay),
                (0, None, Duration::from_millis(300))
            );
        }
        k => panic!("{k:?}"),
    }
}

#[test]
fn errors_name_the_line() {
    let e = err("  - expect_upstream: {within: 2s}\n");
    assert!(e.starts_with(&format!("{FILE}:8")), "{e}");
    assert!(e.contains("needs exactly one of `issued`"), "{e}");

    let e = err("  - expect_upstream: {revoked: a, rejects: b}\n");
    assert!(e.contains("(got `revoked` and `rejects`)"), "{e}");

    let e = err("  - expect_upstream: {revoked: a, for: 1s}\n");
    assert!(e.contains("`for` belongs to `expect_upstream_none`"), "{e}");

    let e = err("  - expect_upstream_none: {revoked: a, within: 1s}\n");
    assert!(e.contains("`within` belongs to `expect_upstream`"), "{e}");

    let e = err("  - upstream_fail: {status: 200}\n");
    assert!(e.starts_with(&format!("{FILE}:8")), "{e}");
    assert!(e.contains("not an HTTP error status"), "{e}");

    let e = err("  - upstream_fail: {op: delete, times: 1}\n");
    assert!(e.contains("unknown variant `delete`"), "{e}");

    let e = err("  - upstream_fail: {times: 0}\n");
    assert!(e.contains("`times` must be at least 1"), "{e}");

    let e = err("  - upstream_fail: {}\n");
    assert!(e.contains("needs `status`, `times` or `delay`"), "{e}");

    let e = err("  - expect_upstream: {revoked: \"${nope}\"}\n");
    assert!(e.starts_with(&format!("{FILE}:8")), "{e}");
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn upstream_steps_belong_to_runtime_cases() {
    let text = "id: t.client\ntitle: T\nsections: [\"9.8.2\"]\nlevel: MUST\nrequirement: \"R.\"\nrole: client\nscenario: submit\nsteps:\n  - upstream_fail: {times: 1}\n";
    let e = match parse_str(text, Path::new(FILE)) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("`upstream_fail` is a step of runtime cases"),
        "{e}"
    );
}
