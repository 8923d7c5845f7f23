//! The parsed, validated form of a case file. Everything here is produced by
//! the loader ([`crate::case::load_file`] and friends); defaults are already
//! filled in, so the engine never has to know YAML-level spellings.
//!
//! Values that may hold `${...}` templates are kept as `serde_json::Value`
//! (or `String`) exactly as written; the engine renders them with
//! [`crate::template::render`] just before use.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::limits::Span;
use crate::wire::Feature;

/// Session name used when a step does not say `session:`.
pub const DEFAULT_SESSION: &str = "a";
/// Whole-case deadline when a case has no `timeout:`.
pub const DEFAULT_CASE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `within:` for `expect`, `expect_error`, `expect_close`.
pub const DEFAULT_EXPECT_WITHIN: Duration = Duration::from_secs(5);
/// Default `within:` for `wait_job`.
pub const DEFAULT_WAIT_JOB_WITHIN: Duration = Duration::from_secs(10);
/// Default `for:` for `expect_none`.
pub const DEFAULT_EXPECT_NONE_FOR: Duration = Duration::from_secs(1);
/// Default `within:` for `welcome` (the client under test may still be starting).
pub const DEFAULT_WELCOME_WITHIN: Duration = Duration::from_secs(10);
/// The driver scenarios a `role: client` case can name (docs/client-driver.md).
pub const SCENARIOS: &[&str] = &["submit", "resume", "cancel", "idle", "subscribe"];
/// Default capture name for the job id of a `submit`.
pub const DEFAULT_JOB_CAPTURE: &str = "job";
/// Default agent of a `submit`.
pub const DEFAULT_SUBMIT_AGENT: &str = "${agents.conformance}";

/// One conformance case: a requirement from the spec and the steps that
/// check it.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Stable id, `^[a-z0-9][a-z0-9_.-]*$`, unique across a case directory.
    pub id: String,
    /// One-line human title.
    pub title: String,
    /// Spec sections the requirement comes from, e.g. `["6.3"]`; never empty.
    pub sections: Vec<String>,
    /// RFC 2119 strength of the requirement.
    pub level: Level,
    /// The requirement sentence, quoted from the spec.
    pub requirement: String,
    /// What the target must offer for the case to be runnable. The loader
    /// adds what it can see the steps use (see [`Requires`]).
    pub requires: Requires,
    /// Free-form tags for selection.
    pub tags: Vec<String>,
    /// Ids of cases that must pass before this one is meaningful.
    pub depends_on: Vec<String>,
    /// Whole-case deadline (default 30s).
    pub timeout: Duration,
    /// Which side the harness plays.
    pub role: Role,
    /// Faults of the reference peer this case must catch (it must not pass
    /// with any of them switched on): the proof that the case can fail.
    pub catches: Vec<String>,
    /// `role: client` only: the driver scenario the client under test plays
    /// (one of [`SCENARIOS`]); `None` for runtime cases.
    pub scenario: Option<String>,
    /// The steps, in order; never empty.
    pub steps: Vec<Step>,
    /// File the case was read from (as given to the loader).
    pub source: PathBuf,
    /// 1-based line where the case's mapping starts in `source`.
    pub line: usize,
}

impl Case {
    /// Every wait the steps write (`within`, `for`, `sleep`), with its step.
    pub fn waits(&self) -> Vec<(&Step, &Span)> {
        self.all_steps()
            .into_iter()
            .filter_map(|s| s.kind.wait().map(|w| (s, w)))
            .collect()
    }

    /// `source:line` for messages.
    pub fn location(&self) -> String {
        format!("{}:{}", self.source.display(), self.line)
    }

    /// Every step in execution order of appearance, descending into
    /// `repeat` bodies (each body listed once), depth first.
    pub fn all_steps(&self) -> Vec<&Step> {
        fn walk<'a>(steps: &'a [Step], out: &mut Vec<&'a Step>) {
            for s in steps {
                out.push(s);
                if let StepKind::Repeat(r) = &s.kind {
                    walk(&r.steps, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.steps, &mut out);
        out
    }
}

/// RFC 2119 level. `MUST NOT` / `SHOULD NOT` requirements are written as
/// `MUST` / `SHOULD` (the negation lives in the requirement sentence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Must,
    Should,
    May,
    /// The quoted sentence describes the behaviour without an RFC 2119
    /// keyword: a deviation is reported as INFO, never as a violation.
    Info,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Info => "INFO",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side of the protocol the harness plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The target is a runtime; the harness is the client (default).
    #[default]
    Runtime,
    /// The target is a client; the harness is the runtime
    /// ([`crate::clienttest`]).
    Client,
}

/// What the target must offer. After loading, `agents`, `principals`,
/// `sessions` and `reconnect` include what the loader saw the steps use,
/// so the engine can trust them for N/A / UNTESTABLE decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requires {
    /// Negotiated features the case needs; absent from the effective set
    /// -> N/A.
    pub features: Vec<Feature>,
    /// Agent roles needed; the target lacks one -> UNTESTABLE.
    pub agents: Vec<AgentRole>,
    /// Maximum number of concurrent connections (>= 1).
    pub sessions: u32,
    /// Principal aliases used.
    pub principals: Vec<Principal>,
    /// Needs to drop a transport and reconnect to the same runtime.
    pub reconnect: bool,
}

