//! Proof that the suite can fail: each case names the reference-runtime
//! faults it must catch (`catches:`), and here it runs with each of them
//! switched on and must not pass. Every MUST case must catch at least one.

use arcp_conform::engine::{run_case, EngineOptions};
use arcp_conform::runtime::{Fault, Faults};
use arcp_conform::target::{suite_runtime_config, Target, EMBEDDED_TIME_SCALE};
use arcp_conform::verdict::Verdict;
use libtest_mimic::{Arguments, Failed, Trial};
use std::sync::Arc;

fn main() {
    let mut args = Arguments::from_args();
    // Cases mostly wait on protocol time: run many at once.
    args.test_threads.get_or_insert(16);
    let rt = Arc::new(tokio::runtime::Runtime::new().expect("tokio runtime"));
    let cases = arcp_conform::suite::runtime_suite().expect("the embedded suite loads");
    let mut trials = vec![];

    // Every MUST case is shown able to fail; every named fault exists.
    let uncaught: Vec<String> = cases
        .iter()
        .filter(|c| c.level == arcp_conform::case::Level::Must && c.catches.is_empty())
        .map(|c| c.id.clone())
        .collect();
    trials.push(Trial::test("every-must-case-names-a-fault", move || {
        if uncaught.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "MUST cases with no `catches:` fault: {}",
                uncaught.join(", ")
            )
            .into())
        }
    }));
    let unknown: Vec<String> = cases
        .iter()
        .flat_map(|c| {
            c.catches
                .iter()
                .filter(|f| Fault::parse(f).is_none())
                .map(move |f| format!("{}: {f}", c.id))
        })
        .collect();
    trials.push(Trial::test("every-named-fault-exists", move || {
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!("unknown faults: {}", unknown.join(", ")).into())
        }
    }));

    // Every fault is caught by some case, except those only reachable in a
    // runtime configured otherwise than the suite's.
    const OTHER_CONFIG: &[(&str, &str)] = &[(
        "leak-credentials-to-subscriber",
        "needs a runtime that lets other principals observe (serve --cross-principal); the suite's refuses them, and cross-principal-leak is the same leak there",
    )];
    let named: std::collections::BTreeSet<&str> = cases
        .iter()
        .flat_map(|c| c.catches.iter().map(String::as_str))
        .collect();
    let never: Vec<String> = Fault::ALL
        .iter()
        .map(|f| f.name())
        .filter(|f| !named.contains(f) && !OTHER_CONFIG.iter().any(|(n, _)| n == f))
        .map(String::from)
        .collect();
    trials.push(Trial::test("every-fault-is-caught-by-a-case", move || {
        if never.is_empty() {
            Ok(())
        } else {
            Err(format!("faults no case catches: {}", never.join(", ")).into())
        }
    }));

    let mut pairs = 0;
    for case in cases {
        let case = Arc::new(case);
        for name in case.catches.clone() {
            let Some(fault) = Fault::parse(&name) else {
                continue;
            };
            pairs += 1;
            let (rt, case) = (rt.clone(), case.clone());
            trials.push(Trial::test(format!("{}::{}", case.id, name), move || {
                let mut cfg = suite_runtime_config(EMBEDDED_TIME_SCALE);
                cfg.faults = Faults::none().with(fault);
                let target = Target::embedded(cfg);
                let outcome = rt.block_on(run_case(&case, &target, &EngineOptions::default()));
                match outcome.verdict {
                    Verdict::Fail | Verdict::Error | Verdict::Warn | Verdict::Info => Ok(()),
                    v => Err(Failed::from(format!(
                        "with fault `{name}` ({}) the case was {v}, so it does not catch it",
                        fault.describe()
                    ))),
                }
            }));
        }
    }
    eprintln!("fault proof: {pairs} (case, fault) pairs");
    libtest_mimic::run(&args, trials).exit();
}
