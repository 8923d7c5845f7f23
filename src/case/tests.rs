//! Loader tests: the YAML in here doubles as the worked examples of the
//! case language.

use super::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

const FILE: &str = "cases/session/x.yaml";

fn parse(text: &str) -> Result<Vec<Case>, CaseError> {
    parse_str(text, Path::new(FILE))
}

fn one(text: &str) -> Case {
    match parse(text) {
        Ok(mut cases) => {
            assert_eq!(cases.len(), 1);
            cases.remove(0)
        }
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("expected an error, parsed {} case(s)", c.len()),
        Err(e) => e.to_string(),
    }
}

/// A case header followed by `steps`, so tests can focus on steps.
fn with_steps(steps: &str) -> String {
    format!(
        "id: t.case\ntitle: T\nsections: [\"6.3\"]\nlevel: MUST\nrequirement: \"R.\"\nsteps:\n{steps}"
    )
}

fn steps_of(steps: &str) -> Vec<Step> {
    one(&with_steps(steps)).steps
}

fn assert_err(text: &str, want: &str) {
    let e = err(text);
    assert_eq!(e, want, "\nfull error: {e}");
}

fn assert_err_contains(text: &str, want: &str) {
    let e = err(text);
    assert!(e.contains(want), "error {e:?}\ndoes not contain {want:?}");
}

const FULL: &str = r#"# A complete example using every top-level field.
id: session.resume.replays-after-last-seq
title: Resume replays events after last_event_seq
sections: ["6.3", "8.3"]
level: INFO
requirement: "The runtime replays buffered events from that sequence."
requires:
  features: [subscribe, heartbeat]
  agents: [conformance]
  sessions: 2
  principals: [alice, bob]
  reconnect: true
tags: [resume, events]
depends_on: [session.handshake.welcome]
timeout: 20s
role: runtime
steps:
  - open: {}
    note: handshake as alice
  - submit:
      input: {script: [{emit: progress, count: 3}]}
      lease_request: {"fs.read": ["/tmp/**"]}
      idempotency_key: "k-${session.a.id}"
      max_runtime_sec: 60
  - expect:
      match:
        type: job.event
        job_id: "${job}"
        event_seq: "$capture seq"
        payload: {kind: progress}
      within: 2s
      capture: {first_kind: /payload/kind}
  - drop: {}
  - resume:
      last_event_seq: "${seq}"
  - expect: {match: {type: session.welcome}, next: true}
  - wait_job: {status: success, within: 15s, capture: {result: /payload/result}}
"#;

#[test]
fn full_case_fields() {
    let c = one(FULL);
    assert_eq!(c.id, "session.resume.replays-after-last-seq");
    assert_eq!(c.title, "Resume replays events after last_event_seq");
    assert_eq!(c.sections, ["6.3", "8.3"]);
    assert_eq!(c.level, Level::Info);
    assert_eq!(
        c.requirement,
        "The runtime replays buffered events from that sequence."
    );
    assert_eq!(
        c.requires.features,
        [
            crate::wire::Feature::Subscribe,
            crate::wire::Feature::Heartbeat
        ]
    );
    assert_eq!(c.requires.agents, [AgentRole::Conformance]);
    assert_eq!(c.requires.sessions, 2);
    assert_eq!(c.requires.principals, [Principal::Alice, Principal::Bob]);
    assert!(c.requires.reconnect);
    assert_eq!(c.tags, ["resume", "events"]);
    assert_eq!(c.depends_on, ["session.handshake.welcome"]);
    assert_eq!(c.timeout, Duration::from_secs(20));
    assert_eq!(c.role, Role::Runtime);
    assert_eq!(c.source, PathBuf::from(FILE));
    assert_eq!(c.line, 2);
    assert_eq!(c.location(), "cases/session/x.yaml:2");
    let lines: Vec<usize> = c.steps.iter().map(|s| s.line).collect();
    assert_eq!(lines, [18, 20, 25, 33, 34, 36, 37]);
    assert_eq!(c.steps[0].note.as_deref(), Some("handshake as alice"));
}

#[test]
fn full_case_steps() {
    let c = one(FULL);
    let StepKind::Open(h) = &c.steps[0].kind else {
        panic!()
    };
    assert_eq!(h.session, "a");
    assert_eq!(h.principal, Principal::Alice);
    assert_eq!(h.features, FeatureSet::All);
    assert_eq!(h.auth, Auth::Default);
    assert_eq!(h.expect, HelloOutcome::Welcome);
    assert_eq!(h.client, None);
    assert_eq!(h.payload, None);

    let StepKind::Submit(s) = &c.steps[1].kind else {
        panic!()
    };
    assert_eq!(s.agent, "${agents.conformance}");
    assert_eq!(
        s.input,
        json!({"script": [{"emit": "progress", "count": 3}]})
    );
    assert_eq!(s.lease_request, Some(json!({"fs.read": ["/tmp/**"]})));
    assert_eq!(s.idempotency_key.as_deref(), Some("k-${session.a.id}"));
    assert_eq!(s.max_runtime_sec, Some(json!(60)));
    assert_eq!(s.capture_as, "job");
    assert_eq!(s.expect, SubmitOutcome::Accepted);

    let StepKind::Expect(e) = &c.steps[2].kind else {
        panic!()
    };
    assert_eq!(e.within, Duration::from_secs(2).into());
    assert!(!e.next);
    assert_eq!(e.pattern["event_seq"], json!("$capture seq"));
    assert_eq!(e.capture["first_kind"], "/payload/kind");

    let StepKind::Resume(r) = &c.steps[4].kind else {
        panic!()
    };
    assert_eq!(r.last_event_seq, json!("${seq}"));
    assert_eq!(r.token, json!("${session.a.resume_token}"));

    let StepKind::Expect(e) = &c.steps[5].kind else {
        panic!()
    };
    assert!(e.next);
    assert_eq!(e.within, DEFAULT_EXPECT_WITHIN.into());

    let StepKind::WaitJob(w) = &c.steps[6].kind else {
        panic!()
    };
    assert_eq!(w.job, "${job}");
    assert_eq!(w.status, JobStatus::Success);
    assert_eq!(w.within, Duration::from_secs(15).into());
    assert_eq!(w.capture["result"], "/payload/result");
}

#[test]
fn minimal_case_defaults() {
    let c = one(&with_steps("  - open:\n"));
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert_eq!(c.role, Role::Runtime);
    assert!(c.tags.is_empty() && c.depends_on.is_empty());
    // requires is completed from the steps: one session, alice.
    assert_eq!(c.requires.sessions, 1);
    assert_eq!(c.requires.principals, [Principal::Alice]);
    assert!(c.requires.agents.is_empty());
    assert!(!c.requires.reconnect);
    assert!(c.requires.features.is_empty());
}

