//! The implementation under test, and how to open connections to it.

use crate::clock::{ScaledClock, SharedClock};
use crate::profile::Profile;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::transport::process::{ProcessGuard, SpawnOptions};
use crate::transport::{self, Conn, TransportError, TransportOptions};
use std::time::Duration;

pub enum Kind {
    /// The reference runtime, in this process, over in-memory transports;
    /// each case gets a fresh instance, so cases cannot disturb each other.
    Embedded(RuntimeConfig),
    /// A command speaking NDJSON on stdio: one process per connection.
    Stdio(String),
    /// A WebSocket URL, optionally after starting a server command once.
    WebSocket {
        url: String,
        server: Option<ProcessGuard>,
    },
}

/// Per-case state of a target.
pub struct Instance {
    pub runtime: Option<Runtime>,
}

pub struct Target {
    pub kind: Kind,
    pub profile: Profile,
    pub transport: TransportOptions,
    /// Protocol time as the target keeps it.
    pub clock: SharedClock,
}

/// Time scale of the embedded runtime in the suite: protocol time runs
/// ten times faster than wall time, so heartbeat and expiry cases are quick.
pub const EMBEDDED_TIME_SCALE: f64 = 10.0;

/// The reference runtime as the suite runs it by default.
pub fn suite_runtime_config(scale: f64) -> RuntimeConfig {
    RuntimeConfig {
        clock: ScaledClock::shared(scale),
        heartbeat_interval: Duration::from_secs(5),
        resume_window: Duration::from_secs(20),
        replay_buffer_cap: 2_000,
        ..RuntimeConfig::default()
    }
}

impl Target {
    pub fn embedded(config: RuntimeConfig) -> Target {
        let clock = config.clock.clone();
        crate::profile::Tokens::default().register_secrets();
        // What a profile of this runtime would say about it.
        let limits = crate::limits::Limits {
            heartbeat_sec: Some(config.heartbeat_interval.as_secs_f64()),
            resume_window_sec: Some(config.resume_window.as_secs_f64()),
            replay_buffer: Some(config.replay_buffer_cap as u64),
        };
        Target {
            kind: Kind::Embedded(config),
            profile: Profile {
                name: "embedded".into(),
                limits,
                ..Profile::default()
            },
            transport: TransportOptions::default(),
            clock,
        }
    }

    /// `--target` text: a `ws://` URL or a shell command.
    pub async fn external(
        spec: &str,
        profile: Profile,
        transport: TransportOptions,
    ) -> Result<Target, TransportError> {
        let clock: SharedClock = ScaledClock::shared(profile.time_scale);
        profile.tokens.register_secrets();
        let kind = if spec.starts_with("ws://") || spec.starts_with("wss://") {
            let server = match &profile.command {
                Some(cmd) => Some(transport::process::spawn_server(
                    cmd,
                    &SpawnOptions::default(),
                )?),
                None => None,
            };
            Kind::WebSocket {
                url: spec.to_string(),
                server,
            }
        } else {
            Kind::Stdio(spec.to_string())
        };
        Ok(Target {
            kind,
            profile,
            transport,
            clock,
        })
    }

    /// What one case runs against: a fresh embedded runtime, or nothing
    /// extra for external targets.
    pub fn instance(&self) -> Instance {
        Instance {
            runtime: match &self.kind {
                Kind::Embedded(cfg) => Some(Runtime::new(cfg.clone())),
                _ => None,
            },
        }
    }

    /// Open a new connection (a new process for stdio targets).
    pub async fn connect(&self, instance: &Instance) -> Result<Conn, TransportError> {
        match &self.kind {
            Kind::Embedded(_) => Ok(instance
                .runtime
                .as_ref()
                .expect("embedded instances hold a runtime")
                .connect_memory(self.transport.frame_cap)),
            Kind::Stdio(cmd) => transport::stdio::connect(cmd, &self.transport).await,
            Kind::WebSocket {
                url,
                server: Some(g),
            } => transport::ws::connect_when_ready(g, url, &self.transport).await,
            Kind::WebSocket { url, server: None } => {
                transport::ws::connect(url, &self.transport).await
            }
        }
    }

    /// Is the target there at all? An unreachable URL or a command the shell
    /// cannot find is the user's input error, not a verdict.
    pub async fn preflight(&self) -> Result<(), String> {
        let conn = self
            .connect(&self.instance())
            .await
            .map_err(|e| e.to_string())?;
        if let Kind::Stdio(cmd) = &self.kind {
            let mut conn = conn;
            // A missing command exits at once with 127 (sh: not found).
            let _ = conn.recv(Duration::from_millis(300)).await;
            let status = conn.process.as_ref().and_then(|p| p.exit_status());
            if let Some(s) = status.filter(|s| s.contains("status 127") || s.contains("status 126"))
            {
                return Err(format!(
                    "`{cmd}` cannot be run ({s}): {}",
                    conn.stderr_tail().trim()
                ));
            }
        }
        Ok(())
    }

    /// Can two connections reach the same runtime (multi-session, resume)?
    pub fn shared_runtime(&self) -> bool {
        !matches!(self.kind, Kind::Stdio(_))
    }

    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Embedded(_) => "embedded reference runtime".into(),
            Kind::Stdio(cmd) => format!("stdio: {cmd}"),
            Kind::WebSocket { url, .. } => url.clone(),
        }
    }

    pub fn is_embedded(&self) -> bool {
        matches!(self.kind, Kind::Embedded(_))
    }

    /// Output of a server process the target started, if any.
    pub fn server_output(&self) -> String {
        match &self.kind {
            Kind::WebSocket {
                server: Some(g), ..
            } => g.stderr_tail(),
            _ => String::new(),
        }
    }
}
