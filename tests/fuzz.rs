//! The fuzzer against the embedded reference runtime (on virtual time, as
//! `arcp-conform fuzz` runs it; over stdio in real time): with a fault reachable
//! by traffic switched on, a short run finds it and its reproducer replays
//! (without the fuzzer) to a non-PASS verdict with the fault and PASSes
//! without it; the fault-free runtime yields nothing; a seed always
//! generates the same sequences.

use arcp_conform::engine::{run_case, EngineOptions};
use arcp_conform::fuzz::{self, model::ModelConfig, FuzzOptions};
use arcp_conform::runtime::{Fault, Faults};
use arcp_conform::target::{virtual_runtime_config, Target};
use arcp_conform::verdict::Verdict;
use std::sync::Arc;
use std::time::Duration;

/// The embedded runtime on virtual time, as `arcp-conform fuzz` runs it
/// (make it on the paused runtime that uses it: its clock reads that
/// runtime's time). A generated expiry or sleep is then exact however
/// loaded the machine is; on the sped-up wall clock a loaded machine could
/// stretch a lease's few wall milliseconds, or make the harness late enough
/// that a missed deadline is its own ERROR, and a replay differed (stop 17's
/// CI). Fuzzing in real time is tested over stdio below.
fn virtual_target(fault: Option<Fault>) -> Target {
    let mut cfg = virtual_runtime_config();
    if let Some(f) = fault {
        cfg.faults = Faults::none().with(f);
    }
    Target::embedded(cfg)
}

fn options(seed: u64) -> FuzzOptions {
    FuzzOptions {
        seed,
        iterations: Some(200),
        jobs: 2,
        max_findings: Some(1),
        shrink_runs: 30,
        shrink_time: Duration::from_secs(4),
        engine: EngineOptions {
            timeout_scale: 0.4,
            schema: true,
            limits: None,
        },
        model: ModelConfig {
            max_actions: 10,
            ..ModelConfig::default()
        },
        ..FuzzOptions::default()
    }
}

