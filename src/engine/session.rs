//! A named session of a case: its connection, what the handshake told us,
//! and the backlog of frames not yet consumed by a step.

use super::{Run, Stop};
use crate::transport::{Conn, Inbound, TransportError, TransportFault};
use crate::verdict::Direction;
use serde_json::Value;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One frame from the target, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub text: String,
    pub value: Value,
}

impl Frame {
    pub fn kind(&self) -> &str {
        self.value.get("type").and_then(Value::as_str).unwrap_or("")
    }

    pub fn is_heartbeat(&self) -> bool {
        matches!(self.kind(), "session.ping" | "session.pong")
    }
}

pub(crate) struct Sess {
    pub conn: Option<Conn>,
    pub closed: Option<String>,
    pub id: Option<String>,
    pub resume_token: Option<String>,
    pub features: Vec<String>,
    pub last_seq: u64,
    pub principal: String,
    pub backlog: VecDeque<Frame>,
    pub auto_pong: bool,
    /// Bytes waiting in the backlog (flood guard).
    pub backlog_bytes: usize,
}

/// A target that sends more than this unconsumed is flooding.
const BACKLOG_FRAMES: usize = 20_000;
const BACKLOG_BYTES: usize = 256 * 1024 * 1024;
/// How long a send may wait for a target that does not read its input.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

impl Sess {
    pub fn new(conn: Conn, principal: &str) -> Sess {
        Sess {
            conn: Some(conn),
            closed: None,
            id: None,
            resume_token: None,
            features: vec![],
            last_seq: 0,
            principal: principal.to_string(),
            backlog: VecDeque::new(),
            auto_pong: true,
            backlog_bytes: 0,
        }
    }

    pub fn stderr_tail(&self) -> String {
        self.conn
            .as_ref()
            .map(Conn::stderr_tail)
            .unwrap_or_default()
    }

    /// Close politely (stdin EOF / WebSocket close), then make sure any process is gone.
    pub async fn shutdown(mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.shutdown(Duration::from_millis(200)).await;
        }
    }

    /// Exit status of the target process, if it has exited.
    pub fn exit_status(&self) -> Option<String> {
        self.conn
            .as_ref()
            .and_then(|c| c.process.as_ref())
            .and_then(|p| p.exit_status())
    }

    pub fn push(&mut self, f: Frame) -> Result<(), Stop> {
        self.backlog_bytes += f.text.len();
        self.backlog.push_back(f);
        if self.backlog.len() > BACKLOG_FRAMES || self.backlog_bytes > BACKLOG_BYTES {
            return Err(Stop::target(format!(
                "target flooded the session: {} unconsumed frames ({} bytes)",
                self.backlog.len(),
                self.backlog_bytes
            )));
        }
        Ok(())
    }

    pub fn take(&mut self, i: usize) -> Frame {
        let f = self.backlog.remove(i).expect("index in range");
        self.backlog_bytes -= f.text.len();
        f
    }
}

