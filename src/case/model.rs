//! The parsed, validated form of a case file. Everything here is produced by
//! the loader ([`crate::case::load_file`] and friends); defaults are already
//! filled in, so the engine never has to know YAML-level spellings.
//!
//! Values that may hold `${...}` templates are kept as `serde_json::Value`
//! (or `String`) exactly as written; the engine renders them with
//! [`crate::template::render`] just before use.

use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::limits::Span;
use crate::wire::Feature;

mod client;
mod steps;
mod upstream;
pub use client::*;
pub use steps::*;
pub use upstream::*;

/// Session name used when a step does not say `session:`.
pub const DEFAULT_SESSION: &str = "a";
/// Whole-case deadline when a case has no `timeout:`.
pub const DEFAULT_CASE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `within:` for `expect`, `expect_error`, `expect_close`.
pub const DEFAULT_EXPECT_WITHIN: Duration = Duration::from_secs(5);
/// Default `within:` for `wait_job`.
pub const DEFAULT_WAIT_JOB_WITHIN: Duration = Duration::from_secs(10);
/// Default `for:` for `expect_none`.
pub const DEFAULT_EXPECT_NONE_FOR: Duration = Duration::from_secs(1);
/// Default `within:` for `welcome` (the client under test may still be starting).
pub const DEFAULT_WELCOME_WITHIN: Duration = Duration::from_secs(10);
/// The driver scenarios a `role: client` case can name (docs/client-driver.md).
pub const SCENARIOS: &[&str] = &["submit", "resume", "cancel", "idle", "subscribe"];
/// Default capture name for the job id of a `submit`.
pub const DEFAULT_JOB_CAPTURE: &str = "job";
/// Default agent of a `submit`.
pub const DEFAULT_SUBMIT_AGENT: &str = "${agents.conformance}";

/// One conformance case: a requirement from the spec and the steps that
/// check it.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Stable id, `^[a-z0-9][a-z0-9_.-]*$`, unique across a case directory.
    pub id: String,
    /// One-line human title.
    pub title: String,
    /// Spec sections the requirement comes from, e.g. `["6.3"]`; never empty.
    pub sections: Vec<String>,
    /// RFC 2119 strength of the requirement.
    pub level: Level,
    /// The requirement sentence, quoted from the spec.
    pub requirement: String,
    /// What the target must offer for the case to be runnable. The loader
    /// adds what it can see the steps use (see [`Requires`]).
    pub requires: Requires,
    /// Free-form tags for selection.
    pub tags: Vec<String>,
    /// Ids of cases that must pass before this one is meaningful.
    pub depends_on: Vec<String>,
    /// Whole-case deadline (default 30s).
    pub timeout: Duration,
    /// Which side the harness plays.
    pub role: Role,
    /// Faults of the reference peer this case must catch (it must not pass
    /// with any of them switched on): the proof that the case can fail.
    pub catches: Vec<String>,
    /// `role: client` only: the driver scenario the client under test plays
    /// (one of [`SCENARIOS`]); `None` for runtime cases.
    pub scenario: Option<String>,
    /// The steps, in order; never empty.
    pub steps: Vec<Step>,
    /// File the case was read from (as given to the loader).
    pub source: PathBuf,
    /// 1-based line where the case's mapping starts in `source`.
    pub line: usize,
}

impl Case {
    /// Every wait the steps write (`within`, `for`, `sleep`), with its step.
    pub fn waits(&self) -> Vec<(&Step, &Span)> {
        self.all_steps()
            .into_iter()
            .filter_map(|s| s.kind.wait().map(|w| (s, w)))
            .collect()
    }

    /// `source:line` for messages.
    pub fn location(&self) -> String {
        format!("{}:{}", self.source.display(), self.line)
    }

    /// Every step in execution order of appearance, descending into
    /// `repeat` bodies (each body listed once), depth first.
    pub fn all_steps(&self) -> Vec<&Step> {
        fn walk<'a>(steps: &'a [Step], out: &mut Vec<&'a Step>) {
            for s in steps {
                out.push(s);
                if let StepKind::Repeat(r) = &s.kind {
                    walk(&r.steps, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.steps, &mut out);
        out
    }
}

/// RFC 2119 level, one type for cases and verdicts. `MUST NOT` / `SHOULD NOT`
/// requirements are written as `MUST` / `SHOULD` (the negation lives in the
/// requirement sentence).
pub use crate::verdict::Level;

/// Which side of the protocol the harness plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The target is a runtime; the harness is the client (default).
    #[default]
    Runtime,
    /// The target is a client; the harness is the runtime
    /// ([`crate::clienttest`]).
    Client,
}

/// What the target must offer. After loading, `agents`, `principals`,
/// `sessions` and `reconnect` include what the loader saw the steps use,
/// so the engine can trust them for N/A / UNTESTABLE decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requires {
    /// Negotiated features the case needs; absent from the effective set
    /// -> N/A.
    pub features: Vec<Feature>,
    /// Agent roles needed; the target lacks one -> UNTESTABLE.
    pub agents: Vec<AgentRole>,
    /// Maximum number of concurrent connections (>= 1).
    pub sessions: u32,
    /// Principal aliases used.
    pub principals: Vec<Principal>,
    /// Needs to drop a transport and reconnect to the same runtime.
    pub reconnect: bool,
}

impl Default for Requires {
    fn default() -> Self {
        Requires {
            features: Vec::new(),
            agents: Vec::new(),
            sessions: 1,
            principals: Vec::new(),
            reconnect: false,
        }
    }
}

/// An agent role a target declares in its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentRole {
    /// The scriptable conformance agent (`${agents.conformance}`).
    Conformance,
    /// An agent that echoes its input (`${agents.echo}`).
    Echo,
    /// Whichever of those two the target hosts (`${agents.any}`): for cases
    /// that submit a job only to see it accepted or refused, or that need it
    /// to end with success on any input.
    Any,
}

impl AgentRole {
    pub const ALL: &'static [AgentRole] =
        &[AgentRole::Conformance, AgentRole::Echo, AgentRole::Any];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentRole::Conformance => "conformance",
            AgentRole::Echo => "echo",
            AgentRole::Any => "any",
        }
    }

    pub fn parse(s: &str) -> Option<AgentRole> {
        AgentRole::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for AgentRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A principal alias; the target configuration maps aliases to tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Principal {
    /// The first principal.
    Alice,
    /// The same principal as `alice`, with a different token.
    Alice2,
    /// A second, different principal.
    Bob,
    /// A token the runtime must reject.
    Invalid,
}

impl Principal {
    pub const ALL: &'static [Principal] = &[
        Principal::Alice,
        Principal::Alice2,
        Principal::Bob,
        Principal::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Principal::Alice => "alice",
            Principal::Alice2 => "alice2",
            Principal::Bob => "bob",
            Principal::Invalid => "invalid",
        }
    }

    pub fn parse(s: &str) -> Option<Principal> {
        Principal::ALL.iter().copied().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
