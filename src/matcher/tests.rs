use super::*;
use serde_json::json;

fn ok(p: Value, a: Value) -> Captures {
    match matches(&p, &a) {
        Ok(c) => c,
        Err(m) => panic!("expected {p} to match {a}: {m}"),
    }
}

fn bad(p: Value, a: Value) -> Mismatch {
    match matches(&p, &a) {
        Ok(_) => panic!("expected {p} NOT to match {a}"),
        Err(m) => m,
    }
}

#[test]
fn scalars_and_numbers() {
    ok(json!(1), json!(1));
    ok(json!(1), json!(1.0));
    ok(json!(1.0), json!(1));
    ok(json!(-3), json!(-3.0));
    ok(json!(u64::MAX), json!(u64::MAX));
    ok(json!("x"), json!("x"));
    ok(json!(null), json!(null));
    ok(json!(true), json!(true));
    bad(json!(1), json!(2));
    bad(json!(1), json!("1"));
    bad(json!("1"), json!(1));
    bad(json!(null), json!(false));
    bad(json!(true), json!(1));
    let m = bad(json!("x"), json!("y"));
    assert_eq!(m.to_string(), "at (root): expected \"x\", got \"y\"");
}

#[test]
fn objects_partial_and_absent() {
    ok(json!({}), json!({"a": 1}));
    ok(json!({"a": 1}), json!({"a": 1, "b": 2}));
    ok(json!({"a": {"b": "x"}}), json!({"a": {"b": "x", "c": 1}}));
    ok(json!({"gone": "$absent"}), json!({"a": 1}));
    let m = bad(json!({"a": "$absent"}), json!({"a": null}));
    assert_eq!(m.path, "/a");
    assert_eq!(m.expected, "absent");
    assert_eq!(m.actual, "null");
    let m = bad(json!({"payload": {"job_id": "x"}}), json!({"payload": {}}));
    assert_eq!(m.path, "/payload/job_id");
    assert_eq!(m.actual, "absent");
    assert_eq!(
        m.to_string(),
        "at /payload/job_id: expected \"x\", got absent"
    );
    let m = bad(json!({"a": 1}), json!([1]));
    assert_eq!(m.path, "");
    assert!(m.expected.starts_with("an object"), "{m}");
    // null pattern needs a present null
    bad(json!({"a": null}), json!({}));
    ok(json!({"a": null}), json!({"a": null}));
}

#[test]
fn pointer_escaping_in_paths() {
    let m = bad(json!({"a/b": {"c~d": 1}}), json!({"a/b": {"c~d": 2}}));
    assert_eq!(m.path, "/a~1b/c~0d");
}

#[test]
fn arrays_exact_length() {
    ok(json!([1, "$string"]), json!([1, "x"]));
    ok(json!([]), json!([]));
    let m = bad(json!([1, 2]), json!([1, 2, 3]));
    assert_eq!(m.expected, "an array of 2 elements");
    assert_eq!(m.actual, "3 elements: [1,2,3]");
    let m = bad(json!([1, {"a": 2}]), json!([1, {"a": 3}]));
    assert_eq!(m.path, "/1/a");
    bad(json!([1]), json!({"0": 1}));
}

#[test]
fn type_matchers() {
    for (p, good, badv) in [
        ("$string", json!("s"), json!(1)),
        ("$number", json!(1.5), json!("1")),
        ("$integer", json!(3), json!(3.5)),
        ("$bool", json!(false), json!(0)),
        ("$object", json!({}), json!([])),
        ("$array", json!([]), json!({})),
        ("$null", json!(null), json!(0)),
    ] {
        ok(json!(p), good);
        let m = bad(json!(p), badv);
        assert_eq!(m.expected, describe(&json!(p)));
        // and a missing key never matches a type matcher
        let m = bad(json!({ "k": p }), json!({}));
        assert_eq!(m.actual, "absent");
    }
    ok(json!("$integer"), json!(-7));
    ok(json!("$integer"), json!(2.0));
}