impl Run<'_> {
    pub(crate) fn sess(&mut self, name: &str) -> Result<&mut Sess, Stop> {
        self.sessions
            .get_mut(name)
            .ok_or_else(|| Stop::harness(format!("session `{name}` is not open")))
    }

    /// Send one text frame on a session.
    pub(crate) async fn send_text(&mut self, name: &str, text: String) -> Result<(), Stop> {
        self.wire.log(name, Direction::Out, &text);
        let sess = self.sess(name)?;
        let Some(conn) = sess.conn.as_ref() else {
            return Err(Stop::fail(format!(
                "session `{name}` has no open transport"
            )));
        };
        match tokio::time::timeout(SEND_TIMEOUT, conn.send(text)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(TransportError::Closed(r))) => {
                let why = format!("the transport is closed ({r})");
                Err(self.closed_error(name, &why))
            }
            Ok(Err(e)) => Err(Stop::target(e.to_string())),
            Err(_) => Err(Stop::target(format!(
                "target did not read its input for {SEND_TIMEOUT:?}"
            ))),
        }
    }

    /// A closed transport where a frame was due: a crash is an ERROR, an
    /// orderly close is a FAIL of what the step expected.
    pub(crate) fn closed_error(&mut self, name: &str, why: &str) -> Stop {
        let status = self.sessions.get(name).and_then(Sess::exit_status);
        match status {
            Some(s) if !s.contains("status 0") => {
                Stop::target(format!("target crashed: {s}; {why}"))
            }
            _ => Stop::fail(why.to_string()),
        }
    }

    /// Receive the next frame from the transport (not the backlog), waiting
    /// until `until`. `Ok(None)`: deadline passed. Closure is reported as
    /// `Ok(None)` with the session marked closed.
    pub(crate) async fn receive(
        &mut self,
        name: &str,
        until: Instant,
    ) -> Result<Option<Frame>, Stop> {
        let now = Instant::now();
        let sess = self.sess(name)?;
        if now >= until || sess.closed.is_some() {
            return Ok(None);
        }
        let Some(conn) = sess.conn.as_mut() else {
            return Ok(None);
        };
        let item = match conn.recv(until - now).await {
            Err(TransportError::Timeout(_)) => return Ok(None),
            Err(e) => Inbound::Closed(e.to_string()),
            Ok(i) => i,
        };
        let text = match item {
            Inbound::Closed(reason) => {
                self.wire.log(
                    name,
                    Direction::Note,
                    &format!("transport closed: {reason}"),
                );
                self.sess(name)?.closed = Some(reason);
                return Ok(None);
            }
            Inbound::Fault(f) => {
                let what = match f {
                    TransportFault::FrameTooLarge { .. } => "a giant frame",
                    _ => "garbage",
                };
                self.wire.log(name, Direction::Note, &f.to_string());
                return Err(Stop::target(format!("target sent {what}: {f}")));
            }
            Inbound::Frame(text) => text,
        };
        self.wire.log(name, Direction::In, &text);
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Stop::target(format!("target sent a frame that is not JSON ({e})")))?;
        let violations = self.monitor.inbound(name, &text, Some(&value));
        for v in &violations {
            self.wire.log(
                name,
                Direction::Note,
                &format!(
                    "violation {} (§{}): {}",
                    v.invariant.id, v.invariant.section, v.detail
                ),
            );
        }
        self.violations.extend(violations);
        let frame = Frame { text, value };
        let sess = self.sess(name)?;
        if let Some(seq) = frame.value.get("event_seq").and_then(Value::as_u64) {
            sess.last_seq = sess.last_seq.max(seq);
        }
        if frame.kind() == "session.ping" && sess.auto_pong {
            self.pong(name, &frame).await?;
        }
        Ok(Some(frame))
    }

    async fn pong(&mut self, name: &str, ping: &Frame) -> Result<(), Stop> {
        let nonce = ping
            .value
            .pointer("/payload/nonce")
            .cloned()
            .unwrap_or(Value::Null);
        let env = self.envelope(
            name,
            "session.pong",
            serde_json::json!({"ping_nonce": nonce, "received_at": crate::clock::timestamp(self.target.clock.now())}),
        )?;
        self.send_text(name, env.to_string()).await
    }

    /// A fresh envelope for this session in the target's dialect.
    pub(crate) fn envelope(
        &mut self,
        name: &str,
        kind: &str,
        payload: Value,
    ) -> Result<Value, Stop> {
        let arcp = self.target.profile.dialect.arcp_version.clone();
        let sess = self.sess(name)?;
        let mut env = serde_json::json!({
            "arcp": arcp,
            "id": crate::ids::message_id(),
            "type": kind,
        });
        if let Some(id) = &sess.id {
            env["session_id"] = Value::from(id.clone());
        }
        env["payload"] = payload;
        Ok(env)
    }

    /// Does the target still answer? Used when a wait saw nothing at all.
    pub(crate) async fn alive(&mut self, name: &str) -> bool {
        let Ok(ping) = self.envelope(
            name,
            "session.ping",
            serde_json::json!({"nonce": crate::ids::nonce(), "sent_at": crate::clock::timestamp(self.target.clock.now())}),
        ) else {
            return false;
        };
        if self.send_text(name, ping.to_string()).await.is_err() {
            return false;
        }
        let until = Instant::now()
            + self
                .deadline(Duration::from_secs(5))
                .max(Duration::from_secs(1));
        match self.receive(name, until).await {
            Ok(Some(f)) => {
                let _ = self.sess(name).map(|s| s.push(f));
                true
            }
            _ => false,
        }
    }
}
