//! The reference runtime's behaviour, feature by feature, driven by the
//! reference client over the in-memory transport.

use arcp_conform::client::{assemble_result, Client, ClientError, ClientOptions};
use arcp_conform::clock::ScaledClock;
use arcp_conform::runtime::{Fault, Faults, Runtime, RuntimeConfig, TOKEN_ALICE_2, TOKEN_BOB};
use arcp_conform::wire::{Envelope, MessageType};
use serde_json::{json, Value};
use std::time::Duration;

const CAP: usize = 1 << 20;

fn runtime() -> Runtime {
    runtime_with(|_| {})
}

fn runtime_with(f: impl FnOnce(&mut RuntimeConfig)) -> Runtime {
    let mut cfg = RuntimeConfig {
        clock: ScaledClock::shared(50.0),
        ..RuntimeConfig::default()
    };
    f(&mut cfg);
    Runtime::new(cfg)
}

async fn client(rt: &Runtime) -> Client {
    client_as(rt, ClientOptions::default()).await
}

async fn client_as(rt: &Runtime, opts: ClientOptions) -> Client {
    Client::connect(rt.connect_memory(CAP), opts)
        .await
        .expect("handshake")
}

fn opts(token: &str) -> ClientOptions {
    ClientOptions {
        token: token.into(),
        ..ClientOptions::default()
    }
}

fn steps(s: Value) -> Value {
    json!({"agent": "conformance", "input": {"steps": s}})
}

fn code(e: ClientError) -> String {
    match e {
        ClientError::Remote(p) => p.code,
        other => panic!("expected a remote error, got {other}"),
    }
}

fn kinds(events: &[Envelope]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e.payload
                .get("kind")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| e.kind.clone())
        })
        .collect()
}

#[tokio::test]
async fn handshake_intersects_features_and_rejects_bad_tokens() {
    let rt = runtime();
    let c = client_as(
        &rt,
        ClientOptions {
            features: vec!["heartbeat".into(), "ack".into(), "made-up".into()],
            ..ClientOptions::default()
        },
    )
    .await;
    assert!(c.session_id.starts_with("sess_"));
    assert!(!c.resume_token.is_empty());
    assert_eq!(c.features, vec!["heartbeat", "ack"]);
    assert_eq!(
        c.welcome["capabilities"]["features"],
        json!(["heartbeat", "ack"])
    );
    assert_eq!(
        c.welcome["capabilities"]["agents"][0]["default"],
        json!("2.0.0")
    );

    let err = Client::connect(rt.connect_memory(CAP), opts("nope"))
        .await
        .err()
        .unwrap();
    assert_eq!(code(err), "UNAUTHENTICATED");
}

#[tokio::test]
async fn echo_job_runs_to_success_with_trace_id() {
    let rt = runtime();
    let mut c = client(&rt).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let env = Envelope::new("job.submit", json!({"agent": "echo", "input": {"x": 1}}))
        .trace(Some(trace.into()));
    let acc = c
        .request(env, MessageType::JobAccepted)
        .await
        .unwrap()
        .payload;
    assert_eq!(acc["agent"], "echo@1.0.0");
    assert_eq!(acc["trace_id"], trace);
    let job = acc["job_id"].as_str().unwrap().to_string();
    let events = c.wait_job(&job).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.kind, "job.result");
    assert_eq!(last.payload["result"], json!({"x": 1}));
    assert_eq!(last.trace_id.as_deref(), Some(trace));
    assert_eq!(last.event_seq, Some(1));
}

