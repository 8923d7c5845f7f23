//! Where cases come from: the suite embedded in the binary (so the tool
//! works from any directory), a case directory, or single case files.

use crate::case::{self, Case, CaseError};
use include_dir::{include_dir, Dir};
use std::path::{Path, PathBuf};

static CASES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/cases");

/// The embedded suite as (path, text), paths relative to the repo root.
pub fn embedded_sources() -> Vec<(PathBuf, String)> {
    fn walk(d: &Dir<'static>, out: &mut Vec<(PathBuf, String)>) {
        for f in d.files() {
            let is_case = matches!(
                f.path().extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            );
            let name = f.path().file_name().and_then(|n| n.to_str()).unwrap_or("");
            if is_case && !name.starts_with('.') && name != "requirements.yaml" {
                if let Some(text) = f.contents_utf8() {
                    out.push((Path::new("cases").join(f.path()), text.to_string()));
                }
            }
        }
        for sub in d.dirs() {
            walk(sub, out);
        }
    }
    let mut out = vec![];
    walk(&CASES, &mut out);
    out.sort();
    out
}

/// The embedded runtime suite (cases/, without the client cases).
pub fn runtime_suite() -> Result<Vec<Case>, CaseError> {
    let sources: Vec<_> = embedded_sources()
        .into_iter()
        .filter(|(p, _)| !p.starts_with("cases/client"))
        .collect();
    let cases = case::load_sources(&sources)?;
    case::check_levels(&cases, &sources)?;
    Ok(cases)
}

/// The embedded client suite (cases/client/: the harness plays the runtime).
pub fn client_suite() -> Result<Vec<Case>, CaseError> {
    let sources: Vec<_> = embedded_sources()
        .into_iter()
        .filter(|(p, _)| p.starts_with("cases/client"))
        .collect();
    let cases = case::load_sources(&sources)?;
    case::check_levels(&cases, &sources)?;
    Ok(cases)
}

/// Both suites: what traceability counts.
pub fn all_cases() -> Result<Vec<Case>, CaseError> {
    let mut all = runtime_suite()?;
    all.extend(client_suite()?);
    Ok(all)
}

/// Cases from a directory on disk, or single files.
pub fn from_paths(dir: Option<&Path>, files: &[PathBuf]) -> Result<Vec<Case>, CaseError> {
    let mut sources = vec![];
    if let Some(d) = dir {
        for f in case::case_files(d)? {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| CaseError::new(&f, None, None, format!("cannot read: {e}")))?;
            sources.push((f, text));
        }
    }
    // The level rule is for a suite directory; single files (fuzzer
    // reproducers) cite the oracle they were found by.
    let suite = sources.len();
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| CaseError::new(f, None, None, format!("cannot read: {e}")))?;
        sources.push((f.clone(), text));
    }
    let cases = case::load_sources(&sources)?;
    let dir_cases: Vec<Case> = cases
        .iter()
        .filter(|c| sources[..suite].iter().any(|(p, _)| *p == c.source))
        .cloned()
        .collect();
    case::check_levels(&dir_cases, &sources[..suite])?;
    Ok(cases)
}

/// The source text of a case, for `explain`.
pub fn source_text(c: &Case) -> Option<String> {
    embedded_sources()
        .into_iter()
        .find(|(p, _)| p == &c.source)
        .map(|(_, t)| t)
        .or_else(|| std::fs::read_to_string(&c.source).ok())
}
