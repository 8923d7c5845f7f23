//! Turning a case outcome into a finding: which oracle fired, about which
//! message type, under which rule. Findings with the same [`Signature`] are
//! one bug.
//!
//! The oracles themselves live in the rendered case (expect an error frame
//! after malformed input, a pong after anything, a welcome for a fresh
//! session at the end) and in the engine: the per-frame checks of
//! [`crate::checks::Monitor`] (schema, event_seq, features, retryable,
//! credentials, budget, terminal-once) and its crash / hang / garbage
//! detection.

use super::plan::{Plan, StepTag};
use crate::case::Case;
use crate::verdict::{Direction, Origin, Outcome, Verdict};

use std::fmt;

/// What identifies a bug: the oracle (with its rule, for the oracles that
/// check one requirement of the generated jobs) and the target's observable
/// reaction. The mutation that provoked it is not part of it (one root cause
/// is one finding, whatever frame hit it): that is a [`Judgement::trigger`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signature {
    pub oracle: String,
    /// The message type the check is about; `*` for a reaction to anything.
    pub message: String,
    /// The oracle's rule; `*` for a reaction to anything.
    pub rule: String,
    /// What the target did: `silent`, `closed the transport`, `crashed
    /// (exit status 1)`, `session.error differs at /payload/code: got "X"`.
    /// Empty for per-frame invariants (their rule is the reaction).
    pub reaction: String,
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.oracle)?;
        if self.message != ANY || self.rule != ANY {
            write!(f, " / {} / {}", self.message, self.rule)?;
        }
        if !self.reaction.is_empty() {
            write!(f, ": {}", self.reaction)?;
        }
        Ok(())
    }
}

/// The message and rule of a reaction to anything.
const ANY: &str = "*";

impl Signature {
    /// A case id made of it: `fuzz.<oracle>[.<message>.<rule>][.<reaction>]`.
    pub fn case_id(&self) -> String {
        let clean = |s: &str| -> String {
            let t: String = s
                .to_ascii_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            let mut t = t.trim_matches('-').to_string();
            while t.contains("--") {
                t = t.replace("--", "-");
            }
            if t.is_empty() {
                "x".into()
            } else {
                t.chars()
                    .take(48)
                    .collect::<String>()
                    .trim_matches('-')
                    .to_string()
            }
        };
        let mut id = format!("fuzz.{}", clean(&self.oracle));
        for part in [&self.message, &self.rule] {
            if part != ANY {
                id = format!("{id}.{}", clean(part));
            }
        }
        if !self.reaction.is_empty() {
            id = format!("{id}.{}", clean(&self.reaction));
        }
        id
    }
}

/// Oracles whose failure is a reaction of the target to whatever the step
/// sent (a malformed frame, a ping after it): the step's message and
/// mutation are the trigger, not the root cause.
fn reacts_to_anything(oracle: &str) -> bool {
    !matches!(
        oracle,
        "invariant"
            | "lease"
            | "budget"
            | "trace"
            | "chunks"
            | "idempotency"
            | "terminal"
            | "resume"
            | "accept"
            | "welcome"
            | "reply"
    )
}

/// The actual value of a mismatch's text ("<expected>, got <actual> — in <frame>").
fn got(mismatch: &str) -> &str {
    mismatch
        .split_once(", got ")
        .map_or("", |(_, g)| g.split(" — in ").next().unwrap_or(g))
}

/// Fields that tie a frame to what it answers or is about: the ping (§6.4),
/// the request an error refuses (§12), the job. A frame that differs only
/// there answers something else.
const CORRELATION: &[&str] = &["/payload/ping_nonce", "/payload/request_id", "/job_id"];

