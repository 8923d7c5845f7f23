//! `arcp-rust-sdk-driver`: the arcp-conform client driver on the Rust SDK's
//! client (`arcp` 2.0.0, i.e. `arcp-client` 2.0.0), following
//! docs/client-driver.md.
//!
//! ```text
//! arcp-conform client --target 'targets/rust-sdk/target/release/arcp-rust-sdk-driver'
//! arcp-conform client --transport stdio --target 'targets/rust-sdk/target/release/arcp-rust-sdk-driver'
//! ```
//!
//! Everything protocol-level (the handshake, the frames, what the client
//! answers and what it ignores) is the SDK's own `ARCPClient` /
//! `Session<Authenticated>` / `JobHandle`; this file only maps the scenarios
//! onto that API and prints the contract's lines. stdout carries those lines
//! only; diagnostics go to stderr. The bearer token is never printed.
//!
//! What the SDK's client API offers, and so what the driver can report:
//!
//! * `authenticate` sends `session.open` (the SDK's vocabulary) and waits for
//!   `session.accepted`; there is no `session.hello`.
//! * `invoke` sends `tool.invoke` and resolves on `job.accepted`; `join`
//!   resolves on `job.completed` / `job.failed` / `job.cancelled`. No
//!   per-job event reaches the caller (the SDK's reader drops them), so the
//!   driver prints no `EVENT` line for a submitted job; `job.failed` comes
//!   back as `ARCPError::Unknown`, whose code is `UNKNOWN`.
//! * `JobHandle::cancel` sends `cancel`; the outcome is `join`'s.
//! * `subscribe` sends `subscribe` (RFC §13 style) with a filter, without
//!   history; it is only used when the runtime said `subscriptions: true`.
//! * There is no resume API and no heartbeat handling in the client.
//!
//! Every wait is bounded, so the driver never hangs; the harness kills its
//! process group at the end of each case anyway.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Duration;

use arcp::messages::{
    AuthScheme, Capabilities, ClientIdentity, Credentials, MessageType, SubscriptionFilter,
};
use arcp::transport::stdio::StdioTransport;
use arcp::transport::websocket::WebSocketTransport;
use arcp::transport::Transport;
use arcp::{ARCPClient, ARCPError};
use serde_json::Value;
use tokio::time::timeout;

/// Connecting and the `session.open` round trip.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(30);
/// `job.accepted` / `subscribe.accepted`.
const ACCEPT_WAIT: Duration = Duration::from_secs(30);
/// The terminal message of a job, and each subscribed event.
const JOB_WAIT: Duration = Duration::from_secs(120);
/// How long the `idle` scenario stays idle (the SDK gives no signal when
/// the transport closes, so this is a bound, not an end condition).
const IDLE_WAIT: Duration = Duration::from_secs(120);

/// One contract line on stdout, flushed at once.
fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

/// A diagnostic on stderr.
fn log(msg: &str) {
    eprintln!("driver: {msg}");
}

/// How the run ended: an exit code, or the client gave up (`FAILED`).
enum End {
    Exit(i32),
    Failed(String),
}

