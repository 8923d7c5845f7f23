//! Virtual time changes no verdict. The embedded suite, every (case, fault)
//! pair of the fault-sensitivity proof (tests/faults.rs) and the fuzzer's
//! regression cases run on the sped-up wall clock (time x10, on a
//! multi-threaded runtime) and on virtual time (a paused runtime, see
//! `clock::virtual_runtime`); each case's verdict and broken per-frame rules
//! must be the same both ways.

use arcp_conform::case::Case;
use arcp_conform::engine::runner::run_judged;
use arcp_conform::engine::EngineOptions;
use arcp_conform::runtime::{Fault, Faults, RuntimeConfig};
use arcp_conform::target::{
    suite_runtime_config, virtual_runtime_config, Target, EMBEDDED_TIME_SCALE,
};
use futures_util::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What one run is: a case, with at most one fault switched on.
type Run = (Arc<Case>, Option<Fault>);

/// Verdict and broken per-frame rules of one run.
type Result = (String, Vec<&'static str>);

fn runs() -> Vec<Run> {
    let mut cases = arcp_conform::suite::runtime_suite().expect("the embedded suite loads");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/regressions.yaml");
    cases.extend(arcp_conform::case::load_file(&path).expect("the regressions load"));
    let mut runs = vec![];
    for case in cases {
        let case = Arc::new(case);
        runs.push((case.clone(), None));
        for f in case.catches.iter().filter_map(|n| Fault::parse(n)) {
            runs.push((case.clone(), Some(f)));
        }
    }
    runs
}

/// Every run, many at once, each against a fresh embedded runtime.
async fn verdicts(runs: &[Run], config: fn() -> RuntimeConfig) -> BTreeMap<String, Result> {
    stream::iter(runs.iter().cloned())
        .map(|(case, fault)| async move {
            let mut cfg = config();
            if let Some(f) = fault {
                cfg.faults = Faults::none().with(f);
            }
            // The harness's own ERROR (late timers on a loaded machine, on
            // wall time) is no verdict on either clock: it is run again.
            let o = run_judged(&case, &Target::embedded(cfg), &EngineOptions::default(), 2).await;
            let key = format!("{}::{}", case.id, fault.map_or("none", |f| f.name()));
            let mut broken: Vec<&str> = o.violations.iter().map(|v| v.invariant.id).collect();
            broken.sort_unstable();
            broken.dedup();
            (key, (o.verdict.label().to_string(), broken))
        })
        .buffer_unordered(32)
        .collect()
        .await
}

#[test]
fn verdicts_are_the_same_on_virtual_and_wall_time() {
    let runs = runs();
    let wall = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(verdicts(&runs, || {
            suite_runtime_config(EMBEDDED_TIME_SCALE)
        }));
    let virt =
        arcp_conform::clock::virtual_runtime().block_on(verdicts(&runs, virtual_runtime_config));
    assert_eq!(wall.len(), runs.len());
    let differ: Vec<String> = wall
        .iter()
        .filter(|(k, w)| virt.get(*k) != Some(w))
        .map(|(k, w)| format!("{k}: wall {w:?}, virtual {:?}", virt.get(k)))
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} runs differ:\n{}",
        differ.len(),
        runs.len(),
        differ.join("\n")
    );
}

/// Fuzzing on a virtual runtime per thread changes no finding, however far
/// the caller's virtual clock has run: each paused runtime keeps its own
/// timeline, so the target's clock is started again on each. (Shared as
/// made, a clock whose origin lay in a thread's future stood still there:
/// leases never expired and the reference runtime "failed" lease expiry.)
#[test]
fn fuzzing_on_threads_finds_what_one_thread_finds() {
    use arcp_conform::fuzz::{self, FuzzOptions};
    let signatures = |faults: &[Fault], threads: usize| {
        let faults = faults.to_vec();
        arcp_conform::clock::virtual_runtime().block_on(async move {
            // The caller's clock has run an hour before the session starts.
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            let mut cfg = virtual_runtime_config();
            cfg.faults = faults.iter().fold(Faults::none(), |f, x| f.with(*x));
            let target = Arc::new(Target::embedded(cfg));
            let engine = EngineOptions::default();
            let model = fuzz::model_config(&target, &engine, &Default::default())
                .await
                .expect("the embedded runtime probes");
            let opts = FuzzOptions {
                seed: 1,
                iterations: Some(150),
                jobs: 2,
                threads,
                shrink_runs: 0,
                engine,
                model,
                ..FuzzOptions::default()
            };
            let r = fuzz::fuzz(target, opts, |_| {}).await;
            assert!(r.errors.is_empty(), "{:?}", r.errors);
            let mut s: Vec<String> = r.findings.iter().map(|f| f.signature.to_string()).collect();
            s.sort();
            s
        })
    };
    assert_eq!(
        signatures(&[], 2),
        Vec::<String>::new(),
        "the reference runtime has nothing to find"
    );
    let faults = [
        Fault::parse("ignore-lease-expiry").unwrap(),
        Fault::parse("skip-event-seq").unwrap(),
        Fault::parse("ignore-budget").unwrap(),
    ];
    let one = signatures(&faults, 1);
    assert!(!one.is_empty(), "the faults are found on one thread");
    assert_eq!(signatures(&faults, 2), one);
}
