//! The flags, errors and exit codes every command shares (`run`, `client`,
//! `fuzz`, `spec`...): below every command module, so no command imports
//! another.

use crate::engine::runner;
use crate::profile::Profile;
use crate::report::baseline::Baseline;
use crate::report::{console, RunReport};
use crate::runtime::{Fault, Faults};
use crate::target::{self, Target};
use crate::transport::TransportOptions;
use clap::{Args, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Reports, baselines and console style: the same for every suite.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Fail the run on WARN (SHOULD violations) too.
    #[arg(long)]
    strict: bool,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write every result, with wire logs, as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Expected non-passing results (YAML): listed failures do not fail the run,
    /// listed cases that now pass do (stale entry).
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write a baseline accepting this run's failures here (with --baseline:
    /// entries that still apply keep their reasons).
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// Colour: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Print the wire log of failing cases.
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Print only failures and the summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl OutputArgs {
    pub fn strict(&self) -> bool {
        self.strict
    }

    pub fn style(&self) -> console::Style {
        console::Style {
            color: match self.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            },
            verbose: self.verbose,
        }
    }

    /// The line printer for finished cases: one line each (with -q only
    /// unexpected failures), baselined ones marked as such.
    pub fn progress(
        &self,
        total: usize,
        baseline: Option<&Baseline>,
    ) -> impl Fn(&crate::engine::runner::CaseResult) + Send + Sync + 'static {
        let (style, quiet, strict) = (self.style(), self.quiet, self.strict);
        let expected: std::collections::HashMap<String, String> = baseline
            .map(|b| {
                b.entries
                    .iter()
                    .map(|e| (e.id.clone(), e.reason.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let done = std::sync::atomic::AtomicUsize::new(0);
        move |r| {
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let mut rec = crate::report::CaseRecord::from_result(r);
            let fails = rec.verdict().fails_run(strict);
            if fails {
                rec.baselined = expected.get(&rec.id).cloned();
            }
            // One root cause is enough: cases blocked by the handshake are counted, not listed.
            let blocked_by_handshake = rec.verdict() == crate::verdict::Verdict::Blocked
                && rec
                    .reason
                    .starts_with(&format!("blocked by {}", runner::HANDSHAKE_ID));
            let show = !quiet || (fails && rec.baselined.is_none());
            if show && !blocked_by_handshake {
                console::println(&console::case_line(style, &rec, n, total));
            }
        }
    }

    /// The baseline named by --baseline, read before anything runs.
    pub fn baseline(&self) -> Result<Option<Baseline>, UsageError> {
        self.baseline
            .as_ref()
            .map(|p| Baseline::load(p).map_err(UsageError))
            .transpose()
    }

    /// After a run: apply the baseline, print failures and the summary, write
    /// the reports; the exit code.
    pub fn finish(
        &self,
        mut report: RunReport,
        baseline: Option<&Baseline>,
    ) -> Result<i32, UsageError> {
        let (style, strict) = (self.style(), self.strict);
        let problems = baseline
            .map(|b| b.apply(&mut report, chrono::Utc::now().date_naive()))
            .unwrap_or_default();
        let mut out = Vec::new();
        let _ = console::root_causes(&mut out, style, &report);
        let _ = console::failures(&mut out, style, &report, strict);
        let _ = console::summary(&mut out, style, &report);
        console::print(&String::from_utf8_lossy(&out));
        drop(out);
        // Every report passes the run-wide secret registry on its way out.
        let write = |flag: &str, p: &std::path::Path, text: String| {
            std::fs::write(p, crate::redact::output(&text))
                .map_err(|e| UsageError(format!("{flag} {}: {e}", p.display())))
        };
        if let Some(p) = &self.json {
            write("--json", p, report.to_json())?;
        }
        if let Some(p) = &self.html {
            write("--html", p, crate::report::html::run_page(&report))?;
        }
        if let Some(p) = &self.junit {
            write("--junit", p, crate::report::junit::render(&report, strict))?;
        }
        if let Some(p) = &self.write_baseline {
            write(
                "--write-baseline",
                p,
                Baseline::from_report(&report, strict, baseline).to_yaml(),
            )?;
        }
        let left = crate::transport::process::left_behind_total();
        if left > 0 {
            console::println(&format!(
                "targets left {left} process(es) behind outside their process groups; the harness killed them (see each case's stderr)"
            ));
        }
        if !problems.is_empty() {
            console::println("\nBaseline problems:");
            for p in &problems {
                console::println(&format!("  {p}"));
            }
        }
        Ok(if report.fails(strict) || !problems.is_empty() {
            1
        } else {
            0
        })
    }
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// A user error: one message, exit code 2 ([`UsageError::unreachable`]: 3).
#[derive(Debug)]
pub struct UsageError(pub String);

/// Exit codes CI can act on (README, "Exit codes").
pub const EXIT_FAILED: i32 = 1;

pub const EXIT_USAGE: i32 = 2;

pub const EXIT_UNREACHABLE: i32 = 3;

/// Set when the error ending the process is an unreachable target. A process
/// runs one command, so one flag; it keeps `UsageError` a plain message.
static UNREACHABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl UsageError {
    /// The target could not be started or reached: not the user's syntax,
    /// not a verdict either (exit code 3).
    pub fn unreachable(msg: impl Into<String>) -> UsageError {
        UNREACHABLE.store(true, std::sync::atomic::Ordering::SeqCst);
        UsageError(msg.into())
    }

    /// The exit code ending the process with this error.
    pub fn exit_code(&self) -> i32 {
        if UNREACHABLE.load(std::sync::atomic::Ordering::SeqCst) {
            EXIT_UNREACHABLE
        } else {
            EXIT_USAGE
        }
    }
}

/// Refuse `--jobs 0` (a run that never starts a case) as a usage error.
pub fn check_jobs(jobs: Option<usize>) -> Result<(), UsageError> {
    match jobs {
        Some(0) => Err(UsageError("--jobs must be at least 1".into())),
        _ => Ok(()),
    }
}

/// Refuse an empty `--target` (it would silently mean something else).
pub fn check_target(target: Option<&str>) -> Result<(), UsageError> {
    match target {
        Some(t) if t.trim().is_empty() => Err(UsageError(
            "--target is empty: give a shell command or a ws:// URL".into(),
        )),
        _ => Ok(()),
    }
}

impl<E: std::fmt::Display> From<E> for UsageError {
    fn from(e: E) -> Self {
        UsageError(e.to_string())
    }
}

/// The `--select` globs, compiled; a broken one is a usage error naming it.
pub fn select_globs(select: &[String]) -> Result<Vec<globset::GlobMatcher>, UsageError> {
    select
        .iter()
        .map(|g| {
            globset::Glob::new(g)
                .map(|g| g.compile_matcher())
                .map_err(|e| UsageError(format!("--select {g}: {e}")))
        })
        .collect()
}

pub fn parse_faults(names: &[String]) -> Result<Faults, UsageError> {
    names
        .iter()
        .map(|n| {
            Fault::parse(n).ok_or_else(|| {
                UsageError(format!(
                    "--fault {n}: unknown fault (see `arcp-conform serve --list-faults`)"
                ))
            })
        })
        .collect()
}

/// The target of a run or a fuzz session, from the flags they share: the
/// embedded runtime (with faults) or an external one, checked reachable.
pub async fn make_target(
    target: Option<String>,
    profile: Option<&std::path::Path>,
    timeout_scale: f64,
    time_scale: Option<f64>,
    frame_cap: usize,
    faults: &[String],
) -> Result<Target, UsageError> {
    if !(timeout_scale > 0.0 && timeout_scale.is_finite()) {
        return Err(UsageError(
            "--timeout-scale must be a positive number".into(),
        ));
    }
    if time_scale.is_some_and(|t| !(t > 0.0 && t.is_finite())) {
        return Err(UsageError("--time-scale must be a positive number".into()));
    }
    check_target(target.as_deref())?;
    let profile_path = profile;
    let mut profile = match profile {
        Some(p) => Profile::load(p)?,
        None => Profile::default(),
    };
    let transport = TransportOptions {
        frame_cap,
        ..TransportOptions::default()
    };
    let spec = target.or_else(|| profile.target.clone());
    match spec {
        None => {
            let mut cfg = if target::on_virtual_time(None, profile_path, time_scale) {
                target::virtual_runtime_config()
            } else {
                target::suite_runtime_config(time_scale.unwrap_or(target::EMBEDDED_TIME_SCALE))
            };
            cfg.faults = parse_faults(faults)?;
            let mut t = Target::embedded(cfg);
            t.transport = transport;
            Ok(t)
        }
        Some(spec) => {
            if !faults.is_empty() {
                return Err(UsageError("--fault applies to the embedded runtime only; start `arcp-conform serve --fault ...` as the target instead".into()));
            }
            if let Some(ts) = time_scale {
                profile.time_scale = ts;
            }
            if profile.name == "target" {
                profile.name = spec.clone();
            }
            let t = Target::external(&spec, profile, transport)
                .await
                .map_err(|e| UsageError::unreachable(format!("--target {spec}: {e}")))?;
            t.preflight()
                .await
                .map_err(|e| UsageError::unreachable(format!("--target {spec}: {e}")))?;
            Ok(t)
        }
    }
}
