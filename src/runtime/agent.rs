//! Agents hosted by the reference runtime.
//!
//! `echo` returns its input. `conformance` interprets a list of steps, so a
//! test can make a runtime do anything the spec lets an agent do; its input
//! format is specified in CONFORMANCE.md ("The conformance agent"), the
//! contract other SDKs implement to be fully testable.

use super::{Fault, Runtime};
use crate::wire::lease::{self, covers};
use crate::wire::{ErrorCode, EventKind, MessageType};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::watch;

pub const CONFORMANCE: &str = "conformance";
pub const ECHO: &str = "echo";

/// Longest a `wait` step blocks (protocol time) before finishing anyway.
const WAIT_LIMIT: Duration = Duration::from_secs(3600);

pub(crate) async fn run(
    rt: Runtime,
    job_id: String,
    agent: String,
    input: Value,
    mut cancel: watch::Receiver<bool>,
) {
    let work = async {
        match agent.as_str() {
            ECHO => {
                rt.emit(
                    &job_id,
                    MessageType::JobResult,
                    json!({"final_status": "success", "result": input}),
                );
            }
            _ => {
                Conformance::new(rt.clone(), job_id.clone())
                    .run(&input)
                    .await
            }
        }
    };
    tokio::select! {
        _ = work => {}
        _ = cancel.wait_for(|done| *done) => {}
    }
}

/// What one step asks the runtime to do, and whether the agent goes on.
enum Flow {
    Next,
    Stop,
}

struct Conformance {
    rt: Runtime,
    job: String,
    calls: u64,
}

impl Conformance {
    fn new(rt: Runtime, job: String) -> Self {
        Conformance { rt, job, calls: 0 }
    }

    fn event(&self, kind: EventKind, body: Value) {
        self.emit_kind(kind.as_str(), body);
    }

    fn emit_kind(&self, kind: &str, body: Value) {
        self.rt.emit(
            &self.job,
            MessageType::JobEvent,
            json!({"kind": kind, "ts": self.rt.now_ts(), "body": body}),
        );
    }

    fn warn(&self, message: String) {
        self.event(EventKind::Log, json!({"level": "warn", "message": message}));
    }

    async fn run(&mut self, input: &Value) {
        let steps = input
            .get("steps")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for step in &steps {
            match self.step(step).await {
                Flow::Next => {}
                Flow::Stop => return,
            }
        }
        self.finish(&json!({}));
    }

    async fn step(&mut self, step: &Value) -> Flow {
        let op = step.get("op").and_then(Value::as_str).unwrap_or("");
        let s = |k: &str| step.get(k).and_then(Value::as_str).map(String::from);
        match op {
            "event" => {
                let kind = s("kind").unwrap_or_else(|| "log".into());
                self.emit_kind(&kind, step.get("body").cloned().unwrap_or(json!({})));
            }
            "log" => self.event(
                EventKind::Log,
                json!({"level": s("level").unwrap_or("info".into()), "message": s("message").unwrap_or_default()}),
            ),
            "progress" => self.progress(step),
            "cost" => self.cost(step),
            "tool" => return self.tool(step).await,
            "model" => return self.model(step).await,
            "delegate" => return self.delegate(step).await,
            "sleep" => {
                let ms = step.get("ms").and_then(Value::as_u64).unwrap_or(0);
                self.rt.clock().sleep(Duration::from_millis(ms)).await;
            }
            "wait" => self.rt.clock().sleep(WAIT_LIMIT).await,
            "result_chunks" => self.chunks(step),
            "rotate_credential" => self.rotate().await,
            "use_credential" => self.use_credential(step).await,
            "crash" => {
                // The host process dies: no terminal message, nothing revoked.
                self.rt.crash();
                return Flow::Stop;
            }
            "finish" => {
                self.finish(step);
                return Flow::Stop;
            }
            "fail" => {
                let code = s("code")
                    .and_then(|c| ErrorCode::parse(&c))
                    .unwrap_or(ErrorCode::InternalError);
                let mut p = self.rt.error_value(code, &s("message").unwrap_or("agent failed".into()));
                p["final_status"] = json!("error");
                self.rt.emit(&self.job, MessageType::JobError, p);
                return Flow::Stop;
            }
            other => self.warn(format!("conformance agent: unknown op `{other}`")),
        }
        Flow::Next
    }

