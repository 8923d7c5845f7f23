//! `arcp-conform fuzz`: model-based protocol fuzzing of a runtime.
//!
//! Each iteration generates a sequence of client actions from a model of the
//! protocol's states ([`model`]) mixed with single-frame mutations
//! ([`mutate`]), renders it as a case of the case language with the
//! expectations that judge it ([`plan`]), and runs that case through the
//! ordinary engine ([`crate::engine::run_case`]), so every frame is also
//! checked by [`crate::checks::Monitor`]. A failed iteration is judged into a
//! signature ([`oracle`]); the first time a signature is seen the sequence is
//! shrunk ([`shrink`]) and written as a reproducer ([`repro`]).
//!
//! Randomness comes from proptest's ChaCha RNG seeded from `--seed` and the
//! iteration number ([`gen`]): one seed always generates the same sequences.

pub mod cli;
pub mod gen;
pub mod model;
pub mod mutate;
pub mod oracle;
pub mod plan;
pub mod predict;
pub mod repro;
pub mod shrink;
pub mod targets;

use crate::case::Case;
use crate::engine::EngineOptions;
use crate::target::Target;
use crate::verdict::{Direction, Outcome, Verdict};
use model::{Action, ModelConfig};
use oracle::Signature;
use plan::{Header, Plan};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to fuzz.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    pub seed: u64,
    /// Stop after this many iterations.
    pub iterations: Option<u64>,
    /// Stop starting iterations after this long.
    pub duration: Option<Duration>,
    /// Iterations run at once.
    pub jobs: usize,
    /// Stop starting iterations once this many findings are in.
    pub max_findings: Option<usize>,
    /// Write reproducers here (none: do not write).
    pub out: Option<PathBuf>,
    /// Shrink findings (at most this many runs each; 0: do not shrink).
    pub shrink_runs: usize,
    /// Wall-clock bound on shrinking one finding.
    pub shrink_time: Duration,
    pub engine: EngineOptions,
    pub model: ModelConfig,
    /// For reproducer comments: `--target` and `--fault` as given.
    pub target_arg: Option<String>,
    pub faults: Vec<String>,
    /// Threads that share the `jobs` iterations, each on its own paused
    /// (virtual-time) runtime. Used only for the embedded runtime on virtual
    /// time, whose one current-thread runtime otherwise keeps the fuzzer on
    /// one core; any other target runs every iteration on the caller's
    /// runtime, as with 1.
    pub threads: usize,
}

impl Default for FuzzOptions {
    fn default() -> Self {
        FuzzOptions {
            seed: 0,
            iterations: Some(100),
            duration: None,
            jobs: 1,
            max_findings: None,
            out: None,
            shrink_runs: 150,
            shrink_time: Duration::from_secs(30),
            engine: EngineOptions::default(),
            model: ModelConfig::default(),
            target_arg: None,
            faults: vec![],
            threads: 1,
        }
    }
}

/// How often a written reproducer is replayed to tell a steady finding from
/// a timing-dependent one.
pub const REPLAYS: usize = 3;

/// A FAIL under a requirement sentence of `level`: WARN under a SHOULD,
/// INFO under a sentence without a keyword (not a spec violation). An ERROR
/// (the target crashed, hung, flooded, closed the transport mid-case) stays,
/// as it does when `run --case` replays the reproducer.
fn at_level(v: Verdict, level: crate::case::Level) -> Verdict {
    if v == Verdict::Fail {
        Verdict::for_level(level)
    } else {
        v
    }
}

/// One bug, shrunk.
#[derive(Debug, Clone)]
pub struct Finding {
    pub signature: Signature,
    pub verdict: Verdict,
    pub reason: String,
    pub seed: u64,
    pub iteration: u64,
    pub original_actions: usize,
    pub actions: Vec<Action>,
    /// The reproducer (comments and case).
    pub text: String,
    /// Where it was written.
    pub path: Option<PathBuf>,
    /// Verdict of the reproducer as written, replayed once more.
    pub replay: Verdict,
    /// Of [`REPLAYS`] replays of the reproducer as written, how many failed
    /// with the finding's signature (fewer than all: a timing-dependent bug).
    pub reproduced: usize,
    pub shrink_runs: usize,
    /// Iterations that failed with this signature (this one included).
    pub hits: u64,
    /// What provoked it in those iterations (message / mutation or check),
    /// each once: one root cause, many ways to hit it.
    pub triggers: Vec<String>,
}

