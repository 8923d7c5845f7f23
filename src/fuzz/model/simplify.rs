//! Simpler variants of one action, for the shrinker.

use super::*;
use crate::fuzz::mutate;
use serde_json::{json, Value};

/// Simpler variants of one action, for the shrinker (each must keep the
/// action's kind so the rest of the sequence stays meaningful).
pub fn simplify(a: &Action) -> Vec<Action> {
    let mut out = vec![];
    match a {
        Action::Open { s, who, features } if *features != crate::wire::Feature::all_names() => {
            out.push(Action::Open {
                s: *s,
                who: *who,
                features: crate::wire::Feature::all_names(),
            });
        }
        Action::PreHello { frames, end } => {
            for i in 0..frames.len() {
                let mut f = frames.clone();
                f.remove(i);
                out.push(Action::PreHello {
                    frames: f,
                    end: *end,
                });
            }
            for (i, m) in frames.iter().enumerate() {
                for sm in mutate::simplify(m) {
                    let mut f = frames.clone();
                    f[i] = sm;
                    out.push(Action::PreHello {
                        frames: f,
                        end: *end,
                    });
                }
            }
        }
        Action::Burst { s, n } if *n > 2 => out.push(Action::Burst { s: *s, n: n / 2 }),
        Action::Oversize { s, bytes } if *bytes > 64 * 1024 => out.push(Action::Oversize {
            s: *s,
            bytes: (bytes / 2).max(64 * 1024),
        }),
        Action::Reconnect { s, how } if *how != Reconnect::Plain => out.push(Action::Reconnect {
            s: *s,
            how: Reconnect::Plain,
        }),
        Action::Submit { s, job, spec } => {
            let with = |f: &dyn Fn(&mut JobSpec)| {
                let mut c = spec.clone();
                f(&mut c);
                Action::Submit {
                    s: *s,
                    job: *job,
                    spec: c,
                }
            };
            if let Some(steps) = spec.input.get("steps").and_then(Value::as_array) {
                for i in 0..steps.len() {
                    let mut st = steps.clone();
                    st.remove(i);
                    let waits = st.iter().any(|x| x["op"] == "wait");
                    out.push(with(&|c: &mut JobSpec| {
                        c.input = json!({ "steps": st.clone() });
                        c.waits = waits;
                    }));
                }
            }
            for k in spec.lease.keys() {
                out.push(with(&|c: &mut JobSpec| {
                    c.lease.remove(k);
                }));
            }
            if spec.expires_ms.is_some() {
                out.push(with(&|c: &mut JobSpec| c.expires_ms = None));
            }
            if spec.max_runtime_sec.is_some() {
                out.push(with(&|c: &mut JobSpec| c.max_runtime_sec = None));
            }
            if spec.idempotency_key.is_some() {
                out.push(with(&|c: &mut JobSpec| c.idempotency_key = None));
            }
            if spec.trace.is_some() {
                out.push(with(&|c: &mut JobSpec| c.trace = None));
            }
        }
        Action::Mutate { s, m } => {
            for sm in mutate::simplify(m) {
                out.push(Action::Mutate { s: *s, m: sm });
            }
        }
        _ => {}
    }
    out
}