#[test]
fn any_and_absent() {
    ok(json!({"a": "$any"}), json!({"a": null}));
    ok(json!({"a": "$any"}), json!({"a": [1]}));
    let m = bad(json!({"a": "$any"}), json!({}));
    assert_eq!(m.to_string(), "at /a: expected any value, got absent");
    ok(json!({"a": "$absent"}), json!({}));
    let m = bad(json!("$absent"), json!(1));
    assert_eq!(m.expected, "absent");
}

#[test]
fn nonempty_len() {
    ok(json!("$nonempty"), json!("x"));
    ok(json!("$nonempty"), json!([0]));
    ok(json!("$nonempty"), json!({"a": 1}));
    bad(json!("$nonempty"), json!(""));
    bad(json!("$nonempty"), json!([]));
    bad(json!("$nonempty"), json!({}));
    bad(json!("$nonempty"), json!(5));
    ok(json!("$len 2"), json!([1, 2]));
    ok(json!("$len 3"), json!("héé"));
    ok(json!("$len 1"), json!({"a": 1}));
    let m = bad(json!("$len 2"), json!([1]));
    assert_eq!(m.expected, "length 2");
    assert_eq!(m.actual, "length 1: [1]");
    let m = bad(json!("$len 2"), json!(7));
    assert_eq!(m.expected, "a string, array or object of length 2");
}

#[test]
fn regex_and_comparisons() {
    ok(json!("$regex ^job_[0-9A-Z]+$"), json!("job_01J"));
    ok(json!("$regex b"), json!("abc")); // unanchored
    let m = bad(json!("$regex ^job_"), json!("sess_1"));
    assert_eq!(m.expected, "a string matching /^job_/");
    bad(json!("$regex ."), json!(1));
    ok(json!("$regex a b"), json!("xa by")); // argument keeps inner spaces
    ok(json!("$regex  x$"), json!("a x")); // ... and leading ones
    bad(json!("$regex  x$"), json!("ax"));
    ok(json!("$gt 1"), json!(2));
    bad(json!("$gt 1"), json!(1));
    ok(json!("$gte 1"), json!(1));
    ok(json!("$gte 1"), json!(1.0));
    ok(json!("$lt 0.5"), json!(0.25));
    bad(json!("$lt 0.5"), json!(0.5));
    ok(json!("$lte -1"), json!(-1));
    let m = bad(json!("$gt 10"), json!("11"));
    assert_eq!(m.expected, "a number > 10");
    assert_eq!(m.actual, "\"11\"");
    assert_eq!(describe(&json!("$lte 2.5")), "a number <= 2.5");
}

#[test]
fn captures() {
    let c = ok(
        json!({"type": "job.accepted", "payload": {"job_id": "$capture job", "lease": "$capture lease"}}),
        json!({"type": "job.accepted", "payload": {"job_id": "job_1", "lease": {"fs.read": []}}}),
    );
    assert_eq!(c.get("job"), Some(&json!("job_1")));
    assert_eq!(c.get("lease"), Some(&json!({"fs.read": []})));
    let m = bad(json!({"x": "$capture x"}), json!({}));
    assert_eq!(m.actual, "absent");
    // captures inside $not are discarded; $one_of keeps the winner's
    // (the inner pattern captures n=1 before failing on 2 != 3)
    let c = ok(json!({"$not": ["$capture n", 2]}), json!([1, 3]));
    assert!(c.is_empty(), "{c:?}");
    assert_eq!(
        capture_names(
            &json!({"a": "$capture x", "b": {"$not": "$capture y"}, "c": [{"$one_of": ["$capture z"]}]})
        ),
        ["x", "z"]
    );
}

#[test]
fn literal_dollar_escapes() {
    ok(json!("$$any"), json!("$any"));
    bad(json!("$$any"), json!("$$any"));
    bad(json!("$$any"), json!(1));
    ok(json!("$5.00"), json!("$5.00"));
    ok(json!("${job}"), json!("${job}")); // an unrendered-looking literal
    ok(json!({"$$schema": 1}), json!({"$schema": 1}));
    ok(json!({"$$not": 1}), json!({"$not": 1}));
    let m = bad(json!({"$$schema": 1}), json!({}));
    assert_eq!(m.path, "/$schema");
}

