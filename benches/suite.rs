//! Wall time of the whole runtime suite: against the embedded reference
//! runtime (in memory) on virtual time and on sped-up wall time, and against
//! `arcp-conform serve --stdio` (a process per session).
//! `cargo bench --bench suite`. Quote ratios from one run.

use arcp_conform::engine::runner::{run_all, RunOptions};
use arcp_conform::engine::EngineOptions;
use arcp_conform::profile::Profile;
use arcp_conform::target::{
    suite_runtime_config, virtual_runtime_config, Target, EMBEDDED_TIME_SCALE,
};
use arcp_conform::transport::TransportOptions;
use arcp_conform::verdict::Verdict;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
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
    println!("suite: {} cases, --jobs {jobs}", cases.len());
    for (name, target, rt) in targets {
        let target = Arc::new(target);
        for round in 0..3 {
            let t0 = Instant::now();
            let results = rt.block_on(run_all(
                cases.clone(),
                target.clone(),
                RunOptions::new(jobs, EngineOptions::default()),
                |_| {},
            ));
            let wall = t0.elapsed().as_secs_f64();
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
        }
    }
}