#[test]
fn every_step_kind() {
    let steps = steps_of(
        r#"  - connect: {session: b}
  - hello:
      session: b
      principal: bob
      features: [heartbeat, made_up_feature]
      client: {name: probe, version: 2}
      auth: {scheme: bearer, token: "${principal.bob.token}"}
      payload: {capabilities: {encodings: [json]}}
  - open:
      principal: invalid
      features: all
      auth: null
      expect: error
      code: UNAUTHENTICATED
  - drop:
  - open: {principal: alice2, expect: error}
  - drop: {}
  - open: {session: c}
  - send: {session: c, type: session.ping, payload: {nonce: n1}, job_id: "${session.c.id}", trace_id: t1, envelope: {arcp: null, extra: 1}}
  - send: {session: c, raw: "{not json"}
  - send: {session: c, oversize: 1048577}
  - send: {session: c, type: job.cancel}
  - submit: {session: c, agent: "${agents.echo}", as: j2, expect: error, code: AGENT_NOT_AVAILABLE, trace_id: tr}
  - expect_error: {session: c, code: INVALID_REQUEST, within: 1s, in: session.error}
  - expect_error: {session: c}
  - expect_none: {session: c, for: 500ms}
  - expect_none: {session: c, match: {type: job.event}, for: 2}
  - sleep: 250ms
  - set: {x: 1, y: "${x}-${now+5s}"}
  - assert: {equal: ["${x}", 1], message: x is one}
  - assert: {not_equal: [1, 2]}
  - assert: {less: [1, 2]}
  - assert: {greater: ["${now}", "${now-1h}"]}
  - repeat:
      times: 3
      steps:
        - send: {session: c, type: session.ping, payload: {nonce: "n${i}"}}
  - expect_close: {session: c, within: 3s}
  - resume: {session: c, token: "${session.c.resume_token}", expect: error, code: RESUME_WINDOW_EXPIRED}
  - wait_job: {session: c, job: "${j2}", status: cancelled}
  - wait_job: {session: c, job: "${j2}", status: timed_out}
"#,
    );
    let kinds: Vec<&str> = steps.iter().map(|s| s.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "connect",
            "hello",
            "open",
            "drop",
            "open",
            "drop",
            "open",
            "send",
            "send",
            "send",
            "send",
            "submit",
            "expect_error",
            "expect_error",
            "expect_none",
            "expect_none",
            "sleep",
            "set",
            "assert",
            "assert",
            "assert",
            "assert",
            "repeat",
            "expect_close",
            "resume",
            "wait_job",
            "wait_job"
        ]
    );
    let k = |i: usize| &steps[i].kind;

    assert_eq!(
        k(0),
        &StepKind::Connect(SessionRef {
            session: "b".into()
        })
    );
    let StepKind::Hello(h) = k(1) else { panic!() };
    assert_eq!(h.session, "b");
    assert_eq!(h.principal, Principal::Bob);
    assert_eq!(
        h.features,
        FeatureSet::List(vec!["heartbeat".into(), "made_up_feature".into()])
    );
    assert_eq!(
        h.client,
        Some(ClientInfo {
            name: "probe".into(),
            version: "2".into()
        })
    );
    assert_eq!(
        h.auth,
        Auth::Replace(json!({"scheme": "bearer", "token": "${principal.bob.token}"}))
    );
    assert_eq!(
        h.payload.clone().map(serde_json::Value::Object),
        Some(json!({"capabilities": {"encodings": ["json"]}}))
    );
    let StepKind::Open(h) = k(2) else { panic!() };
    assert_eq!(h.principal, Principal::Invalid);
    assert_eq!(h.auth, Auth::Omit);
    assert_eq!(h.features, FeatureSet::All);
    assert_eq!(
        h.expect,
        HelloOutcome::Error {
            code: Some("UNAUTHENTICATED".into())
        }
    );
    assert_eq!(
        k(3),
        &StepKind::Drop(SessionRef {
            session: "a".into()
        })
    );
    let StepKind::Open(h) = k(4) else { panic!() };
    assert_eq!(h.expect, HelloOutcome::Error { code: None });

    let StepKind::Send(s) = k(7) else { panic!() };
    assert_eq!(s.session, "c");
    let Frame::Message(m) = &s.frame else {
        panic!()
    };
    assert_eq!(m.kind, "session.ping");
    assert_eq!(m.payload, json!({"nonce": "n1"}));
    assert_eq!(m.job_id.as_deref(), Some("${session.c.id}"));
    assert_eq!(m.trace_id.as_deref(), Some("t1"));
    assert_eq!(
        serde_json::Value::Object(m.envelope.clone()),
        json!({"arcp": null, "extra": 1})
    );
    let StepKind::Send(s) = k(8) else { panic!() };
    assert_eq!(s.frame, Frame::Raw("{not json".into()));
    let StepKind::Send(s) = k(9) else { panic!() };
    assert_eq!(s.frame, Frame::Oversize(1048577));
    let StepKind::Send(s) = k(10) else { panic!() };
    let Frame::Message(m) = &s.frame else {
        panic!()
    };
    assert_eq!(m.payload, json!({}));
    assert!(m.envelope.is_empty() && m.job_id.is_none());

    let StepKind::Submit(s) = k(11) else { panic!() };
    assert_eq!(s.agent, "${agents.echo}");
    assert_eq!(s.capture_as, "j2");
    assert_eq!(s.input, json!({}));
    assert_eq!(s.trace_id.as_deref(), Some("tr"));
    assert_eq!(
        s.expect,
        SubmitOutcome::Error {
            code: Some("AGENT_NOT_AVAILABLE".into())
        }
    );

    assert_eq!(
        k(12),
        &StepKind::ExpectError(ExpectError {
            session: "c".into(),
            code: Some("INVALID_REQUEST".into()),
            within: Duration::from_secs(1).into(),
            source: ErrorSource::SessionError,
            or_close: false,
        })
    );
    assert_eq!(
        k(13),
        &StepKind::ExpectError(ExpectError {
            session: "c".into(),
            code: None,
            within: DEFAULT_EXPECT_WITHIN.into(),
            source: ErrorSource::Any,
            or_close: false,
        })
    );
    assert_eq!(
        k(14),
        &StepKind::ExpectNone(ExpectNone {
            session: "c".into(),
            pattern: None,
            duration: Duration::from_millis(500).into(),
        })
    );
    let StepKind::ExpectNone(e) = k(15) else {
        panic!()
    };
    assert_eq!(e.pattern, Some(json!({"type": "job.event"})));
    assert_eq!(e.duration, Duration::from_secs(2).into());
    assert_eq!(k(16), &StepKind::Sleep(Duration::from_millis(250).into()));
    let StepKind::Set(m) = k(17) else { panic!() };
    assert_eq!(
        serde_json::Value::Object(m.clone()),
        json!({"x": 1, "y": "${x}-${now+5s}"})
    );
    assert_eq!(
        k(18),
        &StepKind::Assert(Assert {
            op: AssertOp::Equal,
            left: json!("${x}"),
            right: json!(1),
            message: Some("x is one".into()),
        })
    );
    let ops: Vec<AssertOp> = steps[18..22]
        .iter()
        .map(|s| match &s.kind {
            StepKind::Assert(a) => a.op,
            _ => panic!(),
        })
        .collect();
    assert_eq!(
        ops,
        [
            AssertOp::Equal,
            AssertOp::NotEqual,
            AssertOp::Less,
            AssertOp::Greater
        ]
    );
    let StepKind::Repeat(r) = k(22) else { panic!() };
    assert_eq!(r.times, 3);
    assert_eq!(r.steps.len(), 1);
    assert_eq!(
        k(23),
        &StepKind::ExpectClose(ExpectClose {
            session: "c".into(),
            within: Duration::from_secs(3).into()
        })
    );
    let StepKind::Resume(r) = k(24) else { panic!() };
    assert_eq!(r.last_event_seq, json!("${session.c.last_seq}"));
    assert_eq!(
        r.expect,
        HelloOutcome::Error {
            code: Some("RESUME_WINDOW_EXPIRED".into())
        }
    );
    let StepKind::WaitJob(w) = k(25) else {
        panic!()
    };
    assert_eq!((w.job.as_str(), w.status), ("${j2}", JobStatus::Cancelled));
    let StepKind::WaitJob(w) = k(26) else {
        panic!()
    };
    assert_eq!(w.status, JobStatus::TimedOut);

    // session() helper
    assert_eq!(k(0).session(), Some("b"));
    assert_eq!(k(16).session(), None);
}

