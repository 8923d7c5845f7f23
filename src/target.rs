//! The implementation under test, and how to open connections to it.

use crate::clock::{ScaledClock, SharedClock, TokioClock};
use crate::profile::Profile;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::transport::process::{ProcessGuard, SpawnOptions};
use crate::transport::{self, Conn, TransportError, TransportOptions};
use crate::upstream::Upstream;
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
    /// The embedded runtime; replaced by a fresh one (same upstream and
    /// store) when the case crashed it, as a restarted process would be.
    pub runtime: std::sync::Mutex<Option<Runtime>>,
    /// The credential upstream this case's target talks to, if it can.
    pub upstream: Option<Upstream>,
    /// Scratch directory that survives the target's restarts within the case
    /// (`ARCP_CONFORM_STATE_DIR`); removed with the instance.
    pub state_dir: Option<StateDir>,
}

/// A per-case directory, removed on drop (or, when the target left it
/// empty, kept for a later case: indistinguishable from a new one, and a
/// directory's creation and removal on a journaling filesystem cost more
/// than the rest of the harness's side of a short stdio case).
pub struct StateDir(pub std::path::PathBuf);

/// Empty state directories waiting for a case; removed at exit.
static SPARE_DIRS: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Spares kept at most: about one per concurrent case.
const SPARES: usize = 64;

fn spare_dirs() -> std::sync::MutexGuard<'static, Vec<std::path::PathBuf>> {
    SPARE_DIRS.lock().unwrap_or_else(|e| e.into_inner())
}

