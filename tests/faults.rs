//! Proof that the suite can fail: each case names the reference-runtime
//! faults it must catch (`catches:`), and here it runs with each of them
//! switched on and must not pass. Every MUST case must catch at least one.

use arcp_conform::engine::runner::CaseResult;
use arcp_conform::engine::{run_case, EngineOptions};
use arcp_conform::report::CaseRecord;
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

    // Every per-frame invariant is shown able to fail: with a fault of the
    // reference runtime, a case that runs into it records the violation
    // (the suite's cases show the fault-free runtime breaks none).
    const INVARIANT_FAULTS: &[(&str, &str, &str)] = &[
        (
            "frame.schema",
            "event-envelope-missing-field",
            "events.envelope.fields",
        ),
        (
            "frame.event-seq",
            "skip-event-seq",
            "delegation.budget.exceeds-parent",
        ),
        (
            "frame.features",
            "ignore-feature-intersection",
            "credentials.feature.absent-without-negotiation",
        ),
        (
            "frame.retryable",
            "retryable-expiry",
            "errors.retryable.budget-exhausted",
        ),
        (
            "frame.credentials",
            "cross-principal-leak",
            "credentials.subscribe.other-principal-no-credentials",
        ),
        (
            "frame.budget",
            "negative-cost-decrements",
            "leases.budget.negative-cost-no-decrement",
        ),
        (
            "frame.terminal-once",
            "double-terminal",
            "credentials.values.distinct-across-jobs",
        ),
        (
            "frame.chunk-order",
            "chunks-out-of-order",
            "events.result.chunk-data",
        ),
        (
            "frame.chunk-no-inline",
            "mix-inline-result",
            "events.result.chunk-data",
        ),
        (
            "frame.chunk-result-id",
            "terminal-without-result-id",
            "events.result.chunk-data",
        ),
        (
            "frame.progress-total",
            "progress-over-total",
            "events.progress.current-within-total",
        ),
        (
            "frame.agent-version",
            "migrate-agent-version",
            "credentials.list-jobs.submitter-sees",
        ),
        (
            "frame.idempotent-accepted",
            "idempotent-payload-differs",
            "jobs.idempotency.same-key-same-accepted",
        ),
        (
            "frame.delegate-lease",
            "no-subset-check",
            "delegation.subset.broader-path",
        ),
        (
            "frame.credential-reuse",
            "reuse-credential-value",
            "credentials.values.distinct-across-jobs",
        ),
    ];
    let unproved: Vec<&str> = arcp_conform::checks::ALL
        .iter()
        .map(|i| i.id)
        .filter(|id| !INVARIANT_FAULTS.iter().any(|(i, _, _)| i == id))
        .collect();
    trials.push(Trial::test("every-invariant-names-a-fault", move || {
        if unproved.is_empty() {
            Ok(())
        } else {
            Err(format!("invariants no fault proves: {}", unproved.join(", ")).into())
        }
    }));
    for (id, name, case_id) in INVARIANT_FAULTS {
        let fault = Fault::parse(name).unwrap_or_else(|| panic!("no fault `{name}`"));
        let case = Arc::new(
            cases
                .iter()
                .find(|c| c.id == *case_id)
                .unwrap_or_else(|| panic!("no case `{case_id}`"))
                .clone(),
        );
        let rt = rt.clone();
        trials.push(Trial::test(format!("invariant::{id}::{name}"), move || {
            let mut cfg = suite_runtime_config(EMBEDDED_TIME_SCALE);
            cfg.faults = Faults::none().with(fault);
            let target = Target::embedded(cfg);
            let outcome = rt.block_on(run_case(&case, &target, &EngineOptions::default()));
            let seen: Vec<&str> = outcome.violations.iter().map(|v| v.invariant.id).collect();
            if seen.contains(id) {
                Ok(())
            } else {
                Err(format!(
                    "with fault `{name}` case {} broke {seen:?}, not {id}",
                    case.id
                )
                .into())
            }
        }));
    }

    // A case judges its own requirement only: the MUST of "no leak" holds for a
    // listing without `request_id` (that echo is session.list-jobs.request-id-echoed's,
    // a MAY); found against the Ruby SDK, whose session.jobs says `reply_to`.
    {
        let case = Arc::new(
            cases
                .iter()
                .find(|c| c.id == "session.list-jobs.no-cross-principal-leak")
                .expect("session.list-jobs.no-cross-principal-leak")
                .clone(),
        );
        let rt = rt.clone();
        trials.push(Trial::test(
            "list-jobs-leak-case-needs-no-request-id",
            move || {
                let mut cfg = suite_runtime_config(EMBEDDED_TIME_SCALE);
                cfg.faults = Faults::none().with(Fault::parse("list-jobs-no-request-id").unwrap());
                let outcome = rt.block_on(run_case(
                    &case,
                    &Target::embedded(cfg),
                    &EngineOptions::default(),
                ));
                if outcome.verdict == Verdict::Pass {
                    Ok(())
                } else {
                    Err(format!("case verdict {}: {}", outcome.verdict, outcome.reason).into())
                }
            },
        ));
    }

    // Issue 10: an error frame that breaks the JSON Schemas (no `retryable`)
    // but carries the right code is the run's `frame.schema` finding, INFO
    // (§5 describes the envelope without a keyword), never a FAIL of the case
    // whose own requirement held; with or without `--no-schema` the case's
    // verdict is the same.
    for schema in [true, false] {
        let case = Arc::new(
            cases
                .iter()
                .find(|c| c.id == "jobs.cancel.unknown-job")
                .expect("jobs.cancel.unknown-job")
                .clone(),
        );
        let rt = rt.clone();
        let name = format!("schema-deviation-keeps-case-verdict::schema={schema}");
        trials.push(Trial::test(name, move || {
            let mut cfg = suite_runtime_config(EMBEDDED_TIME_SCALE);
            cfg.faults = Faults::none().with(Fault::parse("bad-error-shape").unwrap());
            let opts = EngineOptions {
                schema,
                ..EngineOptions::default()
            };
            let outcome = rt.block_on(run_case(&case, &Target::embedded(cfg), &opts));
            if outcome.verdict != Verdict::Pass {
                return Err(format!("case verdict {}: {}", outcome.verdict, outcome.reason).into());
            }
            let seen: Vec<&str> = outcome.violations.iter().map(|v| v.invariant.id).collect();
            let want: &[&str] = if schema { &["frame.schema"] } else { &[] };
            if seen != want {
                return Err(format!("violations {seen:?}, expected {want:?}").into());
            }
            let result = CaseResult {
                case: case.clone(),
                outcome,
            };
            let entry = CaseRecord::for_invariant(&arcp_conform::checks::SCHEMA, &[result]);
            let verdict = if schema { "INFO" } else { "PASS" };
            if entry.verdict != verdict {
                return Err(
                    format!("frame.schema entry {}, expected {verdict}", entry.verdict).into(),
                );
            }
            Ok(())
        }));
    }

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
                // A per-frame rule broken on the way is a finding too (its
                // own entry in the report, not this case's verdict).
                if !outcome.violations.is_empty() {
                    return Ok(());
                }
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
