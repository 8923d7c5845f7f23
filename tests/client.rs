//! The client suite against the reference driver (`arcp-conform driver`):
//! every case passes over WebSocket and over stdio (through the relay), and
//! every case fails with each reference-client fault it names under
//! `catches:` — the proof that it can fail. Every MUST case names one, and
//! every client fault is caught by some case.

use arcp_conform::case::{Case, Level};
use arcp_conform::client::ClientFault;
use arcp_conform::clienttest::{
    client_suite, run_case, shell_quote, ClientTarget, ClientTransport,
};
use arcp_conform::conformance::normalize;
use arcp_conform::engine::runner::CaseResult;
use arcp_conform::engine::EngineOptions;
use arcp_conform::report::CaseRecord;
use arcp_conform::verdict::Verdict;
use libtest_mimic::{Arguments, Failed, Trial};
use std::sync::Arc;

const EXE: &str = env!("CARGO_BIN_EXE_arcp-conform");
const SPEC: &str = include_str!("../spec/draft-arcp-1.1.md");

fn target(transport: ClientTransport, fault: Option<ClientFault>) -> ClientTarget {
    let mut cmd = format!("{} driver", shell_quote(EXE));
    if let Some(f) = fault {
        cmd.push_str(&format!(" --fault {f}"));
    }
    let mut t = ClientTarget::new(cmd, transport);
    t.relay = shell_quote(EXE);
    t
}

fn failure(case: Case, outcome: arcp_conform::verdict::Outcome) -> Failed {
    let record = CaseRecord::from_result(&CaseResult {
        case: Arc::new(case),
        outcome,
    });
    Failed::from(record.failure_text())
}

