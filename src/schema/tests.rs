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

/// One valid example per message type, from the spec's examples (§6–§8,
/// §13 sequences).
fn valid_messages() -> Vec<(MessageType, Value)> {
    use MessageType::*;
    vec![
        (
            SessionHello,
            json!({
                "arcp": "1.1",
                "id": "01J0",
                "type": "session.hello",
                "payload": {
                    "client": { "name": "examplectl", "version": "0.4.1" },
                    "auth": { "scheme": "bearer", "token": "secret" },
                    "capabilities": { "encodings": ["json"], "features": features() }
                }
            }),
        ),
        (
            SessionWelcome,
            frame(
                "session.welcome",
                json!({
                    "runtime": { "name": "example-runtime", "version": "1.1.0" },
                    "resume_token": "rt_4f8c",
                    "resume_window_sec": 600,
                    "heartbeat_interval_sec": 30,
                    "capabilities": {
                        "encodings": ["json"],
                        "features": features(),
                        "agents": [
                            { "name": "code-refactor", "versions": ["1.0.0", "2.0.0"], "default": "2.0.0" },
                            { "name": "test-runner", "versions": ["1.0.0"], "default": "1.0.0" },
                            { "name": "report-builder", "versions": ["0.9.0"], "default": "0.9.0" }
                        ]
                    }
                }),
            ),
        ),
        (
            SessionError,
            frame(
                "session.error",
                json!({
                    "code": "AGENT_VERSION_NOT_AVAILABLE",
                    "message": "code-refactor@3.0.0 not registered",
                    "retryable": false
                }),
            ),
        ),
        (
            SessionPing,
            frame(
                "session.ping",
                json!({ "nonce": "p_01J", "sent_at": "2026-05-13T19:42:13.000Z" }),
            ),
        ),
        (
            SessionPong,
            frame(
                "session.pong",
                json!({ "ping_nonce": "p_01J", "received_at": "2026-05-13T19:42:13.020Z" }),
            ),
        ),
        (
            SessionAck,
            frame("session.ack", json!({ "last_processed_seq": 1827 })),
        ),
        (
            SessionListJobs,
            frame(
                "session.list_jobs",
                json!({
                    "filter": {
                        "status": ["running", "pending"],
                        "agent": "code-refactor",
                        "created_after": "2026-05-13T00:00:00Z"
                    },
                    "limit": 100,
                    "cursor": null
                }),
            ),
        ),
        (
            SessionJobs,
            frame(
                "session.jobs",
                json!({
                    "request_id": "01J0",
                    "jobs": [{
                        "job_id": "job_01JABC",
                        "agent": "code-refactor@2.0.0",
                        "status": "running",
                        "lease": lease(),
                        "parent_job_id": null,
                        "created_at": "2026-05-13T19:30:00Z",
                        "trace_id": "4bf92f",
                        "last_event_seq": 1822
                    }],
                    "next_cursor": null
                }),
            ),
        ),
        (
            SessionResume,
            frame(
                "session.resume",
                json!({ "last_event_seq": 1822, "resume_token": "rt_4f8c" }),
            ),
        ),
        (
            SessionClose,
            frame("session.close", json!({ "reason": "done" })),
        ),
        (SessionClosed, frame("session.closed", json!({}))),
        (
            JobSubmit,
            json!({
                "arcp": "1.1",
                "id": "01J1",
                "type": "job.submit",
                "session_id": "sess_01J",
                "trace_id": "4bf92f",
                "payload": {
                    "agent": "code-refactor@2.0.0",
                    "input": { "repo": "myapp" },
                    "lease_request": lease(),
                    "lease_constraints": { "expires_at": "2026-05-13T23:42:00Z" },
                    "idempotency_key": "refactor-auth-2026-W19",
                    "max_runtime_sec": 1800
                }
            }),
        ),
        (JobAccepted, accepted()),
        (
            JobEvent,
            event(
                "progress",
                json!({
                    "current": 47,
                    "total": 120,
                    "units": "files",
                    "message": "Refactoring src/auth/middleware.ts"
                }),
            ),
        ),
        (
            JobResult,
            seq_frame(
                "job.result",
                4827,
                json!({
                    "final_status": "success",
                    "result_id": "res_01J",
                    "result_size": 31_457_280,
                    "summary": "Generated report in 137 chunks."
                }),
            ),
        ),
        (
            JobError,
            seq_frame(
                "job.error",
                12,
                json!({
                    "final_status": "error",
                    "code": "LEASE_EXPIRED",
                    "message": "Lease expired during execution",
                    "retryable": false
                }),
            ),
        ),
        (
            JobCancel,
            frame("job.cancel", json!({ "job_id": "job_01JABC" })),
        ),
        (
            JobCancelled,
            frame("job.cancelled", json!({ "job_id": "job_01JABC" })),
        ),
        (
            JobSubscribe,
            frame(
                "job.subscribe",
                json!({ "job_id": "job_01JABC", "from_event_seq": 0, "history": true }),
            ),
        ),
        (
            JobSubscribed,
            frame(
                "job.subscribed",
                json!({
                    "job_id": "job_01JABC",
                    "current_status": "running",
                    "agent": "code-refactor@2.0.0",
                    "lease": lease(),
                    "lease_constraints": { "expires_at": "2026-05-13T23:42:00Z" },
                    "budget": { "USD": 3.58 },
                    "parent_job_id": null,
                    "trace_id": "4bf92f",
                    "subscribed_from": 1830,
                    "replayed": false
                }),
            ),
        ),
        (
            JobUnsubscribe,
            frame("job.unsubscribe", json!({ "job_id": "job_01JABC" })),
        ),
    ]
}

