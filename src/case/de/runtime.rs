//! The runtime-role steps that drive a session: `open`/`hello`, `send`,
//! `submit`, `resume`, `wait_job`.

use super::*;
use serde::de::Deserializer;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `expect: welcome | error` of open/hello/resume.
#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum HelloExpectKw {
    Welcome,
    Error,
}

fn hello_outcome(
    expect: Option<HelloExpectKw>,
    code: Option<Code>,
) -> Result<HelloOutcome, String> {
    match (expect, code) {
        (Some(HelloExpectKw::Welcome), Some(c)) => {
            Err(format!("`code: {}` only applies with `expect: error`", c.0))
        }
        (Some(HelloExpectKw::Error), c) | (None, c @ Some(_)) => Ok(HelloOutcome::Error {
            code: c.map(|c| c.0),
        }),
        (Some(HelloExpectKw::Welcome) | None, None) => Ok(HelloOutcome::Welcome),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    name: Text,
    version: Text,
}

/// `auth:` present: null -> omit, anything else -> replace.
fn de_auth<'de, D: Deserializer<'de>>(d: D) -> Result<Auth, D::Error> {
    Ok(match Option::<Json>::deserialize(d)? {
        None => Auth::Omit,
        Some(Json(Value::Null)) => Auth::Omit,
        Some(Json(v)) => Auth::Replace(v),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHello {
    session: Option<SessionName>,
    principal: Option<Principal>,
    features: Option<FeatureSetDe>,
    client: Option<RawClient>,
    #[serde(default, deserialize_with = "de_auth")]
    auth: Auth,
    payload: Option<JsonObject>,
    expect: Option<HelloExpectKw>,
    code: Option<Code>,
    auto_pong: Option<bool>,
}

fn conv_hello(r: RawHello) -> Result<Hello, String> {
    Ok(Hello {
        session: session(r.session),
        principal: r.principal.unwrap_or(Principal::Alice),
        features: r.features.map(|f| f.0).unwrap_or_default(),
        client: r.client.map(|c| ClientInfo {
            name: c.name.0,
            version: c.version.0,
        }),
        auth: r.auth,
        payload: r.payload.map(|p| p.0),
        expect: hello_outcome(r.expect, r.code)?,
        auto_pong: r.auto_pong.unwrap_or(true),
    })
}
map_de!(HelloDe, RawHello => Hello, "a hello mapping", conv_hello);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSessionRef {
    session: Option<SessionName>,
}
map_de!(SessionRefDe, RawSessionRef => SessionRef, "a mapping with an optional `session`",
    |r: RawSessionRef| Ok(SessionRef { session: session(r.session) }));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSend {
    session: Option<SessionName>,
    #[serde(rename = "type")]
    kind: Option<NonEmptyText>,
    raw: Option<TemplateStr>,
    oversize: Option<u64>,
    payload: Option<Json>,
    job_id: Option<TemplateStr>,
    trace_id: Option<TemplateStr>,
    envelope: Option<JsonObject>,
}

fn conv_send(r: RawSend) -> Result<Send, String> {
    let given: Vec<&str> = [
        ("type", r.kind.is_some()),
        ("raw", r.raw.is_some()),
        ("oversize", r.oversize.is_some()),
    ]
    .iter()
    .filter(|(_, present)| *present)
    .map(|(k, _)| *k)
    .collect();
    if given.len() != 1 {
        return Err(if given.is_empty() {
            "`send` needs exactly one of `type`, `raw` or `oversize`".to_string()
        } else {
            format!(
                "`send` takes exactly one of `type`, `raw` or `oversize` (got `{}`)",
                given.join("` and `")
            )
        });
    }
    let frame = if let Some(kind) = r.kind {
        Frame::Message(MessageSpec {
            kind: kind.0,
            payload: r
                .payload
                .map(|p| p.0)
                .unwrap_or_else(|| Value::Object(Map::new())),
            job_id: r.job_id.map(|t| t.0),
            trace_id: r.trace_id.map(|t| t.0),
            envelope: r.envelope.map(|e| e.0).unwrap_or_default(),
        })
    } else {
        let extra: Vec<&str> = [
            ("payload", r.payload.is_some()),
            ("job_id", r.job_id.is_some()),
            ("trace_id", r.trace_id.is_some()),
            ("envelope", r.envelope.is_some()),
        ]
        .iter()
        .filter(|(_, present)| *present)
        .map(|(k, _)| *k)
        .collect();
        if let Some(k) = extra.first() {
            return Err(format!(
                "`{k}` only applies to `send: {{type: ...}}`, not to `{}`",
                given[0]
            ));
        }
        match (r.raw, r.oversize) {
            (Some(raw), _) => Frame::Raw(raw.0),
            (_, Some(n)) => Frame::Oversize(n),
            _ => unreachable!("exactly one given"),
        }
    };
    Ok(Send {
        session: session(r.session),
        frame,
    })
}
map_de!(SendDe, RawSend => Send, "a send mapping", conv_send);

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum SubmitExpectKw {
    Accepted,
    Error,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubmit {
    session: Option<SessionName>,
    agent: Option<TemplateStr>,
    input: Option<Json>,
    lease_request: Option<Json>,
    lease_constraints: Option<Json>,
    idempotency_key: Option<TemplateStr>,
    max_runtime_sec: Option<Json>,
    trace_id: Option<TemplateStr>,
    #[serde(rename = "as")]
    capture_as: Option<CaptureName>,
    expect: Option<SubmitExpectKw>,
    code: Option<Code>,
}

fn conv_submit(r: RawSubmit) -> Result<Submit, String> {
    let expect = match (r.expect, r.code) {
        (Some(SubmitExpectKw::Accepted), Some(c)) => {
            return Err(format!("`code: {}` only applies with `expect: error`", c.0))
        }
        (Some(SubmitExpectKw::Error), c) | (None, c @ Some(_)) => SubmitOutcome::Error {
            code: c.map(|c| c.0),
        },
        (Some(SubmitExpectKw::Accepted) | None, None) => SubmitOutcome::Accepted,
    };
    Ok(Submit {
        session: session(r.session),
        agent: r
            .agent
            .map(|a| a.0)
            .unwrap_or_else(|| DEFAULT_SUBMIT_AGENT.to_string()),
        input: r
            .input
            .map(|i| i.0)
            .unwrap_or_else(|| Value::Object(Map::new())),
        lease_request: r.lease_request.map(|v| v.0),
        lease_constraints: r.lease_constraints.map(|v| v.0),
        idempotency_key: r.idempotency_key.map(|v| v.0),
        max_runtime_sec: r.max_runtime_sec.map(|v| v.0),
        trace_id: r.trace_id.map(|v| v.0),
        capture_as: r
            .capture_as
            .map(|c| c.0)
            .unwrap_or_else(|| DEFAULT_JOB_CAPTURE.to_string()),
        expect,
    })
}
map_de!(SubmitDe, RawSubmit => Submit, "a submit mapping", conv_submit);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResume {
    session: Option<SessionName>,
    last_event_seq: Option<Json>,
    token: Option<Json>,
    expect: Option<HelloExpectKw>,
    code: Option<Code>,
}

fn conv_resume(r: RawResume) -> Result<Resume, String> {
    let s = session(r.session);
    Ok(Resume {
        last_event_seq: r
            .last_event_seq
            .map(|v| v.0)
            .unwrap_or_else(|| Value::String(format!("${{session.{s}.last_seq}}"))),
        token: r
            .token
            .map(|v| v.0)
            .unwrap_or_else(|| Value::String(format!("${{session.{s}.resume_token}}"))),
        expect: hello_outcome(r.expect, r.code)?,
        session: s,
    })
}
map_de!(ResumeDe, RawResume => Resume, "a resume mapping", conv_resume);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaitJob {
    session: Option<SessionName>,
    job: Option<TemplateStr>,
    status: Option<JobStatus>,
    within: Option<SpanDe>,
    capture: Option<BTreeMap<CaptureNameKey, Pointer>>,
}
map_de!(WaitJobDe, RawWaitJob => WaitJob, "a wait_job mapping",
|r: RawWaitJob| Ok(WaitJob {
    session: session(r.session),
    job: r.job.map(|j| j.0).unwrap_or_else(|| format!("${{{DEFAULT_JOB_CAPTURE}}}")),
    status: r.status.unwrap_or_default(),
    within: r.within.map(|d| d.0).unwrap_or_else(|| Span::fixed(DEFAULT_WAIT_JOB_WITHIN)),
    capture: captures(r.capture),
}));
