//! §8 job events: kinds and their bodies.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    Log,
    Thought,
    ToolCall,
    ToolResult,
    Status,
    Metric,
    ArtifactRef,
    Delegate,
    Progress,
    ResultChunk,
}

impl EventKind {
    pub const ALL: &'static [EventKind] = &[
        EventKind::Log,
        EventKind::Thought,
        EventKind::ToolCall,
        EventKind::ToolResult,
        EventKind::Status,
        EventKind::Metric,
        EventKind::ArtifactRef,
        EventKind::Delegate,
        EventKind::Progress,
        EventKind::ResultChunk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Log => "log",
            EventKind::Thought => "thought",
            EventKind::ToolCall => "tool_call",
            EventKind::ToolResult => "tool_result",
            EventKind::Status => "status",
            EventKind::Metric => "metric",
            EventKind::ArtifactRef => "artifact_ref",
            EventKind::Delegate => "delegate",
            EventKind::Progress => "progress",
            EventKind::ResultChunk => "result_chunk",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Kinds that exist only when their feature is negotiated (§8.2.1, §8.4).
    pub fn feature(self) -> Option<crate::wire::Feature> {
        match self {
            EventKind::Progress => Some(crate::wire::Feature::Progress),
            EventKind::ResultChunk => Some(crate::wire::Feature::ResultChunk),
            _ => None,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `job.event` payload: `{kind, ts, body}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBody {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    #[serde(default)]
    pub body: Value,
}

impl EventBody {
    pub fn new(kind: EventKind, ts: String, body: Value) -> Self {
        EventBody {
            kind: kind.as_str().to_string(),
            ts: Some(ts),
            body,
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("event serializes")
    }
}

/// §8.2 `metric` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Value>,
}

/// §8.4 `result_chunk` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultChunk {
    pub result_id: String,
    pub chunk_seq: u64,
    pub data: String,
    pub encoding: String,
    pub more: bool,
}

pub fn tool_result_error(call_id: &str, error: &crate::wire::ErrorPayload) -> Value {
    json!({ "call_id": call_id, "error": error.to_value() })
}