#[test]
fn contains() {
    ok(json!({"$contains": "lo w"}), json!("hello world"));
    let m = bad(json!({"$contains": "xyz"}), json!("hello"));
    assert_eq!(m.expected, "a string containing \"xyz\"");
    ok(
        json!({"$contains": {"kind": "log"}}),
        json!([{"kind": "progress"}, {"kind": "log", "x": 1}]),
    );
    let m = bad(
        json!({"$contains": {"kind": "log"}}),
        json!([{"kind": "progress"}]),
    );
    assert_eq!(
        m.expected,
        "an array with an element matching {\"kind\":\"log\"}"
    );
    ok(
        json!({"$contains": "heartbeat"}),
        json!(["ack", "heartbeat"]),
    );
    ok(json!({"$contains": "$integer"}), json!(["a", 3]));
    bad(json!({"$contains": "$integer"}), json!("a3"));
    bad(json!({"$contains": 1}), json!({"a": 1}));
    let c = ok(
        json!({"$contains": {"id": "$capture cid", "kind": "b"}}),
        json!([{"id": 1, "kind": "a"}, {"id": 2, "kind": "b"}]),
    );
    assert_eq!(c["cid"], json!(2));
    ok(json!({"$contains": "$$x"}), json!("a$xb"));
}

#[test]
fn each_not_one_of_all_of() {
    ok(json!({"$each": "$integer"}), json!([1, 2, 3]));
    ok(json!({"$each": "$integer"}), json!([]));
    let m = bad(
        json!({"$each": {"seq": "$integer"}}),
        json!([{"seq": 1}, {"seq": "2"}]),
    );
    assert_eq!(m.path, "/1/seq");
    bad(json!({"$each": 1}), json!(1));

    ok(json!({"$not": "x"}), json!("y"));
    let m = bad(json!({"$not": "x"}), json!("x"));
    assert_eq!(m.expected, "anything but \"x\"");
    ok(json!({"a": {"$not": "$absent"}}), json!({"a": 1}));
    bad(json!({"a": {"$not": "$absent"}}), json!({}));
    ok(json!({"a": {"$not": "$any"}}), json!({}));

    ok(json!({"$one_of": ["success", "error"]}), json!("error"));
    let m = bad(json!({"$one_of": ["success", "$integer"]}), json!("x"));
    assert_eq!(m.expected, "one of: \"success\" | an integer");
    let c = ok(
        json!({"$one_of": [{"a": "$capture v"}, {"b": "$capture w"}]}),
        json!({"b": 3}),
    );
    assert_eq!(c.len(), 1);
    assert_eq!(c["w"], json!(3));
    ok(json!({"k": {"$one_of": ["$absent", "$null"]}}), json!({}));

    // A failed alternative leaves no trace in the next one's path: the
    // answers to a cancel that all differ in type say so at /type (it read
    // "/type/type" once, and "/payload/code/type/type" after a near miss).
    let m = bad(
        json!({"r": {"$one_of": [{"type": "job.cancelled"}, {"type": "session.error"}]}}),
        json!({"r": {"type": "job.error"}}),
    );
    assert_eq!(
        m.to_string(),
        "at /r/type: expected one of: \"job.cancelled\" | \"session.error\", got \"job.error\""
    );
    // The alternative that matched furthest (its type, here) says what is wrong.
    let m = bad(
        json!({"$one_of": [
            {"type": "session.error", "payload": {"code": "JOB_NOT_FOUND"}},
            {"type": "job.error", "payload": {"code": "JOB_NOT_FOUND"}},
        ]}),
        json!({"type": "session.error", "payload": {"code": "INVALID_REQUEST"}}),
    );
    assert_eq!(
        m.to_string(),
        "at /payload/code: expected \"JOB_NOT_FOUND\", got \"INVALID_REQUEST\""
    );
    // Alternatives that stop as deep at different places: the whole $one_of.
    let m = bad(
        json!({"$one_of": [{"a": 1}, {"b": 2}]}),
        json!({"a": 2, "b": 1}),
    );
    assert_eq!(m.path, "");
    assert_eq!(m.expected, "one of: {\"a\":1} | {\"b\":2}");

    ok(json!({"$all_of": ["$integer", "$gt 2"]}), json!(3));
    let m = bad(json!({"$all_of": ["$integer", "$gt 2"]}), json!(2));
    assert_eq!(m.expected, "a number > 2");
    let c = ok(
        json!({"$all_of": ["$capture x", {"a": "$capture y"}]}),
        json!({"a": 1}),
    );
    assert_eq!(c.len(), 2);
}