#[test]
fn requires_completed_from_steps() {
    let c = one(&with_steps(
        r#"  - open: {}
  - open: {session: b, principal: bob}
  - submit: {session: b, agent: "${agents.echo}"}
  - hello: {auth: {token: "${principal.alice2.token}"}}
  - drop: {session: b}
  - resume: {session: b}
"#,
    ));
    assert_eq!(c.requires.sessions, 2);
    assert_eq!(c.requires.agents, [AgentRole::Echo]);
    assert_eq!(
        c.requires.principals,
        [Principal::Alice, Principal::Bob, Principal::Alice2]
    );
    assert!(c.requires.reconnect);

    // declared values are kept (and come first)
    let c = one(
        "id: t\ntitle: T\nsection: \"7\"\nlevel: MAY\nrequirement: R\nrequires: {sessions: 3, principals: [bob], agents: [echo]}\nsteps:\n  - open: {}\n  - submit: {}\n",
    );
    assert_eq!(c.sections, ["7"]);
    assert_eq!(c.level, Level::May);
    assert_eq!(c.requires.sessions, 3);
    assert_eq!(c.requires.principals, [Principal::Bob, Principal::Alice]);
    assert_eq!(c.requires.agents, [AgentRole::Echo, AgentRole::Conformance]);
}

#[test]
fn flow_style_and_nested_repeat_lines() {
    let text = with_steps(
        r#"  - open: {}
  -   sleep: 1
  - repeat:
      times: 2
      steps:
        - send: {type: session.ping}
        - repeat:
            times: 1
            steps:

              - sleep: 1s
              - {expect: {match: {type: session.pong}}}
  - {drop: {}}
"#,
    );
    let c = one(&text);
    // header is 6 lines; `steps:` is line 6
    let all: Vec<(usize, &str)> = c
        .all_steps()
        .iter()
        .map(|s| (s.line, s.kind.name()))
        .collect();
    assert_eq!(
        all,
        [
            (7, "open"),
            (8, "sleep"),
            (9, "repeat"),
            (12, "send"),
            (13, "repeat"),
            (17, "sleep"),
            (18, "expect"),
            (19, "drop")
        ]
    );
    let flow = with_steps("  [ ]\n").replace(
        "steps:\n  [ ]\n",
        "steps: [ {open: {}},\n  {sleep: 2s}, {drop: {}} ]\n",
    );
    let c = one(&flow);
    assert_eq!(
        c.steps.iter().map(|s| s.line).collect::<Vec<_>>(),
        [6, 7, 7]
    );
}

#[test]
fn multi_document_files() {
    let text = format!(
        "{}---\n# second\n{}---\n",
        with_steps("  - open: {}\n"),
        with_steps("  - open: {}\n  - drop: {}\n").replace("t.case", "t.other")
    );
    let cases = parse(&text).unwrap();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].id, "t.case");
    assert_eq!(cases[1].id, "t.other");
    assert_eq!(cases[0].line, 1);
    assert_eq!(cases[1].line, 10);
    assert_eq!(cases[1].steps[1].line, 17);

    // errors in a later document point into that document
    let text = format!(
        "{}---\n{}",
        with_steps("  - open: {}\n"),
        with_steps("  - open: {}\n  - expekt: {}\n").replace("t.case", "t.two")
    );
    assert_eq!(
        err(&text),
        format!(
            "{FILE}:16:5: unknown step `expekt` (expected one of: {}); did you mean `expect`?",
            StepKind::NAMES.join(", ")
        )
    );

    // the same id twice in one file
    let text = format!(
        "{}---\n{}",
        with_steps("  - open: {}\n"),
        with_steps("  - open: {}\n")
    );
    assert_eq!(
        err(&text),
        format!("{FILE}:9: duplicate case id \"t.case\" (also in {FILE}:1)")
    );
}

#[test]
fn error_unknown_step_with_line_and_column() {
    let text = format!(
        "{}  - open: {{}}\n  - expekt:\n      match: {{}}\n",
        with_steps("")
    );
    assert_eq!(
        err(&text),
        "cases/session/x.yaml:8:5: unknown step `expekt` (expected one of: open, connect, hello, send, submit, expect, expect_error, expect_none, expect_close, drop, resume, wait_job, sleep, set, assert, repeat, welcome, accept, emit, expect_output, expect_upstream, expect_upstream_none, upstream_fail); did you mean `expect`?"
    );
    // no suggestion when nothing is close
    assert_err_contains(
        &with_steps("  - frobnicate: {}\n"),
        "(expected one of: open,",
    );
    assert!(!err(&with_steps("  - frobnicate: {}\n")).contains("did you mean"));
}

#[test]
fn error_invalid_id() {
    let text = "title: T\nsections: [\"1\"]\nid: Bad Id\nlevel: MUST\nrequirement: R\nsteps: [{sleep: 1}]\n";
    assert_err(
        text,
        "cases/session/x.yaml:3:5: invalid id \"Bad Id\": must match ^[a-z0-9][a-z0-9_.-]*$",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n").replace("t.case", "-x"),
        ":1:5: invalid id \"-x\"",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n").replace("t.case", "a/b"),
        "invalid id \"a/b\"",
    );
}

