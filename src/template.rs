//! `${name}` templates inside case values.
//!
//! Case files write values the harness only learns at run time — a session
//! id, a captured job id, "now plus five seconds" — as `${name}` references
//! inside JSON/YAML values. [`render`] replaces them, asking a caller-supplied
//! lookup for each name:
//!
//! * a string that is exactly `"${name}"` becomes the looked-up JSON value
//!   with its own type (a number stays a number, an object stays an object);
//! * `${name}` inside a longer string is replaced by the value's string form
//!   (strings without quotes, anything else as compact JSON);
//! * object keys are rendered too (always to their string form);
//! * `$${` is an escape for a literal `${`; a `$` not followed by `{` (or by
//!   `${`) is left alone, so the matcher's `$$literal` escape survives
//!   rendering untouched.
//!
//! Names are made of ASCII letters, digits and `_ . - +`; the text between
//! `${` and `}` is handed to the lookup as-is, so arithmetic forms such as
//! `now+5s` are interpreted by the lookup, not here. [`Builtin`] parses the
//! names the engine provides itself.

use chrono::TimeDelta;
use serde_json::{Map, Value};
use std::fmt;

use crate::case::{AgentRole, Principal};

/// Why a template could not be rendered (or is malformed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The lookup did not know this name.
    #[error("unknown template name `${{{0}}}`")]
    Unknown(String),
    /// `${` without a closing `}`.
    #[error("unterminated `${{` in {0:?} (write `$${{` for a literal `${{`)")]
    Unterminated(String),
    /// `${}` or a name with characters outside `A-Z a-z 0-9 _ . - +`.
    #[error("invalid template name `${{{0}}}` (names use letters, digits, `_ . - +`)")]
    InvalidName(String),
}

/// One piece of a parsed template string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment<'a> {
    Literal(String),
    Ref(&'a str),
}

fn valid_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '+')
}

/// A name: plain characters, or a derived form `ms(...)` / `list(...)`
/// whose argument may also use `* ,` and spaces.
fn valid_name(name: &str) -> bool {
    let arg = ["ms(", "list("]
        .iter()
        .find_map(|f| name.strip_prefix(f).and_then(|r| r.strip_suffix(')')));
    match arg {
        Some(a) => a
            .chars()
            .all(|c| valid_name_char(c) || matches!(c, '*' | ',' | ' ')),
        None => !name.is_empty() && name.chars().all(valid_name_char),
    }
}

/// Split a string into literal text and `${name}` references.
fn parse(s: &str) -> Result<Vec<Segment<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        lit.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            lit.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                return Err(TemplateError::Unterminated(s.to_string()));
            };
            let name = &tail[..end];
            if !valid_name(name) {
                return Err(TemplateError::InvalidName(name.to_string()));
            }
            if !lit.is_empty() {
                out.push(Segment::Literal(std::mem::take(&mut lit)));
            }
            out.push(Segment::Ref(name));
            rest = &tail[end + 1..];
        } else {
            lit.push('$');
            rest = &after[1..];
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        out.push(Segment::Literal(lit));
    }
    Ok(out)
}

/// The string form a value takes when interpolated into a longer string:
/// strings without quotes, everything else as compact JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render_string(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<Value>,
    typed: bool,
) -> Result<Value, TemplateError> {
    let segments = parse(s)?;
    if typed {
        if let [Segment::Ref(name)] = segments.as_slice() {
            return lookup(name).ok_or_else(|| TemplateError::Unknown(name.to_string()));
        }
    }
    let mut out = String::with_capacity(s.len());
    for seg in segments {
        match seg {
            Segment::Literal(l) => out.push_str(&l),
            Segment::Ref(name) => {
                let v = lookup(name).ok_or_else(|| TemplateError::Unknown(name.to_string()))?;
                out.push_str(&to_text(&v));
            }
        }
    }
    Ok(Value::String(out))
}

