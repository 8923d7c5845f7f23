//! The protocol state model and the sequence generator.
//!
//! An iteration is a list of [`Action`]s: semantic steps of a client (open a
//! session, submit a job with a random step list for the conformance agent,
//! drop and resume, send a mutated frame, ...). [`State`] tracks what the
//! model knows (which sessions are open, which jobs exist and who submitted
//! them); the generator only proposes actions that are applicable in the
//! current state, and the renderer ([`super::plan`]) replays the same state
//! machine and skips actions that no longer apply (after the shrinker removed
//! what they depended on). Generation depends only on the seed and the model,
//! never on what the target answers, so a seed always gives the same sequence.

use super::mutate::Mutant;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

mod generate;
mod simplify;
mod state;
pub use generate::{generate, job_spec};
pub use simplify::simplify;
pub use state::State;

/// What the generator may use on this target.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Two connections reach one runtime (second sessions, resume).
    pub shared_runtime: bool,
    /// Features the target acknowledged when offered all of them.
    pub features: Vec<String>,
    pub has_bob: bool,
    pub has_alice2: bool,
    pub has_conformance: bool,
    pub has_echo: bool,
    /// `arcp` value of the target's dialect.
    pub arcp: String,
    /// Most actions in one iteration.
    pub max_actions: usize,
    /// Largest oversized frame, in bytes.
    pub oversize_max: u64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            shared_runtime: true,
            features: crate::wire::Feature::all_names(),
            has_bob: true,
            has_alice2: true,
            has_conformance: true,
            has_echo: true,
            arcp: crate::wire::PROTOCOL_VERSION.into(),
            max_actions: 14,
            oversize_max: 4 * 1024 * 1024,
        }
    }
}

/// The model's two sessions: `a` and `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn name(self) -> &'static str {
        match self {
            Slot::A => "a",
            Slot::B => "b",
        }
    }

    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Who opens a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Alice,
    /// Alice's second token: the same principal.
    Alice2,
    Bob,
}

impl Who {
    pub fn principal(self) -> &'static str {
        match self {
            Who::Alice | Who::Alice2 => "alice",
            Who::Bob => "bob",
        }
    }
}

/// A job submission.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// The echo agent (else the conformance agent).
    pub echo: bool,
    /// The job's input: echo's anything, or `{steps: [...]}`.
    pub input: Value,
    /// lease_request: namespace -> patterns.
    pub lease: Map<String, Value>,
    /// lease_constraints.expires_at, this many protocol milliseconds after submission.
    pub expires_ms: Option<u64>,
    pub max_runtime_sec: Option<f64>,
    pub idempotency_key: Option<String>,
    /// A W3C `traceparent` sent as the submission's `trace_id` (§11).
    pub trace: Option<String>,
    /// Contains a `wait` op: runs until cancelled.
    pub waits: bool,
}

impl JobSpec {
    /// Features the submitting session must have negotiated.
    pub fn features(&self) -> Vec<&'static str> {
        let mut f = vec![];
        if self.lease.contains_key("cost.budget") {
            f.push("cost.budget");
        }
        if self.lease.contains_key("model.use") {
            f.push("model.use");
        }
        if self.expires_ms.is_some() {
            f.push("lease_expires_at");
        }
        f
    }
}

/// How a session comes back after a drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconnect {
    /// Resume with the latest token.
    Plain,
    /// First present a token nobody issued (refused), then the latest.
    BadToken,
    /// Resume twice; then present the rotated-away token (refused), then the latest.
    OldToken,
}

/// Why a submission must be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadSubmit {
    /// An agent name nobody registered: AGENT_NOT_AVAILABLE (§7.5, §12).
    UnknownAgent,
    /// A known agent at a version nobody registered:
    /// AGENT_VERSION_NOT_AVAILABLE (§7.5).
    UnknownVersion,
    /// An `expires_at` in the past: INVALID_REQUEST (§9.5).
    PastExpiry,
    /// A `cost.budget` amount outside the grammar (§9.6): refused.
    BadAmount,
    /// No `agent` (§7.1): refused.
    NoAgent,
}

