//! One connection to the reference runtime: handshake, resume, heartbeats,
//! ack, listing, close, and dispatch of job messages (§6).

use super::state::{Outbound, SessionState};
use super::{Fault, Runtime};
use crate::transport::{Conn, Inbound};
use crate::wire::{feature, Envelope, ErrorCode, Feature, MessageType};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::mpsc;

/// A request the runtime refuses, answered with `session.error`.
pub type Refusal = (ErrorCode, String);

pub(crate) fn refuse<T>(code: ErrorCode, msg: impl Into<String>) -> Result<T, Refusal> {
    Err((code, msg.into()))
}

/// What the connection loop does after handling a frame.
enum Next {
    Continue,
    Close,
}

struct Connection {
    rt: Runtime,
    no: u64,
    tx: mpsc::UnboundedSender<Outbound>,
    session: Option<String>,
    last_rx: chrono::DateTime<chrono::Utc>,
    last_tx: std::sync::Arc<std::sync::Mutex<chrono::DateTime<chrono::Utc>>>,
    heartbeat_lost: bool,
}

pub async fn serve_conn(rt: Runtime, conn: Conn) {
    let (conn_tx, mut inbound, _process) = conn.into_parts();
    let (tx, mut rx) = mpsc::unbounded_channel::<Outbound>();
    let now = rt.clock().now();
    let last_tx = std::sync::Arc::new(std::sync::Mutex::new(now));
    let writer_last_tx = last_tx.clone();
    let clock = rt.clock().clone();
    let writer = tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            match item {
                Outbound::Frame(f) => {
                    *writer_last_tx.lock().unwrap() = clock.now();
                    if conn_tx.send(f).await.is_err() {
                        break;
                    }
                }
                Outbound::Close => break,
            }
        }
        // Dropping conn_tx closes the transport.
    });
    let no = {
        let mut st = rt.lock();
        st.next_conn += 1;
        st.next_conn
    };
    let mut c = Connection {
        rt: rt.clone(),
        no,
        tx,
        session: None,
        last_rx: now,
        last_tx,
        heartbeat_lost: false,
    };
    let hello_deadline = rt.clock().now()
        + chrono::Duration::from_std(rt.config().hello_timeout).unwrap_or_default();
    loop {
        let tick = c.tick_interval();
        let item = tokio::select! {
            item = inbound.recv() => item,
            _ = rt.clock().sleep(tick) => {
                if c.session.is_none() && rt.clock().now() >= hello_deadline {
                    break;
                }
                if let Next::Close = c.heartbeat() { break; }
                continue;
            }
        };
        c.last_rx = rt.clock().now();
        let next = match item {
            None | Some(Inbound::Closed(_)) => break,
            Some(Inbound::Fault(fault)) => {
                if !rt.fault(Fault::SilentOnInvalid) {
                    c.error(ErrorCode::InvalidRequest, fault.to_string(), None);
                }
                Next::Continue
            }
            Some(Inbound::Frame(text)) => c.handle(&text),
        };
        if let Next::Close = next {
            let _ = c.tx.send(Outbound::Close);
            break;
        }
        if c.tx.is_closed() {
            break;
        }
    }
    c.detach();
    drop(c);
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

impl Connection {
    fn send(&self, env: Envelope) {
        let _ = self.tx.send(Outbound::Frame(env.encode()));
    }

    fn sid(&self) -> Option<String> {
        self.session.clone()
    }

    fn error(&self, code: ErrorCode, message: impl Into<String>, request_id: Option<&str>) {
        let mut err = self.rt.error_value(code, &message.into());
        if let Some(id) = request_id {
            err["request_id"] = Value::from(id);
        }
        let mut env = Envelope::new(MessageType::SessionError.as_str(), err);
        env.session_id = self.sid();
        self.send(env);
    }

    fn has(&self, f: Feature) -> bool {
        let Some(sid) = &self.session else {
            return false;
        };
        self.rt.lock().sessions.get(sid).is_some_and(|s| s.has(f))
    }

    /// How often the loop wakes for heartbeat and hello-timeout checks.
    fn tick_interval(&self) -> Duration {
        let hb = self.rt.config().heartbeat_interval;
        if self.has(Feature::Heartbeat) {
            hb / 4
        } else {
            self.rt
                .config()
                .hello_timeout
                .min(Duration::from_secs(3600))
                / 4
        }
    }

