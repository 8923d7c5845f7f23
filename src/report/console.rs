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
    if !r.invariants.is_empty() {
        line.push_str(&format!(" [also broke {}]", r.invariants.join(", ")));
    }
    if let Some(f) = &r.flaky {
        line.push_str(&format!(" [flaky: {f}]"));
    }
    if let Some(b) = &r.baselined {
        line.push_str(&format!(" [baselined: {b}]"));
    }
    line
}

/// The per-frame rules the target broke, each once with the cases it was
/// seen in: printed before the failing cases, which they may explain.
pub fn root_causes(out: &mut impl Write, style: Style, report: &RunReport) -> std::io::Result<()> {
    let broken: Vec<&CaseRecord> = report
        .broken()
        .into_iter()
        .filter(|c| c.baselined.is_none())
        .collect();
    if broken.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nRoot causes ({} per-frame invariant{} broken; each counted once, not in every case):",
        broken.len(),
        if broken.len() == 1 { "" } else { "s" }
    )?;
    for c in broken {
        let Some(seen) = &c.seen else { continue };
        writeln!(
            out,
            "\n{} {} (§{}, {}) — {} frame{} in {} case{}",
            paint(style, c.verdict(), c.verdict().label()),
            c.id,
            c.sections.join(", §"),
            c.level,
            seen.count,
            if seen.count == 1 { "" } else { "s" },
            seen.cases.len(),
            if seen.cases.len() == 1 { "" } else { "s" },
        )?;
        writeln!(out, "  requirement: \"{}\"", c.requirement)?;
        let f = &seen.first;
        writeln!(
            out,
            "  first:       {} [{}]: {}",
            f.case, f.session, f.detail
        )?;
        if !f.frame.is_empty() {
            let frame: String = f.frame.chars().take(300).collect();
            let cut = if frame.len() < f.frame.len() {
                "…"
            } else {
                ""
            };
            writeln!(out, "  frame:       {frame}{cut}")?;
        }
        const SHOWN: usize = 8;
        let more = match seen.cases.len().saturating_sub(SHOWN) {
            0 => String::new(),
            n => format!(" (+{n} more; all in --json/--html)"),
        };
        let shown: Vec<&str> = seen.cases.iter().take(SHOWN).map(String::as_str).collect();
        writeln!(out, "  seen in:     {}{more}", shown.join(", "))?;
    }
    Ok(())
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
    // Cases that stalled at one point: the root cause once, each case one line.
    let mut stalled = std::collections::BTreeSet::new();
    for s in &report.stalls {
        let here: Vec<&&CaseRecord> = bad.iter().filter(|c| s.cases.contains(&c.id)).collect();
        if here.len() < 2 {
            continue;
        }
        writeln!(
            out,
            "\n{} cases stalled at one point (one root cause, not a verdict of its own): {}",
            here.len(),
            s.point
        )?;
        for c in here {
            writeln!(
                out,
                "  {} {} — {}",
                paint(style, c.verdict(), c.verdict().label()),
                c.id,
                c.reason
            )?;
            stalled.insert(c.id.as_str());
        }
    }
    for c in bad.iter().filter(|c| !stalled.contains(c.id.as_str())) {
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
    let mut parts: Vec<String> = cols
        .iter()
        .map(|v| paint(style, *v, &format!("{} {}", counts[v], v.label())))
        .collect();
    let flaky = report.cases.iter().filter(|c| c.flaky.is_some()).count();
    if flaky > 0 {
        parts.push(format!(
            "{flaky} flaky (passed on a retry with larger deadlines)"
        ));
    }
    writeln!(
        out,
        "\n{} cases in {:.2} s ({:.0} cases/s): {}",
        total,
        report.duration_ms / 1000.0,
        total as f64 / (report.duration_ms / 1000.0).max(1e-3),
        parts.join(", ")
    )?;
    let broken = report.broken();
    if !broken.is_empty() {
        let ids: Vec<String> = broken
            .iter()
            .map(|c| {
                let n = c.seen.as_ref().map_or(0, |s| s.cases.len());
                format!(
                    "{} {} ({n} cases)",
                    paint(style, c.verdict(), c.verdict().label()),
                    c.id
                )
            })
            .collect();
        writeln!(
            out,
            "{} of {} per-frame invariants broken: {}",
            broken.len(),
            report.invariants.len(),
            ids.join(", ")
        )?;
    }
    Ok(())
}
