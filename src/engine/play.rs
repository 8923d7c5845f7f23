//! The step loop, whichever side the harness plays. A case's steps run here
//! in order; what a step means on the wire for one side sits behind
//! [`Role`]: the harness as client of a runtime ([`super::Run`]), or as
//! runtime for a client ([`crate::clienttest`]). The steps both sides share
//! (`expect`, `expect_none`, `expect_close`, `drop`, `sleep`, `set`,
//! `assert`, `repeat`) and the waiting, matching and templating behind them
//! are written once, here.

pub(crate) use super::session::Frame;
use super::shared::{self, mismatch_stop};
use super::{StepResult, Stop, Wire};
use crate::case::{Expect, MessageSpec as Message, Span, Step, StepKind};
use crate::clock::SharedClock;
use crate::matcher;
use crate::template::{self, Builtin};
use crate::verdict::Direction;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// Whom the harness faces: it words the findings of the shared steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// A runtime under test (the harness is its client).
    Runtime,
    /// A client under test (the harness is its runtime).
    Client,
}

/// What one side of a case does that the other does not.
pub(crate) trait Role: Send + Sized {
    /// Whom the harness faces.
    const PEER: Peer;

    /// Captures and `set` values.
    fn vars(&self) -> &BTreeMap<String, Value>;
    fn vars_mut(&mut self) -> &mut BTreeMap<String, Value>;
    /// A built-in template name (`${session.x.id}`, `${token.bob}`...) as
    /// this side knows it; `now` is [`Role::lookup`]'s.
    fn builtin(&self, b: Builtin) -> Option<Value>;
    fn wire(&self) -> &Wire;
    /// The step now running: a verdict points at its line.
    fn at_line(&mut self, line: usize);

    fn clock(&self) -> &SharedClock;
    /// Protocol time of a wait as the case wrote it.
    fn span(&self, s: &Span) -> Result<Duration, Stop>;
    /// Wall deadline of a step that waits `d` of protocol time.
    fn deadline(&self, d: Duration) -> Duration;

    /// The next frame from a session's transport (not its backlog) by
    /// `until`. `Ok(None)`: the deadline passed, or the transport closed
    /// (the session is then marked closed).
    fn receive(
        &mut self,
        name: &str,
        until: Instant,
    ) -> impl Future<Output = Result<Option<Frame>, Stop>> + Send;
    /// Frames that arrived and no step consumed yet, in arrival order.
    fn backlog(&mut self, name: &str) -> Result<&mut VecDeque<Frame>, Stop>;
    /// Keep a frame for a later step.
    fn keep(&mut self, name: &str, f: Frame) -> StepResult;
    /// Consume the backlog's frame `i`.
    fn take(&mut self, name: &str, i: usize) -> Result<Frame, Stop>;
    /// Did the peer close the transport? If so, let go of it.
    fn closed(&mut self, name: &str) -> Result<bool, Stop>;
    /// `drop`: cut the transport abruptly.
    fn drop_transport(&mut self, name: &str) -> StepResult;
    /// A wait for a frame ended without one: the side's finding (a crash,
    /// an unresponsive peer, a close; else [`Miss::stop`]).
    fn missed(&mut self, name: &str, miss: Miss) -> impl Future<Output = Stop> + Send;
    /// A step's deadline passed without what it waited for.
    fn deadline_passed(&mut self) {}

    /// A fresh envelope of this session.
    fn envelope(&mut self, name: &str, kind: &str, payload: Value) -> Result<Value, Stop>;

    /// Run a step only this side has (or words its own way); `None`: the
    /// step is one of the shared ones.
    fn own_step(&mut self, kind: &StepKind) -> impl Future<Output = Option<StepResult>> + Send;

    /// Resolve a template name: captures and `set` first, then built-ins
    /// (`now` on the side's clock).
    fn lookup(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.vars().get(name) {
            return Some(v.clone());
        }
        match Builtin::parse(name)? {
            Builtin::Now(delta) => Some(Value::from(crate::clock::timestamp(
                self.clock().now() + delta,
            ))),
            b => self.builtin(b),
        }
    }

    fn render(&self, v: &Value) -> Result<Value, Stop> {
        template::render(v, &|n| self.lookup(n)).map_err(|e| Stop::harness(e.to_string()))
    }

    fn render_text(&self, s: &str) -> Result<String, Stop> {
        template::render_text(s, &|n| self.lookup(n)).map_err(|e| Stop::harness(e.to_string()))
    }

    /// Apply a step's `capture:` to the frame it matched.
    fn capture(&mut self, frame: &Frame, capture: &BTreeMap<String, String>) -> StepResult {
        shared::capture(&frame.value, capture, self.vars_mut())
    }
}

/// A wait that ended without a matching frame.
pub(crate) struct Miss {
    /// What was awaited, in words.
    pub describe: String,
    pub pattern: Value,
    pub within: Duration,
    /// The frame closest to a match, with why it was not one.
    pub closest: Option<(Frame, matcher::Mismatch)>,
    /// Frames that arrived during the wait.
    pub seen: usize,
}

