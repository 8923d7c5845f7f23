//! What a job of the conformance agent must do with its lease: for each
//! authority-bearing step of a generated job, whether the runtime must allow
//! it, refuse it with `PERMISSION_DENIED` (§9.3) or with `BUDGET_EXHAUSTED`
//! (§9.6). The plan turns each prediction into an expectation on the job's
//! `tool_call` / `tool_result` events, so lease, model and budget
//! enforcement are oracles of the fuzzer and not only of the suite.
//!
//! Predictions stop at the first step whose outcome the spec leaves open or
//! that depends on time: jobs with a `max_runtime_sec` are not predicted at
//! all, and a job with an expiry only in its first operation after its
//! sleeps have clearly outlived the expiry (`LEASE_EXPIRED`); `model` steps
//! without a `model.use` lease, delegation, and anything after an exhausted
//! budget (which MAY end the job) end the prediction; so do `finish`,
//! `fail` and `wait`.

use super::model::JobSpec;
use crate::wire::lease::{covers, parse_amount};
use serde_json::Value;
use std::collections::BTreeMap;

/// The outcome a step must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Covered by the lease, budget left: a `tool_result` without error.
    Allowed,
    /// Not covered (§9.3): a `tool_result` error `PERMISSION_DENIED`.
    Denied,
    /// A counter is ≤ 0 (§9.6): `BUDGET_EXHAUSTED` as a `tool_result` error
    /// or a `job.error`; the spec does not order it against coverage, so an
    /// uncovered operation may also say `PERMISSION_DENIED`.
    Exhausted { covered: bool },
    /// After the lease's `expires_at` (§9.5): `LEASE_EXPIRED` as a
    /// `tool_result` error or a `job.error` (a runtime MAY end the job at
    /// expiry).
    Expired,
}

/// One authority-bearing step: the `tool` its `tool_call` event names.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub tool: String,
    pub outcome: Outcome,
}

fn patterns(spec: &JobSpec, namespace: &str) -> Option<Vec<String>> {
    let v = spec.lease.get(namespace)?.as_array()?;
    Some(
        v.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
    )
}

/// The chunks a job streams (§8.4), when the spec decides what its events
/// and terminal message must be: one `result_chunks` step of text chunks
/// (`last` left at its default), nothing that may end the job early (no
/// expiry, time limit, budget, delegation, `fail` or `wait`), and
/// `result_chunk` negotiated. The job then ends with a `job.result` that
/// carries the `result_id` and no inline result.
pub fn chunks(spec: &JobSpec, negotiated: bool) -> Option<Vec<String>> {
    if spec.echo
        || !negotiated
        || spec.expires_ms.is_some()
        || spec.max_runtime_sec.is_some()
        || spec.lease.contains_key("cost.budget")
    {
        return None;
    }
    let steps = spec.input.get("steps")?.as_array()?;
    let mut found = None;
    for step in steps {
        match step.get("op").and_then(Value::as_str).unwrap_or("") {
            "fail" | "wait" | "delegate" => return None,
            "result_chunks" => {
                let utf8 = step
                    .get("encoding")
                    .and_then(Value::as_str)
                    .unwrap_or("utf8")
                    == "utf8";
                let chunks: Vec<String> = step
                    .get("chunks")?
                    .as_array()?
                    .iter()
                    .map(|c| c.as_str().map(String::from))
                    .collect::<Option<_>>()?;
                if found.is_some() || !utf8 || step.get("last").is_some() || chunks.is_empty() {
                    return None;
                }
                found = Some(chunks);
            }
            // Steps after it would not change the stream.
            "finish" => break,
            _ => {}
        }
    }
    found
}

/// Protocol milliseconds a job's sleeps must outlast its expiry by before
/// an operation is certainly after it (the expiry counts from before the
/// submission, the sleeps from after the acceptance).
const EXPIRY_MARGIN_MS: u64 = 100;