#[test]
fn long_values_truncated() {
    let big = "x".repeat(1000);
    let m = bad(json!("short"), json!(big));
    assert!(m.actual.chars().count() < 240, "{}", m.actual);
    assert!(m.actual.ends_with("… (1002 chars)"), "{}", m.actual);
    let m = bad(
        json!({"a": [1, 2]}),
        json!({"a": (0..500).collect::<Vec<_>>()}),
    );
    assert!(m.actual.starts_with("500 elements: [0,1,2"), "{}", m.actual);
    assert!(m.actual.len() < 260);
}

#[test]
fn realistic_frame() {
    let frame = json!({
        "arcp": "1.1", "id": "m1", "type": "job.event", "session_id": "s",
        "job_id": "job_1", "event_seq": 4,
        "payload": {"kind": "progress", "body": {"current": 3, "total": 10}}
    });
    let c = ok(
        json!({"type": "job.event", "job_id": "job_1", "event_seq": "$capture seq",
               "payload": {"kind": {"$one_of": ["progress", "log"]}, "body": {"current": "$lte 10", "units": "$absent"}}}),
        frame.clone(),
    );
    assert_eq!(c["seq"], json!(4));
    let m = bad(json!({"payload": {"body": {"total": "$gt 10"}}}), frame);
    assert_eq!(
        m.to_string(),
        "at /payload/body/total: expected a number > 10, got 10"
    );
}

#[test]
fn validate_ok() {
    for p in [
        json!({"a": "$any", "b": ["$regex ^x$", {"$contains": {"k": "$len 2"}}]}),
        json!({"$one_of": ["$absent", {"$not": "$null"}]}),
        json!({"$all_of": ["$gt ${session.a.last_seq}", "$regex ^${job}$"]}),
        json!("$capture job_id.x-1"),
        json!({"$$weird": "$$literal", "plain": "$5"}),
        json!({"$each": "$number"}),
    ] {
        validate_pattern(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
}

#[test]
fn validate_errors() {
    let cases = [
        (
            json!("$anything"),
            "unknown matcher `$anything` (expected one of: $any, $absent",
        ),
        (json!({"a": ["x", "$strng"]}), "unknown matcher `$strng`"),
        (json!({"a": ["x", "$strng"]}), "at pattern /a/1"),
        (
            json!("$regex (unclosed"),
            "invalid regex in \"$regex (unclosed\"",
        ),
        (json!("$regex"), "matcher `$regex` needs an argument"),
        (
            json!("$gt ten"),
            "matcher `$gt` needs a number, got \"ten\"",
        ),
        (
            json!("$len -1"),
            "matcher `$len` needs a non-negative integer",
        ),
        (json!("$string x"), "matcher `$string` takes no argument"),
        (json!("$capture 9x"), "invalid capture name \"9x\""),
        (json!({"$contain": 1}), "unknown object matcher `$contain`"),
        (
            json!({"$one_of": 1}),
            "`$one_of` needs a non-empty list of patterns",
        ),
        (json!({"$all_of": []}), "`$all_of` needs a non-empty list"),
        (
            json!({"$not": 1, "b": 2}),
            "matcher key `$not` must be the only key",
        ),
        (
            json!({"x": {"$any": 1}}),
            "`$any` is a string matcher, not an object key",
        ),
    ];
    for (p, want) in cases {
        let e = validate_pattern(&p).expect_err(&p.to_string());
        assert!(e.contains(want), "{p}: {e:?} lacks {want:?}");
    }
}

#[test]
fn invalid_patterns_never_match() {
    let m = bad(json!("$bogus"), json!("$bogus"));
    assert!(
        m.expected.starts_with("invalid pattern: unknown matcher"),
        "{m}"
    );
    let m = bad(json!("$gt ${x}"), json!(1));
    assert!(m.expected.contains("unrendered template"), "{m}");
}
