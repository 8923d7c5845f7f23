//! §12 error taxonomy.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

macro_rules! error_codes {
    ($($variant:ident = $name:literal),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode { $($variant),* }
        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];
            pub fn as_str(self) -> &'static str { match self { $(ErrorCode::$variant => $name),* } }
            pub fn parse(s: &str) -> Option<ErrorCode> {
                match s { $($name => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    PermissionDenied = "PERMISSION_DENIED",
    LeaseSubsetViolation = "LEASE_SUBSET_VIOLATION",
    JobNotFound = "JOB_NOT_FOUND",
    DuplicateKey = "DUPLICATE_KEY",
    AgentNotAvailable = "AGENT_NOT_AVAILABLE",
    AgentVersionNotAvailable = "AGENT_VERSION_NOT_AVAILABLE",
    Cancelled = "CANCELLED",
    Timeout = "TIMEOUT",
    ResumeWindowExpired = "RESUME_WINDOW_EXPIRED",
    HeartbeatLost = "HEARTBEAT_LOST",
    LeaseExpired = "LEASE_EXPIRED",
    BudgetExhausted = "BUDGET_EXHAUSTED",
    InvalidRequest = "INVALID_REQUEST",
    Unauthenticated = "UNAUTHENTICATED",
    InternalError = "INTERNAL_ERROR",
}

impl ErrorCode {
    /// The `retryable` value the spec fixes for this code, if it fixes one:
    /// LEASE_EXPIRED and BUDGET_EXHAUSTED MUST be false (§12); INTERNAL_ERROR
    /// is "always retryable".
    pub fn required_retryable(self) -> Option<bool> {
        match self {
            ErrorCode::LeaseExpired | ErrorCode::BudgetExhausted => Some(false),
            ErrorCode::InternalError => Some(true),
            _ => None,
        }
    }

    /// What the reference runtime sends: the fixed value, else whether an
    /// identical retry could plausibly succeed.
    pub fn retryable(self) -> bool {
        self.required_retryable().unwrap_or(matches!(
            self,
            ErrorCode::Timeout | ErrorCode::HeartbeatLost
        ))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `session.error`, `job.error` and `tool_result.error` payloads share this core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ErrorPayload {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorPayload {
            code: code.as_str().to_string(),
            message: message.into(),
            retryable: code.retryable(),
            details: None,
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("error payload serializes")
    }
}
