//! The reference runtime's credential provisioner (§9.8): in memory when no
//! upstream is configured, otherwise through a credential upstream speaking
//! the API of CONFORMANCE.md ("The credential upstream"). Revocation is a
//! durability concern (§14): outstanding credential ids are kept in a
//! [`Store`], removed once the upstream confirms, and revoked again by the
//! next runtime that opens the same store.

use super::{Fault, Runtime};
use crate::upstream::client::{call, Answer};
use crate::wire::{Credential, Lease, LeaseConstraints};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long one upstream call may take before it counts as a transient failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Revocation attempts before a failure is permanent.
const REVOKE_ATTEMPTS: u32 = 8;
/// First retry delay; doubles per attempt up to [`BACKOFF_CAP`].
const BACKOFF_START: Duration = Duration::from_millis(50);
const BACKOFF_CAP: Duration = Duration::from_secs(1);
/// Issue attempts (issuing blocks job acceptance, so fewer).
const ISSUE_ATTEMPTS: u32 = 3;

/// Where outstanding credential ids survive a restart.
#[derive(Debug, Clone, Default)]
pub enum Store {
    /// Not kept: a restart forgets them.
    #[default]
    None,
    /// Shared by the runtimes of one embedded case (restart within a process).
    Memory(Arc<Mutex<BTreeSet<String>>>),
    /// A JSON file of ids (`serve --credential-store`); never holds values.
    File(PathBuf),
}

impl Store {
    pub fn memory() -> Store {
        Store::Memory(Arc::default())
    }

    pub fn ids(&self) -> BTreeSet<String> {
        match self {
            Store::None => BTreeSet::new(),
            Store::Memory(m) => m.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            Store::File(p) => std::fs::read_to_string(p)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v.get("outstanding").cloned())
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut BTreeSet<String>)) {
        match self {
            Store::None => {}
            Store::Memory(m) => f(&mut m.lock().unwrap_or_else(|p| p.into_inner())),
            Store::File(p) => {
                // One process owns a file store; the lock orders its writers.
                static LOCK: Mutex<()> = Mutex::new(());
                let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
                let mut ids = self.ids();
                f(&mut ids);
                let tmp = p.with_extension("tmp");
                let text = json!({"outstanding": ids}).to_string();
                if std::fs::write(&tmp, text)
                    .and_then(|_| std::fs::rename(&tmp, p))
                    .is_err()
                {
                    eprintln!(
                        "arcp-conform serve: cannot write credential store {}",
                        p.display()
                    );
                }
            }
        }
    }

    fn add(&self, id: &str) {
        self.update(|s| {
            s.insert(id.to_string());
        });
    }

    fn remove(&self, id: &str) {
        self.update(|s| {
            s.remove(id);
        });
    }
}

/// Provisioner settings of a runtime.
#[derive(Debug, Clone, Default)]
pub struct ProvisionerConfig {
    /// Base URL of the credential upstream (`http://127.0.0.1:PORT`).
    pub upstream: Option<String>,
    pub store: Store,
    /// Keep permanent revocation failures off stderr. Embedded in the
    /// harness, each case's upstream stops when the case ends, so a job
    /// ended by the case's close cannot be revoked; that is no news to print
    /// in the middle of a suite run. `unrevocable` still records it.
    pub quiet: bool,
}

impl ProvisionerConfig {
    /// `serve` flags, falling back to the environment a harness sets.
    pub fn from_args(
        upstream: Option<String>,
        store: Option<PathBuf>,
    ) -> Result<ProvisionerConfig, String> {
        let upstream = upstream.or_else(|| std::env::var(crate::upstream::ENV).ok());
        if let Some(u) = &upstream {
            if !u.starts_with("http://") {
                return Err(format!("--upstream {u}: must be an http:// URL"));
            }
        }
        let store = store.or_else(|| {
            std::env::var_os(crate::target::STATE_DIR_ENV)
                .map(|d| PathBuf::from(d).join("credentials.json"))
        });
        Ok(ProvisionerConfig {
            upstream: upstream.map(|u| u.trim_end_matches('/').to_string()),
            store: store.map_or(Store::None, Store::File),
            quiet: false,
        })
    }
}

impl Runtime {
    pub(crate) fn upstream(&self) -> Option<&str> {
        self.inner.config.provisioner.upstream.as_deref()
    }

    fn provisioner_quiet(&self) -> bool {
        self.inner.config.provisioner.quiet
    }

    fn store(&self) -> &Store {
        &self.inner.config.provisioner.store
    }

    /// Credentials that could not be revoked, for operators (§14).
    pub fn unrevocable_credentials(&self) -> Vec<String> {
        self.lock().unrevocable.clone()
    }

