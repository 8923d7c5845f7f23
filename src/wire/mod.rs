//! The ARCP v1.1 wire model: envelope, message types, payloads, event kinds,
//! leases, credentials and the error taxonomy (spec §5–§12).
//!
//! Frames are kept as `serde_json::Value` at the edges so the harness can
//! observe exactly what a peer sent; the typed structs here are what the
//! reference runtime and client build and parse.

pub mod envelope;
pub mod error;
pub mod event;
pub mod feature;
pub mod lease;
pub mod message;

pub use envelope::{Envelope, FIELDS as ENVELOPE_FIELDS, PROTOCOL_VERSION};
pub use error::{ErrorCode, ErrorPayload};
pub use event::{EventBody, EventKind};
pub use feature::Feature;
pub use lease::{Budget, Credential, Lease, LeaseConstraints};
pub use message::MessageType;
