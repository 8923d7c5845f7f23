//! Generating a mutation of a base frame from the seed, and simpler variants
//! of one for the shrinker.

use super::*;
use crate::fuzz::gen::{Gen, NUMBER_LITERALS};
use crate::wire::ENVELOPE_FIELDS;
use serde_json::{json, Map, Value};

/// Generate a mutation of `base`. `other_session` names a second session
/// whose id can be presented as a foreign one.
pub fn generate(g: &mut Gen, base: Base, other_session: Option<&str>) -> Mutant {
    let id = g.ulid("msg_");
    let nonce = format!("fzm{}", g.below(1_000_000));
    let n_ops = if g.chance(0.15) { 2 } else { 1 };
    let mut ops = vec![];
    for _ in 0..n_ops {
        ops.push(generate_op(g, &base, other_session));
    }
    Mutant {
        base,
        ops,
        id,
        nonce,
    }
}

fn payload_keys(base: &Base) -> &'static [&'static str] {
    match base {
        Base::Ping => &["nonce", "sent_at"],
        Base::Pong => &["ping_nonce", "received_at"],
        Base::Submit => &[
            "agent",
            "input",
            "lease_request",
            "lease_constraints",
            "max_runtime_sec",
            "idempotency_key",
        ],
        Base::ListJobs => &["limit", "cursor", "filter"],
        Base::Ack => &["last_processed_seq"],
        Base::Cancel(_) | Base::Unsubscribe(_) => &["job_id", "reason"],
        Base::Subscribe(_) => &["job_id", "history", "from_event_seq"],
        Base::Hello => &["client", "auth", "capabilities"],
        Base::Resume => &["session_id", "resume_token", "last_event_seq"],
        Base::RuntimeOnly(_) => &["job_id", "kind"],
    }
}