#[tokio::test]
async fn events_are_sequenced_and_kinds_emitted() {
    let rt = runtime();
    let mut c = client(&rt).await;
    let acc = c
        .submit(steps(json!([
            {"op": "log", "message": "hi"},
            {"op": "event", "kind": "thought", "body": {"text": "hmm"}},
            {"op": "progress", "current": 1, "total": 2},
            {"op": "event", "kind": "artifact_ref", "body": {"uri": "file:///a", "content_type": "text/plain"}},
            {"op": "event", "kind": "status", "body": {"phase": "working"}},
            {"op": "finish", "result": "done"}
        ])))
        .await
        .unwrap();
    let events = c.wait_job(acc["job_id"].as_str().unwrap()).await.unwrap();
    assert_eq!(
        kinds(&events),
        [
            "log",
            "thought",
            "progress",
            "artifact_ref",
            "status",
            "job.result"
        ]
    );
    let seqs: Vec<u64> = events.iter().map(|e| e.event_seq.unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn negative_progress_is_not_emitted() {
    let rt = runtime();
    let mut c = client(&rt).await;
    let acc = c
        .submit(steps(json!([{"op": "progress", "current": -1}])))
        .await
        .unwrap();
    let events = c.wait_job(acc["job_id"].as_str().unwrap()).await.unwrap();
    assert!(!kinds(&events).contains(&"progress".to_string()));
}

#[tokio::test]
async fn idempotency_and_duplicate_key() {
    let rt = runtime();
    let mut c = client(&rt).await;
    let p = json!({"agent": "echo", "input": 1, "idempotency_key": "k1"});
    let a = c.submit(p.clone()).await.unwrap();
    let b = c.submit(p).await.unwrap();
    assert_eq!(a, b);
    let err = c
        .submit(json!({"agent": "echo", "input": 2, "idempotency_key": "k1"}))
        .await
        .unwrap_err();
    assert_eq!(code(err), "DUPLICATE_KEY");
}

#[tokio::test]
async fn agent_versions() {
    let rt = runtime();
    let mut c = client(&rt).await;
    let a = c
        .submit(json!({"agent": "conformance@1.0.0", "input": {}}))
        .await
        .unwrap();
    assert_eq!(a["agent"], "conformance@1.0.0");
    let a = c
        .submit(json!({"agent": "conformance", "input": {}}))
        .await
        .unwrap();
    assert_eq!(a["agent"], "conformance@2.0.0");
    let e = c
        .submit(json!({"agent": "conformance@3.0.0"}))
        .await
        .unwrap_err();
    assert_eq!(code(e), "AGENT_VERSION_NOT_AVAILABLE");
    let e = c.submit(json!({"agent": "nobody"})).await.unwrap_err();
    assert_eq!(code(e), "AGENT_NOT_AVAILABLE");
}

#[tokio::test]
async fn cancel_only_by_submitter() {
    let rt = runtime();
    let mut a = client(&rt).await;
    let mut b = client_as(&rt, opts(TOKEN_ALICE_2)).await;
    let acc = a.submit(steps(json!([{"op": "wait"}]))).await.unwrap();
    let job = acc["job_id"].as_str().unwrap().to_string();
    b.subscribe(&job, false, None).await.unwrap();
    assert_eq!(code(b.cancel(&job).await.unwrap_err()), "PERMISSION_DENIED");
    a.cancel(&job).await.unwrap();
    let events = a.wait_job(&job).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.payload["code"], "CANCELLED");
    assert_eq!(last.payload["final_status"], "cancelled");
    assert_eq!(rt.job_status(&job).as_deref(), Some("cancelled"));
}

#[tokio::test]
async fn timeout_ends_job_timed_out() {
    let rt = runtime();
    let mut c = client(&rt).await;
    let mut p = steps(json!([{"op": "wait"}]));
    p["max_runtime_sec"] = json!(1);
    let acc = c.submit(p).await.unwrap();
    let events = c.wait_job(acc["job_id"].as_str().unwrap()).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.payload["code"], "TIMEOUT");
    assert_eq!(last.payload["final_status"], "timed_out");
}

#[tokio::test]
async fn lease_enforcement_budget_and_models() {
    let rt = runtime();
    let mut c = client(&rt).await;
    let acc = c
        .submit(json!({"agent": "conformance", "lease_request": {
        "tool.call": ["search.*"], "cost.budget": ["USD:1.00"], "model.use": ["tier-fast/*"]},
        "input": {"steps": [
            {"op": "tool", "tool": "search.web"},
            {"op": "tool", "tool": "shell.exec"},
            {"op": "model", "model": "tier-slow/big"},
            {"op": "cost", "value": 0.42, "unit": "USD"},
            {"op": "cost", "value": -5, "unit": "USD"},
            {"op": "cost", "value": 0.70, "unit": "USD"},
            {"op": "tool", "tool": "search.web"}
        ]}}))
        .await
        .unwrap();
    assert_eq!(acc["budget"], json!({"USD": 1.0}));
    let events = c.wait_job(acc["job_id"].as_str().unwrap()).await.unwrap();
    let errors: Vec<&Value> = events
        .iter()
        .filter_map(|e| e.payload.pointer("/body/error/code"))
        .collect();
    assert_eq!(
        errors,
        ["PERMISSION_DENIED", "PERMISSION_DENIED", "BUDGET_EXHAUSTED"]
    );
    let remaining: Vec<f64> = events
        .iter()
        .filter(|e| e.payload.pointer("/body/name") == Some(&json!("cost.budget.remaining")))
        .map(|e| e.payload["body"]["value"].as_f64().unwrap())
        .collect();
    assert_eq!(remaining.len(), 2);
    assert!((remaining[0] - 0.58).abs() < 1e-9 && (remaining[1] + 0.12).abs() < 1e-9);
    let exhausted = events
        .iter()
        .find(|e| e.payload.pointer("/body/error/code") == Some(&json!("BUDGET_EXHAUSTED")))
        .unwrap();
    assert_eq!(exhausted.payload["body"]["error"]["retryable"], false);
}

