//! One client case: the harness listens, starts the driver, and plays the
//! runtime side of the case's steps.

use super::checks::{redact, ClientMonitor};
use super::{shell_quote, ClientTarget, ClientTransport};
use crate::case::{
    Accept, Case, Emit, EmitWhat, ExpectOutput, FeatureSet, Frame as SendFrame, OutputPattern,
    Step, StepKind, Welcome,
};
use crate::checks::Violation;
use crate::engine::shared::{self, merge, mismatch_stop};
use crate::engine::{EngineOptions, Stop, Wire};
use crate::matcher;
use crate::template::{self, Builtin};
use crate::transport::process::{self, ProcessGuard, SpawnOptions};
use crate::transport::ws::{self, Listener};
use crate::transport::{Conn, Inbound, TransportError};
use crate::verdict::{Direction, Origin, Outcome, Verdict};
use crate::wire::{ErrorCode, Feature, PROTOCOL_VERSION};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

type StepResult = Result<(), Stop>;

/// Most stdout lines kept from a driver.
const LINE_LIMIT: usize = 10_000;
/// How long a send may wait for a client that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// One frame from the client, parsed once.
#[derive(Debug, Clone)]
struct Frame {
    value: Value,
}

impl Frame {
    fn kind(&self) -> &str {
        self.value.get("type").and_then(Value::as_str).unwrap_or("")
    }

    fn is_heartbeat(&self) -> bool {
        matches!(self.kind(), "session.ping" | "session.pong")
    }
}

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

/// The driver process and its stdout.
struct Driver {
    guard: Option<ProcessGuard>,
    stdin: Option<tokio::process::ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    /// Received, not yet consumed by a step.
    pending: VecDeque<String>,
    /// Every line it printed (for the leak check and UNSUPPORTED).
    all: Arc<Mutex<Vec<String>>>,
    eof: bool,
    /// Its private cache/state/temp directories.
    state: super::persist::StateDirs,
}

impl Driver {
    fn exit_status(&self) -> Option<String> {
        self.guard.as_ref().and_then(ProcessGuard::exit_status)
    }

    /// The reason of the driver's `FAILED <reason>` line, if it printed one.
    fn failed(&self) -> Option<String> {
        self.all
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| l.strip_prefix("FAILED").map(|r| r.trim().to_string()))
    }

    fn unsupported(&self) -> Option<String> {
        self.all
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.starts_with("UNSUPPORTED"))
            .cloned()
    }

    /// The next stdout line within `until`; `Ok(None)` at EOF, `Err(())` on timeout.
    async fn next_line(&mut self, until: Instant) -> Result<Option<String>, ()> {
        if self.eof {
            return Ok(None);
        }
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.lines.recv()).await {
            Err(_) => Err(()),
            Ok(None) => {
                self.eof = true;
                Ok(None)
            }
            Ok(Some(l)) => Ok(Some(l)),
        }
    }
}

struct Harness<'a> {
    case: &'a Case,
    opts: &'a EngineOptions,
    listener: Listener,
    driver: Driver,
    sessions: HashMap<String, Sess>,
    vars: BTreeMap<String, Value>,
    monitor: ClientMonitor,
    wire: Wire,
    current_line: usize,
    violations: crate::checks::Tally,
    not_applicable: Option<String>,
}

