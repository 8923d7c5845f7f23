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

use super::gen::Gen;
use super::mutate::{self, Base, JobRef, Mutant};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

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

/// What the model knows at a point of the sequence.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub slots: [SlotState; 2],
    pub jobs: BTreeMap<u32, JobState>,
}

impl State {
    pub fn slot(&self, s: Slot) -> &SlotState {
        &self.slots[s.index()]
    }

    /// Was `job` submitted by the session now in slot `s`?
    pub fn submitted_by(&self, job: u32, s: Slot) -> bool {
        self.jobs
            .get(&job)
            .is_some_and(|j| j.slot == s && j.generation == self.slot(s).generation)
    }

    fn slot_mut(&mut self, s: Slot) -> &mut SlotState {
        &mut self.slots[s.index()]
    }

    fn who_available(cfg: &ModelConfig, who: Who) -> bool {
        match who {
            Who::Alice => true,
            Who::Alice2 => cfg.has_alice2,
            Who::Bob => cfg.has_bob,
        }
    }

    /// Can `a` run in this state?
    pub fn applicable(&self, a: &Action, cfg: &ModelConfig) -> bool {
        let open = |s: Slot| self.slot(s).open;
        let job = |j: &u32| self.jobs.get(j);
        match a {
            Action::Open { s, who, .. } => {
                !open(*s) && (*s == Slot::A || cfg.shared_runtime) && Self::who_available(cfg, *who)
            }
            Action::PreHello { .. } | Action::Sleep { .. } => true,
            Action::Ping { s }
            | Action::Burst { s, .. }
            | Action::Oversize { s, .. }
            | Action::Close { s } => open(*s),
            Action::Mutate { s, m } => {
                open(*s)
                    && (!mutate::closes(m, &cfg.arcp, s.name())
                        || (cfg.shared_runtime && !self.slot(*s).no_resume))
                    && match &m.base {
                        Base::Cancel(JobRef::Tracked(j))
                        | Base::Subscribe(JobRef::Tracked(j))
                        | Base::Unsubscribe(JobRef::Tracked(j)) => job(j).is_some(),
                        _ => true,
                    }
            }
            Action::ListJobs { s } => open(*s) && self.slot(*s).has("list_jobs"),
            Action::Ack { s } => open(*s) && self.slot(*s).has("ack"),
            Action::Submit { s, spec, .. } => {
                open(*s)
                    && spec.features().iter().all(|f| self.slot(*s).has(f))
                    && if spec.echo {
                        cfg.has_echo
                    } else {
                        cfg.has_conformance
                    }
            }
            Action::WaitJob { job: j } => job(j).is_some_and(|js| {
                open(js.slot)
                    && js.waitable
                    && !js.waited
                    && (!js.waits || js.cancel_sent || js.times_out)
            }),
            Action::Cancel { s, job: j } => open(*s) && job(j).is_some(),
            Action::SubmitBad { s, why } => {
                open(*s)
                    && cfg.has_conformance
                    && why.feature().is_none_or(|f| self.slot(*s).has(f))
            }
            // From the submitting session, so the key's scope is not in question.
            Action::Resubmit { s, job: j, .. } => {
                open(*s) && job(j).is_some_and(|js| js.keyed) && self.submitted_by(*j, *s)
            }
            Action::Subscribe { s, job: j, .. } => {
                open(*s) && self.slot(*s).has("subscribe") && job(j).is_some()
            }
            Action::Unsubscribe { s, job: j } => {
                open(*s) && self.slot(*s).has("subscribe") && self.slot(*s).subscribed.contains(j)
            }
            Action::Reconnect { s, .. } => {
                let st = self.slot(*s);
                cfg.shared_runtime && (st.open || st.resumable) && !st.no_resume
            }
        }
    }