#[tokio::test]
async fn expires_at_validated_and_enforced() {
    let rt = runtime();
    let mut c = client(&rt).await;
    let past =
        json!({"agent": "echo", "lease_constraints": {"expires_at": "2000-01-01T00:00:00Z"}});
    assert_eq!(code(c.submit(past).await.unwrap_err()), "INVALID_REQUEST");
    let bad =
        json!({"agent": "echo", "lease_constraints": {"expires_at": "2099-01-01T00:00:00+01:00"}});
    assert_eq!(code(c.submit(bad).await.unwrap_err()), "INVALID_REQUEST");
    let soon =
        arcp_conform::clock::timestamp(rt.config().clock.now() + chrono::Duration::seconds(2));
    let acc = c
        .submit(json!({"agent": "conformance", "lease_request": {"tool.call": ["*"]},
            "lease_constraints": {"expires_at": soon},
            "input": {"steps": [{"op": "tool", "tool": "a"}, {"op": "sleep", "ms": 3000}, {"op": "tool", "tool": "a"}]}}))
        .await
        .unwrap();
    let events = c.wait_job(acc["job_id"].as_str().unwrap()).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.kind, "job.error");
    assert_eq!(last.payload["code"], "LEASE_EXPIRED");
    assert_eq!(last.payload["final_status"], "error");
    assert_eq!(last.payload["retryable"], false);
}

#[tokio::test]
async fn credentials_issued_redacted_and_revoked() {
    let rt = runtime();
    let mut a = client(&rt).await;
    let mut bob = client_as(&rt, opts(TOKEN_BOB)).await;
    let acc = a
        .submit(
            json!({"agent": "conformance", "lease_request": {"model.use": ["tier-fast/*"]},
            "input": {"steps": [{"op": "wait"}]}}),
        )
        .await
        .unwrap();
    let job = acc["job_id"].as_str().unwrap().to_string();
    let cred = &acc["credentials"][0];
    assert!(cred["value"].as_str().unwrap().starts_with("sk-virt-"));
    assert_eq!(
        rt.outstanding_credentials(),
        vec![cred["id"].as_str().unwrap().to_string()]
    );
    assert_eq!(
        code(bob.subscribe(&job, true, None).await.unwrap_err()),
        "PERMISSION_DENIED"
    );
    let listed = bob.list_jobs(json!({})).await.unwrap();
    assert_eq!(listed["jobs"], json!([]));
    let mine = a.list_jobs(json!({})).await.unwrap();
    assert_eq!(mine["jobs"][0]["credentials"][0]["value"], cred["value"]);
    a.cancel(&job).await.unwrap();
    a.wait_job(&job).await.unwrap();
    assert!(rt.outstanding_credentials().is_empty());
    assert_eq!(rt.revoked_credentials().len(), 1);
}

