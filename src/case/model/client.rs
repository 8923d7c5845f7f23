//! The client-role steps' bodies: the harness's scripted answers and
//! `expect_output`.

use super::*;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

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