    /// The state after `a` (which must be applicable).
    pub fn apply(&mut self, a: &Action, cfg: &ModelConfig) {
        match a {
            Action::Open { s, who, features } => {
                let negotiated: Vec<String> = features
                    .iter()
                    .filter(|f| cfg.features.contains(f))
                    .cloned()
                    .collect();
                for j in self.jobs.values_mut().filter(|j| j.slot == *s) {
                    j.waitable = false;
                }
                if !cfg.shared_runtime {
                    // A new connection is a new runtime (a stdio target's
                    // process): the jobs of earlier ones are gone.
                    self.jobs.clear();
                }
                let generation = self.slot(*s).generation + 1;
                *self.slot_mut(*s) = SlotState {
                    generation,
                    open: true,
                    ever: true,
                    resumable: false,
                    who: *who,
                    features: negotiated,
                    no_resume: false,
                    subscribed: BTreeSet::new(),
                };
            }
            Action::Submit { s, job, spec } => {
                let principal = self.slot(*s).who.principal();
                let generation = self.slot(*s).generation;
                self.jobs.insert(
                    *job,
                    JobState {
                        slot: *s,
                        generation,
                        principal,
                        waits: spec.waits,
                        waitable: true,
                        waited: false,
                        cancel_sent: false,
                        keyed: spec.idempotency_key.is_some(),
                        // Nothing else may end it first: no expiry, no budget
                        // (exhaustion MAY end a job).
                        times_out: spec.waits
                            && spec.max_runtime_sec.is_some()
                            && spec.expires_ms.is_none()
                            && !spec.lease.contains_key("cost.budget"),
                        maybe_cancelled: false,
                    },
                );
            }
            Action::WaitJob { job } => {
                if let Some(j) = self.jobs.get_mut(job) {
                    j.waited = true;
                }
            }
            Action::Cancel { s, job } => {
                let generation = self.slot(*s).generation;
                if let Some(j) = self.jobs.get_mut(job) {
                    if j.slot == *s && j.generation == generation {
                        j.cancel_sent = true;
                    }
                }
            }
            Action::Subscribe { s, job, .. } => {
                let same = self
                    .jobs
                    .get(job)
                    .is_some_and(|j| j.principal == self.slot(*s).who.principal());
                if same {
                    self.slot_mut(*s).subscribed.insert(*job);
                }
            }
            Action::Unsubscribe { s, job } => {
                self.slot_mut(*s).subscribed.remove(job);
            }
            Action::Reconnect { s, .. } => {
                for j in self.jobs.values_mut().filter(|j| j.slot == *s) {
                    j.waitable = false;
                }
                let st = self.slot_mut(*s);
                st.open = true;
                st.resumable = false;
            }
            Action::Close { s } => {
                for j in self.jobs.values_mut().filter(|j| j.slot == *s) {
                    j.waitable = false;
                }
                let st = self.slot_mut(*s);
                st.open = false;
                st.resumable = true;
            }
            Action::Mutate { s, m } => {
                if m.base == Base::Ack {
                    self.slot_mut(*s).no_resume = true;
                }
                // A mangled cancel may still cancel (a duplicate key, say).
                if let Base::Cancel(JobRef::Tracked(j)) = &m.base {
                    if let Some(js) = self.jobs.get_mut(j) {
                        js.maybe_cancelled = true;
                    }
                }
                if mutate::closes(m, &cfg.arcp, s.name()) {
                    // Closed (maybe) and resumed: the backlog is gone.
                    for j in self.jobs.values_mut().filter(|j| j.slot == *s) {
                        j.waitable = false;
                    }
                }
            }
            Action::PreHello { .. }
            | Action::Ping { .. }
            | Action::Burst { .. }
            | Action::ListJobs { .. }
            | Action::Ack { .. }
            | Action::Resubmit { .. }
            | Action::SubmitBad { .. }
            | Action::Oversize { .. }
            | Action::Sleep { .. } => {}
        }
    }

    fn open_slots(&self) -> Vec<Slot> {
        [Slot::A, Slot::B]
            .into_iter()
            .filter(|s| self.slot(*s).open)
            .collect()
    }
}

