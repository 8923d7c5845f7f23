//! The scenario engine: runs one parsed case against a target and returns
//! its verdict with evidence. [`runner`] schedules many cases.
//!
//! `play` is the one step loop, whatever side the harness plays; `Run`
//! is its runtime role (the harness as client of a runtime, `steps`);
//! [`crate::clienttest`] is its client role.
//!
//! A case's steps act on named sessions ([`session::Sess`]); every frame
//! that arrives passes the per-frame [`crate::checks`], is logged (redacted)
//! and waits in the session's backlog until a step consumes it.

pub mod budget;
pub mod handshake;
pub mod lag;
pub(crate) mod play;
mod resume;
pub mod runner;
mod session;
pub(crate) mod shared;
mod steps;
mod upstream;

use crate::case::Case;
use crate::checks::Monitor;
use crate::limits::Limits;
use crate::target::Target;
use crate::verdict::{Direction, Origin, Outcome, Verdict, WireEntry};
use serde_json::Value;
use session::Sess;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Knobs that apply to every case of a run.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Multiplies every deadline (not sleeps), for slow targets or machines.
    pub timeout_scale: f64,
    /// Validate received frames against the JSON Schemas.
    pub schema: bool,
    /// The target's limits, as the probe's welcome and the profile give
    /// them; `None`: the profile's `limits:` alone (runs without a probe).
    pub limits: Option<Limits>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            timeout_scale: 1.0,
            schema: true,
            limits: None,
        }
    }
}

/// Why a case stopped before its last step.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The target did not do what the requirement says.
    Fail {
        reason: String,
        expected: Option<String>,
        actual: Option<String>,
    },
    /// The target crashed, hung, flooded or sent garbage; or the harness failed.
    Error { reason: String, origin: Origin },
}

impl Stop {
    pub(crate) fn fail(reason: impl Into<String>) -> Stop {
        Stop::Fail {
            reason: reason.into(),
            expected: None,
            actual: None,
        }
    }

    pub(crate) fn target(reason: impl Into<String>) -> Stop {
        Stop::Error {
            reason: reason.into(),
            origin: Origin::Target,
        }
    }

    pub(crate) fn harness(reason: impl Into<String>) -> Stop {
        Stop::Error {
            reason: reason.into(),
            origin: Origin::Harness,
        }
    }
}

pub(crate) type StepResult = Result<(), Stop>;

/// Shared, append-only wire log of one case.
#[derive(Clone)]
pub(crate) struct Wire {
    start: Instant,
    entries: Arc<Mutex<Vec<WireEntry>>>,
    /// Values known to be secret (credential values the client role handed out).
    secrets: Option<crate::redact::Secrets>,
    /// The log's bytes on the run's budget ([`crate::retained`]).
    kept: Arc<crate::retained::LogCharge>,
    /// Entries and bytes not kept once the budget was spent.
    cut: Arc<Mutex<(usize, usize)>>,
    /// Bytes of this case's frames waiting for a step ([`crate::retained::Charge`]).
    pub(crate) frames: Arc<std::sync::atomic::AtomicUsize>,
}

/// The shortest wall-clock wait for anything the target must do.
pub const MIN_WAIT: Duration = Duration::from_secs(2);
/// The shortest wall-clock limit for a whole case.
pub const MIN_CASE_TIME: Duration = Duration::from_secs(15);

/// Most entries one case keeps; a flooding target must not exhaust memory.
const WIRE_LIMIT: usize = 5_000;
/// Longest logged frame text.
const WIRE_TEXT_LIMIT: usize = 4_096;

impl Wire {
    pub(crate) fn new(secrets: Option<crate::redact::Secrets>) -> Wire {
        Wire {
            start: Instant::now(),
            entries: Arc::new(Mutex::new(vec![])),
            secrets,
            kept: Arc::default(),
            cut: Arc::default(),
            frames: Arc::default(),
        }
    }

    fn cut(&self, bytes: usize) {
        let mut c = self.cut.lock().unwrap();
        c.0 += 1;
        c.1 += bytes;
    }

