//! Runs a selection of cases against one target: a probe handshake first,
//! then applicability (N/A, UNTESTABLE), prerequisites (BLOCKED) and the
//! cases themselves, `jobs` at a time.

use super::{run_case, EngineOptions};
use crate::case::{AgentRole, Case};
use crate::limits::Limits;
use crate::target::Target;
use crate::verdict::{Origin, Outcome, Verdict};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Id of the synthetic check every run starts with.
pub const HANDSHAKE_ID: &str = "probe.handshake";

/// What the probe handshake learnt about the target.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// Features the target acknowledged when offered all of them.
    pub features: Vec<String>,
    /// Agent names in its inventory.
    pub agents: Vec<String>,
    pub welcome: Value,
}

/// One finished case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub case: Arc<Case>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub jobs: usize,
    pub engine: EngineOptions,
    /// Wall time a case may need by its designed waits before it is
    /// UNTESTABLE instead of run (`--max-case-time`).
    pub max_case_time: Duration,
    /// Reruns, with larger deadlines, of a case failed only by a deadline.
    pub retries: u32,
}

impl RunOptions {
    pub fn new(jobs: usize, engine: EngineOptions) -> RunOptions {
        RunOptions {
            jobs,
            engine,
            max_case_time: super::budget::DEFAULT_MAX_CASE_TIME,
            retries: 1,
        }
    }
}

/// The target's limits for this run: the heartbeat interval only as the
/// welcome advertises it (a profile cannot give a runtime heartbeats), the
/// resume window as advertised or else the profile's, the rest the profile's.
pub fn run_limits(target: &Target, env: &Environment) -> Limits {
    let payload = env.welcome.get("payload").cloned().unwrap_or_default();
    let advertised = Limits::from_welcome(&payload);
    let mut l = advertised.or(&target.profile.limits);
    l.heartbeat_sec = advertised.heartbeat_sec;
    l
}

/// Run one case; while its outcome is the harness's own ERROR (a deadline
/// missed while the harness's timers ran late, see [`super::lag`]), which
/// judges nothing of the target, run it again, `again` more times at most.
/// For callers that count or compare verdicts (the fuzzer's replays).
pub async fn run_judged(
    case: &Case,
    target: &Target,
    engine: &EngineOptions,
    again: u32,
) -> Outcome {
    let mut outcome = run_case(case, target, engine).await;
    for _ in 0..again {
        if outcome.origin != Some(Origin::Harness) {
            break;
        }
        outcome = run_case(case, target, engine).await;
    }
    outcome
}

/// Run one case; when it failed only on a deadline, run it again with
/// deadlines twice as long (up to `retries` times). A pass on a retry is a
/// pass marked flaky with the first attempt's reason.
pub async fn run_with_retries(
    case: &Case,
    target: &Target,
    engine: &EngineOptions,
    retries: u32,
) -> Outcome {
    let mut outcome = run_case(case, target, engine).await;
    let first = outcome.reason.clone();
    let mut scale = engine.timeout_scale;
    for attempt in 1..=retries {
        if !outcome.deadline_missed {
            break;
        }
        scale *= 2.0;
        let opts = EngineOptions {
            timeout_scale: scale,
            ..engine.clone()
        };
        let again = run_case(case, target, &opts).await;
        if again.deadline_missed {
            outcome = again;
            outcome.reason = format!(
                "{} (also on retry {attempt} with deadlines x{:.0})",
                outcome.reason,
                scale / engine.timeout_scale
            );
            continue;
        }
        outcome = again;
        if matches!(outcome.verdict, Verdict::Pass | Verdict::Info) {
            outcome.flaky = Some(format!(
                "failed on a deadline, then passed on retry {attempt} with deadlines x{:.0}: {first}",
                scale / engine.timeout_scale
            ));
        }
        break;
    }
    outcome
}

/// The probe as a case: open a session offering every feature.
pub fn handshake_case() -> Case {
    let text = format!(
        "id: {HANDSHAKE_ID}\ntitle: Handshake with the target\nsections: [\"6.2\"]\nlevel: MUST\nrequirement: \"session.welcome responds with feature acknowledgement\"\nsteps:\n  - open: {{}}\n"
    );
    crate::case::parse_str(&text, std::path::Path::new("<probe>"))
        .expect("the probe case parses")
        .remove(0)
}

/// The names listed at `pointer` (strings, or objects with a `name`).
fn names_at(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().or_else(|| x.get("name").and_then(Value::as_str)))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The agents a `session.welcome` advertises.
pub fn advertised_agents(welcome: &Value) -> Vec<String> {
    names_at(welcome, "/payload/capabilities/agents")
}

