//! Spawned target processes.
//!
//! Each target runs through `sh -c` as the leader of its own process group, so
//! the harness can kill the target together with everything it forked: a
//! wrapper script's children must not outlive a test. Stderr (and, for
//! servers, stdout) is drained into a bounded ring so a chatty target can
//! neither block on a full pipe nor grow the harness's memory, and the last
//! bytes are at hand for error messages.
//!
//! A child that leaves the group (`setsid`, `setpgid`) escapes a group kill.
//! Every target therefore carries a marker in its environment, inherited by
//! all its descendants; when the target is stopped the harness (a child
//! subreaper, so orphans are re-parented to it and can be reaped) kills
//! every process still carrying the marker, and says so (see [`sweep`]).

mod sweep;

pub use sweep::left_behind_total;
use sweep::{reap_group_soon, sweep};

use super::TransportError;
use std::collections::{BTreeSet, VecDeque};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio::sync::watch;

/// How much of a target's output is kept for diagnostics.
pub const TAIL_BYTES: usize = 64 * 1024;

/// Process groups of live targets, so a signal handler can take them all down.
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn live_groups() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    // A panic while holding the lock leaves the set intact; keep using it.
    LIVE_GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// SIGKILL every registered target process group, and every process any
/// target left behind. Safe to call from anywhere, any number of times;
/// guards still deregister their groups when dropped.
pub fn kill_all() {
    for &pgid in live_groups().iter() {
        kill_group(pgid);
    }
    sweep(&format!("{}.", std::process::id()), None);
}

/// Environment variable marking a target and its descendants.
pub const MARKER_VAR: &str = "ARCP_CONFORM_TARGET";

/// Make the harness a child subreaper (Linux), so a target's orphans are
/// re-parented to it rather than to init, and can be reaped.
fn become_subreaper() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with integer arguments only.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
    });
}

/// Process-group ids of targets currently alive (registered and not yet dropped).
pub fn live_group_ids() -> Vec<i32> {
    live_groups().iter().copied().collect()
}

fn kill_group(pgid: i32) {
    // Guard against ever signalling group 0 or -1 (our own group / everyone).
    if pgid > 1 {
        // SAFETY: plain syscall; a stale group id at worst yields ESRCH.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// On SIGINT (Ctrl-C) or SIGTERM, kill every target group and exit with
/// 130 / 143, so an interrupted run leaves no orphaned targets behind.
/// Must be called inside a tokio runtime; later calls are no-ops. The signal
/// handlers are registered before this returns, so no early signal is lost.
pub fn install_ctrl_c_handler() {
    use tokio::signal::unix::{signal, SignalKind};
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        tokio::spawn(async move {
            let code = match (int, term) {
                (Ok(mut int), Ok(mut term)) => tokio::select! {
                    _ = int.recv() => 130,
                    _ = term.recv() => 143,
                },
                (Ok(mut int), Err(_)) => {
                    int.recv().await;
                    130
                }
                (Err(_), Ok(mut term)) => {
                    term.recv().await;
                    143
                }
                // No handler could be installed: default signal behaviour stays.
                (Err(_), Err(_)) => return,
            };
            kill_all();
            std::process::exit(code);
        });
    });
}

/// Extra settings for a spawned target.
#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    /// Environment variables added to the harness's own (e.g. `ARCP_CONFORM_URL`).
    pub env: Vec<(String, String)>,
    /// Working directory; the harness's own when `None`.
    pub cwd: Option<PathBuf>,
}

impl SpawnOptions {
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// Human wording of an exit status: "exited with status 3",
/// "was killed by signal 9 (SIGKILL)".
pub fn describe_status(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    match status.signal() {
        Some(sig) => {
            let name = match sig {
                libc::SIGHUP => " (SIGHUP)",
                libc::SIGINT => " (SIGINT)",
                libc::SIGABRT => " (SIGABRT)",
                libc::SIGKILL => " (SIGKILL)",
                libc::SIGSEGV => " (SIGSEGV)",
                libc::SIGPIPE => " (SIGPIPE)",
                libc::SIGTERM => " (SIGTERM)",
                _ => "",
            };
            format!("was killed by signal {sig}{name}")
        }
        None => status.to_string(),
    }
}

/// The last [`TAIL_BYTES`] of what a target wrote.
#[derive(Default)]
struct Ring {
    bytes: VecDeque<u8>,
    truncated: bool,
}

impl Ring {
    fn push(&mut self, chunk: &[u8]) {
        let chunk = if chunk.len() > TAIL_BYTES {
            self.truncated = true;
            self.bytes.clear();
            &chunk[chunk.len() - TAIL_BYTES..]
        } else {
            chunk
        };
        let excess = (self.bytes.len() + chunk.len()).saturating_sub(TAIL_BYTES);
        if excess > 0 {
            self.truncated = true;
            self.bytes.drain(..excess);
        }
        self.bytes.extend(chunk);
    }