/// Generate one iteration's actions.
pub fn generate(g: &mut Gen, cfg: &ModelConfig) -> Vec<Action> {
    let n = g.range(2, cfg.max_actions.max(2) as u64) as usize;
    let mut st = State::default();
    let mut out = vec![];
    let mut next_job = 1u32;
    if g.chance(0.15) {
        let a = pre_hello(g, cfg);
        st.apply(&a, cfg);
        out.push(a);
    }
    let mut attempts = 0;
    while out.len() < n && attempts < n * 20 {
        attempts += 1;
        let a = propose(g, cfg, &st, &mut next_job);
        if st.applicable(&a, cfg) {
            st.apply(&a, cfg);
            out.push(a);
        }
    }
    out
}

fn pick_features(g: &mut Gen, cfg: &ModelConfig) -> Vec<String> {
    let all = crate::wire::Feature::all_names();
    if g.chance(0.6) {
        return all;
    }
    let mut f: Vec<String> = all.into_iter().filter(|_| g.chance(0.6)).collect();
    if g.chance(0.1) {
        f.push(g.pick(&["x-future-feature", "HEARTBEAT", ""]).to_string());
    }
    let _ = cfg;
    f
}

fn pre_hello(g: &mut Gen, cfg: &ModelConfig) -> Action {
    let n = g.range(1, 4);
    let frames = (0..n)
        .map(|_| {
            let base = g
                .pick(&[
                    Base::Ping,
                    Base::Submit,
                    Base::ListJobs,
                    Base::Hello,
                    Base::Resume,
                    Base::Cancel(JobRef::Unknown("job_01HZZZZZZZZZZZZZZZZZZZZZZZ".into())),
                ])
                .clone();
            mutate::generate(g, base, None)
        })
        .collect();
    let end = *g.pick(&[
        PreEnd::Hello,
        PreEnd::Hello,
        PreEnd::BadToken,
        PreEnd::NoAuth,
        PreEnd::BadScheme,
    ]);
    let _ = cfg;
    Action::PreHello { frames, end }
}

