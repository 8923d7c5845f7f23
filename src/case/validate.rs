//! Checks that need the whole case (and step lines): sessions are opened
//! before use, template names are defined before use, and the `requires`
//! block is completed with what the steps visibly use.

use std::collections::{HashMap, HashSet};

use super::model::*;
use crate::matcher;
use crate::template::{self, Builtin};

pub(crate) use super::names::{step_names, Problem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Transport open, no hello yet.
    Connected,
    /// Welcomed (or at least helloed / resumed).
    Open,
    /// We dropped the transport.
    Dropped,
    /// The peer closed the transport (`expect_close`).
    Closed,
}

impl State {
    fn live(self) -> bool {
        matches!(self, State::Connected | State::Open)
    }
}

#[derive(Default)]
struct Checker {
    sessions: HashMap<String, State>,
    defined: HashSet<String>,
    repeat_depth: usize,
    max_live: u32,
    agents: Vec<AgentRole>,
    principals: Vec<Principal>,
    reconnect: bool,
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Validate a `role: runtime` case and complete `case.requires`
/// (`role: client` cases are checked by [`super::client_check`]; the loader
/// picks one by the case's role).
pub(crate) fn check(case: &mut Case) -> Result<(), Problem> {
    if let Some(s) = case
        .all_steps()
        .into_iter()
        .find(|s| StepKind::CLIENT_ONLY.contains(&s.kind.name()))
    {
        return Err((
            s.line,
            format!(
                "`{}` is a step of `role: client` cases (the harness plays the runtime); add `role: client` and a `scenario`",
                s.kind.name()
            ),
        ));
    }
    timing(case)?;
    let mut c = Checker::default();
    c.steps(&case.steps)?;
    let req = &mut case.requires;
    for a in c.agents {
        push_unique(&mut req.agents, a);
    }
    for p in c.principals {
        push_unique(&mut req.principals, p);
    }
    req.sessions = req.sessions.max(c.max_live);
    req.reconnect |= c.reconnect;
    Ok(())
}

/// A case's level must be the one its quoted sentence carries (both roles).
pub(crate) fn level(case: &Case) -> Option<String> {
    crate::conformance::level_unsupported(case.level.label(), &case.requirement)
}

/// Longest wait a case may write as a literal: anything longer is sized by
/// some target's limit and must say which (`heartbeat * 3 + 5s`).
pub const LONGEST_LITERAL_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// Tags of cases about the target's timing: every wait they write is derived.
pub const TIMING_TAGS: &[&str] = &["heartbeat", "resume-window"];

/// No wait may be sized after one runtime's settings: a literal over
/// [`LONGEST_LITERAL_WAIT`] is refused, and a case tagged with a
/// [`TIMING_TAGS`] tag writes every `within` / `for` / `sleep` derived.
fn timing(case: &Case) -> Result<(), Problem> {
    let timing_tag = case.tags.iter().find(|t| TIMING_TAGS.contains(&t.as_str()));
    for (step, w) in case.waits() {
        let Some(d) = w.literal().filter(|_| w.written) else {
            continue;
        };
        if d > LONGEST_LITERAL_WAIT {
            return Err((
                step.line,
                format!(
                    "`{}` waits a literal {d:?}, longer than {}s: a wait this long is a target's limit; derive it from `heartbeat` or `resume_window` (e.g. `heartbeat * 3 + 5s`)",
                    step.kind.name(),
                    LONGEST_LITERAL_WAIT.as_secs()
                ),
            ));
        }
        if let Some(tag) = timing_tag {
            return Err((
                step.line,
                format!(
                    "`{}` waits a literal {d:?} in a case tagged `{tag}`: derive it from the target (e.g. `heartbeat + 5s`, `resume_window + 5s`), or leave out `within` for the default",
                    step.kind.name()
                ),
            ));
        }
    }
    Ok(())
}

impl Checker {
    fn steps(&mut self, steps: &[Step]) -> Result<(), Problem> {
        steps.iter().try_for_each(|s| self.step(s))
    }

    fn name(&mut self, name: &str) -> Result<(), String> {
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
            Some(b) => {
                match &b {
                    Builtin::SessionId(s)
                    | Builtin::SessionResumeToken(s)
                    | Builtin::SessionLastSeq(s) => {
                        if !self.sessions.contains_key(s) {
                            return Err(format!(
                                "`${{{name}}}` refers to session {s:?} before it is opened"
                            ));
                        }
                    }
                    Builtin::Agent(a) => push_unique(&mut self.agents, *a),
                    Builtin::PrincipalToken(p) => push_unique(&mut self.principals, *p),
                    Builtin::Now(_)
                    | Builtin::Limit(_)
                    | Builtin::Ms(_)
                    | Builtin::List(..) => {}
                }
                Ok(())
            }
            None => Err(format!(
                "unknown template name `${{{name}}}`: not a built-in, and no earlier step captures or sets it"
            )),
        }
    }