    pub(crate) fn log(&self, session: &str, dir: Direction, text: &str) {
        let mut e = self.entries.lock().unwrap();
        if e.len() >= WIRE_LIMIT || self.kept.bytes() >= crate::retained::CASE_LOG_BYTES {
            self.cut(text.len());
            return;
        }
        let text = self.excerpt(dir, text);
        // The entry's text, its session name and the record around it.
        if !self.kept.keep(text.len() + session.len() + 64) {
            self.cut(text.len());
            return;
        }
        e.push(WireEntry {
            t_ms: self.start.elapsed().as_secs_f64() * 1000.0,
            session: session.to_string(),
            dir,
            text,
            kept: Some(self.kept.clone()),
        });
    }

    /// Record a per-frame rule broken by `frame` (its text and parsed value):
    /// a note in the wire log, and a count with evidence in `tally`.
    pub(crate) fn violation(
        &self,
        tally: &mut crate::checks::Tally,
        session: &str,
        v: &crate::checks::Violation,
        frame: Option<(&str, &Value)>,
    ) {
        self.log(session, Direction::Note, &v.note(frame.map(|f| f.1)));
        let text = frame.map_or(String::new(), |f| self.excerpt(Direction::In, f.0));
        tally.add(
            v,
            session,
            text,
            self.start.elapsed().as_secs_f64() * 1000.0,
        );
    }

    /// `text` as the wire log keeps it: redacted, and cut when long.
    fn excerpt(&self, dir: Direction, text: &str) -> String {
        let mut text = match dir {
            Direction::Note => text.to_string(),
            // Parsing a giant frame to redact it would stall a worker: cut first.
            _ if text.len() > 4 * WIRE_TEXT_LIMIT => {
                let cut = (0..=WIRE_TEXT_LIMIT)
                    .rev()
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap_or(0);
                format!(
                    "{}… ({} bytes)",
                    crate::redact::scrub_text(&text[..cut]),
                    text.len()
                )
            }
            _ => crate::redact::frame(text),
        };
        if let Some(s) = &self.secrets {
            text = crate::redact::known(&text, s);
        }
        if text.len() > WIRE_TEXT_LIMIT {
            let cut = (0..=WIRE_TEXT_LIMIT)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            let total = text.len();
            text.truncate(cut);
            text.push_str(&format!("… ({total} bytes)"));
        }
        text
    }

    /// The log, ending with a marker when entries were not kept.
    pub(crate) fn take(&self) -> Vec<WireEntry> {
        let mut entries = std::mem::take(&mut *self.entries.lock().unwrap());
        let (n, bytes) = std::mem::take(&mut *self.cut.lock().unwrap());
        if n > 0 {
            entries.push(WireEntry {
                t_ms: self.start.elapsed().as_secs_f64() * 1000.0,
                session: "-".into(),
                dir: Direction::Note,
                text: format!(
                    "wire log truncated: {n} more entries ({bytes} bytes) not kept (a case keeps at most {WIRE_LIMIT} entries and {} KiB; the run {} MiB of logs)",
                    crate::retained::CASE_LOG_BYTES / 1024,
                    crate::retained::LOG_BYTES / (1024 * 1024)
                ),
                kept: None,
            });
        }
        entries
    }
}

/// The state of one case being run.
pub(crate) struct Run<'a> {
    pub target: &'a Target,
    pub instance: crate::target::Instance,
    pub opts: &'a EngineOptions,
    pub sessions: HashMap<String, Sess>,
    pub vars: BTreeMap<String, Value>,
    pub monitor: Monitor,
    pub wire: Wire,
    pub current_line: usize,
    pub dialect: Vec<String>,
    pub violations: crate::checks::Tally,
    /// A step's deadline passed (the verdict may be timing, not behaviour).
    pub deadline_missed: bool,
}

