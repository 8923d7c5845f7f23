//! Rendering an action sequence into a case of the case language
//! (docs/case-language.md), with the expectations that judge it.
//!
//! The fuzzer runs exactly the case it renders (through
//! [`crate::engine::run_case`]), so a reproducer is that same case, shrunk:
//! replaying it needs nothing but `arcp-conform run --case FILE`.
//!
//! Every step carries a [`StepTag`]: which action it belongs to, which oracle
//! it embodies, the message type involved and the rule (mutation or check),
//! so a failing step names a finding's signature.

use super::model::{Action, JobSpec, ModelConfig, PreEnd, Reconnect, Slot, State, Who};
use super::mutate::{self, Class, FrameCtx};
use super::predict::{self, Outcome};
use crate::case::Level;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A `session.error` answering the request with this id: its `request_id`
/// (when the runtime sends one) must be that id, so a stale error from an
/// earlier request does not stand in for it.
fn error_for(id: &str) -> Value {
    json!({"type": "session.error", "payload": {"request_id": {"$one_of": [id, "$absent"]}}})
}

/// What a step checks, for signatures.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTag {
    /// Index of the action in the (rendered) sequence; `None` for the epilogue.
    pub action: Option<usize>,
    /// The oracle: `error-frame`, `pong`, `reply`, `accept`, `welcome`, ...
    pub oracle: &'static str,
    /// The message type the step sent or is about.
    pub message: String,
    /// The mutation or check.
    pub rule: String,
    /// The step sends or judges a mutated frame: `rule` names the mutation,
    /// which provoked a finding but is not its root cause.
    pub mutated: bool,
}

/// A rendered iteration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The case document (YAML), without comments.
    pub yaml: String,
    /// One tag per top-level step, in order.
    pub tags: Vec<StepTag>,
    /// Indices (into the input) of the actions that were rendered.
    pub rendered: Vec<usize>,
    /// Features the case relies on (its `requires.features`).
    pub features: Vec<String>,
}

/// Header fields of the rendered case.
#[derive(Debug, Clone)]
pub struct Header {
    pub id: String,
    pub title: String,
    pub sections: Vec<String>,
    pub requirement: String,
    /// The level the requirement sentence carries: a finding under a
    /// sentence without MUST is not a FAIL (see `oracle::requirement`).
    pub level: Level,
    pub catches: Vec<String>,
}

impl Header {
    pub fn iteration(seed: u64, iteration: u64) -> Header {
        Header {
            id: format!("fuzz.s{seed}.i{iteration}"),
            title: format!("fuzz iteration {iteration} of seed {seed}"),
            sections: vec!["5".into(), "12".into()],
            requirement: "The runtime answers malformed input with an error and keeps serving; every frame obeys the spec.".into(),
            // While fuzzing every oracle may fail; the finding's own header
            // (repro::header) then says what the spec requires of it.
            level: Level::Must,
            catches: vec![],
        }
    }
}

struct Renderer<'a> {
    cfg: &'a ModelConfig,
    st: State,
    steps: Vec<Value>,
    tags: Vec<StepTag>,
    action: Option<usize>,
    features: BTreeSet<String>,
    /// Jobs whose id has been captured (`${jN}`).
    captured: BTreeSet<u32>,
    /// The `job.submit` step of each job, for resubmission.
    submits: BTreeMap<u32, Value>,
    /// Jobs whose terminal message a step consumed while rendering the
    /// current action (none is left for `wait_job`).
    ended: BTreeSet<u32>,
    nonce: u32,
    tokens: u32,
    ids: u64,
}

