//! One client case: the harness listens, starts the driver, and plays the
//! runtime side of the case's steps ([`Role`] for [`Harness`]; the step loop
//! is the engine's, [`crate::engine::play`]).

mod reply;
mod stdout;

use super::checks::{redact, ClientMonitor};
use super::ClientTarget;
use crate::case::{Case, Principal, Span, StepKind};
use crate::checks::Violation;
use crate::clock::SharedClock;
use crate::engine::play::{self, Frame, Miss, Peer, Role};
use crate::engine::shared;
use crate::engine::{EngineOptions, StepResult, Stop, Wire};
use crate::template::Builtin;
use crate::transport::process::{self, ProcessGuard};
use crate::transport::ws::{self, Listener};
use crate::transport::{Conn, Inbound, TransportError};
use crate::verdict::{Direction, Origin, Outcome, Verdict};
use crate::wire::PROTOCOL_VERSION;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// How long a send may wait for a client that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection from the client, as the runtime sees it.
struct Sess {
    conn: Option<Conn>,
    closed: Option<String>,
    id: String,
    resume_token: String,
    /// Effective features (hello ∩ welcome).
    features: Vec<String>,
    /// The last `event_seq` the harness sent.
    last_seq: u64,
    backlog: VecDeque<Frame>,
    auto_pong: bool,
}

impl Sess {
    fn live(&self) -> bool {
        self.conn.is_some() && self.closed.is_none()
    }
}

struct Harness<'a> {
    case: &'a Case,
    opts: &'a EngineOptions,
    listener: Listener,
    driver: stdout::Driver,
    sessions: HashMap<String, Sess>,
    vars: BTreeMap<String, Value>,
    monitor: ClientMonitor,
    wire: Wire,
    /// Real time: a client case runs on the wall clock.
    clock: SharedClock,
    current_line: usize,
    violations: crate::checks::Tally,
    not_applicable: Option<String>,
}

/// Run one `role: client` case against the client `target` and return its
/// verdict with evidence. Never panics on client behaviour; every wait is
/// bounded by the step's deadline and the case's timeout.
pub async fn run_case(case: &Case, target: &ClientTarget, opts: &EngineOptions) -> Outcome {
    let started = Instant::now();
    if case.role != crate::case::Role::Client {
        let mut o = Outcome::new(
            Verdict::Error,
            "not a `role: client` case; run it with `arcp-conform run`",
        );
        o.origin = Some(Origin::Harness);
        return o;
    }
    let monitor = ClientMonitor::new(opts.schema);
    let wire = Wire::new(Some(monitor.secrets.clone()));
    let (listener, addr) = match ws::listen("127.0.0.1:0", target.frame_cap).await {
        Ok(x) => x,
        Err(e) => return harness_error(format!("cannot listen for the client: {e}"), started),
    };
    let url = format!("ws://{addr}/");
    let driver_job = crate::ids::job_id();
    let driver = match stdout::start(case, target, &url, &driver_job, &wire) {
        Ok(d) => d,
        Err(e) => return harness_error(e, started),
    };
    let mut h = Harness {
        case,
        opts,
        listener,
        driver,
        sessions: HashMap::new(),
        vars: BTreeMap::from([("driver_job".to_string(), Value::from(driver_job))]),
        monitor,
        wire,
        clock: crate::clock::ScaledClock::shared(1.0),
        current_line: case.line,
        violations: Default::default(),
        not_applicable: None,
    };
    let limit = h.deadline(case.timeout);
    let result = match tokio::time::timeout(limit, play::steps(&mut h, &case.steps)).await {
        Ok(r) => r,
        Err(_) => Err(Stop::target(format!(
            "case did not finish within its timeout ({limit:?})"
        ))),
    };
    let stderr = h.finish().await;
    let mut outcome = shared::outcome(result, case.level, h.current_line);
    if outcome.verdict != Verdict::Pass {
        let na = h.not_applicable.clone().or_else(|| {
            h.driver
                .unsupported()
                .map(|l| format!("the driver does not support this: {l}"))
        });
        if let Some(reason) = na {
            outcome = Outcome::new(Verdict::NotApplicable, reason);
        }
    }
    outcome.violations = h.violations.take();
    // Credential values never reach a report, wherever the client put them;
    // nor does a token in a frame the failure text quotes (a client's hello
    // shown as `actual` carries its bearer token), as in the runtime engine.
    let secrets = h.monitor.secrets.clone();
    let scrub = |t: &str| crate::redact::scrub_text(&redact(t, &secrets));
    outcome.reason = scrub(&outcome.reason);
    outcome.expected = outcome.expected.map(|t| scrub(&t));
    outcome.actual = outcome.actual.map(|t| scrub(&t));
    for v in &mut outcome.violations {
        v.detail = scrub(&v.detail);
    }
    outcome.wire = h.wire.take();
    outcome.stderr = stderr;
    outcome.duration = started.elapsed();
    outcome
}

