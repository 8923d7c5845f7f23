//! `arcp-rust-sdk-target`: an `arcp` 2.0.0 runtime for arcp-conform to test.
//!
//! It hosts two agents (`tool.invoke` handlers in the SDK's vocabulary):
//!
//! * `echo` — returns its `arguments` unchanged.
//! * `conformance` — runs the step script of CONFORMANCE.md as far as the
//!   SDK's agent API (`ToolContext`) can express it. See README.md for the
//!   op-by-op mapping.
//!
//! The adapter adds no protocol behaviour and no policy of its own: every
//! frame on the wire is produced by the SDK, every refusal comes from the
//! SDK (`charge()`, `enforce_model_use()`), and ops the SDK cannot express
//! are skipped (observational ops) or fail with `UNIMPLEMENTED` (ops that
//! need runtime machinery the SDK lacks).
//!
//! Usage:
//!
//! ```text
//! arcp-rust-sdk-target --stdio                      # one session on stdin/stdout (NDJSON)
//! arcp-rust-sdk-target --ws 127.0.0.1:PORT          # WebSocket server, one session per connection
//!     [--time-scale F]                              # protocol seconds per wall second (default 1)
//! ```
//!
//! stdout carries protocol frames only (stdio mode); diagnostics go to
//! stderr (`RUST_LOG` controls the SDK's tracing output, default `warn`).

use std::sync::Arc;
use std::time::Duration;

use arcp::auth::BearerAuthenticator;
use arcp::envelope::Envelope;
use arcp::ids::LeaseId;
use arcp::messages::{AgentInventory, AgentInventoryEntry, Capabilities, ResultChunkEncoding};
use arcp::runtime::server::STREAMED_RESULT_SENTINEL;
use arcp::runtime::{ARCPRuntime, ToolContext, ToolHandler, ToolRegistryBuilder};
use arcp::transport::stdio::StdioTransport;
use arcp::transport::websocket::WebSocketTransport;
use arcp::transport::Transport;
use arcp::ARCPError;
use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::sync::Notify;

const USAGE: &str = "usage: arcp-rust-sdk-target (--stdio | --ws HOST:PORT) [--time-scale F]";

/// Bearer tokens (the profile's `tokens:`) and the principal each maps to.
const TOKENS: &[(&str, &str)] = &[
    ("tok-alice", "alice"),
    ("tok-alice-2", "alice"),
    ("tok-bob", "bob"),
];

/// Printed after the SDK's decode error, which names only the first problem
/// serde met (often `timestamp`, though the message type is unknown too).
const DECODE_HINT: &str = "(arcp 2.0.0 decodes only its own envelope: `timestamp` and a `msg_` id are required, and the type must be one of its own, e.g. session.open / tool.invoke, not session.hello / job.submit)";

/// `wait` gives up after an hour of protocol time (CONFORMANCE.md).
const WAIT_LIMIT_MS: f64 = 3_600_000.0;

// ---------------------------------------------------------------------------
// Agents

/// The echo agent: ends at once with its input as the result.
struct Echo;

#[async_trait]
impl ToolHandler for Echo {
    fn name(&self) -> &str {
        "echo"
    }

    async fn invoke(&self, arguments: Value, _ctx: ToolContext) -> Result<Value, ARCPError> {
        Ok(arguments)
    }
}

/// The conformance agent (CONFORMANCE.md), limited to what `ToolContext`
/// offers: `charge()`, `emit_result_chunk()`, `enforce_model_use()`, the
/// cancel token, and the lease/budget getters.
struct Conformance {
    /// Protocol seconds per wall second.
    time_scale: f64,
}

/// State of the job's streamed result (`result_chunks` steps).
#[derive(Default)]
struct Streamed {
    result_id: Option<String>,
    next_chunk_seq: u64,
    size: u64,
}

#[async_trait]
impl ToolHandler for Conformance {
    fn name(&self) -> &str {
        "conformance"
    }