impl StateDir {
    pub(crate) fn new() -> Option<StateDir> {
        // (Unless something cleaned the temp directory meanwhile.)
        while let Some(p) = spare_dirs().pop() {
            if p.is_dir() {
                return Some(StateDir(p));
            }
        }
        static AT_EXIT: std::sync::Once = std::sync::Once::new();
        AT_EXIT.call_once(|| {
            // SAFETY: registers a plain `extern "C" fn` that takes no locks it could wait on.
            unsafe { libc::atexit(remove_spare_dirs) };
        });
        let p = std::env::temp_dir().join(format!("arcp-conform-{}", crate::ids::ulid()));
        // One mkdir (the temp dir exists).
        std::fs::create_dir(&p)
            .or_else(|_| std::fs::create_dir_all(&p))
            .ok()
            .map(|_| StateDir(p))
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let empty = std::fs::read_dir(&self.0).is_ok_and(|mut d| d.next().is_none());
        if empty {
            let mut spares = spare_dirs();
            if spares.len() < SPARES {
                spares.push(std::mem::take(&mut self.0));
                return;
            }
        }
        if std::fs::remove_dir(&self.0).is_err() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// At exit (also after Ctrl-C): remove the spare directories. Skipped if
/// another thread holds the list at that moment, rather than wait.
extern "C" fn remove_spare_dirs() {
    if let Ok(mut spares) = SPARE_DIRS.try_lock() {
        for p in spares.drain(..) {
            let _ = std::fs::remove_dir(p);
        }
    }
}

/// Environment variable naming the per-case state directory.
pub const STATE_DIR_ENV: &str = "ARCP_CONFORM_STATE_DIR";

impl Instance {
    /// The embedded runtime, restarted if the case crashed it.
    fn live_runtime(&self, config: &RuntimeConfig) -> Runtime {
        let mut rt = self.runtime.lock().unwrap_or_else(|p| p.into_inner());
        match rt.as_ref() {
            Some(r) if !r.is_crashed() => r.clone(),
            _ => {
                let fresh = Runtime::new(config.clone());
                *rt = Some(fresh.clone());
                fresh
            }
        }
    }

    /// Environment a spawned target process gets for this case.
    fn spawn_options(&self) -> SpawnOptions {
        let mut o = SpawnOptions::default();
        if let Some(u) = &self.upstream {
            o = o.env(crate::upstream::ENV, u.base());
        }
        if let Some(d) = &self.state_dir {
            o = o.env(STATE_DIR_ENV, d.0.display().to_string());
        }
        o
    }
}

pub struct Target {
    pub kind: Kind,
    pub profile: Profile,
    pub transport: TransportOptions,
    /// Protocol time as the target keeps it.
    pub clock: SharedClock,
    /// The credential upstream of a WebSocket target's server, started once
    /// per run (the server starts once); cases share it.
    pub upstream: Option<Upstream>,
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

/// The reference runtime on virtual time: the suite's settings on a
/// [`TokioClock`]. Run it (and the harness) inside
/// [`crate::clock::virtual_runtime`] so that waits cost no wall time.
pub fn virtual_runtime_config() -> RuntimeConfig {
    RuntimeConfig {
        clock: TokioClock::shared(),
        ..suite_runtime_config(1.0)
    }
}

/// Does a run with these flags go on virtual time? The embedded runtime (no
/// target, no profile that could name one) without an explicit
/// `--time-scale`: its protocol time then costs no wall time. Anything that
/// may start a process keeps real time.
pub fn on_virtual_time(
    target: Option<&str>,
    profile: Option<&std::path::Path>,
    time_scale: Option<f64>,
) -> bool {
    target.is_none() && profile.is_none() && time_scale.is_none()
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
            upstream: None,
        }
    }

    /// This target for use on the calling (paused) tokio runtime: an
    /// embedded runtime on virtual time, with its clock started on that
    /// runtime (see [`crate::clock::Clock::on_this_runtime`]). `None` for
    /// any other target: one on wall time or in other processes belongs to
    /// the runtime that made it.
    pub fn on_this_runtime(&self) -> Option<Target> {
        let Kind::Embedded(cfg) = &self.kind else {
            return None;
        };
        let mut cfg = cfg.clone();
        cfg.clock = cfg.clock.on_this_runtime()?;
        Some(Target {
            clock: cfg.clock.clone(),
            kind: Kind::Embedded(cfg),
            profile: self.profile.clone(),
            transport: self.transport.clone(),
            upstream: None,
        })
    }

    /// `--target` text: a `ws://` URL or a shell command.
    pub async fn external(
        spec: &str,
        profile: Profile,
        transport: TransportOptions,
    ) -> Result<Target, TransportError> {
        let clock: SharedClock = ScaledClock::shared(profile.time_scale);
        profile.tokens.register_secrets();
        let ws = spec.starts_with("ws://") || spec.starts_with("wss://");
        let upstream = if ws && profile.upstream {
            Some(Upstream::start().map_err(|e| {
                TransportError::Connect(format!("cannot start the credential upstream: {e}"))
            })?)
        } else {
            None
        };
        let kind = if ws {
            let mut spawn = SpawnOptions::default();
            if let Some(u) = &upstream {
                spawn = spawn.env(crate::upstream::ENV, u.base());
            }
            let server = match &profile.command {
                Some(cmd) => Some(transport::process::spawn_server(cmd, &spawn)?),
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
            upstream,
        })
    }

    /// What one case runs against: a fresh embedded runtime, or nothing
    /// extra for external targets.
    pub fn instance(&self) -> Instance {
        // A fresh upstream per case where the target can take one per case
        // (embedded; stdio spawns per connection); the run's for a server.
        let upstream = match &self.kind {
            Kind::WebSocket { .. } => self.upstream.clone().inspect(Upstream::clear_unscoped_fail),
            _ if self.has_upstream() => Upstream::start().ok(),
            _ => None,
        };
        let runtime = match &self.kind {
            Kind::Embedded(cfg) => {
                let mut cfg = cfg.clone();
                if let Some(u) = &upstream {
                    cfg.provisioner.upstream = Some(u.base().to_string());
                    cfg.provisioner.store = crate::runtime::provisioner::Store::memory();
                    cfg.provisioner.quiet = true;
                }
                Some(Runtime::new(cfg))
            }
            _ => None,
        };
        Instance {
            runtime: std::sync::Mutex::new(runtime),
            state_dir: matches!(self.kind, Kind::Stdio(_))
                .then(StateDir::new)
                .flatten(),
            upstream,
        }
    }

    /// Can the harness restart the runtime within a case (after a `crash`)?
    /// An embedded runtime is replaced; a stdio process is respawned.
    pub fn restartable(&self) -> bool {
        !matches!(self.kind, Kind::WebSocket { .. })
    }

    /// Does the target take a credential upstream (`ARCP_CONFORM_UPSTREAM`)?
    /// The reference runtime does; others say so with `upstream: true`.
    pub fn has_upstream(&self) -> bool {
        self.is_embedded() || self.profile.upstream
    }

    /// Open a new connection (a new process for stdio targets).
    pub async fn connect(&self, instance: &Instance) -> Result<Conn, TransportError> {
        match &self.kind {
            Kind::Embedded(cfg) => Ok(instance
                .live_runtime(&Self::embedded_config(cfg, instance))
                .connect_memory(self.transport.frame_cap)),
            Kind::Stdio(cmd) => {
                transport::stdio::connect_with(cmd, &self.transport, &instance.spawn_options())
                    .await
            }
            Kind::WebSocket {
                url,
                server: Some(g),
            } => transport::ws::connect_when_ready(g, url, &self.transport).await,
            Kind::WebSocket { url, server: None } => {
                transport::ws::connect(url, &self.transport).await
            }
        }
    }

    /// The configuration a restarted embedded runtime gets: the crashed
    /// one's upstream and store, so it can revoke what was outstanding.
    fn embedded_config(cfg: &RuntimeConfig, instance: &Instance) -> RuntimeConfig {
        let rt = instance.runtime.lock().unwrap_or_else(|p| p.into_inner());
        match rt.as_ref() {
            Some(r) => r.config().clone(),
            None => cfg.clone(),
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

#[cfg(test)]
mod tests {
    use super::StateDir;

    #[test]
    fn an_empty_state_dir_is_kept_for_a_later_case_and_a_used_one_removed() {
        let used = StateDir::new().unwrap();
        let used_path = used.0.clone();
        std::fs::write(used_path.join("credentials.json"), "{}").unwrap();
        drop(used);
        assert!(!used_path.exists(), "a used directory is removed");
        let empty = StateDir::new().unwrap();
        let path = empty.0.clone();
        drop(empty);
        // Kept (as a spare, or already handed to another test's case).
        assert!(path.is_dir(), "an empty one is kept");
    }
}