    /// §6.4: ping when we have been quiet for an interval; give up after two
    /// silent intervals from the peer. Jobs keep running either way.
    fn heartbeat(&mut self) -> Next {
        if !self.has(Feature::Heartbeat) {
            return Next::Continue;
        }
        let now = self.rt.clock().now();
        let interval =
            chrono::Duration::from_std(self.rt.config().heartbeat_interval).unwrap_or_default();
        if now - self.last_rx >= interval * 2 {
            self.heartbeat_lost = true;
            self.error(
                ErrorCode::HeartbeatLost,
                "no traffic for two heartbeat intervals",
                None,
            );
            return Next::Close;
        }
        let last_tx = *self.last_tx.lock().unwrap();
        if now - last_tx >= interval {
            let env = Envelope::new(
                MessageType::SessionPing.as_str(),
                json!({"nonce": crate::ids::nonce(), "sent_at": self.rt.now_ts()}),
            );
            let mut env = env;
            env.session_id = self.sid();
            *self.last_tx.lock().unwrap() = now;
            self.send(env);
        }
        Next::Continue
    }

    fn detach(&mut self) {
        let Some(sid) = self.session.take() else {
            return;
        };
        let now = self.rt.clock().now();
        let kill = self.heartbeat_lost && self.rt.fault(Fault::KillJobsOnHeartbeatLoss);
        let jobs: Vec<String> = {
            let mut st = self.rt.lock();
            if let Some(s) = st.sessions.get_mut(&sid) {
                if s.out.as_ref().is_some_and(|(n, _)| *n == self.no) {
                    s.out = None;
                    s.detached_at = Some(now);
                }
            }
            st.jobs
                .values()
                .filter(|j| j.session_id == sid && !j.terminal)
                .map(|j| j.id.clone())
                .collect()
        };
        if kill {
            for j in jobs {
                self.rt
                    .terminate(&j, ErrorCode::HeartbeatLost, "heartbeat lost");
            }
        }
    }

    fn handle(&mut self, text: &str) -> Next {
        let silent = self.rt.fault(Fault::SilentOnInvalid);
        let env = match Envelope::decode(text) {
            Ok(env) => env,
            Err(e) => {
                if !silent {
                    self.error(ErrorCode::InvalidRequest, e.to_string(), None);
                }
                return Next::Continue;
            }
        };
        if self.rt.fault(Fault::RejectUnknownFields) {
            if let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(text) {
                if let Some(k) = obj
                    .keys()
                    .find(|k| !crate::wire::ENVELOPE_FIELDS.contains(&k.as_str()))
                {
                    self.error(
                        ErrorCode::InvalidRequest,
                        format!("unknown field `{k}`"),
                        Some(&env.id),
                    );
                    return Next::Continue;
                }
            }
        }
        if !(env.arcp == "1"
            || env.arcp.starts_with("1.")
            || self.rt.fault(Fault::AcceptAnyVersion))
        {
            self.error(
                ErrorCode::InvalidRequest,
                format!("unsupported arcp version `{}`", env.arcp),
                Some(&env.id),
            );
            return Next::Continue;
        }
        let Some(kind) = env.message_type() else {
            if !silent {
                self.error(
                    ErrorCode::InvalidRequest,
                    format!("unknown message type `{}`", env.kind),
                    Some(&env.id),
                );
            }
            return Next::Continue;
        };
        if !kind.sent_by_client() {
            self.error(
                ErrorCode::InvalidRequest,
                format!("`{kind}` is sent by runtimes, not clients"),
                Some(&env.id),
            );
            return Next::Continue;
        }
        if self.session.is_none()
            && self.rt.fault(Fault::NoHelloRequired)
            && !matches!(kind, MessageType::SessionHello | MessageType::SessionResume)
        {
            // The fault: act as if an anonymous hello had happened.
            let hello = Envelope::new(
                "session.hello",
                json!({"auth": {"scheme": "bearer", "token": crate::runtime::TOKEN_ALICE},
                       "capabilities": {"features": crate::wire::Feature::all_names()}}),
            );
            let (tx, _) = mpsc::unbounded_channel();
            let real = std::mem::replace(&mut self.tx, tx);
            let _ = self.hello(&hello);
            self.tx = real;
            if let Some(sid) = &self.session {
                if let Some(s) = self.rt.lock().sessions.get_mut(sid) {
                    s.out = Some((self.no, self.tx.clone()));
                }
            }
        }
        let Some(sid) = self.sid() else {
            return match kind {
                MessageType::SessionHello => self.hello(&env),
                MessageType::SessionResume => self.resume(&env, &env.payload),
                _ => {
                    self.error(
                        ErrorCode::InvalidRequest,
                        format!("`{kind}` before session.hello"),
                        Some(&env.id),
                    );
                    Next::Continue
                }
            };
        };
        if let Some(claimed) = &env.session_id {
            if *claimed != sid {
                self.error(
                    ErrorCode::InvalidRequest,
                    format!("session_id `{claimed}` is not this session"),
                    Some(&env.id),
                );
                return Next::Continue;
            }
        }
        if let Some(f) = kind.feature() {
            if !self.has(f) {
                self.error(
                    ErrorCode::InvalidRequest,
                    format!("`{kind}` needs feature `{f}`, which was not negotiated"),
                    Some(&env.id),
                );
                return Next::Continue;
            }
        }
        let result = match kind {
            MessageType::SessionHello | MessageType::SessionResume => {
                refuse(ErrorCode::InvalidRequest, "session already established")
            }
            MessageType::SessionPing if !env.payload.get("nonce").is_some_and(Value::is_string) => {
                // The pong must echo a string nonce (§6.4); without one the ping is malformed.
                refuse(
                    ErrorCode::InvalidRequest,
                    "session.ping needs a string nonce",
                )
            }
            MessageType::SessionPing => {
                if !self.rt.fault(Fault::NoPong) {
                    let nonce = env.payload.get("nonce").cloned().unwrap_or(Value::Null);
                    let pong = Envelope::new(
                        MessageType::SessionPong.as_str(),
                        json!({"ping_nonce": nonce, "received_at": self.rt.now_ts()}),
                    )
                    .session(&sid);
                    self.send(pong);
                }
                Ok(())
            }
            MessageType::SessionPong => Ok(()),
            MessageType::SessionAck => self.ack(&sid, &env),
            MessageType::SessionListJobs => self.rt.list_jobs(&sid, &env).map(|payload| {
                self.send(Envelope::new(MessageType::SessionJobs.as_str(), payload).session(&sid))
            }),
            MessageType::SessionClose => return self.close(&sid),
            MessageType::JobSubmit if self.rt.upstream().is_some() => {
                // Issuing at the upstream is a network call: off the connection loop.
                let (rt, tx) = (self.rt.clone(), self.tx.clone());
                let (sid, env) = (sid.clone(), env.clone());
                tokio::spawn(async move {
                    if let Err((code, msg)) = rt.submit_provisioned(&sid, &env).await {
                        let mut err = rt.error_value(code, &msg);
                        err["request_id"] = Value::from(env.id.clone());
                        let e =
                            Envelope::new(MessageType::SessionError.as_str(), err).session(&sid);
                        let _ = tx.send(Outbound::Frame(e.encode()));
                    }
                });
                Ok(())
            }
            MessageType::JobSubmit => self.rt.submit(&sid, &env),
            MessageType::JobCancel => self.rt.cancel(&sid, &env),
            MessageType::JobSubscribe => self.rt.subscribe(&sid, &env),
            MessageType::JobUnsubscribe => self.rt.unsubscribe(&sid, &env),
            _ => unreachable!("client message types are all handled"),
        };
        if let Err((code, msg)) = result {
            self.error(code, msg, Some(&env.id));
        }
        Next::Continue
    }