#[test]
fn error_session_before_open() {
    let text =
        with_steps("  - open: {}\n  - sleep: 1s\n  - send: {session: b, type: session.ping}\n");
    assert_err(
        text.as_str(),
        "cases/session/x.yaml:9: step uses session \"b\" before it is opened",
    );
    assert_err(
        &with_steps("  - expect: {match: {}}\n"),
        "cases/session/x.yaml:7: step uses session \"a\" before it is opened",
    );
    assert_err(
        &with_steps("  - hello: {}\n"),
        "cases/session/x.yaml:7: step uses session \"a\" before it is opened",
    );
    assert_err(
        &with_steps("  - drop: {session: z}\n"),
        "cases/session/x.yaml:7: step uses session \"z\" before it is opened",
    );
    // inside a repeat, with the nested step's own line
    assert_err(
        &with_steps("  - open: {}\n  - repeat:\n      times: 2\n      steps:\n        - sleep: 1\n        - submit: {session: q}\n"),
        "cases/session/x.yaml:12: step uses session \"q\" before it is opened",
    );
    // a template naming a session that is not open yet
    assert_err(
        &with_steps("  - open: {}\n  - send: {type: x, payload: {s: \"${session.b.id}\"}}\n  - open: {session: b}\n"),
        "cases/session/x.yaml:8: `${session.b.id}` refers to session \"b\" before it is opened",
    );
}

#[test]
fn error_session_lifecycle() {
    assert_err(
        &with_steps("  - open: {}\n  - drop: {}\n  - send: {type: session.ping}\n"),
        "cases/session/x.yaml:9: step uses session \"a\" after it was dropped (`resume` or `open` it again)",
    );
    assert_err(
        &with_steps("  - open: {}\n  - expect_close: {}\n  - expect: {match: {}}\n"),
        "cases/session/x.yaml:9: step uses session \"a\" after the peer closed it (`resume` or `open` it again)",
    );
    assert_err(
        &with_steps("  - open: {}\n  - resume: {}\n"),
        "cases/session/x.yaml:8: `resume` on session \"a\", which is still connected (`drop` it first, or use another session name)",
    );
    assert_err(
        &with_steps("  - open: {}\n  - open: {}\n"),
        "cases/session/x.yaml:8: `open` on session \"a\", which is still connected (`drop` it first, or use another session name)",
    );
    // an open inside a repeat without a drop fails on the second iteration
    assert_err_contains(
        &with_steps("  - repeat:\n      times: 2\n      steps:\n        - open: {}\n"),
        ":10: `open` on session \"a\", which is still connected",
    );
    // ... and is fine with one
    one(&with_steps(
        "  - repeat:\n      times: 2\n      steps:\n        - open: {}\n        - drop: {}\n",
    ));
    // after expect_close: drop is harmless, open/resume are fine
    one(&with_steps("  - open: {}\n  - expect_close: {}\n  - drop: {}\n  - resume: {}\n  - drop: {}\n  - open: {}\n"));
    // resuming a session that was never opened is allowed when the token
    // and sequence are given explicitly (a second transport for `a`'s session)
    one(&with_steps("  - open: {}\n  - resume: {session: b, token: \"${session.a.resume_token}\", last_event_seq: 0}\n"));
    // ... but the defaults name the resumed session
    assert_err(
        &with_steps("  - open: {}\n  - resume: {session: b}\n"),
        "cases/session/x.yaml:8: `${session.b.last_seq}` refers to session \"b\" before it is opened",
    );
}

