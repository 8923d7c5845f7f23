//! Generating an iteration's actions from the seed, proposing only those that
//! apply in the current [`State`].

use super::*;
use crate::fuzz::gen::Gen;
use crate::fuzz::mutate::{self, Base, JobRef};
use serde_json::{json, Map, Value};

/// Generate one iteration's actions.
pub fn generate(g: &mut Gen, cfg: &ModelConfig) -> Vec<Action> {
    let n = g.range(2, cfg.max_actions.max(2) as u64) as usize;
    let mut st = State::default();
    let mut out = vec![];
    let mut next_job = 1u32;
    if g.chance(0.15) {
        let a = pre_hello(g, cfg);
        st.apply(&a, cfg);
        out.push(a);
    }
    let mut attempts = 0;
    while out.len() < n && attempts < n * 20 {
        attempts += 1;
        let a = propose(g, cfg, &st, &mut next_job);
        if st.applicable(&a, cfg) {
            st.apply(&a, cfg);
            out.push(a);
        }
    }
    out
}

fn pick_features(g: &mut Gen, cfg: &ModelConfig) -> Vec<String> {
    let all = crate::wire::Feature::all_names();
    if g.chance(0.6) {
        return all;
    }
    let mut f: Vec<String> = all.into_iter().filter(|_| g.chance(0.6)).collect();
    if g.chance(0.1) {
        f.push(g.pick(&["x-future-feature", "HEARTBEAT", ""]).to_string());
    }
    let _ = cfg;
    f
}

fn pre_hello(g: &mut Gen, cfg: &ModelConfig) -> Action {
    let n = g.range(1, 4);
    let frames = (0..n)
        .map(|_| {
            let base = g
                .pick(&[
                    Base::Ping,
                    Base::Submit,
                    Base::ListJobs,
                    Base::Hello,
                    Base::Resume,
                    Base::Cancel(JobRef::Unknown("job_01HZZZZZZZZZZZZZZZZZZZZZZZ".into())),
                ])
                .clone();
            mutate::generate(g, base, None)
        })
        .collect();
    let end = *g.pick(&[
        PreEnd::Hello,
        PreEnd::Hello,
        PreEnd::BadToken,
        PreEnd::NoAuth,
        PreEnd::BadScheme,
    ]);
    let _ = cfg;
    Action::PreHello { frames, end }
}

