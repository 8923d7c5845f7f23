//! The client-role steps: the harness's scripted answers (`welcome`, `accept`,
//! `emit`) and `expect_output`.

use super::*;
use serde::de::Deserializer;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWelcome {
    session: Option<SessionName>,
    resume: Option<bool>,
    #[serde(rename = "match")]
    pattern: Option<Pattern>,
    features: Option<FeatureSetDe>,
    payload: Option<JsonObject>,
    code: Option<Code>,
    within: Option<Dur>,
    capture: Option<BTreeMap<CaptureNameKey, Pointer>>,
    auto_pong: Option<bool>,
}
map_de!(WelcomeDe, RawWelcome => Welcome, "a welcome mapping",
|r: RawWelcome| Ok(Welcome {
    session: session(r.session),
    resume: r.resume.unwrap_or(false),
    pattern: r.pattern.map(|p| p.0),
    features: r.features.map(|f| f.0).unwrap_or_default(),
    payload: r.payload.map(|p| p.0),
    code: r.code.map(|c| c.0),
    within: r.within.map(|d| d.0).unwrap_or(DEFAULT_WELCOME_WITHIN),
    capture: captures(r.capture),
    auto_pong: r.auto_pong.unwrap_or(true),
}));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccept {
    session: Option<SessionName>,
    #[serde(rename = "match")]
    pattern: Option<Pattern>,
    within: Option<Dur>,
    #[serde(rename = "as")]
    capture_as: Option<CaptureName>,
    payload: Option<JsonObject>,
    code: Option<Code>,
    capture: Option<BTreeMap<CaptureNameKey, Pointer>>,
}
map_de!(AcceptDe, RawAccept => Accept, "an accept mapping",
|r: RawAccept| Ok(Accept {
    session: session(r.session),
    pattern: r.pattern.map(|p| p.0),
    within: r.within.map(|d| d.0).unwrap_or(DEFAULT_EXPECT_WITHIN),
    capture_as: r.capture_as.map(|c| c.0).unwrap_or_else(|| DEFAULT_JOB_CAPTURE.to_string()),
    payload: r.payload.map(|p| p.0),
    code: r.code.map(|c| c.0),
    capture: captures(r.capture),
}));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmit {
    session: Option<SessionName>,
    job: Option<TemplateStr>,
    kind: Option<NonEmptyText>,
    body: Option<Json>,
    result: Option<Json>,
    error: Option<Code>,
    #[serde(rename = "type")]
    message: Option<NonEmptyText>,
    payload: Option<JsonObject>,
    seq: Option<Json>,
    envelope: Option<JsonObject>,
}

fn conv_emit(r: RawEmit) -> Result<Emit, String> {
    let given: Vec<&str> = [
        ("kind", r.kind.is_some()),
        ("result", r.result.is_some()),
        ("error", r.error.is_some()),
        ("type", r.message.is_some()),
    ]
    .iter()
    .filter(|(_, present)| *present)
    .map(|(k, _)| *k)
    .collect();
    if given.len() != 1 {
        return Err(format!(
            "`emit` takes exactly one of `kind`, `result`, `error` or `type`{}",
            if given.is_empty() {
                String::new()
            } else {
                format!(" (got `{}`)", given.join("` and `"))
            }
        ));
    }
    if r.body.is_some() && r.kind.is_none() {
        return Err("`body` only applies to `emit: {kind: ...}`".to_string());
    }
    let what = match (r.kind, r.result, r.error, r.message) {
        (Some(k), _, _, _) => EmitWhat::Event {
            kind: k.0,
            body: r
                .body
                .map(|b| b.0)
                .unwrap_or_else(|| Value::Object(Map::new())),
        },
        (_, Some(v), _, _) => EmitWhat::Result(v.0),
        (_, _, Some(c), _) => EmitWhat::Error(c.0),
        (_, _, _, Some(t)) => EmitWhat::Message(t.0),
        _ => unreachable!("exactly one given"),
    };
    Ok(Emit {
        session: session(r.session),
        job: r
            .job
            .map(|j| j.0)
            .unwrap_or_else(|| format!("${{{DEFAULT_JOB_CAPTURE}}}")),
        what,
        payload: r.payload.map(|p| p.0),
        seq: r.seq.map(|s| s.0),
        envelope: r.envelope.map(|e| e.0).unwrap_or_default(),
    })
}
map_de!(EmitDe, RawEmit => Emit, "an emit mapping", conv_emit);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectOutput {
    line: Option<Pattern>,
    result: Option<Pattern>,
    error: Option<Code>,
    within: Option<Dur>,
}

fn conv_expect_output(r: RawExpectOutput) -> Result<ExpectOutput, String> {
    let pattern = match (r.line, r.result, r.error) {
        (Some(l), None, None) => {
            if !l.0.is_string() {
                return Err(
                    "`line` is a string pattern (a literal line, `$regex ...`, ...)".into(),
                );
            }
            OutputPattern::Line(l.0)
        }
        (None, Some(p), None) => OutputPattern::Result(p.0),
        (None, None, Some(c)) => OutputPattern::Error(c.0),
        _ => return Err("`expect_output` takes exactly one of `line`, `result` or `error`".into()),
    };
    Ok(ExpectOutput {
        pattern,
        within: r.within.map(|d| d.0).unwrap_or(DEFAULT_EXPECT_WITHIN),
    })
}
map_de!(ExpectOutputDe, RawExpectOutput => ExpectOutput, "an expect_output mapping", conv_expect_output);
