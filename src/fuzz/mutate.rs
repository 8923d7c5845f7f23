//! Single-frame mutations: a valid client frame ([`Base`]) with one or two
//! [`MutOp`]s applied, and the classification of the result ([`Class`]):
//! what a conforming runtime must do when it receives it.
//!
//! Values the harness only knows at run time (session ids, job ids, `now`,
//! tokens) are written into frames as *markers* and become `${...}`
//! templates when the frame is written into a case as `send: {raw: ...}`.
//! Text mutations can cut a marker in half; the remains are then plain text.

use super::gen::{Gen, NUMBER_LITERALS};
use crate::wire::{MessageType, ENVELOPE_FIELDS};
use serde_json::{json, Map, Value};

const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';
const TYPED_OPEN: char = '\u{E002}';
const TYPED_CLOSE: char = '\u{E003}';

/// Separates a marker's name from its check digits.
const MARK_SEP: char = '\u{E004}';

/// Check digits of a marker name: a text mutation that lands inside a
/// marker changes the name or the digits, and the marker stays text.
fn mark_check(name: &str) -> String {
    let h = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    });
    format!("{:04x}", h & 0xffff)
}

/// A string marker for the template `${name}` (rendered as a string).
pub fn marker(name: &str) -> Value {
    Value::String(format!(
        "{MARK_OPEN}{name}{MARK_SEP}{}{MARK_CLOSE}",
        mark_check(name)
    ))
}

/// A marker whose template is spliced in without quotes (a number).
pub fn typed_marker(name: &str) -> Value {
    Value::String(format!(
        "{TYPED_OPEN}{name}{MARK_SEP}{}{TYPED_CLOSE}",
        mark_check(name)
    ))
}

/// `name<SEP>check` -> `name`, if the check digits match.
fn checked(inner: &str) -> Option<&str> {
    let (name, check) = inner.split_once(MARK_SEP)?;
    (!name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-+".contains(c))
        && check == mark_check(name))
    .then_some(name)
}

/// The template name in a marker string, if it is one.
pub fn marker_name(s: &str) -> Option<&str> {
    s.strip_prefix(MARK_OPEN)
        .and_then(|r| r.strip_suffix(MARK_CLOSE))
        .or_else(|| {
            s.strip_prefix(TYPED_OPEN)
                .and_then(|r| r.strip_suffix(TYPED_CLOSE))
        })
        .and_then(checked)
}

/// Escape `${` so the case loader reads literal text (`$${`).
pub fn escape_template(s: &str) -> String {
    s.replace("${", "$${")
}

/// [`escape_template`] on every string and key of a JSON value.
pub fn escape_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(escape_template(s)),
        Value::Array(a) => Value::Array(a.iter().map(escape_value).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (escape_template(k), escape_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Frame text with markers -> the `raw:` text of a case step.
pub fn finalize_text(text: &str) -> String {
    let out = escape_template(text);
    let mut rest = out.as_str();
    let mut done = String::with_capacity(out.len());
    while let Some(start) = rest.find([MARK_OPEN, TYPED_OPEN]) {
        let open = rest[start..].chars().next().unwrap_or(MARK_OPEN);
        let close = if open == MARK_OPEN {
            MARK_CLOSE
        } else {
            TYPED_CLOSE
        };
        let after = &rest[start + open.len_utf8()..];
        let found = after
            .find(close)
            .and_then(|end| checked(&after[..end]).map(|name| (end, name)));
        match found {
            Some((end, name)) => {
                let tail = &after[end + close.len_utf8()..];
                // A typed marker drops the quotes around it (a number).
                let quoted =
                    open == TYPED_OPEN && rest[..start].ends_with('"') && tail.starts_with('"');
                if quoted {
                    done.push_str(&rest[..start - 1]);
                    done.push_str(&format!("${{{name}}}"));
                    rest = &tail[1..];
                } else {
                    done.push_str(&rest[..start]);
                    done.push_str(&format!("${{{name}}}"));
                    rest = tail;
                }
            }
            None => {
                // A marker cut by a text mutation: keep what is left as text.
                done.push_str(&rest[..start + open.len_utf8()]);
                rest = after;
            }
        }
    }
    done.push_str(rest);
    done
}

/// Only printable ASCII: every other character becomes a JSON `\uXXXX`
/// escape (valid inside JSON strings, still invalid outside them).
pub fn ascii_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// Markers replaced by plausible values, for classification.
pub fn concretize(v: &Value) -> Value {
    match v {
        Value::String(s) => match (s.starts_with(TYPED_OPEN), marker_name(s)) {
            (true, Some(_)) => json!(1),
            (false, Some(name)) if name.starts_with("now") => json!("2030-01-01T00:00:00Z"),
            (false, Some(name)) if name.starts_with("session.") => {
                json!("sess_0000000000000000000000000A")
            }
            (false, Some(_)) => json!("job_0000000000000000000000000A"),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(concretize).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), concretize(v))).collect())
        }
        other => other.clone(),
    }
}