impl Miss {
    /// A frame of the awaited type that did not match, or an error instead,
    /// is a finding about content; only a missing answer is timing.
    pub(crate) fn near(&self) -> bool {
        self.closest.as_ref().is_some_and(|(f, _)| {
            self.pattern.get("type").and_then(Value::as_str) == Some(f.kind())
                || f.kind().ends_with(".error")
        })
    }

    /// The FAIL: the closest frame, or none at all.
    pub(crate) fn stop(self, peer: Peer) -> Stop {
        let within = self.within;
        match self.closest {
            Some((f, m)) => mismatch_stop(
                &self.describe,
                &f.value,
                &m,
                &format!("no matching frame within {within:?}"),
            ),
            None => Stop::Fail {
                reason: match peer {
                    Peer::Runtime => format!("nothing matching arrived within {within:?}"),
                    Peer::Client => {
                        format!("the client sent nothing matching within {within:?}")
                    }
                },
                expected: Some(self.describe),
                actual: Some("no frames".into()),
            },
        }
    }
}

/// Run `steps` in order; the first that stops ends the case.
pub(crate) fn steps<'s, R: Role>(
    r: &'s mut R,
    steps: &'s [Step],
) -> Pin<Box<dyn Future<Output = StepResult> + Send + 's>> {
    Box::pin(async move {
        for step in steps {
            r.at_line(step.line);
            if let Some(note) = &step.note {
                r.wire()
                    .log("-", Direction::Note, &format!("line {}: {note}", step.line));
            }
            if let Some(result) = r.own_step(&step.kind).await {
                result?;
            } else {
                step_shared(r, &step.kind).await?;
            }
        }
        Ok(())
    })
}

async fn step_shared<R: Role>(r: &mut R, kind: &StepKind) -> StepResult {
    match kind {
        StepKind::Expect(e) => expect(r, e).await.map(|_| ()),
        StepKind::ExpectNone(e) => {
            let pattern = match &e.pattern {
                Some(p) => Some(r.render(p)?),
                None => None,
            };
            let d = r.span(&e.duration)?;
            expect_none(r, &e.session, pattern.as_ref(), d).await
        }
        StepKind::ExpectClose(e) => {
            let d = r.span(&e.within)?;
            expect_close(r, &e.session, d).await
        }
        StepKind::Drop(s) => {
            r.drop_transport(&s.session)?;
            r.wire()
                .log(&s.session, Direction::Note, "transport dropped");
            Ok(())
        }
        StepKind::Sleep(d) => {
            let d = r.span(d)?;
            r.clock().sleep(d).await;
            Ok(())
        }
        StepKind::Set(map) => {
            for (k, v) in map {
                let v = r.render(v)?;
                r.vars_mut().insert(k.clone(), v);
            }
            Ok(())
        }
        StepKind::Assert(a) => {
            let (left, right) = (r.render(&a.left)?, r.render(&a.right)?);
            shared::assert_values(a, &left, &right)
        }
        StepKind::Repeat(rep) => {
            for i in 0..rep.times {
                r.vars_mut().insert("i".into(), json!(i));
                steps(r, &rep.steps).await?;
            }
            Ok(())
        }
        k => Err(Stop::harness(format!(
            "`{}` has no meaning for this side of a case",
            k.name()
        ))),
    }
}

/// `expect`: wait for a frame matching the rendered pattern; capture from it.
pub(crate) async fn expect<R: Role>(r: &mut R, e: &Expect) -> Result<Frame, Stop> {
    let pattern = r.render(&e.pattern)?;
    expect_rendered(r, e, &pattern).await
}

/// `expect` with its pattern already rendered (and adjusted by the side).
pub(crate) async fn expect_rendered<R: Role>(
    r: &mut R,
    e: &Expect,
    pattern: &Value,
) -> Result<Frame, Stop> {
    let within = r.span(&e.within)?;
    let frame = await_match(r, &e.session, pattern, within, e.next, "").await?;
    r.capture(&frame, &e.capture)?;
    Ok(frame)
}

