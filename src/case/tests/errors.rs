//! Cases that do not load: each error names the file, line and column, and what to write instead.

use super::*;

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