/// A short run with `fault` on finds something; its reproducer fails with
/// the fault and passes without it, on every replay.
async fn finds(fault: Fault, seed: u64) {
    let mut opts = options(seed);
    opts.faults = vec![fault.name().to_string()];
    let report = fuzz::fuzz(Arc::new(virtual_target(Some(fault))), opts, |_| {}).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let f = report.findings.first().unwrap_or_else(|| {
        panic!(
            "{} iterations with fault `{fault}` found nothing",
            report.iterations
        )
    });
    assert!(
        f.actions.len() <= f.original_actions,
        "shrinking never grows a sequence"
    );
    let case = arcp_conform::case::parse_str(&f.text, std::path::Path::new("repro.yaml"))
        .expect("the reproducer loads")
        .remove(0);
    assert!(f.text.contains(&format!("--seed {seed}")), "{}", f.text);
    assert_eq!(
        f.reproduced,
        fuzz::REPLAYS,
        "the reproducer of {} does not reproduce on every replay:\n{}",
        f.signature,
        f.text
    );
    let opts = EngineOptions::default();
    // A broken per-frame rule is a finding of its own, beside the verdict.
    let with = run_case(&case, &virtual_target(Some(fault)), &opts).await;
    assert!(
        with.verdict != Verdict::Pass || !with.violations.is_empty(),
        "the reproducer of {} passes with `{fault}` on:\n{}",
        f.signature,
        f.text
    );
    let without = run_case(&case, &virtual_target(None), &opts).await;
    assert!(
        without.verdict == Verdict::Pass && without.violations.is_empty(),
        "the reproducer of {} fails without `{fault}`: {} {:?}\n{}",
        f.signature,
        without.reason,
        without.violations,
        f.text
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_silent_on_invalid() {
    finds(Fault::SilentOnInvalid, 11).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_skip_event_seq() {
    finds(Fault::SkipEventSeq, 12).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_no_pong() {
    finds(Fault::NoPong, 13).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_retryable_expiry() {
    finds(Fault::RetryableExpiry, 14).await;
}

// Semantic oracles: the plan predicts what a job's lease allows (§9.3, §9.6,
// §9.7) and what its acceptance says (§7.5, §11).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_no_lease_enforcement() {
    finds(Fault::NoLeaseEnforcement, 15).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_ignore_budget() {
    finds(Fault::IgnoreBudget, 22).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_no_agent_version_suffix() {
    finds(Fault::NoAgentVersionSuffix, 17).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_no_trace_propagation() {
    finds(Fault::NoTracePropagation, 18).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_ignore_duplicate_key() {
    finds(Fault::IgnoreDuplicateKey, 19).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_ignore_lease_expiry() {
    finds(Fault::IgnoreLeaseExpiry, 20).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_no_timeout() {
    finds(Fault::NoTimeout, 21).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn finds_mix_inline_result() {
    finds(Fault::MixInlineResult, 23).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn fault_free_runtime_yields_nothing() {
    let mut opts = options(20);
    opts.iterations = Some(80);
    opts.max_findings = None;
    opts.shrink_runs = 0;
    opts.engine.timeout_scale = 1.0;
    let report = fuzz::fuzz(Arc::new(virtual_target(None)), opts, |_| {}).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.iterations, 80);
    let found: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{} (iteration {})\n{}", f.signature, f.iteration, f.text))
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n\n"));
    assert!(report.frames > 80 * 4, "{} frames", report.frames);
}

#[test]
fn a_seed_always_generates_the_same_sequences() {
    let cfg = ModelConfig::default();
    for i in 0..40 {
        let (a1, p1) = fuzz::plan_for(99, i, &cfg);
        let (a2, p2) = fuzz::plan_for(99, i, &cfg);
        assert_eq!(a1, a2);
        assert_eq!(p1.yaml, p2.yaml);
        // Every generated case loads.
        fuzz::load(&p1).unwrap_or_else(|e| panic!("iteration {i}: {e}\n{}", p1.yaml));
    }
    let texts = |seed| {
        (0..10)
            .map(|i| fuzz::plan_for(seed, i, &cfg).1.yaml)
            .collect::<Vec<_>>()
    };
    assert_ne!(texts(99), texts(100));
}

/// The fuzzer loads its cases with lines read off the text, unchecked
/// (`case::parse_rendered`): they must be the lines the checked loader finds.
#[test]
fn generated_cases_load_with_the_lines_the_checked_loader_finds() {
    let cfg = ModelConfig::default();
    let lines = |c: &arcp_conform::case::Case| {
        let steps: Vec<usize> = c.steps.iter().map(|s| s.line).collect();
        (c.line, steps)
    };
    for seed in [1, 7, 99] {
        for i in 0..150 {
            let (_, plan) = fuzz::plan_for(seed, i, &cfg);
            let fast = fuzz::load(&plan).unwrap();
            let checked = arcp_conform::case::parse_str(&plan.yaml, std::path::Path::new("<t>"))
                .unwrap()
                .remove(0);
            assert_eq!(
                lines(&fast),
                lines(&checked),
                "seed {seed} iteration {i}\n{}",
                plan.yaml
            );
            assert!(fast.steps.iter().all(|s| s.line > 0));
        }
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn runs_with_the_same_seed_generate_the_same_cases() {
    let run = |jobs| {
        let mut o = options(5);
        o.iterations = Some(12);
        o.jobs = jobs;
        o.shrink_runs = 0;
        o.max_findings = None;
        fuzz::fuzz(Arc::new(virtual_target(None)), o, |_| {})
    };
    let (a, b) = (run(1).await, run(2).await);
    assert_eq!(a.iterations, 12);
    assert_eq!(
        a.digest, b.digest,
        "same seed, same cases, whatever --jobs is"
    );
}

/// The command exited with `code` (its output shown when not).
fn exits(o: &std::process::Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn the_cli_replays_a_reproducer() {
    // A reproducer as the fuzzer writes it, replayed by `run --case`.
    let rt = arcp_conform::clock::virtual_runtime();
    let dir = std::env::temp_dir().join(format!("arcp-fuzz-cli-{}", std::process::id()));
    let mut opts = options(13);
    opts.faults = vec!["no-pong".into()];
    opts.out = Some(dir.clone());
    let report = rt.block_on(async {
        fuzz::fuzz(Arc::new(virtual_target(Some(Fault::NoPong))), opts, |_| {}).await
    });
    let path = report.findings[0].path.clone().expect("written");
    let run = |fault: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_arcp-conform"));
        cmd.args(["run", "-q", "--color", "never", "--case"])
            .arg(&path);
        if let Some(f) = fault {
            cmd.args(["--fault", f]);
        }
        cmd.output().unwrap()
    };
    exits(&run(Some("no-pong")), 1);
    exits(&run(None), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_finding_under_a_sentence_without_must_is_info() {
    // Silence on a malformed frame breaks only §12's table row ("`INVALID_REQUEST`: Malformed
    // envelope or schema violation."), which says no MUST: the finding is written, but as INFO,
    // it replays as INFO, and neither the fuzzer nor the replay fails the run.
    let rt = arcp_conform::clock::virtual_runtime();
    let dir = std::env::temp_dir().join(format!("arcp-fuzz-info-{}", std::process::id()));
    let mut opts = options(11);
    opts.faults = vec!["silent-on-invalid".into()];
    opts.out = Some(dir.clone());
    let report = rt.block_on(async {
        fuzz::fuzz(
            Arc::new(virtual_target(Some(Fault::SilentOnInvalid))),
            opts,
            |_| {},
        )
        .await
    });
    let f = &report.findings[0];
    assert_eq!(f.signature.oracle, "error-frame", "{}", f.text);
    assert_eq!(f.verdict, Verdict::Info, "{}", f.text);
    assert_eq!(f.replay, Verdict::Info, "{}", f.text);
    assert_eq!(f.reproduced, fuzz::REPLAYS, "{}", f.text);
    assert!(f.text.contains("\nlevel: INFO\n"), "{}", f.text);
    let replay = std::process::Command::new(env!("CARGO_BIN_EXE_arcp-conform"))
        .args([
            "run",
            "-q",
            "--color",
            "never",
            "--fault",
            "silent-on-invalid",
            "--case",
        ])
        .arg(f.path.as_ref().expect("written"))
        .output()
        .unwrap();
    exits(&replay, 0);
    assert!(String::from_utf8_lossy(&replay.stdout).contains("INFO"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn earlier_findings_stay_fixed() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/regressions.yaml");
    let cases = arcp_conform::case::load_file(&path).expect("the regressions load");
    assert!(cases.len() >= 6);
    let mut failed = vec![];
    for case in cases {
        let o = run_case(&case, &virtual_target(None), &EngineOptions::default()).await;
        if o.verdict != Verdict::Pass {
            failed.push(format!("{}: {} {}", case.id, o.verdict.label(), o.reason));
        }
        for v in &o.violations {
            failed.push(format!(
                "{}: broke {}: {}",
                case.id, v.invariant.id, v.detail
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn the_fuzz_command() {
    let dir = std::env::temp_dir().join(format!("arcp-fuzz-cmd-{}", std::process::id()));
    let fuzz = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_arcp-conform"))
            .args(["fuzz", "--seed", "3", "--shrink-runs", "5", "--out"])
            .arg(&dir)
            .args(extra)
            .output()
            .unwrap()
    };
    let clean = fuzz(&["--iterations", "6"]);
    let out = String::from_utf8_lossy(&clean.stdout);
    assert_eq!(clean.status.code(), Some(0), "{out}");
    assert!(out.contains("seed 3, 6 iterations"), "{out}");
    assert!(
        out.contains("iterations/s") && out.contains("frames/s"),
        "{out}"
    );
    let found = fuzz(&[
        "--iterations",
        "40",
        "--fault",
        "no-pong",
        "--max-findings",
        "1",
        "-q",
    ]);
    let out = String::from_utf8_lossy(&found.stdout);
    assert_eq!(found.status.code(), Some(1), "{out}");
    assert!(std::fs::read_dir(&dir).unwrap().count() > 0, "{out}");
    let bad = fuzz(&["--fault", "no-such-fault"]);
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fuzz_no_schema_skips_schema_validation() {
    // A welcome whose `heartbeat_interval_sec` is null (the Ruby SDK's default): a schema
    // finding, and nothing at all with `--no-schema`, as for `run --no-schema`.
    let bin = env!("CARGO_BIN_EXE_arcp-conform");
    let target = format!(
        "{bin} serve --stdio | sed -u 's/\"heartbeat_interval_sec\":[0-9.]*/\"heartbeat_interval_sec\":null/'"
    );
    let dir = std::env::temp_dir().join(format!("arcp-fuzz-noschema-{}", std::process::id()));
    let fuzz = |extra: &[&str]| {
        std::process::Command::new(bin)
            .args([
                "fuzz",
                "-q",
                "--seed",
                "3",
                "--iterations",
                "3",
                "--shrink-runs",
                "0",
            ])
            .args(["--target", &target, "--out"])
            .arg(&dir)
            .args(extra)
            .output()
            .unwrap()
    };
    let with = fuzz(&[]);
    let out = String::from_utf8_lossy(&with.stdout);
    // frame.schema is INFO (the schema is not the spec's words): reported, not failing.
    assert_eq!(with.status.code(), Some(0), "{out}");
    assert!(out.contains("heartbeat_interval_sec"), "{out}");
    assert!(out.contains("INFO"), "{out}");
    let without = fuzz(&["--no-schema"]);
    let out = String::from_utf8_lossy(&without.stdout);
    assert_eq!(without.status.code(), Some(0), "{out}");
    assert!(out.contains("\n0 finding(s)"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stdio_reproducer_replays_to_its_verdict() {
    // Over stdio a reproducer once ended by opening a second session, so `run --case` judged
    // the whole case N/A and exited 0 on a finding (issue 10).
    let bin = env!("CARGO_BIN_EXE_arcp-conform");
    let target = format!("{bin} serve --stdio --fault no-pong");
    let dir = std::env::temp_dir().join(format!("arcp-fuzz-stdio-{}", std::process::id()));
    let found = std::process::Command::new(bin)
        .args([
            "fuzz",
            "-q",
            "--seed",
            "11",
            "--iterations",
            "20",
            "--max-findings",
            "1",
        ])
        .args([
            "--shrink-runs",
            "5",
            "--timeout-scale",
            "0.4",
            "--target",
            &target,
        ])
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&found.stdout);
    assert_eq!(found.status.code(), Some(1), "{out}");
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "yaml"))
        .expect("a reproducer");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("session: z"),
        "no second session over stdio:\n{text}"
    );
    let replay = |target: &str| {
        std::process::Command::new(bin)
            .args([
                "run",
                "-q",
                "--color",
                "never",
                "--timeout-scale",
                "0.4",
                "--case",
            ])
            .arg(&path)
            .args(["--target", target])
            .output()
            .unwrap()
    };
    let with = replay(&target);
    let out = String::from_utf8_lossy(&with.stdout);
    assert_eq!(with.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL") || out.contains("ERROR"), "{out}");
    assert!(!out.contains("N/A"), "{out}");
    exits(&replay(&format!("{bin} serve --stdio")), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn one_root_cause_is_one_finding() {
    // A runtime silent on every malformed frame: many mutations hit it, one finding names the
    // reaction (silence) and keeps the count and the mutations (issue 10: 4 findings before).
    let mut opts = options(11);
    opts.iterations = Some(30);
    opts.max_findings = None;
    opts.shrink_runs = 3;
    let report = fuzz::fuzz(
        Arc::new(virtual_target(Some(Fault::SilentOnInvalid))),
        opts,
        |_| {},
    )
    .await;
    let errors: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.signature.oracle == "error-frame")
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "{:?}",
        errors
            .iter()
            .map(|f| f.signature.to_string())
            .collect::<Vec<_>>()
    );
    let f = errors[0];
    assert_eq!(f.signature.to_string(), "error-frame: silent");
    assert!(
        f.hits > 1 && f.triggers.len() > 1,
        "{} {:?}",
        f.hits,
        f.triggers
    );
    assert!(
        f.path.is_none() && f.text.contains("provoked by: "),
        "{}",
        f.text
    );
}

/// The wire log in a reproducer's comments names steps by their line in the
/// reproducer itself (the run it shows had them at other lines: under the
/// iteration's header, with no comments above).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_reproducers_wire_log_names_its_own_lines() {
    let mut opts = options(11);
    opts.faults = vec!["silent-on-invalid".into()];
    let report = fuzz::fuzz(
        Arc::new(virtual_target(Some(Fault::SilentOnInvalid))),
        opts,
        |_| {},
    )
    .await;
    let text = &report.findings.first().expect("a finding").text;
    assert!(
        notes_name_their_steps(text) > 0,
        "no note in the wire log:\n{text}"
    );
}

/// Check that each wire-log note of a reproducer (`-- [-] line N: <note>`)
/// names the line of the step carrying that note; how many there are.
fn notes_name_their_steps(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut notes = 0;
    for l in &lines {
        let Some((_, rest)) = l.split_once("] line ") else {
            continue;
        };
        let (n, note) = rest.split_once(": ").expect("line N: note");
        let n: usize = n.parse().expect("a line number");
        // The step at line n, up to the next top-level step, carries the note.
        let step: Vec<&str> = lines[n - 1..]
            .iter()
            .enumerate()
            .take_while(|(i, s)| *i == 0 || !s.starts_with("- "))
            .map(|(_, s)| *s)
            .collect();
        assert!(step[0].starts_with("- "), "line {n} is no step:\n{text}");
        assert!(
            step.iter()
                .any(|s| s.trim_start().starts_with("note:") && s.contains(note)),
            "line {n} is not the step noted `{note}`:\n{text}"
        );
        notes += 1;
    }
    notes
}

/// The SDK reproducers committed under reports/ still load as cases, and
/// their wire logs name their own lines (a change to the case language or
/// to the renderer that breaks them shows here, not in a user's replay).
#[test]
fn committed_reproducers_load_and_name_their_own_lines() {
    let reports = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
    let (mut files, mut notes) = (0, 0);
    for dir in std::fs::read_dir(&reports).unwrap().flatten() {
        let findings = dir.path().join("findings");
        if !dir.file_name().to_string_lossy().starts_with("fuzz-") || !findings.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&findings).unwrap().flatten() {
            let path = f.path();
            let cases = arcp_conform::case::load_file(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(cases.len(), 1, "{}", path.display());
            // A burst or a plain sequence has no mutated frame to note.
            notes += notes_name_their_steps(&std::fs::read_to_string(&path).unwrap());
            files += 1;
        }
    }
    assert!(
        files >= 10,
        "only {files} reproducers under {}",
        reports.display()
    );
    assert!(notes * 2 >= files, "{notes} notes in {files} reproducers");
}