    async fn invoke(&self, arguments: Value, ctx: ToolContext) -> Result<Value, ARCPError> {
        let steps = match arguments.get("steps") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(steps)) => steps.clone(),
            Some(_) => {
                return Err(ARCPError::InvalidArgument {
                    detail: "`steps` must be a list".into(),
                })
            }
        };
        let job = ctx.job_id().as_str().to_owned();
        let mut streamed = Streamed::default();
        for step in &steps {
            let op = step.get("op").and_then(Value::as_str).unwrap_or("");
            match op {
                "finish" => return Ok(finish(step, &streamed)),
                "fail" => return Err(fail_error(step)),
                "cost" => cost(&ctx, step).await?,
                "model" => {
                    // §9.7 through the SDK's only lease check. A refusal ends the
                    // job (job.failed PERMISSION_DENIED): there is no tool_result.
                    let model = step.get("model").and_then(Value::as_str).unwrap_or("");
                    ctx.enforce_model_use(model)?;
                    if let Some(c) = step.get("cost") {
                        cost(&ctx, c).await?;
                    }
                }
                "tool" => {
                    // No tool_call/tool_result can be emitted and the SDK has no
                    // authorization API for tool.call / fs.* / net.fetch, so the
                    // call itself is invisible; its follow-up cost is charged.
                    note(&job, "tool: no tool_call/tool_result or lease check in the SDK's agent API; only its `cost` is charged");
                    if let Some(c) = step.get("cost") {
                        cost(&ctx, c).await?;
                    }
                }
                "result_chunks" => result_chunks(&ctx, step, &mut streamed).await?,
                "sleep" => {
                    let ms = step.get("ms").and_then(Value::as_f64).unwrap_or(0.0);
                    self.sleep(&ctx, ms).await?;
                }
                "wait" => {
                    self.sleep(&ctx, WAIT_LIMIT_MS).await?;
                }
                "delegate" => {
                    return Err(ARCPError::Unimplemented {
                        section: "10",
                        detail: "delegate: the arcp 2.0.0 agent API cannot start a child job"
                            .into(),
                    })
                }
                "rotate_credential" => {
                    return Err(ARCPError::Unimplemented {
                        section: "9.8.2",
                        detail: "rotate_credential: the arcp 2.0.0 agent API cannot rotate a credential or emit a status event".into(),
                    })
                }
                "event" | "log" | "progress" => {
                    note(&job, &format!("{op}: the SDK's agent API cannot emit this event; skipped"));
                }
                other => {
                    // The contract asks for a `log` event at level warn; the SDK
                    // cannot emit one, so the warning goes to stderr only.
                    note(&job, &format!("unknown op {other:?}: skipped"));
                }
            }
        }
        Ok(finish(&json!({}), &streamed))
    }
}

impl Conformance {
    /// Sleep `ms` of protocol time; a cancel ends the job as cancelled.
    /// (The runtime also races the whole handler against the cancel token.)
    async fn sleep(&self, ctx: &ToolContext, ms: f64) -> Result<(), ARCPError> {
        let wall = Duration::from_secs_f64((ms.max(0.0) / 1000.0) / self.time_scale);
        tokio::select! {
            () = ctx.cancel.cancelled() => Err(ARCPError::Cancelled { reason: "cancelled".into() }),
            () = tokio::time::sleep(wall) => Ok(()),
        }
    }
}

/// `cost`: a `metric` via `charge()` (plus the SDK's `cost.budget.remaining`).
/// A negative value is refused by the SDK before anything is emitted; the
/// contract says it is rejected, not fatal, so the job goes on. An overspend
/// is refused by the SDK with BUDGET_EXHAUSTED, which ends the job.
async fn cost(ctx: &ToolContext, step: &Value) -> Result<(), ARCPError> {
    let name = step
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("cost.inference");
    let value = step.get("value").and_then(Value::as_f64).unwrap_or(0.0);
    let unit = step.get("unit").and_then(Value::as_str).unwrap_or("USD");
    match ctx.charge(name, value, unit).await {
        Err(ARCPError::InvalidArgument { detail }) => {
            note(
                ctx.job_id().as_str(),
                &format!("cost refused by the SDK: {detail}"),
            );
            Ok(())
        }
        other => other,
    }
}

/// `result_chunks`: `job.result_chunk` frames via `emit_result_chunk()`.
async fn result_chunks(
    ctx: &ToolContext,
    step: &Value,
    streamed: &mut Streamed,
) -> Result<(), ARCPError> {
    let encoding = match step.get("encoding").and_then(Value::as_str) {
        Some("base64") => ResultChunkEncoding::Base64,
        _ => ResultChunkEncoding::Utf8,
    };
    let last = step.get("last").and_then(Value::as_bool).unwrap_or(true);
    let chunks: Vec<String> = step
        .get("chunks")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|c| c.as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let result_id = streamed
        .result_id
        .get_or_insert_with(|| format!("res_{}", ctx.job_id().as_str().trim_start_matches("job_")))
        .clone();
    let n = chunks.len();
    for (i, data) in chunks.into_iter().enumerate() {
        let more = !(last && i + 1 == n);
        streamed.size += data.len() as u64;
        ctx.emit_result_chunk(
            result_id.clone(),
            streamed.next_chunk_seq,
            data,
            encoding,
            more,
        )
        .await?;
        streamed.next_chunk_seq += 1;
    }
    Ok(())
}