    fn text(&self) -> String {
        let (a, b) = self.bytes.as_slices();
        let mut v = Vec::with_capacity(a.len() + b.len());
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        let s = String::from_utf8_lossy(&v);
        if self.truncated {
            format!("[...]{s}")
        } else {
            s.into_owned()
        }
    }
}

/// A cloneable view of a spawned target: exit status and output tail. Holding
/// one does not keep the process alive; only the [`ProcessGuard`] does.
#[derive(Clone)]
pub struct ProcessWatch {
    exit: watch::Receiver<Option<ExitStatus>>,
    tail: Arc<Mutex<Ring>>,
    /// Output pipes still open; the tail is complete once this reaches 0.
    open_pipes: watch::Receiver<usize>,
    /// Processes the target left behind outside its group, killed at its end.
    left: Arc<Mutex<Vec<String>>>,
}

impl ProcessWatch {
    /// The exit status, if the process has exited and been reaped.
    pub fn status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// Wait at most `timeout` for the process to exit.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let mut rx = self.exit.clone();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|s| s.is_some())).await;
        let status = waited.ok().and_then(|r| r.ok().and_then(|s| *s));
        status.or_else(|| self.status())
    }

    /// Wait at most `timeout` for the captured pipes to reach EOF, so that the
    /// tail holds everything a process that just died wrote. A grandchild that
    /// inherited the pipe can keep it open, hence the bound.
    pub async fn wait_output(&self, timeout: Duration) {
        let mut rx = self.open_pipes.clone();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|n| *n == 0)).await;
    }

    /// The last 64 KiB of the target's stderr (and stdout, for servers).
    pub fn stderr_tail(&self) -> String {
        self.tail.lock().unwrap_or_else(|e| e.into_inner()).text()
    }

    /// "exited with status 3" / "was killed by signal 9 (SIGKILL)", once it has exited.
    pub fn exit_status(&self) -> Option<String> {
        self.status().as_ref().map(describe_status)
    }

    /// Processes the target left behind (outside its process group), which
    /// the harness killed when the target was stopped.
    pub fn left_behind(&self) -> Vec<String> {
        self.left.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Owns a spawned target. Dropping it SIGKILLs the target's whole process
/// group; the child itself is reaped by a background task.
pub struct ProcessGuard {
    pgid: i32,
    /// This target's [`MARKER_VAR`] value.
    marker: String,
    command: String,
    /// Held (never written) for servers, so the target sees EOF on stdin only
    /// when we shut it down.
    stdin: Option<ChildStdin>,
    watch: ProcessWatch,
}

impl std::fmt::Debug for ProcessGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessGuard")
            .field("pgid", &self.pgid)
            .field("command", &self.command)
            .finish()
    }
}

impl ProcessGuard {
    /// Process id of the `sh -c` leader, which is also the process-group id.
    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    pub fn command(&self) -> &str {
        &self.command
    }

    pub fn watch(&self) -> ProcessWatch {
        self.watch.clone()
    }

    pub fn status(&self) -> Option<ExitStatus> {
        self.watch.status()
    }

    /// "exited with status 3" / "was killed by signal 9 (SIGKILL)", once it has exited.
    pub fn exit_status(&self) -> Option<String> {
        self.watch.exit_status()
    }

    pub fn stderr_tail(&self) -> String {
        self.watch.stderr_tail()
    }

    /// SIGKILL the whole process group now (the guard stays registered until dropped).
    pub fn kill(&self) {
        kill_group(self.pgid);
    }

    /// Graceful stop: close the target's stdin (if this guard holds it), give it
    /// `grace` to exit, then kill the group regardless, since the leader exiting
    /// does not mean its children did. Returns the leader's exit status if known.
    pub async fn shutdown(mut self, grace: Duration) -> Option<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.watch.wait_exit(grace).await {
            return Some(status);
        }
        self.kill();
        // Reaping after SIGKILL is near-immediate; the bound only guards
        // against a runtime that is shutting down.
        self.watch.wait_exit(Duration::from_secs(1)).await
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        kill_group(self.pgid);
        reap_group_soon(self.pgid);
        let left = sweep(&self.marker, Some(self.pgid));
        if !left.is_empty() {
            self.watch
                .left
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(left);
        }
        live_groups().remove(&self.pgid);
    }
}