/// Run one case to its verdict. Never panics on target behaviour; every wait
/// is bounded by the step's deadline and by the case's timeout.
pub async fn run_case(case: &Case, target: &Target, opts: &EngineOptions) -> Outcome {
    let started = Instant::now();
    let mut monitor = Monitor::new();
    monitor.schema = opts.schema;
    let mut run = Run {
        target,
        instance: target.instance(),
        opts,
        sessions: HashMap::new(),
        vars: BTreeMap::new(),
        monitor,
        wire: Wire::new(None),
        current_line: case.line,
        dialect: vec![],
        violations: Default::default(),
        deadline_missed: false,
    };
    // Waits sized by the target come on top of the case's own timeout.
    let designed = budget::designed_time(case, run.limits()).unwrap_or_default();
    let limit = (run.deadline(case.timeout) + run.deadline(designed))
        .max(MIN_CASE_TIME.mul_f64(opts.timeout_scale));
    let lag = lag::Ticker::start();
    let result = match tokio::time::timeout(limit, play::steps(&mut run, &case.steps)).await {
        Ok(r) => r,
        Err(_) => {
            run.deadline_missed = true;
            Err(Stop::target(format!(
                "case did not finish within its timeout ({:?} protocol time, {limit:?} wall)",
                case.timeout + designed
            )))
        }
    };
    let harness_lag = lag.stop();
    let mut stderr = run.stderr();
    let mut outcome = shared::outcome(result, case.level, run.current_line);
    let processes: Vec<_> = run.sessions.values().filter_map(|s| s.process()).collect();
    run.close_all().await;
    outcome.violations = run.violations.take();
    // Processes the target left outside its group were killed when it was stopped.
    let left: Vec<String> = processes.iter().flat_map(|p| p.left_behind()).collect();
    if !left.is_empty() {
        let line = format!(
            "the target left {} process(es) behind outside its process group, killed by the harness: {}",
            left.len(),
            left.join(", ")
        );
        run.wire.log("-", Direction::Note, &line);
        stderr.push_str(&format!("[harness] {line}\n"));
    }
    // Failure text quotes frames: no secret may reach a report through it.
    for v in &mut outcome.violations {
        v.detail = crate::redact::scrub_text(&v.detail);
    }
    outcome.reason = crate::redact::scrub_text(&outcome.reason);
    outcome.expected = outcome.expected.map(|e| crate::redact::scrub_text(&e));
    outcome.actual = outcome.actual.map(|a| crate::redact::scrub_text(&a));
    outcome.dialect = std::mem::take(&mut run.dialect);
    outcome.wire = run.wire.take();
    outcome.stderr = stderr;
    outcome.duration = started.elapsed();
    outcome.deadline_missed = run.deadline_missed
        && matches!(
            outcome.verdict,
            Verdict::Fail | Verdict::Warn | Verdict::Error
        );
    outcome.harness_lag = harness_lag;
    lag::annotate(&mut outcome);
    outcome
}

impl Run<'_> {
    /// Wall deadline for `d` of protocol time, scaled by `--timeout-scale`.
    /// Never below [`MIN_WAIT`]: a deadline only costs time when a case
    /// fails, and a sped-up clock must not turn a busy machine into FAILs.
    pub(crate) fn deadline(&self, d: Duration) -> Duration {
        self.target
            .clock
            .wall(d)
            .max(MIN_WAIT)
            .mul_f64(self.opts.timeout_scale)
    }

    /// The target's limits this case resolves derived waits against.
    pub(crate) fn limits(&self) -> &Limits {
        self.opts
            .limits
            .as_ref()
            .unwrap_or(&self.target.profile.limits)
    }

    /// Protocol time of a wait as the case wrote it. The runner turns a case
    /// naming an unknown limit into N/A or UNTESTABLE before it runs, so an
    /// unknown one here is the harness's error.
    pub(crate) fn span(&self, s: &crate::case::Span) -> Result<Duration, Stop> {
        s.at(self.limits()).map_err(|l| {
            Stop::harness(format!(
                "the wait `{s}` names `{l}`, which is not known for this target: {}",
                l.knob()
            ))
        })
    }

    /// Record, once, a non-spec dialect choice this case relied on.
    pub(crate) fn note_dialect(&mut self, note: &str) {
        if !self.dialect.iter().any(|d| d == note) {
            self.dialect.push(note.to_string());
        }
    }

    fn stderr(&self) -> String {
        let mut out = self.target.server_output();
        for (name, s) in &self.sessions {
            let tail = s.stderr_tail();
            if !tail.is_empty() {
                out.push_str(&format!("[{name}] {tail}\n"));
            }
        }
        crate::redact::frame(&out)
    }

    async fn close_all(&mut self) {
        for (_, s) in self.sessions.drain() {
            s.shutdown().await;
        }
    }
}
