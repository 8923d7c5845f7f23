//! Single-frame mutations: a valid client frame ([`Base`]) with one or two
//! [`MutOp`]s applied, and the classification of the result ([`Class`]):
//! what a conforming runtime must do when it receives it.
//!
//! Values the harness only knows at run time (session ids, job ids, `now`,
//! tokens) are written into frames as *markers* and become `${...}`
//! templates when the frame is written into a case as `send: {raw: ...}`.
//! Text mutations can cut a marker in half; the remains are then plain text.

use crate::wire::ENVELOPE_FIELDS;
use serde_json::Value;

mod build;
mod classify;
mod generate;
mod marker;
pub use build::build;
pub use classify::{closes, pattern_literal, reply_pattern};
pub use generate::{generate, simplify};
pub use marker::{
    ascii_escape, concretize, escape_template, escape_value, finalize_text, marker, marker_name,
    typed_marker,
};

/// Which valid frame a mutation starts from.
#[derive(Debug, Clone, PartialEq)]
pub enum Base {
    Ping,
    Pong,
    Submit,
    ListJobs,
    Ack,
    /// `job.cancel` of a job: a tracked job's number, or an id nobody issued.
    Cancel(JobRef),
    Subscribe(JobRef),
    Unsubscribe(JobRef),
    /// A `session.hello` (in a session: a second hello).
    Hello,
    /// A `session.resume` with a token nobody issued.
    Resume,
    /// A message only runtimes send.
    RuntimeOnly(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobRef {
    Tracked(u32),
    Unknown(String),
}

impl Base {
    pub fn message_type(&self) -> &'static str {
        match self {
            Base::Ping => "session.ping",
            Base::Pong => "session.pong",
            Base::Submit => "job.submit",
            Base::ListJobs => "session.list_jobs",
            Base::Ack => "session.ack",
            Base::Cancel(_) => "job.cancel",
            Base::Subscribe(_) => "job.subscribe",
            Base::Unsubscribe(_) => "job.unsubscribe",
            Base::Hello => "session.hello",
            Base::Resume => "session.resume",
            Base::RuntimeOnly(t) => t,
        }
    }
}

/// One change to a frame. Value operations come first, then text ones.
#[derive(Debug, Clone, PartialEq)]
pub enum MutOp {
    /// Remove a top-level field.
    Remove(String),
    /// Set a top-level field (wrong type, other version, other type, foreign id, extra field).
    Set(String, Value),
    /// Remove a payload field.
    RemovePayload(String),
    /// Set a payload field.
    SetPayload(String, Value),
    /// Replace the frame by something that is not an object.
    Whole(Value),
    /// Cut the text at this fraction (per mille).
    Truncate(u32),
    /// Insert text at this fraction (per mille).
    Insert(u32, String),
    /// Repeat a top-level key with another value (raw text: JSON cannot say it).
    DupKey(String, Value),
    /// A payload field holding a number literal parsers may refuse or round.
    NumberLiteral(String, String),
    /// A payload string holding an unpaired UTF-16 surrogate escape.
    LoneSurrogate(String),
    /// A payload field nested this many arrays deep.
    Nest(String, u32),
}

impl MutOp {
    /// Short name, used in signatures and reproducer ids.
    pub fn label(&self) -> String {
        match self {
            MutOp::Remove(k) => format!("missing-{k}"),
            MutOp::Set(k, v) => match (k.as_str(), v) {
                ("arcp", Value::String(_)) => "arcp-version".into(),
                ("type", Value::String(_)) => "type-changed".into(),
                ("session_id", Value::String(s)) if marker_name(s).is_some() => {
                    "foreign-session-id".into()
                }
                // A value of the field's own type (an odd trace id, a negative
                // event_seq) is not a wrong type: the label must say which.
                (k, v) if ENVELOPE_FIELDS.contains(&k) => {
                    let own_type = match k {
                        "event_seq" => v.is_number(),
                        "payload" => v.is_object(),
                        _ => v.is_string(),
                    };
                    if own_type {
                        format!("odd-{k}")
                    } else {
                        format!("wrong-type-{k}")
                    }
                }
                _ => "extra-field".into(),
            },
            MutOp::RemovePayload(_) => "payload-missing-field".into(),
            MutOp::SetPayload(..) => "payload-field".into(),
            MutOp::Whole(_) => "not-an-object".into(),
            MutOp::Truncate(_) => "truncated".into(),
            MutOp::Insert(..) => "invalid-json".into(),
            MutOp::DupKey(..) => "duplicate-key".into(),
            MutOp::NumberLiteral(..) => "number-literal".into(),
            MutOp::LoneSurrogate(_) => "lone-surrogate".into(),
            MutOp::Nest(..) => "deep-nesting".into(),
        }
    }

    fn is_text(&self) -> bool {
        matches!(
            self,
            MutOp::Truncate(_)
                | MutOp::Insert(..)
                | MutOp::DupKey(..)
                | MutOp::NumberLiteral(..)
                | MutOp::LoneSurrogate(_)
                | MutOp::Nest(..)
        )
    }
}

/// A mutated frame, as generated: deterministic data, rendered later.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutant {
    pub base: Base,
    pub ops: Vec<MutOp>,
    /// Envelope id (ULID-shaped, so id validation is not what trips).
    pub id: String,
    pub nonce: String,
}

impl Mutant {
    pub fn label(&self) -> String {
        self.ops
            .iter()
            .map(MutOp::label)
            .collect::<Vec<_>>()
            .join("+")
    }
}

/// What a conforming runtime must do with a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Class {
    /// Answer with `session.error` (this code, if the spec fixes it).
    MustError(Option<&'static str>),
    /// Answer with the message's normal reply (or nothing if it has none),
    /// or with `session.error`; either way keep the session.
    MayError,
    /// Treat it as the valid message it is: its normal reply must come.
    Accept,
    /// Before hello: a (possibly broken) hello or resume; the runtime may
    /// welcome or refuse and close.
    Handshake,
}

/// Where the frame is sent.
pub struct FrameCtx<'a> {
    pub arcp: &'a str,
    /// Session name of the frame (`a`, `b`, `p`).
    pub session: &'a str,
    /// A session is established on it (else: before hello).
    pub in_session: bool,
    /// Features negotiated on this session.
    pub features: &'a [String],
    /// Template name of a job id for a tracked job, if it was captured.
    pub job: &'a dyn Fn(u32) -> Option<String>,
}

/// A built mutated frame.
pub struct Built {
    /// Frame text with markers (see [`finalize_text`]).
    pub text: String,
    pub class: Class,
    /// The `type` the runtime will see, when the frame parses.
    pub final_type: Option<String>,
    /// The ping nonce the reply must echo, when the final frame is a valid ping.
    pub nonce: Option<String>,
}

#[cfg(test)]
mod tests;