/// A wait of a client case: the loader admits only literal ones there (the
/// harness sets the limits itself, in `welcome`).
fn span(s: &crate::case::Span) -> Duration {
    s.literal().unwrap_or(crate::case::DEFAULT_EXPECT_WITHIN)
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
    let mut env = SpawnOptions::default()
        .env("ARCP_CONFORM_TRANSPORT", target.transport.as_str())
        .env(
            "ARCP_CONFORM_SCENARIO",
            case.scenario.clone().unwrap_or_default(),
        )
        .env("ARCP_CONFORM_CASE", case.id.clone())
        .env("ARCP_CONFORM_TOKEN", crate::runtime::TOKEN_ALICE)
        .env("ARCP_CONFORM_AGENT", "echo")
        .env("ARCP_CONFORM_INPUT", r#"{"text":"hello"}"#)
        .env("ARCP_CONFORM_JOB", driver_job.clone());
    // The URL over stdio too: a driver that cannot run the relay command as
    // given (another file system) can start its own relay to it.
    env = env.env("ARCP_CONFORM_URL", url.clone());
    if target.transport == ClientTransport::Stdio {
        env = env.env(
            "ARCP_CONFORM_RUNTIME_CMD",
            format!("{} relay {}", target.relay, shell_quote(&url)),
        );
    }
    // A private cache/state/temp directory, searched for credential values at the end.
    let state = match super::persist::StateDirs::create() {
        Ok(s) => s,
        Err(e) => {
            return harness_error(
                format!("cannot create the driver's state directory: {e}"),
                started,
            )
        }
    };
    for (k, v) in state.env() {
        env = env.env(k, v);
    }
    for (k, v) in &target.env {
        env = env.env(k.clone(), v.clone());
    }
    wire.log(
        "driver",
        Direction::Note,
        &format!(
            "starting `{}` (scenario {}, {} {})",
            target.command,
            case.scenario.as_deref().unwrap_or("-"),
            target.transport.as_str(),
            url
        ),
    );
    let (guard, stdin, stdout) = match process::spawn(&target.command, &env) {
        Ok(x) => x,
        Err(e) => return harness_error(format!("cannot start the client: {e}"), started),
    };
    let (tx, lines) = mpsc::unbounded_channel();
    let all = Arc::new(Mutex::new(vec![]));
    {
        let (wire, all) = (wire.clone(), all.clone());
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let line = line.trim_end_matches('\r').to_string();
                wire.log("driver", Direction::Note, &format!("stdout: {line}"));
                {
                    let mut all = all.lock().unwrap();
                    if all.len() >= LINE_LIMIT {
                        continue;
                    }
                    all.push(line.clone());
                }
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
    }
    let mut h = Harness {
        case,
        opts,
        listener,
        driver: Driver {
            guard: Some(guard),
            stdin: Some(stdin),
            lines,
            pending: VecDeque::new(),
            all,
            eof: false,
            state,
        },
        sessions: HashMap::new(),
        vars: BTreeMap::from([("driver_job".to_string(), Value::from(driver_job))]),
        monitor,
        wire,
        current_line: case.line,
        violations: Default::default(),
        not_applicable: None,
    };
    let limit = h.deadline(case.timeout);
    let result = match tokio::time::timeout(limit, h.steps(&case.steps)).await {
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

impl Harness<'_> {
    fn deadline(&self, d: Duration) -> Duration {
        d.mul_f64(self.opts.timeout_scale)
            .max(Duration::from_millis(50))
    }

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

    fn steps<'s>(
        &'s mut self,
        steps: &'s [Step],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = StepResult> + Send + 's>> {
        Box::pin(async move {
            for step in steps {
                self.current_line = step.line;
                if let Some(note) = &step.note {
                    self.wire
                        .log("-", Direction::Note, &format!("line {}: {note}", step.line));
                }
                self.step(step).await?;
            }
            Ok(())
        })
    }

    async fn step(&mut self, step: &Step) -> StepResult {
        match &step.kind {
            StepKind::Welcome(w) => self.welcome(w).await,
            StepKind::Accept(a) => self.accept(a).await,
            StepKind::Emit(e) => self.emit(e).await,
            StepKind::ExpectOutput(o) => self.expect_output(o).await,
            StepKind::Send(s) => self.send(&s.session, &s.frame).await,
            StepKind::Expect(e) => {
                let pattern = self.render(&e.pattern)?;
                let f = self
                    .await_match(&e.session, &pattern, span(&e.within), e.next, "")
                    .await?;
                self.capture(&f, &e.capture)
            }
            StepKind::ExpectNone(e) => {
                let pattern = match &e.pattern {
                    Some(p) => Some(self.render(p)?),
                    None => None,
                };
                self.expect_none(&e.session, pattern.as_ref(), span(&e.duration))
                    .await
            }
            StepKind::ExpectClose(e) => self.expect_close(&e.session, span(&e.within)).await,
            StepKind::Drop(s) => {
                let sess = self.sess(&s.session)?;
                let conn = sess.conn.take();
                sess.closed = Some("dropped by the harness".into());
                sess.backlog.clear();
                drop(conn);
                self.wire
                    .log(&s.session, Direction::Note, "transport dropped");
                Ok(())
            }
            StepKind::Sleep(d) => {
                tokio::time::sleep(span(d)).await;
                Ok(())
            }
            StepKind::Set(map) => {
                for (k, v) in map {
                    let v = self.render(v)?;
                    self.vars.insert(k.clone(), v);
                }
                Ok(())
            }
            StepKind::Assert(a) => self.assert(a),
            StepKind::Repeat(r) => {
                for i in 0..r.times {
                    self.vars.insert("i".into(), json!(i));
                    self.steps(&r.steps).await?;
                }
                Ok(())
            }
            k => Err(Stop::harness(format!(
                "`{}` is a runtime-role step; the loader should have refused it here",
                k.name()
            ))),
        }
    }

    // ------------------------------------------------------------ templates

    fn lookup(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        match Builtin::parse(name)? {
            // Refused by the loader in client cases.
            Builtin::Limit(_) | Builtin::Ms(_) | Builtin::List(..) => None,
            Builtin::SessionId(s) => Some(Value::from(self.sessions.get(&s)?.id.clone())),
            Builtin::SessionResumeToken(s) => {
                Some(Value::from(self.sessions.get(&s)?.resume_token.clone()))
            }
            Builtin::SessionLastSeq(s) => Some(json!(self.sessions.get(&s)?.last_seq)),
            Builtin::Agent(role) => Some(Value::from(role.as_str())),
            Builtin::Now(delta) => Some(Value::from(crate::clock::timestamp(
                chrono::Utc::now() + delta,
            ))),
            Builtin::PrincipalToken(p) => Some(Value::from(match p {
                crate::case::Principal::Alice => crate::runtime::TOKEN_ALICE,
                crate::case::Principal::Alice2 => crate::runtime::TOKEN_ALICE_2,
                crate::case::Principal::Bob => crate::runtime::TOKEN_BOB,
                crate::case::Principal::Invalid => crate::runtime::TOKEN_INVALID,
            })),
        }
    }

    fn render(&self, v: &Value) -> Result<Value, Stop> {
        template::render(v, &|n| self.lookup(n)).map_err(|e| Stop::harness(e.to_string()))
    }

    fn render_text(&self, s: &str) -> Result<String, Stop> {
        template::render_text(s, &|n| self.lookup(n)).map_err(|e| Stop::harness(e.to_string()))
    }

    fn render_object(&self, m: &Option<Map<String, Value>>) -> Result<Value, Stop> {
        match m {
            Some(m) => self.render(&Value::Object(m.clone())),
            None => Ok(Value::Object(Map::new())),
        }
    }

    fn capture(&mut self, frame: &Frame, capture: &BTreeMap<String, String>) -> StepResult {
        shared::capture(&frame.value, capture, &mut self.vars)
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
        let frame = Frame { value };
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

    /// Wait for a frame matching `pattern`: the backlog first, then new
    /// frames. `next`: the very next non-heartbeat frame must match.
    async fn await_match(
        &mut self,
        name: &str,
        pattern: &Value,
        within: Duration,
        next: bool,
        what: &str,
    ) -> Result<Frame, Stop> {
        let describe = if what.is_empty() {
            matcher::describe(pattern)
        } else {
            what.to_string()
        };
        let mut closest: Option<(Frame, matcher::Mismatch)> = None;
        let judge =
            |f: &Frame, closest: &mut Option<(Frame, matcher::Mismatch)>| match matcher::matches(
                pattern, &f.value,
            ) {
                Ok(c) => Some(c),
                Err(m) => {
                    let same_type = pattern.get("type").and_then(Value::as_str) == Some(f.kind());
                    if closest.is_none() || same_type {
                        *closest = Some((f.clone(), m));
                    }
                    None
                }
            };
        let sess = self.sess(name)?;
        let mut found = None;
        for (i, f) in sess.backlog.iter().enumerate() {
            if next && f.is_heartbeat() {
                continue;
            }
            if let Some(c) = judge(f, &mut closest) {
                found = Some((i, c));
                break;
            }
            if next {
                break;
            }
        }
        if let Some((i, caps)) = found {
            let f = sess.backlog.remove(i).expect("index in range");
            self.vars.extend(caps);
            return Ok(f);
        }
        if next {
            if let Some((f, m)) = &closest {
                return Err(mismatch_stop(
                    &describe,
                    &f.value,
                    m,
                    "the next frame did not match",
                ));
            }
        }
        let until = Instant::now() + self.deadline(within);
        loop {
            match self.receive(name, until).await? {
                Some(f) => {
                    if let Some(caps) = judge(&f, &mut closest) {
                        self.vars.extend(caps);
                        return Ok(f);
                    }
                    if next && !f.is_heartbeat() {
                        let (f, m) = closest.expect("judged above");
                        return Err(mismatch_stop(
                            &describe,
                            &f.value,
                            &m,
                            "the next frame did not match",
                        ));
                    }
                    self.sess(name)?.backlog.push_back(f);
                }
                None => {
                    if let Some(stop) = self.closed_stop(name, &describe) {
                        return Err(stop);
                    }
                    return Err(match closest {
                        Some((f, m)) => mismatch_stop(
                            &describe,
                            &f.value,
                            &m,
                            &format!("no matching frame within {within:?}"),
                        ),
                        None => Stop::Fail {
                            reason: format!("the client sent nothing matching within {within:?}"),
                            expected: Some(describe),
                            actual: Some("no frames".into()),
                        },
                    });
                }
            }
        }
    }

    /// The first non-heartbeat frame not yet consumed; it must be of type `kind`.
    async fn first_of(&mut self, name: &str, kind: &str, until: Instant) -> Result<Frame, Stop> {
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
                Some(f) => self.sess(name)?.backlog.push_back(f),
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

    fn check_pattern(&mut self, pattern: &Option<Value>, frame: &Frame, what: &str) -> StepResult {
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

    async fn send_error(&mut self, name: &str, code: &str, request: &Frame) -> StepResult {
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

    // --------------------------------------------------------------- steps

    async fn welcome(&mut self, w: &Welcome) -> StepResult {
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

    async fn accept(&mut self, a: &Accept) -> StepResult {
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

    async fn emit(&mut self, e: &Emit) -> StepResult {
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
        if let (Value::Object(env), Value::Object(o)) = (&mut env, over) {
            for (k, v) in o {
                if v.is_null() {
                    env.remove(&k);
                } else {
                    env.insert(k, v);
                }
            }
        }
        self.send_value(&e.session, env).await
    }

    async fn send(&mut self, name: &str, frame: &SendFrame) -> StepResult {
        match frame {
            SendFrame::Raw(raw) => {
                let text = self.render_text(raw)?;
                self.send_text(name, text).await
            }
            SendFrame::Oversize(n) => {
                let base = self
                    .envelope(
                        name,
                        "session.ping",
                        json!({"nonce": "oversize", "pad": ""}),
                    )?
                    .to_string();
                let pad = (*n as usize).saturating_sub(base.len());
                let text = base.replacen(
                    "\"pad\":\"\"",
                    &format!("\"pad\":\"{}\"", "x".repeat(pad)),
                    1,
                );
                self.send_text(name, text).await
            }
            SendFrame::Message(m) => {
                let payload = self.render(&m.payload)?;
                let mut env = self.envelope(name, &m.kind, payload)?;
                if let Some(j) = &m.job_id {
                    env["job_id"] = Value::from(self.render_text(j)?);
                }
                if let Some(t) = &m.trace_id {
                    env["trace_id"] = Value::from(self.render_text(t)?);
                }
                let over = self.render(&Value::Object(m.envelope.clone()))?;
                if let (Value::Object(e), Value::Object(o)) = (&mut env, over) {
                    for (k, v) in o {
                        if v.is_null() {
                            e.remove(&k);
                        } else {
                            e.insert(k, v);
                        }
                    }
                }
                self.send_value(name, env).await
            }
        }
    }

    async fn expect_none(
        &mut self,
        name: &str,
        pattern: Option<&Value>,
        d: Duration,
    ) -> StepResult {
        let until = Instant::now() + d;
        loop {
            match self.receive(name, until).await? {
                None => return Ok(()),
                Some(f) => {
                    let hit = match pattern {
                        Some(p) => matcher::matches(p, &f.value).is_ok(),
                        None => !f.is_heartbeat(),
                    };
                    if hit {
                        return Err(Stop::Fail {
                            reason: format!("the client sent a frame it must not within {d:?}"),
                            expected: Some(match pattern {
                                Some(p) => format!("no frame matching {}", matcher::describe(p)),
                                None => "silence".into(),
                            }),
                            actual: Some(matcher::show(&f.value)),
                        });
                    }
                    self.sess(name)?.backlog.push_back(f);
                }
            }
        }
    }

    async fn expect_close(&mut self, name: &str, within: Duration) -> StepResult {
        let until = Instant::now() + self.deadline(within);
        loop {
            match self.receive(name, until).await? {
                Some(f) => self.sess(name)?.backlog.push_back(f),
                None => {
                    let sess = self.sess(name)?;
                    if sess.closed.is_some() {
                        sess.conn = None;
                        return Ok(());
                    }
                    return Err(Stop::Fail {
                        reason: format!("the client kept the transport open for {within:?}"),
                        expected: Some("the client closes the transport".into()),
                        actual: Some("still open".into()),
                    });
                }
            }
        }
    }

    async fn expect_output(&mut self, o: &ExpectOutput) -> StepResult {
        let until = Instant::now() + self.deadline(o.within);
        let (describe, pattern) = match &o.pattern {
            OutputPattern::Line(p) => {
                let p = self.render(p)?;
                (format!("a line {}", matcher::describe(&p)), p)
            }
            OutputPattern::Result(p) => {
                let p = self.render(p)?;
                (format!("RESULT {}", matcher::describe(&p)), p)
            }
            OutputPattern::Error(c) => (format!("ERROR {c}"), Value::from(c.clone())),
        };
        loop {
            let mut hit = None;
            for (i, line) in self.driver.pending.iter().enumerate() {
                match &o.pattern {
                    OutputPattern::Line(_) => {
                        if let Ok(c) = matcher::matches(&pattern, &Value::from(line.clone())) {
                            hit = Some((i, c));
                            break;
                        }
                    }
                    OutputPattern::Result(_) => {
                        let Some(rest) = line.strip_prefix("RESULT ") else {
                            continue;
                        };
                        let v: Value = serde_json::from_str(rest).map_err(|e| Stop::Fail {
                            reason: format!("the driver printed a RESULT that is not JSON ({e})"),
                            expected: Some(describe.clone()),
                            actual: Some(line.clone()),
                        })?;
                        match matcher::matches(&pattern, &v) {
                            Ok(c) => {
                                hit = Some((i, c));
                                break;
                            }
                            Err(m) => {
                                return Err(Stop::Fail {
                                    reason: "the client assembled a different result".into(),
                                    expected: Some(describe),
                                    actual: Some(format!("{m} — in {}", matcher::show(&v))),
                                })
                            }
                        }
                    }
                    OutputPattern::Error(code) => {
                        if line == "ERROR" || line.starts_with("ERROR ") {
                            let got = line.trim_start_matches("ERROR").trim();
                            if got == code {
                                hit = Some((i, BTreeMap::new()));
                                break;
                            }
                            return Err(Stop::Fail {
                                reason: format!("the client surfaced `{got}`, not {code}"),
                                expected: Some(describe),
                                actual: Some(line.clone()),
                            });
                        }
                    }
                }
            }
            if let Some((i, caps)) = hit {
                self.driver.pending.remove(i);
                self.vars.extend(caps);
                return Ok(());
            }
            match self.driver.next_line(until).await {
                Ok(Some(line)) => self.driver.pending.push_back(line),
                Ok(None) => {
                    let status = match &self.driver.guard {
                        Some(g) => g.watch().wait_exit(Duration::from_millis(300)).await,
                        None => None,
                    };
                    let what = format!("without printing {describe}");
                    return Err(match status {
                        Some(s) => self.exited(&process::describe_status(&s), &what),
                        None => Stop::fail(format!("the driver closed its stdout {what}")),
                    });
                }
                Err(()) => {
                    return Err(Stop::Fail {
                        reason: format!(
                            "the driver printed no matching line within {:?}",
                            o.within
                        ),
                        expected: Some(describe),
                        actual: Some(match self.driver.pending.back() {
                            Some(l) => format!("last line: {l}"),
                            None => "no lines".into(),
                        }),
                    })
                }
            }
        }
    }

    fn assert(&mut self, a: &crate::case::Assert) -> StepResult {
        let l = self.render(&a.left)?;
        let r = self.render(&a.right)?;
        shared::assert_values(a, &l, &r)
    }
}
