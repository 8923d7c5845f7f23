//! Whole-case checks for `role: client` cases (the harness plays the
//! runtime): only steps that make sense on the runtime side, sessions
//! welcomed before use, template names defined before use.

use std::collections::{HashMap, HashSet};

use super::model::*;
use super::names::{step_names, Problem};
use crate::matcher;
use crate::template::{self, Builtin};

/// Names every client case may use without defining them.
pub const PREDEFINED: &[&str] = &["driver_job"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Welcomed: the client is connected.
    Open,
    /// The harness dropped the transport.
    Dropped,
    /// The client closed the transport (`expect_close`).
    Closed,
}

#[derive(Default)]
struct Checker {
    sessions: HashMap<String, State>,
    defined: HashSet<String>,
    repeat_depth: usize,
    reconnect: bool,
}

pub(crate) fn check(case: &mut Case) -> Result<(), Problem> {
    // The harness is the runtime here: a case sets the heartbeat and window
    // in its own `welcome`, so waits are written as the numbers it set.
    if let Some((step, w)) = case.waits().into_iter().find(|(_, w)| w.is_derived()) {
        return Err((
            step.line,
            format!(
                "`{w}`: in a `role: client` case the harness plays the runtime and sets its limits in `welcome`; write the wait as a duration"
            ),
        ));
    }
    let mut c = Checker::default();
    c.defined.extend(PREDEFINED.iter().map(|s| s.to_string()));
    c.steps(&case.steps)?;
    case.requires.reconnect |= c.reconnect;
    Ok(())
}

impl Checker {
    fn steps(&mut self, steps: &[Step]) -> Result<(), Problem> {
        steps.iter().try_for_each(|s| self.step(s))
    }

    fn name(&self, name: &str) -> Result<(), String> {
        if name == "i" {
            return if self.repeat_depth > 0 {
                Ok(())
            } else {
                Err("`${i}` is only defined inside `repeat`".to_string())
            };
        }
        if self.defined.contains(name) {
            return Ok(());
        }
        match Builtin::parse(name) {
            Some(b) if !b.limits().is_empty() => Err(format!(
                "`${{{name}}}`: in a `role: client` case the harness plays the runtime and sets its limits in `welcome`; write the number"
            )),
            Some(b) => match b.session() {
                Some(s) if !self.sessions.contains_key(s) => Err(format!(
                    "`${{{name}}}` refers to session {s:?} before it is welcomed"
                )),
                _ => Ok(()),
            },
            None => Err(format!(
                "unknown template name `${{{name}}}`: not a built-in, and no earlier step captures or sets it"
            )),
        }
    }

    fn require_live(&self, session: &str) -> Result<(), String> {
        match self.sessions.get(session) {
            Some(State::Open) => Ok(()),
            None => Err(format!(
                "step uses session {session:?} before it is welcomed (start with `welcome`)"
            )),
            Some(State::Dropped) => Err(format!(
                "step uses session {session:?} after it was dropped (`welcome: {{resume: true}}` it again)"
            )),
            Some(State::Closed) => Err(format!(
                "step uses session {session:?} after the client closed it (`welcome` it again)"
            )),
        }
    }

    fn step(&mut self, step: &Step) -> Result<(), Problem> {
        let at = |msg: String| (step.line, msg);
        let key = step.kind.name();
        if StepKind::RUNTIME_ONLY.contains(&key) {
            return Err(at(format!(
                "`{key}` is a step of runtime cases; in a `role: client` case the client under test opens sessions and submits jobs (use `welcome`, `accept`, `emit`, `send`, `expect`)"
            )));
        }
        for name in step_names(&step.kind) {
            self.name(&name).map_err(at)?;
        }
        match &step.kind {
            StepKind::Welcome(w) => {
                if w.resume {
                    if !self.sessions.contains_key(&w.session) {
                        return Err(at(format!(
                            "`welcome: {{resume: true}}` on session {:?}, which was never welcomed",
                            w.session
                        )));
                    }
                    self.reconnect = true;
                } else if self.sessions.get(&w.session) == Some(&State::Open) {
                    return Err(at(format!(
                        "`welcome` on session {:?}, which is still connected (`drop` it first, use `resume: true`, or another session name)",
                        w.session
                    )));
                }
                self.sessions.insert(w.session.clone(), State::Open);
                self.defined.extend(w.capture.keys().cloned());
                if let Some(p) = &w.pattern {
                    self.defined.extend(matcher::capture_names(p));
                }
            }
            StepKind::Accept(a) => {
                self.require_live(&a.session).map_err(at)?;
                self.defined.insert(a.capture_as.clone());
                self.defined.extend(a.capture.keys().cloned());
                if let Some(p) = &a.pattern {
                    self.defined.extend(matcher::capture_names(p));
                }
            }
            StepKind::Expect(e) => {
                self.require_live(&e.session).map_err(at)?;
                self.defined.extend(e.capture.keys().cloned());
                self.defined.extend(matcher::capture_names(&e.pattern));
            }
            StepKind::Emit(_) | StepKind::Send(_) | StepKind::ExpectNone(_) => {
                let s = step.kind.session().expect("session step");
                self.require_live(s).map_err(at)?;
            }
            StepKind::ExpectClose(e) => {
                self.require_live(&e.session).map_err(at)?;
                self.sessions.insert(e.session.clone(), State::Closed);
            }
            StepKind::Drop(s) => {
                if !self.sessions.contains_key(&s.session) {
                    return Err(at(format!(
                        "step uses session {:?} before it is welcomed",
                        s.session
                    )));
                }
                self.sessions.insert(s.session.clone(), State::Dropped);
            }
            StepKind::ExpectOutput(o) => {
                if let OutputPattern::Result(p) = &o.pattern {
                    self.defined.extend(matcher::capture_names(p));
                }
            }
            StepKind::Set(map) => {
                for (k, v) in map {
                    for name in template::names(v) {
                        self.name(&name).map_err(at)?;
                    }
                    self.defined.insert(k.clone());
                }
            }
            StepKind::Repeat(r) => {
                self.repeat_depth += 1;
                let passes = if r.times > 1 { 2 } else { 1 };
                for _ in 0..passes {
                    self.steps(&r.steps)?;
                }
                self.repeat_depth -= 1;
            }
            StepKind::Sleep(_) | StepKind::Assert(_) => {}
            StepKind::Open(_)
            | StepKind::Connect(_)
            | StepKind::Hello(_)
            | StepKind::Submit(_)
            | StepKind::ExpectError(_)
            | StepKind::Resume(_)
            | StepKind::WaitJob(_)
            | StepKind::ExpectUpstream(_)
            | StepKind::ExpectUpstreamNone(_)
            | StepKind::UpstreamFail(_) => unreachable!("refused above"),
        }
        Ok(())
    }
}