fn generate_op(g: &mut Gen, base: &Base, other_session: Option<&str>) -> MutOp {
    let key = || -> String { String::new() };
    let _ = key;
    let pkeys = payload_keys(base);
    match g.weighted(&[6, 14, 6, 16, 3, 7, 9, 3, 3, 2, 2]) {
        0 => MutOp::Remove(
            g.pick(&["arcp", "id", "type", "payload", "session_id"])
                .to_string(),
        ),
        1 => {
            // Envelope fields: wrong types, versions, types, ids, unknown fields.
            match g.below(7) {
                0 => {
                    let k = g.pick(ENVELOPE_FIELDS).to_string();
                    let cur = if k == "payload" {
                        Some(json!({}))
                    } else {
                        Some(json!(""))
                    };
                    let v = g.other_type(cur.as_ref());
                    MutOp::Set(k, v)
                }
                1 => MutOp::Set(
                    "arcp".into(),
                    json!(g.pick(&[
                        "2.0", "1", "1.1.9", "0.9", "", "1.1 ", "v1.1", "1.0", "11", "\u{fffd}"
                    ])),
                ),
                2 => {
                    let t = match g.below(4) {
                        0 => g
                            .pick(&[
                                "session.bogus",
                                "",
                                "SESSION.PING",
                                "session.ping ",
                                "job",
                                "session.",
                                ".",
                                "job.submit\u{0}",
                            ])
                            .to_string(),
                        1 => g.odd_string(),
                        2 => g
                            .pick(&[
                                "job.event",
                                "session.welcome",
                                "job.result",
                                "job.error",
                                "session.error",
                                "job.accepted",
                                "session.jobs",
                                "session.closed",
                            ])
                            .to_string(),
                        _ => g
                            .pick(&[
                                "session.ping",
                                "job.submit",
                                "session.list_jobs",
                                "session.ack",
                                "job.subscribe",
                                "job.cancel",
                                "job.unsubscribe",
                                "session.pong",
                                "session.hello",
                                "session.resume",
                            ])
                            .to_string(),
                    };
                    MutOp::Set("type".into(), json!(t))
                }
                3 => match other_session {
                    Some(o) if g.chance(0.7) => {
                        MutOp::Set("session_id".into(), marker(&format!("session.{o}.id")))
                    }
                    _ => MutOp::Set("session_id".into(), json!(g.ulid("sess_"))),
                },
                4 => MutOp::Set(
                    "event_seq".into(),
                    g.pick(&[
                        json!(1),
                        json!(0),
                        json!(-1),
                        json!(u64::MAX),
                        json!(1.5),
                        json!("1"),
                    ])
                    .clone(),
                ),
                5 => MutOp::Set("trace_id".into(), json!(g.odd_string())),
                _ => {
                    let k = if g.chance(0.5) {
                        g.word()
                    } else {
                        g.odd_string()
                    };
                    MutOp::Set(k, g.json(2))
                }
            }
        }
        2 => MutOp::RemovePayload(g.pick(pkeys).to_string()),
        3 => {
            let k = if g.chance(0.85) {
                g.pick(pkeys).to_string()
            } else {
                g.odd_string()
            };
            let v = match g.below(5) {
                0 => g.other_type(None),
                1 => json!(g.odd_string()),
                2 => g.number(),
                3 => g.json(3),
                _ => {
                    let n = g.range(100, 5000) as usize;
                    Value::Array((0..n).map(|i| json!(i)).collect())
                }
            };
            MutOp::SetPayload(k, v)
        }
        4 => MutOp::Whole(
            g.pick(&[
                json!([]),
                json!("session.ping"),
                json!(42),
                json!(null),
                json!(true),
                json!([{"type": "session.ping"}]),
            ])
            .clone(),
        ),
        5 => MutOp::Truncate(g.range(1, 999) as u32),
        6 => {
            let ins = g
                .pick(&[
                    "{", "}", "\"", ",", ":", "]", "[", "\\", "\u{0}", "nul", "'", "\u{fffd}",
                    ",,", "}}{{", "/*x*/", "\u{feff}", "\u{7f}", "tru",
                ])
                .to_string();
            MutOp::Insert(g.range(0, 1000) as u32, ins)
        }
        7 => {
            let k = g
                .pick(&["type", "id", "arcp", "payload", "session_id"])
                .to_string();
            let v = match k.as_str() {
                "type" => json!(g.pick(&[
                    "session.ping",
                    "session.bogus",
                    "job.submit",
                    "session.list_jobs"
                ])),
                "payload" => json!({}),
                "session_id" => json!(g.ulid("sess_")),
                _ => json!(g.odd_string()),
            };
            MutOp::DupKey(k, v)
        }
        8 => MutOp::NumberLiteral(
            g.pick(pkeys).to_string(),
            g.pick(NUMBER_LITERALS).to_string(),
        ),
        9 => MutOp::LoneSurrogate(g.pick(pkeys).to_string()),
        _ => MutOp::Nest(
            g.pick(pkeys).to_string(),
            *g.pick(&[64u32, 127, 129, 1_000, 100_000]),
        ),
    }
}

/// Smaller variants of a mutation, for the shrinker.
pub fn simplify(m: &Mutant) -> Vec<Mutant> {
    let mut out = vec![];
    if m.ops.len() > 1 {
        for i in 0..m.ops.len() {
            let mut c = m.clone();
            c.ops.remove(i);
            out.push(c);
        }
    }
    for (i, op) in m.ops.iter().enumerate() {
        let smaller = match op {
            MutOp::Set(k, v) => simpler_value(v).map(|v| MutOp::Set(k.clone(), v)),
            MutOp::SetPayload(k, v) => simpler_value(v).map(|v| MutOp::SetPayload(k.clone(), v)),
            MutOp::Nest(k, d) if *d > 129 => Some(MutOp::Nest(k.clone(), 129)),
            MutOp::DupKey(k, v) => simpler_value(v).map(|v| MutOp::DupKey(k.clone(), v)),
            _ => None,
        };
        if let Some(s) = smaller {
            let mut c = m.clone();
            c.ops[i] = s;
            out.push(c);
        }
    }
    out
}

fn simpler_value(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) if marker_name(s).is_some() => None,
        Value::String(s) if s.chars().count() > 8 => Some(Value::String(
            s.chars().take(s.chars().count() / 2).collect(),
        )),
        Value::Array(a) if a.len() > 1 => Some(Value::Array(a[..a.len() / 2].to_vec())),
        Value::Object(o) if o.len() > 1 => {
            let keep: Map<String, Value> = o
                .iter()
                .take(o.len() / 2)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Some(Value::Object(keep))
        }
        _ => None,
    }
}