/// Wait for a frame matching `pattern`: the backlog first, then new frames.
/// `next`: the very next frame that is not a heartbeat must match. Its
/// `$capture`s become variables.
pub(crate) async fn await_match<R: Role>(
    r: &mut R,
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
    let judge = |f: &Frame,
                 closest: &mut Option<(Frame, matcher::Mismatch)>|
     -> Option<matcher::Captures> {
        match matcher::matches(pattern, &f.value) {
            Ok(c) => Some(c),
            Err(m) => {
                let same_type = pattern.get("type").and_then(Value::as_str) == Some(f.kind());
                if closest.is_none() || same_type {
                    *closest = Some((f.clone(), m));
                }
                None
            }
        }
    };
    let mut found = None;
    for (i, f) in r.backlog(name)?.iter().enumerate() {
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
        let f = r.take(name, i)?;
        r.vars_mut().extend(caps);
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
    let until = Instant::now() + r.deadline(within);
    let mut seen = 0usize;
    loop {
        match r.receive(name, until).await? {
            Some(f) => {
                seen += 1;
                if let Some(caps) = judge(&f, &mut closest) {
                    r.vars_mut().extend(caps);
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
                r.keep(name, f)?;
            }
            None => {
                let miss = Miss {
                    describe,
                    pattern: pattern.clone(),
                    within,
                    closest,
                    seen,
                };
                return Err(r.missed(name, miss).await);
            }
        }
    }
}

/// `expect_none`: nothing (matching `pattern`, or but heartbeats) for `d`.
pub(crate) async fn expect_none<R: Role>(
    r: &mut R,
    name: &str,
    pattern: Option<&Value>,
    d: Duration,
) -> StepResult {
    let until = Instant::now() + r.clock().wall(d);
    loop {
        match r.receive(name, until).await? {
            None => return Ok(()),
            Some(f) => {
                let hit = match pattern {
                    Some(p) => matcher::matches(p, &f.value).is_ok(),
                    None => !f.is_heartbeat(),
                };
                if hit {
                    return Err(Stop::Fail {
                        reason: match R::PEER {
                            Peer::Runtime => format!("a frame arrived that must not within {d:?}"),
                            Peer::Client => {
                                format!("the client sent a frame it must not within {d:?}")
                            }
                        },
                        expected: Some(match pattern {
                            Some(p) => format!("no frame matching {}", matcher::describe(p)),
                            None => "silence".into(),
                        }),
                        actual: Some(matcher::show(&f.value)),
                    });
                }
                r.keep(name, f)?;
            }
        }
    }
}

/// `expect_close`: the peer closes the transport within `within`.
pub(crate) async fn expect_close<R: Role>(r: &mut R, name: &str, within: Duration) -> StepResult {
    let until = Instant::now() + r.deadline(within);
    loop {
        match r.receive(name, until).await? {
            Some(f) => r.keep(name, f)?,
            None if r.closed(name)? => return Ok(()),
            None => {
                r.deadline_passed();
                let (reason, expected) = match R::PEER {
                    Peer::Runtime => (
                        format!("the transport stayed open for {within:?}"),
                        "the target closes the transport",
                    ),
                    Peer::Client => (
                        format!("the client kept the transport open for {within:?}"),
                        "the client closes the transport",
                    ),
                };
                return Err(Stop::Fail {
                    reason,
                    expected: Some(expected.into()),
                    actual: Some("still open".into()),
                });
            }
        }
    }
}

/// The text of a `send` step's `oversize: N`: a ping padded to `n` bytes.
pub(crate) fn oversize<R: Role>(r: &mut R, name: &str, n: u64) -> Result<String, Stop> {
    let base = r
        .envelope(
            name,
            "session.ping",
            json!({"nonce": "oversize", "pad": ""}),
        )?
        .to_string();
    let pad = (n as usize).saturating_sub(base.len());
    // One allocation of the frame's size: the frame can be tens of
    // megabytes, and every extra copy is peak memory.
    let (head, tail) = base.split_once("\"pad\":\"\"").expect("pad field");
    let mut text = Vec::with_capacity(base.len() + pad);
    text.extend_from_slice(head.as_bytes());
    text.extend_from_slice(b"\"pad\":\"");
    // A fill, not a char at a time: tens of megabytes.
    text.resize(text.len() + pad, b'x');
    text.push(b'"');
    text.extend_from_slice(tail.as_bytes());
    Ok(String::from_utf8(text).expect("ASCII padding in a JSON text"))
}

/// The envelope of a `send` step's message (of type `kind`, with its
/// rendered `payload`): `job_id`, `trace_id` and `envelope:` applied.
pub(crate) fn message<R: Role>(
    r: &mut R,
    name: &str,
    m: &Message,
    kind: &str,
    payload: Value,
) -> Result<Value, Stop> {
    let mut env = r.envelope(name, kind, payload)?;
    if let Some(j) = &m.job_id {
        env["job_id"] = Value::from(r.render_text(j)?);
    }
    if let Some(t) = &m.trace_id {
        env["trace_id"] = Value::from(r.render_text(t)?);
    }
    let over = r.render(&Value::Object(m.envelope.clone()))?;
    override_envelope(&mut env, over);
    Ok(env)
}

/// A case's `envelope:` over a built envelope: a field set, or removed by null.
pub(crate) fn override_envelope(env: &mut Value, over: Value) {
    if let (Value::Object(e), Value::Object(o)) = (env, over) {
        for (k, v) in o {
            if v.is_null() {
                e.remove(&k);
            } else {
                e.insert(k, v);
            }
        }
    }
}