/// The first operation of an expiring job that comes after the expiry.
fn expired(spec: &JobSpec, expires_ms: u64) -> Option<Operation> {
    // Which check comes first (expiry, budget, coverage) is the runtime's.
    if spec.lease.contains_key("cost.budget") {
        return None;
    }
    let steps = spec.input.get("steps")?.as_array()?;
    let mut slept = 0u64;
    for step in steps {
        let text = |k: &str| step.get(k).and_then(Value::as_str);
        match text("op").unwrap_or("") {
            "finish" | "fail" | "wait" | "delegate" => return None,
            "sleep" => slept += step.get("ms").and_then(Value::as_u64).unwrap_or(0),
            "tool" if slept > expires_ms + EXPIRY_MARGIN_MS => {
                let (namespace, resource) = match text("capability") {
                    Some(ns) => (ns, text("resource").unwrap_or("")),
                    None => ("tool.call", text("tool").unwrap_or("")),
                };
                if !patterns(spec, namespace).is_some_and(|p| covers(&p, resource)) {
                    return None;
                }
                let tool = text("tool").unwrap_or(namespace);
                return Some(Operation {
                    tool: tool.to_string(),
                    outcome: Outcome::Expired,
                });
            }
            _ => {}
        }
    }
    None
}

/// The operations of `spec` whose outcome the spec decides, in order.
pub fn operations(spec: &JobSpec) -> Vec<Operation> {
    let mut out = vec![];
    if spec.echo || spec.max_runtime_sec.is_some() {
        return out;
    }
    if let Some(expires) = spec.expires_ms {
        return expired(spec, expires).into_iter().collect();
    }
    // §9.6: one counter per budgeted currency.
    let mut budget: BTreeMap<String, f64> = BTreeMap::new();
    if let Some(amounts) = patterns(spec, "cost.budget") {
        for a in amounts {
            match parse_amount(&a) {
                Some((cur, v)) => {
                    budget.insert(cur, v);
                }
                None => return out,
            }
        }
    }
    let steps = spec
        .input
        .get("steps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for step in &steps {
        let text = |k: &str| step.get(k).and_then(Value::as_str);
        let exhausted = budget.values().any(|v| *v <= 0.0);
        match text("op").unwrap_or("") {
            "finish" | "fail" | "wait" | "delegate" => break,
            "cost" => {
                let value = step.get("value").and_then(Value::as_f64).unwrap_or(0.0);
                if let Some(counter) = text("unit").and_then(|u| budget.get_mut(u)) {
                    // Negative values are rejected and produce no decrement.
                    if value > 0.0 {
                        *counter -= value;
                    }
                }
            }
            "tool" => {
                let (namespace, resource) = match text("capability") {
                    Some(ns) => (ns, text("resource").unwrap_or("")),
                    None => ("tool.call", text("tool").unwrap_or("")),
                };
                let tool = text("tool").unwrap_or(namespace).to_string();
                let covered = patterns(spec, namespace).is_some_and(|p| covers(&p, resource));
                if exhausted {
                    out.push(Operation {
                        tool,
                        outcome: Outcome::Exhausted { covered },
                    });
                    break;
                }
                let outcome = if covered {
                    Outcome::Allowed
                } else {
                    Outcome::Denied
                };
                out.push(Operation { tool, outcome });
            }
            "model" => {
                // Without a model.use lease the choice is the runtime's; the
                // budget rule names tool.call, fs.*, net.fetch and
                // agent.delegate, not model use.
                let Some(p) = patterns(spec, "model.use") else {
                    break;
                };
                if exhausted {
                    break;
                }
                let outcome = if covers(&p, text("model").unwrap_or("")) {
                    Outcome::Allowed
                } else {
                    Outcome::Denied
                };
                out.push(Operation {
                    tool: "model.invoke".into(),
                    outcome,
                });
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    fn spec(lease: Value, steps: Value) -> JobSpec {
        JobSpec {
            echo: false,
            input: json!({ "steps": steps }),
            lease: lease.as_object().cloned().unwrap_or_else(Map::new),
            expires_ms: None,
            max_runtime_sec: None,
            idempotency_key: None,
            trace: None,
            waits: false,
        }
    }

    fn outcomes(s: &JobSpec) -> Vec<(String, Outcome)> {
        operations(s)
            .into_iter()
            .map(|o| (o.tool, o.outcome))
            .collect()
    }

    #[test]
    fn coverage_decides_tool_calls() {
        let s = spec(
            json!({"tool.call": ["search.*"], "fs.read": ["/data/**"]}),
            json!([
                {"op": "tool", "tool": "search.web"},
                {"op": "tool", "tool": "calc"},
                {"op": "tool", "capability": "fs.read", "resource": "/data/x"},
                {"op": "tool", "capability": "fs.write", "resource": "/data/x"},
                {"op": "finish"},
                {"op": "tool", "tool": "search.web"},
            ]),
        );
        assert_eq!(
            outcomes(&s),
            vec![
                ("search.web".into(), Outcome::Allowed),
                ("calc".into(), Outcome::Denied),
                ("fs.read".into(), Outcome::Allowed),
                ("fs.write".into(), Outcome::Denied),
            ]
        );
    }

    #[test]
    fn budgets_count_down_and_end_the_prediction() {
        let s = spec(
            json!({"tool.call": ["*"], "cost.budget": ["USD:1.00"]}),
            json!([
                {"op": "cost", "value": -1, "unit": "USD"},
                {"op": "cost", "value": 0.6, "unit": "EUR"},
                {"op": "tool", "tool": "calc"},
                {"op": "cost", "value": 1.5, "unit": "USD"},
                {"op": "tool", "tool": "calc"},
                {"op": "tool", "tool": "calc"},
            ]),
        );
        assert_eq!(
            outcomes(&s),
            vec![
                ("calc".into(), Outcome::Allowed),
                ("calc".into(), Outcome::Exhausted { covered: true }),
            ]
        );
        let zero = spec(
            json!({"cost.budget": ["USD:0"]}),
            json!([{"op": "tool", "tool": "calc"}]),
        );
        assert_eq!(
            outcomes(&zero),
            vec![("calc".into(), Outcome::Exhausted { covered: false })]
        );
    }

    #[test]
    fn an_operation_well_after_the_expiry_is_refused() {
        let mut s = spec(
            json!({"tool.call": ["search.*"]}),
            json!([
                {"op": "tool", "tool": "search.web"},
                {"op": "sleep", "ms": 300},
                {"op": "tool", "tool": "search.web"},
                {"op": "sleep", "ms": 300},
                {"op": "tool", "tool": "search.web"},
            ]),
        );
        s.expires_ms = Some(450);
        assert_eq!(outcomes(&s), vec![("search.web".into(), Outcome::Expired)]);
        s.expires_ms = Some(550);
        assert!(outcomes(&s).is_empty(), "600 ms is not clearly past 550 ms");
    }

    #[test]
    fn one_text_stream_is_predicted() {
        let s = spec(
            json!({}),
            json!([{"op": "log"}, {"op": "result_chunks", "chunks": ["a", "b"], "encoding": "utf8"}, {"op": "finish", "result": 1}]),
        );
        assert_eq!(chunks(&s, true), Some(vec!["a".into(), "b".into()]));
        assert_eq!(chunks(&s, false), None, "not negotiated");
        let twice = spec(
            json!({}),
            json!([{"op": "result_chunks", "chunks": ["a"]}, {"op": "result_chunks", "chunks": ["b"]}]),
        );
        assert_eq!(chunks(&twice, true), None);
    }

    #[test]
    fn open_questions_are_not_predicted() {
        let model = spec(
            json!({}),
            json!([{"op": "model", "model": "gpt-4"}, {"op": "tool", "tool": "calc"}]),
        );
        assert!(outcomes(&model).is_empty());
        let mut timed = spec(json!({}), json!([{"op": "tool", "tool": "calc"}]));
        timed.max_runtime_sec = Some(1.0);
        assert!(outcomes(&timed).is_empty());
        let leased = spec(
            json!({"model.use": ["gpt-*"]}),
            json!([{"op": "model", "model": "gpt-4"}, {"op": "model", "model": "tier-fast/small"}]),
        );
        assert_eq!(
            outcomes(&leased),
            vec![
                ("model.invoke".into(), Outcome::Allowed),
                ("model.invoke".into(), Outcome::Denied),
            ]
        );
    }
}