fn check(ok: bool, what: impl Fn() -> String) -> Result<(), Failed> {
    if ok {
        Ok(())
    } else {
        Err(what().into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let rt = Arc::new(tokio::runtime::Runtime::new().expect("tokio runtime"));
    let cases = client_suite().expect("the client suite loads");
    let mut trials = vec![];

    // Structure: MUST cases name a fault, named faults exist, every fault is caught,
    // requirements are quotes from the spec.
    let uncaught: Vec<String> = cases
        .iter()
        .filter(|c| c.level == Level::Must && c.catches.is_empty())
        .map(|c| c.id.clone())
        .collect();
    trials.push(Trial::test(
        "every-must-client-case-names-a-fault",
        move || {
            check(uncaught.is_empty(), || {
                format!(
                    "MUST client cases with no `catches:`: {}",
                    uncaught.join(", ")
                )
            })
        },
    ));
    let unknown: Vec<String> = cases
        .iter()
        .flat_map(|c| {
            c.catches
                .iter()
                .filter(|f| ClientFault::parse(f).is_none())
                .map(move |f| format!("{}: {f}", c.id))
        })
        .collect();
    trials.push(Trial::test("every-named-client-fault-exists", move || {
        check(unknown.is_empty(), || {
            format!("unknown client faults: {}", unknown.join(", "))
        })
    }));
    let dead: Vec<&str> = ClientFault::ALL
        .iter()
        .filter(|f| {
            !cases
                .iter()
                .any(|c| c.catches.iter().any(|n| n == f.name()))
        })
        .map(|f| f.name())
        .collect();
    trials.push(Trial::test(
        "every-client-fault-is-caught-by-a-case",
        move || {
            check(dead.is_empty(), || {
                format!("client faults no case catches: {}", dead.join(", "))
            })
        },
    ));
    let spec = normalize(SPEC);
    let unquoted: Vec<String> = cases
        .iter()
        .filter(|c| !spec.contains(&normalize(&c.requirement)))
        .map(|c| format!("{}: {:?}", c.location(), c.requirement))
        .collect();
    trials.push(Trial::test(
        "client-requirements-quote-the-spec",
        move || {
            check(unquoted.is_empty(), || {
                format!("not quotes from the spec:\n{}", unquoted.join("\n"))
            })
        },
    ));

    // Every case passes against the reference driver, over both transports.
    let opts = EngineOptions::default();
    for transport in [ClientTransport::Ws, ClientTransport::Stdio] {
        let t = Arc::new(target(transport, None));
        for case in &cases {
            let (rt, t, case, opts) = (rt.clone(), t.clone(), case.clone(), opts.clone());
            trials.push(Trial::test(
                format!("{}::{}", transport.as_str(), case.id),
                move || {
                    let outcome = rt.block_on(run_case(&case, &t, &opts));
                    if outcome.verdict == Verdict::Pass && outcome.violations.is_empty() {
                        Ok(())
                    } else {
                        Err(failure(case, outcome))
                    }
                },
            ));
        }
    }

    // Each case fails with each fault it names.
    let mut pairs = 0;
    for case in &cases {
        for name in &case.catches {
            let Some(fault) = ClientFault::parse(name) else {
                continue;
            };
            pairs += 1;
            let (rt, case, opts) = (rt.clone(), case.clone(), opts.clone());
            trials.push(Trial::test(
                format!("fault::{}::{}", case.id, name),
                move || {
                    let t = target(ClientTransport::Ws, Some(fault));
                    let outcome = rt.block_on(run_case(&case, &t, &opts));
                    if !outcome.violations.is_empty() {
                        return Ok(()); // a per-frame rule broken: its own finding
                    }
                    match outcome.verdict {
                        Verdict::Fail | Verdict::Error | Verdict::Warn | Verdict::Info => Ok(()),
                        v => Err(Failed::from(format!(
                            "with client fault `{fault}` ({}) the case was {v}, so it does not catch it",
                            fault.describe()
                        ))),
                    }
                },
            ));
        }
    }
    eprintln!("client fault proof: {pairs} (case, fault) pairs");

    // A failure that quotes the client's frame (here a hello of the wrong type,
    // as the Rust SDK's `session.open`) shows no bearer token. The case is
    // INFO (§6.1 has no keyword), so the deviation is INFO, not FAIL.
    {
        let (rt, opts) = (rt.clone(), opts.clone());
        let case = cases
            .iter()
            .find(|c| c.id == "client.hello.bearer-auth")
            .expect("client.hello.bearer-auth")
            .clone();
        trials.push(Trial::test("token-not-quoted-in-failure", move || {
            let open = r#"{"arcp":"1.1","id":"msg_1","type":"session.open","payload":{"auth":{"scheme":"bearer","token":"tok-alice"}}}"#;
            let cmd = format!(
                "(printf '%s\\n' '{open}'; sleep 2) | sh -c \"$ARCP_CONFORM_RUNTIME_CMD\" >/dev/null"
            );
            let mut t = ClientTarget::new(cmd, ClientTransport::Stdio);
            t.relay = shell_quote(EXE);
            let outcome = rt.block_on(run_case(&case, &t, &opts));
            let shown = format!(
                "{} {:?} {:?}",
                outcome.reason, outcome.expected, outcome.actual
            );
            check(
                outcome.verdict == Verdict::Info
                    && shown.contains("session.open")
                    && !shown.contains("tok-alice"),
                || format!("{:?}: {shown}", outcome.verdict),
            )
        }));
    }

    // The command line: exit 0 on a clean client, 1 on a faulty one, reports written.
    trials.push(Trial::test("cli-client-command", || {
        let dir = std::env::temp_dir().join(format!("arcp-conform-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let json = dir.join("client.json");
        let junit = dir.join("client.xml");
        let run = |fault: &str, select: &str, extra: &[&str]| {
            let driver = format!("{} driver {fault}", shell_quote(EXE));
            std::process::Command::new(EXE)
                .args([
                    "client", "-q", "--color", "never", "-t", &driver, "-s", select,
                ])
                .args(extra)
                .output()
                .map_err(|e| e.to_string())
        };
        let ok = run(
            "",
            "client.hello.*",
            &[
                "--json",
                json.to_str().unwrap(),
                "--junit",
                junit.to_str().unwrap(),
                "--transport",
                "stdio",
            ],
        )?;
        check(ok.status.code() == Some(0), || {
            format!(
                "clean driver: {:?}\n{}",
                ok.status,
                String::from_utf8_lossy(&ok.stdout)
            )
        })?;
        let report = std::fs::read_to_string(&json).map_err(|e| e.to_string())?;
        check(
            report.contains("client.hello.bearer-auth") && report.contains("\"PASS\""),
            || format!("JSON report: {report}"),
        )?;
        check(junit.exists(), || "no JUnit file".into())?;
        // A MUST case: its failure is a FAIL (client.hello.bearer-auth is INFO,
        // §6.1 describes the bearer scheme without a keyword).
        let bad = run(
            "--fault strict-envelope",
            "client.wire.unknown-envelope-fields",
            &[],
        )?;
        let out = String::from_utf8_lossy(&bad.stdout);
        check(bad.status.code() == Some(1) && out.contains("FAIL"), || {
            format!("faulty driver: {:?}\n{out}", bad.status)
        })?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }));

    // --relay-cmd: the relay as the driver runs it (a driver in a chroot cannot see the
    // harness's host path); here `arcp-conform` on a PATH only the driver's environment has.
    trials.push(Trial::test("cli-client-relay-cmd", || {
        let dir = std::env::temp_dir().join(format!("arcp-conform-relay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let link = dir.join("arcp-conform");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(EXE, &link).map_err(|e| e.to_string())?;
        let path = format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let run = |relay: &str| {
            let driver = format!("{} driver", shell_quote(EXE));
            std::process::Command::new(EXE)
                .args(["client", "-q", "--color", "never", "-t", &driver])
                .args([
                    "-s",
                    "client.wire.unknown-envelope-fields",
                    "--transport",
                    "stdio",
                ])
                .args(["--relay-cmd", relay])
                .env("PATH", &path)
                .output()
                .map_err(|e| e.to_string())
        };
        let ok = run("arcp-conform")?;
        check(ok.status.code() == Some(0), || {
            format!("{:?}\n{}", ok.status, String::from_utf8_lossy(&ok.stdout))
        })?;
        // The flag is what the driver runs: a path it cannot see fails the case.
        let bad = run("/nonexistent/arcp-conform")?;
        check(bad.status.code() == Some(1), || {
            format!("{:?}\n{}", bad.status, String::from_utf8_lossy(&bad.stdout))
        })?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }));

    // A client that submits and then waits for something the harness never sends: its cases
    // stall at one point, reported once as a root cause with their count (issue 10).
    trials.push(Trial::test("cli-client-stalls-grouped", || {
        let dir = std::env::temp_dir().join(format!("arcp-conform-stall-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let json = dir.join("stall.json");
        let html = dir.join("stall.html");
        let driver = r#"{ printf '%s\n' "{\"arcp\":\"1.1\",\"id\":\"msg_01STALL0000000000000000000001\",\"type\":\"session.hello\",\"payload\":{\"client\":{\"name\":\"stall\",\"version\":\"0\"},\"auth\":{\"scheme\":\"bearer\",\"token\":\"$ARCP_CONFORM_TOKEN\"},\"capabilities\":{\"encodings\":[\"json\"],\"features\":[\"heartbeat\"]}}}"; sleep 0.3; printf '%s\n' "{\"arcp\":\"1.1\",\"id\":\"msg_01STALL0000000000000000000002\",\"type\":\"job.submit\",\"payload\":{\"agent\":\"echo\",\"input\":{}}}"; sleep 20; } | sh -c "$ARCP_CONFORM_RUNTIME_CMD" >/dev/null"#;
        let o = std::process::Command::new(EXE)
            .args(["client", "--color", "never", "-j", "3", "--transport", "stdio"])
            .args(["-t", driver, "--json", json.to_str().unwrap()])
            .args(["--html", html.to_str().unwrap()])
            .args(["-s", "client.features.no-ack-unless-negotiated", "-s", "client.features.no-subscribe-unless-negotiated"])
            .args(["-s", "client.wire.unknown-envelope-fields"])
            .output()
            .map_err(|e| e.to_string())?;
        let out = String::from_utf8_lossy(&o.stdout);
        check(o.status.code() == Some(1), || format!("{:?}\n{out}", o.status))?;
        check(
            out.matches("cases stalled at one point").count() == 1
                && out.contains("3 cases stalled")
                && out.contains("`job.submit`"),
            || out.to_string(),
        )?;
        // Each case is one line under the root cause, not a block of its own.
        check(!out.contains("\nFAIL client.features.no-ack-unless-negotiated\n"), || out.to_string())?;
        let report = std::fs::read_to_string(&json).map_err(|e| e.to_string())?;
        check(report.contains("\"stalls\""), || report.clone())?;
        // The HTML report groups them as the console does.
        let page = std::fs::read_to_string(&html).map_err(|e| e.to_string())?;
        check(
            page.matches("cases stalled at one point").count() == 1
                && page.contains("3 cases stalled")
                && page.contains("stalled at one point with 2 other case(s)"),
            || page.clone(),
        )?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }));

    libtest_mimic::run(&args, trials).exit();
}
