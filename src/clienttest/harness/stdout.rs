//! The driver process of a client case: its start, its stdout, and the
//! `expect_output` step that reads it.

use super::Harness;
use crate::case::{Case, ExpectOutput, OutputPattern};
use crate::clienttest::{shell_quote, ClientTarget, ClientTransport};
use crate::engine::play::Role;
use crate::engine::Wire;
use crate::engine::{StepResult, Stop};
use crate::matcher;
use crate::transport::process::{self, ProcessGuard, SpawnOptions};
use crate::verdict::Direction;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Most stdout lines kept from a driver.
const LINE_LIMIT: usize = 10_000;

/// The driver process and its stdout.
pub(super) struct Driver {
    pub(super) guard: Option<ProcessGuard>,
    pub(super) stdin: Option<tokio::process::ChildStdin>,
    pub(super) lines: mpsc::UnboundedReceiver<String>,
    /// Received, not yet consumed by a step.
    pub(super) pending: VecDeque<String>,
    /// Every line it printed (for the leak check and UNSUPPORTED).
    pub(super) all: Arc<Mutex<Vec<String>>>,
    pub(super) eof: bool,
    /// Its private cache/state/temp directories.
    pub(super) state: crate::clienttest::persist::StateDirs,
}

impl Driver {
    pub(super) fn exit_status(&self) -> Option<String> {
        self.guard.as_ref().and_then(ProcessGuard::exit_status)
    }

    /// The reason of the driver's `FAILED <reason>` line, if it printed one.
    pub(super) fn failed(&self) -> Option<String> {
        self.all
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| l.strip_prefix("FAILED").map(|r| r.trim().to_string()))
    }

    pub(super) fn unsupported(&self) -> Option<String> {
        self.all
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.starts_with("UNSUPPORTED"))
            .cloned()
    }

    /// The next stdout line within `until`; `Ok(None)` at EOF, `Err(())` on timeout.
    async fn next_line(&mut self, until: Instant) -> Result<Option<String>, ()> {
        if self.eof {
            return Ok(None);
        }
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.lines.recv()).await {
            Err(_) => Err(()),
            Ok(None) => {
                self.eof = true;
                Ok(None)
            }
            Ok(Some(l)) => Ok(Some(l)),
        }
    }
}