impl Renderer<'_> {
    fn push(&mut self, step: Value, oracle: &'static str, message: &str, rule: &str) {
        self.steps.push(step);
        self.tags.push(StepTag {
            action: self.action,
            oracle,
            message: message.to_string(),
            rule: rule.to_string(),
            mutated: false,
        });
    }

    /// A message id of the shape peers validate, unique in the case, so a
    /// `session.error` can be told apart by its `request_id`.
    fn msg_id(&mut self) -> String {
        self.ids += 1;
        format!("msg_01FZ{:022}", self.ids)
    }

    fn nonce(&mut self) -> String {
        self.nonce += 1;
        format!("fz{}", self.nonce)
    }

    fn ping(&mut self, s: &str, oracle: &'static str, rule: &str) {
        let n = self.nonce();
        self.push(
            json!({"send": {"session": s, "type": "session.ping", "payload": {"nonce": n, "sent_at": "${now}"}}}),
            "send",
            "session.ping",
            rule,
        );
        self.push(
            json!({"expect": {"session": s, "match": {"type": "session.pong", "payload": {"ping_nonce": n}}}}),
            oracle,
            "session.ping",
            rule,
        );
    }

    /// Expectations on the job's `tool_call` / `tool_result` events for the
    /// steps whose outcome its lease decides ([`predict`]).
    fn enforcement(&mut self, s: &str, job: u32, spec: &JobSpec, trace: Option<&str>) {
        let id = format!("${{j{job}}}");
        let event = |payload: Value| json!({"type": "job.event", "job_id": id, "payload": payload});
        for (k, op) in predict::operations(spec).into_iter().enumerate() {
            let call = format!("c{job}x{k}");
            let result = |error: Value| {
                event(
                    json!({"kind": "tool_result", "body": {"call_id": format!("${{{call}}}"), "error": error}}),
                )
            };
            let (oracle, rule, pattern) = match op.outcome {
                Outcome::Allowed => ("lease", "allowed", result(json!("$absent"))),
                Outcome::Denied => (
                    "lease",
                    "permission-denied",
                    result(json!({"code": "PERMISSION_DENIED"})),
                ),
                Outcome::Expired => {
                    let as_result = event(
                        json!({"kind": "tool_result", "body": {"error": {"code": "LEASE_EXPIRED"}}}),
                    );
                    let as_error = json!({"type": "job.error", "job_id": id, "payload": {"code": "LEASE_EXPIRED"}});
                    self.push(
                        json!({"expect": {"session": s, "match": {"$one_of": [as_result, as_error]}, "within": "30s"}}),
                        "lease",
                        "job.event",
                        "lease-expired",
                    );
                    break;
                }
                Outcome::Exhausted { covered } => {
                    // It MAY be a tool_result error or end the job, with or
                    // without a tool_call first: the last prediction.
                    let code = if covered {
                        json!("BUDGET_EXHAUSTED")
                    } else {
                        json!({"$one_of": ["BUDGET_EXHAUSTED", "PERMISSION_DENIED"]})
                    };
                    let as_result =
                        event(json!({"kind": "tool_result", "body": {"error": {"code": code}}}));
                    let as_error = json!({"type": "job.error", "job_id": id, "payload": {"code": "BUDGET_EXHAUSTED"}});
                    self.push(
                        json!({"expect": {"session": s, "match": {"$one_of": [as_result, as_error]}}}),
                        "budget",
                        "job.event",
                        "budget-exhausted",
                    );
                    break;
                }
            };
            let mut call_event = event(
                json!({"kind": "tool_call", "body": {"tool": op.tool, "call_id": format!("$capture {call}")}}),
            );
            // §11: the job's first tool call carries the submission's trace.
            let oracle_call = match trace {
                Some(t) if k == 0 => {
                    call_event["trace_id"] = json!(t);
                    "trace"
                }
                _ => "lease",
            };
            self.push(
                json!({"expect": {"session": s, "match": call_event}}),
                oracle_call,
                "job.event",
                "tool-call",
            );
            self.push(
                json!({"expect": {"session": s, "match": pattern}}),
                oracle,
                "job.event",
                rule,
            );
        }
    }

    /// Expectations on a job's result stream and its terminal message
    /// ([`predict::chunks`]); the terminal is then consumed here.
    fn stream(&mut self, s: &str, job: u32, spec: &JobSpec) {
        let negotiated = [Slot::A, Slot::B]
            .into_iter()
            .find(|x| x.name() == s)
            .is_some_and(|x| self.st.slot(x).has("result_chunk"));
        let Some(chunks) = predict::chunks(spec, negotiated) else {
            return;
        };
        self.features.insert("result_chunk".into());
        let id = format!("${{j{job}}}");
        let rid = format!("r{job}");
        let n = chunks.len();
        for (i, data) in chunks.iter().enumerate() {
            let result_id = if i == 0 {
                format!("$capture {rid}")
            } else {
                format!("${{{rid}}}")
            };
            let body = json!({"result_id": result_id, "chunk_seq": i, "data": data, "encoding": "utf8", "more": i + 1 < n});
            self.push(
                json!({"expect": {"session": s, "match": {"type": "job.event", "job_id": id, "payload": {"kind": "result_chunk", "body": body}}, "capture": {format!("{rid}s{i}"): "/event_seq"}}}),
                "chunks",
                "job.event",
                "chunk",
            );
            if i > 0 {
                self.push(
                    json!({"assert": {"less": [format!("${{{rid}s{}}}", i - 1), format!("${{{rid}s{i}}}")], "message": "chunks are emitted in chunk_seq order"}}),
                    "chunks",
                    "job.event",
                    "in-order",
                );
            }
        }
        self.push(
            json!({"expect": {"session": s, "match": {"type": "job.result", "job_id": id, "payload": {"result_id": format!("${{{rid}}}"), "result": "$absent"}}, "within": "30s"}}),
            "chunks",
            "job.result",
            "terminal-result-id",
        );
        self.ended.insert(job);
    }

    fn send_built(&mut self, s: &str, m: &mutate::Mutant, in_session: bool) -> Class {
        let first = self.tags.len();
        let class = self.send_built_steps(s, m, in_session);
        for t in &mut self.tags[first..] {
            t.mutated = true;
        }
        class
    }

    fn send_built_steps(&mut self, s: &str, m: &mutate::Mutant, in_session: bool) -> Class {
        let features = match [Slot::A, Slot::B].into_iter().find(|x| x.name() == s) {
            Some(slot) if in_session => self.st.slot(slot).features.clone(),
            _ => vec![],
        };
        let captured = self.captured.clone();
        let job = move |j: u32| captured.contains(&j).then(|| format!("j{j}"));
        let ctx = FrameCtx {
            arcp: &self.cfg.arcp,
            session: s,
            in_session,
            features: &features,
            job: &job,
        };
        let built = mutate::build(m, &ctx);
        let label = m.label();
        // Signatures name known message types only (a fuzzed type is "(unknown-type)").
        let message = match built.final_type.as_deref() {
            None => "(unparsable)".to_string(),
            Some(t) if crate::wire::MessageType::parse(t).is_some() => t.to_string(),
            Some(_) => "(unknown-type)".to_string(),
        };
        self.push(
            json!({"send": {"session": s, "raw": mutate::finalize_text(&built.text)}, "note": format!("{} of {}", label, m.base.message_type())}),
            "send",
            &message,
            &label,
        );
        let id_intact = serde_json::from_str::<Value>(&built.text)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(String::from))
            .is_some_and(|id| id == m.id);
        match &built.class {
            Class::MustError(code) => {
                let mut payload = json!({});
                if let Some(c) = code {
                    payload["code"] = json!(c);
                }
                if id_intact {
                    payload["request_id"] = json!({"$one_of": [m.id, "$absent"]});
                }
                self.push(
                    json!({"expect": {"session": s, "match": {"type": "session.error", "payload": payload}}}),
                    "error-frame",
                    &message,
                    &label,
                );
            }
            Class::MayError => {
                if let Some(reply) = built
                    .final_type
                    .as_deref()
                    .and_then(|t| mutate::reply_pattern(t, built.nonce.as_deref()))
                {
                    let err = if id_intact {
                        error_for(&m.id)
                    } else {
                        json!({"type": "session.error"})
                    };
                    self.push(
                        json!({"expect": {"session": s, "match": {"$one_of": [reply, err]}}}),
                        "reply",
                        &message,
                        &label,
                    );
                }
            }
            Class::Accept => {
                if let Some(reply) = built
                    .final_type
                    .as_deref()
                    .and_then(|t| mutate::reply_pattern(t, built.nonce.as_deref()))
                {
                    self.push(
                        json!({"expect": {"session": s, "match": reply}}),
                        "accept",
                        &message,
                        &label,
                    );
                }
            }
            Class::Handshake => {
                self.push(
                    json!({"expect": {"session": s, "match": {"type": {"$one_of": ["session.welcome", "session.error"]}}}}),
                    "reply",
                    &message,
                    &label,
                );
            }
        }
        built.class
    }

    fn action(&mut self, i: usize, a: &Action) {
        self.action = Some(i);
        match a {
            Action::Open { s, who, features } => {
                let mut open = json!({"session": s.name()});
                match who {
                    Who::Alice => open["principal"] = json!("alice"),
                    Who::Alice2 => {
                        open["principal"] = json!("alice");
                        open["auth"] =
                            json!({"scheme": "bearer", "token": "${principal.alice2.token}"});
                    }
                    Who::Bob => open["principal"] = json!("bob"),
                }
                if *features != crate::wire::Feature::all_names() {
                    open["features"] = json!(mutate::escape_value(&json!(features)));
                }
                self.push(json!({ "open": open }), "welcome", "session.hello", "open");
            }
            Action::PreHello { frames, end } => {
                // `p` is dropped at the end of each before-hello connection.
                let p = "p";
                self.push(
                    json!({"connect": {"session": p}}),
                    "connect",
                    "-",
                    "connect",
                );
                let mut closed = false;
                for m in frames {
                    if self.send_built(p, m, false) == Class::Handshake {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    match end {
                        PreEnd::Hello => self.push(
                            json!({"hello": {"session": p}}),
                            "welcome",
                            "session.hello",
                            "hello-after-garbage",
                        ),
                        PreEnd::BadToken => self.push(
                            json!({"hello": {"session": p, "principal": "invalid", "code": "UNAUTHENTICATED"}}),
                            "error-frame",
                            "session.hello",
                            "bad-token",
                        ),
                        PreEnd::NoAuth => self.push(
                            json!({"hello": {"session": p, "auth": null, "code": "UNAUTHENTICATED"}}),
                            "error-frame",
                            "session.hello",
                            "no-auth",
                        ),
                        // The spec names no code for a wrong scheme: any error.
                        PreEnd::BadScheme => self.push(
                            json!({"hello": {"session": p, "auth": {"scheme": "basic", "token": "${principal.alice.token}"}, "expect": "error"}}),
                            "error-frame",
                            "session.hello",
                            "bad-scheme",
                        ),
                    }
                }
                self.push(json!({"drop": {"session": p}}), "drop", "-", "drop");
            }
            Action::Ping { s } => self.ping(s.name(), "pong", "ping"),
            Action::Burst { s, n } => {
                let nonces: Vec<String> = (0..*n).map(|_| self.nonce()).collect();
                for k in &nonces {
                    self.push(
                        json!({"send": {"session": s.name(), "type": "session.ping", "payload": {"nonce": k}}}),
                        "send",
                        "session.ping",
                        "burst",
                    );
                }
                for k in &nonces {
                    self.push(
                        json!({"expect": {"session": s.name(), "match": {"type": "session.pong", "payload": {"ping_nonce": k}}}}),
                        "pong",
                        "session.ping",
                        "burst",
                    );
                }
            }
            Action::Submit { s, job, spec } => {
                let agent = if spec.echo {
                    "${agents.echo}"
                } else {
                    "${agents.conformance}"
                };
                let mut payload =
                    json!({"agent": agent, "input": mutate::escape_value(&spec.input)});
                if !spec.lease.is_empty() {
                    payload["lease_request"] = Value::Object(spec.lease.clone());
                }
                if let Some(ms) = spec.expires_ms {
                    // Bound once, so a resubmission's parameters are identical.
                    let name = format!("x{job}");
                    self.push(
                        json!({"set": {&name: format!("${{now+{ms}ms}}")}}),
                        "set",
                        "-",
                        "expires-at",
                    );
                    payload["lease_constraints"] = json!({"expires_at": format!("${{{name}}}")});
                }
                if let Some(r) = spec.max_runtime_sec {
                    payload["max_runtime_sec"] = json!(r);
                }
                if let Some(k) = &spec.idempotency_key {
                    payload["idempotency_key"] = json!(k);
                }
                for f in spec.features() {
                    self.features.insert(f.to_string());
                }
                let mut send =
                    json!({"session": s.name(), "type": "job.submit", "payload": payload});
                // §11: the job carries the submission's trace id (the 32 hex
                // digits; a runtime may put its own span id beside them).
                let trace = spec.trace.as_ref().map(|t| {
                    send["envelope"] = json!({ "trace_id": t });
                    format!("$regex {}", t.split('-').nth(1).unwrap_or(t))
                });
                self.submits.insert(*job, send.clone());
                self.push(json!({ "send": send }), "send", "job.submit", "submit");
                let mut accepted = json!({"type": "job.accepted", "payload": {"job_id": format!("$capture j{job}")}});
                // The agent asked for (so a stale acceptance of another
                // submission does not stand in); §7.5: with versions
                // negotiated, resolved as `agent: "name@version"`.
                accepted["payload"]["agent"] = if self.st.slot(*s).has("agent_versions") {
                    json!(format!("$regex ^{agent}@.+$"))
                } else {
                    json!(format!("$regex ^{agent}(@.*)?$"))
                };
                if let Some(t) = &trace {
                    accepted["trace_id"] = json!(t);
                }
                self.push(
                    json!({"expect": {"session": s.name(), "match": accepted}}),
                    "accept",
                    "job.submit",
                    "submit",
                );
                self.captured.insert(*job);
                self.enforcement(s.name(), *job, spec, trace.as_deref());
                self.stream(s.name(), *job, spec);
            }
            Action::WaitJob { job } => {
                let j = &self.st.jobs[job];
                let mut wait = json!({"session": j.slot.name(), "job": format!("${{j{job}}}"), "within": "30s"});
                // A job that waits for a cancel that never came ends at its
                // max_runtime_sec (§7.3).
                let rule = if j.times_out && !j.cancel_sent && !j.maybe_cancelled {
                    wait["status"] = json!("timed_out");
                    "times-out"
                } else {
                    "job-ends"
                };
                self.push(json!({ "wait_job": wait }), "terminal", "job.submit", rule);
            }
            Action::SubmitBad { s, why } => {
                let id = self.msg_id();
                let (payload, code, rule) = why.render();
                if let Some(f) = why.feature() {
                    self.features.insert(f.to_string());
                }
                self.push(
                    json!({"send": {"session": s.name(), "type": "job.submit", "payload": payload, "envelope": {"id": id}}}),
                    "send",
                    "job.submit",
                    rule,
                );
                let mut err = error_for(&id);
                // A job.error names no request: only one with the fixed code
                // can stand for this refusal (not another job's ending).
                let pattern = match code {
                    Some(code) => {
                        err["payload"]["code"] = json!(code);
                        json!({"$one_of": [err, {"type": "job.error", "payload": {"code": code}}]})
                    }
                    None => err,
                };
                self.push(
                    json!({"expect": {"session": s.name(), "match": pattern}}),
                    "error-frame",
                    "job.submit",
                    rule,
                );
            }
            Action::Resubmit { s, job, conflict } => {
                let Some(mut send) = self.submits.get(job).cloned() else {
                    return;
                };
                let id = self.msg_id();
                send["session"] = json!(s.name());
                send["envelope"]["id"] = json!(id);
                let (rule, pattern) = if *conflict {
                    send["payload"]["input"] = json!({"steps": [{"op": "log", "message": format!("conflict {id}")}, {"op": "finish"}]});
                    // A past expires_at could be refused first (INVALID_REQUEST).
                    if let Some(p) = send["payload"].as_object_mut() {
                        p.remove("lease_constraints");
                    }
                    let mut err = error_for(&id);
                    err["payload"]["code"] = json!("DUPLICATE_KEY");
                    let job_error =
                        json!({"type": "job.error", "payload": {"code": "DUPLICATE_KEY"}});
                    ("resubmit-conflicting", json!({"$one_of": [err, job_error]}))
                } else {
                    (
                        "resubmit-same",
                        json!({"type": "job.accepted", "payload": {"job_id": format!("${{j{job}}}")}}),
                    )
                };
                self.push(json!({ "send": send }), "send", "job.submit", rule);
                self.push(
                    json!({"expect": {"session": s.name(), "match": pattern}}),
                    "idempotency",
                    "job.submit",
                    rule,
                );
            }
            Action::Cancel { s, job } => {
                let j = self.st.jobs[job].clone();
                let me = self.st.slot(*s).clone();
                let name = format!("${{j{job}}}");
                let id = self.msg_id();
                let err = error_for(&id);
                self.push(
                    json!({"send": {"session": s.name(), "type": "job.cancel", "payload": {"job_id": name}, "envelope": {"id": id}}}),
                    "send",
                    "job.cancel",
                    "cancel",
                );
                // §7.6: "Cancellation is reserved for the session that submitted the job."
                let (oracle, rule, pattern) = if self.st.submitted_by(*job, *s) {
                    (
                        "reply",
                        "cancel",
                        json!({"$one_of": [{"type": "job.cancelled"}, err]}),
                    )
                } else if j.principal != me.who.principal() {
                    ("error-frame", "cancel-other-principal", err)
                } else if me.subscribed.contains(job) {
                    ("error-frame", "cancel-by-subscriber", err)
                } else {
                    ("error-frame", "cancel-other-session", err)
                };
                self.push(
                    json!({"expect": {"session": s.name(), "match": pattern}}),
                    oracle,
                    "job.cancel",
                    rule,
                );
            }
            Action::Subscribe { s, job, history } => {
                let j = self.st.jobs[job].clone();
                let me = self.st.slot(*s).clone();
                let name = format!("${{j{job}}}");
                let mut payload = json!({"job_id": name});
                if *history {
                    payload["history"] = json!(true);
                }
                self.features.insert("subscribe".into());
                let id = self.msg_id();
                let err = error_for(&id);
                self.push(
                    json!({"send": {"session": s.name(), "type": "job.subscribe", "payload": payload, "envelope": {"id": id}}}),
                    "send",
                    "job.subscribe",
                    "subscribe",
                );
                let subscribed = json!({"type": "job.subscribed", "payload": {"job_id": name}});
                let (oracle, rule, pattern) = if self.st.submitted_by(*job, *s) {
                    (
                        "reply",
                        "subscribe-own",
                        json!({"$one_of": [subscribed, err]}),
                    )
                } else if j.principal == me.who.principal() {
                    ("accept", "subscribe-same-principal", subscribed)
                } else {
                    ("error-frame", "subscribe-other-principal", err)
                };
                self.push(
                    json!({"expect": {"session": s.name(), "match": pattern}}),
                    oracle,
                    "job.subscribe",
                    rule,
                );
            }
            Action::Unsubscribe { s, job } => {
                self.push(
                    json!({"send": {"session": s.name(), "type": "job.unsubscribe", "payload": {"job_id": format!("${{j{job}}}")}}}),
                    "send",
                    "job.unsubscribe",
                    "unsubscribe",
                );
                self.ping(s.name(), "alive-after", "unsubscribe");
            }
            Action::ListJobs { s } => {
                self.features.insert("list_jobs".into());
                let me = self.st.slot(*s).who.principal();
                let others: Vec<Value> = self
                    .st
                    .jobs
                    .iter()
                    .filter(|(k, j)| j.principal != me && self.captured.contains(k))
                    .map(|(k, _)| json!(format!("${{j{k}}}")))
                    .collect();
                let (jobs, rule) = if others.is_empty() {
                    (json!("$array"), "list-jobs")
                } else {
                    (
                        json!({"$each": {"job_id": {"$not": {"$one_of": others}}}}),
                        "list-jobs-hides-other-principals",
                    )
                };
                let id = self.msg_id();
                self.push(
                    json!({"send": {"session": s.name(), "type": "session.list_jobs", "payload": {}, "envelope": {"id": id}}}),
                    "send",
                    "session.list_jobs",
                    rule,
                );
                self.push(
                    json!({"expect": {"session": s.name(), "match": {"type": "session.jobs", "payload": {"jobs": jobs, "request_id": {"$one_of": [id, "$absent"]}}}}}),
                    "accept",
                    "session.list_jobs",
                    rule,
                );
            }
            Action::Ack { s } => {
                self.features.insert("ack".into());
                let n = s.name();
                let id = self.msg_id();
                self.push(
                    json!({"send": {"session": n, "type": "session.ack", "payload": {"last_processed_seq": format!("${{session.{n}.last_seq}}")}, "envelope": {"id": id}}}),
                    "send",
                    "session.ack",
                    "ack",
                );
                // Only an error naming this ack counts (a runtime that sends
                // no request_id cannot be judged here).
                self.push(
                    json!({"expect_none": {"session": n, "match": {"type": "session.error", "payload": {"request_id": id}}, "for": "300ms"}}),
                    "no-error",
                    "session.ack",
                    "ack",
                );
                self.ping(n, "alive-after", "ack");
            }
            Action::Reconnect { s, how } => {
                let n = s.name();
                let was_open = self.st.slot(*s).open;
                if *how == Reconnect::OldToken {
                    self.tokens += 1;
                    let var = format!("old_token_{}", self.tokens);
                    self.push(
                        json!({"set": {var.clone(): format!("${{session.{n}.resume_token}}")}}),
                        "set",
                        "-",
                        "set",
                    );
                    if was_open {
                        self.push(json!({"drop": {"session": n}}), "drop", "-", "drop");
                    }
                    self.push(
                        json!({"resume": {"session": n}}),
                        "resume",
                        "session.resume",
                        "resume",
                    );
                    self.push(json!({"drop": {"session": n}}), "drop", "-", "drop");
                    self.push(
                        json!({"resume": {"session": n, "token": format!("${{{var}}}"), "expect": "error"}}),
                        "error-frame",
                        "session.resume",
                        "resume-old-token",
                    );
                    self.push(json!({"drop": {"session": n}}), "drop", "-", "drop");
                } else {
                    if was_open {
                        self.push(json!({"drop": {"session": n}}), "drop", "-", "drop");
                        // Detached for a moment: running jobs emit events
                        // the resume must replay (§8.3).
                        self.push(json!({"sleep": "150ms"}), "sleep", "-", "detached");
                    }
                    if *how == Reconnect::BadToken {
                        self.push(
                            json!({"resume": {"session": n, "token": "rt_01HZZZZZZZZZZZZZZZZZZZZZZZ01HZZZZZZZZZZZZZZZZZZZZZZZ", "expect": "error"}}),
                            "error-frame",
                            "session.resume",
                            "resume-bad-token",
                        );
                        self.push(json!({"drop": {"session": n}}), "drop", "-", "drop");
                    }
                }
                self.push(
                    json!({"resume": {"session": n}}),
                    "resume",
                    "session.resume",
                    "resume",
                );
            }
            Action::Close { s } => {
                let n = s.name();
                self.push(
                    json!({"send": {"session": n, "type": "session.close", "payload": {}}}),
                    "send",
                    "session.close",
                    "close",
                );
                self.push(
                    json!({"expect": {"session": n, "match": {"type": "session.closed"}}}),
                    "accept",
                    "session.close",
                    "close",
                );
                self.push(json!({"drop": {"session": n}}), "drop", "-", "drop");
            }
            Action::Mutate { s, m } => {
                let n = s.name();
                self.send_built(n, m, true);
                if mutate::closes(m, &self.cfg.arcp, n) {
                    // It reads as a session.close: closed (§6.7) or refused; either way
                    // the session stays resumable.
                    self.push(
                        json!({"expect": {"session": n, "match": {"$one_of": [{"type": "session.closed"}, {"type": "session.error"}]}}}),
                        "reply",
                        "session.close",
                        &m.label(),
                    );
                    self.push(json!({"drop": {"session": n}}), "drop", "-", "drop");
                    self.push(
                        json!({"resume": {"session": n}}),
                        "resume",
                        "session.resume",
                        "resume-after-close",
                    );
                }
                self.ping(n, "alive-after", &m.label());
            }
            Action::Oversize { s, bytes } => {
                let n = s.name();
                self.push(
                    json!({"send": {"session": n, "oversize": bytes}}),
                    "send",
                    "session.ping",
                    "oversize",
                );
                self.push(
                    json!({"expect": {"session": n, "match": {"$one_of": [{"type": "session.pong", "payload": {"ping_nonce": "oversize"}}, {"type": "session.error"}]}}}),
                    "reply",
                    "session.ping",
                    "oversize",
                );
                self.ping(n, "alive-after", "oversize");
            }
            Action::Sleep { ms } => {
                self.push(json!({ "sleep": format!("{ms}ms") }), "sleep", "-", "sleep");
            }
        }
    }
}

