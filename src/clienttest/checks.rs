//! Checks applied to every frame the client under test sends, and to what
//! its driver prints: a violation fails the case whatever its steps say.

use crate::checks::{Invariant, Violation, FEATURES, SCHEMA};
use crate::verdict::Level;
use crate::wire::MessageType;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// §14: the client keeps provisioned credential values to itself.
pub const CREDENTIALS: Invariant = Invariant {
    id: "client.credentials",
    section: "14",
    level: Level::Must,
    requirement: "Clients MUST treat `value` as a secret: not logged, not echoed to subscribers, not persisted beyond the job.",
};

/// Every rule checked on client frames.
pub const ALL: &[&Invariant] = &[&SCHEMA, &FEATURES, &CREDENTIALS];

/// Credential values the harness has handed out, shared with the wire log
/// so it can redact them wherever they show up.
pub use crate::redact::Secrets;

/// Watches the frames and output of one client case.
pub struct ClientMonitor {
    /// Validate frames against the JSON Schemas.
    pub schema: bool,
    /// Effective features per session (after welcome).
    features: HashMap<String, Vec<String>>,
    pub secrets: Secrets,
}

impl ClientMonitor {
    pub fn new(schema: bool) -> ClientMonitor {
        ClientMonitor {
            schema,
            features: HashMap::new(),
            secrets: Arc::new(Mutex::new(vec![])),
        }
    }

    /// The harness welcomed `session` with these effective features.
    pub fn opened(&mut self, session: &str, features: &[String]) {
        self.features.insert(session.to_string(), features.to_vec());
    }

    /// A frame the harness sends: remember the credential values in it.
    pub fn outbound(&mut self, v: &Value) {
        let mut found = vec![];
        let payload = &v["payload"];
        for c in payload
            .get("credentials")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(s) = c.get("value").and_then(Value::as_str) {
                found.push(s.to_string());
            }
        }
        if payload.get("kind").and_then(Value::as_str) == Some("status")
            && payload.pointer("/body/phase").and_then(Value::as_str) == Some("credential_rotated")
        {
            if let Some(s) = payload.pointer("/body/value").and_then(Value::as_str) {
                found.push(s.to_string());
            }
        }
        let mut secrets = self.secrets.lock().unwrap();
        for s in found {
            crate::redact::register(&s);
            if !s.is_empty() && !secrets.contains(&s) {
                secrets.push(s);
            }
        }
    }

    /// Check one frame from the client.
    pub fn inbound(&mut self, session: &str, text: &str, v: &Value) -> Vec<Violation> {
        let mut out = vec![];
        if self.schema {
            for viol in crate::schema::schemas().validate(v) {
                out.push(Violation {
                    invariant: &SCHEMA,
                    detail: viol.to_string(),
                });
            }
        }
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .and_then(MessageType::parse);
        if let (Some(k), Some(features)) = (kind, self.features.get(session)) {
            if let Some(f) = k.feature() {
                if !features.iter().any(|x| x == f.as_str()) {
                    out.push(Violation {
                        invariant: &FEATURES,
                        detail: format!("the client sent `{k}` although `{f}` was not negotiated"),
                    });
                }
            }
        }
        out.extend(self.leaks(text, "a frame it sent"));
        out
    }

    /// Credential values appearing in `text` (a frame, or driver output).
    pub fn leaks(&self, text: &str, place: &str) -> Vec<Violation> {
        self.secrets
            .lock()
            .unwrap()
            .iter()
            .filter(|s| text.contains(s.as_str()))
            .map(|_| Violation {
                invariant: &CREDENTIALS,
                detail: format!("a provisioned credential value appeared in {place}"),
            })
            .take(1)
            .collect()
    }

    /// Credential values the driver left in its cache, state or temp
    /// directories once the case (and with it the job) is over.
    pub fn persisted(&self, dirs: &super::persist::StateDirs) -> Vec<Violation> {
        let secrets = self.secrets.lock().unwrap().clone();
        let files = dirs.holding(&secrets);
        if files.is_empty() {
            return vec![];
        }
        vec![Violation {
            invariant: &CREDENTIALS,
            detail: format!(
                "a provisioned credential value was still stored after the job ended, in {}",
                files.join(", ")
            ),
        }]
    }
}

/// Replace every known secret in `text`.
pub use crate::redact::known as redact;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(m: &mut ClientMonitor, v: Value) -> Vec<&'static str> {
        m.inbound("a", &v.to_string(), &v)
            .iter()
            .map(|x| x.invariant.id)
            .collect()
    }

    #[test]
    fn flags_schema_unnegotiated_features_and_echoed_credentials() {
        let mut m = ClientMonitor::new(true);
        let env = |t: &str, p: Value| json!({"arcp": "1.1", "id": "m1", "type": t, "session_id": "s", "payload": p});
        // before the welcome nothing is negotiated yet: only the schema applies
        assert!(ids(&mut m, env("session.ack", json!({"last_processed_seq": 1}))).is_empty());
        m.opened("a", &["heartbeat".into()]);
        assert_eq!(
            ids(&mut m, env("session.ack", json!({"last_processed_seq": 1}))),
            ["frame.features"]
        );
        assert_eq!(
            ids(&mut m, env("job.subscribe", json!({"job_id": "j"}))),
            ["frame.features"]
        );
        assert!(ids(&mut m, env("session.ping", json!({"nonce": "n"}))).is_empty());
        // job.cancel must name its job
        assert_eq!(ids(&mut m, env("job.cancel", json!({}))), ["frame.schema"]);
        // credential values handed out are never sent back
        m.outbound(
            &json!({"type": "job.accepted", "payload": {"credentials": [{"value": "sk-1"}]}}),
        );
        m.outbound(&json!({"type": "job.event", "payload": {"kind": "status", "body": {"phase": "credential_rotated", "value": "sk-2"}}}));
        assert_eq!(
            ids(&mut m, env("session.ping", json!({"nonce": "sk-2"}))),
            ["client.credentials"]
        );
        assert_eq!(m.leaks("log: sk-1", "stderr").len(), 1);
        assert!(m.leaks("nothing here", "stderr").is_empty());
        assert_eq!(
            redact("a sk-1 b sk-2", &m.secrets),
            "a [REDACTED] b [REDACTED]"
        );
    }
}