fn harness_error(reason: String, started: Instant) -> Outcome {
    let mut o = Outcome::new(Verdict::Error, reason);
    o.origin = Some(Origin::Harness);
    o.duration = started.elapsed();
    o
}

impl Role for Harness<'_> {
    const PEER: Peer = Peer::Client;

    fn vars(&self) -> &BTreeMap<String, Value> {
        &self.vars
    }

    fn vars_mut(&mut self) -> &mut BTreeMap<String, Value> {
        &mut self.vars
    }

    fn builtin(&self, b: Builtin) -> Option<Value> {
        match b {
            // Refused by the loader in client cases.
            Builtin::Limit(_) | Builtin::Ms(_) | Builtin::List(..) => None,
            Builtin::SessionId(s) => Some(Value::from(self.sessions.get(&s)?.id.clone())),
            Builtin::SessionResumeToken(s) => {
                Some(Value::from(self.sessions.get(&s)?.resume_token.clone()))
            }
            Builtin::SessionLastSeq(s) => Some(json!(self.sessions.get(&s)?.last_seq)),
            Builtin::Agent(role) => Some(Value::from(role.as_str())),
            Builtin::Now(_) => None,
            Builtin::PrincipalToken(p) => Some(Value::from(match p {
                Principal::Alice => crate::runtime::TOKEN_ALICE,
                Principal::Alice2 => crate::runtime::TOKEN_ALICE_2,
                Principal::Bob => crate::runtime::TOKEN_BOB,
                Principal::Invalid => crate::runtime::TOKEN_INVALID,
            })),
        }
    }

    fn wire(&self) -> &Wire {
        &self.wire
    }

    fn at_line(&mut self, line: usize) {
        self.current_line = line;
    }

    fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The loader admits only literal waits in client cases (the harness
    /// sets the limits itself, in `welcome`).
    fn span(&self, s: &Span) -> Result<Duration, Stop> {
        Ok(s.literal().unwrap_or(crate::case::DEFAULT_EXPECT_WITHIN))
    }

    fn deadline(&self, d: Duration) -> Duration {
        d.mul_f64(self.opts.timeout_scale)
            .max(Duration::from_millis(50))
    }

    async fn receive(&mut self, name: &str, until: Instant) -> Result<Option<Frame>, Stop> {
        Harness::receive(self, name, until).await
    }

    fn backlog(&mut self, name: &str) -> Result<&mut VecDeque<Frame>, Stop> {
        Ok(&mut self.sess(name)?.backlog)
    }

    fn keep(&mut self, name: &str, f: Frame) -> StepResult {
        self.sess(name)?.backlog.push_back(f);
        Ok(())
    }

    fn take(&mut self, name: &str, i: usize) -> Result<Frame, Stop> {
        Ok(self.sess(name)?.backlog.remove(i).expect("index in range"))
    }

    fn closed(&mut self, name: &str) -> Result<bool, Stop> {
        let sess = self.sess(name)?;
        if sess.closed.is_some() {
            sess.conn = None;
        }
        Ok(sess.closed.is_some())
    }

    fn drop_transport(&mut self, name: &str) -> StepResult {
        let sess = self.sess(name)?;
        let conn = sess.conn.take();
        sess.closed = Some("dropped by the harness".into());
        sess.backlog.clear();
        drop(conn);
        Ok(())
    }

    async fn missed(&mut self, name: &str, miss: Miss) -> Stop {
        match self.closed_stop(name, &miss.describe) {
            Some(stop) => stop,
            None => miss.stop(Peer::Client),
        }
    }

    fn envelope(&mut self, name: &str, kind: &str, payload: Value) -> Result<Value, Stop> {
        Harness::envelope(self, name, kind, payload)
    }

    async fn own_step(&mut self, kind: &StepKind) -> Option<StepResult> {
        Some(match kind {
            StepKind::Welcome(w) => self.welcome(w).await,
            StepKind::Accept(a) => self.accept(a).await,
            StepKind::Emit(e) => self.emit(e).await,
            StepKind::ExpectOutput(o) => self.expect_output(o).await,
            StepKind::Send(s) => self.send(&s.session, &s.frame).await,
            StepKind::Expect(_)
            | StepKind::ExpectNone(_)
            | StepKind::ExpectClose(_)
            | StepKind::Drop(_)
            | StepKind::Sleep(_)
            | StepKind::Set(_)
            | StepKind::Assert(_)
            | StepKind::Repeat(_) => return None,
            k => Err(Stop::harness(format!(
                "`{}` is a runtime-role step; the loader should have refused it here",
                k.name()
            ))),
        })
    }
}