    fn require_live(&self, session: &str) -> Result<(), String> {
        match self.sessions.get(session) {
            Some(s) if s.live() => Ok(()),
            None => Err(format!("step uses session {session:?} before it is opened")),
            Some(State::Dropped) => Err(format!(
                "step uses session {session:?} after it was dropped (`resume` or `open` it again)"
            )),
            Some(_) => Err(format!(
                "step uses session {session:?} after the peer closed it (`resume` or `open` it again)"
            )),
        }
    }

    fn require_not_live(&self, session: &str, step: &str) -> Result<(), String> {
        match self.sessions.get(session) {
            Some(s) if s.live() => Err(format!(
                "`{step}` on session {session:?}, which is still connected (`drop` it first, or use another session name)"
            )),
            _ => Ok(()),
        }
    }

    fn set_state(&mut self, session: &str, state: State) {
        self.sessions.insert(session.to_string(), state);
        let live = self.sessions.values().filter(|s| s.live()).count() as u32;
        self.max_live = self.max_live.max(live);
    }

    fn step(&mut self, step: &Step) -> Result<(), Problem> {
        let at = |msg: String| (step.line, msg);

        // Values first: a step cannot use what it captures itself.
        for name in step_names(&step.kind) {
            self.name(&name).map_err(at)?;
        }

        match &step.kind {
            StepKind::Open(h) => {
                self.require_not_live(&h.session, "open").map_err(at)?;
                push_unique(&mut self.principals, h.principal);
                self.set_state(&h.session, State::Open);
                // The engine keeps each session's welcome frame.
                self.defined.insert(format!("{}_welcome", h.session));
            }
            StepKind::Connect(s) => {
                self.require_not_live(&s.session, "connect").map_err(at)?;
                self.set_state(&s.session, State::Connected);
            }
            StepKind::Hello(h) => {
                self.require_live(&h.session).map_err(at)?;
                push_unique(&mut self.principals, h.principal);
                self.set_state(&h.session, State::Open);
                // The engine keeps each session's welcome frame.
                self.defined.insert(format!("{}_welcome", h.session));
            }
            StepKind::Resume(r) => {
                self.require_not_live(&r.session, "resume").map_err(at)?;
                self.reconnect = true;
                self.set_state(&r.session, State::Open);
                self.defined.insert(format!("{}_welcome", r.session));
            }
            StepKind::Drop(s) => {
                if !self.sessions.contains_key(&s.session) {
                    return Err(at(format!(
                        "step uses session {:?} before it is opened",
                        s.session
                    )));
                }
                self.set_state(&s.session, State::Dropped);
            }
            StepKind::ExpectClose(e) => {
                self.require_live(&e.session).map_err(at)?;
                self.set_state(&e.session, State::Closed);
            }
            StepKind::Submit(s) => {
                self.require_live(&s.session).map_err(at)?;
                self.defined.insert(s.capture_as.clone());
                // The engine also keeps the whole job.accepted payload.
                self.defined.insert(format!("{}_accepted", s.capture_as));
            }
            StepKind::Expect(e) => {
                self.require_live(&e.session).map_err(at)?;
                self.defined.extend(e.capture.keys().cloned());
                self.defined.extend(matcher::capture_names(&e.pattern));
            }
            StepKind::WaitJob(w) => {
                self.require_live(&w.session).map_err(at)?;
                self.defined.extend(w.capture.keys().cloned());
            }
            StepKind::Send(_) | StepKind::ExpectError(_) | StepKind::ExpectNone(_) => {
                let s = step.kind.session().expect("session step");
                self.require_live(s).map_err(at)?;
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
                // A second pass sees the state the first iteration leaves
                // behind (a session opened and never dropped, a name
                // captured late in the body and used early).
                let passes = if r.times > 1 { 2 } else { 1 };
                for _ in 0..passes {
                    self.steps(&r.steps)?;
                }
                self.repeat_depth -= 1;
            }
            StepKind::Sleep(_) | StepKind::Assert(_) => {}
            StepKind::ExpectUpstream(_)
            | StepKind::ExpectUpstreamNone(_)
            | StepKind::UpstreamFail(_) => {}
            StepKind::Welcome(_)
            | StepKind::Accept(_)
            | StepKind::Emit(_)
            | StepKind::ExpectOutput(_) => {
                unreachable!("client-role steps are refused in runtime cases before this")
            }
        }
        Ok(())
    }
}
