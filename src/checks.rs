//! Checks applied to every frame a target sends, in every case. A violation
//! fails the case whatever its steps say, naming the rule it broke.

use crate::verdict::Level;
use crate::wire::{ErrorCode, EventKind, Feature, MessageType};
use serde_json::Value;
use std::collections::HashMap;

/// A rule checked on every frame, with the spec sentence it comes from.
#[derive(Debug)]
pub struct Invariant {
    pub id: &'static str,
    pub section: &'static str,
    pub level: Level,
    pub requirement: &'static str,
}

macro_rules! invariant {
    ($name:ident, $id:literal, $section:literal, $req:literal) => {
        pub const $name: Invariant = Invariant {
            id: $id,
            section: $section,
            level: Level::Must,
            requirement: $req,
        };
    };
}

invariant!(SCHEMA, "frame.schema", "5",
    "The wire format is a JSON object envelope with arcp, id, type, session_id, trace_id, job_id, event_seq, and payload fields.");
invariant!(EVENT_SEQ, "frame.event-seq", "8.3",
    "Sequence numbers are session-scoped, strictly monotonic, and gap-free across reconnects within the buffer window.");
invariant!(
    FEATURES,
    "frame.features",
    "6.2",
    "Either peer MUST NOT use a feature outside that intersection."
);
invariant!(
    RETRYABLE,
    "frame.retryable",
    "12",
    "LEASE_EXPIRED and BUDGET_EXHAUSTED MUST be returned with retryable: false"
);
invariant!(
    CREDENTIALS,
    "frame.credentials",
    "14",
    "Subscribers (§7.6) MUST NOT receive credentials from job.accepted they did not submit"
);
invariant!(
    BUDGET,
    "frame.budget",
    "9.6",
    "The runtime MUST decrement the matching counter by value on each such metric event."
);
invariant!(
    TERMINAL,
    "frame.terminal-once",
    "7.3",
    "Terminal states are success, error, cancelled, and timed_out."
);

pub const ALL: &[&Invariant] = &[
    &SCHEMA,
    &EVENT_SEQ,
    &FEATURES,
    &RETRYABLE,
    &CREDENTIALS,
    &BUDGET,
    &TERMINAL,
];

#[derive(Debug, Clone)]
pub struct Violation {
    pub invariant: &'static Invariant,
    pub detail: String,
}

impl Violation {
    /// The wire-log line for this violation. It names the frame it is about
    /// (`on job.event:log`): frames are logged when they arrive but checked
    /// when a step reads them, so the log's order does not tell.
    pub fn note(&self, frame: Option<&Value>) -> String {
        let on = frame
            .and_then(|v| {
                let t = v.get("type")?.as_str()?;
                Some(match v.pointer("/payload/kind").and_then(Value::as_str) {
                    Some(k) if t == "job.event" => format!(" on {t}:{k}"),
                    _ => format!(" on {t}"),
                })
            })
            .unwrap_or_default();
        format!(
            "violation {} (§{}){on}: {}",
            self.invariant.id, self.invariant.section, self.detail
        )
    }
}

#[derive(Default)]
struct SessionView {
    principal: String,
    features: Vec<String>,
    next_seq: Option<u64>,
    /// Terminal messages seen per job (since the session began or resumed).
    terminal: HashMap<String, u32>,
    budget: HashMap<(String, String), f64>,
    /// Jobs whose history a subscription replayed into this session, and how
    /// often: each replay may repeat the terminal message and older budget
    /// counters, and a resume replays those repeats again (without the
    /// `job.subscribed` that announced them).
    replayed: HashMap<String, u32>,
}

/// Watches every inbound frame of one case.
#[derive(Default)]
pub struct Monitor {
    sessions: HashMap<String, SessionView>,
    /// Credential value -> principal that submitted its job.
    credentials: HashMap<String, String>,
    /// Validate frames against the JSON Schemas.
    pub schema: bool,
}

impl Monitor {
    pub fn new() -> Monitor {
        Monitor {
            schema: true,
            ..Monitor::default()
        }
    }

