//! The runtime role: what each step means when the harness is the client
//! of a runtime under test ([`Role`] for [`Run`]).

use super::play::{self, Miss, Peer, Role};
use super::session::{Frame, Sess};
use super::shared::merge;
use super::{Run, StepResult, Stop, Wire};
use crate::case::{
    Auth, ErrorSource, Expect, ExpectError, FeatureSet, Frame as SendFrame, Hello, HelloOutcome,
    JobStatus, Span, StepKind, Submit, SubmitOutcome, WaitJob,
};
use crate::clock::SharedClock;
use crate::matcher;
use crate::profile::IdentityDialect;
use crate::template::Builtin;
use crate::verdict::Direction;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

impl Role for Run<'_> {
    const PEER: Peer = Peer::Runtime;

    fn vars(&self) -> &BTreeMap<String, Value> {
        &self.vars
    }

    fn vars_mut(&mut self) -> &mut BTreeMap<String, Value> {
        &mut self.vars
    }

    fn builtin(&self, b: Builtin) -> Option<Value> {
        match b {
            b @ (Builtin::Limit(_) | Builtin::Ms(_) | Builtin::List(..)) => {
                b.limit_value(self.limits())
            }
            Builtin::SessionId(s) => self.sessions.get(&s)?.id.clone().map(Value::from),
            Builtin::SessionResumeToken(s) => {
                self.sessions.get(&s)?.resume_token.clone().map(Value::from)
            }
            Builtin::SessionLastSeq(s) => Some(json!(self.sessions.get(&s)?.last_seq)),
            Builtin::Agent(role) => {
                // What the welcomes so far advertised (none before a welcome).
                let advertised: Vec<String> = self
                    .sessions
                    .values()
                    .flat_map(|s| s.agents.iter().cloned())
                    .collect();
                self.target
                    .profile
                    .agents
                    .for_role(role, &advertised)
                    .map(Value::from)
            }
            Builtin::Now(_) => None,
            Builtin::PrincipalToken(p) => self
                .target
                .profile
                .tokens
                .for_principal(p.as_str())
                .map(Value::from),
        }
    }

    fn wire(&self) -> &Wire {
        &self.wire
    }

    fn at_line(&mut self, line: usize) {
        self.current_line = line;
    }

    fn clock(&self) -> &SharedClock {
        &self.target.clock
    }

    fn span(&self, s: &Span) -> Result<Duration, Stop> {
        Run::span(self, s)
    }

    fn deadline(&self, d: Duration) -> Duration {
        Run::deadline(self, d)
    }

    async fn receive(&mut self, name: &str, until: Instant) -> Result<Option<Frame>, Stop> {
        Run::receive(self, name, until).await
    }

    fn backlog(&mut self, name: &str) -> Result<&mut VecDeque<Frame>, Stop> {
        Ok(&mut self.sess(name)?.backlog)
    }

    fn keep(&mut self, name: &str, f: Frame) -> StepResult {
        self.sess(name)?.push(f)
    }

    fn take(&mut self, name: &str, i: usize) -> Result<Frame, Stop> {
        Ok(self.sess(name)?.take(i))
    }

    fn closed(&mut self, name: &str) -> Result<bool, Stop> {
        let sess = self.sess(name)?;
        if sess.closed.is_some() {
            sess.drop_link();
        }
        Ok(sess.closed.is_some())
    }

    fn drop_transport(&mut self, name: &str) -> StepResult {
        let sess = self.sess(name)?;
        sess.drop_link();
        sess.closed = Some("dropped by the harness".into());
        sess.backlog.clear();
        sess.backlog_bytes = 0;
        Ok(())
    }

    /// A target that answers nothing at all, not even a ping, is an ERROR;
    /// so is a close no step expected.
    async fn missed(&mut self, name: &str, miss: Miss) -> Stop {
        if let Some(reason) = self.sessions.get(name).and_then(|s| s.closed.clone()) {
            let why = format!(
                "transport closed ({reason}) while waiting for {}",
                miss.describe
            );
            return self.closed_error(name, &why);
        }
        self.deadline_missed = !miss.near();
        if miss.seen == 0 && miss.closest.is_none() && !self.alive(name).await {
            return Stop::target(format!(
                "target is unresponsive: nothing arrived within {:?} while waiting for {}, and a session.ping went unanswered",
                miss.within, miss.describe
            ));
        }
        miss.stop(Peer::Runtime)
    }

    fn deadline_passed(&mut self) {
        self.deadline_missed = true;
    }

    fn envelope(&mut self, name: &str, kind: &str, payload: Value) -> Result<Value, Stop> {
        Run::envelope(self, name, kind, payload)
    }

    async fn own_step(&mut self, kind: &StepKind) -> Option<StepResult> {
        Some(match kind {
            StepKind::Open(h) => match self.connect(&h.session, h).await {
                Ok(()) => self.hello(h).await,
                Err(e) => Err(e),
            },
            StepKind::Connect(s) => self.connect_plain(&s.session).await,
            StepKind::Hello(h) => self.hello(h).await,
            StepKind::Send(s) => self.send(&s.session, &s.frame).await,
            StepKind::Submit(s) => self.submit(s).await,
            StepKind::Expect(e) => self.expect(e).await,
            StepKind::ExpectError(e) => self.expect_error(e).await,
            StepKind::Resume(r) => self.resume(r).await,
            StepKind::WaitJob(w) => self.wait_job(w).await,
            StepKind::ExpectUpstream(e) => self.expect_upstream(e).await,
            StepKind::ExpectUpstreamNone(e) => self.expect_upstream_none(e).await,
            StepKind::UpstreamFail(f) => self.upstream_fail(f),
            k @ (StepKind::Welcome(_)
            | StepKind::Accept(_)
            | StepKind::Emit(_)
            | StepKind::ExpectOutput(_)) => Err(Stop::harness(format!(
                "`{}` belongs to `role: client` cases; run them with `arcp-conform client`",
                k.name()
            ))),
            _ => return None,
        })
    }
}

