//! `probe`: talk to an unknown implementation, find out what it speaks, and
//! write a starting profile. Dialect points are detected where the spec is
//! silent or where known SDKs depart from it: who names the session, how the
//! client is named, how resume and close are spelled.

use crate::engine::handshake::{describe, hello_variations, spec_hello};
use crate::profile::{Dialect, Profile, ResumeDialect, ResumeKeys, SessionIdDialect};
use crate::target::{Instance, Target};
use crate::transport::{Conn, Inbound};
use serde_json::{json, Value};
use std::time::Duration;

/// What the probe learnt, as lines for a person and a profile for the tool.
#[derive(Debug, Clone)]
pub struct Findings {
    pub lines: Vec<String>,
    pub profile: Profile,
    /// Did the target complete an ARCP v1.1 handshake?
    pub speaks_v11: bool,
    /// It answered the hello in another vocabulary (not a crash, close,
    /// silence or refusal, which the handshake case judges).
    pub other_vocabulary: bool,
}

const WAIT: Duration = Duration::from_secs(3);
/// The first reply of a connection also waits for the target to start (a
/// cold Node or Ruby process on a busy machine takes seconds).
const HELLO_WAIT: Duration = Duration::from_secs(10);

/// An envelope in `d`'s dialect; `session` is the session it belongs to.
fn envelope(d: &Dialect, kind: &str, session: Option<&str>, payload: Value) -> String {
    let mut e = json!({"arcp": d.arcp_version, "id": crate::ids::message_id(), "type": kind, "payload": payload});
    if let Some(s) = session {
        e["session_id"] = json!(s);
    }
    e.to_string()
}

/// The first reply on `conn`, skipping pings: Ok(Some(json)), Ok(None) on
/// silence, Err(text) for a close or a non-JSON frame.
async fn reply(conn: &mut Conn) -> Result<Option<Value>, String> {
    reply_within(conn, WAIT).await
}

async fn reply_within(conn: &mut Conn, wait: Duration) -> Result<Option<Value>, String> {
    loop {
        match conn.recv(wait).await {
            Err(_) => return Ok(None),
            Ok(Inbound::Closed(r)) => return Err(format!("closed the transport ({r})")),
            Ok(Inbound::Fault(f)) => return Err(f.to_string()),
            Ok(Inbound::Frame(t)) => match serde_json::from_str::<Value>(&t) {
                Ok(v) if v["type"] == "session.ping" => continue,
                Ok(v) => return Ok(Some(v)),
                Err(_) => {
                    let head: String = t.chars().take(120).collect();
                    return Err(format!("sent a frame that is not JSON: {head:?}"));
                }
            },
        }
    }
}

/// A session.hello in `d`'s dialect offering every feature, optionally resuming.
fn hello(profile: &Profile, d: &Dialect, resume: Option<Value>) -> String {
    let mut payload = d.client_identity("arcp-conform-probe", env!("CARGO_PKG_VERSION"));
    payload["auth"] = json!({"scheme": "bearer", "token": profile.tokens.alice});
    payload["capabilities"] =
        json!({"encodings": ["json"], "features": crate::wire::Feature::all_names()});
    if let Some(r) = resume {
        payload["resume"] = r;
    }
    // A client-minted id is new on every hello, resuming ones included: only
    // the `resume` object names the old session, so a welcome echoing the
    // envelope's id is a fresh session.
    let sid = (d.session_id == SessionIdDialect::Client).then(crate::ids::session_id);
    envelope(d, "session.hello", sid.as_deref(), payload)
}

/// How one hello went.
enum Hello {
    Welcome(Box<Conn>, Value),
    Refused(Value),
    Other(Value),
    Silent,
    Failed(String),
}

async fn try_hello(target: &Target, inst: &Instance, profile: &Profile, d: &Dialect) -> Hello {
    let mut conn = match target.connect(inst).await {
        Ok(c) => c,
        Err(e) => return Hello::Failed(format!("cannot connect: {e}")),
    };
    let _ = conn.send(hello(profile, d, None)).await;
    match reply_within(&mut conn, HELLO_WAIT).await {
        Ok(Some(v)) if v["type"] == "session.welcome" => Hello::Welcome(Box::new(conn), v),
        Ok(Some(v)) if v["type"] == "session.error" => Hello::Refused(v),
        Ok(Some(v)) => Hello::Other(v),
        Ok(None) => Hello::Silent,
        Err(e) => Hello::Failed(e),
    }
}