/// Open one session offering every feature: the root every case depends on.
pub async fn probe(target: &Target, opts: &EngineOptions) -> Result<Environment, Outcome> {
    let case = handshake_case();
    let mut outcome = run_case(&case, target, opts).await;
    if outcome.verdict != Verdict::Pass {
        if let Some(crash) = outcome.reason.strip_prefix("target crashed: ") {
            // A conformant hello that kills the target breaks the hello's
            // requirement: a FAIL of it, quoting the crash, not an ERROR.
            outcome.reason = format!("session.hello crashed the target: {crash}");
            outcome.verdict = Verdict::Fail;
            outcome.origin = None;
            return Err(outcome);
        }
        if outcome.verdict == Verdict::Fail {
            outcome.verdict = Verdict::Error;
            outcome.origin = Some(Origin::Target);
        }
        outcome.reason = format!("handshake failed: {}", outcome.reason);
        return Err(outcome);
    }
    // Read the welcome back out of the (redacted) wire log.
    let welcome = outcome
        .wire
        .iter()
        .filter_map(|w| serde_json::from_str::<Value>(&w.text).ok())
        .find(|v| v["type"] == "session.welcome")
        .unwrap_or(json!({}));
    let list = |p: &str| names_at(&welcome, p);
    Ok(Environment {
        features: list("/payload/capabilities/features"),
        agents: advertised_agents(&welcome),
        welcome,
    })
}

/// Tag of cases that crash the runtime (the conformance agent's `crash` op)
/// and judge the restarted one.
pub const RESTART_TAG: &str = "restart";

/// Why a case cannot run here, as the verdict it gets instead.
pub fn applicability(case: &Case, target: &Target, env: &Environment) -> Option<Outcome> {
    let missing: Vec<String> = case
        .requires
        .features
        .iter()
        .map(|f| f.as_str().to_string())
        .filter(|f| !env.features.contains(f))
        .collect();
    if !missing.is_empty() {
        return Some(Outcome::new(
            Verdict::NotApplicable,
            format!(
                "needs feature {} which the target did not negotiate",
                missing.join(", ")
            ),
        ));
    }
    if (case.requires.sessions > 1 || case.requires.reconnect) && !target.shared_runtime() {
        return Some(Outcome::new(
            Verdict::NotApplicable,
            "needs a second connection to the same runtime; a stdio target serves one session per process",
        ));
    }
    for role in &case.requires.agents {
        if *role == AgentRole::Any {
            if target.profile.agents.for_role(*role, &env.agents).is_none() {
                return Some(Outcome::new(
                    Verdict::Untestable,
                    format!("needs an agent: the profile's conformance or echo agent, advertised by the target (it has: {})", env.agents.join(", ")),
                ));
            }
            continue;
        }
        let name = target.profile.agents.for_role(*role, &[]);
        match name {
            Some(n) if env.agents.is_empty() || env.agents.contains(&n) => {}
            Some(n) => {
                return Some(Outcome::new(
                    Verdict::Untestable,
                    format!("needs the {role} agent (`{n}`), which the target does not advertise (it has: {})", env.agents.join(", ")),
                ))
            }
            None => {
                return Some(Outcome::new(
                    Verdict::Untestable,
                    format!("needs an agent playing the {role} role; the profile names none"),
                ))
            }
        }
    }
    for p in &case.requires.principals {
        if target.profile.tokens.for_principal(p.as_str()).is_none() {
            return Some(Outcome::new(
                Verdict::Untestable,
                format!("needs a token for principal `{p}`; the profile has none"),
            ));
        }
    }
    if case.tags.iter().any(|t| t == RESTART_TAG) && !target.restartable() {
        return Some(Outcome::new(
            Verdict::NotApplicable,
            "crashes the runtime and needs it restarted; the harness restarts an embedded runtime or a stdio process, not a WebSocket server started once per run",
        ));
    }
    let upstream_step = case
        .all_steps()
        .into_iter()
        .find(|s| crate::case::StepKind::UPSTREAM.contains(&s.kind.name()));
    if let (Some(step), false) = (upstream_step, target.has_upstream()) {
        return Some(Outcome::new(
            Verdict::Untestable,
            format!(
                "`{}` (line {}) judges the credential upstream; the target has not declared it takes one (profile `upstream: true`: it reads ARCP_CONFORM_UPSTREAM)",
                step.kind.name(),
                step.line
            ),
        ));
    }
    None
}