    fn progress(&self, step: &Value) {
        let current = step.get("current").and_then(Value::as_f64).unwrap_or(0.0);
        if current < 0.0 && !self.rt.fault(Fault::NegativeProgress) {
            self.warn(format!(
                "progress current {current} rejected: must be non-negative"
            ));
            return;
        }
        let total = step.get("total").and_then(Value::as_f64).unwrap_or(0.0);
        if total < 0.0 {
            self.warn(format!(
                "progress total {total} rejected: must be non-negative"
            ));
            return;
        }
        // §8.2.1 SHOULD: a current above total is the agent's error too.
        if step
            .get("total")
            .and_then(Value::as_f64)
            .is_some_and(|t| current > t)
            && !self.rt.fault(Fault::ProgressOverTotal)
        {
            self.warn(format!(
                "progress current {current} rejected: above total {total}"
            ));
            return;
        }
        let mut body = json!({"current": step.get("current").cloned().unwrap_or(json!(0))});
        for k in ["total", "units", "message"] {
            if let Some(v) = step.get(k) {
                body[k] = v.clone();
            }
        }
        if self.rt.fault(Fault::ProgressOverTotal) && step.get("total").is_some() {
            body["current"] = json!(total + 1.0);
        }
        self.event(EventKind::Progress, body);
    }

    /// §9.6: a `cost.*` metric decrements the matching budget counter.
    fn cost(&self, step: &Value) {
        let name = step
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("cost.inference");
        let value = step.get("value").and_then(Value::as_f64).unwrap_or(0.0);
        let unit = step.get("unit").and_then(Value::as_str).unwrap_or("USD");
        if value < 0.0 && !self.rt.fault(Fault::NegativeCostDecrements) {
            self.warn(format!("negative cost {value} {unit} rejected"));
            return;
        }
        self.event(
            EventKind::Metric,
            json!({"name": name, "value": value, "unit": unit}),
        );
        if !name.starts_with("cost.") {
            return;
        }
        let remaining = {
            let mut st = self.rt.lock();
            let Some(budget) = st.jobs.get_mut(&self.job).and_then(|j| j.budget.as_mut()) else {
                return;
            };
            let Some(counter) = budget.get_mut(unit) else {
                return;
            };
            if !self.rt.fault(Fault::BudgetNotDecremented) {
                *counter -= value;
            }
            *counter
        };
        let remaining = (remaining * 1e9).round() / 1e9;
        self.event(
            EventKind::Metric,
            json!({"name": "cost.budget.remaining", "value": remaining, "unit": unit}),
        );
    }

    /// §9.3, §9.5, §9.6: the checks before any authority-bearing operation.
    fn authorize(&self, namespace: &str, resource: &str) -> Result<(), (ErrorCode, String)> {
        let st = self.rt.lock();
        let Some(job) = st.jobs.get(&self.job) else {
            return Err((ErrorCode::JobNotFound, "job vanished".into()));
        };
        if let Some(exp) = job.expires_at {
            if self.rt.clock().now() >= exp && !self.rt.fault(Fault::IgnoreLeaseExpiry) {
                return Err((
                    ErrorCode::LeaseExpired,
                    format!("lease expired at {}", crate::clock::timestamp(exp)),
                ));
            }
        }
        if let Some(budget) = &job.budget {
            if let Some((cur, _)) = budget.iter().find(|(_, v)| **v <= 0.0) {
                if !self.rt.fault(Fault::IgnoreBudget) {
                    return Err((
                        ErrorCode::BudgetExhausted,
                        format!("{cur} budget exhausted"),
                    ));
                }
            }
        }
        let patterns = job.lease.get(namespace);
        let allowed = match (namespace, patterns) {
            ("model.use", _) if self.rt.fault(Fault::NoModelCheck) => true,
            ("model.use", None) => !self.rt.config().require_model_use,
            (_, None) => false,
            (_, Some(p)) => covers(p, resource),
        } || self.rt.fault(Fault::NoLeaseEnforcement);
        if !allowed {
            return Err((
                ErrorCode::PermissionDenied,
                format!("`{namespace}: {resource}` is not covered by the lease"),
            ));
        }
        Ok(())
    }

