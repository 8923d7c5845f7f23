//! Job messages: submission and idempotency (§7.1–7.2), cancel (§7.4),
//! agent versions (§7.5), subscription (§7.6) and listing (§6.6).

use super::session::{refuse, Refusal};
use super::state::{redact_event, JobState};
use super::{agent, Fault, Runtime};
use crate::wire::lease::{self, parse_expires_at};
use crate::wire::{Credential, Envelope, ErrorCode, Feature, Lease, LeaseConstraints, MessageType};
use serde_json::{json, Value};
use std::time::Duration;

/// `name` or `name@version` (§7.5 grammar).
pub fn parse_agent(s: &str) -> Option<(String, Option<String>)> {
    let (name, version) = match s.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (s, None),
    };
    let name_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    let version_ok = version.is_none_or(|v| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".+_-".contains(&b))
    });
    (name_ok && version_ok).then(|| (name.to_string(), version.map(String::from)))
}

fn parse_lease(v: Option<&Value>) -> Result<Lease, Refusal> {
    let mut lease = Lease::new();
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(lease);
    };
    let Some(obj) = v.as_object() else {
        return refuse(ErrorCode::InvalidRequest, "lease_request must be an object");
    };
    for (ns, patterns) in obj {
        let Some(list) = patterns.as_array() else {
            return refuse(
                ErrorCode::InvalidRequest,
                format!("lease_request.{ns} must be an array of strings"),
            );
        };
        let mut out = vec![];
        for p in list {
            match p.as_str() {
                Some(s) => out.push(s.to_string()),
                None => {
                    return refuse(
                        ErrorCode::InvalidRequest,
                        format!("lease_request.{ns} must be an array of strings"),
                    )
                }
            }
        }
        lease.insert(ns.clone(), out);
    }
    Ok(lease)
}

impl Runtime {
    fn session_principal(&self, sid: &str) -> String {
        self.lock()
            .sessions
            .get(sid)
            .map(|s| s.principal.clone())
            .unwrap_or_default()
    }

    fn session_has(&self, sid: &str, f: Feature) -> bool {
        self.lock().sessions.get(sid).is_some_and(|s| s.has(f))
    }