fn propose(g: &mut Gen, cfg: &ModelConfig, st: &State, next_job: &mut u32) -> Action {
    let a_open = st.slot(Slot::A).open;
    if !a_open && !st.slot(Slot::A).resumable {
        return if g.chance(0.9) {
            Action::Open {
                s: Slot::A,
                who: if g.chance(0.85) {
                    Who::Alice
                } else {
                    Who::Alice2
                },
                features: pick_features(g, cfg),
            }
        } else {
            pre_hello(g, cfg)
        };
    }
    let open = st.open_slots();
    let s = if open.is_empty() {
        Slot::A
    } else {
        *g.pick(&open)
    };
    let jobs: Vec<u32> = st.jobs.keys().copied().collect();
    let job = |g: &mut Gen| -> u32 {
        if jobs.is_empty() {
            0
        } else {
            *g.pick(&jobs)
        }
    };
    // Kinds: open, prehello, ping, burst, submit, wait, cancel, subscribe,
    // unsubscribe, list, ack, reconnect, close, mutate, oversize, sleep,
    // resubmit, submit to an unknown agent.
    let weights = [8, 2, 6, 2, 14, 8, 5, 5, 1, 4, 2, 4, 1, 26, 1, 1, 4, 2];
    // Job actions from the other session half of the time (cross-session
    // and cross-principal authority).
    let cross = |g: &mut Gen, j: u32| -> Slot {
        match st.jobs.get(&j) {
            Some(js) if st.slot(js.slot.other()).open && g.chance(0.5) => js.slot.other(),
            _ => s,
        }
    };
    match g.weighted(&weights) {
        0 => {
            let slot = if !a_open { Slot::A } else { Slot::B };
            let who = if slot == Slot::A {
                Who::Alice
            } else {
                *g.pick(&[Who::Alice, Who::Alice2, Who::Bob, Who::Bob])
            };
            Action::Open {
                s: slot,
                who,
                features: pick_features(g, cfg),
            }
        }
        1 => pre_hello(g, cfg),
        2 => Action::Ping { s },
        3 => Action::Burst {
            s,
            n: g.range(2, 24) as u32,
        },
        4 => {
            let id = *next_job;
            *next_job += 1;
            let spec = job_spec(g, &st.slot(s).features, id);
            Action::Submit { s, job: id, spec }
        }
        5 => {
            // Prefer jobs that can be waited for.
            let waitable: Vec<u32> = st
                .jobs
                .iter()
                .filter(|(_, j)| j.waitable && !j.waited)
                .map(|(k, _)| *k)
                .collect();
            Action::WaitJob {
                job: if waitable.is_empty() {
                    job(g)
                } else {
                    *g.pick(&waitable)
                },
            }
        }
        6 => {
            let j = job(g);
            Action::Cancel {
                s: cross(g, j),
                job: j,
            }
        }
        7 => {
            let j = job(g);
            Action::Subscribe {
                s: cross(g, j),
                job: j,
                history: g.chance(0.5),
            }
        }
        8 => Action::Unsubscribe { s, job: job(g) },
        9 => Action::ListJobs { s },
        10 => Action::Ack { s },
        11 => Action::Reconnect {
            s,
            how: *g.pick(&[
                Reconnect::Plain,
                Reconnect::Plain,
                Reconnect::BadToken,
                Reconnect::OldToken,
            ]),
        },
        12 => Action::Close { s },
        13 => {
            let base = match g.below(10) {
                0..=2 => Base::Ping,
                3..=4 => Base::Submit,
                5 => Base::ListJobs,
                6 => {
                    let r = if jobs.is_empty() || g.chance(0.3) {
                        JobRef::Unknown(g.ulid("job_"))
                    } else {
                        JobRef::Tracked(job(g))
                    };
                    g.pick(&[
                        Base::Cancel(r.clone()),
                        Base::Subscribe(r.clone()),
                        Base::Unsubscribe(r),
                    ])
                    .clone()
                }
                7 => g
                    .pick(&[Base::Hello, Base::Resume, Base::Pong, Base::Ack])
                    .clone(),
                8 => {
                    const RUNTIME_ONLY: [&str; 3] = ["job.event", "session.welcome", "job.result"];
                    Base::RuntimeOnly(RUNTIME_ONLY[g.below(3) as usize])
                }
                _ => Base::Ping,
            };
            let other = st.slot(s.other()).ever.then(|| s.other().name());
            Action::Mutate {
                s,
                m: mutate::generate(g, base, other),
            }
        }
        14 => Action::Oversize {
            s,
            bytes: g.range(64 * 1024, cfg.oversize_max.max(64 * 1024)),
        },
        16 => {
            // Prefer jobs that have a key.
            let keyed: Vec<u32> = st
                .jobs
                .iter()
                .filter(|(_, j)| j.keyed && j.slot == s)
                .map(|(k, _)| *k)
                .collect();
            Action::Resubmit {
                s,
                job: if keyed.is_empty() {
                    job(g)
                } else {
                    *g.pick(&keyed)
                },
                conflict: g.chance(0.4),
            }
        }
        17 => Action::SubmitBad {
            s,
            why: *g.pick(&[
                BadSubmit::UnknownAgent,
                BadSubmit::UnknownVersion,
                BadSubmit::PastExpiry,
                BadSubmit::BadAmount,
                BadSubmit::NoAgent,
            ]),
        },
        _ => Action::Sleep {
            ms: g.range(10, 500),
        },
    }
}

