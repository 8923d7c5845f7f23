//! Each schema rule refuses what it should, and says where.

use super::*;

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
    assert!(schemas().is_valid(&super::examples::valid_messages()[0].1));
}