    pub(crate) fn submit(&self, sid: &str, env: &Envelope) -> Result<(), Refusal> {
        let p = &env.payload;
        let agent_ref = match p.get("agent").and_then(Value::as_str) {
            Some(a) => a,
            None if self.fault(Fault::AgentlessSubmit) => agent::ECHO,
            None => {
                return refuse(
                    ErrorCode::InvalidRequest,
                    "job.submit needs a string `agent`",
                )
            }
        };
        let Some((name, version)) = parse_agent(agent_ref) else {
            return refuse(
                ErrorCode::InvalidRequest,
                format!("`{agent_ref}` is not name or name@version (§7.5)"),
            );
        };
        if version.is_some() && !self.session_has(sid, Feature::AgentVersions) {
            return refuse(
                ErrorCode::InvalidRequest,
                "a version suffix needs feature `agent_versions`",
            );
        }
        let found = self
            .config()
            .agents
            .iter()
            .find(|a| a.name == name)
            .or_else(|| {
                self.fault(Fault::AcceptUnknownAgent)
                    .then(|| self.config().agents.iter().find(|a| a.name == agent::ECHO))
                    .flatten()
            });
        let Some(spec) = found else {
            return refuse(
                ErrorCode::AgentNotAvailable,
                format!("agent `{name}` is not registered"),
            );
        };
        let name = spec.name.clone();
        let default = spec
            .default
            .clone()
            .or_else(|| spec.versions.first().cloned())
            .unwrap_or_default();
        let version = match version {
            None => default,
            Some(v) if spec.versions.contains(&v) => v,
            Some(_) if self.fault(Fault::IgnoreAgentVersion) => default,
            Some(v) => {
                return refuse(
                    ErrorCode::AgentVersionNotAvailable,
                    format!("{name}@{v} is not registered"),
                )
            }
        };
        let lease = parse_lease(p.get("lease_request"))?;
        for (ns, feature) in [
            ("cost.budget", Feature::CostBudget),
            ("model.use", Feature::ModelUse),
        ] {
            if lease.contains_key(ns) && !self.session_has(sid, feature) {
                return refuse(
                    ErrorCode::InvalidRequest,
                    format!("`{ns}` in the lease needs feature `{feature}`"),
                );
            }
        }
        let budget = match lease::budget_of(&lease) {
            None => None,
            Some(Ok(b)) => Some(b),
            Some(Err(_)) if self.fault(Fault::AcceptInvalidAmount) => None,
            Some(Err(e)) => return refuse(ErrorCode::InvalidRequest, e),
        };
        let constraints: Option<LeaseConstraints> = match p.get("lease_constraints") {
            None | Some(Value::Null) => None,
            Some(v) => match serde_json::from_value(v.clone()) {
                Ok(c) => Some(c),
                Err(e) => {
                    return refuse(ErrorCode::InvalidRequest, format!("lease_constraints: {e}"))
                }
            },
        };
        let mut expires_at = None;
        // Refused only after the idempotency lookup: an identical
        // resubmission gets the same job.accepted (§7.2) even once the
        // expiry it named has passed.
        let mut past_expiry = None;
        if let Some(raw) = constraints.as_ref().and_then(|c| c.expires_at.as_ref()) {
            if !self.session_has(sid, Feature::LeaseExpiresAt) {
                return refuse(
                    ErrorCode::InvalidRequest,
                    "expires_at needs feature `lease_expires_at`",
                );
            }
            match parse_expires_at(raw) {
                Ok(t) if t > self.clock().now() => expires_at = Some(t),
                _ if self.fault(Fault::AcceptPastExpiresAt) => {
                    expires_at = parse_expires_at(raw).ok()
                }
                Ok(_) => past_expiry = Some(format!("expires_at `{raw}` is not in the future")),
                Err(e) => return refuse(ErrorCode::InvalidRequest, e),
            }
        }
        let max_runtime = match p.get("max_runtime_sec") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_f64() {
                // Beyond what a Duration holds: no limit in practice.
                Some(s) if s > 0.0 && s.is_finite() => Duration::try_from_secs_f64(s).ok(),
                _ => {
                    return refuse(
                        ErrorCode::InvalidRequest,
                        "max_runtime_sec must be a positive number",
                    )
                }
            },
        };
        let key = match p.get("idempotency_key") {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => {
                return refuse(
                    ErrorCode::InvalidRequest,
                    "idempotency_key must be a string",
                )
            }
        };
        let input = p.get("input").cloned().unwrap_or(Value::Null);
        let fingerprint = json!([
            agent_ref,
            input,
            p.get("lease_request"),
            p.get("lease_constraints"),
            p.get("max_runtime_sec")
        ])
        .to_string();
        let principal = self.session_principal(sid);
        let trace_id = env.trace_id.clone().unwrap_or_else(crate::ids::trace_id);

