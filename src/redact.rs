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

/// Redact one frame for logging. Non-JSON text is scrubbed with a pattern.
pub fn frame(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
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
    fn scrubs_non_json() {
        let out = frame(r#"{"token": "secret", oops"#);
        assert!(!out.contains("secret"), "{out}");
    }
}
