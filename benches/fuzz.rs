//! `cargo bench --bench fuzz`: throughput of the protocol fuzzer and of the
//! frame path it drives, against the embedded reference runtime (in memory)
//! and against `arcp-conform serve --stdio` (a child process per session).
//!
//! FUZZ_BENCH_ITERATIONS (default 300) sets the iterations per fuzz row,
//! FUZZ_BENCH_SECS (default 2) the length of each ping/pong row.

use arcp_conform::engine::EngineOptions;
use arcp_conform::fuzz::{self, FuzzOptions};
use arcp_conform::profile::Profile;
use arcp_conform::target::{
    suite_runtime_config, virtual_runtime_config, Target, EMBEDDED_TIME_SCALE,
};
use arcp_conform::transport::{Inbound, TransportOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::cpu;

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The arcp-conform binary: Cargo's path when it gives one, else next to
/// this bench executable (target/<profile>/deps/fuzz-* -> target/<profile>/).
fn binary() -> Option<PathBuf> {
    if let Some(p) = option_env!("CARGO_BIN_EXE_arcp-conform") {
        let p = PathBuf::from(p);
        if p.exists() {
            return Some(p);
        }
    }
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let target_dir = profile_dir.parent()?;
    [
        profile_dir.join("arcp-conform"),
        target_dir.join("release/arcp-conform"),
        target_dir.join("debug/arcp-conform"),
    ]
    .into_iter()
    .find(|p| p.exists())
}

/// Iterations of the fuzz loop (no shrinking): iterations/s and frames/s.
/// For a target in child processes, also the CPU each side spent per frame:
/// the harness (this process) against the target (its reaped children).
async fn fuzz_row(label: &str, target: Arc<Target>, jobs: usize, threads: usize, iterations: u64) {
    let engine = EngineOptions::default();
    let model = match fuzz::model_config(&target, &engine, &Default::default()).await {
        Ok(m) => m,
        Err(o) => {
            println!("{label:<44} probe failed: {}", o.reason);
            return;
        }
    };
    let opts = FuzzOptions {
        seed: 1,
        iterations: Some(iterations),
        jobs,
        threads,
        shrink_runs: 0,
        engine,
        model,
        ..FuzzOptions::default()
    };
    // Stdio targets run as reaped child processes, so their CPU time shows up
    // in RUSAGE_CHILDREN; a WebSocket server started once would not.
    let external = matches!(target.kind, arcp_conform::target::Kind::Stdio(_));
    let (self0, kids0) = cpu();
    let r = fuzz::fuzz(target, opts, |_| {}).await;
    let (self1, kids1) = cpu();
    println!(
        "{label:<44} {:>9.1} iterations/s {:>10.0} frames/s   ({} iterations, {} frames, {:.1}s, {} findings)",
        r.iterations_per_sec(),
        r.frames_per_sec(),
        r.iterations,
        r.frames,
        r.elapsed.as_secs_f64(),
        r.findings.len()
    );
    // The reference runtime has no bugs to find: a finding there is the
    // harness's, and the figure above is not a clean measurement.
    if !external {
        for f in &r.findings {
            println!(
                "{:<44} finding: {} ({}): {}",
                "", f.signature, f.verdict, f.reason
            );
        }
    }
    if external && r.frames > 0 {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / r.frames as f64;
        let (h, t) = (per(self1 - self0), per(kids1 - kids0));
        println!(
            "{:<44} CPU per frame: harness {h:.0} µs, target {t:.0} µs (harness/target {:.2})",
            "",
            h / t.max(1e-9)
        );
    }
}

/// Raw frame path: ping/pong round trips on one session, `window` in flight.
/// For a stdio target, also the CPU each side spent per frame (the session's
/// process is reaped when it shuts down, so its CPU is in RUSAGE_CHILDREN).
async fn ping_row(label: &str, target: &Target, secs: f64, window: usize) {
    let external = matches!(target.kind, arcp_conform::target::Kind::Stdio(_));
    let (self0, kids0) = cpu();
    let instance = target.instance();
    let Ok(mut conn) = target.connect(&instance).await else {
        println!("{label:<44} cannot connect");
        return;
    };
    let token = &target.profile.tokens.alice;
    let hello = format!(
        r#"{{"arcp":"1.1","id":"msg_01HAAAAAAAAAAAAAAAAAAAAAAA","type":"session.hello","payload":{{"client":{{"name":"arcp-conform-bench","version":"0.1.0"}},"auth":{{"scheme":"bearer","token":"{token}"}},"capabilities":{{"encodings":["json"],"features":[]}}}}}}"#
    );
    let _ = conn.send(hello).await;
    match conn.recv(Duration::from_secs(5)).await {
        Ok(Inbound::Frame(f)) if f.contains("session.welcome") => {}
        other => {
            println!("{label:<44} no welcome: {other:?}");
            return;
        }
    }
    let ping = r#"{"arcp":"1.1","id":"msg_01HAAAAAAAAAAAAAAAAAAAAAAA","type":"session.ping","payload":{"nonce":"bench","sent_at":"2026-01-01T00:00:00Z"}}"#;
    let start = Instant::now();
    let mut frames = 0u64;
    let mut in_flight = 0usize;
    while start.elapsed().as_secs_f64() < secs {
        while in_flight < window {
            if conn.send(ping.to_string()).await.is_err() {
                break;
            }
            in_flight += 1;
            frames += 1;
        }
        match conn.recv(Duration::from_secs(5)).await {
            Ok(Inbound::Frame(_)) => {
                in_flight -= 1;
                frames += 1;
            }
            _ => break,
        }
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "{label:<44} {:>10.0} frames/s   (ping/pong, {window} in flight, {frames} frames in {t:.1}s)",
        frames as f64 / t
    );
    let _ = conn.shutdown(Duration::from_millis(200)).await;
    drop(instance);
    let (self1, kids1) = cpu();
    if external && frames > 0 {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / frames as f64;
        let (h, t) = (per(self1 - self0), per(kids1 - kids0));
        println!(
            "{:<44} CPU per frame: harness {h:.1} µs, target {t:.1} µs (harness/target {:.2})",
            "",
            h / t.max(1e-9)
        );
    }
}

/// The Python SDK target over stdio, when its venv exists
/// (`bash targets/python/setup.sh`): FUZZ_BENCH_PYTHON_ITERATIONS (default 6).
async fn python_rows() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if !root.join("targets/python/.venv/bin/python").exists() {
        println!(
            "(no targets/python/.venv: `bash targets/python/setup.sh` for the Python SDK rows)"
        );
        return;
    }
    // The profile names its command relative to the repository root.
    let _ = std::env::set_current_dir(&root);
    let profile = match Profile::load(&root.join("targets/python/profile.yaml")) {
        Ok(p) => p,
        Err(e) => {
            println!("Python SDK profile: {e}");
            return;
        }
    };
    let Some(cmd) = profile.target.clone() else {
        println!("Python SDK profile names no target");
        return;
    };
    let t = match Target::external(&cmd, profile, TransportOptions::default()).await {
        Ok(t) => Arc::new(t),
        Err(e) => {
            println!("Python SDK target: {e}");
            return;
        }
    };
    let n = env_num("FUZZ_BENCH_PYTHON_ITERATIONS", 6.0) as u64;
    fuzz_row("fuzz, Python SDK over stdio", t.clone(), 2, 1, n).await;
    ping_row("frames, Python SDK over stdio", &t, 2.0, 1).await;
    ping_row("frames, Python SDK over stdio", &t, 2.0, 64).await;
}

