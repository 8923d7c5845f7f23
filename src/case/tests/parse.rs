//! Cases that load: every field and step kind, flow style, multi-document files.

use super::*;

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
