//! Every schema compiles and accepts the spec's own example of every message type and event kind.

use super::*;

/// One valid example per message type, from the spec's examples (§6–§8,
/// §13 sequences).
pub(super) fn valid_messages() -> Vec<(MessageType, Value)> {
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