/// One valid body per event kind (§8.2, §8.2.1, §8.4, §9.6, §13).
fn valid_events() -> Vec<(EventKind, Value)> {
    use EventKind::*;
    vec![
        (Log, json!({ "level": "info", "message": "starting" })),
        (
            Thought,
            json!({ "text": "the middleware needs a refactor" }),
        ),
        (
            ToolCall,
            json!({ "tool": "search.web", "args": { "q": "arcp" }, "call_id": "c1" }),
        ),
        (
            ToolResult,
            json!({ "call_id": "c1", "result": { "hits": 3 } }),
        ),
        (
            ToolResult,
            json!({
                "call_id": "c3",
                "error": {
                    "code": "BUDGET_EXHAUSTED",
                    "message": "USD budget exhausted",
                    "retryable": false
                }
            }),
        ),
        (
            Status,
            json!({ "phase": "back_pressure", "message": "consumer lag 270 events" }),
        ),
        (
            Status,
            json!({ "phase": "credential_rotated", "id": "cred_01J", "value": "sk-virt-new" }),
        ),
        (
            Metric,
            json!({ "name": "cost.inference", "value": 0.0234, "unit": "USD" }),
        ),
        (
            Metric,
            json!({ "name": "cost.budget.remaining", "value": -0.12, "unit": "USD" }),
        ),
        (
            ArtifactRef,
            json!({
                "uri": "file:///workspace/out/report.pdf",
                "content_type": "application/pdf",
                "byte_size": 1024,
                "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            }),
        ),
        (
            Delegate,
            json!({
                "agent": "test-runner@1.0.0",
                "lease": { "fs.read": ["/workspace/myapp/src/**"], "cost.budget": ["USD:2.00"] },
                "lease_constraints": { "expires_at": "2026-05-13T22:00:00Z" }
            }),
        ),
        (
            Progress,
            json!({ "current": 42000, "total": 100000, "units": "files" }),
        ),
        (Progress, json!({ "current": 0.5 })),
        (
            ResultChunk,
            json!({
                "result_id": "res_01J",
                "chunk_seq": 0,
                "data": "first 1 MB",
                "encoding": "utf8",
                "more": true
            }),
        ),
        (
            ResultChunk,
            json!({
                "result_id": "res_01J",
                "chunk_seq": 30,
                "data": "aGVsbG8gd29ybGQ=",
                "encoding": "base64",
                "more": false
            }),
        ),
    ]
}

#[test]
fn every_schema_file_compiles_and_is_embedded() {
    let s = Schemas::new().expect("schemas compile");
    for name in schema_names() {
        assert!(s.validators.contains_key(name), "{name} not compiled");
        let v: Value = serde_json::from_str(schema_text(name).unwrap()).unwrap();
        assert_eq!(
            v["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name} $schema"
        );
        assert_eq!(v["$id"], format!("{BASE_URI}{name}"), "{name} $id");
        // `compile` skips this check to save memory; do it here.
        if let Err(e) = jsonschema::meta::validate(&v) {
            panic!("{name} breaks the draft 2020-12 meta-schema: {e}");
        }
    }
    // Every file in schemas/ is embedded.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for dir in [root.clone(), root.join("event")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let rel = path.strip_prefix(&root).unwrap().to_str().unwrap();
                assert!(schema_text(rel).is_some(), "{rel} is not embedded");
            }
        }
    }
}