#[test]
fn error_template_names() {
    assert_err(
        &with_steps("  - open: {}\n  - wait_job: {}\n"),
        "cases/session/x.yaml:8: unknown template name `${job}`: not a built-in, and no earlier step captures or sets it",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - send: {type: x, payload: {n: \"${i}\"}}\n"),
        ":8: `${i}` is only defined inside `repeat`",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - send: {type: x, payload: {t: \"${now+5x}\"}}\n"),
        ":8: unknown template name `${now+5x}`",
    );
    // a name used before the step that captures it
    assert_err_contains(
        &with_steps("  - open: {}\n  - assert: {equal: [\"${v}\", 1]}\n  - set: {v: 1}\n"),
        ":8: unknown template name `${v}`",
    );
    // a step cannot use its own captures
    assert_err_contains(
        &with_steps("  - open: {}\n  - expect: {match: {a: \"$capture v\", b: \"${v}\"}}\n"),
        "unknown template name `${v}`",
    );
    // set is evaluated in order
    one(&with_steps("  - set: {a: 1, b: \"${a}\"}\n"));
    assert_err_contains(&with_steps("  - set: {b: \"${a}\", a: 1}\n"), "`${a}`");
    // captures from every source are visible later
    one(&with_steps(
        "  - open: {}\n  - submit: {as: j}\n  - expect: {match: {x: \"$capture p\"}, capture: {q: /a}}\n  - wait_job: {job: \"${j}\", capture: {r: /payload}}\n  - assert: {equal: [\"${p}${q}\", \"${r}\"]}\n",
    ));
    // a name captured late in a repeat body is not there on iteration 0
    assert_err_contains(
        &with_steps("  - open: {}\n  - repeat:\n      times: 2\n      steps:\n        - assert: {equal: [\"${late}\", 1]}\n        - set: {late: 1}\n"),
        ":11: unknown template name `${late}`",
    );
    // reserved capture names
    assert_err_contains(
        &with_steps("  - set: {now: 1}\n"),
        "capture name \"now\" is reserved",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - submit: {as: i}\n"),
        "capture name \"i\" is reserved",
    );
    // malformed template syntax is reported where it is written
    assert_err(
        &with_steps("  - open: {}\n  - send:\n      type: x\n      payload:\n        a: \"${oops\"\n"),
        "cases/session/x.yaml:11:12: unterminated `${` in \"${oops\" (write `$${` for a literal `${`)",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - wait_job: {job: \"${a b}\"}\n"),
        "invalid template name `${a b}`",
    );
    // escapes are fine
    one(&with_steps(
        "  - open: {}\n  - send: {type: x, payload: {a: \"$${literal}\"}}\n",
    ));
}

#[test]
fn error_unknown_and_missing_fields() {
    assert_err(
        &with_steps("  - open: {}\n  - send: {type: x, paylaod: {}}\n"),
        "cases/session/x.yaml:8:21: steps[1].send: unknown field `paylaod`, expected one of `session`, `type`, `raw`, `oversize`, `payload`, `job_id`, `trace_id`, `envelope`",
    );
    assert_err_contains(
        &(with_steps("  - open: {}\n") + "colour: red\n"),
        ":8:1: unknown field `colour`, expected one of `id`,",
    );
    assert_err(
        &with_steps("  - open: {}\n  - expect: {within: 1s}\n"),
        "cases/session/x.yaml:8:13: steps[1].expect: missing field `match`",
    );
    assert_err(
        "id: a\ntitle: T\nsections: [\"1\"]\nlevel: MUST\nsteps: [{sleep: 1}]\n",
        "cases/session/x.yaml:1:1: missing field `requirement`",
    );
    assert_err_contains(
        "id: a\ntitle: T\nlevel: MUST\nrequirement: R\nsteps: [{sleep: 1}]\n",
        ":1:1: missing field `sections`",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n").replace(
            "sections: [\"6.3\"]",
            "sections: [\"6.3\"]\nsection: \"6.3\"",
        ),
        "give either `sections` or `section`, not both",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - open: {session: b, client: {name: x}}\n"),
        "missing field `version`",
    );
    assert_err_contains(
        &with_steps("  - open: {client: {name: x, version: 1.0}}\n"),
        ":7:39: 1.0 reads as a number; quote it (e.g. \"1.0\") so it stays text exactly as written",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n    note: one\n    note: two\n"),
        "duplicate key \"note\"",
    );
}

#[test]
fn error_step_shape() {
    assert_err(
        &with_steps("  - open: {}\n    sleep: 1\n"),
        "cases/session/x.yaml:7:5: a step has exactly one step key, this one has `open` and `sleep` (start a new `- ` item)",
    );
    assert_err_contains(
        &with_steps("  - note: nothing\n"),
        ":7:5: step has no step key (expected one of: open,",
    );
    assert_err_contains(
        &with_steps("  - open\n"),
        "expected a step: a mapping with one step key",
    );
    assert_err_contains(
        &with_steps("  []\n").replace("steps:\n  []\n", "steps: []\n"),
        ":6:8: must not be empty",
    );
    assert_err_contains(
        &with_steps("  - repeat: {times: 2, steps: []}\n"),
        "must not be empty",
    );
    assert_err_contains(
        &with_steps("  - repeat: {times: 0, steps: [{sleep: 1}]}\n"),
        "`times` must be at least 1",
    );
}

#[test]
fn error_exactly_one_of() {
    assert_err(
        &with_steps("  - open: {}\n  - send: {payload: {}}\n"),
        "cases/session/x.yaml:8:11: `send` needs exactly one of `type`, `raw` or `oversize`",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - send: {type: x, raw: y}\n"),
        "`send` takes exactly one of `type`, `raw` or `oversize` (got `type` and `raw`)",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - send: {raw: y, payload: {}}\n"),
        "`payload` only applies to `send: {type: ...}`, not to `raw`",
    );
    assert_err_contains(
        &with_steps("  - assert: {equal: [1, 1], less: [1, 2]}\n"),
        "`assert` takes exactly one of `equal`, `not_equal`, `less`, `greater` (got `equal` and `less`)",
    );
    assert_err_contains(
        &with_steps("  - assert: {message: hi}\n"),
        "`assert` needs exactly one of",
    );
    assert_err_contains(
        &with_steps("  - assert: {equal: [1]}\n"),
        "invalid length 1",
    );
    assert_err_contains(
        &with_steps("  - open: {expect: welcome, code: UNAUTHENTICATED}\n"),
        "`code: UNAUTHENTICATED` only applies with `expect: error`",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - submit: {expect: accepted, code: TIMEOUT}\n"),
        "`code: TIMEOUT` only applies with `expect: error`",
    );
    // code alone implies expect: error
    let s = steps_of("  - open: {code: UNAUTHENTICATED}\n");
    let StepKind::Open(h) = &s[0].kind else {
        panic!()
    };
    assert_eq!(
        h.expect,
        HelloOutcome::Error {
            code: Some("UNAUTHENTICATED".into())
        }
    );
}

/// A case's level is the keyword its quoted sentence carries: a sentence
/// without MUST/SHOULD/MAY is not a MUST (issue 10, "Verdict levels").
#[test]
fn level_follows_the_quoted_sentence() {
    // The suite loader (embedded suite, `--cases DIR`) applies the rule.
    let load = |text: &str| {
        let sources = [(PathBuf::from(FILE), text.to_string())];
        let cases = load_sources(&sources)?;
        check_levels(&cases, &sources).map(|()| cases)
    };
    let err = |text: &str| load(text).unwrap_err().to_string();
    let one = |text: &str| load(text).unwrap().remove(0);
    let assert_err = |text: &str, want: &str| assert_eq!(err(text), want);
    let assert_err_contains = |text: &str, want: &str| {
        let e = err(text);
        assert!(e.contains(want), "{e}");
    };
    let case = |level: &str, req: &str| {
        format!(
            "id: t.case\ntitle: T\nsections: [\"6.7\"]\nlevel: {level}\nrequirement: \"{req}\"\nsteps:\n  - open: {{}}\n"
        )
    };
    // §6.7: no keyword. MUST, SHOULD and MAY are refused at the `level:` line.
    let ack = "The runtime acknowledges with `session.closed`.";
    assert_err(
        &case("MUST", ack),
        "cases/session/x.yaml:4: `level: MUST` needs a requirement sentence with MUST or REQUIRED or SHALL, but the quoted one has no RFC 2119 keyword: quote the spec sentence that carries the MUST, or write the level the sentence supports (INFO for a sentence without a keyword)",
    );
    for level in ["SHOULD", "MAY"] {
        assert_err_contains(&case(level, ack), &format!(":4: `level: {level}` needs"));
    }
    assert_eq!(one(&case("INFO", ack)).level, Level::Info);
    // A MAY sentence is not a MUST either; it says which keyword it has.
    let may = "Either peer MAY emit `session.ping` if idle and expect a prompt `session.pong`.";
    assert_err_contains(&case("MUST", may), "the quoted one has only MAY");
    assert_eq!(one(&case("MAY", may)).level, Level::May);
    // MUST NOT and REQUIRED carry a MUST; a fragment counts its whole sentence.
    one(&case(
        "MUST",
        "Either peer MUST NOT use a feature outside that intersection.",
    ));
    one(&case("MUST", "`job_id` (REQUIRED):"));
    one(&case(
        "MUST",
        "the runtime MUST verify the subscribing session's principal",
    ));
    one(&case("MUST", "verify the subscribing session's principal"));
    // The same rule for client cases.
    let client = case("MUST", ack).replace("  - open: {}\n", "  - welcome: {}\n")
        + "role: client\nscenario: submit\n";
    assert_err_contains(&client, ":4: `level: MUST` needs");
    one(&client.replace("level: MUST", "level: INFO"));
}

#[test]
fn error_values() {
    // level
    assert_err_contains(
        &with_steps("  - open: {}\n").replace("level: MUST", "level: MUST NOT"),
        ":4:8: invalid level \"MUST NOT\": write \"MUST\" (the NOT stays in the requirement sentence)",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n").replace("level: MUST", "level: must"),
        "invalid level \"must\" (expected MUST, SHOULD, MAY or INFO)",
    );
    // durations
    assert_err(
        &with_steps("  - sleep: 5 seconds\n"),
        "cases/session/x.yaml:7:12: invalid duration \"5 seconds\": unknown unit \"seconds \" (use ms, s, m or h)"
            .replace("\"seconds \"", "\"seconds\"")
            .as_str(),
    );
    assert_err_contains(
        &with_steps("  - sleep: -1\n"),
        "invalid duration -1: negative",
    );
    assert_err_contains(
        &(with_steps("  - open: {}\n") + "timeout: 0s\n"),
        "`timeout` must be more than 0",
    );
    // codes, features, principals, statuses, sources
    assert_err_contains(
        &with_steps("  - open: {}\n  - expect_error: {code: NOPE}\n"),
        ":8:26: unknown error code \"NOPE\" (expected one of: PERMISSION_DENIED,",
    );
    assert_err_contains(
        &(with_steps("  - open: {}\n") + "requires: {features: [subscribe, teleport]}\n"),
        ":8:34: unknown feature \"teleport\" (expected one of: heartbeat,",
    );
    assert_err_contains(
        &with_steps("  - open: {principal: carol}\n"),
        "unknown variant `carol`, expected one of `alice`, `alice2`, `bob`, `invalid`",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - wait_job: {job: x, status: done}\n"),
        "unknown variant `done`, expected one of `success`, `error`, `cancelled`, `timed_out`, `terminal`",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - expect_error: {in: job.event}\n"),
        "unknown variant `job.event`, expected one of `session.error`, `job.error`, `tool_result`, `any`",
    );
    assert_err_contains(
        &with_steps("  - open: {features: some}\n"),
        "invalid features \"some\": expected a list of feature names or \"all\"",
    );
    assert_err_contains(
        &with_steps("  - open: {session: \"a b\"}\n"),
        "invalid session name \"a b\" (letters, digits and `_`)",
    );
    // sections must be quoted when they look like decimals
    assert_err_contains(
        &with_steps("  - open: {}\n").replace("sections: [\"6.3\"]", "sections: [6.10]"),
        ":3:12: section 6.1 reads as a number; quote it",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n").replace("sections: [\"6.3\"]", "sections: [\"§6\"]"),
        "invalid section \"§6\"",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n").replace("sections: [\"6.3\"]", "sections: []"),
        ":3:11: must not be empty",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n").replace("title: T", "title: \"\""),
        ":2:8: must not be empty",
    );
    assert_err_contains(
        &(with_steps("  - open: {}\n") + "requires: {sessions: 0}\n"),
        "`sessions` must be at least 1",
    );
    assert_err_contains(
        &(with_steps("  - open: {}\n") + "depends_on: [t.case]\n"),
        "case \"t.case\" depends on itself",
    );
    // JSON-incompatible values
    assert_err_contains(
        &with_steps("  - open: {}\n  - send: {type: x, payload: {n: .inf}}\n"),
        "inf is not representable in JSON",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - send: {type: x, payload: {k: 1, k: 2}}\n"),
        "duplicate key \"k\"",
    );
    assert_err_contains(
        &with_steps("  - open: {payload: [1]}\n"),
        "invalid type: sequence, expected a mapping",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - send: {type: x, envelope: 3}\n"),
        "invalid type: integer `3`, expected a mapping",
    );
}

