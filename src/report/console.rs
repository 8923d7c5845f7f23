//! What a person sees: one line per case, failure detail, a summary table.

use super::{CaseRecord, RunReport};
use crate::verdict::Verdict;
use std::collections::BTreeMap;
use std::io::Write;

/// Set once stdout is gone (a pager or `head` quit).
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Write `text` to stdout, secrets redacted. A closed stdout (EPIPE) stops
/// the printing, never the run: reports are still written and the exit code
/// still tells. `println!` would panic instead.
pub fn print(text: &str) {
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let text = crate::redact::output(text);
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// [`print`] with a newline.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Print the wire log of non-passing cases.
    pub verbose: bool,
}

fn paint(style: Style, v: Verdict, text: &str) -> String {
    if !style.color {
        return text.to_string();
    }
    let code = match v {
        Verdict::Pass => "32",
        Verdict::Fail | Verdict::Error => "31;1",
        Verdict::Warn | Verdict::Untestable => "33",
        Verdict::Info => "36",
        Verdict::NotApplicable | Verdict::Blocked => "90",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The line printed when a case finishes.
pub fn case_line(style: Style, r: &CaseRecord, done: usize, total: usize) -> String {
    let v = r.verdict();
    let mut line = format!(
        "[{done:>width$}/{total}] {} {} ({:.0} ms)",
        paint(style, v, &format!("{:<10}", v.label())),
        r.id,
        r.duration_ms,
        width = total.to_string().len()
    );
    if v != Verdict::Pass {
        line.push_str(&format!(" — {}", r.reason));
    }
    if let Some(b) = &r.baselined {
        line.push_str(&format!(" [baselined: {b}]"));
    }
    line
}

/// Detail of every case that did not pass (requirement, expected, actual, wire log).
pub fn failures(
    out: &mut impl Write,
    style: Style,
    report: &RunReport,
    strict: bool,
) -> std::io::Result<()> {
    let bad: Vec<&CaseRecord> = report
        .cases
        .iter()
        .filter(|c| c.verdict().fails_run(strict) && c.baselined.is_none())
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nFailures:")?;
    for c in bad {
        writeln!(
            out,
            "\n{} {}",
            paint(style, c.verdict(), c.verdict().label()),
            c.id
        )?;
        let mut text = c.failure_text();
        if !style.verbose {
            if let Some(i) = text.find("wire log:\n") {
                let lines = c.wire.len();
                text.truncate(i);
                text.push_str(&format!(
                    "wire log: {lines} entries (run with -v, or see --json/--html)\n"
                ));
            }
        }
        for l in text.lines() {
            writeln!(out, "  {l}")?;
        }
    }
    Ok(())
}

/// Totals by verdict and by spec area.
pub fn summary(out: &mut impl Write, style: Style, report: &RunReport) -> std::io::Result<()> {
    let counts = report.counts();
    let mut by_area: BTreeMap<&str, BTreeMap<Verdict, usize>> = BTreeMap::new();
    for c in &report.cases {
        *by_area
            .entry(c.area())
            .or_default()
            .entry(c.verdict())
            .or_insert(0) += 1;
    }
    let cols: Vec<Verdict> = Verdict::ALL
        .iter()
        .copied()
        .filter(|v| counts.contains_key(v))
        .collect();
    writeln!(out)?;
    write!(out, "{:<14}", "area")?;
    for v in &cols {
        write!(out, "{:>11}", v.label())?;
    }
    writeln!(out, "{:>8}", "total")?;
    for (area, m) in &by_area {
        write!(out, "{area:<14}")?;
        for v in &cols {
            write!(out, "{:>11}", m.get(v).copied().unwrap_or(0))?;
        }
        writeln!(out, "{:>8}", m.values().sum::<usize>())?;
    }
    let total: usize = counts.values().sum();
    let parts: Vec<String> = cols
        .iter()
        .map(|v| paint(style, *v, &format!("{} {}", counts[v], v.label())))
        .collect();
    writeln!(
        out,
        "\n{} cases in {:.2} s ({:.0} cases/s): {}",
        total,
        report.duration_ms / 1000.0,
        total as f64 / (report.duration_ms / 1000.0).max(1e-3),
        parts.join(", ")
    )?;
    Ok(())
}