/// What the target did at the failed step, from the outcome's reason and
/// closest frame.
fn reaction(oracle: &str, outcome: &Outcome) -> String {
    let r = outcome.reason.as_str();
    match oracle {
        "crash" => {
            // "exited with status 1", "killed by signal 9": the crash's signature.
            let how = ["exited with status ", "killed by signal ", "signal "]
                .iter()
                .find_map(|p| {
                    let at = r.find(p)?;
                    let num: String = r[at + p.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect();
                    Some(format!("{}{num}", p.trim_start_matches("killed by ")))
                });
            let how = how.unwrap_or_else(|| "no status".into());
            // The exception its stderr names, the last one (the one that ended it):
            // two crashes with one exit status are two causes when their exceptions differ.
            let exception = r
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '.'))
                .rev()
                .map(|w| w.trim_matches(|c| c == ':' || c == '.'))
                .find(|w| {
                    w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                        && (w.ends_with("Error") || w.ends_with("Exception"))
                });
            match exception {
                Some(e) => format!("crashed ({how}, {e})"),
                None => format!("crashed ({how})"),
            }
        }
        "hang" => "unresponsive".into(),
        "flood" => "flooded".into(),
        "giant-frame" => "giant frame".into(),
        "garbage" => "sent garbage".into(),
        "connect" => "refused the connection".into(),
        "drop-without-error" | "transport-drop" => "closed the transport".into(),
        "harness" => r.chars().take(60).collect(),
        _ => match outcome.actual.as_deref() {
            None | Some("no frames") => "silent".into(),
            Some(a) => {
                let closest = r
                    .rsplit_once("; closest: ")
                    .map(|(_, t)| t.trim())
                    .unwrap_or("a frame");
                match a
                    .strip_prefix("at ")
                    .and_then(|a| a.split_once(": expected "))
                {
                    // The closest frame was another message, or the reply to another
                    // request or a frame of another job (a field missing there is the
                    // frame's own fault): the awaited one never came.
                    Some((path, rest))
                        if path == "/type"
                            || (CORRELATION.contains(&path)
                                && !got(rest).starts_with("absent")) =>
                    {
                        "silent".into()
                    }
                    Some((path, rest)) => {
                        // The value only where it names the reaction (a code, a type, a status).
                        let got = Some(got(rest))
                            .filter(|g| {
                                !g.is_empty()
                                    && ["/code", "/final_status"].iter().any(|k| path.ends_with(k))
                            })
                            .map(|g| format!(": got {}", g.chars().take(40).collect::<String>()))
                            .unwrap_or_default();
                        format!("{closest} differs at {}{got}", pointer_shape(path))
                    }
                    None => format!("{closest} differs"),
                }
            }
        },
    }
}

/// A failed iteration, judged.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub signature: Signature,
    pub verdict: Verdict,
    pub reason: String,
    /// Index (into the rendered actions) of the action whose step failed.
    pub action: Option<usize>,
    /// What provoked it: the failed step's message type and mutation or check.
    pub trigger: String,
}

/// The tag of the step at `line`.
fn tag_at<'p>(plan: &'p Plan, case: &Case, line: Option<usize>) -> Option<&'p StepTag> {
    let line = line?;
    let i = case.steps.iter().position(|s| s.line == line)?;
    plan.tags.get(i)
}

/// The message type of the frame the first violation of `id` was about, as
/// its wire-log note names it ([`crate::checks::Violation::note`]); with the
/// event kind for schema violations of `job.event`.
fn violating_type(outcome: &Outcome, id: &str) -> String {
    let prefix = format!("violation {id} ");
    outcome
        .wire
        .iter()
        .filter(|w| w.dir == Direction::Note)
        .find_map(|w| w.text.strip_prefix(&prefix))
        .and_then(|rest| {
            // "(§8.3) on job.event: detail"
            let (section, after) = rest.split_once(") on ")?;
            (!section.contains(':')).then_some(())?;
            after.split_once(": ")
        })
        .map(|(about, _)| match about.split_once(':') {
            Some((t, _)) if id != crate::checks::SCHEMA.id => t.to_string(),
            _ => about.to_string(),
        })
        .unwrap_or_else(|| "-".into())
}

