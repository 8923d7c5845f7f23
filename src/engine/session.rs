//! A named session of a case: its connection, what the handshake told us,
//! and the backlog of frames not yet consumed by a step.

use super::{Run, Stop, Wire};
use crate::clock::SharedClock;
use crate::transport::process::ProcessWatch;
use crate::transport::{Conn, Inbound, TransportError, TransportFault};
use crate::verdict::Direction;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// One frame from the target, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub text: String,
    pub value: Value,
    /// Its bytes on the run's budget until it is dropped.
    pub _charge: Option<crate::retained::Charge>,
}

impl Frame {
    pub fn kind(&self) -> &str {
        self.value.get("type").and_then(Value::as_str).unwrap_or("")
    }

    pub fn is_heartbeat(&self) -> bool {
        matches!(self.kind(), "session.ping" | "session.pong")
    }
}

/// What the engine and a connection's pump share.
pub(crate) struct Shared {
    /// The session id, once the welcome names it (pongs carry it).
    pub id: Mutex<Option<String>>,
    /// Answer `session.ping` at once, whatever step is running, and ping
    /// when idle for a heartbeat interval: a well-behaved peer (§6.4).
    pub auto_pong: AtomicBool,
    /// The negotiated heartbeat interval, in wall time.
    pub heartbeat: Mutex<Option<Duration>>,
}

/// A live connection as the engine sees it: frames to send go to the pump,
/// which owns the transport, answers pings and forwards everything else.
pub(crate) struct Link {
    to_pump: mpsc::Sender<String>,
    from_pump: mpsc::Receiver<(Inbound, Option<crate::retained::Charge>)>,
    process: Option<ProcessWatch>,
    pump: tokio::task::JoinHandle<()>,
}

pub(crate) struct Sess {
    pub link: Option<Link>,
    pub closed: Option<String>,
    pub shared: Arc<Shared>,
    pub id: Option<String>,
    pub resume_token: Option<String>,
    pub features: Vec<String>,
    /// The agents its welcome advertised.
    pub agents: Vec<String>,
    pub last_seq: u64,
    pub principal: String,
    pub backlog: VecDeque<Frame>,
    /// Bytes waiting in the backlog (flood guard).
    pub backlog_bytes: usize,
    /// A step (`or_close`) said the target may close this session from now on.
    pub close_allowed: bool,
}

/// A target that sends more than this unconsumed is flooding (bytes are on
/// the run's budget, [`crate::retained`]).
const BACKLOG_FRAMES: usize = 20_000;
/// How long a send may wait for a target that does not read its input.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames the pump may hold for the engine before it stops reading.
const PUMP_DEPTH: usize = 4096;

impl Sess {
    pub fn new(conn: Conn, principal: &str, wire: Wire, name: &str, clock: SharedClock) -> Sess {
        let shared = Arc::new(Shared {
            id: Mutex::new(None),
            auto_pong: AtomicBool::new(true),
            heartbeat: Mutex::new(None),
        });
        let (to_pump, rx) = mpsc::channel(PUMP_DEPTH);
        let (tx, from_pump) = mpsc::channel(PUMP_DEPTH);
        let process = conn.process.as_ref().map(|p| p.watch());
        let pump = tokio::spawn(pump(
            conn,
            rx,
            tx,
            shared.clone(),
            wire,
            name.to_string(),
            clock,
        ));
        Sess {
            link: Some(Link {
                to_pump,
                from_pump,
                process,
                pump,
            }),
            closed: None,
            shared,
            id: None,
            resume_token: None,
            features: vec![],
            agents: vec![],
            last_seq: 0,
            principal: principal.to_string(),
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            close_allowed: false,
        }
    }

    pub fn set_id(&mut self, id: Option<String>) {
        *self.shared.id.lock().unwrap() = id.clone();
        self.id = id;
    }

    pub fn stderr_tail(&self) -> String {
        self.link
            .as_ref()
            .and_then(|l| l.process.as_ref())
            .map(ProcessWatch::stderr_tail)
            .unwrap_or_default()
    }

    /// The target process behind this session, if any.
    pub fn process(&self) -> Option<ProcessWatch> {
        self.link.as_ref().and_then(|l| l.process.clone())
    }

    /// Drop the transport abruptly (the pump closes it and reaps any process).
    pub fn drop_link(&mut self) {
        self.link = None;
    }

    /// Close politely (stdin EOF / WebSocket close), then make sure any process is gone.
    pub async fn shutdown(mut self) {
        if let Some(link) = self.link.take() {
            drop(link.to_pump);
            let _ = tokio::time::timeout(Duration::from_secs(2), link.pump).await;
        }
    }

