//! The binary as a user meets it: exit codes, clear errors, baselines, reports.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_arcp-conform");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("arcp-conform-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("cases")).unwrap();
    d
}

const PASSING: &str = "id: t.pass\ntitle: welcome\nsections: [\"6.2\"]\nlevel: MUST\nrequirement: \"Either peer MUST NOT use a feature outside that intersection.\"\nsteps:\n  - open: {}\n";
// A MUST case must quote a MUST sentence (the suite loader checks it): the
// fixtures borrow §6.2's; their steps are only there to pass or fail.
const FIXED: &str = "id: t.fail\ntitle: a refused token\nsections: [\"6.2\"]\nlevel: MUST\nrequirement: \"Either peer MUST NOT use a feature outside that intersection.\"\nsteps:\n  - open: {principal: invalid, expect: error, code: UNAUTHENTICATED}\n";
const FAILING: &str = "id: t.fail\ntitle: a refused token\nsections: [\"6.2\"]\nlevel: MUST\nrequirement: \"Either peer MUST NOT use a feature outside that intersection.\"\nsteps:\n  - open: {principal: alice, expect: error, code: UNAUTHENTICATED}\n";

#[test]
fn bad_flag_and_bad_values_exit_2() {
    assert_eq!(run(&["--bogus"]).status.code(), Some(2));
    let o = run(&["--timeout-scale", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(&["--fault", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--fault nope"), "{}", text(&o));
}

#[test]
fn broken_case_file_names_file_and_line() {
    let d = tmp("broken");
    let f = write(
        &d.join("cases"),
        "a.yaml",
        "id: x\ntitle: t\nsections: [\"6\"]\nlevel: MUST\nrequirement: r\nsteps:\n  - expekt: {}\n",
    );
    let o = run(&["--cases", d.join("cases").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(
        t.contains(&format!("{f}:7:")) && t.contains("unknown step `expekt`"),
        "{t}"
    );
    assert_eq!(t.lines().count(), 1, "one clear error: {t}");
}

/// Issue 10: a MUST case quoting a sentence without keyword is refused at
/// its `level:` line, like any other broken case.
#[test]
fn must_case_quoting_a_sentence_without_keyword_exits_2() {
    let d = tmp("level");
    let f = write(
        &d.join("cases"),
        "a.yaml",
        "id: x\ntitle: t\nsections: [\"6.7\"]\nlevel: MUST\nrequirement: \"The runtime acknowledges with `session.closed`.\"\nsteps:\n  - open: {}\n",
    );
    let o = run(&["--cases", d.join("cases").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(
        t.contains(&format!("{f}:4:"))
            && t.contains("`level: MUST` needs a requirement sentence with MUST"),
        "{t}"
    );
    assert_eq!(t.lines().count(), 1, "one clear error: {t}");
}

#[test]
fn unreachable_targets_exit_3_with_one_error() {
    let d = tmp("unreach");
    write(&d.join("cases"), "a.yaml", PASSING);
    let o = run(&[
        "--cases",
        d.join("cases").to_str().unwrap(),
        "--target",
        "ws://127.0.0.1:1/arcp",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("--target ws://127.0.0.1:1/arcp"));
    let o = run(&[
        "--cases",
        d.join("cases").to_str().unwrap(),
        "--target",
        "definitely-not-a-command-xyz",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

#[test]
fn pass_fail_and_reports() {
    let d = tmp("reports");
    write(&d.join("cases"), "a.yaml", PASSING);
    let cases = d.join("cases");
    let dirs = cases.to_str().unwrap();
    let json = d.join("r.json");
    let junit = d.join("j.xml");
    let html = d.join("r.html");
    let o = run(&[
        "--cases",
        dirs,
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = std::fs::read_to_string(&junit).unwrap();
    assert!(
        j.contains("name=\"t.pass\"") && j.contains("<property name=\"level\" value=\"MUST\"/>"),
        "{j}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["cases"][0]["verdict"], "PASS");
    // Secrets never reach a report.
    let all = std::fs::read_to_string(&json).unwrap();
    assert!(
        !all.contains("tok-alice"),
        "token leaked into the JSON report"
    );
    assert!(std::fs::read_to_string(&html).unwrap().contains("t.pass"));

    write(&d.join("cases"), "b.yaml", FAILING);
    let o = run(&["--cases", dirs]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("requirement (§6.2, MUST)"));
}

#[test]
fn baseline_accepts_known_failures_and_fails_on_stale_entries() {
    let d = tmp("baseline");
    write(&d.join("cases"), "b.yaml", FAILING);
    let cases = d.join("cases");
    let dirs = cases.to_str().unwrap();
    let base = d.join("baseline.yaml");
    let o = run(&["--cases", dirs, "--write-baseline", base.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&["--cases", dirs, "--baseline", base.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "known failure is baselined: {}",
        text(&o)
    );
    // The runtime is fixed: the entry is stale and fails the run.
    write(&d.join("cases"), "b.yaml", FIXED);
    let o = run(&["--cases", dirs, "--baseline", base.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("stale baseline entry"), "{}", text(&o));
}

#[test]
fn diff_and_matrix() {
    let d = tmp("diff");
    write(&d.join("cases"), "a.yaml", PASSING);
    write(&d.join("cases"), "b.yaml", FAILING);
    let cases = d.join("cases");
    let dirs = cases.to_str().unwrap();
    let (j1, j2) = (d.join("1.json"), d.join("2.json"));
    run(&["--cases", dirs, "--json", j1.to_str().unwrap()]);
    write(&cases, "b.yaml", FIXED);
    run(&["--cases", dirs, "--json", j2.to_str().unwrap()]);
    let o = run(&["diff", j1.to_str().unwrap(), j2.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        // The case file was edited between the runs: the diff says so.
        text(&o).contains("t.fail: FAIL -> PASS (improved) [the case changed]"),
        "{}",
        text(&o)
    );
    let o = run(&[
        "matrix",
        j1.to_str().unwrap(),
        j2.to_str().unwrap(),
        "--html",
        d.join("m.html").to_str().unwrap(),
    ]);
    assert!(
        text(&o).contains("| `t.fail` | MUST | 6.2 | FAIL | PASS |"),
        "{}",
        text(&o)
    );
}

/// Run with stdout read up to its first line, then closed (`| head -1`).
fn run_closing_stdout(args: &[&str]) -> (Option<i32>, String) {
    use std::io::BufRead;
    let mut child = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: the harness's stdout is now closed.
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_neither_panics_nor_turns_a_failing_run_green() {
    let d = tmp("epipe");
    let json = d.join("r.json");
    let (code, stderr) = run_closing_stdout(&[
        "--fault",
        "retryable-expiry",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cases = report["cases"].as_array().unwrap();
    let listed = run(&["list"]).stdout.split(|b| *b == b'\n').count() - 1;
    assert_eq!(cases.len(), listed, "every case is in the report");
    // The planted fault is one root cause: the per-frame rule, not the cases.
    let rules = report["invariants"].as_array().unwrap();
    assert!(rules
        .iter()
        .any(|r| r["id"] == "frame.retryable" && r["verdict"] == "FAIL"));
    let (code, stderr) = run_closing_stdout(&["list"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn exit_codes_for_usage_and_unreachable_targets() {
    let o = run(&["--target", ""]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--target is empty"), "{}", text(&o));
    for cmd in [
        &["--jobs", "0"][..],
        &["fuzz", "--jobs", "0"],
        &["client", "--target", "x", "--jobs", "0"],
    ] {
        let o = run(cmd);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {}", text(&o));
        assert!(
            text(&o).contains("--jobs must be at least 1"),
            "{}",
            text(&o)
        );
    }
    let o = run(&["client", "--target", ""]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(&["serve", "--ws", "256.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("could not listen"), "{}", text(&o));
    assert!(!text(&o).contains("could not connect"), "{}", text(&o));
    // A target that cannot be started or reached: 3, for the suite and the fuzzer.
    for cmd in [
        &["--target", "ws://127.0.0.1:1/arcp"][..],
        &["fuzz", "--target", "ws://127.0.0.1:1/arcp"],
    ] {
        let o = run(cmd);
        assert_eq!(o.status.code(), Some(3), "{cmd:?}: {}", text(&o));
    }
    // Reachable, but it never completes a handshake: the fuzzer found nothing, so not 1.
    let o = run(&[
        "fuzz",
        "--target",
        "exec sleep 100",
        "--timeout-scale",
        "0.5",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    // One that crashes on the hello (as the Ruby SDK does): 3 again, one message quoting it.
    let o = run(&[
        "fuzz",
        "--target",
        "read l; echo 'InvalidRequest: envelope session_id' >&2; exit 1",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let t = text(&o);
    assert_eq!(t.matches("failed the handshake probe").count(), 1, "{t}");
    assert!(t.contains("InvalidRequest: envelope session_id"), "{t}");
}

#[test]
fn cases_needing_any_agent_run_on_a_target_without_the_conformance_agent() {
    // These cases submit a job only to see it refused, or to see it end with success on any
    // input: the echo agent serves them (issue 10: they were UNTESTABLE without a scripted agent).
    let dir = tmp("any-agent");
    let profile = write(
        &dir,
        "echo-only.yaml",
        "name: echo-only\ntokens: {alice: tok-alice, alice2: tok-alice-2, bob: tok-bob, invalid: tok-invalid}\nagents: {conformance: not-hosted, echo: echo}\ntime_scale: 10\n",
    );
    let target = format!("{BIN} serve --stdio --time-scale 10");
    let mut args = vec!["run", "--target", &target, "--profile", &profile];
    let ids = [
        "robustness.malformed.submit-without-agent",
        "robustness.before-hello.submit-refused",
        "session.wire.unknown-envelope-field-submit",
        "trace.accepted.carries-submit-trace",
        "robustness.survive.malformed-then-ping",
        // Lease and submit checks that only look at the acceptance or refusal.
        "leases.expiry.past-rejected",
        "leases.expiry.invalid-rejected",
        "leases.expiry.non-utc-rejected",
        "leases.expiry.accepted-and-echoed",
        "leases.budget.invalid-amount-refused",
        "leases.budget.initial-counters",
        "jobs.submit.accepted-payload",
        "jobs.submit.accepted-lease-constraints",
        "jobs.submit.accepted-budget-counters",
    ];
    for id in &ids {
        args.extend(["--select", id]);
    }
    let o = run(&args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let n = ids.len();
    assert!(
        t.contains(&format!("{n} cases")) && t.contains(&format!("{n} PASS")),
        "{t}"
    );
    // A case that scripts the conformance agent still needs it.
    let o = run(&[
        "run",
        "--target",
        &target,
        "--profile",
        &profile,
        "--select",
        "trace.events.carry-submit-trace",
    ]);
    assert!(text(&o).contains("UNTESTABLE"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_leaves_no_state_directory_behind() {
    // Stdio targets get a per-case ARCP_CONFORM_STATE_DIR; empty ones are
    // reused between cases and removed at exit, used ones at the case's end.
    let dir = tmp("state-dirs");
    let target = format!("{BIN} serve --stdio --time-scale 10");
    let o = Command::new(BIN)
        .args([
            "run",
            "--target",
            &target,
            "--select",
            "session.*",
            "--jobs",
            "4",
        ])
        .args(["--select", "credentials.revocation.*"])
        .env("NO_COLOR", "1")
        .env("TMPDIR", &dir)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(t.contains("PASS"), "{t}");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("arcp-conform-"))
        .collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        dir.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