impl From<ARCPError> for End {
    fn from(e: ARCPError) -> Self {
        Self::Failed(format!(
            "ARCPError {}: {}",
            e.code(),
            first_line(&e.to_string())
        ))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

struct Env {
    scenario: String,
    token: String,
    agent: String,
    input: Value,
    job: String,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

fn main() {
    let end = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run()),
        Err(e) => End::Failed(format!("tokio runtime: {e}")),
    };
    // Exit at once: the SDK's reader task and a stdio runtime child must not
    // keep the process alive.
    let code = match end {
        End::Exit(c) => c,
        End::Failed(why) => {
            log(&why);
            out(&format!("FAILED {why}"));
            1
        }
    };
    let _ = std::io::stderr().flush();
    std::process::exit(code);
}

async fn run() -> End {
    let input = env("ARCP_CONFORM_INPUT");
    let input = if input.is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        match serde_json::from_str(&input) {
            Ok(v) => v,
            Err(e) => return End::Failed(format!("ARCP_CONFORM_INPUT is not JSON: {e}")),
        }
    };
    let agent = env("ARCP_CONFORM_AGENT");
    let e = Env {
        scenario: env("ARCP_CONFORM_SCENARIO"),
        token: env("ARCP_CONFORM_TOKEN"),
        agent: if agent.is_empty() {
            "echo".into()
        } else {
            agent
        },
        input,
        job: env("ARCP_CONFORM_JOB"),
    };
    if !matches!(
        e.scenario.as_str(),
        "submit" | "resume" | "cancel" | "idle" | "subscribe"
    ) {
        out(&format!("UNSUPPORTED scenario {}", e.scenario));
        return End::Exit(0);
    }
    if env("ARCP_CONFORM_TRANSPORT") == "stdio" {
        let cmd = env("ARCP_CONFORM_RUNTIME_CMD");
        match spawn_runtime(&cmd) {
            Ok(t) => scenario(t, &e).await,
            Err(why) => End::Failed(why),
        }
    } else {
        let url = env("ARCP_CONFORM_URL");
        match timeout(HANDSHAKE_WAIT, WebSocketTransport::dial(&url)).await {
            Err(_) => End::Failed(format!(
                "could not connect to {url} within {HANDSHAKE_WAIT:?}"
            )),
            Ok(Err(err)) => err.into(),
            Ok(Ok(t)) => scenario(t, &e).await,
        }
    }
}

/// The stdio transport: start the runtime command (`sh -c`) and speak NDJSON
/// on its stdin/stdout through the SDK's `StdioTransport`. The child stays in
/// the driver's process group, so the harness's kill reaches it too.
fn spawn_runtime(cmd: &str) -> Result<StdioTransport, String> {
    if cmd.is_empty() {
        return Err("ARCP_CONFORM_RUNTIME_CMD is not set".into());
    }
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("could not start the runtime command: {e}"))?;
    let stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let writer = tokio::net::unix::pipe::Sender::from_owned_fd(OwnedFd::from(stdin))
        .map_err(|e| format!("runtime stdin: {e}"))?;
    let reader = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(stdout))
        .map_err(|e| format!("runtime stdout: {e}"))?;
    // The child is reaped by the harness's process-group kill (or exits when
    // its stdin closes with the driver).
    std::mem::forget(child);
    Ok(StdioTransport::from_streams(reader, writer))
}

async fn scenario<T: Transport + 'static>(transport: T, e: &Env) -> End {
    let unauth = match ARCPClient::new(transport).open() {
        Ok(s) => s,
        Err(err) => return err.into(),
    };
    let creds = Credentials {
        scheme: AuthScheme::Bearer,
        token: Some(e.token.clone()),
    };
    let client = ClientIdentity {
        kind: "arcp-conform-driver".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        fingerprint: None,
        principal: None,
    };
    // Offer what this client's API can use: subscriptions (`subscribe`) and
    // artifacts (`put_artifact` / `fetch_artifact`). The SDK has no default
    // capability set of its own (its examples pass `Capabilities::default()`).
    let caps = Capabilities {
        subscriptions: Some(true),
        artifacts: Some(true),
        ..Capabilities::default()
    };
    let session = match timeout(HANDSHAKE_WAIT, unauth.authenticate(creds, client, caps)).await {
        Err(_) => {
            return End::Failed(format!(
                "no reply to session.open within {HANDSHAKE_WAIT:?}"
            ))
        }
        Ok(Err(ARCPError::Unauthenticated { detail })) => {
            // session.rejected / session.unauthenticated: the request was refused.
            log(&format!("refused: {}", first_line(&detail)));
            out("ERROR UNAUTHENTICATED");
            return End::Exit(0);
        }
        Ok(Err(err)) => return err.into(),
        Ok(Ok(s)) => s,
    };
    match session.id().await {
        Ok(id) => log(&format!("session {id} open")),
        Err(err) => return err.into(),
    }

    match e.scenario.as_str() {
        "idle" => {
            out("IDLE");
            tokio::time::sleep(IDLE_WAIT).await;
            End::Exit(0)
        }
        "subscribe" => subscribe(&session, e).await,
        _ => submit(&session, e).await,
    }
}

type Authed<T> = arcp::client::Session<arcp::client::Authenticated, T>;

