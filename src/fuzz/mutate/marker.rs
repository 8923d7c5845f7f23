//! Markers: values the harness only knows at run time, written into frames
//! and turned into `${...}` templates (or concrete values) afterwards.

use serde_json::{json, Value};

pub(super) const MARK_OPEN: char = '\u{E000}';
pub(super) const MARK_CLOSE: char = '\u{E001}';
pub(super) const TYPED_OPEN: char = '\u{E002}';
pub(super) const TYPED_CLOSE: char = '\u{E003}';

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