#[test]
fn error_patterns_and_captures() {
    assert_err(
        &with_steps("  - open: {}\n  - expect:\n      match:\n        type: job.event\n        payload: {kind: \"$strng\"}\n"),
        "cases/session/x.yaml:11:25: unknown matcher `$strng` (expected one of: $any, $absent, $string, $number, $integer, $bool, $object, $array, $null, $nonempty, $regex, $gt, $gte, $lt, $lte, $len, $capture; write `$$strng` for a literal string)",
    );
    assert_err(
        &with_steps("  - open: {}\n  - expect:\n      match:\n        id: \"$regex ([a-z\"\n"),
        "cases/session/x.yaml:10:13: invalid regex in \"$regex ([a-z\": regex parse error: ([a-z ^ error: unclosed character class",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - expect_none: {match: {$contians: x}}\n"),
        ":8:26: unknown object matcher `$contians`",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - expect: {match: {a: {$one_of: x}}}\n"),
        "`$one_of` needs a non-empty list of patterns",
    );
    assert_err(
        &with_steps("  - open: {}\n  - expect:\n      match: {}\n      capture: {job: payload/job_id}\n"),
        "cases/session/x.yaml:10:22: invalid JSON pointer \"payload/job_id\": must start with `/` (e.g. /payload/job_id)",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - expect: {match: {}, capture: {\"9x\": /a}}\n"),
        "invalid capture name \"9x\"",
    );
    // payloads are not patterns: `$word` strings there are plain data
    one(&with_steps(
        "  - open: {}\n  - send: {type: x, payload: {price: \"$anything\"}}\n",
    ));
    // templates inside matcher arguments are checked after rendering
    one(&with_steps(
        "  - open: {}\n  - expect: {match: {event_seq: \"$gt ${session.a.last_seq}\"}}\n",
    ));
}

#[test]
fn error_yaml_syntax() {
    let e = err("id: a\ntitle: [unclosed\nsteps: []\n");
    assert!(e.starts_with("cases/session/x.yaml:"), "{e}");
    assert!(!e.contains(" at line 3"), "location not stripped: {e}");
    assert_err(
        "id: a\ntitle: b: c\n",
        "cases/session/x.yaml:2:9: mapping values are not allowed in this context",
    );
    assert_err("", "cases/session/x.yaml: no case in file");
    assert_err(
        "# only a comment\n---\n",
        "cases/session/x.yaml: no case in file",
    );
    assert_err_contains(
        "- just\n- a list\n",
        ":1:1: invalid type: sequence, expected a case mapping",
    );
}

/// A `role: client` case with these steps.
fn client_case(steps: &str) -> String {
    with_steps(steps) + "role: client\nscenario: submit\n"
}

#[test]
fn client_role_steps_parse() {
    let c = one(&client_case(
        r#"  - welcome:
      features: [heartbeat, progress]
      payload: {heartbeat_interval_sec: 2}
      match: {payload: {auth: {token: "$capture tok"}}}
      capture: {hello_id: /id}
  - accept: {as: j, payload: {budget: {USD: 5}}, capture: {agent: /payload/agent}}
  - emit: {job: "${j}", kind: log, body: {message: "${tok}"}}
  - emit: {job: "${j}", result: {n: 1}, envelope: {x_future: true}}
  - emit: {job: "${j}", error: CANCELLED, seq: 7}
  - emit: {job: "${j}", type: job.result, payload: {final_status: success, result_id: r}}
  - expect_output: {line: "$regex ^EVENT "}
  - expect_output: {result: {n: 1}, within: 2s}
  - expect_output: {error: CANCELLED}
  - drop: {}
  - welcome: {resume: true, match: {payload: {last_event_seq: "${session.a.last_seq}"}}}
  - send: {type: session.ping, payload: {nonce: n}}
  - expect: {match: {type: session.pong}}
"#,
    ));
    assert_eq!(c.role, Role::Client);
    assert_eq!(c.scenario.as_deref(), Some("submit"));
    assert!(c.requires.reconnect);
    let StepKind::Welcome(w) = &c.steps[0].kind else {
        panic!("welcome")
    };
    assert!(!w.resume && w.code.is_none() && w.auto_pong);
    assert_eq!(w.within, DEFAULT_WELCOME_WITHIN);
    assert_eq!(
        w.features,
        FeatureSet::List(vec!["heartbeat".into(), "progress".into()])
    );
    let StepKind::Accept(a) = &c.steps[1].kind else {
        panic!("accept")
    };
    assert_eq!(a.capture_as, "j");
    let StepKind::Emit(e) = &c.steps[4].kind else {
        panic!("emit")
    };
    assert_eq!(e.what, EmitWhat::Error("CANCELLED".into()));
    assert_eq!(e.seq, Some(json!(7)));
    let StepKind::ExpectOutput(o) = &c.steps[7].kind else {
        panic!("expect_output")
    };
    assert_eq!(o.pattern, OutputPattern::Result(json!({"n": 1})));
    assert_eq!(o.within, Duration::from_secs(2));
    let StepKind::Emit(e) = &c.steps[2].kind else {
        panic!("emit")
    };
    assert_eq!(e.job, "${j}");
    assert_eq!(c.steps[10].line, 21);
}

#[test]
fn client_role_errors() {
    // the scenario is required, known, and only for client cases
    assert_err_contains(
        &(with_steps("  - welcome: {}\n") + "role: client\n"),
        "a `role: client` case needs `scenario:`",
    );
    assert_err_contains(
        &(with_steps("  - welcome: {}\n") + "role: client\nscenario: dance\n"),
        "unknown scenario \"dance\"",
    );
    assert_err_contains(
        &(with_steps("  - open: {}\n") + "scenario: submit\n"),
        "`scenario` only applies to `role: client` cases",
    );
    // steps belong to one role
    assert_err_contains(
        &client_case("  - open: {}\n"),
        ":7: `open` is a step of runtime cases",
    );
    assert_err_contains(
        &with_steps("  - open: {}\n  - emit: {result: 1}\n"),
        ":8: `emit` is a step of `role: client` cases",
    );
    // sessions are welcomed first, resumed only after a welcome
    assert_err_contains(
        &client_case("  - accept: {}\n"),
        ":7: step uses session \"a\" before it is welcomed",
    );
    assert_err_contains(
        &client_case("  - welcome: {resume: true}\n"),
        "which was never welcomed",
    );
    assert_err_contains(
        &client_case("  - welcome: {}\n  - welcome: {}\n"),
        "which is still connected",
    );
    assert_err_contains(
        &client_case("  - welcome: {}\n  - drop: {}\n  - emit: {job: x, result: 1}\n"),
        "after it was dropped",
    );
    // names are defined before use
    assert_err_contains(
        &client_case("  - welcome: {}\n  - emit: {result: 1}\n"),
        "unknown template name `${job}`",
    );
    assert!(parse(&client_case(
        "  - welcome: {}\n  - expect_output: {line: \"${driver_job}\"}\n"
    ))
    .is_ok());
    // emit and expect_output take exactly one form
    assert_err_contains(
        &client_case("  - welcome: {}\n  - accept: {}\n  - emit: {kind: log, result: 1}\n"),
        "`emit` takes exactly one of `kind`, `result`, `error` or `type` (got `kind` and `result`)",
    );
    assert_err_contains(
        &client_case("  - welcome: {}\n  - accept: {}\n  - emit: {result: 1, body: {}}\n"),
        "`body` only applies to `emit: {kind: ...}`",
    );
    assert_err_contains(
        &client_case("  - expect_output: {line: a, error: CANCELLED}\n"),
        "`expect_output` takes exactly one of `line`, `result` or `error`",
    );
    assert_err_contains(
        &client_case("  - expect_output: {error: NOPE}\n"),
        "unknown error code \"NOPE\"",
    );
    assert_err_contains(
        &client_case("  - welcome: {code: NOPE}\n"),
        "unknown error code \"NOPE\"",
    );
}

#[test]
fn error_display_forms() {
    let p = Path::new("cases/y.yaml");
    assert_eq!(
        CaseError::new(p, Some(3), Some(7), "x").to_string(),
        "cases/y.yaml:3:7: x"
    );
    assert_eq!(
        CaseError::new(p, Some(3), None, "x").to_string(),
        "cases/y.yaml:3: x"
    );
    assert_eq!(
        CaseError::new(p, None, Some(7), "x").to_string(),
        "cases/y.yaml: x"
    );
}

// ------------------------------------------------------------ directories

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "arcp-conform-case-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn case_text(id: &str, extra: &str) -> String {
    with_steps("  - open: {}\n").replace("t.case", id) + extra
}

