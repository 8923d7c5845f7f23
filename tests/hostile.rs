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
fn a_target_that_crashes_mid_case_is_an_error() {
    assert_error(
        "crash",
        &format!("read x; echo '{WELCOME}'; read y; echo boom >&2; exit 3"),
        &[],
        "exited with status 3",
    );
}

/// A crash on the hello breaks the hello's requirement (tests/handshake.rs).
#[test]
fn a_target_that_crashes_on_the_hello_fails_the_handshake() {
    let (code, report, _) = run("crash-hello", "sh -c 'read x; echo boom >&2; exit 3'", &[]);
    let v = verdicts(&report);
    assert_eq!(code, Some(1), "{v:?}");
    assert!(
        v.iter().any(|(verdict, why)| verdict == "FAIL"
            && why.contains("session.hello crashed the target")
            && why.contains("exited with status 3")
            && why.contains("boom")),
        "{v:?}"
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

/// A case that waits for something a flooding target never sends, so every
/// frame it floods is kept waiting for a step.
const WAITING: &str = "id: t.wait.N\ntitle: wait\nsections: [\"7.1\"]\nlevel: MUST\nrequirement: \"The runtime MUST answer\"\nsteps:\n  - open: {}\n  - expect: {match: {type: job.result}, within: 4s}\n";

/// Run the harness on `cases` (file name, text) against `target`, writing
/// every report; return (exit code, peak RSS in KiB, stdout, report dir).
fn run_measured(
    name: &str,
    target: &str,
    cases: &[(String, String)],
    extra: &[&str],
) -> (Option<i32>, i64, String, std::path::PathBuf) {
    let d = cases_dir(name);
    std::fs::remove_file(d.join("cases/c.yaml")).unwrap();
    for (f, text) in cases {
        std::fs::write(d.join("cases").join(f), text).unwrap();
    }
    let profile = d.join("profile.yaml");
    std::fs::write(&profile, "name: hostile\n").unwrap();
    let out = std::fs::File::create(d.join("stdout")).unwrap();
    // Reaped by wait4 below, which also reports its peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(BIN)
        .args(["--cases", d.join("cases").to_str().unwrap()])
        .args(["--profile", profile.to_str().unwrap(), "--target", target])
        .args(["--json", d.join("r.json").to_str().unwrap()])
        .args(["--junit", d.join("r.xml").to_str().unwrap()])
        .args(["--html", d.join("r.html").to_str().unwrap()])
        .args(extra)
        .env("NO_COLOR", "1")
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // wait4 reports this child's own peak RSS, whatever else the tests run.
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    // The first line names the target, which may be kilobytes long.
    let stdout = std::fs::read_to_string(d.join("stdout")).unwrap_or_default();
    let stdout = stdout.lines().skip(1).collect::<Vec<_>>().join("\n");
    (code, usage.ru_maxrss, stdout, d)
}

/// A stdio target: welcome, then `flood` (a shell loop printing frames) forever.
fn flooder(flood: &str) -> String {
    format!("read x; echo '{WELCOME}'; {flood}")
}

fn assert_bounded(name: &str, flood: &str, extra: &[&str]) {
    let mut cases = vec![];
    for i in 0..6 {
        cases.push((
            format!("w{i}.yaml"),
            WAITING.replace(".N", &format!(".{i}")),
        ));
        cases.push((
            format!("p{i}.yaml"),
            CASE.replace("t.ping", &format!("t.ping.{i}")),
        ));
    }
    let (code, rss_kib, stdout, d) = run_measured(name, &flooder(flood), &cases, extra);
    let rss_mb = rss_kib / 1024;
    eprintln!("{name}: peak RSS {rss_mb} MB");
    assert!(rss_mb < 200, "{name}: peak RSS {rss_mb} MB; {stdout}");
    assert_eq!(code, Some(1), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    let v = verdicts(&report);
    assert_eq!(v.len(), 12, "every case is reported: {v:?}");
    assert!(
        v.iter()
            .any(|(verdict, why)| verdict == "ERROR" && why.contains("flooded")),
        "{v:?}"
    );
    for f in ["r.json", "r.xml", "r.html"] {
        let len = std::fs::metadata(d.join(f)).unwrap().len();
        assert!(len < 40 << 20, "{name}: {f} is {len} bytes");
    }
    let _ = std::fs::remove_dir_all(&d);
}

const PONG: &str = r#"{"arcp":"1.1","id":"m","session_id":"sess_1","type":"session.pong","payload":{"ping_nonce":"x","pad":"PAD"}}"#;

#[test]
fn a_flood_of_5kb_pongs_stays_within_the_memory_budget() {
    let pong = PONG.replace("PAD", &"p".repeat(5000));
    assert_bounded("flood-5k", &format!("yes '{pong}'"), &[]);
}

#[test]
fn a_flood_of_tiny_pongs_stays_within_the_memory_budget() {
    assert_bounded(
        "flood-tiny",
        &format!("yes '{}'", PONG.replace("PAD", "")),
        &[],
    );
}

#[test]
fn a_flood_of_8mb_frames_stays_within_the_memory_budget() {
    let (head, tail) = PONG.split_once("PAD").unwrap();
    let flood = format!(
        "while :; do printf '%s' '{head}'; head -c 8000000 /dev/zero | tr '\\0' p; printf '%s\\n' '{tail}'; done"
    );
    // Each running session holds the one big frame it is reading or
    // parsing before the budget can say no: that floor is --jobs times the
    // frame size (times about 3; 8 jobs peak near 200 MB), hence 2 jobs here.
    assert_bounded("flood-8mb", &flood, &["--jobs", "2"]);
}

#[test]
fn a_close_mid_case_is_an_error_unless_the_case_expects_it() {
    // Welcome, then an orderly exit (status 0) after the next frame.
    let target = format!("read x; echo '{WELCOME}'; read y; exit 0");
    let should = CASE
        .replace("t.ping", "t.should")
        .replace("level: MUST", "level: SHOULD")
        .replace(
            "The receiver MUST respond promptly",
            "both peers SHOULD ensure at least one message flows in each direction",
        );
    let expected = "id: t.close\ntitle: close\nsections: [\"6.4\"]\nlevel: MUST\nrequirement: \"The runtime MUST close\"\nsteps:\n  - open: {}\n  - send: {type: session.ping, payload: {nonce: n1}}\n  - expect_close: {within: 5s}\n";
    let cases = vec![
        ("c.yaml".to_string(), CASE.to_string()),
        ("s.yaml".to_string(), should),
        ("e.yaml".to_string(), expected.to_string()),
    ];
    let (code, _, stdout, d) = run_measured("closed", &target, &cases, &[]);
    assert_eq!(code, Some(1), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).unwrap()).unwrap();
    for c in report["cases"].as_array().unwrap() {
        let (id, verdict) = (c["id"].as_str().unwrap(), c["verdict"].as_str().unwrap());
        if id == "t.close" {
            assert_eq!(verdict, "PASS", "{c}");
        } else {
            assert_eq!(verdict, "ERROR", "{c}");
            assert_eq!(c["origin"], "target", "{c}");
            assert!(
                c["reason"]
                    .as_str()
                    .unwrap()
                    .contains("closed the transport"),
                "{c}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// Processes (not zombies) whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter_map(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_string();
            (cmd.contains(needle) && state != "Z").then_some(cmd)
        })
        .collect()
}

#[test]
fn children_that_leave_the_process_group_are_killed_and_reported() {
    // A double fork (stays in the group) and a setsid (leaves it), each a
    // `sleep` with a number no other test uses.
    let target = format!(
        "(sh -c 'sleep 30701 &' &); setsid sleep 30702 & read x; echo '{WELCOME}'; read y; sleep 1000"
    );
    let (code, _, stdout, d) = run_measured(
        "orphans",
        &target,
        // The target never pongs: wait 3 s for it, not the default 30 s.
        &[(
            "c.yaml".to_string(),
            CASE.replace("{type: session.pong}}", "{type: session.pong}, within: 3s}"),
        )],
        &["-v"],
    );
    assert_eq!(code, Some(1), "{stdout}");
    std::thread::sleep(Duration::from_millis(300));
    let left = [processes_with("sleep 30701"), processes_with("sleep 30702")].concat();
    assert!(left.is_empty(), "left behind: {left:?}");
    let report = std::fs::read_to_string(d.join("r.json")).unwrap();
    assert!(report.contains("left 1 process(es) behind"), "{report}");
    assert!(stdout.contains("the harness killed them"), "{stdout}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn secrets_the_target_writes_back_reach_no_output() {
    const TOKEN: &str = "TOKEN-CANARY-91b2e";
    const CRED: &str = "CRED-CANARY-7f3a0";
    let frames = [
        WELCOME.to_string(),
        format!(
            r#"{{"arcp":"1.1","id":"msg_01JC0NF0RM0000000000000002","type":"job.accepted","session_id":"sess_1","job_id":"job_1","payload":{{"job_id":"job_1","credentials":[{{"kind":"api_key","value":"{CRED}"}}]}}}}"#
        ),
        format!(
            r#"{{"arcp":"1.1","id":"msg_01JC0NF0RM0000000000000003","type":"job.event","session_id":"sess_1","job_id":"job_1","event_seq":1,"payload":{{"kind":"log","body":{{"message":"using {CRED} now"}}}}}}"#
        ),
        format!(
            r#"{{"arcp":"1.1","id":"msg_01JC0NF0RM0000000000000004","type":"session.error","session_id":"sess_1","payload":{{"code":"INVALID_REQUEST","message":"bad token {TOKEN}"}}}}"#
        ),
    ];
    let echo: Vec<String> = frames.iter().map(|f| format!("echo '{f}'")).collect();
    let target = format!(
        "read x; {}; read y; echo 'leaked {CRED} and {TOKEN}' >&2; exit 3",
        echo.join("; ")
    );
    let d = cases_dir("secrets");
    // In a script, so the command line the harness prints holds no canary.
    let script = d.join("target.sh");
    std::fs::write(&script, target).unwrap();
    let target = format!("sh {}", script.display());
    let profile = d.join("profile.yaml");
    std::fs::write(
        &profile,
        format!("name: hostile\ntokens: {{alice: {TOKEN}, invalid: not-this-one}}\n"),
    )
    .unwrap();
    let files = ["r.json", "r.xml", "r.html", "b.yaml"].map(|f| d.join(f));
    let out = Command::new(BIN)
        .args(["--cases", d.join("cases").to_str().unwrap()])
        .args([
            "--profile",
            profile.to_str().unwrap(),
            "--target",
            &target,
            "-v",
        ])
        .args(["--json", files[0].to_str().unwrap()])
        .args(["--junit", files[1].to_str().unwrap()])
        .args(["--html", files[2].to_str().unwrap()])
        .args(["--write-baseline", files[3].to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{console}");
    // The run did see them: the evidence is there, redacted.
    assert!(
        console.contains("leaked [REDACTED] and [REDACTED]"),
        "{console}"
    );
    assert!(console.contains("using [REDACTED] now"), "{console}");
    let mut outputs = vec![("console".to_string(), console)];
    for f in &files {
        outputs.push((f.display().to_string(), std::fs::read_to_string(f).unwrap()));
    }
    for (name, text) in &outputs {
        for canary in [TOKEN, CRED] {
            assert!(!text.contains(canary), "{canary} in {name}:\n{text}");
        }
    }
    let _ = std::fs::remove_dir_all(&d);
}