/// Which valid frame a mutation starts from.
#[derive(Debug, Clone, PartialEq)]
pub enum Base {
    Ping,
    Pong,
    Submit,
    ListJobs,
    Ack,
    /// `job.cancel` of a job: a tracked job's number, or an id nobody issued.
    Cancel(JobRef),
    Subscribe(JobRef),
    Unsubscribe(JobRef),
    /// A `session.hello` (in a session: a second hello).
    Hello,
    /// A `session.resume` with a token nobody issued.
    Resume,
    /// A message only runtimes send.
    RuntimeOnly(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobRef {
    Tracked(u32),
    Unknown(String),
}

impl Base {
    pub fn message_type(&self) -> &'static str {
        match self {
            Base::Ping => "session.ping",
            Base::Pong => "session.pong",
            Base::Submit => "job.submit",
            Base::ListJobs => "session.list_jobs",
            Base::Ack => "session.ack",
            Base::Cancel(_) => "job.cancel",
            Base::Subscribe(_) => "job.subscribe",
            Base::Unsubscribe(_) => "job.unsubscribe",
            Base::Hello => "session.hello",
            Base::Resume => "session.resume",
            Base::RuntimeOnly(t) => t,
        }
    }
}

/// One change to a frame. Value operations come first, then text ones.
#[derive(Debug, Clone, PartialEq)]
pub enum MutOp {
    /// Remove a top-level field.
    Remove(String),
    /// Set a top-level field (wrong type, other version, other type, foreign id, extra field).
    Set(String, Value),
    /// Remove a payload field.
    RemovePayload(String),
    /// Set a payload field.
    SetPayload(String, Value),
    /// Replace the frame by something that is not an object.
    Whole(Value),
    /// Cut the text at this fraction (per mille).
    Truncate(u32),
    /// Insert text at this fraction (per mille).
    Insert(u32, String),
    /// Repeat a top-level key with another value (raw text: JSON cannot say it).
    DupKey(String, Value),
    /// A payload field holding a number literal parsers may refuse or round.
    NumberLiteral(String, String),
    /// A payload string holding an unpaired UTF-16 surrogate escape.
    LoneSurrogate(String),
    /// A payload field nested this many arrays deep.
    Nest(String, u32),
}

impl MutOp {
    /// Short name, used in signatures and reproducer ids.
    pub fn label(&self) -> String {
        match self {
            MutOp::Remove(k) => format!("missing-{k}"),
            MutOp::Set(k, v) => match (k.as_str(), v) {
                ("arcp", Value::String(_)) => "arcp-version".into(),
                ("type", Value::String(_)) => "type-changed".into(),
                ("session_id", Value::String(s)) if marker_name(s).is_some() => {
                    "foreign-session-id".into()
                }
                // A value of the field's own type (an odd trace id, a negative
                // event_seq) is not a wrong type: the label must say which.
                (k, v) if ENVELOPE_FIELDS.contains(&k) => {
                    let own_type = match k {
                        "event_seq" => v.is_number(),
                        "payload" => v.is_object(),
                        _ => v.is_string(),
                    };
                    if own_type {
                        format!("odd-{k}")
                    } else {
                        format!("wrong-type-{k}")
                    }
                }
                _ => "extra-field".into(),
            },
            MutOp::RemovePayload(_) => "payload-missing-field".into(),
            MutOp::SetPayload(..) => "payload-field".into(),
            MutOp::Whole(_) => "not-an-object".into(),
            MutOp::Truncate(_) => "truncated".into(),
            MutOp::Insert(..) => "invalid-json".into(),
            MutOp::DupKey(..) => "duplicate-key".into(),
            MutOp::NumberLiteral(..) => "number-literal".into(),
            MutOp::LoneSurrogate(_) => "lone-surrogate".into(),
            MutOp::Nest(..) => "deep-nesting".into(),
        }
    }

    fn is_text(&self) -> bool {
        matches!(
            self,
            MutOp::Truncate(_)
                | MutOp::Insert(..)
                | MutOp::DupKey(..)
                | MutOp::NumberLiteral(..)
                | MutOp::LoneSurrogate(_)
                | MutOp::Nest(..)
        )
    }
}

/// A mutated frame, as generated: deterministic data, rendered later.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutant {
    pub base: Base,
    pub ops: Vec<MutOp>,
    /// Envelope id (ULID-shaped, so id validation is not what trips).
    pub id: String,
    pub nonce: String,
}

impl Mutant {
    pub fn label(&self) -> String {
        self.ops
            .iter()
            .map(MutOp::label)
            .collect::<Vec<_>>()
            .join("+")
    }
}

/// What a conforming runtime must do with a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Class {
    /// Answer with `session.error` (this code, if the spec fixes it).
    MustError(Option<&'static str>),
    /// Answer with the message's normal reply (or nothing if it has none),
    /// or with `session.error`; either way keep the session.
    MayError,
    /// Treat it as the valid message it is: its normal reply must come.
    Accept,
    /// Before hello: a (possibly broken) hello or resume; the runtime may
    /// welcome or refuse and close.
    Handshake,
}

/// Where the frame is sent.
pub struct FrameCtx<'a> {
    pub arcp: &'a str,
    /// Session name of the frame (`a`, `b`, `p`).
    pub session: &'a str,
    /// A session is established on it (else: before hello).
    pub in_session: bool,
    /// Features negotiated on this session.
    pub features: &'a [String],
    /// Template name of a job id for a tracked job, if it was captured.
    pub job: &'a dyn Fn(u32) -> Option<String>,
}

/// A built mutated frame.
pub struct Built {
    /// Frame text with markers (see [`finalize_text`]).
    pub text: String,
    pub class: Class,
    /// The `type` the runtime will see, when the frame parses.
    pub final_type: Option<String>,
    /// The ping nonce the reply must echo, when the final frame is a valid ping.
    pub nonce: Option<String>,
}

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

/// Classify a frame that parses (markers still in it).
fn classify(v: &Value, ctx: &FrameCtx) -> (Class, Option<String>, Option<String>) {
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

#[cfg(test)]
mod tests;