/// The iterations that hit one signature.
#[derive(Debug, Default)]
struct Hits {
    count: u64,
    triggers: std::collections::BTreeSet<String>,
}

/// What a fuzz run did.
#[derive(Debug, Clone, Default)]
pub struct FuzzReport {
    pub seed: u64,
    pub iterations: u64,
    /// Frames sent and received by the iterations (not by shrinking).
    pub frames: u64,
    pub elapsed: Duration,
    pub findings: Vec<Finding>,
    /// Iterations that failed again with an already known signature.
    pub repeats: u64,
    /// Problems of the fuzzer itself (a rendered case that does not load).
    pub errors: Vec<String>,
    /// Order-independent digest of every generated case: equal for equal
    /// seeds and iteration counts.
    pub digest: u64,
}

impl FuzzReport {
    pub fn iterations_per_sec(&self) -> f64 {
        self.iterations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn frames_per_sec(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The actions and rendered case of one iteration (pure: no target needed).
pub fn plan_for(seed: u64, iteration: u64, cfg: &ModelConfig) -> (Vec<Action>, Plan) {
    let mut g = gen::Gen::new(seed, iteration);
    let actions = model::generate(&mut g, cfg);
    let plan = plan::render(&actions, cfg, &Header::iteration(seed, iteration));
    (actions, plan)
}

/// Load a rendered plan as a case.
pub fn load(plan: &Plan) -> Result<Case, String> {
    crate::case::parse_rendered(&plan.yaml, std::path::Path::new("<fuzz>"))
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| "the rendered case is empty".to_string())
}

/// Run a rendered plan against the target.
pub async fn run_plan(
    target: &Target,
    plan: &Plan,
    engine: &EngineOptions,
) -> Result<(Case, Outcome), String> {
    let case = load(plan)?;
    let outcome = crate::engine::run_case(&case, target, engine).await;
    Ok((case, outcome))
}

/// What the model may use on `target`: probe it (hello offering every
/// feature) and read its profile.
pub async fn model_config(
    target: &Target,
    engine: &EngineOptions,
    base: &ModelConfig,
) -> Result<ModelConfig, Outcome> {
    let env = crate::engine::runner::probe(target, engine).await?;
    let p = &target.profile;
    let agent = |n: &Option<String>| {
        n.as_ref()
            .is_some_and(|n| env.agents.is_empty() || env.agents.contains(n))
    };
    Ok(ModelConfig {
        shared_runtime: target.shared_runtime(),
        features: env.features.clone(),
        has_bob: p.tokens.bob.is_some(),
        has_alice2: p.tokens.alice2.is_some(),
        has_conformance: agent(&p.agents.conformance),
        has_echo: agent(&p.agents.echo),
        arcp: p.dialect.arcp_version.clone(),
        ..base.clone()
    })
}

fn frames_of(o: &Outcome) -> u64 {
    o.wire.iter().filter(|w| w.dir != Direction::Note).count() as u64
}

struct Shared {
    target: Arc<Target>,
    opts: FuzzOptions,
    seen: Mutex<HashMap<Signature, Hits>>,
    findings: Mutex<Vec<Finding>>,
    errors: Mutex<Vec<String>>,
    frames: AtomicU64,
    repeats: AtomicU64,
    digest: AtomicU64,
    /// The next iteration number to start.
    next: AtomicU64,
    deadline: Option<Instant>,
    /// Iterations to start in all.
    limit: u64,
}

type OnFinding = Arc<dyn Fn(&Finding) + Send + Sync>;

/// Fuzz `target`. `on_finding` sees each new finding once it is shrunk and
/// written.
pub async fn fuzz(
    target: Arc<Target>,
    opts: FuzzOptions,
    on_finding: impl Fn(&Finding) + Send + Sync + 'static,
) -> FuzzReport {
    let started = Instant::now();
    let on_finding: OnFinding = Arc::new(on_finding);
    let shared = Arc::new(Shared {
        target,
        opts: opts.clone(),
        seen: Mutex::new(HashMap::new()),
        findings: Mutex::new(vec![]),
        errors: Mutex::new(vec![]),
        frames: AtomicU64::new(0),
        repeats: AtomicU64::new(0),
        digest: AtomicU64::new(0),
        next: AtomicU64::new(0),
        deadline: opts.duration.map(|d| started + d),
        limit: match (opts.iterations, opts.duration) {
            (Some(n), _) => n,
            (None, Some(_)) => u64::MAX,
            (None, None) => 100,
        },
    });
    let jobs = opts.jobs.max(1);
    // Only the embedded runtime on virtual time can be rebuilt on another
    // (paused) runtime.
    let threads = if shared.target.on_this_runtime().is_some() {
        opts.threads.clamp(1, jobs)
    } else {
        1
    };
    let done = if threads == 1 {
        let target = shared.target.clone();
        drive(shared.clone(), target, on_finding, jobs).await
    } else {
        // Each thread its own virtual-time runtime and its share of the jobs;
        // this runtime only waits (and still answers Ctrl-C).
        let mut waits = vec![];
        for t in 0..threads {
            let share = jobs / threads + usize::from(t < jobs % threads);
            let (sh, cb) = (shared.clone(), on_finding.clone());
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                let done = crate::clock::virtual_runtime().block_on(async move {
                    // Virtual time is per runtime: the target's clock must
                    // start on this one, or it reads another's timeline.
                    let target = Arc::new(sh.target.on_this_runtime().expect("embedded"));
                    drive(sh, target, cb, share).await
                });
                let _ = tx.send(done);
            });
            waits.push(rx);
        }
        let mut done = 0;
        for rx in waits {
            match rx.await {
                Ok(n) => done += n,
                Err(_) => shared
                    .errors
                    .lock()
                    .unwrap()
                    .push("a fuzzing thread failed".to_string()),
            }
        }
        done
    };
    let mut findings = std::mem::take(&mut *shared.findings.lock().unwrap());
    findings.sort_by_key(|a| a.iteration);
    let seen = shared.seen.lock().unwrap();
    for f in &mut findings {
        if let Some(h) = seen.get(&f.signature) {
            f.hits = h.count;
            f.triggers = h.triggers.iter().cloned().collect();
        }
    }
    drop(seen);
    let errors = std::mem::take(&mut *shared.errors.lock().unwrap());
    FuzzReport {
        seed: opts.seed,
        iterations: done,
        frames: shared.frames.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        findings,
        repeats: shared.repeats.load(Ordering::Relaxed),
        errors,
        digest: shared.digest.load(Ordering::Relaxed),
    }
}

