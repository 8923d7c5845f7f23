//! [`State`]: what the model knows at a point of a sequence, which actions
//! apply there and what applying one changes.

use super::*;
use crate::fuzz::mutate::{self, Base, JobRef};
use std::collections::{BTreeMap, BTreeSet};

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

    pub(super) fn open_slots(&self) -> Vec<Slot> {
        [Slot::A, Slot::B]
            .into_iter()
            .filter(|s| self.slot(*s).open)
            .collect()
    }
}