fn propose(g: &mut Gen, cfg: &ModelConfig, st: &State, next_job: &mut u32) -> Action {
    let a_open = st.slot(Slot::A).open;
    if !a_open && !st.slot(Slot::A).resumable {
        return if g.chance(0.9) {
            Action::Open {
                s: Slot::A,
                who: if g.chance(0.85) {
                    Who::Alice
                } else {
                    Who::Alice2
                },
                features: pick_features(g, cfg),
            }
        } else {
            pre_hello(g, cfg)
        };
    }
    let open = st.open_slots();
    let s = if open.is_empty() {
        Slot::A
    } else {
        *g.pick(&open)
    };
    let jobs: Vec<u32> = st.jobs.keys().copied().collect();
    let job = |g: &mut Gen| -> u32 {
        if jobs.is_empty() {
            0
        } else {
            *g.pick(&jobs)
        }
    };
    // Kinds: open, prehello, ping, burst, submit, wait, cancel, subscribe,
    // unsubscribe, list, ack, reconnect, close, mutate, oversize, sleep,
    // resubmit, submit to an unknown agent.
    let weights = [8, 2, 6, 2, 14, 8, 5, 5, 1, 4, 2, 4, 1, 26, 1, 1, 4, 2];
    // Job actions from the other session half of the time (cross-session
    // and cross-principal authority).
    let cross = |g: &mut Gen, j: u32| -> Slot {
        match st.jobs.get(&j) {
            Some(js) if st.slot(js.slot.other()).open && g.chance(0.5) => js.slot.other(),
            _ => s,
        }
    };
    match g.weighted(&weights) {
        0 => {
            let slot = if !a_open { Slot::A } else { Slot::B };
            let who = if slot == Slot::A {
                Who::Alice
            } else {
                *g.pick(&[Who::Alice, Who::Alice2, Who::Bob, Who::Bob])
            };
            Action::Open {
                s: slot,
                who,
                features: pick_features(g, cfg),
            }
        }
        1 => pre_hello(g, cfg),
        2 => Action::Ping { s },
        3 => Action::Burst {
            s,
            n: g.range(2, 24) as u32,
        },
        4 => {
            let id = *next_job;
            *next_job += 1;
            let spec = job_spec(g, &st.slot(s).features, id);
            Action::Submit { s, job: id, spec }
        }
        5 => {
            // Prefer jobs that can be waited for.
            let waitable: Vec<u32> = st
                .jobs
                .iter()
                .filter(|(_, j)| j.waitable && !j.waited)
                .map(|(k, _)| *k)
                .collect();
            Action::WaitJob {
                job: if waitable.is_empty() {
                    job(g)
                } else {
                    *g.pick(&waitable)
                },
            }
        }
        6 => {
            let j = job(g);
            Action::Cancel {
                s: cross(g, j),
                job: j,
            }
        }
        7 => {
            let j = job(g);
            Action::Subscribe {
                s: cross(g, j),
                job: j,
                history: g.chance(0.5),
            }
        }
        8 => Action::Unsubscribe { s, job: job(g) },
        9 => Action::ListJobs { s },
        10 => Action::Ack { s },
        11 => Action::Reconnect {
            s,
            how: *g.pick(&[
                Reconnect::Plain,
                Reconnect::Plain,
                Reconnect::BadToken,
                Reconnect::OldToken,
            ]),
        },
        12 => Action::Close { s },
        13 => {
            let base = match g.below(10) {
                0..=2 => Base::Ping,
                3..=4 => Base::Submit,
                5 => Base::ListJobs,
                6 => {
                    let r = if jobs.is_empty() || g.chance(0.3) {
                        JobRef::Unknown(g.ulid("job_"))
                    } else {
                        JobRef::Tracked(job(g))
                    };
                    g.pick(&[
                        Base::Cancel(r.clone()),
                        Base::Subscribe(r.clone()),
                        Base::Unsubscribe(r),
                    ])
                    .clone()
                }
                7 => g
                    .pick(&[Base::Hello, Base::Resume, Base::Pong, Base::Ack])
                    .clone(),
                8 => {
                    const RUNTIME_ONLY: [&str; 3] = ["job.event", "session.welcome", "job.result"];
                    Base::RuntimeOnly(RUNTIME_ONLY[g.below(3) as usize])
                }
                _ => Base::Ping,
            };
            let other = st.slot(s.other()).ever.then(|| s.other().name());
            Action::Mutate {
                s,
                m: mutate::generate(g, base, other),
            }
        }
        14 => Action::Oversize {
            s,
            bytes: g.range(64 * 1024, cfg.oversize_max.max(64 * 1024)),
        },
        16 => {
            // Prefer jobs that have a key.
            let keyed: Vec<u32> = st
                .jobs
                .iter()
                .filter(|(_, j)| j.keyed && j.slot == s)
                .map(|(k, _)| *k)
                .collect();
            Action::Resubmit {
                s,
                job: if keyed.is_empty() {
                    job(g)
                } else {
                    *g.pick(&keyed)
                },
                conflict: g.chance(0.4),
            }
        }
        17 => Action::SubmitBad {
            s,
            why: *g.pick(&[
                BadSubmit::UnknownAgent,
                BadSubmit::UnknownVersion,
                BadSubmit::PastExpiry,
                BadSubmit::BadAmount,
                BadSubmit::NoAgent,
            ]),
        },
        _ => Action::Sleep {
            ms: g.range(10, 500),
        },
    }
}