impl Harness<'_> {
    /// End of case: close every connection, stop the driver, check what it
    /// printed and logged for credential values. Returns its (redacted) stderr.
    async fn finish(&mut self) -> String {
        for (_, s) in self.sessions.drain() {
            if let Some(c) = s.conn {
                let _ = c.shutdown(Duration::from_millis(100)).await;
            }
        }
        drop(self.driver.stdin.take());
        let mut stderr = String::new();
        if let Some(g) = self.driver.guard.take() {
            let watch = g.watch();
            let _ = g.shutdown(Duration::from_millis(300)).await;
            watch.wait_output(Duration::from_millis(200)).await;
            stderr = watch.stderr_tail();
        }
        // The stdout reader ends once the process is gone.
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            while self.driver.lines.recv().await.is_some() {}
        })
        .await;
        let stdout = self.driver.all.lock().unwrap().join("\n");
        let leaks: Vec<Violation> = self
            .monitor
            .leaks(&stdout, "the driver's stdout")
            .into_iter()
            .chain(self.monitor.leaks(&stderr, "the client's log (stderr)"))
            .chain(self.monitor.persisted(&self.driver.state))
            .collect();
        for v in &leaks {
            self.wire.violation(&mut self.violations, "driver", v, None);
        }
        crate::redact::frame(&redact(&stderr, &self.monitor.secrets))
    }

    fn render_object(&self, m: &Option<Map<String, Value>>) -> Result<Value, Stop> {
        match m {
            Some(m) => self.render(&Value::Object(m.clone())),
            None => Ok(Value::Object(Map::new())),
        }
    }

    // ----------------------------------------------------------- transport

    fn sess(&mut self, name: &str) -> Result<&mut Sess, Stop> {
        self.sessions
            .get_mut(name)
            .ok_or_else(|| Stop::harness(format!("session `{name}` is not open")))
    }

    /// The client process exited: a client that gave up (`FAILED ...`) or
    /// exited cleanly failed the case; any other exit is a crash (ERROR).
    fn exited(&self, status: &str, what: &str) -> Stop {
        let why = format!("the client exited ({status}) {what}");
        if let Some(f) = self.driver.failed() {
            return Stop::fail(format!("{why}; it gave up: {f}"));
        }
        if status.contains("status 0") {
            Stop::fail(why)
        } else {
            Stop::target(why)
        }
    }

    /// The next connection from the client, within `until`.
    async fn accept_conn(&mut self, until: Instant, what: &str) -> Result<Conn, Stop> {
        let watch = self.driver.guard.as_ref().map(ProcessGuard::watch);
        let left = until.saturating_duration_since(Instant::now());
        let exit = async {
            match &watch {
                Some(w) => w.wait_exit(left).await,
                None => None,
            }
        };
        tokio::select! {
            r = self.listener.accept_within(left) => match r {
                Ok(conn) => {
                    self.wire.log("-", Direction::Note, &format!("client connected: {}", conn.peer));
                    Ok(conn)
                }
                Err(TransportError::Timeout(d)) => Err(Stop::fail(format!(
                    "the client did not connect within {d:?} ({what})"
                ))),
                Err(e) => Err(Stop::harness(e.to_string())),
            },
            Some(status) = exit => {
                // A connection that raced the exit still counts.
                if let Ok(conn) = self.listener.accept_within(Duration::from_millis(50)).await {
                    return Ok(conn);
                }
                let s = process::describe_status(&status);
                Err(self.exited(&s, &format!("before connecting ({what})")))
            }
        }
    }

    async fn send_text(&mut self, name: &str, text: String) -> StepResult {
        self.wire.log(name, Direction::Out, &text);
        let sess = self.sess(name)?;
        let Some(conn) = sess.conn.as_ref() else {
            return Err(Stop::fail(format!(
                "session `{name}` has no open transport"
            )));
        };
        match tokio::time::timeout(SEND_TIMEOUT, conn.send(text)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(TransportError::Closed(r))) => Err(Stop::fail(format!(
                "the client's transport is closed ({r})"
            ))),
            Ok(Err(e)) => Err(Stop::target(e.to_string())),
            Err(_) => Err(Stop::target(format!(
                "the client did not read its input for {SEND_TIMEOUT:?}"
            ))),
        }
    }

    /// Send an envelope the harness built (credential values are noted first).
    async fn send_value(&mut self, name: &str, env: Value) -> StepResult {
        self.monitor.outbound(&env);
        self.send_text(name, env.to_string()).await
    }

    fn envelope(&mut self, name: &str, kind: &str, payload: Value) -> Result<Value, Stop> {
        let sess = self.sess(name)?;
        let mut env =
            json!({"arcp": PROTOCOL_VERSION, "id": crate::ids::message_id(), "type": kind});
        if !sess.id.is_empty() {
            env["session_id"] = Value::from(sess.id.clone());
        }
        env["payload"] = payload;
        Ok(env)
    }

    /// The next frame from the client's transport (not the backlog), by
    /// `until`. Closure is `Ok(None)` with the session marked closed.
    async fn receive(&mut self, name: &str, until: Instant) -> Result<Option<Frame>, Stop> {
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
                    &format!("client closed the transport: {reason}"),
                );
                self.sess(name)?.closed = Some(reason);
                return Ok(None);
            }
            Inbound::Fault(f) => {
                self.wire.log(name, Direction::Note, &f.to_string());
                return Err(Stop::target(format!("the client sent garbage: {f}")));
            }
            Inbound::Frame(text) => text,
        };
        self.wire.log(name, Direction::In, &text);
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Stop::target(format!("the client sent a frame that is not JSON ({e})")))?;
        for v in self.monitor.inbound(name, &text, &value) {
            self.wire
                .violation(&mut self.violations, name, &v, Some((&text, &value)));
        }
        let frame = Frame {
            text,
            value,
            _charge: None,
        };
        if frame.kind() == "session.ping" && self.sess(name)?.auto_pong {
            let nonce = frame
                .value
                .pointer("/payload/nonce")
                .cloned()
                .unwrap_or(Value::Null);
            let pong = self.envelope(
                name,
                "session.pong",
                json!({"ping_nonce": nonce, "received_at": crate::clock::timestamp(chrono::Utc::now())}),
            )?;
            self.send_value(name, pong).await?;
        }
        Ok(Some(frame))
    }

    /// Why nothing (more) came on a closed transport.
    fn closed_stop(&self, name: &str, describe: &str) -> Option<Stop> {
        let reason = self.sessions.get(name)?.closed.clone()?;
        let why = format!("the transport closed ({reason}) while waiting for {describe}");
        Some(match (self.driver.exit_status(), self.driver.failed()) {
            (_, Some(f)) => Stop::fail(format!("{why}; the client gave up: {f}")),
            (Some(s), None) if !s.contains("status 0") => {
                Stop::target(format!("the client exited ({s}); {why}"))
            }
            _ => Stop::fail(why),
        })
    }
}
