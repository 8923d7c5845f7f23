//! Wall time of the whole runtime suite: against the embedded reference
//! runtime (in memory) on virtual time and on sped-up wall time, and against
//! `arcp-conform serve --stdio` (a process per session).
//! `cargo bench --bench suite`. Quote ratios from one run.
//!
//! For the stdio target (its sessions are reaped child processes) each round
//! also prints the CPU each side spent per frame: the harness (this process,
//! RUSAGE_SELF) against the target (RUSAGE_CHILDREN).

use arcp_conform::engine::runner::{run_all, RunOptions};
use arcp_conform::engine::EngineOptions;
use arcp_conform::profile::Profile;
use arcp_conform::target::{
    suite_runtime_config, virtual_runtime_config, Target, EMBEDDED_TIME_SCALE,
};
use arcp_conform::transport::TransportOptions;
use arcp_conform::verdict::{Direction, Verdict};
use std::sync::Arc;
use std::time::Instant;

mod common;
use common::cpu;

fn main() {
    // As `arcp-conform run` has it: one thread for wall-time runs.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cases: Vec<_> = arcp_conform::suite::runtime_suite()
        .unwrap()
        .into_iter()
        .map(Arc::new)
        .collect();
    let jobs: usize = std::env::var("JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(32);
    let bin = env!("CARGO_BIN_EXE_arcp-conform");
    // The virtual-time row runs on its own paused runtime; the others on
    // wall time.
    let paused = arcp_conform::clock::virtual_runtime();
    let virtual_target = paused.block_on(async { Target::embedded(virtual_runtime_config()) });
    let targets: Vec<(&str, Target, &tokio::runtime::Runtime)> = vec![
        ("embedded, virtual time", virtual_target, &paused),
        (
            "embedded, time x10",
            Target::embedded(suite_runtime_config(EMBEDDED_TIME_SCALE)),
            &rt,
        ),
        (
            "serve --stdio",
            rt.block_on(Target::external(
                &format!("{bin} serve --stdio --time-scale 10 --heartbeat 5 --resume-window 20 --replay-buffer 2000"),
                Profile {
                    time_scale: 10.0,
                    ..Profile::default()
                },
                TransportOptions::default(),
            ))
            .unwrap(),
            &rt,
        ),
    ];
    // ROUNDS and ONLY (a substring of a row's name) shorten a measuring session.
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let only = std::env::var("ONLY").unwrap_or_default();
    println!("suite: {} cases, --jobs {jobs}", cases.len());
    for (name, target, rt) in targets.into_iter().filter(|t| t.0.contains(&only)) {
        let external = matches!(target.kind, arcp_conform::target::Kind::Stdio(_));
        let target = Arc::new(target);
        for round in 0..rounds {
            let (self0, kids0) = cpu();
            let t0 = Instant::now();
            let results = rt.block_on(run_all(
                cases.clone(),
                target.clone(),
                RunOptions::new(jobs, EngineOptions::default()),
                |_| {},
            ));
            let wall = t0.elapsed().as_secs_f64();
            let (self1, kids1) = cpu();
            let pass = results
                .iter()
                .filter(|r| r.outcome.verdict == Verdict::Pass)
                .count();
            let busy: f64 = results
                .iter()
                .map(|r| r.outcome.duration.as_secs_f64())
                .sum();
            println!(
                "{name:<24} round {round}: {:>6.2} s wall, {:>6.1} cases/s, {pass}/{} PASS, {:.2} s summed case time",
                wall,
                results.len() as f64 / wall,
                results.len(),
                busy
            );
            let frames: usize = results
                .iter()
                .map(|r| {
                    r.outcome
                        .wire
                        .iter()
                        .filter(|w| w.dir != Direction::Note)
                        .count()
                })
                .sum();
            if external && frames > 0 {
                let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / frames as f64;
                let (h, t) = (per(self1 - self0), per(kids1 - kids0));
                println!(
                    "{:<24} CPU per frame ({frames} frames): harness {h:.0} µs, target {t:.0} µs (harness/target {:.2})",
                    "",
                    h / t.max(1e-9)
                );
            }
        }
    }
}