impl Default for Requires {
    fn default() -> Self {
        Requires {
            features: Vec::new(),
            agents: Vec::new(),
            sessions: 1,
            principals: Vec::new(),
            reconnect: false,
        }
    }
}

/// An agent role a target declares in its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentRole {
    /// The scriptable conformance agent (`${agents.conformance}`).
    Conformance,
    /// An agent that echoes its input (`${agents.echo}`).
    Echo,
    /// Whichever of those two the target hosts (`${agents.any}`): for cases
    /// that submit a job only to see it accepted or refused, or that need it
    /// to end with success on any input.
    Any,
}

impl AgentRole {
    pub const ALL: &'static [AgentRole] =
        &[AgentRole::Conformance, AgentRole::Echo, AgentRole::Any];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentRole::Conformance => "conformance",
            AgentRole::Echo => "echo",
            AgentRole::Any => "any",
        }
    }

    pub fn parse(s: &str) -> Option<AgentRole> {
        AgentRole::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for AgentRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A principal alias; the target configuration maps aliases to tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Principal {
    /// The first principal.
    Alice,
    /// The same principal as `alice`, with a different token.
    Alice2,
    /// A second, different principal.
    Bob,
    /// A token the runtime must reject.
    Invalid,
}

impl Principal {
    pub const ALL: &'static [Principal] = &[
        Principal::Alice,
        Principal::Alice2,
        Principal::Bob,
        Principal::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Principal::Alice => "alice",
            Principal::Alice2 => "alice2",
            Principal::Bob => "bob",
            Principal::Invalid => "invalid",
        }
    }

    pub fn parse(s: &str) -> Option<Principal> {
        Principal::ALL.iter().copied().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

// ------------------------------------------------------------ client role

/// `welcome` (client role): wait for the client's first frame on a
/// connection — `session.hello`, or `session.resume` with `resume: true` —
/// check it against `pattern`, and answer `session.welcome` (or a
/// `session.error` with `code`).
#[derive(Debug, Clone, PartialEq)]
pub struct Welcome {
    pub session: String,
    /// Expect `session.resume` on a new connection instead of `session.hello`.
    pub resume: bool,
    /// A pattern the client's hello / resume must match (templates rendered
    /// before the resume token rotates).
    pub pattern: Option<Value>,
    /// Features the harness advertises (default all).
    pub features: FeatureSet,
    /// Object merged over the welcome payload (e.g. `heartbeat_interval_sec`).
    pub payload: Option<Map<String, Value>>,
    /// Answer `session.error` with this §12 code instead of welcoming.
    pub code: Option<String>,
    /// How long to wait for the connection and its first frame (default 10s).
    pub within: Duration,
    /// Name -> JSON pointer into the client's hello / resume.
    pub capture: BTreeMap<String, String>,
    /// Answer the client's `session.ping`s automatically (default true).
    pub auto_pong: bool,
}

/// `accept` (client role): wait for `job.submit`, answer `job.accepted` with
/// a fresh job id (captured as `capture_as`) or `session.error` with `code`.
#[derive(Debug, Clone, PartialEq)]
pub struct Accept {
    pub session: String,
    /// A pattern the `job.submit` must match.
    pub pattern: Option<Value>,
    pub within: Duration,
    /// Name the job id is bound to (default `job`).
    pub capture_as: String,
    /// Object merged over the `job.accepted` payload (e.g. `credentials`).
    pub payload: Option<Map<String, Value>>,
    /// Refuse with `session.error` carrying this §12 code.
    pub code: Option<String>,
    /// Name -> JSON pointer into the `job.submit`.
    pub capture: BTreeMap<String, String>,
}

/// `emit` (client role): one job message, with the session's next
/// `event_seq` unless `seq` says otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    pub session: String,
    /// Template string, default `${job}`.
    pub job: String,
    pub what: EmitWhat,
    /// Object merged over the payload built (templates allowed).
    pub payload: Option<Map<String, Value>>,
    /// Explicit `event_seq` (JSON/template); later emits continue from it.
    pub seq: Option<Value>,
    /// Merged over the envelope last; `null` removes a field.
    pub envelope: Map<String, Value>,
}

