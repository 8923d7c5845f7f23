//! Secrets never reach a report or log: credential `value`s, bearer tokens
//! and resume tokens are replaced before a frame is recorded.

use serde_json::Value;

pub const REDACTED: &str = "[REDACTED]";

/// Keys whose string values are always secret.
const SECRET_KEYS: &[&str] = &["token", "resume_token", "value"];

/// Values known to be secret at run time (e.g. credential values handed out).
pub type Secrets = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Replace every known secret value in `text`.
pub fn known(text: &str, secrets: &Secrets) -> String {
    let mut out = text.to_string();
    for s in secrets.lock().unwrap().iter() {
        out = out.replace(s.as_str(), REDACTED);
    }
    out
}

/// Shortest value taken as a secret: replacing a two-letter "value" in every
/// report would destroy the report without protecting anything.
const MIN_SECRET: usize = 6;

/// The run-wide registry: every secret the run has met (profile tokens,
/// credential values and tokens the target sent). A process is one run, so
/// it is global, and every writer (console, reports, baselines, fuzz
/// reproducers) passes its text through [`output`].
static REGISTRY: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Remember `secret`, raw and as it appears escaped inside a JSON string.
pub fn register(secret: &str) {
    if secret.len() < MIN_SECRET || secret == REDACTED {
        return;
    }
    let escaped = serde_json::to_string(secret).unwrap_or_default();
    let escaped = escaped.trim_matches('"').to_string();
    let mut r = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    for s in [secret.to_string(), escaped] {
        if !r.contains(&s) {
            r.push(s);
        }
    }
    // Longest first, so a secret containing another is replaced whole.
    r.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Register the secrets a frame carries: tokens, resume tokens, and the
/// `value`s of credentials (objects in a `credentials` list, or with a `kind`).
pub fn register_frame(v: &Value) {
    fn walk(v: &Value, in_credentials: bool) {
        match v {
            Value::Object(map) => {
                let credential = in_credentials
                    || map.contains_key("value")
                        && (map.contains_key("kind") || map.contains_key("credential_id"));
                for (k, child) in map {
                    match (k.as_str(), child) {
                        ("token" | "resume_token", Value::String(s)) => register(s),
                        ("value", Value::String(s)) if credential => register(s),
                        ("credentials", c) => walk(c, true),
                        _ => walk(child, false),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, in_credentials)),
            _ => {}
        }
    }
    walk(v, false);
}

/// Text on its way out of the harness (console, report, reproducer): every
/// registered secret replaced, wherever it appears.
pub fn output(text: &str) -> String {
    let mut out = text.to_string();
    let r = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    for s in r.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), REDACTED);
        }
    }
    out
}

/// Redact one frame for logging, registering the secrets it carries first.
/// Non-JSON text is scrubbed with a pattern.
pub fn frame(text: &str) -> String {
    // Most frames have no key that can hold a secret, spelled out or
    // escaped: they are kept as sent, unparsed (this runs for every frame).
    let has_key = |k: &str| {
        text.match_indices(k)
            .any(|(i, _)| text[i + k.len()..].starts_with('"'))
    };
    if !text.contains("\\u") && !SECRET_KEYS.iter().any(|k| has_key(k)) {
        return text.to_string();
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            register_frame(&v);
            value(&mut v);
            serde_json::to_string(&v).unwrap_or_default()
        }
        Err(_) => scrub_text(text),
    }
}

/// Redact secrets in place. `value` is secret inside credentials and
/// credential-rotation bodies; a metric's numeric `value` is not touched.
pub fn value(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) && child.is_string() {
                    *child = Value::from(REDACTED);
                } else {
                    value(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(value),
        _ => {}
    }
}

/// Redact secrets in text that may not be whole JSON (failure messages, cut frames).
pub fn scrub_text(text: &str) -> String {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r#"("(?:token|resume_token|value)"\s*:\s*)"(?:[^"\\]|\\.)*"?"#).unwrap()
    });
    re.replace_all(text, format!("${{1}}\"{REDACTED}\""))
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_tokens_and_credential_values_but_not_metrics() {
        let f = r#"{"payload":{"auth":{"token":"tok-alice"},"resume_token":"rt_x","credentials":[{"value":"sk-virt-1"}],"body":{"name":"cost","value":0.5}}}"#;
        let out = frame(f);
        assert!(!out.contains("tok-alice") && !out.contains("rt_x") && !out.contains("sk-virt-1"));
        assert!(out.contains("0.5"));
    }

    #[test]
    fn registered_secrets_are_replaced_anywhere() {
        register("canary-token-redact-test");
        register_frame(
            &serde_json::json!({"payload": {"credentials": [{"value": "cred-canary-redact-test"}],
            "body": {"value": "not-a-credential"}}}),
        );
        let out =
            output("echo canary-token-redact-test and cred-canary-redact-test, not-a-credential");
        assert!(
            !out.contains("canary-token") && !out.contains("cred-canary"),
            "{out}"
        );
        assert!(out.contains("not-a-credential"));
    }

    #[test]
    fn a_key_spelled_with_escapes_is_still_redacted() {
        let out = frame(r#"{"payload":{"auth":{"tok\u0065n":"tok-escaped-1"}}}"#);
        assert!(!out.contains("tok-escaped-1"), "{out}");
        // A frame without such keys is kept as sent.
        let plain = r#"{"type": "session.ping", "payload": {"nonce": "n1"}}"#;
        assert_eq!(frame(plain), plain);
    }

    #[test]
    fn scrubs_non_json() {
        let out = frame(r#"{"token": "secret", oops"#);
        assert!(!out.contains("secret"), "{out}");
    }
}