/// Spawn `command` via `sh -c` in a new process group, with stdin and stdout
/// piped to the caller and stderr captured. Must run inside a tokio runtime.
pub fn spawn(
    command: &str,
    opts: &SpawnOptions,
) -> Result<(ProcessGuard, ChildStdin, ChildStdout), TransportError> {
    let (guard, stdin, stdout) = spawn_inner(command, opts, false)?;
    let stdin = stdin.ok_or_else(|| spawn_error(command, "stdin not piped"))?;
    let stdout = stdout.ok_or_else(|| spawn_error(command, "stdout not piped"))?;
    Ok((guard, stdin, stdout))
}

/// Spawn a target that the harness talks to by other means (a WebSocket
/// server): stdout and stderr both go to the tail, and stdin stays open,
/// held by the guard, until shutdown.
pub fn spawn_server(command: &str, opts: &SpawnOptions) -> Result<ProcessGuard, TransportError> {
    let (mut guard, stdin, _) = spawn_inner(command, opts, true)?;
    guard.stdin = stdin;
    Ok(guard)
}

fn spawn_error(command: &str, why: impl std::fmt::Display) -> TransportError {
    TransportError::Connect(format!("could not spawn `{command}`: {why}"))
}

fn spawn_inner(
    command: &str,
    opts: &SpawnOptions,
    stdout_to_tail: bool,
) -> Result<(ProcessGuard, Option<ChildStdin>, Option<ChildStdout>), TransportError> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let marker = format!(
        "{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    become_subreaper();
    let mut cmd = Command::new("sh");
    cmd.env(MARKER_VAR, &marker);
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    if let Some(dir) = &opts.cwd {
        cmd.current_dir(dir);
    }

    // Register under the lock before the child can be signalled by kill_all,
    // and so a concurrent kill_all cannot miss a just-spawned group.
    let mut groups = live_groups();
    let mut child = cmd.spawn().map_err(|e| spawn_error(command, e))?;
    let Some(pid) = child.id() else {
        return Err(spawn_error(command, "exited before it could be tracked"));
    };
    let pgid = pid as i32;
    groups.insert(pgid);
    drop(groups);

    let tail = Arc::new(Mutex::new(Ring::default()));
    let stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let mut pipes: Vec<Box<dyn AsyncRead + Send + Unpin>> = Vec::new();
    if let Some(e) = stderr {
        pipes.push(Box::new(e));
    }
    if stdout_to_tail {
        if let Some(o) = stdout.take() {
            pipes.push(Box::new(o));
        }
    }
    let (pipes_tx, open_pipes) = watch::channel(pipes.len());
    let pipes_tx = Arc::new(pipes_tx);
    for pipe in pipes {
        tokio::spawn(drain(pipe, tail.clone(), pipes_tx.clone()));
    }

    let (exit_tx, exit) = watch::channel(None);
    tokio::spawn(async move {
        // Reaps the leader; the status stays None only if wait() itself fails.
        if let Ok(status) = child.wait().await {
            exit_tx.send_replace(Some(status));
        }
    });

    let guard = ProcessGuard {
        pgid,
        marker,
        command: command.to_string(),
        stdin: None,
        watch: ProcessWatch {
            exit,
            tail,
            open_pipes,
            left: Arc::default(),
        },
    };
    Ok((guard, stdin, stdout))
}

