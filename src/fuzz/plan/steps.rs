//! The renderer's step writers: step tags and ids, and the steps that each
//! embody one oracle (ping, enforcement, stream, a mutated frame).

use super::*;
use crate::fuzz::model::{JobSpec, Slot};
use crate::fuzz::mutate::{self, Class, FrameCtx};
use crate::fuzz::predict::{self, Outcome};
use serde_json::{json, Value};

impl Renderer<'_> {
    pub(super) fn push(&mut self, step: Value, oracle: &'static str, message: &str, rule: &str) {
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
    pub(super) fn msg_id(&mut self) -> String {
        self.ids += 1;
        format!("msg_01FZ{:022}", self.ids)
    }

    pub(super) fn nonce(&mut self) -> String {
        self.nonce += 1;
        format!("fz{}", self.nonce)
    }

    pub(super) fn ping(&mut self, s: &str, oracle: &'static str, rule: &str) {
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
    pub(super) fn enforcement(&mut self, s: &str, job: u32, spec: &JobSpec, trace: Option<&str>) {
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
    pub(super) fn stream(&mut self, s: &str, job: u32, spec: &JobSpec) {
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

    pub(super) fn send_built(&mut self, s: &str, m: &mutate::Mutant, in_session: bool) -> Class {
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
}
