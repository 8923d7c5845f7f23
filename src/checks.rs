//! Checks applied to every frame a target sends, in every case. A violation
//! is a finding of its own: the case records it ([`Tally`]) and keeps the
//! verdict of its own steps; the report lists each broken rule once, with
//! every case it was seen in (one root cause, one finding).

use crate::verdict::{Level, Sighting};
use crate::wire::{ErrorCode, EventKind, Feature, MessageType};
use serde_json::Value;
use std::collections::HashMap;

/// A rule checked on every frame, with the spec sentence it comes from.
#[derive(Debug, serde::Serialize)]
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

// The next three quote sentences that describe the protocol without an
// RFC 2119 keyword, so a violation is INFO, never FAIL (a sentence without
// MUST/SHOULD/MAY is not a MUST). The MUSTs the JSON Schemas also encode
// (`current` non-negative, LEASE_EXPIRED ending `error`) have cases of their own.
pub const SCHEMA: Invariant = Invariant {
    id: "frame.schema",
    section: "5",
    level: Level::Info,
    requirement: "The wire format is a JSON object envelope with arcp, id, type, session_id, trace_id, job_id, event_seq, and payload fields.",
};
pub const EVENT_SEQ: Invariant = Invariant {
    id: "frame.event-seq",
    section: "8.3",
    level: Level::Info,
    requirement: "Sequence numbers are session-scoped, strictly monotonic, and gap-free across reconnects within the buffer window.",
};
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
pub const TERMINAL: Invariant = Invariant {
    id: "frame.terminal-once",
    section: "7.3",
    level: Level::Info,
    requirement: "Terminal states are success, error, cancelled, and timed_out.",
};

// Found by going through the ordering and lifecycle rules of §7, §8 (and
// the lease and credential rules a frame stream shows): each is a MUST,
// MUST NOT or SHOULD sentence, quoted as written. docs/invariants.md lists
// them with the rules considered and left out (no RFC 2119 keyword).
invariant!(
    CHUNK_ORDER,
    "frame.chunk-order",
    "8.4",
    "The chunks for one `result_id` MUST be emitted in order."
);
invariant!(
    CHUNK_NO_INLINE,
    "frame.chunk-no-inline",
    "8.4",
    "Implementations MUST NOT mix inline result and `result_chunk` in the same job."
);
invariant!(
    CHUNK_RESULT_ID,
    "frame.chunk-result-id",
    "8.4",
    "Once a `result_chunk` is emitted, the terminating `job.result` MUST carry `result_id`."
);
pub const PROGRESS_TOTAL: Invariant = Invariant {
    id: "frame.progress-total",
    section: "8.2.1",
    level: Level::Should,
    requirement: "If `total` is present, `current` SHOULD be ≤ `total`.",
};
invariant!(
    AGENT_VERSION,
    "frame.agent-version",
    "7.5",
    "Once resolved, a job's agent version is fixed; the runtime MUST NOT migrate a running job to a different version."
);
invariant!(
    IDEMPOTENT_ACCEPTED,
    "frame.idempotent-accepted",
    "7.2",
    "If `idempotency_key` is present on `job.submit`, the runtime MUST return the same `job.accepted` payload for any subsequent submission with the same key and identical parameters."
);
invariant!(
    CREDENTIAL_REUSE,
    "frame.credential-reuse",
    "9.8.2",
    "Credentials are scoped to a single job. The runtime MUST NOT reuse a credential `value` across jobs."
);
invariant!(
    DELEGATE_LEASE,
    "frame.delegate-lease",
    "9.4",
    "A delegated lease MUST be a strict subset of the delegating lease."
);

