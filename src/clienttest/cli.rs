//! The `client`, `driver` and `relay` commands (dispatched by [`crate::cli`]; shared flags in [`crate::args`]).

use super::{ClientTarget, ClientTransport};
use crate::args::UsageError;
use crate::case::{Case, Role};
use crate::client::{ClientFault, ClientFaults};
use crate::engine::runner::{CaseResult, RunOptions};
use crate::engine::EngineOptions;
use crate::report::RunReport;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// `arcp-conform client`: run the client suite against a client's driver.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// Shell command starting the client's driver (docs/client-driver.md); started once per case.
    #[arg(long, short = 't', value_name = "CMD")]
    target: String,
    /// How the driver reaches the harness: ws (ARCP_CONFORM_URL) or stdio (ARCP_CONFORM_RUNTIME_CMD).
    #[arg(long, value_enum, default_value_t = ClientTransport::Ws)]
    transport: ClientTransport,
    /// (stdio) This tool as the driver runs it, for ARCP_CONFORM_RUNTIME_CMD (`CMD relay URL`):
    /// e.g. `arcp-conform` on the driver's PATH, or its path inside the driver's container
    /// or chroot (default: this executable's absolute host path).
    #[arg(long, value_name = "CMD")]
    relay_cmd: Option<String>,
    /// Name of the client in reports (default: the command).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Read client cases from this directory instead of the embedded suite.
    #[arg(long, value_name = "DIR")]
    cases: Option<PathBuf>,
    /// Run only this case file (repeatable).
    #[arg(long = "case", value_name = "FILE")]
    case_files: Vec<PathBuf>,
    /// Only cases whose id matches this glob (repeatable), e.g. 'client.resume.*'.
    #[arg(long, short = 's', value_name = "GLOB")]
    select: Vec<String>,
    /// Only cases with this tag (repeatable).
    #[arg(long, value_name = "TAG")]
    tag: Vec<String>,
    /// Cases run at once (each starts its own driver).
    #[arg(long, short = 'j', default_value_t = 4, value_name = "N")]
    jobs: usize,
    /// Multiply every deadline by this factor (slow clients, loaded machines).
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    timeout_scale: f64,
    /// Skip JSON Schema validation of the client's frames.
    #[arg(long)]
    no_schema: bool,
    #[command(flatten)]
    output: crate::args::OutputArgs,
}

/// `arcp-conform driver`: the reference client as a driver.
#[derive(Args, Debug, Clone)]
pub struct DriverArgs {
    /// Switch on a client fault (repeatable; see --list-faults).
    #[arg(long, value_name = "NAME")]
    fault: Vec<String>,
    /// List the client faults and exit.
    #[arg(long)]
    list_faults: bool,
}

/// Load and filter client cases.
pub fn select(args: &ClientArgs) -> Result<Vec<Case>, UsageError> {
    let cases = if args.cases.is_some() || !args.case_files.is_empty() {
        crate::suite::from_paths(args.cases.as_deref(), &args.case_files)?
    } else {
        super::client_suite()?
    };
    let globs = crate::args::select_globs(&args.select)?;
    let picked: Vec<Case> = cases
        .into_iter()
        .filter(|c| c.role == Role::Client)
        .filter(|c| globs.is_empty() || globs.iter().any(|g| g.is_match(&c.id)))
        .filter(|c| args.tag.is_empty() || args.tag.iter().any(|t| c.tags.contains(t)))
        .collect();
    if picked.is_empty() {
        return Err(UsageError(
            "the selection matches no `role: client` case".into(),
        ));
    }
    Ok(picked)
}

pub async fn run(args: ClientArgs) -> Result<i32, UsageError> {
    if !(args.timeout_scale > 0.0 && args.timeout_scale.is_finite()) {
        return Err(UsageError(
            "--timeout-scale must be a positive number".into(),
        ));
    }
    crate::args::check_target(Some(&args.target))?;
    crate::args::check_jobs(Some(args.jobs))?;
    let cases = select(&args)?;
    let mut target = ClientTarget::new(args.target.clone(), args.transport);
    if let Some(n) = &args.name {
        target.name = n.clone();
    }
    if let Some(r) = &args.relay_cmd {
        if r.trim().is_empty() {
            return Err(UsageError("--relay-cmd must not be empty".into()));
        }
        target.relay = r.clone();
    }
    let target = Arc::new(target);
    let baseline = args.output.baseline()?;
    let total = cases.len();
    let quiet = args.output.quiet;
    if !quiet {
        crate::report::console::println(&format!(
            "arcp-conform {}: {total} client cases against {}",
            env!("CARGO_PKG_VERSION"),
            target.describe()
        ));
    }
    let opts = RunOptions::new(
        args.jobs.max(1),
        EngineOptions {
            timeout_scale: args.timeout_scale,
            schema: !args.no_schema,
            limits: None,
        },
    );
    let started_at = crate::clock::timestamp(chrono::Utc::now());
    let t0 = Instant::now();
    let results: Vec<CaseResult> = super::runner::run_all(
        cases.into_iter().map(Arc::new).collect(),
        target.clone(),
        opts,
        args.output.progress(total, baseline.as_ref()),
    )
    .await;
    let mut report = RunReport::new(
        target.name.clone(),
        target.describe(),
        started_at,
        t0.elapsed(),
        &results,
        super::checks::ALL,
    );
    report.subset = !(args.select.is_empty() && args.tag.is_empty());
    args.output.finish(report, baseline.as_ref())
}

pub async fn driver(args: DriverArgs) -> Result<i32, UsageError> {
    if args.list_faults {
        for f in ClientFault::ALL {
            crate::report::console::println(&format!("{:<24} {}", f.name(), f.describe()));
        }
        return Ok(0);
    }
    let faults: ClientFaults = args
        .fault
        .iter()
        .map(|n| {
            ClientFault::parse(n).ok_or_else(|| {
                UsageError(format!(
                    "--fault {n}: unknown client fault (see `arcp-conform driver --list-faults`)"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let env = super::driver::DriverEnv::from_env().map_err(UsageError)?;
    Ok(super::driver::run(env, faults).await)
}

pub async fn relay(url: &str) -> Result<i32, UsageError> {
    Ok(super::relay::relay(url).await)
}
