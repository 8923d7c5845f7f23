//! `role: client` cases, and how errors print.

use super::*;

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
