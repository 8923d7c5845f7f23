//! Steps: [`Step`], [`StepKind`] and the bodies of the steps a runtime-role
//! case writes (the shared ones included).

use super::*;
use crate::limits::Span;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One step of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    /// The step's `note:`, a human description.
    pub note: Option<String>,
    /// 1-based line of the step in its case file.
    pub line: usize,
}

/// What a step does. Each variant corresponds to one YAML step key.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// `open`: connect a transport, send `session.hello`, await the reply.
    Open(Hello),
    /// `connect`: open a transport only.
    Connect(SessionRef),
    /// `hello`: send `session.hello` on an already-connected session and
    /// await the reply.
    Hello(Hello),
    /// `send`: send one frame.
    Send(Send),
    /// `submit`: `job.submit` + await `job.accepted` (or an error).
    Submit(Submit),
    /// `expect`: await a frame matching a pattern.
    Expect(Expect),
    /// `expect_error`: await an error with a given code.
    ExpectError(ExpectError),
    /// `expect_none`: no (matching) frame arrives for a while.
    ExpectNone(ExpectNone),
    /// `expect_close`: the peer closes the transport.
    ExpectClose(ExpectClose),
    /// `drop`: close the transport abruptly (no `session.close`).
    Drop(SessionRef),
    /// `resume`: reconnect and send `session.resume`.
    Resume(Resume),
    /// `wait_job`: await a job's terminal message.
    WaitJob(WaitJob),
    /// `sleep`: pause.
    Sleep(Span),
    /// `set`: bind names to (rendered) values, in order.
    Set(Map<String, Value>),
    /// `assert`: compare two (rendered) values.
    Assert(Assert),
    /// `repeat`: run nested steps `times` times with `${i}` = 0, 1, ...
    Repeat(Repeat),
    /// `welcome` (client role): await the client's `session.hello` (or
    /// `session.resume`) and answer it.
    Welcome(Welcome),
    /// `accept` (client role): await a `job.submit` and answer `job.accepted`.
    Accept(Accept),
    /// `emit` (client role): send a job event or terminal message, numbered.
    Emit(Emit),
    /// `expect_output` (client role): a line the client's driver prints.
    ExpectOutput(ExpectOutput),
    /// `expect_upstream`: the credential upstream saw something.
    ExpectUpstream(ExpectUpstream),
    /// `expect_upstream_none`: the credential upstream did not see something.
    ExpectUpstreamNone(ExpectUpstreamNone),
    /// `upstream_fail`: make the credential upstream fail or slow down.
    UpstreamFail(UpstreamFail),
}

impl StepKind {
    /// Every step key, in documentation order.
    pub const NAMES: &'static [&'static str] = &[
        "open",
        "connect",
        "hello",
        "send",
        "submit",
        "expect",
        "expect_error",
        "expect_none",
        "expect_close",
        "drop",
        "resume",
        "wait_job",
        "sleep",
        "set",
        "assert",
        "repeat",
        "welcome",
        "accept",
        "emit",
        "expect_output",
        "expect_upstream",
        "expect_upstream_none",
        "upstream_fail",
    ];

    /// Step keys that need the credential upstream.
    pub const UPSTREAM: &'static [&'static str] =
        &["expect_upstream", "expect_upstream_none", "upstream_fail"];

    /// Step keys only `role: client` cases use.
    pub const CLIENT_ONLY: &'static [&'static str] =
        &["welcome", "accept", "emit", "expect_output"];

    /// Step keys only `role: runtime` cases use.
    pub const RUNTIME_ONLY: &'static [&'static str] = &[
        "open",
        "connect",
        "hello",
        "submit",
        "expect_error",
        "resume",
        "wait_job",
        "expect_upstream",
        "expect_upstream_none",
        "upstream_fail",
    ];

    /// The YAML key of this step.
    /// The wait this step writes, if it is one of the runtime-role waits.
    pub fn wait(&self) -> Option<&Span> {
        match self {
            StepKind::Expect(e) => Some(&e.within),
            StepKind::ExpectError(e) => Some(&e.within),
            StepKind::ExpectNone(e) => Some(&e.duration),
            StepKind::ExpectClose(e) => Some(&e.within),
            StepKind::WaitJob(w) => Some(&w.within),
            StepKind::Sleep(d) => Some(d),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Open(_) => "open",
            StepKind::Connect(_) => "connect",
            StepKind::Hello(_) => "hello",
            StepKind::Send(_) => "send",
            StepKind::Submit(_) => "submit",
            StepKind::Expect(_) => "expect",
            StepKind::ExpectError(_) => "expect_error",
            StepKind::ExpectNone(_) => "expect_none",
            StepKind::ExpectClose(_) => "expect_close",
            StepKind::Drop(_) => "drop",
            StepKind::Resume(_) => "resume",
            StepKind::WaitJob(_) => "wait_job",
            StepKind::Sleep(_) => "sleep",
            StepKind::Set(_) => "set",
            StepKind::Assert(_) => "assert",
            StepKind::Repeat(_) => "repeat",
            StepKind::Welcome(_) => "welcome",
            StepKind::Accept(_) => "accept",
            StepKind::Emit(_) => "emit",
            StepKind::ExpectOutput(_) => "expect_output",
            StepKind::ExpectUpstream(_) => "expect_upstream",
            StepKind::ExpectUpstreamNone(_) => "expect_upstream_none",
            StepKind::UpstreamFail(_) => "upstream_fail",
        }
    }

    /// The session the step acts on (`None` for sleep/set/assert/repeat).
    pub fn session(&self) -> Option<&str> {
        match self {
            StepKind::Open(h) | StepKind::Hello(h) => Some(&h.session),
            StepKind::Connect(s) | StepKind::Drop(s) => Some(&s.session),
            StepKind::Send(s) => Some(&s.session),
            StepKind::Submit(s) => Some(&s.session),
            StepKind::Expect(s) => Some(&s.session),
            StepKind::ExpectError(s) => Some(&s.session),
            StepKind::ExpectNone(s) => Some(&s.session),
            StepKind::ExpectClose(s) => Some(&s.session),
            StepKind::Resume(s) => Some(&s.session),
            StepKind::WaitJob(s) => Some(&s.session),
            StepKind::Welcome(s) => Some(&s.session),
            StepKind::Accept(s) => Some(&s.session),
            StepKind::Emit(s) => Some(&s.session),
            StepKind::Sleep(_)
            | StepKind::Set(_)
            | StepKind::Assert(_)
            | StepKind::Repeat(_)
            | StepKind::ExpectOutput(_)
            | StepKind::ExpectUpstream(_)
            | StepKind::ExpectUpstreamNone(_)
            | StepKind::UpstreamFail(_) => None,
        }
    }
}