#[test]
fn load_dir_recursive_sorted() {
    let d = TempDir::new("ok");
    d.write("b/second.yaml", &case_text("b.one", ""));
    d.write(
        "a.yml",
        &format!(
            "{}---\n{}",
            case_text("a.one", ""),
            case_text("a.two", "depends_on: [b.one]\n")
        ),
    );
    d.write("b/notes.txt", "not a case");
    d.write(".hidden/x.yaml", "garbage: [");
    d.write("c/d/e.yaml", &case_text("c.deep", ""));
    let cases = load_dir(&d.0).unwrap();
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a.one", "a.two", "b.one", "c.deep"]);
    assert_eq!(cases[2].source, d.0.join("b/second.yaml"));
    assert_eq!(cases[1].line, 9);
    let files = case_files(&d.0).unwrap();
    assert_eq!(files.len(), 3);
}

#[test]
fn load_dir_duplicate_ids_name_both_files() {
    let d = TempDir::new("dup");
    d.write("x.yaml", &case_text("a.b", ""));
    d.write("y/z.yaml", &format!("# comment\n{}", case_text("a.b", "")));
    let e = load_dir(&d.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: duplicate case id \"a.b\" (also in {}:1)",
            d.0.join("y/z.yaml").display(),
            d.0.join("x.yaml").display()
        )
    );
    assert_eq!(e.file, d.0.join("y/z.yaml"));
    assert_eq!(e.line, Some(2));
}

#[test]
fn load_dir_dependencies() {
    let d = TempDir::new("deps");
    d.write("x.yaml", &case_text("a", "depends_on: [nope]\n"));
    let e = load_dir(&d.0).unwrap_err().to_string();
    assert!(
        e.ends_with("x.yaml:1: case \"a\" depends on unknown case \"nope\""),
        "{e}"
    );

    let d = TempDir::new("cycle");
    d.write("x.yaml", &case_text("a", "depends_on: [b]\n"));
    d.write("y.yaml", &case_text("b", "depends_on: [c]\n"));
    d.write("z.yaml", &case_text("c", "depends_on: [a]\n"));
    let e = load_dir(&d.0).unwrap_err().to_string();
    assert!(
        e.ends_with("x.yaml:1: dependency cycle: a -> b -> c -> a"),
        "{e}"
    );
}

