//! Step logic both roles share: the runtime-role engine and the client-role
//! harness ([`crate::clienttest`]) judge assertions, captures and mismatches
//! the same way.

use super::{StepResult, Stop};
use crate::case::{Assert, AssertOp, Level};
use crate::matcher;
use crate::verdict::{Outcome, Verdict};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub(crate) use crate::matcher::json_eq;

/// Deep-merge `over` into `base` (objects merge, anything else replaces; null removes).
pub(crate) fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(k);
                } else {
                    merge(b.entry(k.clone()).or_insert(Value::Object(Map::new())), v);
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The FAIL for a frame that was closest to what a step waited for.
pub(crate) fn mismatch_stop(
    describe: &str,
    f: &Value,
    m: &matcher::Mismatch,
    reason: &str,
) -> Stop {
    Stop::Fail {
        reason: format!(
            "{reason}; closest: {}",
            f.get("type").and_then(Value::as_str).unwrap_or("?")
        ),
        expected: Some(describe.to_string()),
        actual: Some(format!("{m} — in {}", matcher::show(f))),
    }
}

/// Judge an `assert` step on its rendered operands.
pub(crate) fn assert_values(a: &Assert, l: &Value, r: &Value) -> StepResult {
    let ok = match a.op {
        AssertOp::Equal => json_eq(l, r),
        AssertOp::NotEqual => !json_eq(l, r),
        AssertOp::Less | AssertOp::Greater => {
            let ord = match (l.as_f64(), r.as_f64(), l.as_str(), r.as_str()) {
                (Some(x), Some(y), _, _) => x.partial_cmp(&y),
                (_, _, Some(x), Some(y)) => Some(x.cmp(y)),
                _ => None,
            };
            ord == Some(if a.op == AssertOp::Less {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            })
        }
    };
    if ok {
        return Ok(());
    }
    let op = match a.op {
        AssertOp::Equal => "equal to",
        AssertOp::NotEqual => "different from",
        AssertOp::Less => "less than",
        AssertOp::Greater => "greater than",
    };
    Err(Stop::Fail {
        reason: a.message.clone().unwrap_or_else(|| {
            format!(
                "assertion failed: {} {op} {}",
                matcher::show(l),
                matcher::show(r)
            )
        }),
        expected: Some(format!("{op} {}", matcher::show(r))),
        actual: Some(matcher::show(l)),
    })
}

/// Apply a step's `capture:` (name -> JSON pointer) to a matched frame.
pub(crate) fn capture(
    frame: &Value,
    capture: &BTreeMap<String, String>,
    vars: &mut BTreeMap<String, Value>,
) -> StepResult {
    for (name, pointer) in capture {
        let v = frame.pointer(pointer).cloned().ok_or_else(|| Stop::Fail {
            reason: format!("the matched frame has nothing at {pointer} to capture as `{name}`"),
            expected: Some(format!("a value at {pointer}")),
            actual: Some(matcher::show(frame)),
        })?;
        vars.insert(name.clone(), v);
    }
    Ok(())
}

/// The verdict of a case's steps: PASS, the case level's verdict for a FAIL,
/// or ERROR. Per-frame rules broken on the way do not change it: they are
/// their own findings ([`crate::checks::Tally`]).
pub(crate) fn outcome(result: StepResult, level: Level, line: usize) -> Outcome {
    let mut outcome = match result {
        Ok(()) => Outcome::pass(),
        Err(Stop::Fail {
            reason,
            expected,
            actual,
        }) => {
            let mut o = Outcome::new(Verdict::for_level(level), reason);
            o.expected = expected;
            o.actual = actual;
            o
        }
        Err(Stop::Error { reason, origin }) => {
            let mut o = Outcome::new(Verdict::Error, reason);
            o.origin = Some(origin);
            o
        }
    };
    if outcome.verdict != Verdict::Pass {
        outcome.step_line = Some(line);
    }
    outcome
}