#[test]
fn every_message_type_and_event_kind_has_a_schema() {
    for t in MessageType::ALL {
        let name = schema_for_type(t.as_str());
        assert_eq!(name, Some(format!("{}.json", t.as_str())).as_deref(), "{t}");
    }
    for k in EventKind::ALL {
        let name = schema_for_event_kind(k.as_str());
        assert_eq!(
            name,
            Some(format!("event/{}.json", k.as_str())).as_deref(),
            "{k}"
        );
    }
    // And every message schema is for a message type.
    for name in schema_names() {
        if name != ENVELOPE && name != "defs.json" && !name.starts_with("event/") {
            let t = name.strip_suffix(".json").unwrap();
            assert!(
                MessageType::parse(t).is_some(),
                "{name} names no message type"
            );
        }
    }
}

#[test]
fn valid_example_of_every_message_type() {
    let examples = valid_messages();
    for t in MessageType::ALL {
        assert!(
            examples.iter().any(|(k, _)| k == t),
            "no valid example of {t}"
        );
    }
    for (_, f) in &examples {
        assert_valid(f);
    }
}

#[test]
fn valid_example_of_every_event_kind() {
    let examples = valid_events();
    for k in EventKind::ALL {
        assert!(
            examples.iter().any(|(e, _)| e == k),
            "no valid example of {k}"
        );
    }
    for (kind, body) in &examples {
        assert_valid(&event(kind.as_str(), body.clone()));
        let alone = schemas()
            .validate_as(schema_for_event_kind(kind.as_str()).unwrap(), body)
            .unwrap();
        assert!(alone.is_empty(), "{kind}: {alone:?}");
    }
}