/// Start the client's driver for `case`, told to reach the harness at
/// `url`; its stdout lines go to the wire log and to the steps. The job id
/// it submits under is `driver_job`.
pub(super) fn start(
    case: &Case,
    target: &ClientTarget,
    url: &str,
    driver_job: &str,
    wire: &Wire,
) -> Result<Driver, String> {
    let mut env = SpawnOptions::default()
        .env("ARCP_CONFORM_TRANSPORT", target.transport.as_str())
        .env(
            "ARCP_CONFORM_SCENARIO",
            case.scenario.clone().unwrap_or_default(),
        )
        .env("ARCP_CONFORM_CASE", case.id.clone())
        .env("ARCP_CONFORM_TOKEN", crate::runtime::TOKEN_ALICE)
        .env("ARCP_CONFORM_AGENT", "echo")
        .env("ARCP_CONFORM_INPUT", r#"{"text":"hello"}"#)
        .env("ARCP_CONFORM_JOB", driver_job);
    // The URL over stdio too: a driver that cannot run the relay command as
    // given (another file system) can start its own relay to it.
    env = env.env("ARCP_CONFORM_URL", url);
    if target.transport == ClientTransport::Stdio {
        env = env.env(
            "ARCP_CONFORM_RUNTIME_CMD",
            format!("{} relay {}", target.relay, shell_quote(url)),
        );
    }
    // A private cache/state/temp directory, searched for credential values at the end.
    let state = crate::clienttest::persist::StateDirs::create()
        .map_err(|e| format!("cannot create the driver's state directory: {e}"))?;
    for (k, v) in state.env() {
        env = env.env(k, v);
    }
    for (k, v) in &target.env {
        env = env.env(k.clone(), v.clone());
    }
    wire.log(
        "driver",
        Direction::Note,
        &format!(
            "starting `{}` (scenario {}, {} {})",
            target.command,
            case.scenario.as_deref().unwrap_or("-"),
            target.transport.as_str(),
            url
        ),
    );
    let (guard, stdin, stdout) = process::spawn(&target.command, &env)
        .map_err(|e| format!("cannot start the client: {e}"))?;
    let (tx, lines) = mpsc::unbounded_channel();
    let all = Arc::new(Mutex::new(vec![]));
    {
        let (wire, all) = (wire.clone(), all.clone());
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let line = line.trim_end_matches('\r').to_string();
                wire.log("driver", Direction::Note, &format!("stdout: {line}"));
                {
                    let mut all = all.lock().unwrap();
                    if all.len() >= LINE_LIMIT {
                        continue;
                    }
                    all.push(line.clone());
                }
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
    }
    Ok(Driver {
        guard: Some(guard),
        stdin: Some(stdin),
        lines,
        pending: VecDeque::new(),
        all,
        eof: false,
        state,
    })
}

impl Harness<'_> {
    pub(super) async fn expect_output(&mut self, o: &ExpectOutput) -> StepResult {
        let until = Instant::now() + self.deadline(o.within);
        let (describe, pattern) = match &o.pattern {
            OutputPattern::Line(p) => {
                let p = self.render(p)?;
                (format!("a line {}", matcher::describe(&p)), p)
            }
            OutputPattern::Result(p) => {
                let p = self.render(p)?;
                (format!("RESULT {}", matcher::describe(&p)), p)
            }
            OutputPattern::Error(c) => (format!("ERROR {c}"), Value::from(c.clone())),
        };
        loop {
            let mut hit = None;
            for (i, line) in self.driver.pending.iter().enumerate() {
                match &o.pattern {
                    OutputPattern::Line(_) => {
                        if let Ok(c) = matcher::matches(&pattern, &Value::from(line.clone())) {
                            hit = Some((i, c));
                            break;
                        }
                    }
                    OutputPattern::Result(_) => {
                        let Some(rest) = line.strip_prefix("RESULT ") else {
                            continue;
                        };
                        let v: Value = serde_json::from_str(rest).map_err(|e| Stop::Fail {
                            reason: format!("the driver printed a RESULT that is not JSON ({e})"),
                            expected: Some(describe.clone()),
                            actual: Some(line.clone()),
                        })?;
                        match matcher::matches(&pattern, &v) {
                            Ok(c) => {
                                hit = Some((i, c));
                                break;
                            }
                            Err(m) => {
                                return Err(Stop::Fail {
                                    reason: "the client assembled a different result".into(),
                                    expected: Some(describe),
                                    actual: Some(format!("{m} — in {}", matcher::show(&v))),
                                })
                            }
                        }
                    }
                    OutputPattern::Error(code) => {
                        if line == "ERROR" || line.starts_with("ERROR ") {
                            let got = line.trim_start_matches("ERROR").trim();
                            if got == code {
                                hit = Some((i, BTreeMap::new()));
                                break;
                            }
                            return Err(Stop::Fail {
                                reason: format!("the client surfaced `{got}`, not {code}"),
                                expected: Some(describe),
                                actual: Some(line.clone()),
                            });
                        }
                    }
                }
            }
            if let Some((i, caps)) = hit {
                self.driver.pending.remove(i);
                self.vars.extend(caps);
                return Ok(());
            }
            match self.driver.next_line(until).await {
                Ok(Some(line)) => self.driver.pending.push_back(line),
                Ok(None) => {
                    let status = match &self.driver.guard {
                        Some(g) => g.watch().wait_exit(Duration::from_millis(300)).await,
                        None => None,
                    };
                    let what = format!("without printing {describe}");
                    return Err(match status {
                        Some(s) => self.exited(&process::describe_status(&s), &what),
                        None => Stop::fail(format!("the driver closed its stdout {what}")),
                    });
                }
                Err(()) => {
                    return Err(Stop::Fail {
                        reason: format!(
                            "the driver printed no matching line within {:?}",
                            o.within
                        ),
                        expected: Some(describe),
                        actual: Some(match self.driver.pending.back() {
                            Some(l) => format!("last line: {l}"),
                            None => "no lines".into(),
                        }),
                    })
                }
            }
        }
    }
}