    /// Exit status of the target process, if it has exited.
    pub fn exit_status(&self) -> Option<String> {
        self.link
            .as_ref()
            .and_then(|l| l.process.as_ref())
            .and_then(ProcessWatch::exit_status)
    }

    pub fn push(&mut self, f: Frame) -> Result<(), Stop> {
        self.backlog_bytes += f.text.len();
        self.backlog.push_back(f);
        if self.backlog.len() > BACKLOG_FRAMES {
            return Err(self.flooded("more than the harness keeps per session"));
        }
        Ok(())
    }

    /// The ERROR for a flood, with the evidence: counts, bytes, first frames.
    pub fn flooded(&self, why: &str) -> Stop {
        let first: Vec<String> = self
            .backlog
            .iter()
            .take(3)
            .map(|f| {
                let t = crate::redact::frame(&f.text);
                match t.char_indices().nth(160) {
                    Some((i, _)) => format!("{}… ({} bytes)", &t[..i], f.text.len()),
                    None => t,
                }
            })
            .collect();
        Stop::target(format!(
            "target flooded the session: {} unconsumed frames ({} bytes), {why}; first frames: {}",
            self.backlog.len(),
            self.backlog_bytes,
            first.join(" | ")
        ))
    }

    pub fn take(&mut self, i: usize) -> Frame {
        let f = self.backlog.remove(i).expect("index in range");
        self.backlog_bytes -= f.text.len();
        f
    }
}