/// Render every `${name}` in `v` (strings, nested arrays and objects, and
/// object keys) using `lookup`. See the module docs for the rules.
pub fn render(v: &Value, lookup: &dyn Fn(&str) -> Option<Value>) -> Result<Value, TemplateError> {
    Ok(match v {
        Value::String(s) => render_string(s, lookup, true)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render(i, lookup))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, val) in map {
                let key = match render_string(k, lookup, false)? {
                    Value::String(s) => s,
                    other => to_text(&other),
                };
                out.insert(key, render(val, lookup)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Render a single string; always returns the string form (as if the
/// template were part of a longer string). Useful for fields that must be
/// strings, such as a `raw` frame or a job id.
pub fn render_text(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Result<String, TemplateError> {
    match render_string(s, lookup, false)? {
        Value::String(s) => Ok(s),
        other => Ok(to_text(&other)),
    }
}

/// Check template syntax everywhere in `v` without rendering.
pub fn check(v: &Value) -> Result<(), TemplateError> {
    match v {
        Value::String(s) => parse(s).map(|_| ()),
        Value::Array(items) => items.iter().try_for_each(check),
        Value::Object(map) => map.iter().try_for_each(|(k, val)| {
            parse(k)?;
            check(val)
        }),
        _ => Ok(()),
    }
}

/// Check template syntax in one string.
pub fn check_str(s: &str) -> Result<(), TemplateError> {
    parse(s).map(|_| ())
}

/// Every name referenced in `v` (strings and object keys), in order of first
/// appearance, without duplicates. Malformed templates are skipped (use
/// [`check`] to report them).
pub fn names(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_names(v, &mut out);
    out
}

/// Names referenced in one string (see [`names`]).
pub fn names_in_str(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    push_names(s, &mut out);
    out
}

fn push_names(s: &str, out: &mut Vec<String>) {
    if let Ok(segments) = parse(s) {
        for seg in segments {
            if let Segment::Ref(name) = seg {
                if !out.iter().any(|n| n == name) {
                    out.push(name.to_string());
                }
            }
        }
    }
}

fn collect_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => push_names(s, out),
        Value::Array(items) => items.iter().for_each(|i| collect_names(i, out)),
        Value::Object(map) => {
            for (k, val) in map {
                push_names(k, out);
                collect_names(val, out);
            }
        }
        _ => {}
    }
}

/// A name the engine provides itself (as opposed to names that steps
/// capture or `set`, and the loop index `i`).
#[derive(Debug, Clone, PartialEq)]
pub enum Builtin {
    /// `${heartbeat}`, `${resume_window}` (seconds), `${replay_buffer}`
    /// (events): the target's limit (see [`crate::limits`]).
    Limit(crate::limits::Limit),
    /// `${ms(heartbeat * 3)}`: a derived duration as whole milliseconds, for
    /// job inputs (the conformance agent's `sleep` takes `ms`).
    Ms(crate::limits::Expr),
    /// `${list(x, replay_buffer + 100)}`: a list of that many copies of the
    /// string `x` (e.g. result chunks that overflow the replay buffer).
    List(String, crate::limits::Expr),
    /// `${session.<s>.id}`: the `session_id` from session `<s>`'s welcome.
    SessionId(String),
    /// `${session.<s>.resume_token}`: session `<s>`'s most recent resume token.
    SessionResumeToken(String),
    /// `${session.<s>.last_seq}`: the highest `event_seq` received on `<s>`
    /// (0 when none).
    SessionLastSeq(String),
    /// `${agents.conformance}` / `${agents.echo}`: the target's agent name
    /// for that role.
    Agent(AgentRole),
    /// `${now}`, `${now+5s}`, `${now-1h}`: an RFC 3339 UTC timestamp, offset
    /// by the given signed duration.
    Now(TimeDelta),
    /// `${principal.<p>.token}`: the bearer token of principal alias `<p>`.
    PrincipalToken(Principal),
}

impl Builtin {
    /// Parse a template name as a built-in. `None` when it is not one
    /// (including malformed forms such as `now+5x` or `session.a.bogus`).
    pub fn parse(name: &str) -> Option<Builtin> {
        use crate::limits::{Expr, Limit};
        if let Some(l) = Limit::parse(name) {
            return Some(Builtin::Limit(l));
        }
        if let Some(e) = name.strip_prefix("ms(").and_then(|r| r.strip_suffix(')')) {
            return Expr::parse(e, true).ok().map(Builtin::Ms);
        }
        if let Some(args) = name.strip_prefix("list(").and_then(|r| r.strip_suffix(')')) {
            let (item, n) = args.split_once(',')?;
            let item = item.trim();
            if item.is_empty() || !item.chars().all(|c| c.is_ascii_alphanumeric()) {
                return None;
            }
            return Expr::parse(n, false)
                .ok()
                .map(|e| Builtin::List(item.to_string(), e));
        }
        if name == "now" {
            return Some(Builtin::Now(TimeDelta::zero()));
        }
        if let Some(rest) = name.strip_prefix("now") {
            let (sign, dur) = if let Some(d) = rest.strip_prefix('+') {
                (1, d)
            } else if let Some(d) = rest.strip_prefix('-') {
                (-1, d)
            } else {
                return None;
            };
            let d = crate::duration::parse_duration(dur).ok()?;
            let delta = TimeDelta::from_std(d).ok()?;
            return Some(Builtin::Now(if sign < 0 { -delta } else { delta }));
        }
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            ["session", s, field] if !s.is_empty() => match *field {
                "id" => Some(Builtin::SessionId(s.to_string())),
                "resume_token" => Some(Builtin::SessionResumeToken(s.to_string())),
                "last_seq" => Some(Builtin::SessionLastSeq(s.to_string())),
                _ => None,
            },
            ["agents", role] => AgentRole::parse(role).map(Builtin::Agent),
            ["principal", p, "token"] => Principal::parse(p).map(Builtin::PrincipalToken),
            _ => None,
        }
    }

    /// The limits a built-in needs the target's value of.
    pub fn limits(&self) -> Vec<crate::limits::Limit> {
        match self {
            Builtin::Limit(l) => vec![*l],
            Builtin::Ms(e) | Builtin::List(_, e) => e.names().collect(),
            _ => vec![],
        }
    }

    /// The value of a limit built-in under `limits` (`None` for other
    /// built-ins, or when a limit is unknown).
    pub fn limit_value(&self, limits: &crate::limits::Limits) -> Option<Value> {
        match self {
            Builtin::Limit(l) => limits.get(*l).map(Value::from),
            Builtin::Ms(e) => e
                .eval(limits)
                .ok()
                .map(|s| Value::from((s * 1000.0).round() as u64)),
            Builtin::List(item, e) => e
                .eval(limits)
                .ok()
                .map(|n| Value::Array(vec![Value::from(item.as_str()); n.max(0.0) as usize])),
            _ => None,
        }
    }

    /// The session a `session.<s>.*` built-in refers to.
    pub fn session(&self) -> Option<&str> {
        match self {
            Builtin::SessionId(s) | Builtin::SessionResumeToken(s) | Builtin::SessionLastSeq(s) => {
                Some(s)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Builtin::Limit(l) => write!(f, "{l}"),
            Builtin::Ms(e) => write!(f, "ms({e})"),
            Builtin::List(item, e) => write!(f, "list({item}, {e})"),
            Builtin::SessionId(s) => write!(f, "session.{s}.id"),
            Builtin::SessionResumeToken(s) => write!(f, "session.{s}.resume_token"),
            Builtin::SessionLastSeq(s) => write!(f, "session.{s}.last_seq"),
            Builtin::Agent(r) => write!(f, "agents.{}", r.as_str()),
            Builtin::Now(d) if d.is_zero() => f.write_str("now"),
            Builtin::Now(d) if *d < TimeDelta::zero() => {
                write!(f, "now-{}ms", -d.num_milliseconds())
            }
            Builtin::Now(d) => write!(f, "now+{}ms", d.num_milliseconds()),
            Builtin::PrincipalToken(p) => write!(f, "principal.{}.token", p.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(name: &str) -> Option<Value> {
        match name {
            "job" => Some(json!("job_01")),
            "n" => Some(json!(42)),
            "f" => Some(json!(1.5)),
            "obj" => Some(json!({"a": [1, 2]})),
            "nil" => Some(Value::Null),
            "yes" => Some(json!(true)),
            "now+5s" => Some(json!("2026-01-01T00:00:05Z")),
            "session.a.id" => Some(json!("sess_1")),
            _ => None,
        }
    }

    fn r(v: Value) -> Result<Value, TemplateError> {
        render(&v, &lookup)
    }

    #[test]
    fn whole_string_keeps_type() {
        assert_eq!(r(json!("${n}")).unwrap(), json!(42));
        assert_eq!(r(json!("${f}")).unwrap(), json!(1.5));
        assert_eq!(r(json!("${obj}")).unwrap(), json!({"a": [1, 2]}));
        assert_eq!(r(json!("${nil}")).unwrap(), Value::Null);
        assert_eq!(r(json!("${yes}")).unwrap(), json!(true));
        assert_eq!(r(json!("${job}")).unwrap(), json!("job_01"));
    }

    #[test]
    fn interpolation_uses_string_form() {
        assert_eq!(r(json!("id=${job}")).unwrap(), json!("id=job_01"));
        assert_eq!(r(json!("${n}${n}")).unwrap(), json!("4242"));
        assert_eq!(r(json!("x ${obj} y")).unwrap(), json!("x {\"a\":[1,2]} y"));
        assert_eq!(r(json!("${nil}!")).unwrap(), json!("null!"));
        assert_eq!(r(json!("${f} s")).unwrap(), json!("1.5 s"));
    }

    #[test]
    fn nested_values_and_keys() {
        let v =
            json!({"job_id": "${job}", "list": ["${n}", {"k": "${yes}"}], "${job}-key": 1, "n": 3});
        assert_eq!(
            r(v).unwrap(),
            json!({"job_id": "job_01", "list": [42, {"k": true}], "job_01-key": 1, "n": 3})
        );
        // A key that is exactly a reference still becomes a string.
        assert_eq!(r(json!({"${n}": 1})).unwrap(), json!({"42": 1}));
    }

    #[test]
    fn key_order_preserved() {
        let out = r(json!({"z": 1, "a": "${n}", "m": 2})).unwrap();
        let keys: Vec<_> = out.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn escapes_and_lone_dollars() {
        assert_eq!(r(json!("$${job}")).unwrap(), json!("${job}"));
        assert_eq!(r(json!("a $${ b")).unwrap(), json!("a ${ b"));
        assert_eq!(r(json!("$5.00")).unwrap(), json!("$5.00"));
        assert_eq!(r(json!("$$any")).unwrap(), json!("$$any"));
        assert_eq!(r(json!("$any")).unwrap(), json!("$any"));
        assert_eq!(r(json!("cost $")).unwrap(), json!("cost $"));
        assert_eq!(r(json!("$$${job}")).unwrap(), json!("$${job}"));
        // `$${x}` alone is a literal, not a typed reference.
        assert_eq!(r(json!("$${n}")).unwrap(), json!("${n}"));
    }

    #[test]
    fn arithmetic_names_passed_as_is() {
        assert_eq!(
            r(json!("${now+5s}")).unwrap(),
            json!("2026-01-01T00:00:05Z")
        );
        assert_eq!(r(json!("${session.a.id}")).unwrap(), json!("sess_1"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            r(json!("${nope}")),
            Err(TemplateError::Unknown("nope".into()))
        );
        assert_eq!(
            r(json!("a ${nope} b")),
            Err(TemplateError::Unknown("nope".into()))
        );
        assert_eq!(
            r(json!({"${nope}": 1})),
            Err(TemplateError::Unknown("nope".into()))
        );
        assert_eq!(
            r(json!(["ok", "${nope}"])),
            Err(TemplateError::Unknown("nope".into()))
        );
        assert_eq!(
            r(json!("${job")),
            Err(TemplateError::Unterminated("${job".into()))
        );
        assert_eq!(r(json!("${}")), Err(TemplateError::InvalidName("".into())));
        assert_eq!(
            r(json!("${a b}")),
            Err(TemplateError::InvalidName("a b".into()))
        );
        assert_eq!(
            TemplateError::Unknown("x".into()).to_string(),
            "unknown template name `${x}`"
        );
        assert_eq!(
            TemplateError::Unterminated("${x".into()).to_string(),
            "unterminated `${` in \"${x\" (write `$${` for a literal `${`)"
        );
    }

    #[test]
    fn non_strings_untouched() {
        assert_eq!(r(json!(1)).unwrap(), json!(1));
        assert_eq!(r(json!(null)).unwrap(), json!(null));
        assert_eq!(r(json!(false)).unwrap(), json!(false));
    }

    #[test]
    fn render_text_always_string() {
        assert_eq!(render_text("${n}", &lookup).unwrap(), "42");
        assert_eq!(render_text("${job}", &lookup).unwrap(), "job_01");
    }

    #[test]
    fn names_listed_once_in_order() {
        let v = json!({"${b}": ["${a}", "x${b}y", "$${c}", "${now+5s}"], "k": "${a}"});
        assert_eq!(names(&v), ["b", "a", "now+5s"]);
        assert_eq!(names_in_str("${x}-${y}-${x}"), ["x", "y"]);
        assert!(names(&json!("${broken")).is_empty());
        assert!(check(&json!({"a": ["${broken"]})).is_err());
        assert!(check(&json!({"${ok}": ["${fine}"]})).is_ok());
    }

    #[test]
    fn builtins() {
        use std::time::Duration;
        assert_eq!(Builtin::parse("now"), Some(Builtin::Now(TimeDelta::zero())));
        assert_eq!(
            Builtin::parse("now+5s"),
            Some(Builtin::Now(
                TimeDelta::from_std(Duration::from_secs(5)).unwrap()
            ))
        );
        assert_eq!(
            Builtin::parse("now-1h"),
            Some(Builtin::Now(
                -TimeDelta::from_std(Duration::from_secs(3600)).unwrap()
            ))
        );
        assert_eq!(Builtin::parse("now+5x"), None);
        assert_eq!(Builtin::parse("nowish"), None);
        assert_eq!(
            Builtin::parse("session.b.id"),
            Some(Builtin::SessionId("b".into()))
        );
        assert_eq!(
            Builtin::parse("session.a.resume_token"),
            Some(Builtin::SessionResumeToken("a".into()))
        );
        assert_eq!(
            Builtin::parse("session.a.last_seq"),
            Some(Builtin::SessionLastSeq("a".into()))
        );
        assert_eq!(Builtin::parse("session.a.bogus"), None);
        assert_eq!(
            Builtin::parse("agents.echo"),
            Some(Builtin::Agent(AgentRole::Echo))
        );
        assert_eq!(Builtin::parse("agents.other"), None);
        assert_eq!(
            Builtin::parse("principal.bob.token"),
            Some(Builtin::PrincipalToken(Principal::Bob))
        );
        assert_eq!(Builtin::parse("principal.carol.token"), None);
        assert_eq!(Builtin::parse("job"), None);
        assert_eq!(Builtin::parse("i"), None);
        assert_eq!(Builtin::parse("session.a.id").unwrap().session(), Some("a"));
        assert_eq!(
            Builtin::parse("session.a.id").unwrap().to_string(),
            "session.a.id"
        );
    }
}