fn main() {
    let iterations = env_num("FUZZ_BENCH_ITERATIONS", 300.0) as u64;
    let secs = env_num("FUZZ_BENCH_SECS", 2.0);
    println!("arcp-conform fuzz benchmark (seed 1, no shrinking)\n");
    // In memory on virtual time (a paused runtime), as `fuzz` runs it.
    arcp_conform::clock::virtual_runtime().block_on(async {
        let embedded = || Arc::new(Target::embedded(virtual_runtime_config()));
        fuzz_row(
            "fuzz, embedded, virtual time, jobs 1",
            embedded(),
            1,
            1,
            iterations,
        )
        .await;
        fuzz_row(
            "fuzz, embedded, virtual time, jobs 2",
            embedded(),
            2,
            1,
            iterations,
        )
        .await;
        // As `fuzz` runs it: a virtual-time runtime per core.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        fuzz_row(
            &format!("fuzz, embedded, virtual time, jobs 2, {cores} threads"),
            embedded(),
            2,
            cores,
            iterations,
        )
        .await;
        ping_row("frames, embedded, virtual time", &embedded(), secs, 1).await;
        ping_row("frames, embedded, virtual time", &embedded(), secs, 64).await;
    });
    // As the CLI runs wall-time sessions: one thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let embedded = || Arc::new(Target::embedded(suite_runtime_config(EMBEDDED_TIME_SCALE)));
        fuzz_row("fuzz, embedded, time x10, jobs 2", embedded(), 2, 1, iterations).await;
        ping_row("frames, embedded, time x10", &embedded(), secs, 64).await;
        let Some(bin) = binary() else {
            println!("\n(no arcp-conform binary found next to the bench: `cargo build --release` for the stdio rows)");
            return;
        };
        let spec = format!(
            "{} serve --stdio --time-scale {EMBEDDED_TIME_SCALE} --heartbeat 5 --resume-window 20",
            bin.display()
        );
        let profile = Profile {
            time_scale: EMBEDDED_TIME_SCALE,
            ..Profile::default()
        };
        let stdio = match Target::external(&spec, profile, TransportOptions::default()).await {
            Ok(t) => Arc::new(t),
            Err(e) => {
                println!("stdio target: {e}");
                return;
            }
        };
        let n = (iterations / 3).max(10);
        fuzz_row("fuzz, serve --stdio (a process per session)", stdio.clone(), 2, 1, n).await;
        ping_row("frames, serve --stdio", &stdio, secs, 1).await;
        ping_row("frames, serve --stdio", &stdio, secs, 64).await;
        println!("\nstdio binary: {}", bin.display());
        python_rows().await;
    });
}
