//! Building a mutant's frame: the base payload, the mutations applied to its
//! value or text, and its classification.

use super::classify::classify;
use super::marker::{MARK_CLOSE, MARK_OPEN, TYPED_CLOSE, TYPED_OPEN};
use super::*;
use serde_json::{json, Value};

fn base_payload(m: &Mutant, ctx: &FrameCtx) -> Value {
    let job = |r: &JobRef| match r {
        JobRef::Tracked(n) => (ctx.job)(*n)
            .map(|name| marker(&name))
            .unwrap_or_else(|| json!("job_01HZZZZZZZZZZZZZZZZZZZZZZZ")),
        JobRef::Unknown(id) => json!(id),
    };
    let s = ctx.session;
    match &m.base {
        Base::Ping => json!({"nonce": m.nonce, "sent_at": marker("now")}),
        Base::Pong => json!({"ping_nonce": m.nonce, "received_at": marker("now")}),
        Base::Submit => json!({
            "agent": marker("agents.echo"),
            "input": {"fuzz": m.nonce},
        }),
        Base::ListJobs => json!({"limit": 5}),
        Base::Ack => json!({"last_processed_seq": typed_marker(&format!("session.{s}.last_seq"))}),
        Base::Cancel(r) | Base::Unsubscribe(r) => json!({"job_id": job(r)}),
        Base::Subscribe(r) => json!({"job_id": job(r), "history": true}),
        Base::Hello => json!({
            "client": {"name": "arcp-conform-fuzz", "version": "0.1.0"},
            "auth": {"scheme": "bearer", "token": marker("principal.alice.token")},
            "capabilities": {"encodings": ["json"], "features": ["heartbeat", "subscribe"]},
        }),
        Base::Resume => json!({
            "session_id": "sess_01HZZZZZZZZZZZZZZZZZZZZZZZ",
            "resume_token": "rt_01HZZZZZZZZZZZZZZZZZZZZZZZ01HZZZZZZZZZZZZZZZZZZZZZZZ",
            "last_event_seq": 0,
        }),
        Base::RuntimeOnly(_) => {
            json!({"job_id": "job_01HZZZZZZZZZZZZZZZZZZZZZZZ", "kind": "log", "body": {}})
        }
    }
}

/// Apply the mutation and classify the result.
pub fn build(m: &Mutant, ctx: &FrameCtx) -> Built {
    let mut v = json!({
        "arcp": ctx.arcp,
        "id": m.id,
        "type": m.base.message_type(),
    });
    if ctx.in_session {
        v["session_id"] = marker(&format!("session.{}.id", ctx.session));
    }
    v["payload"] = base_payload(m, ctx);
    for op in m.ops.iter().filter(|o| !o.is_text()) {
        apply_value(&mut v, op);
    }
    let mut text = v.to_string();
    let mut syntax_broken = false;
    let mut parser_dependent = false;
    for op in m.ops.iter().filter(|o| o.is_text()) {
        match op {
            MutOp::Truncate(pm) => {
                let at = floor_char(&text, text.len() * *pm as usize / 1000);
                text.truncate(at.max(1));
                syntax_broken = true;
            }
            MutOp::Insert(pm, ins) => {
                let at = past_marker(&text, floor_char(&text, text.len() * *pm as usize / 1000));
                text.insert_str(at, ins);
                syntax_broken = true;
            }
            MutOp::DupKey(k, val) => {
                if text.ends_with('}') {
                    text.pop();
                    text.push_str(&format!(
                        "{}{}:{}}}",
                        if text.len() > 1 { "," } else { "" },
                        Value::from(k.clone()),
                        val
                    ));
                }
                parser_dependent = true;
            }
            MutOp::NumberLiteral(k, lit) => {
                splice_payload(&mut text, k, lit);
                parser_dependent = true;
            }
            MutOp::LoneSurrogate(k) => {
                splice_payload(&mut text, k, "\"a\\ud800b\"");
                parser_dependent = true;
            }
            MutOp::Nest(k, depth) => {
                let d = *depth as usize;
                splice_payload(&mut text, k, &format!("{}{}", "[".repeat(d), "]".repeat(d)));
                parser_dependent = true;
            }
            _ => {}
        }
    }
    // What does the runtime see?
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let (class, final_type, nonce) = match &parsed {
        None if syntax_broken && !parser_dependent => {
            (Class::MustError(Some("INVALID_REQUEST")), None, None)
        }
        // Parsers disagree on these (duplicate keys, number range, lone
        // surrogates, nesting depth): before hello the runtime may even see
        // a hello in it, and welcome or close.
        None if !ctx.in_session => (Class::Handshake, None, None),
        None => (Class::MayError, None, None),
        Some(p) if parser_dependent => {
            let t = p.get("type").and_then(Value::as_str).map(String::from);
            let c = if ctx.in_session {
                Class::MayError
            } else {
                Class::Handshake
            };
            (c, t, None)
        }
        Some(p) => classify(p, ctx),
    };
    Built {
        text,
        class,
        final_type,
        nonce,
    }
}

/// `at`, moved past a marker that starts at or spans it: text inserted right
/// before a value the harness fills in later could combine with it (a `\`
/// before a token starting with `t` is a valid escape), so the frame the
/// runtime sees would not be the one classified.
fn past_marker(text: &str, at: usize) -> usize {
    let mut from = 0;
    while let Some(i) = text[from..].find([MARK_OPEN, TYPED_OPEN]) {
        let start = from + i;
        if start > at {
            break;
        }
        let open = text[start..].chars().next().unwrap_or(MARK_OPEN);
        let close = if open == MARK_OPEN {
            MARK_CLOSE
        } else {
            TYPED_CLOSE
        };
        let Some(len) = text[start..].find(close) else {
            break;
        };
        let end = start + len + close.len_utf8();
        if at < end {
            return end;
        }
        from = end;
    }
    at
}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Put `literal` in as the value of payload key `k` (text level).
fn splice_payload(text: &mut String, k: &str, literal: &str) {
    let key = Value::from(k.to_string()).to_string();
    if let Some(p) = text.find("\"payload\":{") {
        let at = p + "\"payload\":{".len();
        let sep = if text[at..].starts_with('}') { "" } else { "," };
        text.insert_str(at, &format!("{key}:{literal}{sep}"));
    }
}

fn apply_value(v: &mut Value, op: &MutOp) {
    match op {
        MutOp::Remove(k) => {
            if let Some(o) = v.as_object_mut() {
                o.remove(k);
            }
        }
        MutOp::Set(k, x) => {
            if let Some(o) = v.as_object_mut() {
                o.insert(k.clone(), x.clone());
            }
        }
        MutOp::RemovePayload(k) => {
            if let Some(p) = v.get_mut("payload").and_then(Value::as_object_mut) {
                p.remove(k);
            }
        }
        MutOp::SetPayload(k, x) => {
            if let Some(p) = v.get_mut("payload").and_then(Value::as_object_mut) {
                p.insert(k.clone(), x.clone());
            }
        }
        MutOp::Whole(x) => *v = x.clone(),
        _ => {}
    }
}