    /// A session was established (welcome received) with these features: a
    /// new session under this name, with its own count (a resume restores
    /// the count right after, with [`Monitor::resumed`]).
    pub fn opened(&mut self, session: &str, principal: &str, features: &[String]) {
        // A new session under a reused name starts its own count; `alice2` is
        // a second token of the same principal as `alice`.
        self.sessions.insert(
            session.to_string(),
            SessionView {
                principal: match principal {
                    "alice2" => "alice".to_string(),
                    p => p.to_string(),
                },
                features: features.to_vec(),
                ..SessionView::default()
            },
        );
    }

    /// The session resumed from `last_event_seq`: replay restarts the count.
    pub fn resumed(&mut self, session: &str, last_event_seq: u64) {
        if let Some(v) = self.sessions.get_mut(session) {
            v.next_seq = Some(last_event_seq + 1);
            v.terminal.clear();
            v.budget.clear();
        }
    }

    /// Check one inbound frame. `v` is its parsed JSON, if it parsed.
    pub fn inbound(&mut self, session: &str, text: &str, v: Option<&Value>) -> Vec<Violation> {
        let mut out = vec![];
        let mut flag = |inv: &'static Invariant, detail: String| {
            out.push(Violation {
                invariant: inv,
                detail,
            })
        };
        let Some(v) = v else {
            flag(&SCHEMA, "frame is not valid JSON".into());
            return out;
        };
        if self.schema {
            for viol in crate::schema::schemas().validate(v) {
                flag(&SCHEMA, viol.to_string());
            }
        }
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .and_then(MessageType::parse);
        let job = v
            .get("job_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let payload = v.get("payload").cloned().unwrap_or(Value::Null);
        let principal = self
            .sessions
            .get(session)
            .map(|s| s.principal.clone())
            .unwrap_or_default();

        // Credential values of other principals must never arrive here.
        for (value, owner) in &self.credentials {
            if *owner != principal && text.contains(value.as_str()) {
                flag(
                    &CREDENTIALS,
                    format!("a credential value issued to principal `{owner}` reached a session of `{principal}`"),
                );
            }
        }
        if kind == Some(MessageType::JobAccepted) {
            for c in payload
                .get("credentials")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(val) = c.get("value").and_then(Value::as_str) {
                    self.credentials
                        .entry(val.to_string())
                        .or_insert(principal.clone());
                }
            }
        }
        retryable(&payload, &mut flag);