impl Run<'_> {
    async fn connect_plain(&mut self, name: &str) -> StepResult {
        self.connect_as(name, "alice").await
    }

    async fn connect(&mut self, name: &str, h: &Hello) -> StepResult {
        self.connect_as(name, h.principal.as_str()).await
    }

    async fn connect_as(&mut self, name: &str, principal: &str) -> StepResult {
        let conn = self.target.connect(&self.instance).await.map_err(|e| {
            Stop::target(format!(
                "could not connect to {}: {e}",
                self.target.describe()
            ))
        })?;
        self.wire.log(
            name,
            Direction::Note,
            &format!("connected to {}", conn.peer),
        );
        if let Some(old) = self.sessions.insert(
            name.to_string(),
            Sess::new(
                conn,
                principal,
                self.wire.clone(),
                name,
                self.target.clock.clone(),
            ),
        ) {
            old.shutdown().await;
        }
        Ok(())
    }

    async fn hello(&mut self, h: &Hello) -> StepResult {
        let token = self
            .target
            .profile
            .tokens
            .for_principal(h.principal.as_str())
            .ok_or_else(|| {
                Stop::harness(format!(
                    "the profile has no token for principal `{}`",
                    h.principal
                ))
            })?;
        let offered: Vec<String> = match &h.features {
            FeatureSet::All => crate::wire::Feature::all_names(),
            FeatureSet::List(l) => l.clone(),
        };
        let (cname, cver) = match &h.client {
            Some(c) => (c.name.clone(), c.version.clone()),
            None => (
                "arcp-conform".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        };
        let dialect = self.target.profile.dialect.clone();
        let mut payload = dialect.client_identity(&cname, &cver);
        payload["capabilities"] = json!({"encodings": ["json"], "features": offered});
        for note in dialect.hello_deviations() {
            self.note_dialect(&note);
        }
        match &h.auth {
            Auth::Default => payload["auth"] = json!({"scheme": "bearer", "token": token}),
            Auth::Omit => {}
            Auth::Replace(v) => payload["auth"] = self.render(v)?,
        }
        if let Some(over) = &h.payload {
            let over = self.render(&Value::Object(over.clone()))?;
            merge(&mut payload, &over);
        }
        {
            let sess = self.sess(&h.session)?;
            sess.principal = h.principal.as_str().to_string();
            sess.shared
                .auto_pong
                .store(h.auto_pong, std::sync::atomic::Ordering::Relaxed);
        }
        let env = self.envelope(&h.session, "session.hello", payload)?;
        self.send_text(&h.session, env.to_string()).await?;
        self.await_welcome(&h.session, &offered, &h.expect, "session.hello")
            .await
    }

    /// After hello or resume: the welcome (or the error the case expects).
    pub(super) async fn await_welcome(
        &mut self,
        name: &str,
        offered: &[String],
        expect: &HelloOutcome,
        sent: &str,
    ) -> StepResult {
        let within = crate::case::DEFAULT_EXPECT_WITHIN;
        let pattern = json!({"type": {"$one_of": ["session.welcome", "session.error"]}});
        let key = format!("tokens.{}", self.sess(name)?.principal);
        let frame = match play::await_match(
            self,
            name,
            &pattern,
            within,
            false,
            &format!("a reply to {sent}"),
        )
        .await
        {
            // A close right after hello, worded as an auth refusal, is one.
            Err(Stop::Error { reason, origin })
                if matches!(expect, HelloOutcome::Welcome) && auth_wording(&reason) =>
            {
                return Err(Stop::Error {
                    reason: format!(
                        "authentication failed: the target refused {sent} with the profile's `{key}` ({reason})"
                    ),
                    origin,
                });
            }
            r => r?,
        };
        match (frame.kind(), expect) {
            ("session.welcome", HelloOutcome::Welcome) => {
                let theirs = crate::wire::feature::offered(&frame.value["payload"]);
                let features = crate::wire::feature::intersect(offered, &theirs);
                let principal = self.sess(name)?.principal.clone();
                let clock = self.target.clock.clone();
                let sess = self.sess(name)?;
                if let Some(id) = frame.value.get("session_id").and_then(Value::as_str) {
                    sess.set_id(Some(id.to_string()));
                }
                sess.resume_token = frame
                    .value
                    .pointer("/payload/resume_token")
                    .and_then(Value::as_str)
                    .map(String::from);
                sess.features = features.clone();
                sess.agents = super::runner::advertised_agents(&frame.value);
                if features.iter().any(|f| f == "heartbeat") {
                    let hb = frame
                        .value
                        .pointer("/payload/heartbeat_interval_sec")
                        .and_then(Value::as_f64)
                        .filter(|s| *s > 0.0 && s.is_finite())
                        .map(|s| clock.wall(Duration::from_secs_f64(s)));
                    *sess.shared.heartbeat.lock().unwrap() = hb;
                }
                self.monitor.opened(name, &principal, &features);
                let p = &frame.value["payload"];
                if self.target.profile.dialect.client_identity == IdentityDialect::Flat
                    && p.get("runtime").is_none()
                    && p.get("runtime_name").is_some()
                {
                    // The flat identity's other half: noted, never fatal.
                    self.note_dialect("the welcome names the runtime with flat runtime_name/runtime_version (profile dialect `client_identity: flat`)");
                }
                self.vars
                    .insert(format!("{name}_welcome"), frame.value.clone());
                Ok(())
            }
            ("session.error", HelloOutcome::Error { code }) => check_code(&frame, code.as_deref()),
            ("session.welcome", HelloOutcome::Error { code }) => Err(Stop::Fail {
                reason: format!("{sent} was accepted, but the requirement says it must be refused"),
                expected: Some(format!(
                    "session.error{}",
                    code.as_deref()
                        .map(|c| format!(" with code {c}"))
                        .unwrap_or_default()
                )),
                actual: Some(matcher::show(&frame.value)),
            }),
            // A resume refused for anything but its bearer token (a
            // session.resume carries none; in a hello, UNAUTHENTICATED is the
            // token's): the session or resume token, which the message names.
            (_, HelloOutcome::Welcome)
                if sent != "session.hello"
                    && frame.kind() == "session.error"
                    && (sent == "session.resume"
                        || frame.value["payload"]["code"] != "UNAUTHENTICATED") =>
            {
                Err(Stop::Fail {
                    reason: format!(
                        "{sent} was refused with {}: {}",
                        frame.value["payload"]["code"].as_str().unwrap_or("?"),
                        matcher::show(&frame.value["payload"]["message"])
                    ),
                    expected: Some("session.welcome".into()),
                    actual: Some(matcher::show(&frame.value)),
                })
            }
            (_, HelloOutcome::Welcome) if auth_refusal(&frame.value) => Err(Stop::Fail {
                reason: format!(
                    "authentication failed: {sent} was refused with {} for the profile's `{key}`; put a token the target accepts there",
                    frame.value["payload"]["code"].as_str().unwrap_or("?")
                ),
                expected: Some("session.welcome".into()),
                actual: Some(matcher::show(&frame.value)),
            }),
            (_, HelloOutcome::Welcome) => Err(Stop::Fail {
                reason: format!("{sent} was refused"),
                expected: Some("session.welcome".into()),
                actual: Some(matcher::show(&frame.value)),
            }),
            _ => unreachable!("pattern admits only welcome or error"),
        }
    }

    async fn send(&mut self, name: &str, frame: &SendFrame) -> StepResult {
        let text = match frame {
            SendFrame::Raw(raw) => self.render_text(raw)?,
            SendFrame::Oversize(n) => play::oversize(self, name, *n)?,
            SendFrame::Message(m) => {
                let mut payload = self.render(&m.payload)?;
                let dialect = &self.target.profile.dialect;
                let kind = if m.kind == "session.close" && dialect.close != "session.close" {
                    let k = dialect.close.clone();
                    self.note_dialect(&format!("close sent as `{k}` (profile dialect)"));
                    k
                } else {
                    m.kind.clone()
                };
                if kind != m.kind && payload.get("reason").is_none() {
                    // The dialect's close (e.g. session.bye) may require a reason.
                    payload["reason"] = json!("arcp-conform: case finished");
                }
                play::message(self, name, m, &kind, payload)?.to_string()
            }
        };
        self.send_text(name, text).await
    }

    async fn submit(&mut self, s: &Submit) -> StepResult {
        let mut payload =
            json!({"agent": self.render_text(&s.agent)?, "input": self.render(&s.input)?});
        for (k, v) in [
            ("lease_request", &s.lease_request),
            ("lease_constraints", &s.lease_constraints),
            ("max_runtime_sec", &s.max_runtime_sec),
        ] {
            if let Some(v) = v {
                payload[k] = self.render(v)?;
            }
        }
        if let Some(k) = &s.idempotency_key {
            payload["idempotency_key"] = Value::from(self.render_text(k)?);
        }
        let mut env = self.envelope(&s.session, "job.submit", payload)?;
        if let Some(t) = &s.trace_id {
            env["trace_id"] = Value::from(self.render_text(t)?);
        }
        self.send_text(&s.session, env.to_string()).await?;
        let pattern = json!({"type": {"$one_of": ["job.accepted", "session.error", "job.error"]}});
        let frame = play::await_match(
            self,
            &s.session,
            &pattern,
            crate::case::DEFAULT_EXPECT_WITHIN,
            false,
            "a reply to job.submit",
        )
        .await?;
        match (frame.kind(), &s.expect) {
            ("job.accepted", SubmitOutcome::Accepted) => {
                let job = frame
                    .value
                    .pointer("/payload/job_id")
                    .or_else(|| frame.value.get("job_id"))
                    .cloned()
                    .ok_or_else(|| Stop::fail("job.accepted without a job_id"))?;
                self.vars.insert(s.capture_as.clone(), job);
                self.vars.insert(
                    format!("{}_accepted", s.capture_as),
                    frame.value["payload"].clone(),
                );
                Ok(())
            }
            ("job.accepted", SubmitOutcome::Error { code }) => Err(Stop::Fail {
                reason: "the submission was accepted, but the requirement says it must be refused"
                    .into(),
                expected: Some(format!(
                    "an error{}",
                    code.as_deref()
                        .map(|c| format!(" with code {c}"))
                        .unwrap_or_default()
                )),
                actual: Some(matcher::show(&frame.value)),
            }),
            (_, SubmitOutcome::Error { code }) => check_code(&frame, code.as_deref()),
            (_, SubmitOutcome::Accepted) => Err(Stop::Fail {
                reason: "the submission was refused".into(),
                expected: Some("job.accepted".into()),
                actual: Some(matcher::show(&frame.value)),
            }),
        }
    }

    /// `expect`, in the target's dialect: a close it answers otherwise, or
    /// not at all.
    async fn expect(&mut self, e: &Expect) -> StepResult {
        if self.target.profile.dialect.closed_by_transport()
            && e.pattern.get("type").and_then(Value::as_str) == Some("session.closed")
        {
            // The dialect's close has no answer: the transport closing honours it.
            self.note_dialect(
                "close honoured by the transport closing (profile dialect `closed: none`)",
            );
            let d = self.span(&e.within)?;
            return play::expect_close(self, &e.session, d).await;
        }
        let mut pattern = self.render(&e.pattern)?;
        if pattern["type"] == "session.closed" {
            let closed = self.target.profile.dialect.closed.clone();
            if closed != "session.closed" {
                self.note_dialect(&format!("close answered as `{closed}` (profile dialect)"));
                pattern["type"] = Value::from(closed);
            }
        }
        if e.or_close {
            self.sess(&e.session)?.close_allowed = true;
        }
        play::expect_rendered(self, e, &pattern).await.map(|_| ())
    }

    async fn expect_error(&mut self, e: &ExpectError) -> StepResult {
        let code = e
            .code
            .clone()
            .map(Value::from)
            .unwrap_or_else(|| Value::from("$string"));
        let session_error = json!({"type": "session.error", "payload": {"code": code}});
        let job_error = json!({"type": "job.error", "payload": {"code": code}});
        let tool = json!({"type": "job.event", "payload": {"kind": "tool_result", "body": {"error": {"code": code}}}});
        let pattern = match e.source {
            ErrorSource::SessionError => session_error,
            ErrorSource::JobError => job_error,
            ErrorSource::ToolResult => tool,
            ErrorSource::Any => json!({"$one_of": [session_error, job_error, tool]}),
        };
        if e.or_close {
            self.sess(&e.session)?.close_allowed = true;
        }
        let within = self.span(&e.within)?;
        play::await_match(self, &e.session, &pattern, within, false, "")
            .await
            .map(|_| ())
    }

    async fn wait_job(&mut self, w: &WaitJob) -> StepResult {
        let job = self.render_text(&w.job)?;
        let pattern = json!({"type": {"$one_of": ["job.result", "job.error"]}, "job_id": job});
        let within = self.span(&w.within)?;
        let frame = play::await_match(
            self,
            &w.session,
            &pattern,
            within,
            false,
            &format!("the terminal message of job {job}"),
        )
        .await?;
        let status = frame
            .value
            .pointer("/payload/final_status")
            .and_then(Value::as_str)
            .unwrap_or("(none)");
        if w.status != JobStatus::Terminal && status != w.status.as_str() {
            return Err(Stop::Fail {
                reason: format!("job {job} ended `{status}`, not `{}`", w.status.as_str()),
                expected: Some(format!("final_status {}", w.status.as_str())),
                actual: Some(matcher::show(&frame.value)),
            });
        }
        self.capture(&frame, &w.capture)
    }
}

/// A `session.error` refusing the credentials (§12: UNAUTHENTICATED, PERMISSION_DENIED).
pub(crate) fn auth_refusal(v: &Value) -> bool {
    v["type"] == "session.error"
        && matches!(
            v.pointer("/payload/code").and_then(Value::as_str),
            Some("UNAUTHENTICATED" | "PERMISSION_DENIED")
        )
}

/// A close reason (WebSocket close text, stderr) that speaks of a refused credential.
fn auth_wording(reason: &str) -> bool {
    let r = reason.to_lowercase();
    (r.contains("closed the transport") || r.contains("crashed"))
        && [
            "unauth",
            "authenticat",
            "invalid token",
            "bad token",
            "forbidden",
            "401",
            "403",
        ]
        .iter()
        .any(|w| r.contains(w))
}

fn check_code(frame: &Frame, code: Option<&str>) -> StepResult {
    let got = frame
        .value
        .pointer("/payload/code")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    match code {
        Some(c) if c != got => Err(Stop::Fail {
            reason: format!("refused with {got}, not {c}"),
            expected: Some(format!("code {c}")),
            actual: Some(matcher::show(&frame.value)),
        }),
        _ => Ok(()),
    }
}