async fn drain(
    mut pipe: Box<dyn AsyncRead + Send + Unpin>,
    tail: Arc<Mutex<Ring>>,
    open: Arc<watch::Sender<usize>>,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => tail
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(&buf[..n]),
        }
    }
    open.send_modify(|n| *n = n.saturating_sub(1));
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Tests run in parallel in one process, and `kill_all` would kill other
    /// tests' targets: tests that spawn hold this shared, the `kill_all` test
    /// holds it exclusively.
    pub(crate) static SPAWN_LOCK: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

    /// True while the group has a member that is not a zombie. Orphaned
    /// grandchildren are reaped by init, which may take a while in some
    /// containers; a zombie is dead, so it does not count.
    pub(crate) fn group_alive(pgid: i32) -> bool {
        // SAFETY: signal 0 only checks existence.
        if unsafe { libc::kill(-pgid, 0) } == -1 {
            return false;
        }
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return true;
        };
        dir.flatten().any(|e| {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                return false;
            };
            // Fields after the parenthesised command: state ppid pgrp ...
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                return false;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.len() > 2 && f[2] == pgid.to_string() && f[0] != "Z"
        })
    }

    pub(crate) async fn assert_group_gone(pgid: i32, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while group_alive(pgid) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "process group {pgid} still alive after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[test]
    fn ring_keeps_the_last_bytes() {
        let mut r = Ring::default();
        r.push(b"hello ");
        assert_eq!(r.text(), "hello ");
        r.push(&vec![b'x'; TAIL_BYTES]);
        r.push(b"end");
        let t = r.text();
        assert!(t.starts_with("[...]x"));
        assert!(t.ends_with("xend"));
        assert_eq!(t.len(), "[...]".len() + TAIL_BYTES);
        let mut r = Ring::default();
        r.push(&vec![b'y'; TAIL_BYTES * 2 + 1]);
        assert_eq!(r.bytes.len(), TAIL_BYTES);
    }

    #[tokio::test]
    async fn stderr_and_exit_status_are_captured() {
        let _l = SPAWN_LOCK.read().await;
        let (guard, _i, _o) = spawn(
            "echo \"oops $ARCP_CONFORM_URL\" >&2; exit 3",
            &SpawnOptions::default().env("ARCP_CONFORM_URL", "ws://x"),
        )
        .unwrap();
        let w = guard.watch();
        let status = w.wait_exit(Duration::from_secs(2)).await.unwrap();
        assert_eq!(status.code(), Some(3));
        w.wait_output(Duration::from_secs(1)).await;
        assert_eq!(guard.stderr_tail(), "oops ws://x\n");
        assert_eq!(guard.exit_status().as_deref(), Some("exited with status 3"));
    }

    #[tokio::test]
    async fn drop_kills_the_whole_group() {
        let _l = SPAWN_LOCK.read().await;
        let (guard, _i, _o) = spawn("sleep 1000 & sleep 1000", &SpawnOptions::default()).unwrap();
        let pgid = guard.pgid();
        assert!(live_group_ids().contains(&pgid));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(group_alive(pgid));
        drop(guard);
        assert!(!live_group_ids().contains(&pgid));
        assert_group_gone(pgid, Duration::from_secs(2)).await;
    }

    /// The pid a target printed on its first line.
    async fn printed_pid(out: ChildStdout) -> i32 {
        let mut line = String::new();
        let mut out = tokio::io::BufReader::new(out);
        tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line),
        )
        .await
        .expect("a pid on the first line")
        .unwrap();
        line.trim().parse().unwrap()
    }

    /// Wait (3 s at most) until `pid` is reaped: a zombie keeps its /proc
    /// entry until its parent waits for it.
    async fn assert_reaped(pid: i32) {
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "pid {pid} not reaped: {:?}",
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A member of the group whose parent exited first is re-parented to the
    /// harness (a subreaper); killed with the group, it is reaped, not left a
    /// zombie until the harness exits (seen with the Ruby SDK's wrapper).
    #[tokio::test]
    async fn members_re_parented_to_the_harness_are_reaped() {
        let _l = SPAWN_LOCK.read().await;
        let (guard, _i, out) = spawn(
            "(sleep 30721 & echo $!); exec sleep 1000",
            &SpawnOptions::default(),
        )
        .unwrap();
        let pid = printed_pid(out).await;
        // Re-parented to us once the subshell that forked it has exited.
        let parent = || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            stat.rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse::<u32>()
                .ok()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while parent() != Some(std::process::id()) {
            assert!(
                std::time::Instant::now() < deadline,
                "{pid} not re-parented"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(guard);
        assert_reaped(pid).await;
    }

    /// A member whose parent (here the leader) dies with it in the group
    /// kill is re-parented to the harness only as they die: it is reaped too.
    #[tokio::test]
    async fn members_dying_with_their_parent_are_reaped() {
        let _l = SPAWN_LOCK.read().await;
        for _ in 0..5 {
            let (guard, _i, out) =
                spawn("sleep 30722 & echo $!; wait", &SpawnOptions::default()).unwrap();
            let pid = printed_pid(out).await;
            drop(guard);
            assert_reaped(pid).await;
        }
    }

    /// Escapees whose parent already exited (re-parented to the harness)
    /// and escapees whose parent is a live member of the group are both
    /// found when the target stops; nothing else is.
    #[tokio::test]
    async fn escapees_are_killed_whoever_their_parent_is() {
        let _l = SPAWN_LOCK.read().await;
        let (guard, _i, _o) = spawn(
            "(setsid sleep 30711 &); setsid sleep 30712 & sleep 1000",
            &SpawnOptions::default(),
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let w = guard.watch();
        drop(guard);
        let mut left = w.left_behind();
        left.sort();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left.iter().all(|l| l.contains("(`sleep`)")), "{left:?}");
    }

    #[tokio::test]
    async fn shutdown_closes_stdin_then_kills() {
        let _l = SPAWN_LOCK.read().await;
        // A server that exits on stdin EOF stops gracefully.
        let g = spawn_server("read x; exit 4", &SpawnOptions::default()).unwrap();
        let status = g.shutdown(Duration::from_secs(2)).await.unwrap();
        assert_eq!(status.code(), Some(4));
        // One that ignores stdin is killed after the grace period.
        let g = spawn_server("exec sleep 1000", &SpawnOptions::default()).unwrap();
        let pgid = g.pgid();
        let started = std::time::Instant::now();
        let status = g.shutdown(Duration::from_millis(100)).await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_group_gone(pgid, Duration::from_secs(2)).await;
    }

    /// Runs only as a child of `interrupt_kills_targets_and_exits_130`.
    #[tokio::test]
    #[ignore = "helper process for interrupt_kills_targets_and_exits_130"]
    async fn interrupt_helper() {
        if std::env::var_os("ARCP_INTERRUPT_HELPER").is_none() {
            return;
        }
        install_ctrl_c_handler();
        let g = spawn_server("sleep 1000 & sleep 1000", &SpawnOptions::default()).unwrap();
        println!("pgid:{}", g.pgid());
        tokio::time::sleep(Duration::from_secs(10)).await;
    }

    #[tokio::test]
    async fn interrupt_kills_targets_and_exits_130() {
        use crate::transport::{stdio, Inbound, TransportOptions};
        let _l = SPAWN_LOCK.read().await;
        let exe = std::env::current_exe().unwrap();
        let cmd = format!(
            "exec '{}' --exact transport::process::tests::interrupt_helper --ignored --nocapture",
            exe.display()
        );
        let spawn = SpawnOptions::default().env("ARCP_INTERRUPT_HELPER", "1");
        let mut c = stdio::connect_with(&cmd, &TransportOptions::default(), &spawn)
            .await
            .unwrap();
        let t = Duration::from_secs(5);
        let target = loop {
            match c.recv(t).await.unwrap() {
                Inbound::Frame(f) => {
                    if let Some(n) = f.strip_prefix("pgid:") {
                        break n.parse::<i32>().unwrap();
                    }
                }
                other => panic!("unexpected {other:?}; stderr: {}", c.stderr_tail()),
            }
        };
        assert!(group_alive(target));
        let helper = c.process.as_ref().unwrap().pgid();
        // SAFETY: signals our own child, which `exec`ed the helper.
        unsafe { libc::kill(helper, libc::SIGINT) };
        loop {
            match c.recv(t).await.unwrap() {
                Inbound::Frame(_) => continue,
                Inbound::Closed(reason) => {
                    assert!(reason.contains("exited with status 130"), "{reason}");
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_group_gone(target, Duration::from_secs(2)).await;
    }

    #[tokio::test]
    async fn kill_all_kills_registered_groups() {
        let _l = SPAWN_LOCK.write().await;
        let a = spawn_server("sleep 1000", &SpawnOptions::default()).unwrap();
        let b = spawn_server("sleep 1000 & sleep 1000", &SpawnOptions::default()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        kill_all();
        for g in [&a, &b] {
            assert_group_gone(g.pgid(), Duration::from_secs(2)).await;
            let s = g.watch().wait_exit(Duration::from_secs(2)).await.unwrap();
            assert_eq!(s.signal(), Some(libc::SIGKILL));
        }
        // Still registered until dropped.
        assert!(live_group_ids().contains(&a.pgid()));
        let pgid = a.pgid();
        drop(a);
        assert!(!live_group_ids().contains(&pgid));
    }
}