        let Some(view) = self.sessions.get_mut(session) else {
            return out;
        };
        if let Some(seq) = v.get("event_seq").and_then(Value::as_u64) {
            if let Some(expected) = view.next_seq {
                if seq != expected {
                    flag(
                        &EVENT_SEQ,
                        format!(
                            "event_seq {seq} where {expected} was due (previous {})",
                            expected - 1
                        ),
                    );
                }
            }
            view.next_seq = Some(seq + 1);
        }
        let has = |f: Feature| view.features.iter().any(|x| x == f.as_str());
        if let Some(f) = kind.and_then(MessageType::feature) {
            if !has(f) {
                flag(
                    &FEATURES,
                    format!("`{}` sent although `{f}` was not negotiated", kind.unwrap()),
                );
            }
        }
        if kind == Some(MessageType::JobEvent) {
            let ek = payload
                .get("kind")
                .and_then(Value::as_str)
                .and_then(EventKind::parse);
            if let Some(f) = ek.and_then(EventKind::feature) {
                if !has(f) {
                    flag(
                        &FEATURES,
                        format!(
                            "a `{}` event sent although `{f}` was not negotiated",
                            ek.unwrap()
                        ),
                    );
                }
            }
        }
        if payload
            .get("credentials")
            .is_some_and(|c| c.as_array().is_some_and(|a| !a.is_empty()))
            && !has(Feature::ProvisionedCredentials)
        {
            flag(
                &FEATURES,
                "credentials sent although `provisioned_credentials` was not negotiated".into(),
            );
        }
        // §7.6 allows subscribing with history "earlier in the same
        // session": the job's history, terminal message included, comes again.
        let replay = kind == Some(MessageType::JobSubscribed)
            && payload.get("replayed") == Some(&Value::Bool(true));
        if replay {
            let j = payload
                .get("job_id")
                .and_then(Value::as_str)
                .unwrap_or(&job);
            *view.replayed.entry(j.to_string()).or_default() += 1;
        }
        let repeats = view.replayed.get(&job).copied().unwrap_or(0);
        if kind.is_some_and(MessageType::is_terminal) && !job.is_empty() {
            let n = view.terminal.entry(job.clone()).or_default();
            *n += 1;
            if *n > 1 + repeats {
                flag(
                    &TERMINAL,
                    format!(
                        "a second terminal message ({}) for job {job}",
                        kind.unwrap()
                    ),
                );
            }
        }
        // Budget counters only go down (a replayed history goes back in time).
        let mut observe = |currency: &str, value: f64| {
            let key = (job.clone(), currency.to_string());
            if let Some(prev) = view.budget.get(&key) {
                if value > *prev + 1e-9 && repeats == 0 {
                    flag(
                        &BUDGET,
                        format!("{currency} budget of job {job} rose from {prev} to {value}"),
                    );
                }
            }
            view.budget.insert(key, value);
        };
        match kind {
            // After a replay the history's counters come next, not this snapshot's.
            Some(MessageType::JobAccepted) | Some(MessageType::JobSubscribed)
                if !replay && repeats == 0 =>
            {
                let job_key = payload
                    .get("job_id")
                    .and_then(Value::as_str)
                    .unwrap_or(&job)
                    .to_string();
                // §7.2: an idempotent resubmission gets "the same
                // `job.accepted` payload", budget at acceptance included.
                let seen = kind == Some(MessageType::JobAccepted)
                    && view.budget.keys().any(|(j, _)| *j == job_key);
                if let Some(b) = payload
                    .get("budget")
                    .and_then(Value::as_object)
                    .filter(|_| !seen)
                {
                    for (cur, val) in b {
                        if let Some(x) = val.as_f64() {
                            let key = (job_key.clone(), cur.clone());
                            if let Some(prev) = view.budget.get(&key) {
                                if x > *prev + 1e-9 {
                                    flag(
                                        &BUDGET,
                                        format!(
                                            "{cur} budget of job {job_key} rose from {prev} to {x}"
                                        ),
                                    );
                                }
                            }
                            view.budget.insert(key, x);
                        }
                    }
                }
            }
            Some(MessageType::JobEvent) => {
                let body = &payload["body"];
                if payload.get("kind").and_then(Value::as_str) == Some("metric")
                    && body.get("name").and_then(Value::as_str) == Some("cost.budget.remaining")
                {
                    if let (Some(cur), Some(x)) = (
                        body.get("unit").and_then(Value::as_str),
                        body.get("value").and_then(Value::as_f64),
                    ) {
                        observe(cur, x);
                    }
                }
            }
            _ => {}
        }
        out
    }
}