    /// A tool_result carrying an error, as this runtime sends it.
    fn tool_error(&self, call_id: &str, code: ErrorCode, message: &str) {
        let error = self.rt.error_value(code, message);
        self.event(
            EventKind::ToolResult,
            json!({"call_id": call_id, "error": error}),
        );
    }

    /// The call_id a tool_result carries (wrong on purpose under a fault).
    fn result_id_for(&self, call_id: &str) -> String {
        if self.rt.fault(Fault::ToolResultCallIdMismatch) {
            format!("{call_id}_x")
        } else {
            call_id.to_string()
        }
    }

    /// Emit tool_call, check the lease, emit tool_result. LEASE_EXPIRED also
    /// ends the job (§9.5).
    fn guarded(
        &mut self,
        tool: &str,
        args: Value,
        namespace: &str,
        resource: &str,
    ) -> Result<String, Flow> {
        self.calls += 1;
        let call_id = format!("call_{}", self.calls);
        self.event(
            EventKind::ToolCall,
            json!({"tool": tool, "args": args, "call_id": call_id}),
        );
        match self.authorize(namespace, resource) {
            Ok(()) => Ok(call_id),
            Err((code, message)) => {
                self.tool_error(&self.result_id_for(&call_id), code, &message);
                if code == ErrorCode::LeaseExpired {
                    self.rt.terminate(
                        &self.job,
                        ErrorCode::LeaseExpired,
                        "lease expired during execution",
                    );
                    return Err(Flow::Stop);
                }
                Err(Flow::Next)
            }
        }
    }