#[test]
fn retryable_must_be_boolean() {
    let f = frame(
        "session.error",
        json!({ "code": "INVALID_REQUEST", "message": "bad", "retryable": "yes" }),
    );
    let v = assert_violation(&f, "/payload/retryable", "type");
    assert_eq!(v.schema, "session.error.json");
    assert_eq!(v.message, r#""yes" is not of type "boolean""#);
    assert!(
        v.schema_path.ends_with("/properties/retryable/type"),
        "{}",
        v.schema_path
    );
    // The path is within session.error.json, not through the root `$ref`.
    assert!(v.schema_path.starts_with("/allOf/1/"), "{}", v.schema_path);
    assert_eq!(
        v.to_string(),
        format!(
            r#"at /payload/retryable: "yes" is not of type "boolean" (rule: type, schema session.error.json#{})"#,
            v.schema_path
        )
    );
    assert_eq!(violations(&f).len(), 1);
}

#[test]
fn error_payloads() {
    let err = |payload: Value| seq_frame("job.error", 3, payload);
    // Unknown code.
    assert_violation(
        &err(
            json!({ "code": "OOPS", "message": "x", "retryable": false, "final_status": "error" }),
        ),
        "/payload/code",
        "enum",
    );
    // retryable missing.
    assert_violation(
        &err(json!({ "code": "TIMEOUT", "message": "x", "final_status": "timed_out" })),
        "/payload",
        "required",
    );
    // final_status missing / unknown.
    assert_violation(
        &err(json!({ "code": "TIMEOUT", "retryable": true })),
        "/payload",
        "required",
    );
    assert_violation(
        &err(json!({ "code": "TIMEOUT", "retryable": true, "final_status": "failed" })),
        "/payload/final_status",
        "enum",
    );
    // §12: LEASE_EXPIRED / BUDGET_EXHAUSTED are never retryable; INTERNAL_ERROR always.
    assert_violation(
        &err(json!({ "code": "BUDGET_EXHAUSTED", "retryable": true, "final_status": "error" })),
        "/payload/retryable",
        "const",
    );
    assert_violation(
        &frame(
            "session.error",
            json!({ "code": "INTERNAL_ERROR", "retryable": false }),
        ),
        "/payload/retryable",
        "const",
    );
    // §7.3, §7.4: how codes end.
    assert_violation(
        &err(json!({ "code": "LEASE_EXPIRED", "retryable": false, "final_status": "cancelled" })),
        "/payload/final_status",
        "const",
    );
    assert_violation(
        &err(json!({ "code": "CANCELLED", "retryable": false, "final_status": "error" })),
        "/payload/final_status",
        "const",
    );
    assert_valid(&err(
        json!({ "code": "CANCELLED", "message": "cancelled by client", "retryable": false, "final_status": "cancelled" }),
    ));
    // job.error is sequenced.
    let mut f = err(json!({ "code": "TIMEOUT", "retryable": true, "final_status": "timed_out" }));
    f.as_object_mut().unwrap().remove("event_seq");
    assert_violation(&f, "", "required");
    // A tool_result error is not limited to §12 codes, but keeps the retryable rules.
    assert_valid(&event(
        "tool_result",
        json!({ "call_id": "c9", "error": { "code": "TOOL_CRASHED", "message": "boom" } }),
    ));
    assert_violation(
        &event(
            "tool_result",
            json!({ "call_id": "c9", "error": { "code": "LEASE_EXPIRED", "retryable": true } }),
        ),
        "/payload/body/error/retryable",
        "const",
    );
}

#[test]
fn result_chunk_fields_are_required() {
    let f = event(
        "result_chunk",
        json!({ "result_id": "res_1", "chunk_seq": 0, "data": "x", "encoding": "utf8" }),
    );
    let v = assert_violation(&f, "/payload/body", "required");
    assert!(v.message.contains("\"more\""), "{v}");
    assert_eq!(violations(&f).len(), 1);
    assert_violation(
        &event(
            "result_chunk",
            json!({ "result_id": "r", "chunk_seq": 0, "data": "x", "encoding": "hex", "more": false }),
        ),
        "/payload/body/encoding",
        "enum",
    );
    assert_violation(
        &event(
            "result_chunk",
            json!({ "result_id": "r", "chunk_seq": -1, "data": "x", "encoding": "utf8", "more": false }),
        ),
        "/payload/body/chunk_seq",
        "minimum",
    );
    assert_violation(
        &event(
            "result_chunk",
            json!({ "result_id": "r", "chunk_seq": 1, "data": "not base64!", "encoding": "base64", "more": true }),
        ),
        "/payload/body/data",
        "pattern",
    );
}

#[test]
fn progress_current_is_non_negative() {
    let v = assert_violation(
        &event("progress", json!({ "current": -1, "total": 10 })),
        "/payload/body/current",
        "minimum",
    );
    assert!(
        v.schema_path.ends_with("/properties/current/minimum"),
        "{}",
        v.schema_path
    );
    assert_violation(
        &event("progress", json!({ "current": "47" })),
        "/payload/body/current",
        "type",
    );
    assert_violation(
        &event("progress", json!({ "total": 3 })),
        "/payload/body",
        "required",
    );
}

#[test]
fn event_bodies() {
    assert_violation(
        &event("log", json!({ "level": "info" })),
        "/payload/body",
        "required",
    );
    assert_violation(
        &event("tool_call", json!({ "tool": "x", "call_id": "c1" })),
        "/payload/body",
        "required",
    );
    // result | error: exactly one.
    assert_violation(
        &event("tool_result", json!({ "call_id": "c1" })),
        "/payload/body",
        "oneOf",
    );
    assert_violation(
        &event(
            "tool_result",
            json!({ "call_id": "c1", "result": 1, "error": { "code": "PERMISSION_DENIED" } }),
        ),
        "/payload/body",
        "oneOf",
    );
    assert_violation(
        &event("metric", json!({ "name": "cost.x", "value": "0.1" })),
        "/payload/body/value",
        "type",
    );
    // §9.8.2: a rotation carries id and value.
    assert_violation(
        &event(
            "status",
            json!({ "phase": "credential_rotated", "id": "cred_1" }),
        ),
        "/payload/body",
        "required",
    );
    // A body that is not an object is reported once.
    let f = event("log", json!("hello"));
    assert_violation(&f, "/payload/body", "type");
    assert_eq!(violations(&f).len(), 1, "{:?}", violations(&f));
    // kind and body are required.
    assert_violation(
        &seq_frame("job.event", 1, json!({ "body": {} })),
        "/payload",
        "required",
    );
}

#[test]
fn unknown_event_kind_is_allowed() {
    assert_valid(&event(
        "x-vendor.heartbeat_stats",
        json!({ "anything": [1, 2, 3] }),
    ));
    assert_valid(&event("custom", json!({})));
}

#[test]
fn credentials_need_id_scheme_value_endpoint() {
    let mut f = accepted();
    f["payload"]["credentials"][0]
        .as_object_mut()
        .unwrap()
        .remove("value");
    let v = assert_violation(&f, "/payload/credentials/0", "required");
    assert!(v.message.contains("\"value\""), "{v}");
    assert_eq!(violations(&f).len(), 1);
    // Unknown schemes are allowed (§9.8.1).
    let mut f = accepted();
    f["payload"]["credentials"][0]["scheme"] = json!("signed_url");
    assert_valid(&f);
}

#[test]
fn expires_at_must_be_utc_z() {
    for bad in ["2026-05-13T23:42:00+01:00", "2026-05-13T23:42:00+00:00"] {
        let mut f = accepted();
        f["payload"]["lease_constraints"]["expires_at"] = json!(bad);
        assert_violation(&f, "/payload/lease_constraints/expires_at", "pattern");
    }
    let mut f = accepted();
    f["payload"]["lease_constraints"]["expires_at"] = json!("tomorrowZ");
    assert_violation(&f, "/payload/lease_constraints/expires_at", "format");
    let mut f = accepted();
    f["payload"]["lease_constraints"]["expires_at"] = json!("2026-05-13T23:42:00.500Z");
    assert_valid(&f);
}

#[test]
fn leases_and_agents() {
    let mut f = accepted();
    f["payload"]["lease"]["cost.budget"] = json!(["USD5"]);
    assert_violation(&f, "/payload/lease/cost.budget/0", "pattern");
    let mut f = accepted();
    f["payload"]["lease"]["fs.read"] = json!("/workspace/**");
    assert_violation(&f, "/payload/lease/fs.read", "type");
    let mut f = accepted();
    f["payload"]["budget"]["USD"] = json!("5.00");
    assert_violation(&f, "/payload/budget/USD", "type");
    // Namespaces beyond the reserved ones are allowed.
    let mut f = accepted();
    f["payload"]["lease"]["x.custom"] = json!(["a"]);
    assert_valid(&f);
    // §7.5 agent grammar.
    let submit = |agent: &str| frame("job.submit", json!({ "agent": agent }));
    assert_valid(&submit("code-refactor"));
    assert_valid(&submit("code-refactor@2.0.0-rc.1+build_5"));
    assert_violation(&submit("Code-Refactor"), "/payload/agent", "pattern");
    assert_violation(&submit("code-refactor@"), "/payload/agent", "pattern");
    assert_violation(&frame("job.submit", json!({})), "/payload", "required");
}

#[test]
fn subscription_and_listing() {
    assert_violation(
        &frame("job.subscribe", json!({ "history": true })),
        "/payload",
        "required",
    );
    assert_violation(
        &frame("job.subscribe", json!({ "job_id": "j", "history": "yes" })),
        "/payload/history",
        "type",
    );
    // No next_cursor: no next page (the spec's example shows null; absence is not an error).
    assert_valid(&frame(
        "session.jobs",
        json!({ "request_id": "r", "jobs": [] }),
    ));
    assert_violation(
        &frame("session.jobs", json!({ "jobs": [] })),
        "/payload",
        "required",
    );
    assert_violation(
        &frame(
            "session.jobs",
            json!({ "request_id": "r", "jobs": [{}], "next_cursor": null }),
        ),
        "/payload/jobs/0",
        "required",
    );
    assert_violation(
        &frame("session.ack", json!({ "last_processed_seq": -3 })),
        "/payload/last_processed_seq",
        "minimum",
    );
    assert_violation(
        &frame("session.resume", json!({ "last_event_seq": 4 })),
        "/payload",
        "required",
    );
}

#[test]
fn cancel_names_the_job_in_payload_or_envelope() {
    let mut f = frame("job.cancel", json!({}));
    let v = assert_violation(&f, "", "anyOf");
    assert!(
        v.message
            .ends_with("matches none of the `anyOf` alternatives"),
        "{v}"
    );
    assert!(v.message.len() < 120, "{v}");
    f["job_id"] = json!("job_01JABC");
    assert_valid(&f);
    assert_violation(&frame("job.cancelled", json!({})), "", "anyOf");
}

#[test]
fn welcome_needs_session_id_and_resume_token() {
    let mut f = frame("session.welcome", json!({ "resume_token": "rt_1" }));
    assert_valid(&f);
    f.as_object_mut().unwrap().remove("session_id");
    assert_violation(&f, "", "required");
    assert_violation(&frame("session.welcome", json!({})), "/payload", "required");
}

#[test]
fn envelope_rules() {
    // Unknown top-level fields are ignored (§5).
    let mut f = accepted();
    f["x_future_field"] = json!({ "anything": true });
    assert_valid(&f);
    // Unknown payload fields too.
    let mut f = accepted();
    f["payload"]["x_extra"] = json!(1);
    assert_valid(&f);
    // Required envelope fields and their types.
    let mut f = accepted();
    f.as_object_mut().unwrap().remove("id");
    let v = assert_violation(&f, "", "required");
    assert_eq!(v.to_string().split(':').next(), Some("at (root)"));
    assert_violation(&json!([1, 2]), "", "type");
    let mut f = event("log", json!({ "level": "info", "message": "m" }));
    f["event_seq"] = json!(-1);
    assert_violation(&f, "/event_seq", "minimum");
    f["event_seq"] = json!("7");
    assert_violation(&f, "/event_seq", "type");
    let mut f = accepted();
    f["payload"] = json!([]);
    assert_violation(&f, "/payload", "type");
}

#[test]
fn unknown_type_checks_the_envelope_only() {
    let f = json!({
        "arcp": "1.1",
        "id": "01J",
        "type": "session.x_vendor",
        "payload": { "retryable": "whatever" }
    });
    assert!(violations(&f).is_empty());
    let f = json!({ "arcp": "1.1", "type": "defs", "payload": {} });
    let v = violations(&f);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].schema, ENVELOPE);
    assert_eq!(v[0].rule, "required");
}

#[test]
fn validate_as_unknown_name_is_none() {
    assert!(schemas().validate_as("nope.json", &json!({})).is_none());
    assert!(schemas().is_valid(&valid_messages()[0].1));
}