/// Run `cases` against `target`. `on_result` sees each result as it lands.
pub async fn run_all(
    cases: Vec<Arc<Case>>,
    target: Arc<Target>,
    opts: RunOptions,
    on_result: impl Fn(&CaseResult) + Send + Sync + 'static,
) -> Vec<CaseResult> {
    let on_result: Arc<dyn Fn(&CaseResult) + Send + Sync> = Arc::new(on_result);
    let env = match probe(&target, &opts.engine).await {
        Ok(env) => env,
        Err(outcome) => {
            let root = Arc::new(handshake_case());
            let mut results = vec![CaseResult {
                case: root,
                outcome: outcome.clone(),
            }];
            on_result(&results[0]);
            for case in cases {
                let r = CaseResult {
                    case,
                    outcome: Outcome::new(
                        Verdict::Blocked,
                        format!("blocked by {HANDSHAKE_ID}: {}", outcome.reason),
                    ),
                };
                on_result(&r);
                results.push(r);
            }
            return results;
        }
    };
    let limits = run_limits(&target, &env);
    let mut engine = opts.engine.clone();
    engine.limits = Some(limits.clone());
    let env = Arc::new(env);
    let (max_case_time, retries) = (opts.max_case_time, opts.retries);
    schedule(cases, opts.jobs, on_result, move |case| {
        let (target, env, engine, limits) =
            (target.clone(), env.clone(), engine.clone(), limits.clone());
        async move {
            let skip = applicability(&case, &target, &env)
                .or_else(|| super::budget::check(&case, &target, &limits, max_case_time));
            match skip {
                Some(o) => o,
                None => run_with_retries(&case, &target, &engine, retries).await,
            }
        }
    })
    .await
}

/// Run cases `jobs` at a time, each after its `depends_on` cases: a case whose
/// prerequisite did not pass is BLOCKED, naming it. Shared by the runtime
/// suite and the client suite.
pub async fn schedule<F, Fut>(
    cases: Vec<Arc<Case>>,
    jobs: usize,
    on_result: Arc<dyn Fn(&CaseResult) + Send + Sync>,
    run: F,
) -> Vec<CaseResult>
where
    F: Fn(Arc<Case>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Outcome> + Send + 'static,
{
    let run = Arc::new(run);
    let sem = Arc::new(Semaphore::new(jobs.max(1)));
    let mut done: HashMap<String, watch::Receiver<Option<Verdict>>> = HashMap::new();
    let mut senders = HashMap::new();
    for c in &cases {
        let (tx, rx) = watch::channel(None);
        done.insert(c.id.clone(), rx);
        senders.insert(c.id.clone(), tx);
    }
    let mut handles = vec![];
    for case in cases {
        let deps: Vec<(String, watch::Receiver<Option<Verdict>>)> = case
            .depends_on
            .iter()
            .filter_map(|d| done.get(d).map(|rx| (d.clone(), rx.clone())))
            .collect();
        let tx = senders.remove(&case.id).expect("one sender per case");
        let (sem, run, on_result) = (sem.clone(), run.clone(), on_result.clone());
        handles.push(tokio::spawn(async move {
            let mut blocked = None;
            for (id, mut rx) in deps {
                let v = rx
                    .wait_for(Option::is_some)
                    .await
                    .map(|v| v.unwrap())
                    .unwrap_or(Verdict::Error);
                // INFO: the prerequisite is a MAY the target does not take,
                // so what depends on it does not apply (N/A, not BLOCKED).
                if v == Verdict::Info {
                    blocked = Some(Outcome::new(
                        Verdict::NotApplicable,
                        format!("needs {id}, a MAY the target does not take (INFO)"),
                    ));
                    break;
                }
                // A prerequisite that cannot be judged here leaves this one
                // unjudged for the same reason.
                if matches!(v, Verdict::NotApplicable | Verdict::Untestable) {
                    blocked = Some(Outcome::new(v, format!("needs {id}, which is {v} here")));
                    break;
                }
                if !matches!(v, Verdict::Pass | Verdict::Warn) {
                    blocked = Some(Outcome::new(
                        Verdict::Blocked,
                        format!("blocked by {id} ({v})"),
                    ));
                    break;
                }
            }
            let outcome = match blocked {
                Some(o) => o,
                None => {
                    let _permit = sem.acquire().await.expect("semaphore open");
                    run(case.clone()).await
                }
            };
            let _ = tx.send(Some(outcome.verdict));
            let r = CaseResult { case, outcome };
            on_result(&r);
            r
        }));
    }
    let mut results = vec![];
    for h in handles {
        match h.await {
            Ok(r) => results.push(r),
            Err(e) => {
                // A panic in the harness is the harness's fault, reported as such.
                eprintln!("arcp-conform: internal error in a case task: {e}");
            }
        }
    }
    results
}