/// A step that only names a session (`connect`, `drop`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRef {
    pub session: String,
}

/// `open` / `hello`: build and send `session.hello`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hello {
    pub session: String,
    /// Whose token goes in `auth` (default alice).
    pub principal: Principal,
    /// Features to offer.
    pub features: FeatureSet,
    /// `payload.client`; `None` lets the engine use its own identity.
    pub client: Option<ClientInfo>,
    /// The `auth` object.
    pub auth: Auth,
    /// Object merged over the hello payload the engine builds (may hold
    /// templates).
    pub payload: Option<Map<String, Value>>,
    /// The reply to wait for.
    pub expect: HelloOutcome,
    /// Answer the target's `session.ping`s automatically (default true);
    /// false lets a case play a silent peer (§6.4).
    pub auto_pong: bool,
}

/// The feature list offered in `session.hello`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FeatureSet {
    /// Every feature the harness knows (default).
    #[default]
    All,
    /// Exactly these strings (unknown names are allowed on purpose).
    List(Vec<String>),
}

/// `payload.client` of a hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub name: String,
    pub version: String,
}

/// How to fill `payload.auth` of a hello.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Auth {
    /// `{scheme: bearer, token: <principal's token>}` (no `auth:` key).
    #[default]
    Default,
    /// Leave `auth` out of the payload (`auth: null`).
    Omit,
    /// Use this value as the whole `auth` object (may hold templates).
    Replace(Value),
}

/// Expected reply to a hello or resume.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HelloOutcome {
    /// `session.welcome` (default).
    #[default]
    Welcome,
    /// An error; `code` when the case names one (`None` = any code).
    Error { code: Option<String> },
}

/// `send`: one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    pub session: String,
    pub frame: Frame,
}

/// What `send` puts on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// An envelope built by the engine (`send: {type: ...}`).
    Message(MessageSpec),
    /// This text, verbatim after template rendering (`send: {raw: ...}`).
    Raw(String),
    /// A syntactically valid frame of this many bytes (`send: {oversize: N}`).
    Oversize(u64),
}

/// An envelope to build. The engine fills `arcp`, `id` and `session_id`
/// as usual, then applies `envelope`.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageSpec {
    /// The message `type` (any string; unknown types are allowed on purpose).
    pub kind: String,
    /// The `payload` (default `{}`; any JSON, may hold templates).
    pub payload: Value,
    /// Envelope `job_id` (template string).
    pub job_id: Option<String>,
    /// Envelope `trace_id` (template string).
    pub trace_id: Option<String>,
    /// Merged over the top-level envelope last; a key whose value is `null`
    /// removes that field. Empty when not given.
    pub envelope: Map<String, Value>,
}