/// `finish`: the value the SDK turns into `job.completed`. After streamed
/// chunks, the SDK's sentinel makes it carry `result_id` and no inline value.
/// An inline result cannot carry `summary` (the SDK only passes it through
/// the streamed form).
fn finish(step: &Value, streamed: &Streamed) -> Value {
    if let Some(result_id) = &streamed.result_id {
        let mut inner = json!({"result_id": result_id, "result_size": streamed.size});
        if let Some(summary) = step.get("summary").and_then(Value::as_str) {
            inner["summary"] = json!(summary);
        }
        return json!({ STREAMED_RESULT_SENTINEL: inner });
    }
    step.get("result").cloned().unwrap_or(Value::Null)
}

/// `fail`: the §12 code mapped to the nearest `ARCPError` (the SDK emits its
/// gRPC-style code for it in `job.failed`). See README.md for the table.
fn fail_error(step: &Value) -> ARCPError {
    let code = step
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("INTERNAL_ERROR");
    let detail = step
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("failed by script")
        .to_owned();
    match code {
        "PERMISSION_DENIED" => ARCPError::PermissionDenied { detail },
        "LEASE_SUBSET_VIOLATION" => ARCPError::LeaseSubsetViolation { detail },
        "JOB_NOT_FOUND" => ARCPError::NotFound {
            kind: "job",
            id: detail,
        },
        "AGENT_NOT_AVAILABLE" => ARCPError::NotFound {
            kind: "agent",
            id: detail,
        },
        "DUPLICATE_KEY" => ARCPError::AlreadyExists {
            kind: "idempotency_key",
            id: detail,
        },
        "AGENT_VERSION_NOT_AVAILABLE" => ARCPError::AgentVersionNotAvailable {
            agent: detail,
            version: String::new(),
        },
        // Becomes job.cancelled, the SDK's cancel terminal, not job.failed.
        "CANCELLED" => ARCPError::Cancelled { reason: detail },
        "TIMEOUT" => ARCPError::DeadlineExceeded { detail },
        "RESUME_WINDOW_EXPIRED" => ARCPError::DataLoss { detail },
        "HEARTBEAT_LOST" => ARCPError::HeartbeatLost { missed_count: 2 },
        "LEASE_EXPIRED" => ARCPError::LeaseExpired {
            lease_id: LeaseId::new(),
        },
        "BUDGET_EXHAUSTED" => ARCPError::BudgetExhausted { detail },
        "INVALID_REQUEST" => ARCPError::InvalidArgument { detail },
        "UNAUTHENTICATED" => ARCPError::Unauthenticated { detail },
        _ => ARCPError::Internal { detail },
    }
}

/// A note for the operator, on stderr (stdout is the protocol in stdio mode).
fn note(job: &str, what: &str) {
    tracing::warn!(job, "conformance agent: {what}");
}

// ---------------------------------------------------------------------------
// Runtime

async fn build_runtime(time_scale: f64) -> Result<ARCPRuntime, ARCPError> {
    let mut auth = BearerAuthenticator::new();
    for (token, principal) in TOKENS {
        auth = auth.with_token(*token, *principal);
    }
    let entry = |name: &str| AgentInventoryEntry {
        name: name.into(),
        versions: vec![],
        default: None,
    };
    // The inventory is static configuration in this SDK (it is not derived
    // from the registered handlers); keep the two lists in step.
    let caps = Capabilities {
        agents: Some(AgentInventory::Rich(vec![
            entry("conformance"),
            entry("echo"),
        ])),
        subscriptions: Some(true),
        model_use: Some(true),
        ..Capabilities::default()
    };
    ARCPRuntime::builder()
        .with_authenticator(Box::new(auth))
        .with_tools(
            ToolRegistryBuilder::new()
                .with(Arc::new(Echo))
                .with(Arc::new(Conformance { time_scale }))
                .build(),
        )
        .with_capabilities(caps)
        .build()
        .await
}

/// The SDK's stdio transport, plus a signal when input ends: the SDK's
/// connection teardown waits for every in-flight job to finish (the jobs hold
/// the writer's channel), so "stdin closed" must not wait for it.
struct StdioWithEof {
    inner: StdioTransport,
    eof: Arc<Notify>,
}