/// LEASE_EXPIRED and BUDGET_EXHAUSTED must carry `retryable: false`
/// wherever they appear (session.error, job.error, tool_result errors).
fn retryable(v: &Value, flag: &mut impl FnMut(&'static Invariant, String)) {
    match v {
        Value::Object(map) => {
            if let Some(code) = map
                .get("code")
                .and_then(Value::as_str)
                .and_then(ErrorCode::parse)
            {
                if code.required_retryable() == Some(false)
                    && map.get("retryable") != Some(&Value::Bool(false))
                {
                    flag(
                        &RETRYABLE,
                        format!(
                            "{code} with retryable: {}",
                            map.get("retryable")
                                .map_or("(absent)".to_string(), Value::to_string)
                        ),
                    );
                }
            }
            map.values().for_each(|c| retryable(c, flag));
        }
        Value::Array(a) => a.iter().for_each(|c| retryable(c, flag)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(m: &mut Monitor, s: &str, v: Value) -> Vec<&'static str> {
        let t = v.to_string();
        m.inbound(s, &t, Some(&v))
            .iter()
            .map(|x| x.invariant.id)
            .collect()
    }

    #[test]
    fn catches_gaps_features_retryable_leaks_budget_and_double_terminal() {
        let mut m = Monitor::new();
        m.schema = false;
        m.opened("a", "alice", &["provisioned_credentials".into()]);
        m.opened("b", "bob", &[]);
        let ev = |seq: u64| json!({"type": "job.event", "job_id": "j", "event_seq": seq, "payload": {"kind": "log", "body": {}}});
        assert!(run(&mut m, "a", ev(1)).is_empty());
        assert_eq!(run(&mut m, "a", ev(3)), ["frame.event-seq"]);
        assert_eq!(
            run(
                &mut m,
                "a",
                json!({"type": "job.event", "event_seq": 4, "payload": {"kind": "progress", "body": {"current": 1}}})
            ),
            ["frame.features"]
        );
        assert_eq!(
            run(
                &mut m,
                "a",
                json!({"type": "session.error", "payload": {"code": "LEASE_EXPIRED", "retryable": true}})
            ),
            ["frame.retryable"]
        );
        run(
            &mut m,
            "a",
            json!({"type": "job.accepted", "payload": {"job_id": "j", "budget": {"USD": 1.0}, "credentials": [{"value": "sk-secret"}]}}),
        );
        assert_eq!(
            run(
                &mut m,
                "b",
                json!({"type": "x", "payload": {"v": "sk-secret"}})
            ),
            ["frame.credentials"]
        );
        let rem = |x: f64, seq: u64| json!({"type": "job.event", "job_id": "j", "event_seq": seq, "payload": {"kind": "metric", "body": {"name": "cost.budget.remaining", "value": x, "unit": "USD"}}});
        assert!(run(&mut m, "a", rem(0.5, 5)).is_empty());
        assert_eq!(run(&mut m, "a", rem(0.7, 6)), ["frame.budget"]);
        let term = |seq: u64| json!({"type": "job.result", "job_id": "j", "event_seq": seq, "payload": {"final_status": "success"}});
        assert!(run(&mut m, "a", term(7)).is_empty());
        assert_eq!(run(&mut m, "a", term(8)), ["frame.terminal-once"]);
        m.resumed("a", 6);
        assert!(run(&mut m, "a", term(7)).is_empty());
    }

    #[test]
    fn an_idempotent_resubmission_repeats_the_accepted_budget() {
        let mut m = Monitor::new();
        m.schema = false;
        m.opened("a", "alice", &[]);
        let accepted = json!({"type": "job.accepted", "job_id": "j", "payload": {"job_id": "j", "budget": {"USD": 1.0}}});
        let rem = |x: f64, seq: u64| json!({"type": "job.event", "job_id": "j", "event_seq": seq, "payload": {"kind": "metric", "body": {"name": "cost.budget.remaining", "value": x, "unit": "USD"}}});
        assert!(run(&mut m, "a", accepted.clone()).is_empty());
        assert!(run(&mut m, "a", rem(-2.0, 1)).is_empty());
        // §7.2: "the same job.accepted payload", budget at acceptance and all.
        assert!(run(&mut m, "a", accepted).is_empty());
        assert_eq!(run(&mut m, "a", rem(0.5, 2)), ["frame.budget"]);
    }

    #[test]
    fn a_history_replay_may_repeat_terminals_and_older_budgets() {
        let mut m = Monitor::new();
        m.schema = false;
        m.opened("a", "alice", &["subscribe".into()]);
        let term = |seq: u64| json!({"type": "job.result", "job_id": "j", "event_seq": seq, "payload": {"final_status": "success"}});
        let rem = |x: f64, seq: u64| json!({"type": "job.event", "job_id": "j", "event_seq": seq, "payload": {"kind": "metric", "body": {"name": "cost.budget.remaining", "value": x, "unit": "USD"}}});
        assert!(run(&mut m, "a", rem(0.5, 1)).is_empty());
        assert!(run(&mut m, "a", rem(-1.0, 2)).is_empty());
        assert!(run(&mut m, "a", term(3)).is_empty());
        let sub = json!({"type": "job.subscribed", "job_id": "j", "payload": {"job_id": "j", "replayed": true}});
        assert!(run(&mut m, "a", sub).is_empty());
        assert!(run(&mut m, "a", rem(0.5, 4)).is_empty());
        assert!(run(&mut m, "a", rem(-1.0, 5)).is_empty());
        assert!(run(&mut m, "a", term(6)).is_empty());
        // A resume replays both copies, without the job.subscribed between them.
        m.resumed("a", 0);
        for (i, f) in [
            rem(0.5, 1),
            rem(-1.0, 2),
            term(3),
            rem(0.5, 4),
            rem(-1.0, 5),
            term(6),
        ]
        .into_iter()
        .enumerate()
        {
            assert!(run(&mut m, "a", f).is_empty(), "frame {i}");
        }
        assert_eq!(run(&mut m, "a", term(7)), ["frame.terminal-once"]);
    }
}