/// A random submission for the conformance agent (CONFORMANCE.md), or echo.
pub fn job_spec(g: &mut Gen, features: &[String], id: u32) -> JobSpec {
    let has = |f: &str| features.iter().any(|x| x == f);
    if g.chance(0.15) {
        return JobSpec {
            echo: true,
            input: g.json(3),
            lease: Map::new(),
            expires_ms: None,
            max_runtime_sec: None,
            idempotency_key: None,
            trace: None,
            waits: false,
        };
    }
    let mut lease = Map::new();
    if g.chance(0.4) {
        lease.insert(
            "tool.call".into(),
            json!([g.pick(&["search.*", "calc", "*"])]),
        );
    }
    if g.chance(0.3) {
        lease.insert(
            "fs.read".into(),
            json!([g.pick(&["/data/**", "/workspace/*.txt"])]),
        );
    }
    if has("model.use") && g.chance(0.3) {
        lease.insert(
            "model.use".into(),
            json!([g.pick(&["tier-fast/*", "gpt-*"])]),
        );
    }
    if has("cost.budget") && g.chance(0.35) {
        lease.insert(
            "cost.budget".into(),
            json!([g.pick(&["USD:0.50", "USD:1.00", "USD:0", "EUR:2.5"])]),
        );
    }
    if g.chance(0.2) {
        lease.insert("agent.delegate".into(), json!(["echo"]));
    }
    let expires_ms = (has("lease_expires_at") && g.chance(0.3)).then(|| g.range(300, 2500));
    let mut steps = vec![];
    let n = g.range(0, 6);
    for _ in 0..n {
        steps.push(job_step(g, &lease, features));
    }
    if let Some(ms) = expires_ms {
        if g.chance(0.6) {
            // Outlive the lease, then try an operation: LEASE_EXPIRED.
            steps.push(json!({"op": "sleep", "ms": ms + 200}));
            steps.push(json!({"op": "tool", "tool": "search.web"}));
        }
    }
    if lease.contains_key("cost.budget") && g.chance(0.8) {
        steps.push(json!({"op": "cost", "value": g.pick(&[0.6, 1.5, 3.0]), "unit": "USD"}));
        steps.push(json!({"op": "tool", "tool": "calc"}));
    }
    let waits = g.chance(0.08);
    if waits {
        steps.push(json!({"op": "wait"}));
    }
    match g.below(5) {
        0 => steps.push(json!({"op": "finish", "result": g.json(2), "summary": g.odd_string()})),
        1 => steps.push(json!({"op": "fail", "code": g.pick(&["INTERNAL_ERROR", "PERMISSION_DENIED", "NOT_A_CODE", "BUDGET_EXHAUSTED", "LEASE_EXPIRED"]), "message": g.odd_string()})),
        2 => steps.push(json!({"op": "finish"})),
        _ => {}
    }
    JobSpec {
        echo: false,
        input: json!({ "steps": steps }),
        lease,
        expires_ms,
        // A job that waits for a cancel is the one a time limit must end. Whole seconds: the spec
        // shows an integer (§7.1) and says nothing of fractions, which some runtimes refuse.
        max_runtime_sec: g
            .chance(if waits { 0.5 } else { 0.15 })
            .then(|| *g.pick(&[1.0, 2.0, 3.0])),
        idempotency_key: g
            .chance(0.2)
            .then(|| format!("fz-key-{id}-{}", g.below(1_000_000))),
        trace: g
            .chance(0.3)
            .then(|| format!("00-{}-{:016x}-01", g.trace_id(), g.u64() | 1)),
        waits,
    }
}

fn job_step(g: &mut Gen, lease: &Map<String, Value>, features: &[String]) -> Value {
    let _ = features;
    match g.below(14) {
        0 | 1 => {
            json!({"op": "log", "level": g.pick(&["info", "warn", "debug", "bogus"]), "message": g.odd_string()})
        }
        2 => {
            json!({"op": "event", "kind": format!("x-fuzz.{}", g.word()), "body": g.json_object(2)})
        }
        3 => {
            let mut p = json!({"op": "progress", "current": g.number()});
            if g.chance(0.5) {
                p["total"] = g.number();
            }
            if g.chance(0.5) {
                p["message"] = json!(g.odd_string());
            }
            if g.chance(0.3) {
                p["units"] = json!(g.odd_string());
            }
            p
        }
        4 => {
            json!({"op": "cost", "value": g.pick(&[json!(0.1), json!(0.5), json!(-1), json!(2), json!(0)]).clone(), "unit": g.pick(&["USD", "EUR"])})
        }
        5 => {
            json!({"op": "tool", "tool": g.pick(&["search.web", "calc", "shell.exec"]), "args": g.json_object(1)})
        }
        6 => {
            json!({"op": "tool", "capability": g.pick(&["fs.read", "fs.write", "net.fetch"]), "resource": g.pick(&["/data/x", "/etc/passwd", "https://example.com"])})
        }
        7 => json!({"op": "model", "model": g.pick(&["tier-fast/small", "gpt-4", "other/x"])}),
        8 => {
            json!({"op": "result_chunks", "chunks": (0..g.range(1, 3)).map(|_| json!(g.word())).collect::<Vec<_>>(), "encoding": "utf8"})
        }
        9 => json!({"op": "rotate_credential"}),
        10 => json!({"op": "sleep", "ms": g.range(0, 300)}),
        11 => {
            let mut child = Map::new();
            if let Some(t) = lease.get("tool.call") {
                child.insert("tool.call".into(), t.clone());
            } else if g.chance(0.5) {
                child.insert("fs.write".into(), json!(["/**"]));
            }
            json!({"op": "delegate", "agent": g.pick(&["echo", "conformance", "nope"]), "lease": child, "input": g.json(1)})
        }
        12 => json!({"op": format!("x-op-{}", g.word())}),
        _ => json!({"op": "log", "message": g.word()}),
    }
}