/// Own the transport: send what the engine asks, answer pings at once, log
/// arrivals, forward everything. Ends (closing the transport and reaping any
/// process) when the engine lets go.
async fn pump(
    mut conn: Conn,
    mut from_engine: mpsc::Receiver<String>,
    to_engine: mpsc::Sender<(Inbound, Option<crate::retained::Charge>)>,
    shared: Arc<Shared>,
    wire: Wire,
    name: String,
    clock: SharedClock,
) {
    let mut open = true;
    let mut last_out = Instant::now();
    loop {
        // Over the run's budget: stop reading (the target feels back-pressure)
        // until the flooding case is ended; keep serving the engine meanwhile.
        let room = !crate::retained::over();
        let polite = shared.auto_pong.load(Ordering::Relaxed);
        let hb = *shared.heartbeat.lock().unwrap();
        let ping_due = last_out + hb.unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            out = from_engine.recv() => match out {
                Some(text) => {
                    last_out = Instant::now();
                    if conn.send(text).await.is_err() {
                        open = false;
                    }
                }
                None => break,
            },
            _ = tokio::time::sleep_until(ping_due), if open && polite && hb.is_some() => {
                let ping = ping_now(&shared, &clock);
                wire.log(&name, Direction::Out, &ping);
                last_out = Instant::now();
                let _ = conn.send(ping).await;
            }
            _ = tokio::time::sleep(Duration::from_millis(5)), if open && !room => {}
            item = conn.recv(Duration::from_secs(3600)), if open && room => {
                let item = match item {
                    Err(TransportError::Timeout(_)) => continue,
                    Err(e) => Inbound::Closed(e.to_string()),
                    Ok(i) => i,
                };
                match &item {
                    Inbound::Frame(text) => {
                        wire.log(&name, Direction::In, text);
                        if shared.auto_pong.load(Ordering::Relaxed) {
                            if let Some(pong) = pong_for(text, &shared, &clock) {
                                wire.log(&name, Direction::Out, &pong);
                                last_out = Instant::now();
                                let _ = conn.send(pong).await;
                            }
                        }
                    }
                    Inbound::Closed(reason) => {
                        wire.log(&name, Direction::Note, &format!("transport closed: {reason}"));
                        open = false;
                    }
                    Inbound::Fault(f) => wire.log(&name, Direction::Note, &f.to_string()),
                }
                let charge = match &item {
                    Inbound::Frame(text) => Some(crate::retained::Charge::frame(text.len(), &wire.frames)),
                    _ => None,
                };
                if to_engine.send((item, charge)).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = conn.shutdown(Duration::from_millis(300)).await;
}

/// A `session.ping` from the harness, sent when it has been quiet.
fn ping_now(shared: &Shared, clock: &SharedClock) -> String {
    let mut ping = serde_json::json!({
        "arcp": crate::wire::PROTOCOL_VERSION,
        "id": crate::ids::message_id(),
        "type": "session.ping",
        "payload": {"nonce": crate::ids::nonce(), "sent_at": crate::clock::timestamp(clock.now())},
    });
    if let Some(id) = shared.id.lock().unwrap().clone() {
        ping["session_id"] = Value::from(id);
    }
    ping.to_string()
}

/// The pong answering `text`, if it is a ping.
fn pong_for(text: &str, shared: &Shared, clock: &SharedClock) -> Option<String> {
    // Parse only what may be a ping: a flood of big frames must not be parsed twice.
    if !text.contains("session.ping") {
        return None;
    }
    let v: Value = serde_json::from_str(text).ok()?;
    if v.get("type").and_then(Value::as_str) != Some("session.ping") {
        return None;
    }
    let mut pong = serde_json::json!({
        "arcp": v.get("arcp").cloned().unwrap_or(Value::from(crate::wire::PROTOCOL_VERSION)),
        "id": crate::ids::message_id(),
        "type": "session.pong",
        "payload": {
            "ping_nonce": v.pointer("/payload/nonce").cloned().unwrap_or(Value::Null),
            "received_at": crate::clock::timestamp(clock.now()),
        },
    });
    if let Some(id) = shared.id.lock().unwrap().clone() {
        pong["session_id"] = Value::from(id);
    }
    Some(pong.to_string())
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
        let Some(link) = sess.link.as_ref() else {
            return Err(Stop::fail(format!(
                "session `{name}` has no open transport"
            )));
        };
        match tokio::time::timeout(SEND_TIMEOUT, link.to_pump.send(text)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(self.closed_error(name, "the transport is closed")),
            Err(_) => Err(Stop::target(format!(
                "target did not read its input for {SEND_TIMEOUT:?}"
            ))),
        }
    }

    /// A closed transport where a frame was due, which no step expected
    /// (`expect_close` consumes the closes a case expects): an ERROR of the
    /// target, never a FAIL, WARN or INFO of the case's requirement.
    pub(crate) fn closed_error(&mut self, name: &str, why: &str) -> Stop {
        let status = self.sessions.get(name).and_then(Sess::exit_status);
        let allowed = self.sessions.get(name).is_some_and(|s| s.close_allowed);
        match status {
            Some(s) if !s.contains("status 0") => {
                Stop::target(format!("target crashed: {s}; {why}"))
            }
            _ if allowed => Stop::fail(format!("{why} (a close the case allows)")),
            _ => Stop::target(format!("the target closed the transport mid-case: {why}")),
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
        let Some(link) = sess.link.as_mut() else {
            return Ok(None);
        };
        let (item, charge) = match tokio::time::timeout(until - now, link.from_pump.recv()).await {
            Err(_) => return Ok(None),
            Ok(None) => (Inbound::Closed("the connection ended".into()), None),
            Ok(Some(i)) => i,
        };
        if crate::retained::flooding(self.wire.frames.load(Ordering::SeqCst)) {
            let why = format!(
                "the run's memory budget of {} MiB is spent, this case holding {} KiB of it",
                crate::retained::RUN_BYTES / (1024 * 1024),
                self.wire.frames.load(Ordering::SeqCst) / 1024
            );
            return Err(self.sess(name)?.flooded(&why));
        }
        let text = match item {
            Inbound::Closed(reason) => {
                self.sess(name)?.closed = Some(reason);
                return Ok(None);
            }
            Inbound::Fault(f) => {
                let what = match f {
                    TransportFault::FrameTooLarge { .. } => "a giant frame",
                    _ => "garbage",
                };
                return Err(Stop::target(format!("target sent {what}: {f}")));
            }
            Inbound::Frame(text) => text,
        };
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Stop::target(format!("target sent a frame that is not JSON ({e})")))?;
        for v in self.monitor.inbound(name, &text, Some(&value)) {
            self.wire
                .violation(&mut self.violations, name, &v, Some((&text, &value)));
        }
        let frame = Frame {
            text,
            value,
            _charge: charge,
        };
        let sess = self.sess(name)?;
        if let Some(seq) = frame.value.get("event_seq").and_then(Value::as_u64) {
            sess.last_seq = sess.last_seq.max(seq);
        }
        Ok(Some(frame))
    }

    /// A fresh envelope for this session in the target's dialect.
    pub(crate) fn envelope(
        &mut self,
        name: &str,
        kind: &str,
        payload: Value,
    ) -> Result<Value, Stop> {
        let dialect = &self.target.profile.dialect;
        let arcp = dialect.arcp_version.clone();
        let mint = dialect.session_id == crate::profile::SessionIdDialect::Client;
        let sess = self.sess(name)?;
        if mint && sess.id.is_none() {
            // The client names the session (profile dialect): from the hello on.
            sess.set_id(Some(crate::ids::session_id()));
        }
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
