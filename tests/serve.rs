//! `arcp-conform serve` over real stdio and WebSocket passes the same
//! checks as the embedded run (multi-connection cases are N/A on stdio).

use arcp_conform::engine::runner::{run_all, RunOptions};
use arcp_conform::engine::EngineOptions;
use arcp_conform::profile::Profile;
use arcp_conform::target::Target;
use arcp_conform::transport::TransportOptions;
use arcp_conform::verdict::Verdict;
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_arcp-conform");
/// The embedded suite runtime's settings (target::suite_runtime_config).
const SERVE_FLAGS: &str = "--time-scale 10 --heartbeat 5 --resume-window 20 --replay-buffer 2000";

fn profile() -> Profile {
    Profile {
        time_scale: 10.0,
        ..Profile::default()
    }
}

async fn suite_against(spec: &str) -> Vec<(String, Verdict, String)> {
    let target = Target::external(spec, profile(), TransportOptions::default())
        .await
        .expect("target");
    let cases = arcp_conform::suite::runtime_suite().unwrap();
    let results = run_all(
        cases.into_iter().map(Arc::new).collect(),
        Arc::new(target),
        RunOptions {
            jobs: 4,
            engine: EngineOptions::default(),
        },
        |_| {},
    )
    .await;
    results
        .into_iter()
        .map(|r| {
            (
                r.case.id.clone(),
                r.outcome.verdict,
                r.outcome.reason.clone(),
            )
        })
        .collect()
}

fn assert_all_pass(results: &[(String, Verdict, String)], allow_na: bool) {
    let bad: Vec<String> = results
        .iter()
        // INFO is a MAY not taken (e.g. WebSocket closes on an oversized frame).
        .filter(|(_, v, _)| {
            !(matches!(v, Verdict::Pass | Verdict::Info)
                || (allow_na && *v == Verdict::NotApplicable))
        })
        .map(|(id, v, why)| format!("{id}: {v} {why}"))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stdio_passes_the_suite() {
    let results = suite_against(&format!("{BIN} serve --stdio {SERVE_FLAGS}")).await;
    assert_all_pass(&results, true);
    assert!(results.iter().any(|(_, v, _)| *v == Verdict::Pass));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ws_passes_the_suite() {
    // A free loopback port for the server to take.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut p = profile();
    p.command = Some(format!("{BIN} serve --ws 127.0.0.1:{port} {SERVE_FLAGS}"));
    let target = Target::external(
        &format!("ws://127.0.0.1:{port}"),
        p,
        TransportOptions::default(),
    )
    .await
    .expect("target");
    let cases = arcp_conform::suite::runtime_suite().unwrap();
    let results = run_all(
        cases.into_iter().map(Arc::new).collect(),
        Arc::new(target),
        RunOptions {
            jobs: 4,
            engine: EngineOptions::default(),
        },
        |_| {},
    )
    .await;
    let results: Vec<_> = results
        .into_iter()
        .map(|r| {
            (
                r.case.id.clone(),
                r.outcome.verdict,
                r.outcome.reason.clone(),
            )
        })
        .collect();
    assert_all_pass(&results, false);
}

#[test]
fn serve_stdio_flushes_its_last_frame_before_exiting() {
    // The runtime closes after refusing a hello; the refusal must reach
    // stdout before the process exits. `arcp-conform fuzz` over stdio once
    // saw it lost (the writer task was dropped at exit); the race is rare, so
    // this loop only catches it sometimes.
    use std::io::{BufRead, Write};
    for _ in 0..20 {
        let mut child = std::process::Command::new(BIN)
            .args(["serve", "--stdio"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(
            stdin,
            r#"{{"arcp":"1.1","id":"m1","type":"session.hello","payload":{{"auth":{{"scheme":"bearer","token":"nope"}}}}}}"#
        )
        .unwrap();
        let lines: Vec<String> = std::io::BufReader::new(child.stdout.take().unwrap())
            .lines()
            .map_while(Result::ok)
            .collect();
        drop(stdin);
        child.wait().unwrap();
        assert!(
            lines.iter().any(|l| l.contains("UNAUTHENTICATED")),
            "{lines:?}"
        );
    }
}

/// A profile with a token the runtime refuses: the handshake says that
/// authentication failed and names the profile key, not another vocabulary.
#[test]
fn a_wrong_token_is_reported_as_an_authentication_failure() {
    let d = std::env::temp_dir().join(format!("arcp-conform-wrongtoken-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("cases")).unwrap();
    std::fs::write(
        d.join("cases/c.yaml"),
        "id: t.pass\ntitle: welcome\nsections: [\"6.2\"]\nlevel: MUST\nrequirement: \"welcome\"\nsteps:\n  - open: {}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("p.yaml"),
        "name: wrong\ntokens: {alice: wrong-token-canary-1, invalid: also-wrong}\n",
    )
    .unwrap();
    let target = format!("{BIN} serve --stdio");
    let out = std::process::Command::new(BIN)
        .args(["--cases", d.join("cases").to_str().unwrap()])
        .args(["--profile", d.join("p.yaml").to_str().unwrap()])
        .args(["--target", &target, "-v"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("authentication failed"), "{text}");
    assert!(text.contains("`tokens.alice`"), "{text}");
    assert!(!text.contains("earlier ARCP vocabulary"), "{text}");
    assert!(
        !text.contains("wrong-token-canary-1"),
        "the token is redacted: {text}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
