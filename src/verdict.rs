//! Verdicts and the evidence behind them.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// A case's result. Order is severity for summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Verdict {
    #[serde(rename = "PASS")]
    Pass,
    /// Implementation-defined behaviour worth reporting (a MAY not taken).
    #[serde(rename = "INFO")]
    Info,
    /// The case needs a feature the target did not negotiate.
    #[serde(rename = "N/A")]
    NotApplicable,
    /// A prerequisite case failed; the root cause is reported there.
    #[serde(rename = "BLOCKED")]
    Blocked,
    /// A SHOULD was violated.
    #[serde(rename = "WARN")]
    Warn,
    /// The feature was negotiated but a fixture the case needs is missing.
    #[serde(rename = "UNTESTABLE")]
    Untestable,
    /// A MUST was violated.
    #[serde(rename = "FAIL")]
    Fail,
    /// The target crashed, hung or broke the transport, or the harness failed.
    #[serde(rename = "ERROR")]
    Error,
}

impl Verdict {
    pub const ALL: &'static [Verdict] = &[
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Warn,
        Verdict::Info,
        Verdict::NotApplicable,
        Verdict::Untestable,
        Verdict::Blocked,
        Verdict::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARN",
            Verdict::Info => "INFO",
            Verdict::NotApplicable => "N/A",
            Verdict::Untestable => "UNTESTABLE",
            Verdict::Blocked => "BLOCKED",
            Verdict::Error => "ERROR",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL
            .iter()
            .copied()
            .find(|v| v.label().eq_ignore_ascii_case(s))
    }

    /// Does this verdict fail the run? WARN and UNTESTABLE only with
    /// `--strict`: neither is a violation of a MUST, and a case the harness
    /// could not judge (a missing fixture, a knob such as the profile's
    /// `upstream: true`, a run budget) must not turn a CI gate red by default.
    pub fn fails_run(self, strict: bool) -> bool {
        match self {
            Verdict::Fail | Verdict::Error => true,
            Verdict::Warn | Verdict::Untestable => strict,
            _ => false,
        }
    }

    /// The verdict a violated requirement of this level gets.
    pub fn for_level(level: Level) -> Verdict {
        match level {
            Level::Must => Verdict::Fail,
            Level::Should => Verdict::Warn,
            Level::May | Level::Info => Verdict::Info,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// RFC 2119 requirement level of a case.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
pub enum Level {
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "SHOULD")]
    Should,
    #[serde(rename = "MAY")]
    May,
    /// The spec describes the behaviour without an RFC 2119 keyword: a
    /// deviation is worth reporting, never a violation.
    #[serde(rename = "INFO")]
    Info,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Info => "INFO",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Who an ERROR is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Target,
    Harness,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Harness to target.
    Out,
    /// Target to harness.
    In,
    /// A harness note (connect, drop, timeout).
    Note,
}

/// One line of a case's wire log. Text is already redacted.
#[derive(Debug, Clone, Serialize)]
pub struct WireEntry {
    /// Milliseconds since the case started.
    pub t_ms: f64,
    pub session: String,
    pub dir: Direction,
    pub text: String,
    /// The case's share of the run's log budget, released with the log.
    #[serde(skip)]
    pub kept: Option<std::sync::Arc<crate::retained::LogCharge>>,
}

impl fmt::Display for WireEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arrow = match self.dir {
            Direction::Out => "->",
            Direction::In => "<-",
            Direction::Note => "--",
        };
        write!(
            f,
            "{:>9.1}ms {} [{}] {}",
            self.t_ms, arrow, self.session, self.text
        )
    }
}

/// The result of one case, with everything needed to act on it.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// One line saying why.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The case file line of the step that decided the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Non-spec dialect choices this case relied on (reported, never hidden).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dialect: Vec<String>,
    #[serde(with = "duration_ms")]
    pub duration: Duration,
    pub wire: Vec<WireEntry>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stderr: String,
    /// Per-frame rules broken during the case, one entry per rule. They are
    /// findings of their own ([`crate::report`] lists each once for the whole
    /// run) and never change this case's verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Sighting>,
    /// A pass on a retry with larger deadlines: why the first attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flaky: Option<String>,
    /// The verdict was decided by a missed deadline (not by what arrived).
    #[serde(skip)]
    pub deadline_missed: bool,
    /// Latest a harness timer fired during the case (scheduling lag).
    #[serde(skip)]
    pub harness_lag: Duration,
}

/// A per-frame rule ([`crate::checks::Invariant`]) broken during one case:
/// how often, and the first frame that broke it.
#[derive(Debug, Clone, Serialize)]
pub struct Sighting {
    pub invariant: &'static crate::checks::Invariant,
    /// Frames that broke it in this case.
    pub count: u64,
    /// What was wrong with the first one.
    pub detail: String,
    pub session: String,
    /// The first frame (redacted, cut like the wire log), if it was a frame.
    pub frame: String,
    /// Milliseconds since the case started.
    pub t_ms: f64,
}

impl Outcome {
    pub fn new(verdict: Verdict, reason: impl Into<String>) -> Outcome {
        Outcome {
            verdict,
            reason: reason.into(),
            expected: None,
            actual: None,
            step_line: None,
            origin: None,
            dialect: vec![],
            duration: Duration::ZERO,
            wire: vec![],
            stderr: String::new(),
            violations: vec![],
            flaky: None,
            deadline_missed: false,
            harness_lag: Duration::ZERO,
        }
    }

    pub fn pass() -> Outcome {
        Outcome::new(Verdict::Pass, "")
    }
}

mod duration_ms {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }
}
