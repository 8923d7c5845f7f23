//! Runtime state: sessions, jobs and the per-session event buffers, and the
//! one place events are sequenced and delivered (§8.3).

use super::{Fault, Runtime};
use crate::wire::{Budget, Credential, Envelope, Lease, LeaseConstraints, MessageType};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, VecDeque};
use tokio::sync::{mpsc, watch};

/// What a session's connection writer is told to do.
#[derive(Debug)]
pub enum Outbound {
    Frame(String),
    /// Close the transport after the frames before it.
    Close,
}

pub struct Buffered {
    pub seq: u64,
    pub frame: String,
    pub at: DateTime<Utc>,
}

pub struct SessionState {
    pub id: String,
    pub principal: String,
    pub features: Vec<String>,
    pub resume_token: String,
    pub old_tokens: Vec<String>,
    /// Last event_seq assigned in this session (0 = none yet).
    pub last_seq: u64,
    pub buffer: VecDeque<Buffered>,
    pub acked: u64,
    /// The live connection, if attached: (connection number, writer).
    pub out: Option<(u64, mpsc::UnboundedSender<Outbound>)>,
    pub detached_at: Option<DateTime<Utc>>,
    pub subscriptions: BTreeSet<String>,
    pub fault_fired: bool,
    /// Reattached by resume (for the resumed-cannot-cancel fault).
    pub resumed: bool,
}

impl SessionState {
    pub fn has(&self, feature: crate::wire::Feature) -> bool {
        self.features.iter().any(|f| f == feature.as_str())
    }

    pub fn send(&self, frame: String) {
        if let Some((_, tx)) = &self.out {
            let _ = tx.send(Outbound::Frame(frame));
        }
    }
}

pub struct HistoryItem {
    pub kind: MessageType,
    pub payload: Value,
}

pub struct JobState {
    pub id: String,
    pub session_id: String,
    pub principal: String,
    pub agent_name: String,
    pub agent_version: String,
    pub status: String,
    pub input: Value,
    pub lease: Lease,
    pub constraints: Option<LeaseConstraints>,
    pub expires_at: Option<DateTime<Utc>>,
    pub budget: Option<Budget>,
    pub credentials: Vec<Credential>,
    pub trace_id: String,
    pub parent: Option<String>,
    pub children: Vec<String>,
    pub created_at: String,
    pub history: Vec<HistoryItem>,
    pub subscribers: BTreeSet<String>,
    pub terminal: bool,
    /// `result_id` once the agent has streamed a chunk (§8.4).
    pub result_id: Option<String>,
    pub next_chunk_seq: u64,
    pub result_size: u64,
    pub cancel: watch::Sender<bool>,
}

impl JobState {
    /// The agent as listings and subscriptions show it (`name@version`).
    pub fn agent_ref(&self, rt: &Runtime) -> String {
        if rt.fault(Fault::NoAgentVersionSuffix) {
            self.agent_name.clone()
        } else if rt.fault(Fault::MigrateAgentVersion) {
            format!("{}@{}+migrated", self.agent_name, self.agent_version)
        } else {
            format!("{}@{}", self.agent_name, self.agent_version)
        }
    }

    pub fn last_event_seq(&self) -> u64 {
        self.history.len() as u64
    }
}

#[derive(Default)]
pub struct State {
    pub sessions: HashMap<String, SessionState>,
    pub jobs: HashMap<String, JobState>,
    /// Job ids in creation order, for listing with cursors.
    pub job_order: Vec<String>,
    /// (principal, idempotency_key) -> (parameter fingerprint, job.accepted payload).
    pub idempotency: HashMap<(String, String), (String, Value)>,
    pub revoked: Vec<String>,
    pub next_conn: u64,
    /// One credential value, reused across jobs when that fault is on.
    pub shared_credential_value: Option<String>,
    /// Credential ids the upstream would not revoke (§14: surfaced to operators).
    pub unrevocable: Vec<String>,
    /// Per session: a job id and the credential issued for it at the
    /// upstream before `submit` takes the lock.
    pub preissued: HashMap<String, (String, Credential)>,
}

impl State {
    /// Sequence, buffer and (if attached) send one frame to a session.
    pub fn deliver(&mut self, rt: &Runtime, session_id: &str, mut env: Envelope) {
        let now = rt.clock().now();
        let cap = rt.config().replay_buffer_cap;
        let Some(s) = self.sessions.get_mut(session_id) else {
            return;
        };
        s.last_seq += 1;
        if !s.fault_fired && s.last_seq == 3 {
            if rt.fault(Fault::SkipEventSeq) {
                s.fault_fired = true;
                s.last_seq += 1;
            } else if rt.fault(Fault::RepeatEventSeq) {
                s.fault_fired = true;
                s.last_seq -= 1;
            }
        }
        env.session_id = Some(s.id.clone());
        env.event_seq = Some(s.last_seq);
        let frame = env.encode();
        if s.out.is_none() && rt.fault(Fault::DropDetachedEvents) {
            return;
        }
        s.send(frame.clone());
        s.buffer.push_back(Buffered {
            seq: s.last_seq,
            frame,
            at: now,
        });
        while s.buffer.len() > cap {
            s.buffer.pop_front();
        }
    }

    /// Free acknowledged events older than the resume window (§6.5): events
    /// not yet acknowledged are kept whatever their age, up to the cap.
    pub fn collect_garbage(&mut self, rt: &Runtime, session_id: &str) {
        let window = chrono::Duration::from_std(rt.config().resume_window).unwrap_or_default();
        let now = rt.clock().now();
        if let Some(s) = self.sessions.get_mut(session_id) {
            while let Some(front) = s.buffer.front() {
                if front.seq <= s.acked && now - front.at >= window {
                    s.buffer.pop_front();
                } else {
                    break;
                }
            }
        }
    }