/// `submit`, `cancel` and `resume`.
async fn submit<T: Transport + 'static>(session: &Authed<T>, e: &Env) -> End {
    let resume = e.scenario == "resume";
    let handle = match timeout(
        ACCEPT_WAIT,
        session.invoke(e.agent.clone(), e.input.clone()),
    )
    .await
    {
        Err(_) => return End::Failed(format!("no job.accepted within {ACCEPT_WAIT:?}")),
        Ok(Err(err @ ARCPError::Unavailable { .. })) => return dropped(resume, err),
        Ok(Err(err)) => {
            // Refused before acceptance (nack, or job.failed before job.accepted).
            log(&format!("invoke refused: {}", first_line(&err.to_string())));
            out(&format!("ERROR {}", err.code()));
            return End::Exit(0);
        }
        Ok(Ok(h)) => h,
    };
    out(&format!("ACCEPTED {}", handle.job_id));
    log("arcp-client 2.0.0 passes no per-job events to the caller: no EVENT lines");
    if e.scenario == "cancel" {
        if let Err(err) = handle.cancel("arcp-conform cancel scenario").await {
            return dropped(false, err);
        }
    }
    match timeout(JOB_WAIT, handle.join()).await {
        Err(_) => End::Failed(format!("no terminal message within {JOB_WAIT:?}")),
        Ok(Ok(v)) => {
            out(&format!("RESULT {v}"));
            End::Exit(0)
        }
        Ok(Err(ARCPError::Cancelled { .. })) => {
            // job.cancelled is the SDK's terminal message for a cancelled job.
            out("CANCELLED");
            out("ERROR CANCELLED");
            End::Exit(0)
        }
        Ok(Err(err @ ARCPError::Unavailable { .. })) => dropped(resume, err),
        Ok(Err(err)) => {
            log(&format!("job ended: {}", first_line(&err.to_string())));
            out(&format!("ERROR {}", err.code()));
            End::Exit(0)
        }
    }
}

/// The transport closed under a request. In the `resume` scenario this is
/// where the client would resume; arcp-client 2.0.0 has no resume API.
fn dropped(resume: bool, err: ARCPError) -> End {
    if resume {
        log(&format!(
            "transport dropped: {}",
            first_line(&err.to_string())
        ));
        out("UNSUPPORTED resume (arcp-client 2.0.0 has no resume API)");
        End::Exit(0)
    } else {
        err.into()
    }
}

async fn subscribe<T: Transport + 'static>(session: &Authed<T>, e: &Env) -> End {
    if session.capabilities().await.subscriptions != Some(true) {
        out("NOT_NEGOTIATED subscribe");
        return End::Exit(0);
    }
    let job = match e.job.parse() {
        Ok(j) => j,
        Err(err) => return End::Failed(format!("ARCP_CONFORM_JOB: {err}")),
    };
    let filter = SubscriptionFilter {
        job_id: vec![job],
        ..SubscriptionFilter::default()
    };
    log("arcp-client 2.0.0 subscribes without history (no `since` in its API)");
    let sub = match timeout(ACCEPT_WAIT, session.subscribe(filter)).await {
        Err(_) => return End::Failed(format!("no subscribe.accepted within {ACCEPT_WAIT:?}")),
        Ok(Err(err)) => return err.into(),
        Ok(Ok(s)) => s,
    };
    out(&format!("SUBSCRIBED {}", e.job));
    loop {
        let env = match timeout(JOB_WAIT, sub.next()).await {
            Err(_) => return End::Failed(format!("no event within {JOB_WAIT:?}")),
            Ok(None) => return End::Failed("the subscription ended without an outcome".into()),
            Ok(Some(env)) => env,
        };
        match env.payload {
            MessageType::JobCompleted(p) => {
                out(&format!("RESULT {}", p.value.unwrap_or(Value::Null)));
                return End::Exit(0);
            }
            MessageType::JobFailed(p) => {
                out(&format!("ERROR {}", p.code));
                return End::Exit(0);
            }
            MessageType::JobCancelled(_) => {
                out("CANCELLED");
                out("ERROR CANCELLED");
                return End::Exit(0);
            }
            other => out(&format!("EVENT {}", other.type_name())),
        }
    }
}
