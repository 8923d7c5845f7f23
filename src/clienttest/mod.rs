//! Testing clients: the harness plays a scripted runtime and judges what the
//! client under test sends (cases with `role: client`, in `cases/client/`).
//!
//! For each case the harness listens on 127.0.0.1 (a free port), starts the
//! client's *driver* — a small program that follows the contract in
//! `docs/client-driver.md` — with the URL and the case's scenario in its
//! environment, and runs the case's steps as the runtime: answer the hello
//! ([`crate::case::Welcome`]), accept the submit, emit events, drop the
//! transport, expect frames from the client and lines on the driver's
//! stdout. Over stdio the driver starts [`relay`] as its runtime process,
//! which carries NDJSON between the driver's pipes and the harness.
//!
//! Every frame the client sends passes the client-side [`checks`]; the
//! verdict model is the runtime suite's. [`driver`] is the reference driver
//! on [`crate::client`], with switchable [`crate::client::ClientFault`]s.

pub mod checks;
pub mod cli;
pub mod driver;
mod harness;
mod persist;
pub mod relay;
pub mod runner;

pub use harness::run_case;

/// How the driver reaches the harness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ClientTransport {
    /// The driver connects to `ARCP_CONFORM_URL`.
    #[default]
    Ws,
    /// The driver starts `ARCP_CONFORM_RUNTIME_CMD` and speaks NDJSON on its stdin/stdout.
    Stdio,
}

impl ClientTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientTransport::Ws => "ws",
            ClientTransport::Stdio => "stdio",
        }
    }
}

/// The client under test.
#[derive(Debug, Clone)]
pub struct ClientTarget {
    /// Shell command starting the driver (`sh -c`), once per case.
    pub command: String,
    pub transport: ClientTransport,
    /// Shell words running this tool, for the stdio relay command
    /// (`<relay> relay ws://...`); default: the running executable.
    pub relay: String,
    /// Extra environment for the driver.
    pub env: Vec<(String, String)>,
    /// Largest frame accepted from the client.
    pub frame_cap: usize,
    /// Short name for reports.
    pub name: String,
}

impl ClientTarget {
    pub fn new(command: impl Into<String>, transport: ClientTransport) -> ClientTarget {
        let command = command.into();
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "arcp-conform".into());
        ClientTarget {
            name: command.clone(),
            command,
            transport,
            relay: shell_quote(&exe),
            env: vec![],
            frame_cap: crate::transport::DEFAULT_FRAME_CAP,
        }
    }

    pub fn describe(&self) -> String {
        format!("client ({}): {}", self.transport.as_str(), self.command)
    }
}

/// `'text'` for `sh`, with embedded single quotes escaped.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub use crate::suite::client_suite;