#[tokio::test]
async fn cross_principal_observer_never_sees_credentials() {
    let rt = runtime_with(|c| c.cross_principal_observe = true);
    let mut a = client(&rt).await;
    let mut bob = client_as(&rt, opts(TOKEN_BOB)).await;
    let acc = a
        .submit(json!({"agent": "conformance", "lease_request": {"model.use": ["tier-fast/*"]},
            "input": {"steps": [{"op": "sleep", "ms": 500}, {"op": "rotate_credential"}, {"op": "finish"}]}}))
        .await
        .unwrap();
    let job = acc["job_id"].as_str().unwrap().to_string();
    let sub = bob.subscribe(&job, true, Some(0)).await.unwrap();
    assert!(sub.get("credentials").is_none());
    let listed = bob.list_jobs(json!({})).await.unwrap();
    assert!(listed["jobs"][0].get("credentials").is_none());
    let events = bob.wait_job(&job).await.unwrap();
    let rotated = events
        .iter()
        .find(|e| e.payload.pointer("/body/phase") == Some(&json!("credential_rotated")))
        .unwrap();
    assert_eq!(rotated.payload["body"]["value"], "[REDACTED]");
    let mine = a.wait_job(&job).await.unwrap();
    let rotated = mine
        .iter()
        .find(|e| e.payload.pointer("/body/phase") == Some(&json!("credential_rotated")))
        .unwrap();
    assert!(rotated.payload["body"]["value"]
        .as_str()
        .unwrap()
        .starts_with("sk-virt-"));
}

#[tokio::test]
async fn subscribe_replays_history_with_session_seqs() {
    let rt = runtime();
    let mut a = client(&rt).await;
    let acc = a
        .submit(steps(json!([{"op": "log"}, {"op": "log"}, {"op": "sleep", "ms": 1000}, {"op": "log"}, {"op": "finish"}])))
        .await
        .unwrap();
    let job = acc["job_id"].as_str().unwrap().to_string();
    let mut b = client_as(&rt, opts(TOKEN_ALICE_2)).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let sub = b.subscribe(&job, true, Some(0)).await.unwrap();
    assert_eq!(sub["replayed"], true);
    assert_eq!(sub["agent"], "conformance@2.0.0");
    let events = b.wait_job(&job).await.unwrap();
    assert_eq!(kinds(&events), ["log", "log", "log", "job.result"]);
    assert_eq!(events[0].event_seq, Some(1));
    a.wait_job(&job).await.unwrap();
}

#[tokio::test]
async fn resume_rotates_token_and_replays() {
    let rt = runtime();
    let mut a = client(&rt).await;
    let acc = a
        .submit(steps(
            json!([{"op": "log"}, {"op": "sleep", "ms": 1000}, {"op": "log"}, {"op": "finish"}]),
        ))
        .await
        .unwrap();
    let job = acc["job_id"].as_str().unwrap().to_string();
    let first = a.next().await.unwrap();
    assert_eq!(first.event_seq, Some(1));
    let (sid, token) = (a.session_id.clone(), a.resume_token.clone());
    drop(a.into_conn());
    // Events emitted while disconnected are buffered.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let mut r = Client::resume(
        rt.connect_memory(CAP),
        ClientOptions::default(),
        &sid,
        &token,
        1,
    )
    .await
    .unwrap();
    assert_eq!(r.session_id, sid);
    assert_ne!(r.resume_token, token);
    let events = r.wait_job(&job).await.unwrap();
    assert_eq!(events[0].event_seq, Some(2));
    assert_eq!(events.last().unwrap().kind, "job.result");
    // The rotated-away token no longer works.
    let e = Client::resume(
        rt.connect_memory(CAP),
        ClientOptions::default(),
        &sid,
        &token,
        0,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(code(e), "UNAUTHENTICATED");
}