pub const ALL: &[&Invariant] = &[
    &SCHEMA,
    &EVENT_SEQ,
    &FEATURES,
    &RETRYABLE,
    &CREDENTIALS,
    &BUDGET,
    &TERMINAL,
    &CHUNK_ORDER,
    &CHUNK_NO_INLINE,
    &CHUNK_RESULT_ID,
    &PROGRESS_TOTAL,
    &AGENT_VERSION,
    &IDEMPOTENT_ACCEPTED,
    &CREDENTIAL_REUSE,
    &DELEGATE_LEASE,
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

/// The violations of one case, one [`Sighting`] per rule: a target that
/// breaks a rule on every frame costs a counter, not memory.
#[derive(Debug, Default)]
pub struct Tally(Vec<Sighting>);

impl Tally {
    /// Count `v`; keep its evidence if it is the rule's first violation.
    pub fn add(&mut self, v: &Violation, session: &str, frame: String, t_ms: f64) {
        let id = v.invariant.id;
        match self.0.iter_mut().find(|s| s.invariant.id == id) {
            Some(s) => s.count += 1,
            None => self.0.push(Sighting {
                invariant: v.invariant,
                count: 1,
                detail: v.detail.clone(),
                session: session.to_string(),
                frame,
                t_ms,
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sightings, in the order the rules were first broken.
    pub fn take(&mut self) -> Vec<Sighting> {
        std::mem::take(&mut self.0)
    }
}

/// Every rule of both suites, for looking one up by id.
pub fn by_id(id: &str) -> Option<&'static Invariant> {
    ALL.iter()
        .chain(crate::clienttest::checks::ALL)
        .copied()
        .find(|i| i.id == id)
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
    /// Last `chunk_seq` per (job, result_id) since the session began,
    /// resumed or replayed the job's history.
    chunks: HashMap<(String, String), u64>,
    /// Jobs that streamed a `result_chunk` in this session.
    chunked: std::collections::HashSet<String>,
}

/// Watches every inbound frame of one case.
#[derive(Default)]
pub struct Monitor {
    sessions: HashMap<String, SessionView>,
    /// Credential value -> principal that submitted its job.
    credentials: HashMap<String, String>,
    /// Credential value -> the job whose `job.accepted` issued it.
    credential_jobs: HashMap<String, String>,
    /// Job -> the resolved `name@version` first shown for it.
    agents: HashMap<String, String>,
    /// Job -> its first `job.accepted` payload (any session of the case).
    accepted: HashMap<String, Value>,
    /// Job -> its effective lease and `expires_at`, as accepted or subscribed.
    leases: HashMap<String, (crate::wire::lease::Lease, Option<String>)>,
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
            v.chunks.clear();
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
        let payload_job = payload
            .get("job_id")
            .and_then(Value::as_str)
            .unwrap_or(&job)
            .to_string();
        if kind == Some(MessageType::JobAccepted) && !payload_job.is_empty() {
            match self.accepted.get(&payload_job) {
                Some(first) if !crate::matcher::json_eq(first, &payload) => flag(
                    &IDEMPOTENT_ACCEPTED,
                    format!(
                        "a second job.accepted for job {payload_job} differs from the first: {}",
                        crate::matcher::matches(first, &payload)
                            .err()
                            .or_else(|| crate::matcher::matches(&payload, first).err())
                            .map_or("(numbers)".to_string(), |m| m.to_string())
                    ),
                ),
                Some(_) => {}
                None => {
                    self.accepted.insert(payload_job.clone(), payload.clone());
                }
            }
            for c in payload
                .get("credentials")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(val) = c.get("value").and_then(Value::as_str) {
                    let owner = self
                        .credential_jobs
                        .entry(val.to_string())
                        .or_insert_with(|| payload_job.clone());
                    if *owner != payload_job {
                        flag(
                            &CREDENTIAL_REUSE,
                            format!(
                                "job {payload_job} was issued the credential value already issued to job {owner}"
                            ),
                        );
                    }
                }
            }
        }
        // The resolved agent of a job, wherever it is shown.
        let shown: Vec<(String, String)> = match kind {
            Some(MessageType::JobAccepted) | Some(MessageType::JobSubscribed) => payload
                .get("agent")
                .and_then(Value::as_str)
                .map(|a| (payload_job.clone(), a.to_string()))
                .into_iter()
                .collect(),
            Some(MessageType::SessionJobs) => payload
                .get("jobs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|j| {
                    Some((
                        j.get("job_id")?.as_str()?.to_string(),
                        j.get("agent")?.as_str()?.to_string(),
                    ))
                })
                .collect(),
            _ => vec![],
        };
        for (j, agent) in shown {
            // Only resolved references (`name@version`) say which version runs.
            if j.is_empty() || !agent.contains('@') {
                continue;
            }
            let first = self
                .agents
                .entry(j.clone())
                .or_insert_with(|| agent.clone());
            if *first != agent {
                flag(
                    &AGENT_VERSION,
                    format!("job {j} was shown as `{first}`, now as `{agent}`"),
                );
            }
        }

        if matches!(
            kind,
            Some(MessageType::JobAccepted) | Some(MessageType::JobSubscribed)
        ) {
            if let Some(l) = payload
                .get("lease")
                .and_then(|l| serde_json::from_value(l.clone()).ok())
            {
                let exp = payload
                    .pointer("/lease_constraints/expires_at")
                    .and_then(Value::as_str)
                    .map(String::from);
                self.leases.entry(payload_job.clone()).or_insert((l, exp));
            }
        }

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
        if replay {
            let j = payload_job.clone();
            view.chunks.retain(|(cj, _), _| *cj != j);
        }
        let repeats = view.replayed.get(&job).copied().unwrap_or(0);
        if kind == Some(MessageType::JobEvent) {
            let body = &payload["body"];
            match payload.get("kind").and_then(Value::as_str) {
                Some("result_chunk") => {
                    view.chunked.insert(job.clone());
                    if let (Some(rid), Some(seq)) = (
                        body.get("result_id").and_then(Value::as_str),
                        body.get("chunk_seq").and_then(Value::as_u64),
                    ) {
                        let key = (job.clone(), rid.to_string());
                        if let Some(prev) = view.chunks.get(&key).filter(|p| seq <= **p) {
                            flag(
                                &CHUNK_ORDER,
                                format!("chunk_seq {seq} of result {rid} after chunk_seq {prev}"),
                            );
                        }
                        view.chunks.insert(key, seq);
                    }
                }
                Some("delegate") => {
                    if let Some((lease, exp)) = self.leases.get(&job) {
                        if let Some(why) =
                            delegate_beyond(lease, exp.as_deref(), &view.budget, &job, body)
                        {
                            flag(&DELEGATE_LEASE, why);
                        }
                    }
                }
                Some("progress") => {
                    if let (Some(cur), Some(total)) = (
                        body.get("current").and_then(Value::as_f64),
                        body.get("total").and_then(Value::as_f64),
                    ) {
                        if cur > total {
                            flag(
                                &PROGRESS_TOTAL,
                                format!("progress current {cur} above total {total}"),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        if kind == Some(MessageType::JobResult) && view.chunked.contains(&job) {
            if payload.get("result").is_some() {
                flag(
                    &CHUNK_NO_INLINE,
                    format!("job {job} streamed result chunks, then its job.result carried an inline result"),
                );
            }
            if payload.get("result_id").is_none() {
                flag(
                    &CHUNK_RESULT_ID,
                    format!("job {job} streamed result chunks, then its job.result carried no result_id"),
                );
            }
        }
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

/// Why the lease of a `delegate` event of `job` reaches beyond the parent's
/// (§9.4): a capability it does not grant, more budget than the parent's
/// last known counter (counters only go down, so never too strict), or a
/// later `expires_at`.
fn delegate_beyond(
    parent: &crate::wire::lease::Lease,
    parent_expiry: Option<&str>,
    counters: &HashMap<(String, String), f64>,
    job: &str,
    body: &Value,
) -> Option<String> {
    use crate::wire::lease;
    let child: lease::Lease = serde_json::from_value(body.get("lease")?.clone()).ok()?;
    let remaining: lease::Budget = counters
        .iter()
        .filter(|((j, _), _)| j == job)
        .map(|((_, c), v)| (c.clone(), *v))
        .collect();
    let mut known = parent.clone();
    // Without a counter for the job the budget cannot be judged here.
    if remaining.is_empty() {
        known.remove("cost.budget");
    }
    let mut judged = child.clone();
    if remaining.is_empty() {
        judged.remove("cost.budget");
    }
    if let Some(why) = lease::subset_violation(&known, &remaining, &judged) {
        return Some(format!("delegate of job {job}: {why}"));
    }
    let child_exp = body
        .pointer("/lease_constraints/expires_at")
        .and_then(Value::as_str)?;
    let (c, p) = (
        lease::parse_expires_at(child_exp).ok()?,
        lease::parse_expires_at(parent_expiry?).ok()?,
    );
    (c > p).then(|| {
        format!(
            "delegate of job {job}: child expires_at {child_exp} is later than the parent's {}",
            parent_expiry.unwrap_or("")
        )
    })
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
mod tests;