/// A random submission for the conformance agent (CONFORMANCE.md), or echo.
pub fn job_spec(g: &mut Gen, features: &[String], id: u32) -> JobSpec {
    let has = |f: &str| features.iter().any(|x| x == f);
    if g.chance(0.15) {
        return JobSpec {
            echo: true,
            input: g.json(3),
            lease: Map::new(),
            expires_ms: None,
            max_runtime_sec: None,
            idempotency_key: None,
            trace: None,
            waits: false,
        };
    }
    let mut lease = Map::new();
    if g.chance(0.4) {
        lease.insert(
            "tool.call".into(),
            json!([g.pick(&["search.*", "calc", "*"])]),
        );
    }
    if g.chance(0.3) {
        lease.insert(
            "fs.read".into(),
            json!([g.pick(&["/data/**", "/workspace/*.txt"])]),
        );
    }
    if has("model.use") && g.chance(0.3) {
        lease.insert(
            "model.use".into(),
            json!([g.pick(&["tier-fast/*", "gpt-*"])]),
        );
    }
    if has("cost.budget") && g.chance(0.35) {
        lease.insert(
            "cost.budget".into(),
            json!([g.pick(&["USD:0.50", "USD:1.00", "USD:0", "EUR:2.5"])]),
        );
    }
    if g.chance(0.2) {
        lease.insert("agent.delegate".into(), json!(["echo"]));
    }
    let expires_ms = (has("lease_expires_at") && g.chance(0.3)).then(|| g.range(300, 2500));
    let mut steps = vec![];
    let n = g.range(0, 6);
    for _ in 0..n {
        steps.push(job_step(g, &lease, features));
    }
    if let Some(ms) = expires_ms {
        if g.chance(0.6) {
            // Outlive the lease, then try an operation: LEASE_EXPIRED.
            steps.push(json!({"op": "sleep", "ms": ms + 200}));
            steps.push(json!({"op": "tool", "tool": "search.web"}));
        }
    }
    if lease.contains_key("cost.budget") && g.chance(0.8) {
        steps.push(json!({"op": "cost", "value": g.pick(&[0.6, 1.5, 3.0]), "unit": "USD"}));
        steps.push(json!({"op": "tool", "tool": "calc"}));
    }
    let waits = g.chance(0.08);
    if waits {
        steps.push(json!({"op": "wait"}));
    }
    match g.below(5) {
        0 => steps.push(json!({"op": "finish", "result": g.json(2), "summary": g.odd_string()})),
        1 => steps.push(json!({"op": "fail", "code": g.pick(&["INTERNAL_ERROR", "PERMISSION_DENIED", "NOT_A_CODE", "BUDGET_EXHAUSTED", "LEASE_EXPIRED"]), "message": g.odd_string()})),
        2 => steps.push(json!({"op": "finish"})),
        _ => {}
    }
    JobSpec {
        echo: false,
        input: json!({ "steps": steps }),
        lease,
        expires_ms,
        // A job that waits for a cancel is the one a time limit must end. Whole seconds: the spec
        // shows an integer (§7.1) and says nothing of fractions, which some runtimes refuse.
        max_runtime_sec: g
            .chance(if waits { 0.5 } else { 0.15 })
            .then(|| *g.pick(&[1.0, 2.0, 3.0])),
        idempotency_key: g
            .chance(0.2)
            .then(|| format!("fz-key-{id}-{}", g.below(1_000_000))),
        trace: g
            .chance(0.3)
            .then(|| format!("00-{}-{:016x}-01", g.trace_id(), g.u64() | 1)),
        waits,
    }
}

fn job_step(g: &mut Gen, lease: &Map<String, Value>, features: &[String]) -> Value {
    let _ = features;
    match g.below(14) {
        0 | 1 => {
            json!({"op": "log", "level": g.pick(&["info", "warn", "debug", "bogus"]), "message": g.odd_string()})
        }
        2 => {
            json!({"op": "event", "kind": format!("x-fuzz.{}", g.word()), "body": g.json_object(2)})
        }
        3 => {
            let mut p = json!({"op": "progress", "current": g.number()});
            if g.chance(0.5) {
                p["total"] = g.number();
            }
            if g.chance(0.5) {
                p["message"] = json!(g.odd_string());
            }
            if g.chance(0.3) {
                p["units"] = json!(g.odd_string());
            }
            p
        }
        4 => {
            json!({"op": "cost", "value": g.pick(&[json!(0.1), json!(0.5), json!(-1), json!(2), json!(0)]).clone(), "unit": g.pick(&["USD", "EUR"])})
        }
        5 => {
            json!({"op": "tool", "tool": g.pick(&["search.web", "calc", "shell.exec"]), "args": g.json_object(1)})
        }
        6 => {
            json!({"op": "tool", "capability": g.pick(&["fs.read", "fs.write", "net.fetch"]), "resource": g.pick(&["/data/x", "/etc/passwd", "https://example.com"])})
        }
        7 => json!({"op": "model", "model": g.pick(&["tier-fast/small", "gpt-4", "other/x"])}),
        8 => {
            json!({"op": "result_chunks", "chunks": (0..g.range(1, 3)).map(|_| json!(g.word())).collect::<Vec<_>>(), "encoding": "utf8"})
        }
        9 => json!({"op": "rotate_credential"}),
        10 => json!({"op": "sleep", "ms": g.range(0, 300)}),
        11 => {
            let mut child = Map::new();
            if let Some(t) = lease.get("tool.call") {
                child.insert("tool.call".into(), t.clone());
            } else if g.chance(0.5) {
                child.insert("fs.write".into(), json!(["/**"]));
            }
            json!({"op": "delegate", "agent": g.pick(&["echo", "conformance", "nope"]), "lease": child, "input": g.json(1)})
        }
        12 => json!({"op": format!("x-op-{}", g.word())}),
        _ => json!({"op": "log", "message": g.word()}),
    }
}