impl BadSubmit {
    /// The feature the submitting session needs for the refusal to be due.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            BadSubmit::UnknownVersion => Some("agent_versions"),
            BadSubmit::PastExpiry => Some("lease_expires_at"),
            BadSubmit::BadAmount => Some("cost.budget"),
            _ => None,
        }
    }

    /// The `job.submit` payload, the code the spec fixes (if it does) and
    /// the rule name.
    pub fn render(self) -> (Value, Option<&'static str>, &'static str) {
        let agent = "${agents.conformance}";
        let input = json!({"steps": [{"op": "finish"}]});
        match self {
            BadSubmit::UnknownAgent => (
                json!({"agent": "fuzz-no-such-agent", "input": input}),
                Some("AGENT_NOT_AVAILABLE"),
                "unknown-agent",
            ),
            BadSubmit::UnknownVersion => (
                json!({"agent": format!("{agent}@0.0.0-fuzz"), "input": input}),
                Some("AGENT_VERSION_NOT_AVAILABLE"),
                "unknown-version",
            ),
            BadSubmit::PastExpiry => (
                json!({"agent": agent, "input": input, "lease_constraints": {"expires_at": "${now-1h}"}}),
                Some("INVALID_REQUEST"),
                "past-expires-at",
            ),
            BadSubmit::BadAmount => (
                json!({"agent": agent, "input": input, "lease_request": {"cost.budget": ["USD:lots"]}}),
                None,
                "invalid-amount",
            ),
            BadSubmit::NoAgent => (json!({"input": input}), None, "no-agent"),
        }
    }
}

/// How a before-hello connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreEnd {
    /// A valid hello: the runtime must still welcome after the garbage.
    Hello,
    /// A hello with a token nobody issued: UNAUTHENTICATED.
    BadToken,
    /// A hello without auth: UNAUTHENTICATED.
    NoAuth,
    /// A valid token under another scheme: refused (§6.1 names bearer).
    BadScheme,
}

/// One thing the fuzzing client does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Open {
        s: Slot,
        who: Who,
        features: Vec<String>,
    },
    /// A throwaway connection: frames before hello, then [`PreEnd`].
    PreHello {
        frames: Vec<Mutant>,
        end: PreEnd,
    },
    Ping {
        s: Slot,
    },
    Burst {
        s: Slot,
        n: u32,
    },
    Submit {
        s: Slot,
        job: u32,
        spec: JobSpec,
    },
    WaitJob {
        job: u32,
    },
    /// A submission the runtime must refuse.
    SubmitBad {
        s: Slot,
        why: BadSubmit,
    },
    /// Submit job `job` again with its idempotency key (§7.2): the same
    /// parameters, or (`conflict`) other ones.
    Resubmit {
        s: Slot,
        job: u32,
        conflict: bool,
    },
    Cancel {
        s: Slot,
        job: u32,
    },
    Subscribe {
        s: Slot,
        job: u32,
        history: bool,
    },
    Unsubscribe {
        s: Slot,
        job: u32,
    },
    ListJobs {
        s: Slot,
    },
    Ack {
        s: Slot,
    },
    Reconnect {
        s: Slot,
        how: Reconnect,
    },
    Close {
        s: Slot,
    },
    Mutate {
        s: Slot,
        m: Mutant,
    },
    Oversize {
        s: Slot,
        bytes: u64,
    },
    Sleep {
        ms: u64,
    },
}

#[derive(Debug, Clone)]
pub struct SlotState {
    pub open: bool,
    /// Opened at least once (its `${session.x.*}` names exist).
    pub ever: bool,
    /// Dropped or closed, and may be resumed.
    pub resumable: bool,
    pub who: Who,
    pub features: Vec<String>,
    /// A mutated ack may have freed events: no resume on this session.
    pub no_resume: bool,
    pub subscribed: BTreeSet<u32>,
    /// Counts `Open`s of this slot: each one is a new session.
    pub generation: u32,
}

impl Default for SlotState {
    fn default() -> Self {
        SlotState {
            open: false,
            ever: false,
            resumable: false,
            who: Who::Alice,
            features: vec![],
            no_resume: false,
            subscribed: BTreeSet::new(),
            generation: 0,
        }
    }
}

impl SlotState {
    pub fn has(&self, f: &str) -> bool {
        self.features.iter().any(|x| x == f)
    }
}

#[derive(Debug, Clone)]
pub struct JobState {
    pub slot: Slot,
    /// The slot's generation: the job's session is `slot` while it is unchanged.
    pub generation: u32,
    pub principal: &'static str,
    pub waits: bool,
    /// Its terminal message can still be waited for on its session.
    pub waitable: bool,
    pub waited: bool,
    pub cancel_sent: bool,
    /// Submitted with an idempotency key.
    pub keyed: bool,
    /// Waits for a cancel but has a max_runtime_sec: must end timed_out.
    pub times_out: bool,
    /// A mutated `job.cancel` named it: it may have been cancelled.
    pub maybe_cancelled: bool,
}

#[cfg(test)]
mod tests;
