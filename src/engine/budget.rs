//! A case's time budget: the limits its derived waits name, the wall time
//! they add up to, and the verdict a case gets instead of running when a
//! limit is unknown or the waits exceed `--max-case-time`.

use crate::case::{Case, StepKind};
use crate::limits::{Limit, Limits};
use crate::target::Target;
use crate::template::Builtin;
use crate::verdict::{Outcome, Verdict};
use std::time::Duration;

/// Default `--max-case-time`: wall time one case may need by its own waits.
pub const DEFAULT_MAX_CASE_TIME: Duration = Duration::from_secs(90);

/// Every limit a case names, in its waits and in its templates.
pub fn limits_named(case: &Case) -> Vec<Limit> {
    let mut out: Vec<Limit> = case
        .waits()
        .iter()
        .flat_map(|(_, w)| w.expr.names())
        .collect();
    for step in case.all_steps() {
        for name in crate::case::step_names(&step.kind) {
            if let Some(b) = Builtin::parse(&name) {
                out.extend(b.limits());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Protocol time the case may spend by design: every `sleep` and every
/// derived wait (a deadline sized by the target may well be used up).
/// Literal deadlines are not counted: they only cost time when the target
/// is late. A job's `${ms(...)}` sleep is not counted either: the case
/// waits for it with derived waits, which are.
pub fn designed_time(case: &Case, limits: &Limits) -> Result<Duration, Limit> {
    let mut total = Duration::ZERO;
    for (step, w) in case.waits() {
        if w.is_derived() || matches!(step.kind, StepKind::Sleep(_)) {
            total += w.at(limits)?;
        }
    }
    Ok(total)
}

/// Why `case` cannot be judged here in reasonable time, as its verdict:
/// N/A when the target has no heartbeat interval, UNTESTABLE when a limit is
/// unknown or the designed waits exceed `max_case_time` of wall time.
pub fn check(
    case: &Case,
    target: &Target,
    limits: &Limits,
    max_case_time: Duration,
) -> Option<Outcome> {
    for l in limits_named(case) {
        if limits.get(l).is_none() {
            let verdict = match l {
                Limit::Heartbeat => Verdict::NotApplicable,
                _ => Verdict::Untestable,
            };
            return Some(Outcome::new(
                verdict,
                format!("needs the target's `{l}`: {}", l.knob()),
            ));
        }
    }
    let designed = designed_time(case, limits).ok()?;
    let wall = target.clock.wall(designed);
    if wall <= max_case_time {
        return None;
    }
    // The clock's own scale (the embedded runtime's is not the profile's).
    let scale = designed.as_secs_f64() / wall.as_secs_f64().max(1e-9);
    let durations: Vec<Limit> = limits_named(case)
        .into_iter()
        .filter(|l| *l != Limit::ReplayBuffer)
        .collect();
    let values: String = durations
        .iter()
        .map(|l| format!("; {l} {}s", limits.get(*l).unwrap_or(0.0)))
        .collect();
    let shorter = match durations.is_empty() {
        true => String::new(),
        false => format!(
            ", configure a shorter {} on the target",
            durations
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(" / ")
        ),
    };
    let needed = (wall.as_secs_f64() / max_case_time.as_secs_f64() * scale).ceil();
    Some(Outcome::new(
        Verdict::Untestable,
        format!(
            "its waits need {:.0}s of wall time ({:.0}s of protocol time at time_scale {scale:.0}{values}), over --max-case-time {}s: run the target faster (profile `time_scale` {needed} or more, with the target's clock to match){shorter}, or raise --max-case-time",
            wall.as_secs_f64(),
            designed.as_secs_f64(),
            max_case_time.as_secs_f64(),
        ),
    ))
}
