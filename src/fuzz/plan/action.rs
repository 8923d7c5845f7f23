//! Rendering one [`Action`] into steps, with the expectations that judge it.

use super::*;
use crate::fuzz::model::{Action, PreEnd, Reconnect, Who};
use crate::fuzz::mutate::{self, Class};
use serde_json::{json, Value};

impl Renderer<'_> {
    pub(super) fn action(&mut self, i: usize, a: &Action) {
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
