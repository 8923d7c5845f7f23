//! The reference runtime: a complete ARCP 1.1 runtime that follows the spec
//! where it is clear. It is the embedded target of the suite, the peer the
//! client suite uses, and (with [`fault`]s switched on) the proof that each
//! conformance case can fail.
//!
//! Layout: [`state`] holds sessions and jobs behind one lock; [`session`]
//! runs one connection; [`job`] handles submission, cancel, subscribe and
//! listing; [`agent`] hosts the conformance and echo agents.

pub mod agent;
pub mod fault;
pub mod job;
pub mod provisioner;
pub mod session;
pub mod state;

use crate::clock::{ScaledClock, SharedClock};
use crate::transport::Conn;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use fault::{Fault, Faults};

/// A principal and the bearer tokens that authenticate as it (§6.1).
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub tokens: Vec<String>,
}

/// One registered agent and its versions (§7.5).
#[derive(Debug, Clone)]
pub struct AgentSpec {
    pub name: String,
    pub versions: Vec<String>,
    pub default: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub name: String,
    pub version: String,
    pub principals: Vec<Principal>,
    /// Features this runtime supports; the welcome acknowledges hello ∩ these.
    pub features: Vec<String>,
    pub heartbeat_interval: Duration,
    pub resume_window: Duration,
    /// Events kept per session for resume, whatever their age (§6.5 eviction limit).
    pub replay_buffer_cap: usize,
    pub agents: Vec<AgentSpec>,
    /// Deployment policy: may other principals subscribe to / list a job? (§7.6, §14)
    pub cross_principal_observe: bool,
    /// Deployment policy: a lease without `model.use` forbids models (§9.7).
    pub require_model_use: bool,
    /// Largest page `session.list_jobs` returns.
    pub list_page_max: usize,
    /// How long a connection may stay silent before its hello (protocol time).
    pub hello_timeout: Duration,
    pub faults: Faults,
    pub clock: SharedClock,
    /// Credential upstream and outstanding-credential store (§9.8, §14).
    pub provisioner: provisioner::ProvisionerConfig,
}

/// Tokens the reference runtime accepts by default. Profiles name them.
pub const TOKEN_ALICE: &str = "tok-alice";
pub const TOKEN_ALICE_2: &str = "tok-alice-2";
pub const TOKEN_BOB: &str = "tok-bob";
pub const TOKEN_INVALID: &str = "tok-invalid";

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            name: "arcp-conform-reference".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            principals: vec![
                Principal {
                    name: "alice".into(),
                    tokens: vec![TOKEN_ALICE.into(), TOKEN_ALICE_2.into()],
                },
                Principal {
                    name: "bob".into(),
                    tokens: vec![TOKEN_BOB.into()],
                },
            ],
            features: crate::wire::Feature::all_names(),
            heartbeat_interval: Duration::from_secs(30),
            resume_window: Duration::from_secs(600),
            replay_buffer_cap: 10_000,
            agents: vec![
                AgentSpec {
                    name: agent::CONFORMANCE.into(),
                    versions: vec!["1.0.0".into(), "2.0.0".into()],
                    default: Some("2.0.0".into()),
                },
                AgentSpec {
                    name: agent::ECHO.into(),
                    versions: vec!["1.0.0".into()],
                    default: Some("1.0.0".into()),
                },
            ],
            cross_principal_observe: false,
            require_model_use: true,
            list_page_max: 100,
            hello_timeout: Duration::from_secs(60),
            faults: Faults::none(),
            clock: Arc::new(ScaledClock::real()),
            provisioner: Default::default(),
        }
    }
}

/// A running reference runtime. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: RuntimeConfig,
    pub state: Mutex<state::State>,
    /// Set by the conformance agent's `crash` op: the runtime stops dead.
    pub crashed: std::sync::atomic::AtomicBool,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Runtime {
        let rt = Runtime {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(state::State::default()),
                crashed: Default::default(),
            }),
        };
        rt.recover_outstanding();
        rt
    }

    /// Stop dead, as a crashed process would: every connection closes, no
    /// job ends properly and nothing is revoked (restart cases, §14).
    pub fn crash(&self) {
        self.inner
            .crashed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let st = self.lock();
        for s in st.sessions.values() {
            if let Some((_, tx)) = &s.out {
                let _ = tx.send(state::Outbound::Close);
            }
        }
        for j in st.jobs.values() {
            let _ = j.cancel.send(true);
        }
    }

    pub fn is_crashed(&self) -> bool {
        self.inner.crashed.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    pub(crate) fn fault(&self, f: Fault) -> bool {
        self.inner.config.faults.on(f)
    }

    pub(crate) fn clock(&self) -> &SharedClock {
        &self.inner.config.clock
    }

    pub(crate) fn now_ts(&self) -> String {
        crate::clock::timestamp(self.clock().now())
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, state::State> {
        // A panic while holding the lock is a bug; keep serving the rest.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Serve one connection until it closes. Spawn this per accepted transport.
    pub async fn serve(&self, conn: Conn) {
        session::serve_conn(self.clone(), conn).await
    }

    /// A new in-memory connection to this runtime, served in the background.
    pub fn connect_memory(&self, frame_cap: usize) -> Conn {
        let (ours, theirs) = crate::transport::memory::pair(frame_cap);
        let rt = self.clone();
        tokio::spawn(async move { rt.serve(theirs).await });
        ours
    }

    /// Principal authenticated by `token`, if any.
    pub(crate) fn principal_for(&self, token: Option<&str>) -> Option<String> {
        let cfg = &self.inner.config;
        if self.fault(Fault::RejectValidTokens) {
            return None;
        }
        if token.is_none() && self.fault(Fault::AcceptMissingAuth) {
            return Some("alice".into());
        }
        match token {
            Some(t) => cfg
                .principals
                .iter()
                .find(|p| p.tokens.iter().any(|k| k == t))
                .map(|p| p.name.clone())
                .or_else(|| {
                    self.fault(Fault::AcceptBadToken)
                        .then(|| format!("anonymous:{t}"))
                }),
            None => None,
        }
    }

    /// Credential ids revoked so far, in order (for tests and audit).
    pub fn revoked_credentials(&self) -> Vec<String> {
        self.lock().revoked.clone()
    }

    /// Outstanding (issued, not yet revoked) credential ids.
    pub fn outstanding_credentials(&self) -> Vec<String> {
        let st = self.lock();
        st.jobs
            .values()
            .flat_map(|j| j.credentials.iter())
            .filter(|c| !st.revoked.contains(&c.id))
            .map(|c| c.id.clone())
            .collect()
    }

    /// Status of a job, for tests.
    pub fn job_status(&self, job_id: &str) -> Option<String> {
        self.lock().jobs.get(job_id).map(|j| j.status.clone())
    }
}
