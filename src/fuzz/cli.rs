//! The `fuzz` subcommand's flags and driver.

use super::{FuzzOptions, FuzzReport};
use crate::args::UsageError;
use crate::engine::EngineOptions;
use crate::target::Target;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct FuzzArgs {
    /// Seed of the generator (default: from the clock; printed either way).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after N iterations (default 100 unless --duration is given).
    #[arg(long, value_name = "N")]
    pub iterations: Option<u64>,
    /// Stop starting iterations after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// The runtime to fuzz: a shell command speaking NDJSON on stdio, or a ws:// URL.
    /// Without it, the embedded reference runtime.
    #[arg(long, short = 't', value_name = "CMD|URL")]
    pub target: Option<String>,
    /// Target profile (YAML): tokens, agent roles, time scale, dialect.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Switch on a fault in the embedded runtime (repeatable).
    #[arg(long, value_name = "NAME")]
    pub fault: Vec<String>,
    /// Write reproducers (case files) here.
    #[arg(long, default_value = "fuzz-findings", value_name = "DIR")]
    pub out: PathBuf,
    /// Iterations run at once.
    #[arg(long, short = 'j', default_value_t = 2, value_name = "N")]
    pub jobs: usize,
    /// Most actions per iteration.
    #[arg(long, default_value_t = 14, value_name = "N")]
    pub max_actions: usize,
    /// Stop after this many distinct findings.
    #[arg(long, value_name = "N")]
    pub max_findings: Option<usize>,
    /// Most runs spent shrinking one finding (0: write it unshrunk).
    #[arg(long, default_value_t = 150, value_name = "N")]
    pub shrink_runs: usize,
    /// Multiply every deadline by this factor.
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    pub timeout_scale: f64,
    /// Protocol seconds per wall second of the target (default: virtual time
    /// for the embedded runtime, else the profile's).
    #[arg(long, value_name = "F")]
    pub time_scale: Option<f64>,
    /// Largest frame accepted from the target, in bytes.
    #[arg(long, default_value_t = crate::transport::DEFAULT_FRAME_CAP, value_name = "BYTES")]
    pub frame_cap: usize,
    /// Skip JSON Schema validation of received frames (as `run --no-schema`).
    #[arg(long)]
    pub no_schema: bool,
    /// Print only findings and the summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

async fn build_target(a: &FuzzArgs) -> Result<Target, UsageError> {
    crate::args::make_target(
        a.target.clone(),
        a.profile.as_deref(),
        a.timeout_scale,
        a.time_scale,
        a.frame_cap,
        &a.fault,
    )
    .await
}

/// Print the summary of a run.
pub fn summary(r: &FuzzReport, target: &str) -> String {
    let mut s = format!(
        "arcp-conform fuzz: seed {}, {} iterations in {:.1}s ({:.1} iterations/s, {} frames, {:.0} frames/s) against {}\n",
        r.seed,
        r.iterations,
        r.elapsed.as_secs_f64(),
        r.iterations_per_sec(),
        r.frames,
        r.frames_per_sec(),
        target
    );
    let shrink_runs: usize = r.findings.iter().map(|f| f.shrink_runs).sum();
    s.push_str(&format!(
        "{} finding(s){}, {} repeat(s) of known ones{}\n",
        r.findings.len(),
        match r
            .findings
            .iter()
            .filter(|f| !f.verdict.fails_run(false))
            .count()
        {
            0 => String::new(),
            n => format!(" ({n} under a sentence without MUST: INFO/WARN, not failing the run)"),
        },
        r.repeats,
        if shrink_runs > 0 {
            format!(" (the time includes {shrink_runs} shrinking runs)")
        } else {
            String::new()
        }
    ));
    for f in &r.findings {
        s.push_str(&format!(
            "  {} ({}; replays {}, {}/{} reproduced; hit by {} iteration(s)) {}\n",
            f.signature,
            f.verdict.label(),
            f.replay.label(),
            f.reproduced,
            super::REPLAYS,
            f.hits,
            f.path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ));
        s.push_str(&format!("    provoked by: {}\n", f.triggers.join(", ")));
    }
    for e in &r.errors {
        s.push_str(&format!("fuzzer problem: {e}\n"));
    }
    s
}

/// `arcp-conform fuzz`. Exit code: 0 nothing found (or only INFO/WARN
/// findings: no MUST behind them), 1 a FAIL or ERROR finding, 2 bad usage,
/// 3 the target could not be started or reached (or failed the handshake).
pub async fn command(a: FuzzArgs) -> Result<i32, UsageError> {
    crate::args::check_jobs(Some(a.jobs))?;
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    if let Some(d) = a.duration {
        if !(d > 0.0 && d.is_finite()) {
            return Err(UsageError("--duration must be a positive number".into()));
        }
    }
    let mut target = build_target(&a).await?;
    let engine = EngineOptions {
        timeout_scale: a.timeout_scale,
        schema: !a.no_schema,
        limits: None,
    };
    // As in a run: a profile that does not spell the hello lets the harness
    // find the hello dialect the target speaks (the spec-shaped failure is
    // the runtime suite's probe.handshake finding, said here once).
    if !target.is_embedded() && target.profile.dialect.hello_is_spec() {
        if let Some(o) = crate::engine::handshake::find_dialect(&mut target, &engine).await {
            eprintln!("arcp-conform fuzz: {}", crate::redact::output(&o.reason));
        }
    }
    let target = Arc::new(target);
    let base = super::model::ModelConfig {
        max_actions: a.max_actions.max(2),
        ..Default::default()
    };
    let model = match super::model_config(&target, &engine, &base).await {
        Ok(m) => m,
        Err(o) => {
            // Nothing was fuzzed, so nothing was found: not exit code 1.
            eprintln!(
                "arcp-conform fuzz: the target failed the handshake probe: {}",
                crate::redact::output(&o.reason)
            );
            return Ok(crate::args::EXIT_UNREACHABLE);
        }
    };
    let opts = FuzzOptions {
        seed,
        iterations: a.iterations,
        duration: a.duration.map(Duration::from_secs_f64),
        jobs: a.jobs.max(1),
        max_findings: a.max_findings,
        out: Some(a.out.clone()),
        shrink_runs: a.shrink_runs,
        engine,
        model,
        target_arg: a.target.clone(),
        faults: a.fault.clone(),
        // A runtime per core, where the target allows it (`FuzzOptions::threads`).
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ..FuzzOptions::default()
    };
    if !a.quiet {
        crate::report::console::println(&format!(
            "arcp-conform fuzz: seed {seed} against {}{}",
            target.describe(),
            if a.fault.is_empty() {
                String::new()
            } else {
                format!(" (faults: {})", a.fault.join(", "))
            }
        ));
    }
    let report = super::fuzz(target.clone(), opts, |f| {
        crate::report::console::println(&format!(
            "finding: {} ({}) at iteration {}, provoked by {}, shrunk {} -> {} actions{}",
            f.signature,
            f.verdict.label(),
            f.iteration,
            f.triggers.join(", "),
            f.original_actions,
            f.actions.len(),
            f.path
                .as_ref()
                .map(|p| format!(": {}", p.display()))
                .unwrap_or_default()
        ));
    })
    .await;
    crate::report::console::print(&summary(&report, &target.describe()));
    // A finding under a sentence without MUST (INFO, WARN) is reported and
    // written, but is no spec violation: it does not fail the run.
    let violated = report.findings.iter().any(|f| f.verdict.fails_run(false));
    Ok(if !violated && report.errors.is_empty() {
        0
    } else {
        1
    })
}