    /// Issue one credential at the upstream for `job_id`.
    pub(crate) async fn upstream_issue(
        &self,
        job_id: &str,
        principal: &str,
        lease: &Lease,
        constraints: Option<&LeaseConstraints>,
    ) -> Result<Credential, String> {
        let base = self.upstream().ok_or("no upstream")?.to_string();
        let c = credential_constraints(lease, constraints);
        let req = json!({"job_id": job_id, "principal": principal, "constraints": c});
        let url = format!("{base}/v1/credentials");
        let a = retry(ISSUE_ATTEMPTS, || {
            call("POST", &url, None, Some(&req), CALL_TIMEOUT)
        })
        .await?;
        let s = |k: &str| a.body.get(k).and_then(Value::as_str).map(String::from);
        let (Some(id), Some(mut value), Some(endpoint)) = (s("id"), s("value"), s("endpoint"))
        else {
            return Err(format!("{url}: answer lacks id, value or endpoint"));
        };
        if self.fault(Fault::ReuseCredentialValue) {
            value = self
                .lock()
                .shared_credential_value
                .get_or_insert(value)
                .clone();
        }
        self.store().add(&id);
        Ok(Credential {
            id,
            scheme: s("scheme").unwrap_or_else(|| "bearer".into()),
            value,
            endpoint,
            profile: None,
            constraints: Some(c),
        })
    }

    /// `job.submit` with a credential issued at the upstream first (when the
    /// submission would get one); an issued credential the submission did
    /// not use (refused, idempotent replay) is revoked at once.
    pub(crate) async fn submit_provisioned(
        &self,
        sid: &str,
        env: &crate::wire::Envelope,
    ) -> Result<(), super::session::Refusal> {
        use crate::wire::{ErrorCode, Feature};
        let lease_keys = env
            .payload
            .get("lease_request")
            .and_then(Value::as_object)
            .is_some_and(|l| l.contains_key("model.use") || l.contains_key("cost.budget"));
        let principal = {
            let st = self.lock();
            match st.sessions.get(sid) {
                Some(s) if s.has(Feature::ProvisionedCredentials) && lease_keys => {
                    Some(s.principal.clone())
                }
                _ => None,
            }
        };
        let Some(principal) = principal else {
            return self.submit(sid, env);
        };
        let job_id = crate::ids::job_id();
        let lease: Lease = env
            .payload
            .get("lease_request")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        let constraints: Option<LeaseConstraints> = env
            .payload
            .get("lease_constraints")
            .and_then(|c| serde_json::from_value(c.clone()).ok());
        let cred = self
            .upstream_issue(&job_id, &principal, &lease, constraints.as_ref())
            .await
            .map_err(|e| {
                (
                    ErrorCode::InternalError,
                    format!("cannot issue a credential: {e}"),
                )
            })?;
        self.lock()
            .preissued
            .insert(sid.to_string(), (job_id.clone(), cred));
        let r = self.submit(sid, env);
        let unused = self.lock().preissued.remove(sid);
        if let Some((_, c)) = unused {
            self.upstream_revoke(vec![c.id], None);
        }
        r
    }

    /// A new value for credential `id` (rotation); the caller revokes the old one.
    pub(crate) async fn upstream_rotate(&self, id: &str) -> Result<String, String> {
        let base = self.upstream().ok_or("no upstream")?.to_string();
        let url = format!("{base}/v1/credentials/{id}/rotate");
        let a = retry(ISSUE_ATTEMPTS, || {
            call("POST", &url, None, None, CALL_TIMEOUT)
        })
        .await?;
        a.body
            .get("value")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| format!("{url}: answer lacks value"))
    }

    /// Revoke credentials at the upstream in the background, retrying
    /// transient failures; `value` limits it to one value (rotation).
    pub(crate) fn upstream_revoke(&self, ids: Vec<String>, value: Option<String>) {
        let Some(base) = self.upstream().map(String::from) else {
            return;
        };
        if ids.is_empty() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        for id in ids {
            let rt = self.clone();
            let base = base.clone();
            let value = value.clone();
            tokio::spawn(async move {
                let url = format!("{base}/v1/credentials/{id}/revoke");
                let body = value.as_ref().map(|v| json!({"value": v}));
                let attempts = if rt.fault(Fault::NoRevocationRetry) {
                    1
                } else {
                    REVOKE_ATTEMPTS
                };
                let r = retry(attempts, || {
                    call("POST", &url, None, body.as_ref(), CALL_TIMEOUT)
                })
                .await;
                if rt.is_crashed() {
                    return;
                }
                match r {
                    Ok(_) if value.is_none() => rt.store().remove(&id),
                    Ok(_) => {}
                    // §9.8.2: log permanent failures; §14: surface them to
                    // operators, and keep the id so a restart retries.
                    Err(e) => {
                        if !rt.provisioner_quiet() {
                            eprintln!("arcp-conform serve: credential {id} not revoked: {e}");
                        }
                        rt.lock().unrevocable.push(id);
                    }
                }
            });
        }
    }

    /// §14: a runtime opening a store revokes what its predecessor left outstanding.
    pub(crate) fn recover_outstanding(&self) {
        if self.fault(Fault::ForgetOutstandingCredentials) {
            return;
        }
        let ids: Vec<String> = self.store().ids().into_iter().collect();
        self.upstream_revoke(ids, None);
    }

    /// The ids of a job's credentials to revoke now, faults applied.
    pub(crate) fn revocable(&self, job: &super::state::JobState) -> Vec<String> {
        if self.fault(Fault::SkipRevocation)
            || (self.fault(Fault::RevokeOnSuccessOnly) && job.status != "success")
            || (self.fault(Fault::OrphanChildCredentials) && job.parent.is_some())
        {
            return vec![];
        }
        job.credentials.iter().map(|c| c.id.clone()).collect()
    }
}