fn not_v11(lines: Vec<String>, profile: Profile, other_vocabulary: bool) -> Findings {
    Findings {
        lines,
        profile,
        speaks_v11: false,
        other_vocabulary,
    }
}

pub async fn probe(target: &Target) -> Findings {
    let mut profile = target.profile.clone();
    let mut lines = vec![];
    let inst = target.instance();
    let spec = spec_hello(&profile.dialect);
    let (mut conn, welcome) = match try_hello(target, &inst, &profile, &spec).await {
        Hello::Welcome(c, v) => {
            profile.dialect = spec;
            (*c, v)
        }
        first => {
            let why = match &first {
                Hello::Refused(v) => {
                    let code = v
                        .pointer("/payload/code")
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    if matches!(code, "UNAUTHENTICATED" | "PERMISSION_DENIED") {
                        lines.push(format!("authentication failed: session.hello refused with {code}: put a token the target accepts in the profile (tokens.alice; tried `{}`)", crate::redact::REDACTED));
                        return not_v11(lines, profile, false);
                    }
                    format!(
                        "refused it with {code}: {}",
                        v.pointer("/payload/message")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    )
                }
                Hello::Other(v) => format!(
                    "answered with `{}`",
                    v["type"].as_str().unwrap_or("(no type)")
                ),
                Hello::Silent => format!("gave no answer within {HELLO_WAIT:?}"),
                Hello::Failed(e) if e.starts_with("cannot connect") => {
                    lines.push(e.clone());
                    return not_v11(lines, profile, false);
                }
                Hello::Failed(e) => e.clone(),
                Hello::Welcome(..) => unreachable!(),
            };
            lines.push(format!(
                "session.hello as the spec spells it: the target {why}"
            ));
            let mut found = None;
            // Silence is an unresponsive target, whatever the hello's spelling.
            let variations = match first {
                Hello::Silent => vec![],
                _ => hello_variations(&profile.dialect),
            };
            for v in variations {
                if let Hello::Welcome(c, w) = try_hello(target, &inst, &profile, &v).await {
                    lines.push(format!(
                        "a hello with {} gets a welcome: put `{}` in the profile (a dialect; the spec-shaped hello failing stays a FAIL of §6.2 in runs)",
                        describe(&v),
                        v.snippet()
                    ));
                    profile.dialect = v;
                    found = Some((*c, w));
                    break;
                }
            }
            match found {
                Some(f) => f,
                None => {
                    if !matches!(first, Hello::Silent) {
                        lines.push("no known hello dialect gets a welcome either (client-minted session_id, flat client_name, both)".into());
                    }
                    let older = older_generation(target).await;
                    let other = matches!(first, Hello::Other(_))
                        || older.iter().any(|l| l.contains("answers `session.open`"));
                    let crashed = |e: &str| {
                        (e.contains("exited with status") && !e.contains("status 0"))
                            || e.contains("killed by signal")
                    };
                    if !other && matches!(&first, Hello::Failed(e) if crashed(e)) {
                        lines.push("the target crashes on an ARCP v1.1 hello: a FAIL of §6.2 (session.hello is answered by session.welcome), not another protocol".into());
                    }
                    lines.extend(older);
                    return not_v11(lines, profile, other);
                }
            }
        }
    };
    let p = &welcome["payload"];
    let named = |obj: &str, flat: &str| {
        p.pointer(&format!("/runtime/{obj}"))
            .or_else(|| p.get(flat))
            .and_then(Value::as_str)
            .map(String::from)
    };
    lines.push(format!(
        "speaks ARCP v1.1: {} {}",
        named("name", "runtime_name").unwrap_or_else(|| "(unnamed runtime)".into()),
        named("version", "runtime_version").unwrap_or_default()
    ));
    if p.get("runtime").is_none() && p.get("runtime_name").is_some() {
        lines.push("the welcome names the runtime with flat runtime_name/runtime_version, not `runtime: {name, version}` (a dialect, noted; not fatal)".into());
    }
    let features: Vec<&str> = p
        .pointer("/capabilities/features")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    lines.push(format!("features acknowledged: {}", features.join(", ")));
    let agents: Vec<String> = p
        .pointer("/capabilities/agents")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    x.get("name")
                        .and_then(Value::as_str)
                        .or(x.as_str())
                        .map(String::from)
                })
                .collect()
        })
        .unwrap_or_default();
    lines.push(format!(
        "agents: {}",
        if agents.is_empty() {
            "(none advertised)".into()
        } else {
            agents.join(", ")
        }
    ));
    for (k, label) in [
        ("heartbeat_interval_sec", "heartbeat interval"),
        ("resume_window_sec", "resume window"),
    ] {
        if let Some(v) = p.get(k) {
            lines.push(format!("{label}: {v} s"));
        }
    }
    profile.agents.conformance = agents.iter().find(|a| a.contains("conformance")).cloned();
    profile.agents.echo = agents.iter().find(|a| a.contains("echo")).cloned();
    if profile.agents.conformance.is_none() {
        lines.push("no conformance agent: cases that need one will be UNTESTABLE (see CONFORMANCE.md to add it)".into());
    }
    let mut sid = welcome["session_id"].as_str().map(String::from);
    let token = p["resume_token"].as_str().unwrap_or("").to_string();

    // Resume spelling (§6.3 names session.resume; some SDKs resume inside hello).
    if !target.shared_runtime() {
        lines.push("resume: not detected: over stdio each connection is a new process, so no session outlives its transport to be resumed; set dialect.resume and dialect.resume_keys by hand if the target resumes inside session.hello".into());
    } else if token.is_empty() {
        lines.push("resume: not detected: the welcome carries no resume_token".into());
    } else {
        let line = resume(target, &inst, &mut profile, sid.as_deref(), &token).await;
        lines.push(line);
        // A resume may have taken the first session over: close a fresh one.
        if let Hello::Welcome(c, w) = try_hello(target, &inst, &profile, &profile.dialect).await {
            conn = *c;
            sid = w["session_id"].as_str().map(String::from);
        }
    }
    lines.push(close(target, &inst, &mut profile, &mut conn, sid.as_deref()).await);
    Findings {
        lines,
        profile,
        speaks_v11: true,
        other_vocabulary: false,
    }
}

