//! Targets that hang, crash, send garbage, giant frames or floods: each run
//! ends with an ERROR verdict carrying evidence, within a bounded time, and
//! no process is left behind. Ctrl-C reaps targets too.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_arcp-conform");

/// One case that opens a session and waits for a pong.
const CASE: &str = "id: t.ping\ntitle: ping\nsections: [\"6.4\"]\nlevel: MUST\nrequirement: \"The receiver MUST respond promptly\"\nsteps:\n  - open: {}\n  - send: {type: session.ping, payload: {nonce: n1}}\n  - expect: {match: {type: session.pong}}\n";

const WELCOME: &str = r#"{"arcp":"1.1","id":"msg_01JC0NF0RM0000000000000001","type":"session.welcome","session_id":"sess_1","payload":{"resume_token":"rt_1","capabilities":{"features":[],"agents":[]}}}"#;

fn cases_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "arcp-conform-hostile-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("cases")).unwrap();
    std::fs::write(d.join("cases/c.yaml"), CASE).unwrap();
    d
}

/// Run the harness against `target` with a profile (so no probe step) and
/// return (exit code, JSON report, wall time).
fn run(name: &str, target: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value, Duration) {
    let d = cases_dir(name);
    let profile = d.join("profile.yaml");
    std::fs::write(&profile, "name: hostile\n").unwrap();
    let json = d.join("r.json");
    let t0 = Instant::now();
    let out = Command::new(BIN)
        .args([
            "--cases",
            d.join("cases").to_str().unwrap(),
            "--profile",
            profile.to_str().unwrap(),
        ])
        .args(["--target", target, "--json", json.to_str().unwrap()])
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let took = t0.elapsed();
    let report = std::fs::read_to_string(&json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|_| {
            panic!(
                "no report; output: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
    (out.status.code(), report, took)
}

fn verdicts(r: &serde_json::Value) -> Vec<(String, String)> {
    r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["verdict"].as_str().unwrap().to_string(),
                c["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_error(name: &str, target: &str, extra: &[&str], evidence: &str) {
    let (code, report, took) = run(name, target, extra);
    let v = verdicts(&report);
    assert_eq!(code, Some(1), "{v:?}");
    assert!(
        v.iter()
            .any(|(verdict, why)| verdict == "ERROR" && why.contains(evidence)),
        "expected an ERROR mentioning {evidence:?}: {v:?}"
    );
    assert!(took < Duration::from_secs(40), "took {took:?}");
}

#[test]
fn a_target_that_never_answers_is_an_error() {
    assert_error("hang", "sleep 1000", &[], "unresponsive");
}

#[test]
fn a_target_that_crashes_is_an_error() {
    assert_error(
        "crash",
        "sh -c 'read x; echo boom >&2; exit 3'",
        &[],
        "exited with status 3",
    );
}

#[test]
fn a_target_that_sends_garbage_is_an_error() {
    assert_error(
        "garbage",
        "sh -c 'read x; echo this-is-not-json; sleep 100'",
        &[],
        "not JSON",
    );
}

#[test]
fn a_target_that_sends_a_giant_frame_is_an_error() {
    assert_error(
        "giant",
        "sh -c 'read x; head -c 5000000 /dev/zero | tr \"\\0\" a; echo; sleep 100'",
        &["--frame-cap", "1000000"],
        "giant frame",
    );
}

#[test]
fn a_target_that_floods_is_an_error() {
    let flood = format!(
        "sh -c 'read x; echo '\"'\"'{WELCOME}'\"'\"'; while :; do echo '\"'\"'{{\"arcp\":\"1.1\",\"id\":\"m\",\"type\":\"session.ack\",\"payload\":{{}}}}'\"'\"'; done'"
    );
    assert_error("flood", &flood, &[], "flooded");
}

#[test]
fn ctrl_c_reaps_the_target_and_exits_130() {
    let d = cases_dir("ctrlc");
    let pidfile = d.join("pid");
    let target = format!("sh -c 'echo $$ >> {}; exec sleep 1000'", pidfile.display());
    let mut child = Command::new(BIN)
        .args([
            "--cases",
            d.join("cases").to_str().unwrap(),
            "--target",
            &target,
            "--timeout-scale",
            "10",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the harness has started a target that is still alive.
    let t0 = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let pids = std::fs::read_to_string(&pidfile).unwrap_or_default();
        if pids.lines().count() >= 2 || t0.elapsed() > Duration::from_secs(10) {
            break;
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    std::thread::sleep(Duration::from_millis(300));
    for pid in std::fs::read_to_string(&pidfile).unwrap().lines() {
        let pid: i32 = pid.trim().parse().unwrap();
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.split_whitespace().nth(2) == Some("Z"))
            .unwrap_or(true);
        assert!(!alive || zombie, "target {pid} survived Ctrl-C");
    }
}
