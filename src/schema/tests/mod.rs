//! Schema unit tests: shared frame builders here, the tests by topic below.

use super::*;
use crate::wire::{EventKind, MessageType};
use serde_json::json;

/// A frame: the spec's example payload plus the envelope fields the
/// examples elide.
fn frame(kind: &str, payload: Value) -> Value {
    json!({
        "arcp": "1.1",
        "id": "01J00000000000000000000000",
        "type": kind,
        "session_id": "sess_01J",
        "payload": payload,
    })
}

/// A sequenced frame (job.event / job.result / job.error).
fn seq_frame(kind: &str, seq: u64, payload: Value) -> Value {
    let mut f = frame(kind, payload);
    f["job_id"] = json!("job_01JABC");
    f["event_seq"] = json!(seq);
    f
}

fn event(kind: &str, body: Value) -> Value {
    seq_frame(
        "job.event",
        7,
        json!({ "kind": kind, "ts": "2026-05-13T19:42:13Z", "body": body }),
    )
}

fn violations(frame: &Value) -> Vec<Violation> {
    schemas().validate(frame)
}

#[track_caller]
fn assert_valid(frame: &Value) {
    let v = violations(frame);
    assert!(
        v.is_empty(),
        "{} should be valid, got:\n{}",
        frame["type"],
        v.iter().map(|v| format!("  {v}\n")).collect::<String>()
    );
}

/// Exactly the violations expected? Returns the one at `path` with `rule`.
#[track_caller]
fn assert_violation(frame: &Value, path: &str, rule: &str) -> Violation {
    let v = violations(frame);
    v.iter()
        .find(|v| v.instance_path == path && v.rule == rule)
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "expected a `{rule}` violation at `{path}`, got:\n{}",
                v.iter().map(|v| format!("  {v}\n")).collect::<String>()
            )
        })
}

fn lease() -> Value {
    json!({
        "fs.read": ["/workspace/myapp/**"],
        "fs.write": ["/workspace/myapp/src/**"],
        "cost.budget": ["USD:5.00"],
        "model.use": ["tier-fast/*"]
    })
}

fn features() -> Value {
    json!([
        "heartbeat",
        "ack",
        "list_jobs",
        "subscribe",
        "lease_expires_at",
        "cost.budget",
        "model.use",
        "provisioned_credentials",
        "progress",
        "result_chunk",
        "agent_versions"
    ])
}

fn credential() -> Value {
    json!({
        "id": "cred_01J",
        "scheme": "bearer",
        "value": "sk-virt-abc",
        "endpoint": "https://gateway.example.com/v1",
        "profile": "openai",
        "constraints": {
            "cost.budget": ["USD:5.00"],
            "model.use": ["tier-fast/*"],
            "expires_at": "2026-05-13T23:42:00Z"
        }
    })
}

fn accepted() -> Value {
    frame(
        "job.accepted",
        json!({
            "job_id": "job_01JABC",
            "lease": lease(),
            "lease_constraints": { "expires_at": "2026-05-13T23:42:00Z" },
            "budget": { "USD": 5.0 },
            "credentials": [credential()],
            "accepted_at": "2026-05-13T19:30:00Z",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"
        }),
    )
}

mod examples;
mod rules;
