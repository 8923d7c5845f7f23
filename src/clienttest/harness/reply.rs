//! The runtime's scripted answers in a client case: `welcome`, `accept`,
//! `emit` and `send`, and the frames from the client they answer.

use super::{Harness, Sess};
use crate::case::{Accept, Emit, EmitWhat, FeatureSet, Frame as SendFrame, Welcome};
use crate::engine::play::{self, Frame, Role};
use crate::engine::shared::merge;
use crate::engine::{StepResult, Stop};
use crate::matcher;
use crate::wire::{ErrorCode, Feature};
use serde_json::{json, Value};
use std::collections::VecDeque;
use tokio::time::Instant;

impl Harness<'_> {
    /// The first non-heartbeat frame not yet consumed; it must be of type `kind`.
    pub(super) async fn first_of(
        &mut self,
        name: &str,
        kind: &str,
        until: Instant,
    ) -> Result<Frame, Stop> {
        loop {
            let sess = self.sess(name)?;
            if let Some(i) = sess.backlog.iter().position(|f| !f.is_heartbeat()) {
                let f = sess.backlog.remove(i).expect("index in range");
                if f.kind() != kind {
                    return Err(Stop::Fail {
                        reason: format!("the client sent {} where {kind} was due", f.kind()),
                        expected: Some(kind.to_string()),
                        actual: Some(matcher::show(&f.value)),
                    });
                }
                return Ok(f);
            }
            match self.receive(name, until).await? {
                Some(f) => self.keep(name, f)?,
                None => {
                    let describe = format!("the client's {kind}");
                    if let Some(stop) = self.closed_stop(name, &describe) {
                        return Err(stop);
                    }
                    return Err(Stop::Fail {
                        reason: format!("no {kind} from the client in time"),
                        expected: Some(kind.to_string()),
                        actual: Some("nothing".into()),
                    });
                }
            }
        }
    }

    pub(super) fn check_pattern(
        &mut self,
        pattern: &Option<Value>,
        frame: &Frame,
        what: &str,
    ) -> StepResult {
        let Some(p) = pattern else {
            return Ok(());
        };
        let p = self.render(p)?;
        match matcher::matches(&p, &frame.value) {
            Ok(caps) => {
                self.vars.extend(caps);
                Ok(())
            }
            Err(m) => Err(Stop::Fail {
                reason: format!("the client's {what} does not match the case"),
                expected: Some(matcher::describe(&p)),
                actual: Some(format!("{m} — in {}", matcher::show(&frame.value))),
            }),
        }
    }

    pub(super) async fn send_error(
        &mut self,
        name: &str,
        code: &str,
        request: &Frame,
    ) -> StepResult {
        let c =
            ErrorCode::parse(code).ok_or_else(|| Stop::harness(format!("unknown code {code}")))?;
        let mut p =
            crate::wire::ErrorPayload::new(c, "refused by arcp-conform (scripted)").to_value();
        if let Some(id) = request.value.get("id") {
            p["request_id"] = id.clone();
        }
        let env = self.envelope(name, "session.error", p)?;
        self.send_value(name, env).await
    }

    pub(super) async fn welcome(&mut self, w: &Welcome) -> StepResult {
        let until = Instant::now() + self.deadline(w.within);
        let want = if w.resume {
            "session.resume"
        } else {
            "session.hello"
        };
        let reconnect = w.resume || !self.sessions.get(&w.session).is_some_and(Sess::live);
        if reconnect {
            let conn = self.accept_conn(until, &format!("for {want}")).await?;
            let mut s = Sess {
                conn: Some(conn),
                closed: None,
                id: String::new(),
                resume_token: String::new(),
                features: vec![],
                last_seq: 0,
                backlog: VecDeque::new(),
                auto_pong: w.auto_pong,
            };
            if let Some(old) = self.sessions.remove(&w.session) {
                // A resumed session keeps what it had; the old transport goes.
                s.id = old.id;
                s.resume_token = old.resume_token;
                s.features = old.features;
                s.last_seq = old.last_seq;
            }
            self.sessions.insert(w.session.clone(), s);
        }
        self.sess(&w.session)?.auto_pong = w.auto_pong;
        let frame = self.first_of(&w.session, want, until).await?;
        self.check_pattern(&w.pattern, &frame, want)?;
        self.capture(&frame, &w.capture)?;
        let offered = crate::wire::feature::offered(&frame.value["payload"]);
        if !w.resume {
            let missing: Vec<&str> = self
                .case
                .requires
                .features
                .iter()
                .map(|f| f.as_str())
                .filter(|f| !offered.iter().any(|o| o == f))
                .collect();
            if !missing.is_empty() {
                let why = format!(
                    "needs feature {} which the client did not offer in session.hello",
                    missing.join(", ")
                );
                self.not_applicable = Some(why.clone());
                return Err(Stop::fail(why));
            }
        }
        if let Some(code) = &w.code {
            return self.send_error(&w.session, code, &frame).await;
        }
        let advertised: Vec<String> = match &w.features {
            FeatureSet::All => Feature::all_names(),
            FeatureSet::List(l) => l.clone(),
        };
        let token = crate::ids::resume_token();
        {
            let sess = self.sess(&w.session)?;
            if !w.resume || sess.id.is_empty() {
                sess.id = crate::ids::session_id();
                sess.features = crate::wire::feature::intersect(&offered, &advertised);
            }
            sess.resume_token = token.clone();
        }
        let mut payload = json!({
            "runtime": {"name": "arcp-conform", "version": env!("CARGO_PKG_VERSION")},
            "resume_token": token,
            "resume_window_sec": 600,
            "heartbeat_interval_sec": 30,
            "capabilities": {
                "encodings": ["json"],
                "features": advertised,
                "agents": [
                    {"name": "conformance", "versions": ["1.0.0", "2.0.0"], "default": "2.0.0"},
                    {"name": "echo", "versions": ["1.0.0"], "default": "1.0.0"},
                ],
            },
        });
        let over = self.render_object(&w.payload)?;
        merge(&mut payload, &over);
        let env = self.envelope(&w.session, "session.welcome", payload)?;
        let features = self.sess(&w.session)?.features.clone();
        self.monitor.opened(&w.session, &features);
        self.vars
            .insert(format!("{}_hello", w.session), frame.value.clone());
        self.send_value(&w.session, env).await
    }

    pub(super) async fn accept(&mut self, a: &Accept) -> StepResult {
        let until = Instant::now() + self.deadline(a.within);
        let frame = self.first_of(&a.session, "job.submit", until).await?;
        self.check_pattern(&a.pattern, &frame, "job.submit")?;
        self.capture(&frame, &a.capture)?;
        if let Some(code) = &a.code {
            return self.send_error(&a.session, code, &frame).await;
        }
        let job = crate::ids::job_id();
        self.vars
            .insert(a.capture_as.clone(), Value::from(job.clone()));
        let p = &frame.value["payload"];
        let agent = p.get("agent").and_then(Value::as_str).unwrap_or("echo");
        let agent = if agent.contains('@') {
            agent.to_string()
        } else if agent == "conformance" {
            format!("{agent}@2.0.0")
        } else {
            format!("{agent}@1.0.0")
        };
        let mut payload = json!({
            "job_id": job,
            "agent": agent,
            "lease": p.get("lease_request").cloned().unwrap_or(json!({})),
            "accepted_at": crate::clock::timestamp(chrono::Utc::now()),
        });
        if let Some(lc) = p.get("lease_constraints") {
            payload["lease_constraints"] = lc.clone();
        }
        let over = self.render_object(&a.payload)?;
        merge(&mut payload, &over);
        let mut env = self.envelope(&a.session, "job.accepted", payload)?;
        env["job_id"] = Value::from(job);
        if let Some(t) = frame.value.get("trace_id") {
            env["trace_id"] = t.clone();
        }
        self.send_value(&a.session, env).await
    }

    pub(super) async fn emit(&mut self, e: &Emit) -> StepResult {
        let job = self.render_text(&e.job)?;
        let (kind, mut payload) = match &e.what {
            EmitWhat::Event { kind, body } => (
                "job.event".to_string(),
                json!({"kind": kind, "ts": crate::clock::timestamp(chrono::Utc::now()), "body": self.render(body)?}),
            ),
            EmitWhat::Result(v) => (
                "job.result".to_string(),
                json!({"final_status": "success", "result": self.render(v)?}),
            ),
            EmitWhat::Error(code) => {
                let c = ErrorCode::parse(code)
                    .ok_or_else(|| Stop::harness(format!("unknown code {code}")))?;
                let status = match c {
                    ErrorCode::Cancelled => "cancelled",
                    ErrorCode::Timeout => "timed_out",
                    _ => "error",
                };
                let mut p =
                    crate::wire::ErrorPayload::new(c, "the job failed (scripted by arcp-conform)")
                        .to_value();
                p["final_status"] = Value::from(status);
                ("job.error".to_string(), p)
            }
            EmitWhat::Message(t) => (t.clone(), json!({})),
        };
        let over = self.render_object(&e.payload)?;
        merge(&mut payload, &over);
        let seq = match &e.seq {
            Some(s) => Some(
                self.render(s)?
                    .as_u64()
                    .ok_or_else(|| Stop::harness("`seq` must render to a non-negative integer"))?,
            ),
            None if matches!(kind.as_str(), "job.event" | "job.result" | "job.error") => {
                Some(self.sess(&e.session)?.last_seq + 1)
            }
            None => None,
        };
        let mut env = self.envelope(&e.session, &kind, payload)?;
        env["job_id"] = Value::from(job);
        if let Some(s) = seq {
            env["event_seq"] = json!(s);
            self.sess(&e.session)?.last_seq = s;
        }
        let over = self.render(&Value::Object(e.envelope.clone()))?;
        play::override_envelope(&mut env, over);
        self.send_value(&e.session, env).await
    }

    pub(super) async fn send(&mut self, name: &str, frame: &SendFrame) -> StepResult {
        match frame {
            SendFrame::Raw(raw) => {
                let text = self.render_text(raw)?;
                self.send_text(name, text).await
            }
            SendFrame::Oversize(n) => {
                let text = play::oversize(self, name, *n)?;
                self.send_text(name, text).await
            }
            SendFrame::Message(m) => {
                let payload = self.render(&m.payload)?;
                let env = play::message(self, name, m, &m.kind, payload)?;
                self.send_value(name, env).await
            }
        }
    }
}