/// Simpler variants of one action, for the shrinker (each must keep the
/// action's kind so the rest of the sequence stays meaningful).
pub fn simplify(a: &Action) -> Vec<Action> {
    let mut out = vec![];
    match a {
        Action::Open { s, who, features } if *features != crate::wire::Feature::all_names() => {
            out.push(Action::Open {
                s: *s,
                who: *who,
                features: crate::wire::Feature::all_names(),
            });
        }
        Action::PreHello { frames, end } => {
            for i in 0..frames.len() {
                let mut f = frames.clone();
                f.remove(i);
                out.push(Action::PreHello {
                    frames: f,
                    end: *end,
                });
            }
            for (i, m) in frames.iter().enumerate() {
                for sm in mutate::simplify(m) {
                    let mut f = frames.clone();
                    f[i] = sm;
                    out.push(Action::PreHello {
                        frames: f,
                        end: *end,
                    });
                }
            }
        }
        Action::Burst { s, n } if *n > 2 => out.push(Action::Burst { s: *s, n: n / 2 }),
        Action::Oversize { s, bytes } if *bytes > 64 * 1024 => out.push(Action::Oversize {
            s: *s,
            bytes: (bytes / 2).max(64 * 1024),
        }),
        Action::Reconnect { s, how } if *how != Reconnect::Plain => out.push(Action::Reconnect {
            s: *s,
            how: Reconnect::Plain,
        }),
        Action::Submit { s, job, spec } => {
            let with = |f: &dyn Fn(&mut JobSpec)| {
                let mut c = spec.clone();
                f(&mut c);
                Action::Submit {
                    s: *s,
                    job: *job,
                    spec: c,
                }
            };
            if let Some(steps) = spec.input.get("steps").and_then(Value::as_array) {
                for i in 0..steps.len() {
                    let mut st = steps.clone();
                    st.remove(i);
                    let waits = st.iter().any(|x| x["op"] == "wait");
                    out.push(with(&|c: &mut JobSpec| {
                        c.input = json!({ "steps": st.clone() });
                        c.waits = waits;
                    }));
                }
            }
            for k in spec.lease.keys() {
                out.push(with(&|c: &mut JobSpec| {
                    c.lease.remove(k);
                }));
            }
            if spec.expires_ms.is_some() {
                out.push(with(&|c: &mut JobSpec| c.expires_ms = None));
            }
            if spec.max_runtime_sec.is_some() {
                out.push(with(&|c: &mut JobSpec| c.max_runtime_sec = None));
            }
            if spec.idempotency_key.is_some() {
                out.push(with(&|c: &mut JobSpec| c.idempotency_key = None));
            }
            if spec.trace.is_some() {
                out.push(with(&|c: &mut JobSpec| c.trace = None));
            }
        }
        Action::Mutate { s, m } => {
            for sm in mutate::simplify(m) {
                out.push(Action::Mutate { s: *s, m: sm });
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_runtime_sec_is_whole_seconds() {
        let features = vec!["progress".to_string()];
        let mut seen = 0;
        for it in 0..2000 {
            let mut g = Gen::new(7, it);
            if let Some(r) = job_spec(&mut g, &features, 1).max_runtime_sec {
                assert_eq!(r.fract(), 0.0, "max_runtime_sec {r}");
                seen += 1;
            }
        }
        assert!(seen > 0, "no job spec with a max_runtime_sec generated");
    }
}
