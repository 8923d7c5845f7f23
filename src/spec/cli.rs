//! The `spec` command (wired into [`crate::cli`]).

use crate::args::UsageError;
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum SpecCommand {
    /// Requirement sentences added, removed, changed and moved between two drafts,
    /// each with the cases that cite it; a new MUST no case checks is marked open.
    /// Exit 0 when nothing is open, 1 when something is.
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// Compare a draft with cases/requirements.yaml and the cases' quotes, in both
    /// directions (default: the vendored spec). Exit 0 when they agree, 1 when not.
    Check {
        file: Option<PathBuf>,
        /// JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// List the requirement sentences of a draft (default: the vendored spec).
    Extract {
        file: Option<PathBuf>,
        /// JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
}

fn read(p: &Path) -> Result<String, UsageError> {
    std::fs::read_to_string(p).map_err(|e| UsageError(format!("{}: {e}", p.display())))
}

fn read_or_vendored(p: &Option<PathBuf>) -> Result<(String, String), UsageError> {
    match p {
        Some(p) => Ok((read(p)?, p.display().to_string())),
        None => Ok((super::SPEC.to_string(), super::SPEC_FILE.to_string())),
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

pub fn command(cmd: SpecCommand) -> Result<i32, UsageError> {
    let reqs = crate::conformance::requirements();
    let cases = crate::suite::all_cases()?;
    match cmd {
        SpecCommand::Diff { old, new, json: j } => {
            let d = super::diff::diff(&read(&old)?, &read(&new)?, &reqs, &cases);
            if j {
                println!("{}", json(&d));
            } else {
                print!(
                    "{}",
                    d.markdown(&old.display().to_string(), &new.display().to_string())
                );
            }
            Ok(i32::from(d.changes.iter().any(|c| c.open)))
        }
        SpecCommand::Check { file, json: j } => {
            let (text, name) = read_or_vendored(&file)?;
            let c = super::diff::check(&text, &reqs, &cases);
            if j {
                println!("{}", json(&c));
            } else {
                print!("{}", c.markdown(&name));
            }
            Ok(i32::from(!c.agrees()))
        }
        SpecCommand::Extract { file, json: j } => {
            let (text, _) = read_or_vendored(&file)?;
            let s = super::extract(&text);
            if j {
                println!("{}", json(&s));
            } else {
                for x in &s {
                    println!("- §{} {} (line {}): {}", x.section, x.level, x.line, x.text);
                }
            }
            Ok(0)
        }
    }
}
