//! `cargo bench --bench fuzz`: throughput of the protocol fuzzer and of the
//! frame path it drives, against the embedded reference runtime (in memory)
//! and against `arcp-conform serve --stdio` (a child process per session).
//!
//! FUZZ_BENCH_ITERATIONS (default 300) sets the iterations per fuzz row,
//! FUZZ_BENCH_SECS (default 2) the length of each ping/pong row.

use arcp_conform::engine::EngineOptions;
use arcp_conform::fuzz::{self, FuzzOptions};
use arcp_conform::profile::Profile;
use arcp_conform::target::{suite_runtime_config, Target, EMBEDDED_TIME_SCALE};
use arcp_conform::transport::{Inbound, TransportOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
async fn fuzz_row(label: &str, target: Arc<Target>, jobs: usize, iterations: u64) {
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
        shrink_runs: 0,
        engine,
        model,
        ..FuzzOptions::default()
    };
    let r = fuzz::fuzz(target, opts, |_| {}).await;
    println!(
        "{label:<44} {:>9.1} iterations/s {:>10.0} frames/s   ({} iterations, {} frames, {:.1}s, {} findings)",
        r.iterations_per_sec(),
        r.frames_per_sec(),
        r.iterations,
        r.frames,
        r.elapsed.as_secs_f64(),
        r.findings.len()
    );
}

/// Raw frame path: ping/pong round trips on one session, `window` in flight.
async fn ping_row(label: &str, target: &Target, secs: f64, window: usize) {
    let instance = target.instance();
    let Ok(mut conn) = target.connect(&instance).await else {
        println!("{label:<44} cannot connect");
        return;
    };
    let hello = r#"{"arcp":"1.1","id":"msg_01HAAAAAAAAAAAAAAAAAAAAAAA","type":"session.hello","payload":{"auth":{"scheme":"bearer","token":"tok-alice"},"capabilities":{"encodings":["json"],"features":[]}}}"#;
    let _ = conn.send(hello.to_string()).await;
    let _ = conn.recv(Duration::from_secs(5)).await;
    let ping = r#"{"arcp":"1.1","id":"msg_01HAAAAAAAAAAAAAAAAAAAAAAA","type":"session.ping","payload":{"nonce":"bench"}}"#;
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
}

fn main() {
    let iterations = env_num("FUZZ_BENCH_ITERATIONS", 300.0) as u64;
    let secs = env_num("FUZZ_BENCH_SECS", 2.0);
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        println!("arcp-conform fuzz benchmark (seed 1, no shrinking)\n");
        let embedded = || Arc::new(Target::embedded(suite_runtime_config(EMBEDDED_TIME_SCALE)));
        fuzz_row("fuzz, embedded runtime, in memory, jobs 1", embedded(), 1, iterations).await;
        fuzz_row("fuzz, embedded runtime, in memory, jobs 2", embedded(), 2, iterations).await;
        ping_row("frames, embedded runtime, in memory", &embedded(), secs, 1).await;
        ping_row("frames, embedded runtime, in memory", &embedded(), secs, 64).await;
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
        fuzz_row("fuzz, serve --stdio (a process per session)", stdio.clone(), 2, n).await;
        ping_row("frames, serve --stdio", &stdio, secs, 1).await;
        ping_row("frames, serve --stdio", &stdio, secs, 64).await;
        println!("\nstdio binary: {}", bin.display());
    });
}
