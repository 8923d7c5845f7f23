//! §5 Wire format: the JSON envelope every message travels in.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Value of the `arcp` envelope field this harness speaks.
pub const PROTOCOL_VERSION: &str = "1.1";

/// The top-level envelope fields the spec defines (§5); any other is unknown.
pub const FIELDS: &[&str] = &[
    "arcp",
    "id",
    "type",
    "session_id",
    "trace_id",
    "job_id",
    "event_seq",
    "payload",
];

/// The envelope. Unknown top-level fields are ignored on decode (§5 MUST).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub arcp: String,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_seq: Option<u64>,
    #[serde(default = "empty_object")]
    pub payload: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// Why a text frame is not a usable envelope.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame is not valid JSON: {0}")]
    Json(String),
    #[error("frame is not a JSON object")]
    NotObject,
    #[error("envelope field `{field}`: {problem}")]
    Field {
        field: &'static str,
        problem: String,
    },
}

impl Envelope {
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        Envelope {
            arcp: PROTOCOL_VERSION.to_string(),
            id: crate::ids::message_id(),
            kind: kind.into(),
            session_id: None,
            trace_id: None,
            job_id: None,
            event_seq: None,
            payload,
        }
    }

    pub fn session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    pub fn job(mut self, job_id: impl Into<String>) -> Self {
        self.job_id = Some(job_id.into());
        self
    }

    pub fn trace(mut self, trace_id: Option<String>) -> Self {
        self.trace_id = trace_id;
        self
    }

    pub fn seq(mut self, seq: u64) -> Self {
        self.event_seq = Some(seq);
        self
    }

    pub fn message_type(&self) -> Option<crate::wire::MessageType> {
        crate::wire::MessageType::parse(&self.kind)
    }

    /// Decode one text frame, naming the first field that is wrong.
    pub fn decode(text: &str) -> Result<Envelope, DecodeError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
        Envelope::from_value(value)
    }

    pub fn from_value(value: Value) -> Result<Envelope, DecodeError> {
        let Value::Object(mut obj) = value else {
            return Err(DecodeError::NotObject);
        };
        fn string(
            obj: &mut Map<String, Value>,
            field: &'static str,
            required: bool,
        ) -> Result<Option<String>, DecodeError> {
            match obj.remove(field) {
                None | Some(Value::Null) if !required => Ok(None),
                None | Some(Value::Null) => Err(DecodeError::Field {
                    field,
                    problem: "is required".into(),
                }),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(DecodeError::Field {
                    field,
                    problem: format!("must be a string, got {}", json_type(&other)),
                }),
            }
        }
        let arcp = string(&mut obj, "arcp", true)?.unwrap_or_default();
        let id = string(&mut obj, "id", true)?.unwrap_or_default();
        let kind = string(&mut obj, "type", true)?.unwrap_or_default();
        let session_id = string(&mut obj, "session_id", false)?;
        let trace_id = string(&mut obj, "trace_id", false)?;
        let job_id = string(&mut obj, "job_id", false)?;
        let event_seq = match obj.remove("event_seq") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
            Some(other) => {
                return Err(DecodeError::Field {
                    field: "event_seq",
                    problem: format!("must be a non-negative integer, got {other}"),
                })
            }
        };
        let payload = match obj.remove("payload") {
            None | Some(Value::Null) => empty_object(),
            Some(p @ Value::Object(_)) => p,
            Some(other) => {
                return Err(DecodeError::Field {
                    field: "payload",
                    problem: format!("must be an object, got {}", json_type(&other)),
                })
            }
        };
        // Anything left in `obj` is an unknown top-level field: ignored (§5).
        Ok(Envelope {
            arcp,
            id,
            kind,
            session_id,
            trace_id,
            job_id,
            event_seq,
            payload,
        })
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("envelope serializes")
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("envelope serializes")
    }

    /// A string field of the payload, if present.
    pub fn payload_str(&self, key: &str) -> Option<&str> {
        self.payload.get(key).and_then(Value::as_str)
    }
}

/// JSON type name, for messages.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