/// Try session.resume, then resume inside session.hello under each known
/// key spelling; a welcome counts only if it keeps the session id (a fresh
/// session is not a resume). Sets the profile's dialect to what worked.
async fn resume(
    target: &Target,
    inst: &Instance,
    profile: &mut Profile,
    sid: Option<&str>,
    token: &str,
) -> String {
    // The first connection stays open: resuming takes the session over.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let kept = |v: &Value| v["type"] == "session.welcome" && v["session_id"].as_str() == sid;
    let mut fresh = false;
    let d = profile.dialect.clone();
    let mut tries = vec![];
    for keys in [
        ResumeKeys::default(),
        ResumeKeys {
            token: "token".into(),
            ..ResumeKeys::default()
        },
    ] {
        tries.push(Dialect {
            resume: ResumeDialect::Message,
            resume_keys: keys.clone(),
            ..d.clone()
        });
        tries.push(Dialect {
            resume: ResumeDialect::Hello,
            resume_keys: keys,
            ..d.clone()
        });
    }
    for t in tries {
        let Ok(mut c) = target.connect(inst).await else {
            return "resume: could not reconnect to try it".into();
        };
        let args = t.resume_args(json!(sid), json!(token), json!(0));
        let frame = match t.resume {
            ResumeDialect::Message => envelope(&t, "session.resume", sid, args),
            ResumeDialect::Hello => hello(profile, &t, Some(args)),
        };
        let _ = c.send(frame).await;
        let Ok(Some(v)) = reply(&mut c).await else {
            continue;
        };
        if kept(&v) {
            let how = match t.resume {
                ResumeDialect::Message => "session.resume (as the spec names it)".to_string(),
                ResumeDialect::Hello => {
                    "a `resume` object in session.hello (dialect; session.resume is not understood)"
                        .to_string()
                }
            };
            let keys = if t.resume_keys == ResumeKeys::default() {
                String::new()
            } else {
                format!(", token under `{}`", t.resume_keys.token)
            };
            profile.dialect = t;
            return format!(
                "resume: {how}{keys}; the welcome kept the session id (profile: `{}`)",
                profile.dialect.snippet()
            );
        }
        fresh |= v["type"] == "session.welcome";
    }
    if fresh {
        "resume: every spelling tried got a welcome naming a new session: the target started fresh sessions, it did not resume (set dialect.resume / dialect.resume_keys by hand if it resumes under other names)".into()
    } else {
        "resume: neither session.resume nor a hello `resume` object (keys resume_token or token) was answered with a welcome".into()
    }
}