    async fn tool(&mut self, step: &Value) -> Flow {
        let (namespace, resource) = match step.get("capability").and_then(Value::as_str) {
            Some(ns) => (
                ns.to_string(),
                step.get("resource")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            None => (
                "tool.call".to_string(),
                step.get("tool")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
        };
        let tool = step
            .get("tool")
            .and_then(Value::as_str)
            .unwrap_or(&namespace)
            .to_string();
        let mut args = step.get("args").cloned().unwrap_or(json!({}));
        if step.get("capability").is_some() {
            args["resource"] = json!(resource);
        }
        match self.guarded(&tool, args, &namespace, &resource) {
            Ok(call_id) => {
                let result = step.get("result").cloned().unwrap_or(json!({"ok": true}));
                self.event(
                    EventKind::ToolResult,
                    json!({"call_id": call_id, "result": result}),
                );
                if let Some(cost) = step.get("cost") {
                    self.cost(cost);
                }
                Flow::Next
            }
            Err(flow) => flow,
        }
    }

    /// §9.7: model invocation is checked against `model.use`.
    async fn model(&mut self, step: &Value) -> Flow {
        let model = step
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match self.guarded("model.invoke", json!({"model": model}), "model.use", &model) {
            Ok(call_id) => {
                self.event(
                    EventKind::ToolResult,
                    json!({"call_id": call_id, "result": {"model": model, "text": "ok"}}),
                );
                if let Some(cost) = step.get("cost") {
                    self.cost(cost);
                }
                Flow::Next
            }
            Err(flow) => flow,
        }
    }

    /// §10, §9.4: start a sub-job with a lease that must be a subset.
    async fn delegate(&mut self, step: &Value) -> Flow {
        let agent = step
            .get("agent")
            .and_then(Value::as_str)
            .unwrap_or(ECHO)
            .to_string();
        let child_lease: lease::Lease = step
            .get("lease")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        let child_expiry = step
            .pointer("/lease_constraints/expires_at")
            .and_then(Value::as_str)
            .map(String::from);
        let args = json!({"agent": agent, "lease": child_lease});
        let call_id = match self.guarded("agent.delegate", args, "agent.delegate", &agent) {
            Ok(c) => c,
            Err(flow) => return flow,
        };
        let violation = {
            let st = self.rt.lock();
            let job = st.jobs.get(&self.job).expect("running job exists");
            let remaining = job.budget.clone().unwrap_or_default();
            let mut v = lease::subset_violation(&job.lease, &remaining, &child_lease);
            if let (Some(c), Some(p)) = (&child_expiry, job.expires_at) {
                match lease::parse_expires_at(c) {
                    Ok(t) if t > p => {
                        v = v.or(Some("child expires_at is later than the parent's".into()))
                    }
                    Err(e) => v = v.or(Some(e)),
                    _ => {}
                }
            }
            v.filter(|_| !self.rt.fault(Fault::NoSubsetCheck))
        };
        if self.rt.config().agents.iter().all(|a| a.name != agent) {
            let why = format!("agent `{agent}` is not registered");
            self.tool_error(&call_id, ErrorCode::AgentNotAvailable, &why);
            return Flow::Next;
        }
        if let Some(why) = violation {
            self.tool_error(&call_id, ErrorCode::LeaseSubsetViolation, &why);
            return Flow::Next;
        }
        let pre = self
            .preissue_child(&child_lease, child_expiry.as_deref())
            .await;
        let child = self.spawn_child(
            &agent,
            child_lease,
            child_expiry,
            step.get("input").cloned().unwrap_or(Value::Null),
            pre,
        );
        self.event(
            EventKind::ToolResult,
            json!({"call_id": call_id, "result": {"child_job_id": child}}),
        );
        Flow::Next
    }

    fn spawn_child(
        &self,
        agent: &str,
        child_lease: lease::Lease,
        child_expiry: Option<String>,
        input: Value,
        pre: Option<(String, crate::wire::Credential)>,
    ) -> String {
        let rt = &self.rt;
        let child_id = pre
            .as_ref()
            .map_or_else(crate::ids::job_id, |(id, _)| id.clone());
        let (cancel, cancel_rx) = watch::channel(false);
        let mut st = rt.lock();
        let parent = st.jobs.get(&self.job).expect("running job exists");
        // §9.4: the child's effective expiry is min(child, parent).
        let parent_exp = parent.expires_at;
        let child_exp = child_expiry
            .as_deref()
            .and_then(|c| lease::parse_expires_at(c).ok());
        let expires_at = match (child_exp, parent_exp) {
            (Some(c), Some(p)) => Some(c.min(p)),
            (c, p) => c.or(p),
        };
        let constraints = expires_at.map(|t| crate::wire::LeaseConstraints {
            expires_at: Some(crate::clock::timestamp(t)),
        });
        let budget = lease::budget_of(&child_lease).and_then(Result::ok);
        let needs_cred = !parent.credentials.is_empty()
            && (child_lease.contains_key("model.use") || child_lease.contains_key("cost.budget"));
        let (session_id, principal, trace_id) = (
            parent.session_id.clone(),
            parent.principal.clone(),
            parent.trace_id.clone(),
        );
        let version = rt
            .config()
            .agents
            .iter()
            .find(|a| a.name == agent)
            .and_then(|a| a.default.clone().or_else(|| a.versions.first().cloned()))
            .unwrap_or_default();
        let credentials = match (needs_cred, pre) {
            (true, Some((_, c))) => vec![c],
            (true, None) => vec![rt.issue_credential(&mut st, &child_lease, constraints.as_ref())],
            (false, pre) => {
                rt.upstream_revoke(pre.into_iter().map(|(_, c)| c.id).collect(), None);
                vec![]
            }
        };
        let created_at = rt.now_ts();
        st.jobs
            .get_mut(&self.job)
            .unwrap()
            .children
            .push(child_id.clone());
        st.jobs.insert(
            child_id.clone(),
            super::state::JobState {
                id: child_id.clone(),
                session_id,
                principal,
                agent_name: agent.to_string(),
                agent_version: version,
                status: "pending".into(),
                input: input.clone(),
                lease: child_lease.clone(),
                constraints: constraints.clone(),
                expires_at,
                budget,
                credentials,
                trace_id: trace_id.clone(),
                parent: Some(self.job.clone()),
                children: vec![],
                created_at,
                history: vec![],
                subscribers: Default::default(),
                terminal: false,
                result_id: None,
                next_chunk_seq: 0,
                result_size: 0,
                cancel,
            },
        );
        st.job_order.push(child_id.clone());
        drop(st);
        let mut body = json!({"child_job_id": child_id, "agent": agent, "lease": child_lease, "trace_id": trace_id});
        if let Some(c) = constraints {
            body["lease_constraints"] = serde_json::to_value(c).unwrap();
        }
        if !rt.fault(Fault::NoDelegateEvent) {
            self.event(EventKind::Delegate, body);
        }
        rt.start(&child_id, agent, input, cancel_rx, None);
        child_id
    }

    /// §8.4: stream the result as chunks; `finish` then references it.
    fn chunks(&self, step: &Value) {
        let encoding = step
            .get("encoding")
            .and_then(Value::as_str)
            .unwrap_or("utf8")
            .to_string();
        let mut chunks: Vec<String> = step
            .get("chunks")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if chunks.is_empty() {
            return;
        }
        let last_batch = step.get("last").and_then(Value::as_bool).unwrap_or(true);
        let mut bodies = vec![];
        {
            let mut st = self.rt.lock();
            let job = st.jobs.get_mut(&self.job).expect("running job exists");
            let rid = job
                .result_id
                .get_or_insert_with(crate::ids::result_id)
                .clone();
            let n = chunks.len();
            for (i, data) in chunks.drain(..).enumerate() {
                let size = if encoding == "base64" {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .decode(&data)
                        .map(|b| b.len())
                        .unwrap_or(0)
                } else {
                    data.len()
                };
                job.result_size += size as u64;
                let rid = if self.rt.fault(Fault::ChunkResultIdPerChunk) {
                    crate::ids::result_id()
                } else {
                    rid.clone()
                };
                let data = if self.rt.fault(Fault::CorruptChunkData) {
                    format!("{data}~")
                } else {
                    data
                };
                let label = if self.rt.fault(Fault::WrongChunkEncoding) {
                    "utf8".to_string()
                } else {
                    encoding.clone()
                };
                let more = !(last_batch && i + 1 == n) || self.rt.fault(Fault::MoreAlwaysTrue);
                bodies.push(json!({
                    "result_id": rid,
                    "chunk_seq": job.next_chunk_seq,
                    "data": data,
                    "encoding": label,
                    "more": more,
                }));
                job.next_chunk_seq += 1;
            }
        }
        if self.rt.fault(Fault::ChunksOutOfOrder) && bodies.len() > 1 {
            bodies.swap(0, 1);
        }
        for b in bodies {
            self.event(EventKind::ResultChunk, b);
        }
    }

    /// §9.8.2: rotation announces the new value and revokes the old one.
    async fn rotate(&self) {
        if self.rt.upstream().is_some() {
            return self.rotate_upstream().await;
        }
        let (id, value) = {
            let mut st = self.rt.lock();
            let Some(job) = st.jobs.get_mut(&self.job) else {
                return;
            };
            let Some(cred) = job.credentials.first_mut() else {
                return;
            };
            // The id is stable within the job (§9.8.1); the value rotates and
            // the prior value is revoked.
            cred.value = crate::ids::credential_value();
            let (id, value) = (cred.id.clone(), cred.value.clone());
            st.revoked.push(format!("{id} (prior value)"));
            (id, value)
        };
        if !self.rt.fault(Fault::SilentRotation) {
            self.event(
                EventKind::Status,
                json!({"phase": "credential_rotated", "credential_id": id, "id": id, "value": value}),
            );
        }
    }

    /// Rotation through the upstream: a new value there, the prior one revoked.
    async fn rotate_upstream(&self) {
        let Some(id) = self.credential().map(|c| c.id) else {
            return;
        };
        let value = match self.rt.upstream_rotate(&id).await {
            Ok(v) => v,
            Err(e) => return self.warn(format!("credential rotation failed: {e}")),
        };
        let old = {
            let mut st = self.rt.lock();
            let Some(cred) = st
                .jobs
                .get_mut(&self.job)
                .and_then(|j| j.credentials.first_mut())
            else {
                return;
            };
            std::mem::replace(&mut cred.value, value.clone())
        };
        if !self.rt.fault(Fault::KeepRotatedValue) {
            self.rt.upstream_revoke(vec![id.clone()], Some(old));
        }
        if !self.rt.fault(Fault::SilentRotation) {
            self.event(
                EventKind::Status,
                json!({"phase": "credential_rotated", "credential_id": id, "id": id, "value": value}),
            );
        }
    }

    fn credential(&self) -> Option<crate::wire::Credential> {
        let st = self.rt.lock();
        st.jobs.get(&self.job)?.credentials.first().cloned()
    }

    /// A child credential issued at the upstream before the child exists,
    /// when the child will need one (§9.8.2).
    async fn preissue_child(
        &self,
        child_lease: &lease::Lease,
        child_expiry: Option<&str>,
    ) -> Option<(String, crate::wire::Credential)> {
        self.rt.upstream()?;
        let (has_cred, principal) = {
            let st = self.rt.lock();
            let j = st.jobs.get(&self.job)?;
            (!j.credentials.is_empty(), j.principal.clone())
        };
        if !has_cred
            || !(child_lease.contains_key("model.use") || child_lease.contains_key("cost.budget"))
        {
            return None;
        }
        let child_id = crate::ids::job_id();
        let constraints = child_expiry.map(|e| crate::wire::LeaseConstraints {
            expires_at: Some(e.to_string()),
        });
        match self
            .rt
            .upstream_issue(&child_id, &principal, child_lease, constraints.as_ref())
            .await
        {
            Ok(c) => Some((child_id, c)),
            Err(e) => {
                self.warn(format!("child credential not issued: {e}"));
                None
            }
        }
    }

    /// `use_credential`: present the job's credential at its endpoint (plus
    /// `path`), or at `url`; report the upstream's answer as a log event.
    async fn use_credential(&self, step: &Value) {
        let Some(c) = self.credential() else {
            return self.warn("use_credential: the job has no credential".into());
        };
        let path = step.get("path").and_then(Value::as_str).unwrap_or("");
        let url = match step.get("url").and_then(Value::as_str) {
            Some(u) => u.to_string(),
            None => format!("{}{path}", c.endpoint),
        };
        let mut targets = vec![url];
        if self.rt.fault(Fault::PresentCredentialElsewhere) {
            if let Some(base) = self.rt.upstream() {
                targets.push(format!("{base}/v1/elsewhere"));
            }
        }
        for url in targets {
            let status = crate::upstream::client::call(
                "GET",
                &url,
                Some(&c.value),
                None,
                Duration::from_secs(5),
            )
            .await
            .map_or_else(|e| e, |a| a.status.to_string());
            self.event(
                EventKind::Log,
                json!({"level": "info", "message": format!("credential {} presented: {status}", c.id)}),
            );
        }
    }

    fn finish(&self, step: &Value) {
        let (rid, size) = {
            let st = self.rt.lock();
            st.jobs
                .get(&self.job)
                .map(|j| (j.result_id.clone(), j.result_size))
                .unwrap_or_default()
        };
        let result = step.get("result").cloned().unwrap_or(Value::Null);
        let mut payload = json!({"final_status": "success"});
        match rid {
            Some(rid) => {
                if !self.rt.fault(Fault::TerminalWithoutResultId) {
                    payload["result_id"] = json!(rid);
                }
                payload["result_size"] = json!(size);
                payload["summary"] = step
                    .get("summary")
                    .cloned()
                    .unwrap_or(json!("streamed result"));
                if self.rt.fault(Fault::MixInlineResult) {
                    payload["result"] = result;
                }
            }
            None => {
                payload["result"] = result;
                if let Some(s) = step.get("summary") {
                    payload["summary"] = s.clone();
                }
            }
        }
        self.rt.emit(&self.job, MessageType::JobResult, payload);
    }
}
