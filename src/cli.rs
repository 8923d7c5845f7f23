//! Command line: parse flags, build a target and a case selection, run, report.
//! Exit codes: 0 all passed, 1 a case failed, 2 bad usage or input,
//! 3 the target could not be started or reached.

pub use crate::args::{
    check_jobs, check_target, OutputArgs, UsageError, EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE,
};
use crate::args::{make_target, parse_faults, select_globs};
use crate::case::Case;
use crate::engine::runner::{self, CaseResult, RunOptions};
use crate::engine::EngineOptions;
use crate::profile::Profile;
use crate::report::{console, RunReport};
use crate::runtime::{Fault, Runtime, RuntimeConfig};
use crate::target::Target;
use crate::transport::TransportOptions;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "arcp-conform",
    version,
    about = "Conformance test harness and fuzzer for ARCP v1.1",
    long_about = "Conformance test harness and fuzzer for ARCP v1.1.\n\nWith no command, runs the runtime suite: against the embedded reference runtime when no --target is given.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the runtime suite (the default command).
    Run(Box<RunArgs>),
    /// List the cases a selection would run.
    List(SelectArgs),
    /// Show a case: its requirement and its steps.
    Explain {
        /// Case id.
        id: String,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Serve the reference runtime over stdio or WebSocket.
    Serve(ServeArgs),
    /// Run the client suite: the harness plays the runtime for a client's driver (docs/client-driver.md).
    Client(Box<crate::clienttest::cli::ClientArgs>),
    /// The reference client as a driver (docs/client-driver.md).
    #[command(hide = true)]
    Driver(crate::clienttest::cli::DriverArgs),
    /// Carry NDJSON on stdin/stdout to a WebSocket runtime (how a stdio client reaches `client`).
    Relay { url: String },
    /// Talk to an unknown implementation: what it speaks, and a starting profile.
    Probe {
        /// A shell command (stdio) or a ws:// URL.
        #[arg(long, short = 't', value_name = "CMD|URL")]
        target: String,
        /// Start from this profile (tokens to try).
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// Write the profile found here.
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
    },
    /// Fuzz a runtime with generated sequences and mutated frames; write reproducers.
    Fuzz(Box<crate::fuzz::cli::FuzzArgs>),
    /// Show what changed between two result files (--json output), and why: the
    /// implementation, the requirement's sentence, or the case.
    Diff { old: PathBuf, new: PathBuf },
    /// Per requirement, its standing across result files in order (e.g. one per SDK
    /// release) and when it started or stopped passing.
    History {
        /// Result files (--json output) in order, each `FILE` or `LABEL=FILE`; files
        /// with the same label (e.g. a release's runtime and client suites) form one column.
        #[arg(required = true, value_name = "[LABEL=]FILE")]
        results: Vec<String>,
        /// Write the Markdown here (default: stdout).
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// Write the HTML here.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// The spec's requirement sentences: diff two drafts, check one against the suite.
    #[command(subcommand)]
    Spec(crate::spec::cli::SpecCommand),
    /// Render cases × implementations from result files, as Markdown and HTML.
    Matrix {
        /// Result files (--json output), one per implementation.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Write the Markdown matrix here (default: stdout).
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// Write the HTML matrix here.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Regenerate CONFORMANCE.md's traceability table from cases/requirements.yaml and the suite.
    Conformance {
        /// The file to rewrite.
        #[arg(long, default_value = "CONFORMANCE.md", value_name = "FILE")]
        file: PathBuf,
        /// Only check that the file is up to date (exit 1 if not).
        #[arg(long)]
        check: bool,
    },
}

/// Which cases.
#[derive(Args, Debug, Clone, Default)]
pub struct SelectArgs {
    /// Read cases from this directory instead of the embedded suite.
    #[arg(long, value_name = "DIR")]
    cases: Option<PathBuf>,
    /// Run only this case file (repeatable); e.g. a fuzzer reproducer.
    #[arg(long = "case", value_name = "FILE")]
    case_files: Vec<PathBuf>,
    /// Only cases whose id matches this glob (repeatable), e.g. 'session.resume.*'.
    #[arg(long, short = 's', value_name = "GLOB")]
    select: Vec<String>,
    /// Only cases citing this spec section or a subsection of it (repeatable), e.g. 6.3.
    #[arg(long, value_name = "SECTION")]
    section: Vec<String>,
    /// Only cases with this tag (repeatable).
    #[arg(long, value_name = "TAG")]
    tag: Vec<String>,
}

impl SelectArgs {
    /// Does this selection leave cases of the suite out?
    pub fn narrows(&self) -> bool {
        !(self.case_files.is_empty()
            && self.select.is_empty()
            && self.section.is_empty()
            && self.tag.is_empty())
    }
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The implementation to test: a shell command speaking NDJSON on stdio, or a ws:// URL.
    /// Without it, the embedded reference runtime is tested.
    #[arg(long, short = 't', value_name = "CMD|URL")]
    target: Option<String>,
    /// Target profile (YAML): tokens, agent roles, time scale, dialect.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    #[command(flatten)]
    select: SelectArgs,
    /// Cases run at once (default: 32 against the embedded runtime, whose
    /// cases mostly wait on protocol time; 8 against external targets).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Multiply every deadline by this factor (slow targets, loaded machines).
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    timeout_scale: f64,
    /// Protocol seconds per wall second of the target's clock (default: the
    /// embedded runtime runs on virtual time, waits cost no wall time; else
    /// the profile's, else 1).
    #[arg(long, value_name = "F")]
    time_scale: Option<f64>,
    /// Wall seconds a case may need by its own designed waits (sleeps, waits
    /// sized by the target's heartbeat or resume window); a case needing more
    /// is UNTESTABLE, with the knob that would make it fit.
    #[arg(long, default_value_t = 90.0, value_name = "SECS")]
    max_case_time: f64,
    /// Reruns, with deadlines twice as long each time, of a case that failed
    /// only because a deadline passed; a pass on a rerun is reported flaky.
    #[arg(long, default_value_t = 1, value_name = "N")]
    retries: u32,
    /// Largest frame accepted from the target, in bytes.
    #[arg(long, default_value_t = crate::transport::DEFAULT_FRAME_CAP, value_name = "BYTES")]
    frame_cap: usize,
    /// Switch on a fault in the embedded runtime (repeatable; see `serve --list-faults`).
    #[arg(long, value_name = "NAME")]
    fault: Vec<String>,
    /// Skip JSON Schema validation of received frames.
    #[arg(long)]
    no_schema: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Serve one session on this process's stdin/stdout (NDJSON).
    #[arg(long, conflicts_with = "ws")]
    stdio: bool,
    /// Listen for WebSocket connections on ADDR (port 0 picks one and prints the URL).
    #[arg(long, value_name = "ADDR")]
    ws: Option<String>,
    /// Protocol seconds per wall second (speeds up heartbeats, expiry, sleeps).
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    time_scale: f64,
    /// Heartbeat interval advertised, in protocol seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    heartbeat: f64,
    /// Resume window, in protocol seconds.
    #[arg(long, default_value_t = 600.0, value_name = "SECS")]
    resume_window: f64,
    /// Events kept per session for resume, whatever their age.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    replay_buffer: usize,
    /// Let other principals observe jobs (deployment policy, §7.6).
    #[arg(long)]
    cross_principal: bool,
    /// Switch on a fault (repeatable).
    #[arg(long, value_name = "NAME")]
    fault: Vec<String>,
    /// List the faults and exit.
    #[arg(long)]
    list_faults: bool,
    /// Issue and revoke credentials through this credential upstream
    /// (default: $ARCP_CONFORM_UPSTREAM; none = in-memory provisioner).
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Keep outstanding credential ids in this file and revoke them on start
    /// (default: $ARCP_CONFORM_STATE_DIR/credentials.json when that is set).
    #[arg(long, value_name = "PATH")]
    credential_store: Option<std::path::PathBuf>,
}

/// A run or fuzz session against the embedded runtime goes on a paused
/// tokio runtime (virtual time); see [`crate::target::on_virtual_time`].
fn wants_virtual_time(cli: &Cli) -> bool {
    let (t, p, s) = match &cli.command {
        None => (&cli.run.target, &cli.run.profile, cli.run.time_scale),
        Some(Command::Run(a)) => (&a.target, &a.profile, a.time_scale),
        Some(Command::Fuzz(a)) => (&a.target, &a.profile, a.time_scale),
        _ => return false,
    };
    crate::target::on_virtual_time(t.as_deref(), p.as_deref(), s)
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let rt = match if wants_virtual_time(&cli) {
        Ok(crate::clock::virtual_runtime())
    } else if matches!(cli.command, Some(Command::Serve(_) | Command::Driver(_))) {
        // An implementation under test: a runtime server takes many sessions.
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        // The harness waits on its targets: one thread leaves the cores to
        // them and spares cross-thread wake-ups (harness CPU per frame
        // against `serve --stdio`: benches/README.md).
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("arcp-conform: cannot start the async runtime: {e}");
            return 2;
        }
    };
    let result = rt.block_on(async move {
        crate::transport::process::install_ctrl_c_handler();
        match cli.command {
            None => run(cli.run).await,
            Some(Command::Run(args)) => run(*args).await,
            Some(Command::List(sel)) => list(&sel),
            Some(Command::Explain { id, select }) => explain(&id, &select),
            Some(Command::Serve(args)) => serve(args).await,
            Some(Command::Client(args)) => crate::clienttest::cli::run(*args).await,
            Some(Command::Driver(args)) => crate::clienttest::cli::driver(args).await,
            Some(Command::Relay { url }) => crate::clienttest::cli::relay(&url).await,
            Some(Command::Fuzz(args)) => crate::fuzz::cli::command(*args).await,
            Some(Command::Conformance { file, check }) => conformance(&file, check),
            Some(Command::Diff { old, new }) => diff(&old, &new),
            Some(Command::Spec(cmd)) => crate::spec::cli::command(cmd),
            Some(Command::History {
                results,
                markdown,
                html,
            }) => history(&results, markdown, html),
            Some(Command::Probe {
                target,
                profile,
                write,
            }) => probe(&target, profile, write).await,
            Some(Command::Matrix {
                results,
                markdown,
                html,
            }) => matrix(&results, markdown, html),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("arcp-conform: {}", crate::redact::output(&e.0));
            e.exit_code()
        }
    }
}

/// Load and filter cases.
pub fn select(sel: &SelectArgs) -> Result<Vec<Case>, UsageError> {
    let cases = if sel.cases.is_some() || !sel.case_files.is_empty() {
        crate::suite::from_paths(sel.cases.as_deref(), &sel.case_files)?
    } else {
        crate::suite::runtime_suite()?
    };
    let globs = select_globs(&sel.select)?;
    let picked: Vec<Case> = cases
        .into_iter()
        .filter(|c| globs.is_empty() || globs.iter().any(|g| g.is_match(&c.id)))
        .filter(|c| {
            sel.section.is_empty()
                || sel.section.iter().any(|s| {
                    c.sections
                        .iter()
                        .any(|cs| cs == s || cs.starts_with(&format!("{s}.")))
                })
        })
        .filter(|c| sel.tag.is_empty() || sel.tag.iter().any(|t| c.tags.contains(t)))
        .collect();
    if picked.is_empty() {
        return Err(UsageError(
            "the selection matches no case (see `arcp-conform list`)".into(),
        ));
    }
    Ok(picked)
}

async fn build_target(args: &RunArgs) -> Result<Target, UsageError> {
    make_target(
        args.target.clone(),
        args.profile.as_deref(),
        args.timeout_scale,
        args.time_scale,
        args.frame_cap,
        &args.fault,
    )
    .await
}

/// The handshake's verdict as a case result, printed as the `n`th of `n`.
fn handshake_result(
    style: console::Style,
    outcome: crate::verdict::Outcome,
    n: usize,
) -> CaseResult {
    let r = CaseResult {
        case: Arc::new(runner::handshake_case()),
        outcome,
    };
    console::println(&console::case_line(
        style,
        &crate::report::CaseRecord::from_result(&r),
        n,
        n,
    ));
    r
}

async fn run(args: RunArgs) -> Result<i32, UsageError> {
    check_jobs(args.jobs)?;
    let cases = select(&args.select)?;
    let baseline = args.output.baseline()?;
    let mut target = build_target(&args).await?;
    // A profile that does not spell the hello its own way leaves the
    // harness free to find the hello dialect the target speaks.
    let hello_open = !target.is_embedded() && target.profile.dialect.hello_is_spec();
    // No profile: probe first, and take what it learns (agents, dialect).
    let mut not_v11 = None;
    if args.profile.is_none() && !target.is_embedded() {
        let f = crate::probe::probe(&target).await;
        if !args.output.quiet {
            console::println(&format!("probe of {}:", target.describe()));
            for l in &f.lines {
                console::println(&format!("  - {l}"));
            }
        }
        // Only another vocabulary is "not ARCP v1.1"; a crash or a refusal of
        // the hello is judged by the handshake case, with its evidence.
        if f.speaks_v11 || !f.other_vocabulary {
            let name = target.profile.name.clone();
            let scale = target.profile.time_scale;
            target.profile = f.profile;
            target.profile.name = name;
            target.profile.time_scale = scale;
        } else {
            not_v11 = Some(f.lines.join("; "));
        }
    }
    let style = args.output.style();
    let total = cases.len();
    if !(args.max_case_time > 0.0 && args.max_case_time.is_finite()) {
        return Err(UsageError(
            "--max-case-time must be a positive number of seconds".into(),
        ));
    }
    let opts = RunOptions {
        max_case_time: Duration::from_secs_f64(args.max_case_time),
        retries: args.retries,
        ..RunOptions::new(
            args.jobs
                .unwrap_or(if target.is_embedded() { 32 } else { 8 })
                .max(1),
            EngineOptions {
                timeout_scale: args.timeout_scale,
                schema: !args.no_schema,
                limits: None,
            },
        )
    };
    let started_at = crate::clock::timestamp(chrono::Utc::now());
    let t0 = Instant::now();
    let spec_hello = match (hello_open, &not_v11) {
        (true, None) => crate::engine::handshake::find_dialect(&mut target, &opts.engine).await,
        _ => None,
    };
    let target = Arc::new(target);
    let quiet = args.output.quiet;
    if !quiet {
        console::println(&format!(
            "arcp-conform {}: {} cases against {}",
            env!("CARGO_PKG_VERSION"),
            total,
            target.describe()
        ));
    }
    // A target that does not speak ARCP v1.1 gets one finding, not a wall of failures.
    let results: Vec<CaseResult> = if let Some(finding) = not_v11 {
        let mut o = crate::verdict::Outcome::new(
            crate::verdict::Verdict::Error,
            if finding.contains("authentication failed") {
                format!("handshake failed: {finding}")
            } else {
                format!("the target does not speak ARCP v1.1: {finding}")
            },
        );
        o.origin = Some(crate::verdict::Origin::Target);
        vec![handshake_result(style, o, 1)]
    } else {
        runner::run_all(
            cases.into_iter().map(Arc::new).collect(),
            target.clone(),
            opts,
            args.output.progress(total, baseline.as_ref()),
        )
        .await
    };
    let mut results = results;
    // The spec-shaped hello failed and a dialect got in: that failure is a finding.
    if let Some(o) = spec_hello {
        if !results.iter().any(|r| r.case.id == runner::HANDSHAKE_ID) {
            results.insert(0, handshake_result(style, o, total + 1));
        }
    }
    // A failed handshake: say what the target speaks instead, if it is the earlier vocabulary.
    if let Some(first) = results
        .iter_mut()
        .find(|r| r.case.id == runner::HANDSHAKE_ID)
    {
        if first.outcome.verdict != crate::verdict::Verdict::Pass
            && !target.is_embedded()
            && !first.outcome.reason.contains("answers `session.open`")
            && !first.outcome.reason.contains("authentication failed")
        {
            let more = crate::probe::older_generation(&target).await;
            if let Some(m) = more
                .first()
                .filter(|m| m.contains("answers `session.open`"))
            {
                first.outcome.reason = format!("{}; {m}", first.outcome.reason);
            }
        }
    }
    // A transport that never came up is not a verdict on the target's ARCP.
    let never_connected = results.iter().any(|r| {
        r.case.id == runner::HANDSHAKE_ID
            && r.outcome.verdict == crate::verdict::Verdict::Error
            && r.outcome.reason.contains("could not connect")
    });
    let mut report = RunReport::new(
        target.profile.name.clone(),
        target.describe(),
        started_at,
        t0.elapsed(),
        &results,
        crate::checks::ALL,
    );
    report.subset = args.select.narrows();
    let code = args.output.finish(report, baseline.as_ref())?;
    Ok(if never_connected && code == EXIT_FAILED {
        EXIT_UNREACHABLE
    } else {
        code
    })
}

fn list(sel: &SelectArgs) -> Result<i32, UsageError> {
    for c in select(sel)? {
        console::println(&format!(
            "{:<56} {:<6} §{:<8} {}",
            c.id,
            c.level.label(),
            c.sections.join(","),
            c.title
        ));
    }
    Ok(0)
}

fn explain(id: &str, sel: &SelectArgs) -> Result<i32, UsageError> {
    let all = select(&SelectArgs {
        select: vec![],
        ..sel.clone()
    })?;
    let Some(c) = all.iter().find(|c| c.id == id) else {
        return Err(UsageError(format!(
            "no case with id `{id}` (see `arcp-conform list`)"
        )));
    };
    console::println(&format!("{}\n  {}\n", c.id, c.title));
    console::println(&format!(
        "requirement (§{}, {}):\n  \"{}\"\n",
        c.sections.join(", §"),
        c.level.label(),
        c.requirement
    ));
    console::println(&format!("source: {}\n", c.location()));
    if let Some(text) = crate::suite::source_text(c) {
        console::println(&text);
    }
    Ok(0)
}

async fn serve(args: ServeArgs) -> Result<i32, UsageError> {
    if args.list_faults {
        for f in Fault::ALL {
            console::println(&format!("{:<32} {}", f.name(), f.describe()));
        }
        return Ok(0);
    }
    for (flag, v) in [
        ("--time-scale", args.time_scale),
        ("--heartbeat", args.heartbeat),
        ("--resume-window", args.resume_window),
    ] {
        if !(v > 0.0 && v.is_finite()) {
            return Err(UsageError(format!("{flag} must be a positive number")));
        }
    }
    let config = RuntimeConfig {
        clock: crate::clock::ScaledClock::shared(args.time_scale),
        heartbeat_interval: Duration::from_secs_f64(args.heartbeat),
        resume_window: Duration::from_secs_f64(args.resume_window),
        cross_principal_observe: args.cross_principal,
        replay_buffer_cap: args.replay_buffer.max(1),
        faults: parse_faults(&args.fault)?,
        provisioner: crate::runtime::provisioner::ProvisionerConfig::from_args(
            args.upstream,
            args.credential_store,
        )
        .map_err(UsageError)?,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config);
    if args.stdio {
        let (conn, writer) =
            crate::transport::stdio::own_stdio_flushed(crate::transport::DEFAULT_FRAME_CAP);
        // The conformance agent's `crash` op: die as a crashed process would.
        let watched = runtime.clone();
        tokio::spawn(async move {
            while !watched.is_crashed() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            std::process::exit(70);
        });
        runtime.serve(conn).await;
        // The last frames (session.closed, an error) must reach stdout before exit.
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        return Ok(0);
    }
    let Some(addr) = args.ws else {
        return Err(UsageError("serve needs --stdio or --ws ADDR".into()));
    };
    let (mut listener, local) =
        crate::transport::ws::listen(&addr, crate::transport::DEFAULT_FRAME_CAP)
            .await
            .map_err(|e| UsageError(format!("--ws {addr}: {e}")))?;
    console::println(&format!("listening on ws://{local}"));
    let mut runtime = runtime;
    while let Some(conn) = listener.accept().await {
        if runtime.is_crashed() {
            // A crashed runtime is replaced, as a supervisor restarts a
            // process: same upstream and store, so it revokes what was outstanding.
            runtime = Runtime::new(runtime.config().clone());
        }
        let rt = runtime.clone();
        tokio::spawn(async move { rt.serve(conn).await });
    }
    Ok(0)
}

fn conformance(file: &std::path::Path, check: bool) -> Result<i32, UsageError> {
    let cases = crate::suite::all_cases()?;
    let current = std::fs::read_to_string(file)
        .map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
    let next = crate::conformance::render_document(&current, &cases).map_err(UsageError)?;
    if check {
        if next != current {
            eprintln!(
                "{} is out of date: run `arcp-conform conformance`",
                file.display()
            );
            return Ok(1);
        }
        return Ok(0);
    }
    std::fs::write(file, next).map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
    Ok(0)
}

fn diff(old: &std::path::Path, new: &std::path::Path) -> Result<i32, UsageError> {
    let (a, b) = (
        RunReport::load(old).map_err(UsageError)?,
        RunReport::load(new).map_err(UsageError)?,
    );
    let lines = crate::report::history::diff(&a, &b);
    if lines.is_empty() {
        console::println(&format!("no verdict changed ({} cases)", b.cases.len()));
    }
    for l in lines {
        console::println(&l);
    }
    Ok(0)
}

fn history(
    results: &[String],
    markdown: Option<PathBuf>,
    html: Option<PathBuf>,
) -> Result<i32, UsageError> {
    use crate::report::history::Column;
    let mut columns: Vec<Column> = vec![];
    for arg in results {
        let (label, file) = match arg.split_once('=') {
            Some((l, f)) => (Some(l.to_string()), f),
            None => (None, arg.as_str()),
        };
        let report = RunReport::load(std::path::Path::new(file)).map_err(UsageError)?;
        let label = label.unwrap_or_else(|| report.name.clone());
        match columns.iter_mut().find(|c| c.label == label) {
            Some(c) => c.reports.push(report),
            None => columns.push(Column {
                label,
                reports: vec![report],
            }),
        }
    }
    let h = crate::report::history::history(&columns);
    match markdown {
        Some(p) => std::fs::write(&p, h.markdown())
            .map_err(|e| UsageError(format!("{}: {e}", p.display())))?,
        None => print!("{}", h.markdown()),
    }
    if let Some(p) = html {
        std::fs::write(&p, h.html()).map_err(|e| UsageError(format!("{}: {e}", p.display())))?;
    }
    Ok(0)
}

fn matrix(
    results: &[PathBuf],
    markdown: Option<PathBuf>,
    html: Option<PathBuf>,
) -> Result<i32, UsageError> {
    let reports = results
        .iter()
        .map(|p| RunReport::load(p).map_err(UsageError))
        .collect::<Result<Vec<_>, _>>()?;
    let m = crate::report::html::Matrix { reports: &reports };
    match markdown {
        Some(p) => std::fs::write(&p, m.markdown())
            .map_err(|e| UsageError(format!("{}: {e}", p.display())))?,
        None => console::print(&m.markdown()),
    }
    if let Some(p) = html {
        std::fs::write(&p, m.html()).map_err(|e| UsageError(format!("{}: {e}", p.display())))?;
    }
    Ok(0)
}

async fn probe(
    spec: &str,
    profile: Option<PathBuf>,
    write: Option<PathBuf>,
) -> Result<i32, UsageError> {
    let mut profile = match &profile {
        Some(p) => Profile::load(p)?,
        None => Profile::default(),
    };
    profile.target = Some(spec.to_string());
    if profile.name == "target" {
        profile.name = spec.to_string();
    }
    check_target(Some(spec))?;
    let target = Target::external(spec, profile, TransportOptions::default())
        .await
        .map_err(|e| UsageError::unreachable(format!("--target {spec}: {e}")))?;
    target
        .preflight()
        .await
        .map_err(|e| UsageError::unreachable(format!("--target {spec}: {e}")))?;
    let f = crate::probe::probe(&target).await;
    console::println(&format!("probe of {}:", target.describe()));
    for l in &f.lines {
        console::println(&format!("  - {l}"));
    }
    match write {
        Some(p) => {
            std::fs::write(&p, f.profile.to_yaml())
                .map_err(|e| UsageError(format!("--write {}: {e}", p.display())))?;
            console::println(&format!("profile written to {}", p.display()));
        }
        // The user's own profile, tokens included: printed as is.
        None => {
            use std::io::Write;
            let _ = writeln!(std::io::stdout(), "\nprofile:\n{}", f.profile.to_yaml());
        }
    }
    Ok(if f.speaks_v11 { 0 } else { 1 })
}
