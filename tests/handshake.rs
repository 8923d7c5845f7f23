//! The handshake finds the way in (issue 10): a target that needs a hello
//! dialect gets it and the spec-shaped hello's failure stays a FAIL; a crash
//! on the hello is a FAIL of the hello's requirement quoting the exception;
//! a welcome schema deviation is not fatal; `session.bye` with no answer
//! honours a close; a resume that starts a fresh session is not a resume.
//! Targets: tests/handshake/dialect_target.py, scripted over stdio.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_arcp-conform");

const PING: &str = "id: t.ping\ntitle: ping\nsections: [\"6.4\"]\nlevel: MUST\nrequirement: \"The receiver MUST respond promptly\"\nsteps:\n  - open: {}\n  - send: {type: session.ping, payload: {nonce: n1}}\n  - expect: {match: {type: session.pong}}\n";

const CLOSE: &str = "id: t.close\ntitle: close\nsections: [\"6.7\"]\nlevel: INFO\nrequirement: \"close is acknowledged\"\nsteps:\n  - open: {}\n  - send: {type: session.close, payload: {}}\n  - expect: {match: {type: session.closed}}\n";

fn target(mode: &str) -> String {
    format!(
        "python3 {}/tests/handshake/dialect_target.py {mode}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Run `case` against the scripted target in `mode`, with `profile` (YAML)
/// or none (the probe runs first): (exit code, report, console).
fn run(
    name: &str,
    mode: &str,
    case: &str,
    profile: Option<&str>,
) -> (Option<i32>, serde_json::Value, String) {
    let d = std::env::temp_dir().join(format!(
        "arcp-conform-handshake-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("cases")).unwrap();
    std::fs::write(d.join("cases/c.yaml"), case).unwrap();
    let json = d.join("r.json");
    let mut cmd = Command::new(BIN);
    cmd.args(["--cases", d.join("cases").to_str().unwrap()])
        .args(["--target", &target(mode), "--json", json.to_str().unwrap()])
        .env("NO_COLOR", "1");
    if let Some(p) = profile {
        std::fs::write(d.join("profile.yaml"), p).unwrap();
        cmd.args(["--profile", d.join("profile.yaml").to_str().unwrap()]);
    }
    let out = cmd.output().unwrap();
    let console = String::from_utf8_lossy(&out.stdout).to_string();
    let report = std::fs::read_to_string(&json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|_| panic!("no report; output: {console}"));
    (out.status.code(), report, console)
}

fn case<'a>(r: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {r}"))
}

#[test]
fn a_hello_dialect_that_works_carries_the_run_and_the_spec_hello_stays_a_fail() {
    for profile in [Some("name: rubyish\n"), None] {
        let (code, r, console) = run("dialect", "ruby", PING, profile);
        let hs = case(&r, "probe.handshake");
        assert_eq!(hs["verdict"], "FAIL", "{hs}");
        let why = hs["reason"].as_str().unwrap();
        assert!(why.contains("spec-shaped session.hello failed"), "{why}");
        assert!(
            why.contains("envelope session_id must be a String"),
            "{why}"
        );
        assert!(why.contains(r#""session_id":"client""#), "{why}");
        let ping = case(&r, "t.ping");
        assert_eq!(ping["verdict"], "PASS", "{ping}\n{console}");
        assert!(ping["dialect"].to_string().contains("mints"), "{ping}");
        assert!(console.contains("frame.schema"), "{console}");
        assert_eq!(code, Some(1), "{console}");
    }
}

#[test]
fn a_profile_with_the_dialect_passes_the_handshake() {
    let (code, r, console) = run(
        "knob",
        "ruby",
        PING,
        Some("name: rubyish\ndialect: {session_id: client, client_identity: flat}\n"),
    );
    let ping = case(&r, "t.ping");
    assert_eq!(ping["verdict"], "PASS", "{console}");
    let notes = ping["dialect"].to_string();
    assert!(notes.contains("flat client_name"), "{notes}");
    assert!(notes.contains("flat runtime_name"), "{notes}");
    assert!(r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != "probe.handshake"));
    // The welcome's `heartbeat_interval_sec: null` is the frame.schema root
    // cause, reported at its level (INFO: §5's sentence has no keyword).
    assert!(console.contains("INFO frame.schema"), "{console}");
    assert_eq!(code, Some(0), "{console}");
}

#[test]
fn a_crash_on_the_hello_fails_the_hello_requirement_quoting_head_and_tail() {
    for profile in [Some("name: crashy\n"), None] {
        let (code, r, console) = run("crash", "crash", PING, profile);
        let hs = case(&r, "probe.handshake");
        assert_eq!(hs["verdict"], "FAIL", "{hs}");
        let why = hs["reason"].as_str().unwrap();
        assert!(why.contains("session.hello crashed the target"), "{why}");
        assert!(why.contains("boom (Arcp::Errors::InvalidRequest)"), "{why}");
        assert!(why.contains("frame11.rb"), "{why}");
        assert!(!console.contains("does not speak ARCP"), "{console}");
        assert_eq!(case(&r, "t.ping")["verdict"], "BLOCKED");
        assert_eq!(code, Some(1));
    }
}

#[test]
fn a_welcome_schema_deviation_is_not_fatal() {
    let (_, r, console) = run("nullhb", "nullhb", PING, Some("name: nullhb\n"));
    assert_eq!(case(&r, "t.ping")["verdict"], "PASS", "{console}");
    assert!(r.to_string().contains("heartbeat_interval_sec"), "{r}");
}

#[test]
fn session_bye_with_no_answer_honours_the_close_in_that_dialect() {
    let bye = "name: rubyish\ndialect: {session_id: client, close: session.bye, closed: none}\n";
    let (code, r, console) = run("bye", "ruby", CLOSE, Some(bye));
    let c = case(&r, "t.close");
    assert_eq!(c["verdict"], "PASS", "{console}");
    assert!(c["dialect"].to_string().contains("closed: none"), "{c}");
    assert_eq!(code, Some(0), "frame.schema (null heartbeat) is INFO");
    // A target that keeps the transport open after the bye fails the close.
    let open = "name: nullhb\ndialect: {close: session.bye, closed: none}\n";
    let (_, r, console) = run("bye-open", "nullhb", CLOSE, Some(open));
    // §6.7's acknowledgement has no keyword: violated, it is INFO, not PASS.
    assert_eq!(case(&r, "t.close")["verdict"], "INFO", "{console}");
}

#[test]
fn probe_names_the_dialect_and_says_why_it_skips_resume_over_stdio() {
    let out = Command::new(BIN)
        .args(["probe", "--target", &target("ruby")])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(r#"gets a welcome: put `dialect: {"session_id":"client"}` in the profile"#),
        "{text}"
    );
    assert!(text.contains("flat runtime_name"), "{text}");
    assert!(text.contains("resume: not detected: over stdio"), "{text}");
    assert!(text.contains("closed: none"), "{text}");
    assert!(
        text.contains("session_id: client"),
        "the written profile: {text}"
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
}

/// Resume inside hello: a welcome naming a new session is not a resume.
#[tokio::test]
async fn a_resume_answered_by_a_fresh_session_fails() {
    use arcp_conform::engine::{run_case, EngineOptions};
    use arcp_conform::profile::Profile;
    let case_text = "id: t.resume\ntitle: resume\nsections: [\"6.3\"]\nlevel: MUST\nrequirement: \"The runtime replays buffered events\"\nsteps:\n  - open: {}\n  - drop: {}\n  - resume: {}\n";
    let case = arcp_conform::case::parse_str(case_text, std::path::Path::new("t.yaml"))
        .unwrap()
        .remove(0);
    for (keys, verdict) in [("", "FAIL"), (", resume_keys: {token: token}", "PASS")] {
        let profile: Profile = serde_yaml_ng::from_str(&format!(
            "dialect: {{session_id: client, resume: hello{keys}}}\n"
        ))
        .unwrap();
        let t =
            arcp_conform::target::Target::external(&target("ruby"), profile, Default::default())
                .await
                .unwrap();
        let o = run_case(&case, &t, &EngineOptions::default()).await;
        assert_eq!(o.verdict.to_string(), verdict, "{keys}: {o:?}");
        if verdict == "FAIL" {
            assert!(o.reason.contains("not honoured"), "{}", o.reason);
        }
    }
    // A refusal the case expects, answered by a fresh session, says so.
    let refused = case_text.replace("resume: {}", "resume: {token: rt_stale, expect: error}");
    let case = arcp_conform::case::parse_str(&refused, std::path::Path::new("t.yaml"))
        .unwrap()
        .remove(0);
    let profile: Profile =
        serde_yaml_ng::from_str("dialect: {session_id: client, resume: hello}\n").unwrap();
    let t = arcp_conform::target::Target::external(&target("ruby"), profile, Default::default())
        .await
        .unwrap();
    let o = run_case(&case, &t, &EngineOptions::default()).await;
    assert_eq!(o.verdict.to_string(), "FAIL", "{o:?}");
    assert!(
        o.reason.contains("fresh session instead of refusing"),
        "{}",
        o.reason
    );
}

#[test]
fn fuzz_finds_the_hello_dialect_too() {
    let out_dir = std::env::temp_dir().join(format!(
        "arcp-conform-handshake-fuzz-{}",
        std::process::id()
    ));
    let out = Command::new(BIN)
        .args(["fuzz", "--target", &target("ruby"), "--iterations", "1"])
        .args(["--shrink-runs", "0", "--out", out_dir.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a hello with a client-minted envelope session_id gets a welcome"),
        "{err}"
    );
    // It fuzzed (exit 0 or 1), not "failed the handshake probe" (3).
    assert_ne!(out.status.code(), Some(3), "{err}");
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// A refused resume is not reported as a bad bearer token (a session.resume
/// carries none): it quotes the target's reason (the Python SDK refuses a
/// resume that beats its own notice of the drop with PERMISSION_DENIED "no
/// resumable session", which read "put a token the target accepts there").
#[tokio::test]
async fn a_refused_resume_quotes_the_target_not_the_bearer_token() {
    use arcp_conform::engine::{run_case, EngineOptions};
    let text = "id: t.resume\ntitle: resume\nsections: [\"6.3\"]\nlevel: MUST\nrequirement: \"The runtime replays buffered events\"\nsteps:\n  - open: {}\n  - drop: {}\n  - resume: {token: rt_bogus}\n";
    let case = arcp_conform::case::parse_str(text, std::path::Path::new("t.yaml"))
        .unwrap()
        .remove(0);
    let t =
        arcp_conform::target::Target::embedded(arcp_conform::target::suite_runtime_config(10.0));
    let o = run_case(&case, &t, &EngineOptions::default()).await;
    assert_eq!(o.verdict.to_string(), "FAIL", "{o:?}");
    assert!(
        o.reason.starts_with("session.resume was refused with ")
            && !o.reason.contains("token the target accepts"),
        "{}",
        o.reason
    );
}

/// A resume refused right after the drop (the target had not noticed it yet)
/// is retried on fresh connections with backoff, and each retry is in the
/// wire log; a refusal that lasts is judged, saying how long it lasted; a
/// refusal the case expects is not retried.
#[tokio::test]
async fn a_refused_resume_is_retried_before_it_is_judged() {
    use arcp_conform::engine::{run_case, EngineOptions};
    let text = "id: t.resume\ntitle: resume\nsections: [\"6.3\"]\nlevel: MUST\nrequirement: \"The runtime replays buffered events\"\nsteps:\n  - open: {}\n  - drop: {}\n  - resume: {}\n";
    let dir = std::env::temp_dir().join(format!("arcp-late-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |text: String, refusals: u32, name: &str| {
        let state = dir.join(name);
        let _ = std::fs::remove_file(&state);
        async move {
            let case = arcp_conform::case::parse_str(&text, std::path::Path::new("t.yaml"))
                .unwrap()
                .remove(0);
            let t = arcp_conform::target::Target::external(
                &target(&format!("late-resume {} {refusals}", state.display())),
                Default::default(),
                Default::default(),
            )
            .await
            .unwrap();
            let o = run_case(&case, &t, &EngineOptions::default()).await;
            let retries = o
                .wire
                .iter()
                .filter(|w| w.text.contains("may not have noticed the drop yet"))
                .count();
            (o, retries)
        }
    };
    let (o, retries) = run(text.to_string(), 2, "twice").await;
    assert_eq!(o.verdict.to_string(), "PASS", "{o:?}");
    assert_eq!(retries, 2);
    let (o, retries) = run(text.to_string(), 99, "always").await;
    assert_eq!(o.verdict.to_string(), "FAIL", "{o:?}");
    assert_eq!(retries, 3);
    assert!(
        o.reason.contains("PERMISSION_DENIED")
            && o.reason.contains("no resumable session")
            && o.reason.contains("on each of 4 attempts over 1.75s"),
        "{}",
        o.reason
    );
    let refused = text.replace("resume: {}", "resume: {expect: error}");
    let (o, retries) = run(refused, 99, "expected").await;
    assert_eq!(o.verdict.to_string(), "PASS", "{o:?}");
    assert_eq!(retries, 0);
    let _ = std::fs::remove_dir_all(&dir);
}
