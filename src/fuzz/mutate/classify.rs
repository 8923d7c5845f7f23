//! What a conforming runtime must do with a mutated frame, and the patterns
//! that judge its reply.

use super::*;
use crate::wire::MessageType;
use serde_json::{json, Value};

/// Classify a frame that parses (markers still in it).
pub(super) fn classify(v: &Value, ctx: &FrameCtx) -> (Class, Option<String>, Option<String>) {
    let ir = Class::MustError(Some("INVALID_REQUEST"));
    let Some(obj) = v.as_object() else {
        return (ir, None, None);
    };
    let tt = obj.get("type").and_then(Value::as_str).map(String::from);
    for k in ["arcp", "id", "type"] {
        if !obj.get(k).is_some_and(Value::is_string) {
            return (ir, tt, None);
        }
    }
    let t = tt.clone().unwrap_or_default();
    for k in ["session_id", "trace_id", "job_id"] {
        if obj.get(k).is_some_and(|x| !x.is_null() && !x.is_string()) {
            return (ir, tt, None);
        }
    }
    if obj
        .get("event_seq")
        .is_some_and(|x| !x.is_null() && x.as_u64().is_none())
    {
        return (ir, tt, None);
    }
    if obj
        .get("payload")
        .is_some_and(|x| !x.is_null() && !x.is_object())
    {
        return (ir, tt, None);
    }
    let Some(kind) = MessageType::parse(&t) else {
        return (ir, tt, None);
    };
    if !kind.sent_by_client() {
        return (ir, tt, None);
    }
    let arcp = obj["arcp"].as_str().unwrap_or_default();
    let version_ok = arcp == "1" || arcp.starts_with("1.");
    if !ctx.in_session {
        return match kind {
            MessageType::SessionHello | MessageType::SessionResume => (Class::Handshake, tt, None),
            _ => (Class::MustError(None), tt, None),
        };
    }
    if matches!(kind, MessageType::SessionHello | MessageType::SessionResume) {
        return (Class::MustError(None), tt, None);
    }
    let own = format!("session.{}.id", ctx.session);
    match obj.get("session_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if marker_name(s) == Some(own.as_str()) => {}
        Some(_) => return (Class::MustError(None), tt, None),
    }
    if !version_ok {
        return (Class::MayError, tt, None);
    }
    if kind
        .feature()
        .is_some_and(|f| !ctx.features.iter().any(|x| x == f.as_str()))
    {
        return (Class::MayError, tt, None);
    }
    let concrete = concretize(v);
    let schema_ok = crate::schema::schemas().validate(&concrete).is_empty();
    let payload = obj.get("payload").cloned().unwrap_or(json!({}));
    match kind {
        MessageType::SessionPing if schema_ok => {
            let nonce = payload
                .get("nonce")
                .and_then(Value::as_str)
                .map(String::from);
            (Class::Accept, tt, nonce)
        }
        MessageType::JobCancel | MessageType::JobSubscribe | MessageType::JobUnsubscribe
            if schema_ok =>
        {
            // An id nobody issued must be refused: with JOB_NOT_FOUND (§12)
            // when it is shaped like one (an odd string may be INVALID_REQUEST).
            let id = payload.get("job_id").and_then(Value::as_str);
            let shaped = |s: &str| {
                s.strip_prefix("job_").is_some_and(|u| {
                    u.len() == 26
                        && u.bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                })
            };
            // Other fields may be refused first (INVALID_REQUEST).
            let plain = payload.as_object().is_some_and(|o| {
                o.iter()
                    .all(|(k, v)| k == "job_id" || (k == "history" && v.is_boolean()))
            });
            match id {
                Some(s) if marker_name(s).is_none() && shaped(s) && plain => {
                    (Class::MustError(Some("JOB_NOT_FOUND")), tt, None)
                }
                Some(s) if marker_name(s).is_none() => (Class::MustError(None), tt, None),
                _ => (Class::MayError, tt, None),
            }
        }
        _ => (Class::MayError, tt, None),
    }
}

/// Might this mutation close the session (a `session.close` the runtime
/// is not bound to refuse)? The model then resumes the session.
pub fn closes(m: &Mutant, arcp: &str, session: &str) -> bool {
    // Asked several times per mutant (when the model picks actions, applies
    // them, and renders the case), and each answer builds the whole frame:
    // remembered per thread, for the mutant it was computed for.
    type Memo = std::collections::HashMap<(String, String, String), (Mutant, bool)>;
    thread_local!(static MEMO: std::cell::RefCell<Memo> = Default::default());
    let key = (m.id.clone(), arcp.to_string(), session.to_string());
    if let Some(hit) = MEMO.with_borrow(|memo| memo.get(&key).filter(|(k, _)| k == m).map(|h| h.1))
    {
        return hit;
    }
    let answer = closes_now(m, arcp, session);
    MEMO.with_borrow_mut(|memo| {
        if memo.len() >= 1024 {
            memo.clear();
        }
        memo.insert(key, (m.clone(), answer));
    });
    answer
}

fn closes_now(m: &Mutant, arcp: &str, session: &str) -> bool {
    let features = crate::wire::Feature::all_names();
    let ctx = FrameCtx {
        arcp,
        session,
        in_session: true,
        features: &features,
        job: &|_| None,
    };
    let b = build(m, &ctx);
    b.final_type.as_deref() == Some("session.close") && !matches!(b.class, Class::MustError(_))
}

/// A case pattern that matches exactly the string `s`: escaped for the
/// matcher (`$$x` is the literal `$x`), then for templates (`$${`).
pub fn pattern_literal(s: &str) -> String {
    let m = if s.starts_with('$') {
        format!("${s}")
    } else {
        s.to_string()
    };
    escape_template(&m)
}

/// The pattern of a message's normal reply, if it has one.
pub fn reply_pattern(message_type: &str, nonce: Option<&str>) -> Option<Value> {
    Some(match message_type {
        "session.ping" => match nonce {
            Some(n) => {
                json!({"type": "session.pong", "payload": {"ping_nonce": pattern_literal(n)}})
            }
            None => json!({"type": "session.pong"}),
        },
        "job.submit" => json!({"type": "job.accepted"}),
        "session.list_jobs" => json!({"type": "session.jobs"}),
        "job.subscribe" => json!({"type": "job.subscribed"}),
        "job.cancel" => json!({"type": "job.cancelled"}),
        _ => return None,
    })
}