    fn ack(&self, sid: &str, env: &Envelope) -> Result<(), Refusal> {
        let Some(seq) = env
            .payload
            .get("last_processed_seq")
            .and_then(Value::as_u64)
        else {
            return refuse(
                ErrorCode::InvalidRequest,
                "session.ack needs a non-negative integer last_processed_seq",
            );
        };
        let mut st = self.rt.lock();
        if let Some(s) = st.sessions.get_mut(sid) {
            s.acked = s.acked.max(seq);
        }
        st.collect_garbage(&self.rt, sid);
        Ok(())
    }

    fn close(&mut self, sid: &str) -> Next {
        if self.rt.fault(Fault::CloseKillsJobs) {
            let jobs: Vec<String> = self
                .rt
                .lock()
                .jobs
                .values()
                .filter(|j| j.session_id == sid && !j.terminal)
                .map(|j| j.id.clone())
                .collect();
            for j in jobs {
                self.rt
                    .terminate(&j, ErrorCode::Cancelled, "session closed");
            }
        }
        if self.rt.fault(Fault::NoSessionClosed) {
            return Next::Close;
        }
        self.send(Envelope::new(MessageType::SessionClosed.as_str(), json!({})).session(sid));
        Next::Close
    }

    fn welcome_payload(&self, token: &str, features: &[String]) -> Value {
        let cfg = self.rt.config();
        let bare = self.rt.fault(Fault::BareWelcome);
        let agents: Vec<Value> = cfg
            .agents
            .iter()
            .map(|a| {
                if bare {
                    return json!({"name": a.name});
                }
                let mut v = json!({"name": a.name, "versions": a.versions});
                if let Some(d) = &a.default {
                    v["default"] = Value::from(d.clone());
                }
                v
            })
            .collect();
        let mut w = json!({
            "runtime": {"name": cfg.name, "version": cfg.version},
            "resume_token": token,
            "resume_window_sec": cfg.resume_window.as_secs_f64(),
            "heartbeat_interval_sec": cfg.heartbeat_interval.as_secs_f64(),
            "capabilities": {
                "encodings": ["json"],
                "features": features,
                "agents": agents,
            }
        });
        if bare {
            w.as_object_mut().unwrap().remove("heartbeat_interval_sec");
        }
        w
    }