#[tokio::test]
async fn resume_window_expired_after_ack_and_window() {
    let rt = runtime_with(|c| c.resume_window = Duration::from_secs(1));
    let mut a = client(&rt).await;
    let acc = a
        .submit(steps(
            json!([{"op": "log"}, {"op": "log"}, {"op": "finish"}]),
        ))
        .await
        .unwrap();
    a.wait_job(acc["job_id"].as_str().unwrap()).await.unwrap();
    a.ack(3).await.unwrap();
    let (sid, token) = (a.session_id.clone(), a.resume_token.clone());
    drop(a.into_conn());
    tokio::time::sleep(Duration::from_millis(60)).await;
    let e = Client::resume(
        rt.connect_memory(CAP),
        ClientOptions::default(),
        &sid,
        &token,
        0,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(code(e), "RESUME_WINDOW_EXPIRED");
}

#[tokio::test]
async fn list_jobs_filters_and_cursors() {
    let rt = runtime_with(|c| c.list_page_max = 2);
    let mut c = client(&rt).await;
    for i in 0..3 {
        let acc = c
            .submit(json!({"agent": "echo", "input": i}))
            .await
            .unwrap();
        c.wait_job(acc["job_id"].as_str().unwrap()).await.unwrap();
    }
    c.submit(steps(json!([{"op": "wait"}]))).await.unwrap();
    let page1 = c.list_jobs(json!({"limit": 2})).await.unwrap();
    assert_eq!(page1["jobs"].as_array().unwrap().len(), 2);
    let cursor = page1["next_cursor"].clone();
    assert!(cursor.is_string());
    let page2 = c
        .list_jobs(json!({"limit": 2, "cursor": cursor}))
        .await
        .unwrap();
    assert_eq!(page2["jobs"].as_array().unwrap().len(), 2);
    assert!(page2["next_cursor"].is_null());
    let running = c
        .list_jobs(json!({"filter": {"status": ["running", "pending"]}}))
        .await
        .unwrap();
    assert_eq!(running["jobs"].as_array().unwrap().len(), 1);
    let echo = c
        .list_jobs(json!({"filter": {"agent": "echo"}}))
        .await
        .unwrap();
    assert_eq!(echo["jobs"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn result_chunks_in_order_and_referenced() {
    let rt = runtime();
    let mut c = client(&rt).await;
    let acc = c
        .submit(steps(json!([
            {"op": "result_chunks", "chunks": ["hello ", "wor"], "last": false},
            {"op": "result_chunks", "chunks": ["bGQ="], "encoding": "base64"},
            {"op": "finish", "result": "inline must be dropped"}
        ])))
        .await
        .unwrap();
    let events = c.wait_job(acc["job_id"].as_str().unwrap()).await.unwrap();
    let result = events.last().unwrap();
    let rid = result.payload["result_id"].as_str().unwrap();
    assert!(result.payload.get("result").is_none());
    assert_eq!(assemble_result(&events, rid).unwrap(), b"hello world");
    assert_eq!(result.payload["result_size"], 11);
}

#[tokio::test]
async fn delegation_subsets_and_propagates_trace() {
    let rt = runtime();
    let mut c = client(&rt).await;
    let acc = c
        .submit(json!({"agent": "conformance",
            "lease_request": {"agent.delegate": ["echo"], "fs.read": ["/data/**"], "cost.budget": ["USD:5.00"]},
            "input": {"steps": [
                {"op": "cost", "value": 3, "unit": "USD"},
                {"op": "delegate", "agent": "echo", "lease": {"fs.read": ["/etc/**"]}},
                {"op": "delegate", "agent": "echo", "lease": {"cost.budget": ["USD:2.50"]}},
                {"op": "delegate", "agent": "echo", "lease": {"fs.read": ["/data/x/**"], "cost.budget": ["USD:2.00"]}},
                {"op": "sleep", "ms": 200},
                {"op": "finish"}
            ]}}))
        .await
        .unwrap();
    let job = acc["job_id"].as_str().unwrap().to_string();
    let trace = acc["trace_id"].as_str().unwrap().to_string();
    let events = c.wait_job(&job).await.unwrap();
    let errors: Vec<&Value> = events
        .iter()
        .filter_map(|e| e.payload.pointer("/body/error/code"))
        .collect();
    assert_eq!(errors, ["LEASE_SUBSET_VIOLATION", "LEASE_SUBSET_VIOLATION"]);
    let delegate = events
        .iter()
        .find(|e| e.payload["kind"] == "delegate")
        .unwrap();
    assert_eq!(delegate.payload["body"]["trace_id"], json!(trace));
    let child = delegate.payload["body"]["child_job_id"].as_str().unwrap();
    let listed = c.list_jobs(json!({})).await.unwrap();
    let child_row = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == child)
        .unwrap();
    assert_eq!(child_row["parent_job_id"], json!(job));
    assert_eq!(child_row["trace_id"], json!(trace));
}

#[tokio::test]
async fn heartbeat_ping_pong_and_loss_keeps_jobs() {
    let rt = runtime_with(|c| c.heartbeat_interval = Duration::from_secs(2));
    let mut c = client(&rt).await;
    let pong = c.ping().await.unwrap();
    assert!(pong.get("ping_nonce").is_some());
    // Runtime pings an idle client; the client auto-pongs, so the session lives.
    let acc = c
        .submit(steps(
            json!([{"op": "sleep", "ms": 10000}, {"op": "finish"}]),
        ))
        .await
        .unwrap();
    let job = acc["job_id"].as_str().unwrap().to_string();
    let events = c.wait_job(&job).await.unwrap();
    assert_eq!(events.last().unwrap().kind, "job.result");

    // A silent peer is dropped with HEARTBEAT_LOST; its job keeps running.
    let mut raw = rt.connect_memory(CAP);
    let hello = json!({"arcp": "1.1", "id": "m1", "type": "session.hello", "payload": {
        "auth": {"scheme": "bearer", "token": "tok-alice"},
        "capabilities": {"features": ["heartbeat"]}}});
    raw.send(hello.to_string()).await.unwrap();
    let submit = json!({"arcp": "1.1", "id": "m2", "type": "job.submit", "payload":
        {"agent": "conformance", "input": {"steps": [{"op": "sleep", "ms": 8000}, {"op": "finish"}]}}});
    raw.send(submit.to_string()).await.unwrap();
    let mut saw_lost = false;
    let mut job = String::new();
    loop {
        match raw.recv(Duration::from_secs(2)).await.unwrap() {
            arcp_conform::transport::Inbound::Frame(t) => {
                let e = Envelope::decode(&t).unwrap();
                if e.kind == "job.accepted" {
                    job = e.job_id.clone().unwrap();
                }
                if e.payload.get("code") == Some(&json!("HEARTBEAT_LOST")) {
                    saw_lost = true;
                }
            }
            arcp_conform::transport::Inbound::Closed(_) => break,
            _ => {}
        }
    }
    assert!(saw_lost);
    assert_eq!(rt.job_status(&job).as_deref(), Some("pending"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rt.job_status(&job).as_deref(), Some("success"));
}

#[tokio::test]
async fn close_answers_closed_and_jobs_continue() {
    let rt = runtime();
    let mut c = client(&rt).await;
    let acc = c
        .submit(steps(json!([{"op": "sleep", "ms": 500}, {"op": "finish"}])))
        .await
        .unwrap();
    let job = acc["job_id"].as_str().unwrap().to_string();
    c.close().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(rt.job_status(&job).as_deref(), Some("success"));
}

#[tokio::test]
async fn malformed_input_gets_invalid_request_and_session_survives() {
    let rt = runtime();
    let c = client(&rt).await;
    let sid = c.session_id.clone();
    let mut conn = c.into_conn();
    for bad in [
        "{not json",
        "[]",
        r#"{"arcp":"1.1","id":"x","type":"bogus.type"}"#,
        r#"{"arcp":"1.1","id":"x","type":"job.submit","payload":{"agent":5}}"#,
    ] {
        conn.send(bad.into()).await.unwrap();
        let arcp_conform::transport::Inbound::Frame(t) =
            conn.recv(Duration::from_secs(2)).await.unwrap()
        else {
            panic!("expected a frame")
        };
        let e = Envelope::decode(&t).unwrap();
        assert_eq!(e.kind, "session.error", "{bad}");
        assert_eq!(e.payload["code"], "INVALID_REQUEST");
    }
    let ping = json!({"arcp": "1.1", "id": "p", "type": "session.ping", "session_id": sid, "payload": {"nonce": "n"}});
    conn.send(ping.to_string()).await.unwrap();
    let arcp_conform::transport::Inbound::Frame(t) =
        conn.recv(Duration::from_secs(2)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(Envelope::decode(&t).unwrap().kind, "session.pong");
}

#[tokio::test]
async fn unknown_envelope_fields_are_ignored() {
    let rt = runtime();
    let c = client(&rt).await;
    let sid = c.session_id.clone();
    let mut conn = c.into_conn();
    let ping = json!({"arcp": "1.1", "id": "p", "type": "session.ping", "session_id": sid, "x-future": {"a": 1}, "payload": {"nonce": "n"}});
    conn.send(ping.to_string()).await.unwrap();
    let arcp_conform::transport::Inbound::Frame(t) =
        conn.recv(Duration::from_secs(2)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(Envelope::decode(&t).unwrap().kind, "session.pong");
}

#[tokio::test]
async fn fault_skip_event_seq_is_visible_to_the_client() {
    let rt = runtime_with(|c| c.faults = Faults::none().with(Fault::SkipEventSeq));
    let mut c = client(&rt).await;
    let acc = c
        .submit(steps(json!([{"op": "log"}, {"op": "log"}, {"op": "log"}])))
        .await
        .unwrap();
    let err = c
        .wait_job(acc["job_id"].as_str().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("gap"), "{err}");
}