/// `submit`: `job.submit` and its reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Submit {
    pub session: String,
    /// `payload.agent` (template string; default `${agents.conformance}`).
    pub agent: String,
    /// `payload.input` (default `{}`).
    pub input: Value,
    pub lease_request: Option<Value>,
    pub lease_constraints: Option<Value>,
    /// Template string.
    pub idempotency_key: Option<String>,
    /// Usually a number; kept as JSON so cases can send invalid values.
    pub max_runtime_sec: Option<Value>,
    /// Envelope `trace_id` (template string).
    pub trace_id: Option<String>,
    /// Name the accepted job id is captured under (`as:`, default `job`).
    pub capture_as: String,
    pub expect: SubmitOutcome,
}

/// Expected reply to a submit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SubmitOutcome {
    /// `job.accepted` (default); its `payload.job_id` is captured.
    #[default]
    Accepted,
    /// An error; `code` when the case names one (`None` = any code).
    Error { code: Option<String> },
}

/// `expect`: wait for a frame matching `pattern`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub session: String,
    /// A [`crate::matcher`] pattern matched against the whole frame (may
    /// hold templates, rendered before matching).
    pub pattern: Value,
    /// How long to wait (default 5s).
    pub within: Span,
    /// `false` (default): skip frames that do not match; `true`: the very
    /// next frame must match.
    pub next: bool,
    /// The target may close the transport from this step on: the case then
    /// ends with its level's verdict (INFO for a MAY), not the ERROR of an
    /// unexpected close.
    pub or_close: bool,
    /// Name -> JSON pointer (starting with `/`) into the matched frame.
    pub capture: BTreeMap<String, String>,
}

/// `expect_error`: wait for an error with a code.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectError {
    pub session: String,
    /// Expected `code` (a §12 code); `None` = any error.
    pub code: Option<String>,
    pub within: Span,
    /// Which kind of message carries the error.
    pub source: ErrorSource,
    /// As [`Expect::or_close`].
    pub or_close: bool,
}

/// Where an expected error may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ErrorSource {
    /// A `session.error` message.
    #[serde(rename = "session.error")]
    SessionError,
    /// A `job.error` message.
    #[serde(rename = "job.error")]
    JobError,
    /// A `tool_result` job event with an `error`.
    #[serde(rename = "tool_result")]
    ToolResult,
    /// Any of the above (default).
    #[default]
    #[serde(rename = "any")]
    Any,
}

/// `expect_none`: for `duration`, no frame (matching `pattern`) arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectNone {
    pub session: String,
    /// `None`: no frame at all may arrive.
    pub pattern: Option<Value>,
    /// The `for:` duration (default 1s).
    pub duration: Span,
}

/// `expect_close`: the peer closes the transport within `within`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectClose {
    pub session: String,
    pub within: Span,
}

/// `resume`: reconnect the (dropped) session and send `session.resume`.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    pub session: String,
    /// `payload.last_event_seq` (default `"${session.<s>.last_seq}"`).
    pub last_event_seq: Value,
    /// `payload.resume_token` (default `"${session.<s>.resume_token}"`).
    pub token: Value,
    pub expect: HelloOutcome,
}

/// `wait_job`: wait for a job's terminal message.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitJob {
    pub session: String,
    /// The job id (template string, default `${job}`).
    pub job: String,
    pub status: JobStatus,
    /// Default 10s.
    pub within: Span,
    /// Name -> JSON pointer into the terminal message.
    pub capture: BTreeMap<String, String>,
}

/// The terminal status `wait_job` requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Success,
    Error,
    Cancelled,
    TimedOut,
    /// Any terminal status (default).
    #[default]
    Terminal,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Success => "success",
            JobStatus::Error => "error",
            JobStatus::Cancelled => "cancelled",
            JobStatus::TimedOut => "timed_out",
            JobStatus::Terminal => "terminal",
        }
    }
}

/// `assert`: `left <op> right` after rendering both.
#[derive(Debug, Clone, PartialEq)]
pub struct Assert {
    pub op: AssertOp,
    pub left: Value,
    pub right: Value,
    /// Shown when the assertion fails.
    pub message: Option<String>,
}

/// Comparison of an `assert`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertOp {
    /// JSON equality (numbers numerically).
    Equal,
    NotEqual,
    /// Numbers (or strings, lexicographically).
    Less,
    Greater,
}

impl AssertOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AssertOp::Equal => "equal",
            AssertOp::NotEqual => "not_equal",
            AssertOp::Less => "less",
            AssertOp::Greater => "greater",
        }
    }
}

/// `repeat`: the body `times` times; `${i}` is 0-based.
#[derive(Debug, Clone, PartialEq)]
pub struct Repeat {
    pub times: u32,
    pub steps: Vec<Step>,
}