    fn hello(&mut self, env: &Envelope) -> Next {
        let p = &env.payload;
        if let Some(resume) = p.get("resume").filter(|r| r.is_object()) {
            // Dialect: some SDKs resume through hello.payload.resume.
            return self.resume(env, resume);
        }
        let auth = p.get("auth");
        let scheme = auth.and_then(|a| a.get("scheme")).and_then(Value::as_str);
        let token = auth.and_then(|a| a.get("token")).and_then(Value::as_str);
        let principal = match (scheme, token) {
            (Some(s), _)
                if !s.eq_ignore_ascii_case("bearer") && !self.rt.fault(Fault::AcceptAnyScheme) =>
            {
                None
            }
            (_, t) => self.rt.principal_for(t),
        };
        let Some(principal) = principal else {
            self.error(
                ErrorCode::Unauthenticated,
                "missing or invalid bearer token",
                Some(&env.id),
            );
            return Next::Close;
        };
        let requested = crate::wire::feature::offered(p);
        let supported = &self.rt.config().features;
        let features = if self.rt.fault(Fault::IgnoreFeatureIntersection) {
            supported.clone()
        } else {
            feature::intersect(supported, &requested)
        };
        let sid = crate::ids::session_id();
        let token = crate::ids::resume_token();
        let welcome = Envelope::new(
            MessageType::SessionWelcome.as_str(),
            self.welcome_payload(&token, &features),
        )
        .session(&sid);
        let mut st = self.rt.lock();
        st.sessions.insert(
            sid.clone(),
            SessionState {
                id: sid.clone(),
                principal,
                features,
                resume_token: token,
                old_tokens: vec![],
                last_seq: 0,
                buffer: Default::default(),
                acked: 0,
                out: Some((self.no, self.tx.clone())),
                detached_at: None,
                subscriptions: Default::default(),
                fault_fired: false,
                resumed: false,
            },
        );
        self.send(welcome);
        drop(st);
        self.session = Some(sid);
        Next::Continue
    }

    /// §6.3: find the session by its latest token, rotate the token, answer
    /// with a welcome and replay what follows `last_event_seq`.
    fn resume(&mut self, env: &Envelope, args: &Value) -> Next {
        let Some(token) = args.get("resume_token").and_then(Value::as_str) else {
            self.error(
                ErrorCode::InvalidRequest,
                "session.resume needs resume_token",
                Some(&env.id),
            );
            return Next::Continue;
        };
        let last = match args.get("last_event_seq") {
            None | Some(Value::Null) => 0,
            Some(v) => match v.as_u64() {
                Some(n) => n,
                None => {
                    self.error(
                        ErrorCode::InvalidRequest,
                        "last_event_seq must be a non-negative integer",
                        Some(&env.id),
                    );
                    return Next::Continue;
                }
            },
        };
        let rt = self.rt.clone();
        let mut st = rt.lock();
        let accept_old = rt.fault(Fault::AcceptOldResumeToken);
        let found = st
            .sessions
            .values()
            .find(|s| {
                s.resume_token == token || (accept_old && s.old_tokens.iter().any(|t| t == token))
            })
            .map(|s| s.id.clone());
        let Some(sid) = found else {
            drop(st);
            self.error(
                ErrorCode::Unauthenticated,
                "unknown or superseded resume token",
                Some(&env.id),
            );
            return Next::Close;
        };
        st.collect_garbage(&rt, &sid);
        let s = st.sessions.get_mut(&sid).expect("found above");
        let covered = last >= s.last_seq || s.buffer.front().is_some_and(|b| b.seq <= last + 1);
        if !covered && !rt.fault(Fault::ResumeAnySeq) {
            drop(st);
            self.error(
                ErrorCode::ResumeWindowExpired,
                format!("events after {last} are no longer buffered"),
                Some(&env.id),
            );
            return Next::Close;
        }
        if !rt.fault(Fault::KeepResumeToken) {
            let old = std::mem::replace(&mut s.resume_token, crate::ids::resume_token());
            s.old_tokens.push(old);
        }
        if let Some((_, old_tx)) = s.out.take() {
            let _ = old_tx.send(Outbound::Close);
        }
        let features = s.features.clone();
        let token = s.resume_token.clone();
        let welcome = Envelope::new(
            MessageType::SessionWelcome.as_str(),
            self.welcome_payload(&token, &features),
        )
        .session(&sid);
        self.send(welcome);
        if !rt.fault(Fault::NoReplayOnResume) {
            for b in s.buffer.iter().filter(|b| b.seq > last) {
                let _ = self.tx.send(Outbound::Frame(b.frame.clone()));
            }
        }
        s.out = Some((self.no, self.tx.clone()));
        s.detached_at = None;
        s.resumed = true;
        drop(st);
        self.session = Some(sid);
        Next::Continue
    }
}