/// Run iterations, `jobs` at once, taking their numbers from the shared
/// counter until the limit, the deadline or enough findings; how many ran.
async fn drive(
    shared: Arc<Shared>,
    target: Arc<Target>,
    on_finding: OnFinding,
    jobs: usize,
) -> u64 {
    let opts = &shared.opts;
    let mut set = tokio::task::JoinSet::new();
    let mut done = 0u64;
    loop {
        let time_left = shared.deadline.is_none_or(|d| Instant::now() < d);
        let wanted = opts
            .max_findings
            .is_none_or(|m| shared.seen.lock().unwrap().len() < m);
        while set.len() < jobs && time_left && wanted {
            let i = shared.next.fetch_add(1, Ordering::Relaxed);
            if i >= shared.limit {
                break;
            }
            let (sh, t, cb) = (shared.clone(), target.clone(), on_finding.clone());
            set.spawn(async move { iteration(sh, &t, i, cb).await });
        }
        match set.join_next().await {
            Some(r) => {
                done += 1;
                if let Err(e) = r {
                    shared
                        .errors
                        .lock()
                        .unwrap()
                        .push(format!("an iteration task failed: {e}"));
                }
            }
            None => break,
        }
    }
    done
}

async fn iteration(sh: Arc<Shared>, target: &Target, i: u64, on_finding: OnFinding) {
    let o = &sh.opts;
    let (actions, plan) = plan_for(o.seed, i, &o.model);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (i, &plan.yaml).hash(&mut h);
    sh.digest.fetch_add(h.finish(), Ordering::Relaxed);
    let (case, outcome) = match run_plan(target, &plan, &o.engine).await {
        Ok(r) => r,
        Err(e) => {
            sh.errors.lock().unwrap().push(format!(
                "iteration {i}: the generated case does not load: {e}"
            ));
            return;
        }
    };
    sh.frames.fetch_add(frames_of(&outcome), Ordering::Relaxed);
    let Some(j) = oracle::judge(&plan, &case, &outcome) else {
        return;
    };
    {
        let mut seen = sh.seen.lock().unwrap();
        let hits = seen.entry(j.signature.clone()).or_default();
        hits.count += 1;
        hits.triggers.insert(j.trigger.clone());
        if hits.count > 1 {
            sh.repeats.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    let original_actions = plan.rendered.len();
    let shrunk = if o.shrink_runs > 0 {
        shrink::Shrinker::new(
            target,
            &o.model,
            &o.engine,
            &j.signature,
            Header::iteration(o.seed, i),
            o.shrink_runs,
            Instant::now() + o.shrink_time,
        )
        .shrink(actions, plan, outcome)
        .await
    } else {
        shrink::Shrunk {
            actions: plan.rendered.iter().map(|k| actions[*k].clone()).collect(),
            plan,
            outcome,
            runs: 0,
        }
    };
    // The reproducer is the shrunk case under the finding's own header.
    let final_plan = plan::render(
        &shrunk.actions,
        &o.model,
        &repro::header(&j.signature, &j.trigger, &o.faults),
    );
    let level = repro::level_of(&oracle::requirement(&j.signature, &j.trigger).1);
    let prov = repro::Provenance {
        seed: o.seed,
        iteration: i,
        target: o.target_arg.clone(),
        faults: o.faults.clone(),
        trigger: j.trigger.clone(),
        original_actions,
        shrink_runs: shrunk.runs,
        replayed: None,
    };
    let draft = repro::render(
        &j.signature,
        &prov,
        &final_plan,
        &shrunk.outcome,
        &shrunk.plan,
    );
    // Replay the reproducer as written, as `run --case` would, a few times:
    // its comments say how steady it is.
    let (replay, replays) =
        match crate::case::parse_str(&draft, std::path::Path::new("<reproducer>")) {
            Ok(mut cases) if !cases.is_empty() => {
                // Judged as the fuzzer judged it (every oracle a MUST), so the
                // signature is recognised; the verdict then takes the level.
                cases[0].level = crate::case::Level::Must;
                let mut first = None;
                let mut r = repro::Replays {
                    of: REPLAYS,
                    ..Default::default()
                };
                for _ in 0..REPLAYS {
                    // A replay the harness itself spoiled (late timers on a loaded
                    // machine) is run again: it says nothing of the target.
                    let out =
                        crate::engine::runner::run_judged(&cases[0], target, &o.engine, 2).await;
                    let judged = oracle::judge(&final_plan, &cases[0], &out);
                    let v = judged.as_ref().map_or(out.verdict, |j| j.verdict);
                    first.get_or_insert(at_level(v, level));
                    match judged {
                        Some(got) if got.signature == j.signature => r.same += 1,
                        Some(got) => r.others.push(format!("{} ({})", got.signature, out.reason)),
                        None => r.others.push(format!("{v}: {}", out.reason)),
                    }
                }
                (first.unwrap_or(Verdict::Error), r)
            }
            Ok(_) => (Verdict::Error, repro::Replays::default()),
            Err(e) => {
                sh.errors
                    .lock()
                    .unwrap()
                    .push(format!("reproducer of {} does not load: {e}", j.signature));
                (Verdict::Error, repro::Replays::default())
            }
        };
    let reproduced = replays.same;
    let prov = repro::Provenance {
        replayed: Some(replays),
        ..prov
    };
    let text = repro::render(
        &j.signature,
        &prov,
        &final_plan,
        &shrunk.outcome,
        &shrunk.plan,
    );
    let path = match &o.out {
        Some(dir) => match repro::write(dir, &j.signature, &text) {
            Ok(p) => Some(p),
            Err(e) => {
                sh.errors.lock().unwrap().push(format!(
                    "cannot write a reproducer in {}: {e}",
                    dir.display()
                ));
                None
            }
        },
        None => None,
    };
    let f = Finding {
        verdict: at_level(j.verdict, level),
        signature: j.signature,
        reason: j.reason,
        seed: o.seed,
        iteration: i,
        original_actions,
        actions: shrunk.actions,
        text,
        path,
        replay,
        reproduced,
        shrink_runs: shrunk.runs,
        hits: 1,
        triggers: vec![j.trigger],
    };
    on_finding(&f);
    sh.findings.lock().unwrap().push(f);
}
