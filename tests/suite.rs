//! The whole runtime suite against the embedded reference runtime: one test
//! per case (libtest-mimic), every one must pass.

use arcp_conform::engine::runner::{applicability, probe, run_judged};
use arcp_conform::engine::EngineOptions;
use arcp_conform::report::CaseRecord;
use arcp_conform::target::{suite_runtime_config, Target, EMBEDDED_TIME_SCALE};
use arcp_conform::verdict::Verdict;
use libtest_mimic::{Arguments, Failed, Trial};
use std::sync::Arc;

fn main() {
    let mut args = Arguments::from_args();
    // Cases mostly wait on protocol time: run many at once.
    args.test_threads.get_or_insert(16);
    let rt = Arc::new(tokio::runtime::Runtime::new().expect("tokio runtime"));
    let target = Arc::new(Target::embedded(suite_runtime_config(EMBEDDED_TIME_SCALE)));
    let opts = EngineOptions::default();
    let env = Arc::new(
        rt.block_on(probe(&target, &opts))
            .expect("handshake with the embedded runtime"),
    );
    let cases = arcp_conform::suite::runtime_suite().expect("the embedded suite loads");
    let trials = cases
        .into_iter()
        .map(|case| {
            let (rt, target, env, opts) = (rt.clone(), target.clone(), env.clone(), opts.clone());
            Trial::test(case.id.clone(), move || {
                let outcome = match applicability(&case, &target, &env) {
                    Some(o) => o,
                    // The harness's own ERROR (late timers on a loaded machine) is run again.
                    None => rt.block_on(run_judged(&case, &target, &opts, 2)),
                };
                // Silent: the case passes and no per-frame rule was broken.
                if outcome.verdict == Verdict::Pass && outcome.violations.is_empty() {
                    return Ok(());
                }
                let record = CaseRecord::from_result(&arcp_conform::engine::runner::CaseResult {
                    case: Arc::new(case),
                    outcome,
                });
                Err(Failed::from(record.failure_text()))
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