/// The `constraints` a credential echoes (§9.8.1): the lease's cost-bearing
/// capabilities and its expiry.
pub(crate) fn credential_constraints(
    lease: &Lease,
    constraints: Option<&LeaseConstraints>,
) -> Value {
    let mut c = json!({});
    for ns in ["cost.budget", "model.use"] {
        if let Some(p) = lease.get(ns) {
            c[ns] = json!(p);
        }
    }
    if let Some(e) = constraints.and_then(|c| c.expires_at.clone()) {
        c["expires_at"] = Value::from(e);
    }
    c
}

/// Call until a success, a refusal (4xx other than 429) or `attempts` tries,
/// backing off exponentially between transient failures.
async fn retry<F, Fut>(attempts: u32, mut f: F) -> Result<Answer, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Answer, String>>,
{
    let mut delay = BACKOFF_START;
    let mut last = String::new();
    for n in 0..attempts {
        if n > 0 {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(BACKOFF_CAP);
        }
        match f().await {
            Ok(a) if a.ok() => return Ok(a),
            Ok(a) if a.transient() => last = format!("status {}", a.status),
            Ok(a) => return Err(format!("refused with status {}: {}", a.status, a.body)),
            Err(e) => last = e,
        }
    }
    Err(format!("{attempts} attempts failed, last: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::{FailPlan, Op, Upstream};

    #[test]
    fn file_store_keeps_ids_only_across_opens() {
        let dir = std::env::temp_dir().join(format!("arcp-conform-store-{}", crate::ids::ulid()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("credentials.json");
        let s = Store::File(path.clone());
        s.add("cred_a");
        s.add("cred_b");
        s.remove("cred_a");
        let reopened = Store::File(path.clone());
        assert_eq!(reopened.ids().into_iter().collect::<Vec<_>>(), ["cred_b"]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, r#"{"outstanding":["cred_b"]}"#);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn retry_gives_up_on_refusals_and_recovers_from_transient_failures() {
        let up = Upstream::start().unwrap();
        let url = format!("{}/v1/credentials", up.base());
        up.set_fail(FailPlan {
            op: Some(Op::Issue),
            status: 503,
            times: Some(2),
            delay: Duration::ZERO,
            credential: None,
        });
        let ok = retry(3, || call("POST", &url, None, None, CALL_TIMEOUT)).await;
        assert_eq!(ok.unwrap().status, 201);
        up.set_fail(FailPlan {
            op: Some(Op::Issue),
            status: 403,
            times: None,
            delay: Duration::ZERO,
            credential: None,
        });
        let refused = retry(5, || call("POST", &url, None, None, CALL_TIMEOUT)).await;
        assert!(refused.unwrap_err().contains("403"));
        // A refusal is not retried: one call, not five.
        let issues = up.log().iter().filter(|r| r.op == Some(Op::Issue)).count();
        assert_eq!(issues, 4);
    }

    #[tokio::test]
    async fn a_restarted_runtime_revokes_what_its_store_holds() {
        let up = Upstream::start().unwrap();
        let store = Store::memory();
        let config = super::super::RuntimeConfig {
            provisioner: ProvisionerConfig {
                upstream: Some(up.base().to_string()),
                store: store.clone(),
                quiet: false,
            },
            ..Default::default()
        };
        let first = Runtime::new(config.clone());
        let lease = Lease::from([("model.use".to_string(), vec!["m/*".to_string()])]);
        let c = first
            .upstream_issue("job_1", "alice", &lease, None)
            .await
            .unwrap();
        assert_eq!(
            store.ids().into_iter().collect::<Vec<_>>(),
            vec![c.id.clone()]
        );
        first.crash();
        let _second = Runtime::new(config);
        for _ in 0..100 {
            if up.revoked(&c.id) && store.ids().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("not revoked after restart: {:?}", up.log());
    }
}
