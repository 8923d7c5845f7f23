//! `probe`: talk to an unknown implementation, find out what it speaks, and
//! write a starting profile. Dialect points are detected only where the spec
//! is silent or ambiguous (how resume and close are spelled).

use crate::profile::{Profile, ResumeDialect};
use crate::target::Target;
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
}

const WAIT: Duration = Duration::from_secs(3);

fn envelope(arcp: &str, kind: &str, session: Option<&str>, payload: Value) -> String {
    let mut e =
        json!({"arcp": arcp, "id": crate::ids::message_id(), "type": kind, "payload": payload});
    if let Some(s) = session {
        e["session_id"] = json!(s);
    }
    e.to_string()
}

/// The first reply on `conn`, skipping pings: Ok(Some(json)), Ok(None) on
/// silence, Err(text) for a close or a non-JSON frame.
async fn reply(conn: &mut Conn) -> Result<Option<Value>, String> {
    loop {
        match conn.recv(WAIT).await {
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

fn hello(profile: &Profile) -> String {
    envelope(
        &profile.dialect.arcp_version,
        "session.hello",
        None,
        json!({
            "client": {"name": "arcp-conform-probe", "version": env!("CARGO_PKG_VERSION")},
            "auth": {"scheme": "bearer", "token": profile.tokens.alice},
            "capabilities": {"encodings": ["json"], "features": crate::wire::Feature::all_names()},
        }),
    )
}

pub async fn probe(target: &Target) -> Findings {
    let mut profile = target.profile.clone();
    let mut lines = vec![];
    let inst = target.instance();
    let mut conn = match target.connect(&inst).await {
        Ok(c) => c,
        Err(e) => {
            lines.push(format!("cannot connect: {e}"));
            return Findings {
                lines,
                profile,
                speaks_v11: false,
            };
        }
    };
    let _ = conn.send(hello(&profile)).await;
    let welcome = match reply(&mut conn).await {
        Ok(Some(v)) if v["type"] == "session.welcome" => v,
        Ok(Some(v)) if v["type"] == "session.error" => {
            let code = v
                .pointer("/payload/code")
                .and_then(Value::as_str)
                .unwrap_or("?");
            lines.push(if matches!(code, "UNAUTHENTICATED" | "PERMISSION_DENIED") {
                format!("authentication failed: session.hello refused with {code}: put a token the target accepts in the profile (tokens.alice; tried `{}`)", crate::redact::REDACTED)
            } else {
                format!("session.hello refused with {code}: {}", v.pointer("/payload/message").and_then(Value::as_str).unwrap_or(""))
            });
            return Findings {
                lines,
                profile,
                speaks_v11: false,
            };
        }
        Ok(Some(v)) => {
            lines.push(format!(
                "answered session.hello with `{}`: the target speaks a different vocabulary than ARCP v1.1",
                v["type"].as_str().unwrap_or("(no type)")
            ));
            return Findings {
                lines,
                profile,
                speaks_v11: false,
            };
        }
        Ok(None) => {
            lines.push(format!("no answer to session.hello within {WAIT:?}"));
            lines.extend(older_generation(target).await);
            return Findings {
                lines,
                profile,
                speaks_v11: false,
            };
        }
        Err(e) => {
            lines.push(format!("in reply to session.hello the target {e}"));
            lines.extend(older_generation(target).await);
            return Findings {
                lines,
                profile,
                speaks_v11: false,
            };
        }
    };
    let p = &welcome["payload"];
    lines.push(format!(
        "speaks ARCP v1.1: {} {}",
        p.pointer("/runtime/name")
            .and_then(Value::as_str)
            .unwrap_or("(unnamed runtime)"),
        p.pointer("/runtime/version")
            .and_then(Value::as_str)
            .unwrap_or("")
    ));
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
    if target.shared_runtime() && !token.is_empty() {
        // The first connection stays open: resuming takes the session over.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let args = json!({"session_id": sid, "resume_token": token, "last_event_seq": 0});
        let mut c2 = target.connect(&inst).await.ok();
        let mut resume = None;
        if let Some(c) = c2.as_mut() {
            let _ = c
                .send(envelope(
                    &profile.dialect.arcp_version,
                    "session.resume",
                    sid.as_deref(),
                    args.clone(),
                ))
                .await;
            if let Ok(Some(v)) = reply(c).await {
                if v["type"] == "session.welcome" {
                    resume = Some(ResumeDialect::Message);
                    conn = c2.take().unwrap();
                }
            }
        }
        if resume.is_none() {
            if let Ok(mut c) = target.connect(&inst).await {
                let payload = json!({"auth": {"scheme": "bearer", "token": profile.tokens.alice}, "resume": args});
                let _ = c
                    .send(envelope(
                        &profile.dialect.arcp_version,
                        "session.hello",
                        None,
                        payload,
                    ))
                    .await;
                if let Ok(Some(v)) = reply(&mut c).await {
                    if v["type"] == "session.welcome" {
                        resume = Some(ResumeDialect::Hello);
                        conn = c;
                    }
                }
            }
        }
        match resume {
            Some(ResumeDialect::Message) => {
                lines.push("resume: session.resume (as the spec names it)".into())
            }
            Some(ResumeDialect::Hello) => {
                lines.push("resume: a `resume` object in session.hello (dialect; session.resume is not understood)".into());
                profile.dialect.resume = ResumeDialect::Hello;
            }
            None => lines.push(
                "resume: neither session.resume nor hello.resume was answered with a welcome"
                    .into(),
            ),
        }
        if let Ok(new) = target.connect(&inst).await {
            conn = new;
            let _ = conn.send(hello(&profile)).await;
            if let Ok(Some(v)) = reply(&mut conn).await {
                sid = v["session_id"].as_str().map(String::from);
            }
        }
    }

    // Close spelling (§6.7: session.close answered by session.closed).
    let _ = conn
        .send(envelope(
            &profile.dialect.arcp_version,
            "session.close",
            sid.as_deref(),
            json!({}),
        ))
        .await;
    match reply(&mut conn).await {
        Ok(Some(v)) if v["type"] == "session.closed" => {
            lines.push("close: session.close / session.closed".into())
        }
        other => {
            let what = match other {
                Ok(Some(v)) => format!("answered with `{}`", v["type"].as_str().unwrap_or("?")),
                Ok(None) => "no answer".into(),
                Err(e) => e,
            };
            lines.push(format!("close: session.close got {what}; the target may use another spelling (set dialect.close / dialect.closed in the profile)"));
        }
    }
    Findings {
        lines,
        profile,
        speaks_v11: true,
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
    match reply(&mut c).await {
        Ok(Some(v)) => vec![format!(
            "it answers `session.open` with `{}`: it speaks the earlier ARCP vocabulary (session.open / session.accepted, tool.invoke, ...) rather than ARCP v1.1's session.hello / session.welcome; v1.1 cases cannot run against it",
            v["type"].as_str().unwrap_or("?")
        )],
        _ => vec!["it does not answer the earlier vocabulary's `session.open` either".into()],
    }
}