#[test]
fn load_dir_reports_bad_file_and_missing_dir() {
    let d = TempDir::new("bad");
    d.write("ok.yaml", &case_text("ok", ""));
    d.write("sub/bad.yaml", &with_steps("  - sleeep: 1\n"));
    let e = load_dir(&d.0).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}:7:5: unknown step `sleeep`",
            d.0.join("sub/bad.yaml").display()
        )),
        "{e}"
    );
    let e = load_dir(&d.0.join("missing")).unwrap_err().to_string();
    assert!(e.contains("missing: cannot read directory"), "{e}");
    let e = load_file(&d.0.join("none.yaml")).unwrap_err().to_string();
    assert!(e.contains("none.yaml: cannot read:"), "{e}");
}

/// Every ```yaml block of the language doc that is a whole case (starts
/// with `id:`) must load.
#[test]
fn documentation_examples_load() {
    let doc = include_str!("../../docs/case-language.md");
    let mut found = 0;
    for block in doc.split("```yaml\n").skip(1) {
        let body = block.split("\n```").next().unwrap();
        if body.starts_with("id:") {
            found += 1;
            parse_str(body, Path::new("docs/case-language.md"))
                .unwrap_or_else(|e| panic!("doc example does not load: {e}\n{body}"));
        }
    }
    assert!(found >= 1);
}

/// The step snippets in the doc parse as steps (sessions opened first).
#[test]
fn documentation_step_snippets_parse() {
    let doc = include_str!("../../docs/case-language.md");
    let section = doc
        .split("## Steps")
        .nth(1)
        .unwrap()
        .split("## Patterns")
        .next()
        .unwrap();
    let mut found = 0;
    for block in section.split("```yaml\n").skip(1) {
        let body = block.split("\n```").next().unwrap();
        let lines: Vec<&str> = body.lines().collect();
        let snippet = if body.starts_with("- ") {
            lines.iter().map(|l| format!("  {l}\n")).collect::<String>()
        } else {
            // a bare `step: {...}` mapping
            let mut it = lines.iter();
            let first = it.next().unwrap();
            format!(
                "  - {first}\n{}",
                it.map(|l| format!("    {l}\n")).collect::<String>()
            )
        };
        let prelude = "  - open: {}\n  - open: {session: b}\n  - open: {session: c}\n  - submit: {}\n  - set: {seen: 1, first_id: x, second_id: y, seq_a: 1, seq_b: 2, n: 1}\n";
        // open/resume/connect need their session not connected
        let extra = if snippet.starts_with("  - open:") || snippet.starts_with("  - resume:") {
            "  - drop: {}\n"
        } else if snippet.starts_with("  - connect:") {
            "  - drop: {session: b}\n"
        } else {
            ""
        };
        let text = with_steps(&format!("{prelude}{extra}{snippet}"));
        found += 1;
        parse(&text).unwrap_or_else(|e| panic!("doc snippet does not parse: {e}\n{text}"));
    }
    assert!(found >= 15, "{found}");
}

/// The client-case snippets in the doc parse inside a `role: client` case.
#[test]
fn documentation_client_snippets_parse() {
    let doc = include_str!("../../docs/case-language.md");
    let section = doc
        .split("## Client cases")
        .nth(1)
        .unwrap()
        .split("## Error messages")
        .next()
        .unwrap();
    let mut found = 0;
    for block in section.split("```yaml\n").skip(1) {
        let body = block.split("\n```").next().unwrap();
        if body.starts_with("id:") {
            continue;
        }
        let lines: Vec<&str> = body.lines().collect();
        let snippet = if body.starts_with("- ") {
            lines.iter().map(|l| format!("  {l}\n")).collect::<String>()
        } else {
            let mut it = lines.iter();
            let first = it.next().unwrap();
            format!(
                "  - {first}\n{}",
                it.map(|l| format!("    {l}\n")).collect::<String>()
            )
        };
        let prelude = if snippet.starts_with("  - welcome:") {
            ""
        } else {
            "  - welcome: {}\n  - accept: {}\n"
        };
        let text = client_case(&format!("{prelude}{snippet}"));
        found += 1;
        parse(&text).unwrap_or_else(|e| panic!("doc snippet does not parse: {e}\n{text}"));
    }
    assert!(found >= 4, "{found}");
}

#[test]
fn derived_waits_and_templates() {
    let c = one(&with_steps(
        "  - open: {}\n  - submit:\n      input: {steps: [{op: sleep, ms: \"${ms(heartbeat * 2)}\"}, {op: result_chunks, chunks: \"${list(x, replay_buffer + 1)}\"}]}\n  - expect_close: {within: heartbeat * 3 + 5s}\n  - sleep: resume_window + 1s\n",
    ));
    let waits: Vec<String> = c.waits().iter().map(|(_, w)| w.to_string()).collect();
    assert!(
        waits.contains(&"heartbeat * 3 + 5".to_string()),
        "{waits:?}"
    );
    assert!(
        waits.contains(&"resume_window + 1".to_string()),
        "{waits:?}"
    );
    let limits = crate::limits::Limits {
        heartbeat_sec: Some(2.0),
        resume_window_sec: Some(10.0),
        replay_buffer: Some(2),
    };
    let b = crate::template::Builtin::parse("ms(heartbeat * 2)").unwrap();
    assert_eq!(b.limit_value(&limits), Some(json!(4000)));
    let b = crate::template::Builtin::parse("list(x, replay_buffer + 1)").unwrap();
    assert_eq!(b.limit_value(&limits), Some(json!(["x", "x", "x"])));
    assert_err_contains(
        &with_steps("  - open: {}\n  - sleep: hearbeat + 1s\n"),
        "cases/session/x.yaml:8",
    );
}

#[test]
fn error_literal_waits_sized_after_a_runtime() {
    assert_err_contains(
        &with_steps("  - open: {}\n  - expect_close: {within: 90s}\n"),
        "cases/session/x.yaml:8: `expect_close` waits a literal 90s, longer than 60s",
    );
    let tagged = with_steps("  - open: {}\n  - sleep: 25s\n")
        .replace("steps:\n", "tags: [resume-window]\nsteps:\n");
    assert_err_contains(
        &tagged,
        "cases/session/x.yaml:9: `sleep` waits a literal 25s in a case tagged `resume-window`",
    );
    // Defaults are not written waits; derived ones are the point.
    one(&with_steps("  - open: {}\n  - wait_job: {job: j}\n")
        .replace("steps:\n", "tags: [heartbeat]\nsteps:\n"));
    one(
        &with_steps("  - open: {}\n  - expect_close: {within: heartbeat * 3}\n")
            .replace("steps:\n", "tags: [heartbeat]\nsteps:\n"),
    );
}

#[test]
fn error_derived_waits_in_client_cases() {
    assert_err_contains(
        &client_case("  - welcome: {}\n  - expect_close: {within: heartbeat * 2}\n"),
        "cases/session/x.yaml:8: `heartbeat * 2`: in a `role: client` case the harness plays the runtime",
    );
}