/// Render `actions` as a case. Actions that do not apply in the state the
/// earlier ones leave are skipped (and not listed in [`Plan::rendered`]).
pub fn render(actions: &[Action], cfg: &ModelConfig, header: &Header) -> Plan {
    let mut r = Renderer {
        cfg,
        st: State::default(),
        steps: vec![],
        tags: vec![],
        action: None,
        features: BTreeSet::new(),
        captured: BTreeSet::new(),
        submits: BTreeMap::new(),
        ended: BTreeSet::new(),
        nonce: 0,
        tokens: 0,
        ids: 0,
    };
    let mut rendered = vec![];
    for (i, a) in actions.iter().enumerate() {
        if !r.st.applicable(a, cfg) {
            continue;
        }
        r.action(rendered.len(), a);
        r.st.apply(a, cfg);
        for j in std::mem::take(&mut r.ended) {
            if let Some(js) = r.st.jobs.get_mut(&j) {
                js.waited = true;
            }
        }
        rendered.push(i);
    }
    // Epilogue: every job that ends on its own has ended, so each of its
    // frames was read and judged (a violation on a job's last frame must not
    // depend on whether it beat the final pong); everything sent so far has
    // been read and judged; and the target still serves a fresh session.
    r.action = None;
    let ending: Vec<u32> = r
        .st
        .jobs
        .keys()
        .copied()
        .filter(|j| r.captured.contains(j) && r.st.applicable(&Action::WaitJob { job: *j }, cfg))
        .collect();
    for job in ending {
        let wait = Action::WaitJob { job };
        r.action(0, &wait);
        r.st.apply(&wait, cfg);
        if let Some(t) = r.tags.last_mut() {
            // Part of the epilogue, not of any action.
            t.action = None;
            t.rule = "end".into();
        }
    }
    r.action = None;
    for s in [Slot::A, Slot::B] {
        if r.st.slot(s).open {
            r.ping(s.name(), "alive-at-end", "end");
        }
    }
    // A second session needs a runtime shared between connections; over
    // stdio it would be a new process (proving nothing) and would make
    // `run --case` judge the whole reproducer N/A.
    if cfg.shared_runtime {
        r.push(
            json!({"open": {"session": "z"}}),
            "fresh-session",
            "session.hello",
            "fresh-session",
        );
    }
    let features: Vec<String> = r.features.iter().cloned().collect();
    let mut doc = Map::new();
    doc.insert("id".into(), json!(header.id));
    doc.insert("title".into(), json!(header.title));
    doc.insert("sections".into(), json!(header.sections));
    doc.insert("level".into(), json!(header.level.as_str()));
    doc.insert("requirement".into(), json!(header.requirement));
    if !features.is_empty() {
        doc.insert("requires".into(), json!({ "features": features }));
    }
    if !header.catches.is_empty() {
        doc.insert("catches".into(), json!(header.catches));
    }
    doc.insert("tags".into(), json!(["fuzz"]));
    doc.insert("timeout".into(), json!("300s"));
    doc.insert("steps".into(), Value::Array(r.steps));
    let yaml =
        serde_yaml_ng::to_string(&Value::Object(doc)).expect("JSON values serialize as YAML");
    Plan {
        yaml,
        tags: r.tags,
        rendered,
        features,
    }
}