/// Close as the dialect spells it; when that gets no session.closed, try
/// session.bye on a fresh session: no answer and the transport closing
/// honours it. Sets the profile's dialect to what worked.
async fn close(
    target: &Target,
    inst: &Instance,
    profile: &mut Profile,
    conn: &mut Conn,
    sid: Option<&str>,
) -> String {
    let d = profile.dialect.clone();
    let _ = conn.send(envelope(&d, &d.close, sid, json!({}))).await;
    let what = match reply(conn).await {
        Ok(Some(v)) if v["type"] == d.closed => {
            return format!("close: {} / {}", d.close, d.closed)
        }
        // The dialect's own close (e.g. session.bye) honoured by closing.
        Err(e) if e.starts_with("closed the transport") && d.close != "session.close" => {
            profile.dialect.closed = crate::profile::CLOSED_BY_TRANSPORT.into();
            return format!(
                "close: {} got no answer and the target closed the transport: use `dialect: {{close: {}, closed: none}}`",
                d.close, d.close
            );
        }
        Ok(Some(v)) => format!("answered with `{}`", v["type"].as_str().unwrap_or("?")),
        Ok(None) => "no answer".into(),
        Err(e) => e,
    };
    let first = format!("close: {} got {what}", d.close);
    let Hello::Welcome(mut c, w) = try_hello(target, inst, profile, &d).await else {
        return format!("{first}; could not open another session to try session.bye");
    };
    let bye = envelope(
        &d,
        "session.bye",
        w["session_id"].as_str(),
        json!({"reason": "arcp-conform probe"}),
    );
    let _ = c.send(bye).await;
    match reply(&mut c).await {
        Err(e) if e.starts_with("closed the transport") => {
            profile.dialect.close = "session.bye".into();
            profile.dialect.closed = crate::profile::CLOSED_BY_TRANSPORT.into();
            format!("{first}; session.bye (with a reason) got no answer and the target closed the transport: use `dialect: {{close: session.bye, closed: none}}`")
        }
        Ok(Some(v)) if v["type"] == "session.closed" => {
            profile.dialect.close = "session.bye".into();
            format!("{first}; session.bye is answered with session.closed: use `dialect: {{close: session.bye}}`")
        }
        other => {
            let got = match other {
                Ok(Some(v)) => format!("answered with `{}`", v["type"].as_str().unwrap_or("?")),
                Ok(None) => "no answer, the transport still open".into(),
                Err(e) => e,
            };
            format!("{first}; session.bye got {got} too; set dialect.close / dialect.closed in the profile")
        }
    }
}

/// An implementation of the pre-1.1 vocabulary answers `session.open`.
pub async fn older_generation(target: &Target) -> Vec<String> {
    let inst = target.instance();
    let Ok(mut c) = target.connect(&inst).await else {
        return vec![];
    };
    let open = json!({
        "arcp": "1", "id": crate::ids::message_id(), "type": "session.open",
        "timestamp": crate::clock::timestamp(chrono::Utc::now()),
        // `kind` is what the earlier vocabulary requires; `name` is what v1.1 uses.
        "payload": {"client": {"kind": "arcp-conform-probe", "name": "arcp-conform-probe", "version": env!("CARGO_PKG_VERSION")},
                    "auth": {"scheme": "bearer", "token": target.profile.tokens.alice}}
    });
    let _ = c.send(open.to_string()).await;
    match reply_within(&mut c, HELLO_WAIT).await {
        Ok(Some(v)) => vec![format!(
            "it answers `session.open` with `{}`: it speaks the earlier ARCP vocabulary (session.open / session.accepted, tool.invoke, ...) rather than ARCP v1.1's session.hello / session.welcome; v1.1 cases cannot run against it",
            v["type"].as_str().unwrap_or("?")
        )],
        _ => vec!["it does not answer the earlier vocabulary's `session.open` either".into()],
    }
}