        let mut st = self.lock();
        // The fault keys idempotency by parameters alone.
        let key = match key {
            Some(_) if self.fault(Fault::IdempotencyByParams) => Some(fingerprint.clone()),
            k => k,
        };
        if let Some(k) = &key {
            if let Some((fp, accepted)) = st.idempotency.get(&(principal.clone(), k.clone())) {
                if *fp == fingerprint && !self.fault(Fault::NoIdempotency) {
                    let job_id = accepted["job_id"].as_str().unwrap_or_default().to_string();
                    let mut accepted = accepted.clone();
                    if self.fault(Fault::IdempotentPayloadDiffers) {
                        accepted["accepted_at"] = Value::from(self.now_ts());
                        accepted["resubmitted"] = Value::Bool(true);
                    }
                    let env = Envelope::new(MessageType::JobAccepted.as_str(), accepted.clone())
                        .session(sid)
                        .job(job_id)
                        .trace(accepted["trace_id"].as_str().map(String::from));
                    if let Some(s) = st.sessions.get(sid) {
                        s.send(env.encode());
                    }
                    return Ok(());
                }
                if *fp != fingerprint && !self.fault(Fault::IgnoreDuplicateKey) {
                    return refuse(
                        ErrorCode::DuplicateKey,
                        format!("idempotency_key `{k}` was used with other parameters"),
                    );
                }
            }
        }
        if let Some(why) = past_expiry {
            return refuse(ErrorCode::InvalidRequest, why);
        }
        // Issued at the upstream before the lock was taken, if one is configured.
        let pre = st.preissued.remove(sid);
        let job_id = pre
            .as_ref()
            .map_or_else(crate::ids::job_id, |(id, _)| id.clone());
        let credentials = if st
            .sessions
            .get(sid)
            .is_some_and(|s| s.has(Feature::ProvisionedCredentials))
            && (lease.contains_key("model.use") || lease.contains_key("cost.budget"))
        {
            vec![match pre {
                Some((_, c)) => c,
                None => self.issue_credential(&mut st, &lease, constraints.as_ref()),
            }]
        } else {
            vec![]
        };
        let created_at = self.now_ts();
        let mut accepted = json!({
            "job_id": job_id,
            "agent": format!("{name}@{version}"),
            "lease": lease,
            "accepted_at": created_at,
            "trace_id": if self.fault(Fault::NoTracePropagation) { crate::ids::trace_id() } else { trace_id.clone() },
        });
        if self.fault(Fault::NoAgentVersionSuffix) {
            accepted["agent"] = Value::from(name.clone());
        }
        if let Some(c) = &constraints {
            accepted["lease_constraints"] = serde_json::to_value(c).unwrap();
        }
        if let Some(b) = &budget {
            accepted["budget"] = json!(b);
        } else if self.fault(Fault::PhantomBudget) {
            accepted["budget"] = json!({"credits": 0.0});
        }
        if !credentials.is_empty() && !self.fault(Fault::LateCredentials) {
            accepted["credentials"] = json!(credentials);
            if self.fault(Fault::CredentialMissingFields) {
                for c in accepted["credentials"].as_array_mut().unwrap() {
                    let o = c.as_object_mut().unwrap();
                    o.remove("id");
                    o.remove("scheme");
                    o.remove("endpoint");
                }
            }
        }
        if self.fault(Fault::BareAccepted) {
            let o = accepted.as_object_mut().unwrap();
            o.remove("lease");
            o.remove("lease_constraints");
            o.remove("budget");
        }
        if let Some(k) = key {
            st.idempotency
                .insert((principal.clone(), k), (fingerprint, accepted.clone()));
        }
        let (cancel, cancel_rx) = tokio::sync::watch::channel(false);
        st.jobs.insert(
            job_id.clone(),
            JobState {
                id: job_id.clone(),
                session_id: sid.to_string(),
                principal,
                agent_name: name.clone(),
                agent_version: version,
                status: "pending".into(),
                input: input.clone(),
                lease,
                constraints,
                expires_at,
                budget,
                credentials,
                trace_id: trace_id.clone(),
                parent: None,
                children: vec![],
                created_at,
                history: vec![],
                subscribers: Default::default(),
                terminal: false,
                result_id: None,
                next_chunk_seq: 0,
                result_size: 0,
                cancel,
            },
        );
        st.job_order.push(job_id.clone());
        let env = Envelope::new(MessageType::JobAccepted.as_str(), accepted)
            .session(sid)
            .job(&job_id)
            .trace(Some(trace_id));
        if let Some(s) = st.sessions.get(sid) {
            s.send(env.encode());
        }
        drop(st);
        self.start(&job_id, &name, input, cancel_rx, max_runtime);
        Ok(())
    }

    /// Run the agent and the max_runtime timer for a job just created.
    pub(crate) fn start(
        &self,
        job_id: &str,
        agent_name: &str,
        input: Value,
        cancel_rx: tokio::sync::watch::Receiver<bool>,
        max_runtime: Option<Duration>,
    ) {
        if let Some(limit) = max_runtime.filter(|_| !self.fault(Fault::NoTimeout)) {
            let rt = self.clone();
            let id = job_id.to_string();
            let mut rx = cancel_rx.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = rt.clock().sleep(limit) => rt.terminate(&id, ErrorCode::Timeout, "max_runtime_sec exceeded"),
                    _ = rx.wait_for(|done| *done) => {}
                }
            });
        }
        let rt = self.clone();
        let id = job_id.to_string();
        let name = agent_name.to_string();
        tokio::spawn(async move { agent::run(rt, id, name, input, cancel_rx).await });
    }

    pub(crate) fn issue_credential(
        &self,
        st: &mut super::state::State,
        lease: &Lease,
        constraints: Option<&LeaseConstraints>,
    ) -> Credential {
        let value = if self.fault(Fault::ReuseCredentialValue) {
            st.shared_credential_value
                .get_or_insert_with(crate::ids::credential_value)
                .clone()
        } else {
            crate::ids::credential_value()
        };
        let c = super::provisioner::credential_constraints(lease, constraints);
        Credential {
            id: crate::ids::credential_id(),
            scheme: "bearer".into(),
            value,
            endpoint: "https://gateway.invalid/v1".into(),
            profile: Some("openai".into()),
            constraints: Some(c),
        }
    }

    /// JOB_NOT_FOUND, or a wrong code under the fault.
    fn not_found<T>(&self, job_id: &str) -> Result<T, Refusal> {
        let code = if self.fault(Fault::WrongNotFoundCode) {
            ErrorCode::InvalidRequest
        } else {
            ErrorCode::JobNotFound
        };
        refuse(code, format!("no job `{job_id}`"))
    }

    fn job_id_of(env: &Envelope) -> Result<String, Refusal> {
        env.payload
            .get("job_id")
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| env.job_id.clone())
            .map_or_else(
                || refuse(ErrorCode::InvalidRequest, "job_id is required"),
                Ok,
            )
    }

    fn leaks_credentials(&self) -> bool {
        self.fault(Fault::LeakCredentialsToSubscriber) || self.fault(Fault::CrossPrincipalLeak)
    }

    fn may_observe(&self, principal: &str, job: &JobState) -> bool {
        job.principal == principal || self.config().cross_principal_observe
    }

    pub(crate) fn cancel(&self, sid: &str, env: &Envelope) -> Result<(), Refusal> {
        let job_id = Self::job_id_of(env)?;
        let principal = self.session_principal(sid);
        {
            let st = self.lock();
            let Some(job) = st
                .jobs
                .get(&job_id)
                .filter(|j| self.may_observe(&principal, j))
            else {
                return self.not_found(&job_id);
            };
            let resumed = st.sessions.get(sid).is_some_and(|s| s.resumed);
            if resumed && self.fault(Fault::ResumedCannotCancel) {
                return refuse(
                    ErrorCode::PermissionDenied,
                    "only the submitting session may cancel a job",
                );
            }
            if job.session_id != sid && !self.fault(Fault::SubscriberCanCancel) {
                return refuse(
                    ErrorCode::PermissionDenied,
                    "only the submitting session may cancel a job",
                );
            }
            if job.terminal {
                return refuse(ErrorCode::InvalidRequest, "job is already terminal");
            }
            let ack = Envelope::new(
                MessageType::JobCancelled.as_str(),
                json!({"job_id": job_id}),
            )
            .session(sid)
            .job(&job_id)
            .trace(Some(job.trace_id.clone()));
            if let Some(s) = st.sessions.get(sid) {
                s.send(ack.encode());
            }
        }
        let reason = env
            .payload
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("cancelled by the client");
        self.terminate(&job_id, ErrorCode::Cancelled, reason);
        Ok(())
    }

    pub(crate) fn subscribe(&self, sid: &str, env: &Envelope) -> Result<(), Refusal> {
        let Some(job_id) = env.payload.get("job_id").and_then(Value::as_str) else {
            if self.fault(Fault::SubscribeWithoutJobIdIgnored) {
                return Ok(());
            }
            return refuse(ErrorCode::InvalidRequest, "job.subscribe needs job_id");
        };
        let history = env
            .payload
            .get("history")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || self.fault(Fault::HistoryWhenFalse);
        let from = match env.payload.get("from_event_seq") {
            None | Some(Value::Null) => 0,
            Some(v) => v.as_u64().map_or_else(
                || {
                    refuse(
                        ErrorCode::InvalidRequest,
                        "from_event_seq must be a non-negative integer",
                    )
                },
                Ok,
            )?,
        };
        let principal = self.session_principal(sid);
        let mut st = self.lock();
        let Some(job) = st.jobs.get(job_id) else {
            return self.not_found(job_id);
        };
        let same = job.principal == principal;
        let from = if self.fault(Fault::IgnoreFromEventSeq) {
            0
        } else {
            from
        };
        if !same
            && !self.config().cross_principal_observe
            && !self.fault(Fault::CrossPrincipalSubscribe)
            && !self.fault(Fault::CrossPrincipalLeak)
        {
            return refuse(
                ErrorCode::PermissionDenied,
                "this principal may not observe that job",
            );
        }
        // §6.2: replay only the event kinds this session negotiated, as live delivery does.
        let negotiated = |h: &&super::state::HistoryItem| {
            let needs = h
                .payload
                .get("kind")
                .and_then(Value::as_str)
                .and_then(crate::wire::EventKind::parse)
                .and_then(|k| k.feature());
            needs.is_none_or(|f| st.sessions.get(sid).is_some_and(|s| s.has(f)))
                || self.fault(Fault::IgnoreFeatureIntersection)
        };
        let replay: Vec<(MessageType, Value)> = if history {
            job.history
                .iter()
                .skip(from as usize)
                .filter(negotiated)
                .map(|h| {
                    let p = if same || self.leaks_credentials() {
                        h.payload.clone()
                    } else {
                        redact_event(&h.payload)
                    };
                    (h.kind, p)
                })
                .collect()
        } else {
            vec![]
        };
        let mut payload = self.authority_descriptor(job);
        payload["subscribed_from"] = json!(job.last_event_seq());
        payload["replayed"] = json!(!replay.is_empty());
        // §6.2: only to a session that negotiated provisioned_credentials.
        let negotiated_creds = st
            .sessions
            .get(sid)
            .is_some_and(|s| s.has(Feature::ProvisionedCredentials));
        if (same || self.leaks_credentials())
            && !job.terminal
            && !job.credentials.is_empty()
            && !self.fault(Fault::RedactCredentialsForSubmitter)
            && negotiated_creds
        {
            payload["credentials"] = json!(job.credentials);
        }
        let trace = self.job_trace(job);
        let live = !job.terminal && job.session_id != sid;
        let ack = Envelope::new(MessageType::JobSubscribed.as_str(), payload)
            .session(sid)
            .job(job_id)
            .trace(trace.clone());
        if let Some(s) = st.sessions.get(sid) {
            s.send(ack.encode());
        }
        for (kind, p) in replay {
            let env = Envelope::new(kind.as_str(), p)
                .job(job_id)
                .trace(trace.clone());
            st.deliver(self, sid, env);
        }
        if live {
            st.jobs
                .get_mut(job_id)
                .unwrap()
                .subscribers
                .insert(sid.to_string());
            if let Some(s) = st.sessions.get_mut(sid) {
                s.subscriptions.insert(job_id.to_string());
            }
        }
        Ok(())
    }

    pub(crate) fn unsubscribe(&self, sid: &str, env: &Envelope) -> Result<(), Refusal> {
        let job_id = Self::job_id_of(env)?;
        let mut st = self.lock();
        let Some(job) = st.jobs.get_mut(&job_id) else {
            return self.not_found(&job_id);
        };
        if !self.fault(Fault::UnsubscribeIgnored) {
            job.subscribers.remove(sid);
        }
        if let Some(s) = st.sessions.get_mut(sid) {
            s.subscriptions.remove(&job_id);
        }
        Ok(())
    }

    /// The non-secret view of a job shared by listings and subscriptions (§7.6).
    fn authority_descriptor(&self, job: &JobState) -> Value {
        let mut v = json!({
            "job_id": job.id,
            "agent": job.agent_ref(self),
            "current_status": job.status,
            "lease": job.lease,
            "parent_job_id": job.parent,
            "trace_id": job.trace_id,
        });
        if let Some(c) = &job.constraints {
            v["lease_constraints"] = serde_json::to_value(c).unwrap();
        }
        if let Some(b) = &job.budget {
            v["budget"] = json!(b);
        }
        v
    }

    pub(crate) fn list_jobs(&self, sid: &str, env: &Envelope) -> Result<Value, Refusal> {
        let p = &env.payload;
        let filter = p.get("filter").cloned().unwrap_or(Value::Null);
        let statuses: Option<Vec<String>> = match filter.get("status") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(vec![s.clone()]),
            Some(Value::Array(a)) => Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
            ),
            Some(_) => {
                return refuse(
                    ErrorCode::InvalidRequest,
                    "filter.status must be a list of strings",
                )
            }
        };
        let agent = filter.get("agent").and_then(Value::as_str);
        let after = match filter.get("created_after").and_then(Value::as_str) {
            None => None,
            Some(s) => match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(t) => Some(t.with_timezone(&chrono::Utc)),
                Err(_) => {
                    return refuse(
                        ErrorCode::InvalidRequest,
                        "filter.created_after is not a timestamp",
                    )
                }
            },
        };
        let max = self.config().list_page_max;
        let limit = match p.get("limit") {
            None | Some(Value::Null) => max,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => (n as usize).min(max),
                _ => {
                    return refuse(
                        ErrorCode::InvalidRequest,
                        "limit must be a positive integer",
                    )
                }
            },
        };
        let offset = match p.get("cursor") {
            None | Some(Value::Null) => 0,
            Some(Value::String(c)) => match c
                .strip_prefix("c")
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(n) => n,
                None => return refuse(ErrorCode::InvalidRequest, format!("unknown cursor `{c}`")),
            },
            Some(_) => return refuse(ErrorCode::InvalidRequest, "cursor must be a string or null"),
        };
        let principal = self.session_principal(sid);
        let mut st = self.lock();
        let negotiated_creds = st
            .sessions
            .get(sid)
            .is_some_and(|s| s.has(Feature::ProvisionedCredentials));
        let leak_creds = self.fault(Fault::ListJobsLeaksCredentials);
        let leak = self.fault(Fault::ListJobsLeaks) || leak_creds;
        let matching: Vec<&JobState> = st
            // Newest first: what an inventory is usually opened for.
            .job_order
            .iter()
            .rev()
            .filter_map(|id| st.jobs.get(id))
            .filter(|j| leak || self.may_observe(&principal, j))
            .filter(|j| statuses.as_ref().is_none_or(|s| s.contains(&j.status)))
            .filter(|j| {
                agent.is_none_or(|a| {
                    a == j.agent_name || a == format!("{}@{}", j.agent_name, j.agent_version)
                })
            })
            .filter(|j| {
                after.is_none_or(|t| {
                    chrono::DateTime::parse_from_rfc3339(&j.created_at).is_ok_and(|c| c > t)
                })
            })
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|j| {
                let mut v = self.authority_descriptor(j);
                let status = v.as_object_mut().unwrap().remove("current_status").unwrap();
                v["status"] = status;
                v["created_at"] = json!(j.created_at);
                v["last_event_seq"] = json!(j.last_event_seq());
                let mine =
                    j.principal == principal && !self.fault(Fault::RedactCredentialsForSubmitter);
                if (mine || leak_creds)
                    && !j.terminal
                    && !j.credentials.is_empty()
                    && negotiated_creds
                {
                    v["credentials"] = json!(j.credentials);
                }
                v
            })
            .collect();
        let total = matching.len();
        let listed: Vec<String> = matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|j| j.id.clone())
            .collect();
        drop(matching);

        if self.fault(Fault::ListJobsSubscribes) {
            for id in &listed {
                if let Some(j) = st.jobs.get_mut(id) {
                    if !j.terminal && j.session_id != sid {
                        j.subscribers.insert(sid.to_string());
                    }
                }
            }
        }
        let next = (offset + limit < total).then(|| format!("c{}", offset + limit));
        let mut jobs = json!({"request_id": env.id, "jobs": page, "next_cursor": next});
        if let Some(o) = jobs
            .as_object_mut()
            .filter(|_| self.fault(Fault::ListJobsNoRequestId))
        {
            o.remove("request_id");
        }
        Ok(jobs)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_agent;

    #[test]
    fn agent_grammar() {
        assert_eq!(parse_agent("echo"), Some(("echo".into(), None)));
        assert_eq!(
            parse_agent("code-refactor@2.0.0"),
            Some(("code-refactor".into(), Some("2.0.0".into())))
        );
        assert_eq!(parse_agent("Echo"), None);
        assert_eq!(parse_agent("echo@"), None);
        assert_eq!(parse_agent("@1"), None);
    }
}