/// What an `emit` sends.
#[derive(Debug, Clone, PartialEq)]
pub enum EmitWhat {
    /// `job.event` with this `kind` and `body`.
    Event { kind: String, body: Value },
    /// `job.result`, `final_status: success`, with this inline `result`.
    Result(Value),
    /// `job.error` with this §12 code (final_status derived from the code).
    Error(String),
    /// A message of this type with `payload` as given.
    Message(String),
}

/// `expect_output` (client role): a line on the driver's stdout.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectOutput {
    pub pattern: OutputPattern,
    /// Default 5s.
    pub within: Duration,
}

/// What an `expect_output` waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputPattern {
    /// Any line matching this string pattern (`$regex ...`, a literal, ...).
    Line(Value),
    /// `RESULT <json>` whose JSON matches this pattern; another RESULT fails.
    Result(Value),
    /// `ERROR <code>` with this code; another ERROR line fails.
    Error(String),
}

// ------------------------------------------------------ credential upstream

/// Default `within:` for `expect_upstream`.
pub const DEFAULT_UPSTREAM_WITHIN: Duration = Duration::from_secs(5);

/// What the credential upstream saw (CONFORMANCE.md, "The credential
/// upstream"). Every string is a template, rendered before use.
#[derive(Debug, Clone, PartialEq)]
pub enum UpstreamFact {
    /// `issued: <credential id>`: the upstream issued this credential.
    Issued(String),
    /// `issued_for: <job id>`: the upstream issued a credential for this job.
    IssuedFor(String),
    /// `revoked: <credential id>`: every value of it is revoked.
    Revoked(String),
    /// `revoked_for: <job id>`: every credential issued for this job is revoked.
    RevokedFor(String),
    /// `revoked_value: <value>`: this one value is revoked (rotation).
    RevokedValue(String),
    /// `rejects: <value>`: presented at its endpoint now, the upstream refuses it.
    Rejects(String),
    /// `presented: <credential id>`: it was presented at its endpoint.
    Presented(String),
    /// `presented_elsewhere: <credential id>` (`"*"`: any credential): it was
    /// presented at a URL other than its endpoint (§9.8.1).
    PresentedElsewhere(String),
}

impl UpstreamFact {
    pub fn key(&self) -> &'static str {
        match self {
            UpstreamFact::Issued(_) => "issued",
            UpstreamFact::IssuedFor(_) => "issued_for",
            UpstreamFact::Revoked(_) => "revoked",
            UpstreamFact::RevokedFor(_) => "revoked_for",
            UpstreamFact::RevokedValue(_) => "revoked_value",
            UpstreamFact::Rejects(_) => "rejects",
            UpstreamFact::Presented(_) => "presented",
            UpstreamFact::PresentedElsewhere(_) => "presented_elsewhere",
        }
    }

    pub fn template(&self) -> &str {
        match self {
            UpstreamFact::Issued(s)
            | UpstreamFact::IssuedFor(s)
            | UpstreamFact::Revoked(s)
            | UpstreamFact::RevokedFor(s)
            | UpstreamFact::RevokedValue(s)
            | UpstreamFact::Rejects(s)
            | UpstreamFact::Presented(s)
            | UpstreamFact::PresentedElsewhere(s) => s,
        }
    }
}

/// `expect_upstream`: `fact` becomes true within `within`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectUpstream {
    pub fact: UpstreamFact,
    pub within: Duration,
}

/// `expect_upstream_none`: `fact` stays false for `duration`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectUpstreamNone {
    pub fact: UpstreamFact,
    pub duration: Duration,
}

/// Which upstream calls an `upstream_fail` applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamOp {
    Issue,
    Rotate,
    Revoke,
    /// Issue, rotate and revoke (default).
    #[default]
    Any,
}

/// `upstream_fail`: from now on, the upstream answers `op` calls with
/// `status` (`times` times then recovers, or forever), and/or slowly.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamFail {
    pub op: UpstreamOp,
    /// 0: no failure, only `delay`.
    pub status: u16,
    /// `None`: fail permanently.
    pub times: Option<u32>,
    pub delay: Duration,
    /// Only rotate / revoke calls about this credential id (template);
    /// `None`: every call.
    pub credential: Option<String>,
}
