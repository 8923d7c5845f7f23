use super::marker::MARK_OPEN;
use super::*;
use crate::fuzz::gen::Gen;
use serde_json::json;

fn ctx<'a>(features: &'a [String], job: &'a dyn Fn(u32) -> Option<String>) -> FrameCtx<'a> {
    FrameCtx {
        arcp: "1.1",
        session: "a",
        in_session: true,
        features,
        job,
    }
}

fn mutant(base: Base, ops: Vec<MutOp>) -> Mutant {
    Mutant {
        base,
        ops,
        id: "msg_01HAAAAAAAAAAAAAAAAAAAAAAA".into(),
        nonce: "n1".into(),
    }
}

#[test]
fn markers_become_templates_and_text_is_escaped() {
    let v =
        json!({"s": marker("session.a.id"), "n": typed_marker("session.a.last_seq"), "t": "${x}"});
    let t = finalize_text(&v.to_string());
    assert_eq!(
        t,
        r#"{"s":"${session.a.id}","n":${session.a.last_seq},"t":"$${x}"}"#
    );
    // A marker cut in half stays text.
    let cut = format!("{{\"s\":\"{MARK_OPEN}session.a");
    assert!(!finalize_text(&cut).contains("${"));
    // Text inserted inside a marker leaves it as text too.
    let m = marker("agents.echo").as_str().unwrap().to_string();
    let hurt = format!("\"{}tru{}\"", &m[..9], &m[9..]);
    assert!(!finalize_text(&hurt).contains("${"), "{hurt:?}");
}

#[test]
fn literal_patterns_match_exactly() {
    for s in crate::fuzz::gen::ODD_STRINGS
        .iter()
        .chain(&["$", "$$", "$$${", "$x y", "${now}"])
    {
        let p = Value::String(pattern_literal(s));
        let rendered = crate::template::render(&p, &|_| None).expect("renders");
        crate::matcher::validate_pattern(&rendered).expect("a valid pattern");
        assert!(
            crate::matcher::matches(&rendered, &json!(s)).is_ok(),
            "{s:?}"
        );
    }
}

#[test]
fn insertions_never_touch_a_marker() {
    let f: Vec<String> = vec![];
    let job = |_: u32| None;
    let c = ctx(&f, &job);
    // Wherever a backslash lands, the frame classified is the frame sent.
    for pm in 0..=1000 {
        let m = mutant(Base::Hello, vec![MutOp::Insert(pm, "\\".into())]);
        let b = build(&m, &c);
        let sent = finalize_text(&b.text).replace("${principal.alice.token}", "tok-alice");
        let classified = serde_json::from_str::<Value>(&b.text).is_ok();
        assert_eq!(
            classified,
            serde_json::from_str::<Value>(&sent).is_ok(),
            "{sent}"
        );
    }
}

#[test]
fn classification() {
    let f: Vec<String> = vec!["subscribe".into()];
    let job = |_: u32| Some("j1".to_string());
    let c = ctx(&f, &job);
    let class = |b: Base, ops: Vec<MutOp>| build(&mutant(b, ops), &c).class;
    assert_eq!(
        class(Base::Ping, vec![MutOp::Truncate(500)]),
        Class::MustError(Some("INVALID_REQUEST"))
    );
    assert_eq!(
        class(Base::Ping, vec![MutOp::Remove("type".into())]),
        Class::MustError(Some("INVALID_REQUEST"))
    );
    assert_eq!(
        class(Base::Ping, vec![MutOp::Set("x_future".into(), json!(1))]),
        Class::Accept
    );
    assert_eq!(
        class(
            Base::Ping,
            vec![MutOp::Set("type".into(), json!("session.bogus"))]
        ),
        Class::MustError(Some("INVALID_REQUEST"))
    );
    assert_eq!(
        class(
            Base::Ping,
            vec![MutOp::Set("session_id".into(), marker("session.b.id"))]
        ),
        Class::MustError(None)
    );
    assert_eq!(class(Base::Hello, vec![]), Class::MustError(None));
    assert_eq!(
        class(Base::Cancel(JobRef::Unknown("job_x".into())), vec![]),
        Class::MustError(None)
    );
    assert_eq!(
        class(
            Base::Ping,
            vec![MutOp::NumberLiteral("nonce".into(), "1e400".into())]
        ),
        Class::MayError
    );
    assert_eq!(
        class(Base::Ack, vec![]),
        Class::MayError,
        "ack without the feature"
    );
}

#[test]
fn generated_mutants_never_produce_newlines() {
    let mut g = Gen::new(1, 1);
    let f: Vec<String> = vec![];
    let job = |_: u32| None;
    let c = ctx(&f, &job);
    for _ in 0..2000 {
        let m = generate(&mut g, Base::Submit, Some("b"));
        let b = build(&m, &c);
        let t = finalize_text(&b.text);
        assert!(!t.contains('\n') && !t.contains('\r'), "{t:?}");
    }
}