    pub fn revoke(&mut self, job_id: &str) {
        let ids: Vec<String> = self
            .jobs
            .get(job_id)
            .map(|j| j.credentials.iter().map(|c| c.id.clone()).collect())
            .unwrap_or_default();
        for id in ids {
            if !self.revoked.contains(&id) {
                self.revoked.push(id);
            }
        }
    }
}

impl Runtime {
    /// Emit a job event or terminal message to the submitter and every
    /// subscriber. Returns false if the job is already terminal.
    pub(crate) fn emit(&self, job_id: &str, kind: MessageType, payload: Value) -> bool {
        let mut st = self.lock();
        let Some(job) = st.jobs.get_mut(job_id) else {
            return false;
        };
        if job.terminal || self.is_crashed() {
            return false;
        }
        let terminal = kind.is_terminal();
        if terminal {
            job.terminal = true;
            job.status = payload
                .get("final_status")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_string();
            let _ = job.cancel.send(true);
        } else if job.status == "pending" {
            job.status = "running".into();
        }
        job.history.push(HistoryItem {
            kind,
            payload: payload.clone(),
        });
        let mut recipients = vec![job.session_id.clone()];
        recipients.extend(job.subscribers.iter().cloned());
        recipients.dedup();
        let principal = job.principal.clone();
        let trace = self.job_trace(job);
        let children = job.children.clone();
        let times = if terminal && self.fault(Fault::DoubleTerminal) {
            2
        } else {
            1
        };
        let needs = payload
            .get("kind")
            .and_then(Value::as_str)
            .and_then(crate::wire::EventKind::parse)
            .and_then(|k| k.feature());
        for sid in recipients {
            let Some(session) = st.sessions.get(&sid) else {
                continue;
            };
            // §6.2: never send an event kind the recipient did not negotiate.
            if needs.is_some_and(|f| !session.has(f))
                && !self.fault(Fault::IgnoreFeatureIntersection)
            {
                continue;
            }
            let same_principal = session.principal == principal;
            let body = if same_principal
                || (self.fault(Fault::LeakCredentialsToSubscriber)
                    || self.fault(Fault::CrossPrincipalLeak))
            {
                payload.clone()
            } else {
                redact_event(&payload)
            };
            let body = if self.fault(Fault::MangleEventBodies)
                && matches!(
                    body.get("kind").and_then(Value::as_str),
                    Some("thought" | "status" | "metric" | "artifact_ref")
                ) {
                let mut b = body.clone();
                b["body"] = serde_json::json!({});
                b
            } else {
                body
            };
            for _ in 0..times {
                let mut env = Envelope::new(kind.as_str(), body.clone())
                    .job(job_id)
                    .trace(trace.clone());
                if kind == MessageType::JobEvent && self.fault(Fault::EventEnvelopeMissingField) {
                    env.job_id = None;
                }
                st.deliver(self, &sid, env);
            }
        }
        if terminal {
            // §9.8.2: revoke on every terminal state; children's credentials
            // must not outlive the parent either.
            let at_upstream = st.jobs.get(job_id).map(|j| self.revocable(j));
            st.revoke(job_id);
            drop(st);
            self.upstream_revoke(at_upstream.unwrap_or_default(), None);
            for child in children {
                self.terminate(
                    &child,
                    crate::wire::ErrorCode::Cancelled,
                    "parent job terminated",
                );
            }
        }
        true
    }

    /// An error payload as this runtime sends it (faults included), for
    /// session.error, job.error and tool_result errors alike.
    pub(crate) fn error_value(&self, code: crate::wire::ErrorCode, message: &str) -> Value {
        use crate::wire::ErrorCode;
        let mut err = crate::wire::ErrorPayload::new(code, message);
        if self.fault(Fault::RetryableExpiry)
            && matches!(code, ErrorCode::LeaseExpired | ErrorCode::BudgetExhausted)
        {
            err.retryable = true;
        }
        if self.fault(Fault::InternalErrorNotRetryable) && code == ErrorCode::InternalError {
            err.retryable = false;
        }
        let mut payload = err.to_value();
        if self.fault(Fault::BadErrorShape) {
            payload.as_object_mut().unwrap().remove("retryable");
        }
        payload
    }

    pub(crate) fn job_trace(&self, job: &JobState) -> Option<String> {
        if self.fault(Fault::NoTracePropagation) {
            Some(crate::ids::trace_id())
        } else {
            Some(job.trace_id.clone())
        }
    }

    /// End a job with `job.error` (cancel, timeout, expiry...).
    pub(crate) fn terminate(&self, job_id: &str, code: crate::wire::ErrorCode, message: &str) {
        use crate::wire::ErrorCode;
        let final_status = match code {
            ErrorCode::Cancelled if !self.fault(Fault::CancelStatusError) => "cancelled",
            ErrorCode::Timeout => "timed_out",
            _ => "error",
        };
        let mut payload = self.error_value(code, message);
        payload["final_status"] = Value::from(final_status);
        self.emit(job_id, MessageType::JobError, payload);
    }
}

/// A status event announcing a rotated credential carries its value (§9.8.2);
/// observers of another principal see it redacted (§14).
pub fn redact_event(payload: &Value) -> Value {
    let mut p = payload.clone();
    if let Some(body) = p.get_mut("body").and_then(Value::as_object_mut) {
        if body.contains_key("value") {
            body.insert("value".into(), Value::from("[REDACTED]"));
        }
    }
    p
}
