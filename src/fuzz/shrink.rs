//! Shrinking a finding: drop actions (halves, quarters, ... single ones) and
//! simplify the rest (shorter job step lists, fewer lease entries, smaller
//! mutations) for as long as the same [`Signature`] still reproduces.
//! Bounded by a number of runs and a wall-clock deadline.

use super::model::{self, Action, ModelConfig};
use super::oracle::Signature;
use super::plan::{Header, Plan};
use crate::engine::EngineOptions;
use crate::target::Target;
use crate::verdict::Outcome;
use std::collections::HashSet;
use std::time::Instant;

/// The smallest failing sequence found, and what it took.
pub struct Shrunk {
    pub actions: Vec<Action>,
    pub plan: Plan,
    pub outcome: Outcome,
    pub runs: usize,
}

pub struct Shrinker<'a> {
    pub target: &'a Target,
    pub cfg: &'a ModelConfig,
    pub engine: &'a EngineOptions,
    pub signature: &'a Signature,
    pub header: Header,
    pub max_runs: usize,
    pub deadline: Instant,
    runs: usize,
    tried: HashSet<String>,
}

impl<'a> Shrinker<'a> {
    pub fn new(
        target: &'a Target,
        cfg: &'a ModelConfig,
        engine: &'a EngineOptions,
        signature: &'a Signature,
        header: Header,
        max_runs: usize,
        deadline: Instant,
    ) -> Self {
        Shrinker {
            target,
            cfg,
            engine,
            signature,
            header,
            max_runs,
            deadline,
            runs: 0,
            tried: HashSet::new(),
        }
    }

    fn exhausted(&self) -> bool {
        self.runs >= self.max_runs || Instant::now() >= self.deadline
    }

    /// Run `actions`; `Some` if they still fail with the same signature.
    async fn reproduces(&mut self, actions: &[Action]) -> Option<(Vec<Action>, Plan, Outcome)> {
        let plan = super::plan::render(actions, self.cfg, &self.header);
        if !self.tried.insert(plan.yaml.clone()) || self.exhausted() {
            return None;
        }
        self.runs += 1;
        let (case, outcome) = super::run_plan(self.target, &plan, self.engine)
            .await
            .ok()?;
        let j = super::oracle::judge(&plan, &case, &outcome)?;
        if &j.signature != self.signature {
            return None;
        }
        let kept = plan.rendered.iter().map(|i| actions[*i].clone()).collect();
        Some((kept, plan, outcome))
    }

    pub async fn shrink(mut self, actions: Vec<Action>, plan: Plan, outcome: Outcome) -> Shrunk {
        let mut cur: Vec<Action> = plan.rendered.iter().map(|i| actions[*i].clone()).collect();
        let mut best = (plan, outcome);
        self.tried.insert(best.0.yaml.clone());
        loop {
            let mut progress = false;
            // Remove chunks, largest first.
            let mut chunk = (cur.len() / 2).max(1);
            'sizes: loop {
                let mut i = 0;
                while i < cur.len() {
                    if self.exhausted() {
                        break 'sizes;
                    }
                    let end = (i + chunk).min(cur.len());
                    let mut cand = cur[..i].to_vec();
                    cand.extend_from_slice(&cur[end..]);
                    match self.reproduces(&cand).await {
                        Some((kept, p, o)) => {
                            cur = kept;
                            best = (p, o);
                            progress = true;
                        }
                        None => i += chunk,
                    }
                }
                if chunk == 1 {
                    break;
                }
                chunk /= 2;
            }
            // Simplify what is left, one action at a time.
            let mut i = 0;
            while i < cur.len() && !self.exhausted() {
                let mut changed = false;
                for simpler in model::simplify(&cur[i]) {
                    let mut cand = cur.clone();
                    cand[i] = simpler;
                    if let Some((kept, p, o)) = self.reproduces(&cand).await {
                        cur = kept;
                        best = (p, o);
                        progress = true;
                        changed = true;
                        break;
                    }
                    if self.exhausted() {
                        break;
                    }
                }
                if !changed {
                    i += 1;
                }
            }
            if !progress || self.exhausted() {
                break;
            }
        }
        Shrunk {
            actions: cur,
            plan: best.0,
            outcome: best.1,
            runs: self.runs,
        }
    }
}