#[async_trait]
impl Transport for StdioWithEof {
    async fn send(&self, envelope: Envelope) -> Result<(), ARCPError> {
        self.inner.send(envelope).await
    }

    async fn recv(&self) -> Result<Option<Envelope>, ARCPError> {
        let r = self.inner.recv().await;
        if matches!(r, Ok(None)) {
            self.eof.notify_one();
        }
        r
    }

    async fn close(&self) -> Result<(), ARCPError> {
        self.inner.close().await
    }
}

async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// One session on stdin/stdout. Returns the process exit code.
async fn serve_stdio(rt: ARCPRuntime) -> i32 {
    let eof = Arc::new(Notify::new());
    let transport = StdioWithEof {
        inner: StdioTransport::process(),
        eof: Arc::clone(&eof),
    };
    let conn = rt.run_connection(transport);
    tokio::pin!(conn);
    let outcome = tokio::select! {
        r = &mut conn => Some(r),
        () = eof.notified() => {
            // Input is over: let the SDK's writer drain, then leave even if
            // jobs are still running (their teardown would wait for them).
            tokio::time::timeout(Duration::from_millis(500), &mut conn).await.ok()
        }
        () = terminated() => None,
    };
    match outcome {
        Some(Err(e)) => {
            // The SDK ends the connection on any frame it cannot decode into
            // its own envelope type, without sending anything back.
            // That is the SDK closing the session, not a crash: exit 0, as
            // when stdin closes.
            eprintln!("arcp-rust-sdk-target: the SDK dropped the connection: {e} {DECODE_HINT}");
            // Its writer is detached from run_connection on this path; give
            // queued frames a moment to reach stdout.
            tokio::time::sleep(Duration::from_millis(100)).await;
            0
        }
        _ => 0,
    }
}

/// A WebSocket server; every connection is one session (any URL path).
async fn serve_ws(rt: ARCPRuntime, addr: &str) -> i32 {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("arcp-rust-sdk-target: cannot listen on {addr}: {e}");
            return 2;
        }
    };
    eprintln!("arcp-rust-sdk-target: listening on ws://{addr}/");
    let term = terminated();
    tokio::pin!(term);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((sock, peer)) = accepted else { continue };
                let rt = rt.clone();
                tokio::spawn(async move {
                    match tokio_tungstenite::accept_async(sock).await {
                        Ok(ws) => {
                            if let Err(e) = rt.run_connection(WebSocketTransport::accept_stream(ws)).await {
                                eprintln!("arcp-rust-sdk-target: {peer}: the SDK dropped the connection: {e} {DECODE_HINT}");
                            }
                        }
                        Err(e) => eprintln!("arcp-rust-sdk-target: {peer}: websocket handshake failed: {e}"),
                    }
                });
            }
            () = &mut term => return 0,
        }
    }
}

enum Mode {
    Stdio,
    Ws(String),
}

fn parse_args() -> Result<(Mode, f64), String> {
    let mut mode = None;
    let mut time_scale = 1.0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--stdio" => mode = Some(Mode::Stdio),
            "--ws" => mode = Some(Mode::Ws(args.next().ok_or("--ws needs HOST:PORT")?)),
            "--time-scale" => {
                time_scale = args
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| *v > 0.0 && v.is_finite())
                    .ok_or("--time-scale needs a positive number")?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((
        mode.ok_or("one of --stdio or --ws is required")?,
        time_scale,
    ))
}

fn main() {
    let (mode, time_scale) = match parse_args() {
        Ok(v) => v,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("arcp-rust-sdk-target: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    // The SDK logs through `tracing`; keep all of it on stderr. (A default
    // `tracing_subscriber::fmt()` would write to stdout, i.e. into the
    // protocol stream in stdio mode.)
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();

    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("arcp-rust-sdk-target: cannot start tokio: {e}");
            std::process::exit(1);
        }
    };
    let code = rt.block_on(async move {
        let runtime = match build_runtime(time_scale).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("arcp-rust-sdk-target: cannot build the runtime: {e}");
                return 1;
            }
        };
        match mode {
            Mode::Stdio => serve_stdio(runtime).await,
            Mode::Ws(addr) => serve_ws(runtime, &addr).await,
        }
    });
    // Do not wait for the runtime to shut down: a pending blocking stdin read
    // or a running job would hold it up.
    std::process::exit(code);
}