/// Normalize a JSON pointer for signatures: array indexes become `*`.
fn pointer_shape(p: &str) -> String {
    p.split('/')
        .map(|t| {
            if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
                "*"
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Judge one outcome of a rendered plan. `None`: nothing found.
pub fn judge(plan: &Plan, case: &Case, outcome: &Outcome) -> Option<Judgement> {
    if matches!(
        outcome.verdict,
        Verdict::Pass | Verdict::Info | Verdict::NotApplicable
    ) {
        // A per-frame rule broken on the way: the first one is the finding.
        return outcome.violations.first().map(|v| {
            let inv = v.invariant;
            let mut rule = inv.id.to_string();
            if inv.id == crate::checks::SCHEMA.id {
                // "at <pointer>: <what>"
                if let Some(path) = v
                    .detail
                    .strip_prefix("at ")
                    .and_then(|r| r.split_once(':'))
                    .map(|(p, _)| p)
                {
                    rule = format!("{rule}@{}", pointer_shape(path));
                }
            }
            Judgement {
                signature: Signature {
                    oracle: "invariant".into(),
                    message: violating_type(outcome, inv.id),
                    rule,
                    reaction: String::new(),
                },
                verdict: Verdict::for_level(inv.level),
                reason: format!("{} (§{}): {}", inv.id, inv.section, v.detail),
                action: None,
                trigger: "-".into(),
            }
        });
    }
    let tag = tag_at(plan, case, outcome.step_line);
    let (message, rule) = tag
        .map(|t| (t.message.clone(), t.rule.clone()))
        .unwrap_or_else(|| ("-".into(), "-".into()));
    let trigger = format!("{message} / {rule}");
    let mutated = tag.is_some_and(|t| t.mutated);
    let action = tag.and_then(|t| t.action);
    let judged = |oracle: &str, message: String, rule: String| {
        // The root cause: the oracle's own rule (not a mutation) and the reaction.
        let (message, rule) = if reacts_to_anything(oracle) {
            (ANY.to_string(), ANY.to_string())
        } else if mutated && oracle == "reply" {
            // Any reply or error was due to a mutated frame: what was mutated is the trigger.
            (ANY.to_string(), ANY.to_string())
        } else if mutated {
            (message, ANY.to_string())
        } else {
            (message, rule)
        };
        Judgement {
            signature: Signature {
                oracle: oracle.into(),
                message,
                rule,
                reaction: reaction(oracle, outcome),
            },
            verdict: outcome.verdict,
            reason: outcome.reason.clone(),
            action,
            trigger: trigger.clone(),
        }
    };
    let reason = outcome.reason.as_str();
    let closed = !reason.contains("crashed")
        && (reason.contains("transport closed") || reason.contains("transport is closed"));
    // A close mid-case is an ERROR too; it is judged as a drop below.
    if outcome.verdict == Verdict::Error && !closed {
        if outcome.origin == Some(Origin::Harness) {
            return Some(judged("harness", message, rule));
        }
        let r = reason;
        let oracle = if r.contains("crashed") {
            "crash"
        } else if r.contains("unresponsive")
            || r.contains("did not finish within")
            || r.contains("did not read its input")
        {
            "hang"
        } else if r.contains("flooded") {
            "flood"
        } else if r.contains("giant frame") {
            "giant-frame"
        } else if r.contains("garbage") || r.contains("not JSON") {
            "garbage"
        } else if r.contains("could not connect") || r.contains("could not reconnect") {
            "connect"
        } else {
            "error"
        };
        return Some(judged(oracle, message, rule));
    }
    let r = reason;
    if r.contains("transport closed")
        || r.contains("transport is closed")
        || r.contains("no open transport")
    {
        let oracle = match tag.map(|t| t.oracle) {
            // The peer closed where an error frame was due.
            Some("error-frame") => "drop-without-error",
            _ => "transport-drop",
        };
        return Some(judged(oracle, message, rule));
    }
    let oracle = tag.map(|t| t.oracle).unwrap_or("step");
    Some(judged(oracle, message, rule))
}

/// Section and requirement sentence a reproducer cites for an oracle: the
/// spec's own words, so that the level they carry (`repro::level_of`) is the
/// finding's. `trigger` is "message / mutation".
pub fn requirement(sig: &Signature, trigger: &str) -> (Vec<String>, String) {
    if sig.oracle == "invariant" {
        let id = sig.rule.split('@').next().unwrap_or("");
        if let Some(inv) = crate::checks::ALL.iter().find(|i| i.id == id) {
            return (vec![inv.section.to_string()], inv.requirement.to_string());
        }
    }
    let (s, r): (&str, &str) = match sig.oracle.as_str() {
        // Unknown fields are to be ignored (a MUST); any other malformed
        // frame has only the error table's row, which says no MUST.
        _ if trigger.ends_with("/ extra-field") => (
            "5",
            "Implementations MUST ignore unknown top-level envelope fields, ensuring forward compatibility as the protocol evolves.",
        ),
        "error-frame" | "drop-without-error" => (
            "12",
            "`INVALID_REQUEST`: Malformed envelope or schema violation.",
        ),
        "pong" | "alive-after" | "alive-at-end" | "hang" => (
            "6.4",
            "The receiver MUST respond promptly (within `heartbeat_interval_sec`) with `session.pong`",
        ),
        "fresh-session" | "welcome" => (
            "6.2",
            "`session.welcome` responds with feature acknowledgement, an agent inventory enriched with version information, and a heartbeat interval",
        ),
        "resume" => (
            "6.3",
            "A client reconnecting after a transport drop presents `last_event_seq` and its most recent `resume_token` in `session.resume`. The runtime replays buffered events from that sequence.",
        ),
        "accept" if sig.rule.starts_with("list-jobs") => (
            "6.6",
            "Implementations MUST NOT leak job existence across principals not authorized to know about them.",
        ),
        "accept" | "transport-drop" if sig.message == "session.close" => (
            "6.7",
            "The runtime acknowledges with `session.closed`.",
        ),
        "lease" => (
            "9.3",
            "The runtime MUST evaluate the effective lease before authorizing any operation. An operation not covered by the lease MUST fail with `PERMISSION_DENIED`.",
        ),
        "budget" => (
            "9.6",
            "If any counter is ≤ 0, the operation MUST fail with `BUDGET_EXHAUSTED`.",
        ),
        "accept" if sig.reaction.contains("differs at /payload/agent") => (
            "7.5",
            "The resolved version appears in `job.accepted.payload` and in listings as `agent: \"name@version\"`.",
        ),
        "chunks" if sig.rule == "terminal-result-id" => (
            "8.4",
            "Implementations MUST NOT mix inline result and `result_chunk` in the same job. Once a `result_chunk` is emitted, the terminating `job.result` MUST carry `result_id`.",
        ),
        "chunks" => (
            "8.4",
            "`chunk_seq` (REQUIRED): 0-based monotonic chunk index per `result_id`. The chunks for one `result_id` MUST be emitted in order.",
        ),
        "idempotency" => (
            "7.2",
            "If `idempotency_key` is present on `job.submit`, the runtime MUST return the same `job.accepted` payload for any subsequent submission with the same key and identical parameters. A reused key with conflicting parameters returns `DUPLICATE_KEY`.",
        ),
        "trace" => (
            "11",
            "Runtimes MUST forward the trace context to tool servers and sub-agents.",
        ),
        "accept" if sig.reaction.contains("differs at /trace_id") => (
            "11",
            "Runtimes MUST forward the trace context to tool servers and sub-agents.",
        ),
        "terminal" => (
            "7.3",
            "Terminal states are success, error, cancelled, and timed_out.",
        ),
        _ => (
            "12",
            "`INVALID_REQUEST`: Malformed envelope or schema violation.",
        ),
    };
    (vec![s.to_string()], r.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_make_valid_case_ids() {
        let s = Signature {
            oracle: "error-frame".into(),
            message: ANY.into(),
            rule: ANY.into(),
            reaction: "silent".into(),
        };
        assert_eq!(s.case_id(), "fuzz.error-frame.silent");
        let other = failed(
            "nothing matching arrived within 5s; closest: session.pong",
            Some("at /type: expected \"session.error\", got \"session.pong\" — in {}"),
        );
        assert_eq!(reaction("error-frame", &other), "silent");
        assert_eq!(s.to_string(), "error-frame: silent");
        let odd = Signature {
            oracle: "invariant".into(),
            message: "\u{1f600}".into(),
            rule: "frame.schema@/payload/*".into(),
            reaction: String::new(),
        };
        assert!(odd
            .case_id()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        assert_eq!(pointer_shape("/payload/jobs/3/id"), "/payload/jobs/*/id");
    }

    fn failed(reason: &str, actual: Option<&str>) -> Outcome {
        let mut o = Outcome::new(Verdict::Fail, reason);
        o.actual = actual.map(String::from);
        o
    }

    #[test]
    fn reactions_name_what_the_target_did_not_what_provoked_it() {
        assert_eq!(
            reaction(
                "error-frame",
                &failed("nothing matching arrived within 5s", Some("no frames"))
            ),
            "silent"
        );
        let coded = failed(
            "nothing matching arrived within 5s; closest: session.error",
            Some("at /payload/code: expected \"INVALID_REQUEST\", got \"INTERNAL_ERROR\" — in {}"),
        );
        assert_eq!(
            reaction("error-frame", &coded),
            "session.error differs at /payload/code: got \"INTERNAL_ERROR\""
        );
        // A pong for another ping (a heartbeat's) is no answer to the one sent: one root
        // cause with no pong at all (the TypeScript SDK's pings without `sent_at`).
        let other_ping = failed(
            "no matching frame within 5s; closest: session.pong",
            Some("at /payload/ping_nonce: expected \"fz1\", got \"01M9\" — in {}"),
        );
        assert_eq!(reaction("pong", &other_ping), "silent");
        // A frame without its job_id is the frame's fault, not another job's frame.
        let no_job = failed(
            "no matching frame within 5s; closest: job.event",
            Some("at /job_id: expected \"job_1\", got absent — in {}"),
        );
        assert_eq!(reaction("lease", &no_job), "job.event differs at /job_id");
        let crashed = Outcome::new(
            Verdict::Error,
            "target crashed: exited with status 1; transport closed",
        );
        assert_eq!(
            reaction("crash", &crashed),
            "crashed (exited with status 1)"
        );
        let raised = Outcome::new(
            Verdict::Error,
            "target crashed: exited with status 1; transport closed (target exited with status 1; stderr: ERROR -- session ended: JSON::ParserError: invalid ASCII)",
        );
        assert_eq!(
            reaction("crash", &raised),
            "crashed (exited with status 1, JSON::ParserError)"
        );
    }
}
