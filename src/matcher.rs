//! Partial JSON patterns: does a received frame look like what a case expects?
//!
//! A pattern is ordinary JSON (written in YAML in a case) with a few special
//! forms:
//!
//! * **objects** match when every pattern key matches the same key of the
//!   actual object; extra actual keys are fine. A key whose pattern is
//!   `"$absent"` must not be present.
//! * **arrays** match an array of the same length, element by element.
//! * **scalars** match by equality; numbers compare numerically (`1 == 1.0`).
//! * **string matchers**, strings starting with `$` and a letter:
//!   `$any`, `$absent`, `$string`, `$number`, `$integer`, `$bool`, `$object`,
//!   `$array`, `$null`, `$nonempty`, `$regex RE`, `$gt N`, `$gte N`, `$lt N`,
//!   `$lte N`, `$len N`, `$capture NAME`. `$$text` is the literal `$text`;
//!   strings whose `$` is not followed by a letter (`"$5"`) are literals.
//! * **object matchers**, single-key objects whose key is a `$word`:
//!   `{$contains: P}`, `{$each: P}`, `{$not: P}`, `{$one_of: [P..]}`,
//!   `{$all_of: [P..]}`. An object key written `$$key` is the literal key
//!   `$key`.
//!
//! Patterns are checked when a case is loaded with [`validate_pattern`], so
//! at run time [`matches()`] only reports mismatches. The engine renders
//! `${...}` templates in a pattern before matching; a matcher argument that
//! still contains a template (`$gt ${session.a.last_seq}`) is accepted by
//! validation and checked once rendered.

use regex::Regex;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Values recorded by `$capture NAME`, by name.
pub type Captures = BTreeMap<String, Value>;

/// Why an actual value did not match a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// JSON pointer (RFC 6901) to the offending place in the actual value;
    /// `""` is the whole value.
    pub path: String,
    /// What the pattern wanted, in words (e.g. `a string matching /^job_/`).
    pub expected: String,
    /// What was there (`absent`, or truncated compact JSON).
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(root)"
        } else {
            &self.path
        };
        write!(
            f,
            "at {path}: expected {}, got {}",
            self.expected, self.actual
        )
    }
}

impl std::error::Error for Mismatch {}

/// Longest rendering of a value in a [`Mismatch`].
pub const MAX_SHOWN: usize = 200;

/// Compact JSON for `v`, cut to [`MAX_SHOWN`] characters.
pub fn show(v: &Value) -> String {
    truncate(&v.to_string())
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_SHOWN {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX_SHOWN).collect();
        format!("{cut}… ({} chars)", s.chars().count())
    }
}

/// The names a string matcher can use, for messages.
pub const STRING_MATCHERS: &[&str] = &[
    "$any",
    "$absent",
    "$string",
    "$number",
    "$integer",
    "$bool",
    "$object",
    "$array",
    "$null",
    "$nonempty",
    "$regex",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$len",
    "$capture",
];

/// The names an object matcher can use, for messages.
pub const OBJECT_MATCHERS: &[&str] = &["$contains", "$each", "$not", "$one_of", "$all_of"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
        }
    }
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Gt => a > b,
            Cmp::Gte => a >= b,
            Cmp::Lt => a < b,
            Cmp::Lte => a <= b,
        }
    }
}

/// A parsed string matcher.
#[derive(Debug, Clone)]
enum StrMatcher {
    Any,
    Absent,
    String,
    Number,
    Integer,
    Bool,
    Object,
    Array,
    Null,
    Nonempty,
    Regex(Regex),
    Compare(Cmp, f64),
    Len(usize),
    Capture(String),
}

/// What a pattern string is.
enum StrPattern<'a> {
    Literal(&'a str),
    Matcher(StrMatcher),
}

fn is_matcher_word(s: &str) -> bool {
    s.strip_prefix('$')
        .and_then(|r| r.chars().next())
        .is_some_and(|c| c.is_ascii_alphabetic())
}

/// A capture (and template) name: letters, digits, `_ . -`, starting with a
/// letter or `_`.
pub fn valid_capture_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn has_template(s: &str) -> bool {
    s.replace("$${", "").contains("${")
}

/// Compile a `$regex` argument, once: patterns are parsed again at every
/// match, and compiling a regex costs far more than matching a frame (the
/// fuzzer's expectations spent ~6% of its CPU here). Bounded: the cache is
/// emptied when it grows past a few thousand patterns.
fn regex(pattern: &str) -> Result<Regex, regex::Error> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<HashMap<String, Regex>>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.lock().unwrap().get(pattern) {
        return Ok(re.clone());
    }
    let re = Regex::new(pattern)?;
    let mut c = cache.lock().unwrap();
    if c.len() >= 4096 {
        c.clear();
    }
    c.insert(pattern.to_string(), re.clone());
    Ok(re)
}

/// Parse a pattern string. `Ok(None)`-like results are literals; `lenient`
/// accepts arguments that still hold `${...}` templates (load-time check).
fn parse_str_pattern(s: &str, lenient: bool) -> Result<Option<StrPattern<'_>>, String> {
    if s.starts_with("$$") {
        // `$$x` is the literal `$x`: drop one `$`.
        return Ok(Some(StrPattern::Literal(&s[1..])));
    }
    if !is_matcher_word(s) {
        return Ok(Some(StrPattern::Literal(s)));
    }
    // The argument is everything after the first space; it is trimmed
    // except for `$regex`, whose argument is taken verbatim.
    let (word, arg) = match s.find(' ') {
        Some(i) if &s[..i] == "$regex" => (&s[..i], Some(&s[i + 1..])),
        Some(i) => (&s[..i], Some(s[i + 1..].trim())),
        None => (s, None),
    };
    let no_arg = |m: StrMatcher| -> Result<Option<StrPattern<'_>>, String> {
        match arg {
            None => Ok(Some(StrPattern::Matcher(m))),
            Some(_) => Err(format!("matcher `{word}` takes no argument (in {s:?})")),
        }
    };
    let need_arg = || -> Result<&str, String> {
        match arg {
            Some(a) if !a.is_empty() => Ok(a),
            _ => Err(format!("matcher `{word}` needs an argument (in {s:?})")),
        }
    };
    // An argument still holding `${...}` is checked once rendered.
    let deferred = |a: &str| -> Result<bool, String> {
        match (has_template(a), lenient) {
            (false, _) => Ok(false),
            (true, true) => Ok(true),
            (true, false) => Err(format!("unrendered template in {s:?}")),
        }
    };
    match word {
        "$any" => no_arg(StrMatcher::Any),
        "$absent" => no_arg(StrMatcher::Absent),
        "$string" => no_arg(StrMatcher::String),
        "$number" => no_arg(StrMatcher::Number),
        "$integer" => no_arg(StrMatcher::Integer),
        "$bool" => no_arg(StrMatcher::Bool),
        "$object" => no_arg(StrMatcher::Object),
        "$array" => no_arg(StrMatcher::Array),
        "$null" => no_arg(StrMatcher::Null),
        "$nonempty" => no_arg(StrMatcher::Nonempty),
        "$regex" => {
            let a = need_arg()?;
            if deferred(a)? {
                return Ok(None);
            }
            regex(a)
                .map(|re| Some(StrPattern::Matcher(StrMatcher::Regex(re))))
                .map_err(|e| format!("invalid regex in {s:?}: {}", one_line(&e.to_string())))
        }
        "$gt" | "$gte" | "$lt" | "$lte" => {
            let a = need_arg()?;
            if deferred(a)? {
                return Ok(None);
            }
            let cmp = match word {
                "$gt" => Cmp::Gt,
                "$gte" => Cmp::Gte,
                "$lt" => Cmp::Lt,
                _ => Cmp::Lte,
            };
            a.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(|n| Some(StrPattern::Matcher(StrMatcher::Compare(cmp, n))))
                .ok_or_else(|| format!("matcher `{word}` needs a number, got {a:?}"))
        }
        "$len" => {
            let a = need_arg()?;
            if deferred(a)? {
                return Ok(None);
            }
            a.parse::<usize>()
                .map(|n| Some(StrPattern::Matcher(StrMatcher::Len(n))))
                .map_err(|_| format!("matcher `$len` needs a non-negative integer, got {a:?}"))
        }
        "$capture" => {
            let a = need_arg()?;
            if !valid_capture_name(a) {
                return Err(format!(
                    "invalid capture name {a:?} (letters, digits, `_ . -`, starting with a letter)"
                ));
            }
            Ok(Some(StrPattern::Matcher(StrMatcher::Capture(
                a.to_string(),
            ))))
        }
        _ => Err(format!(
            "unknown matcher `{word}` (expected one of: {}; write `$${}` for a literal string)",
            STRING_MATCHERS.join(", "),
            &s[1..]
        )),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Validate a single pattern string (load-time check; templates in matcher
/// arguments are accepted).
pub fn validate_str_pattern(s: &str) -> Result<(), String> {
    parse_str_pattern(s, true).map(|_| ())
}

/// The object-matcher key of a single-key object, if that is what it is.
fn object_matcher(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    if map.len() != 1 {
        return None;
    }
    let (k, v) = map.iter().next()?;
    is_matcher_word(k).then_some((k.as_str(), v))
}

/// Check one object node of a pattern (not its children): matcher keys are
/// known, alone in their object, and have the right argument shape.
pub fn validate_object_pattern(map: &Map<String, Value>) -> Result<(), String> {
    if let Some((k, arg)) = object_matcher(map) {
        return match k {
            "$contains" | "$each" | "$not" => Ok(()),
            "$one_of" | "$all_of" => match arg {
                Value::Array(items) if !items.is_empty() => Ok(()),
                _ => Err(format!("`{k}` needs a non-empty list of patterns")),
            },
            _ if STRING_MATCHERS.contains(&k) => Err(format!(
                "`{k}` is a string matcher, not an object key (write `\"{k}\"` as a value)"
            )),
            _ => Err(format!(
                "unknown object matcher `{k}` (expected one of: {}; write `$${}` for a literal key)",
                OBJECT_MATCHERS.join(", "),
                &k[1..]
            )),
        };
    }
    for k in map.keys() {
        if is_matcher_word(k) {
            return Err(format!(
                "matcher key `{k}` must be the only key of its object (write `$${}` for a literal key)",
                &k[1..]
            ));
        }
    }
    Ok(())
}

/// Check a whole pattern: every `$word` is known, arguments parse, regexes
/// compile, object matchers are well formed. Returns a message naming the
/// offending place (a JSON pointer into the pattern) and the problem.
pub fn validate_pattern(pattern: &Value) -> Result<(), String> {
    fn walk(p: &Value, path: &mut String) -> Result<(), String> {
        let here = |e: String, path: &str| {
            if path.is_empty() {
                e
            } else {
                format!("{e} at pattern {path}")
            }
        };
        match p {
            Value::String(s) => validate_str_pattern(s).map_err(|e| here(e, path)),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    walk(item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            Value::Object(map) => {
                validate_object_pattern(map).map_err(|e| here(e, path))?;
                for (k, v) in map {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&escape_pointer(k));
                    walk(v, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    walk(pattern, &mut String::new())
}

/// Every name a pattern captures with `$capture NAME`, in order of
/// appearance (including those under `$one_of`, which may not all be set).
pub fn capture_names(pattern: &Value) -> Vec<String> {
    fn walk(p: &Value, out: &mut Vec<String>) {
        match p {
            Value::String(s) => {
                if let Ok(Some(StrPattern::Matcher(StrMatcher::Capture(n)))) =
                    parse_str_pattern(s, true)
                {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => {
                if let Some(("$not", _)) = object_matcher(map) {
                    return; // captures under $not are discarded
                }
                map.values().for_each(|v| walk(v, out));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(pattern, &mut out);
    out
}

/// Escape one JSON-pointer reference token (RFC 6901).
pub fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Match `actual` against `pattern`. On success returns the values recorded
/// by `$capture`; on failure, the first mismatch found.
pub fn matches(pattern: &Value, actual: &Value) -> Result<Captures, Mismatch> {
    let mut caps = Captures::new();
    let mut path = String::new();
    match_at(pattern, Some(actual), &mut path, &mut caps)?;
    Ok(caps)
}

/// Describe a pattern in words, for `expected` in a mismatch.
pub fn describe(pattern: &Value) -> String {
    match pattern {
        Value::String(s) => match parse_str_pattern(s, false) {
            Ok(Some(StrPattern::Literal(l))) => show(&Value::String(l.to_string())),
            Ok(Some(StrPattern::Matcher(m))) => describe_str(&m),
            Ok(None) | Err(_) => show(pattern),
        },
        Value::Object(map) => match object_matcher(map) {
            Some(("$contains", p)) => match p {
                Value::String(s) if !is_matcher_word(s) => {
                    format!(
                        "a string containing {} (or an array containing it)",
                        show(p)
                    )
                }
                _ => format!("an array with an element matching {}", describe(p)),
            },
            Some(("$each", p)) => format!("an array whose every element matches {}", describe(p)),
            Some(("$not", p)) => format!("anything but {}", describe(p)),
            Some(("$one_of", Value::Array(ps))) => format!(
                "one of: {}",
                truncate(&ps.iter().map(describe).collect::<Vec<_>>().join(" | "))
            ),
            Some(("$all_of", Value::Array(ps))) => format!(
                "all of: {}",
                truncate(&ps.iter().map(describe).collect::<Vec<_>>().join(" & "))
            ),
            _ => show(pattern),
        },
        _ => show(pattern),
    }
}

fn describe_str(m: &StrMatcher) -> String {
    match m {
        StrMatcher::Any => "any value".into(),
        StrMatcher::Absent => "absent".into(),
        StrMatcher::String => "a string".into(),
        StrMatcher::Number => "a number".into(),
        StrMatcher::Integer => "an integer".into(),
        StrMatcher::Bool => "a boolean".into(),
        StrMatcher::Object => "an object".into(),
        StrMatcher::Array => "an array".into(),
        StrMatcher::Null => "null".into(),
        StrMatcher::Nonempty => "a non-empty string, array or object".into(),
        StrMatcher::Regex(re) => format!("a string matching /{}/", truncate(re.as_str())),
        StrMatcher::Compare(c, n) => format!("a number {} {}", c.symbol(), fmt_num(*n)),
        StrMatcher::Len(n) => format!("length {n}"),
        StrMatcher::Capture(_) => "any value (captured)".into(),
    }
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn show_opt(actual: Option<&Value>) -> String {
    actual.map(show).unwrap_or_else(|| "absent".to_string())
}

/// Why no alternative of a `$one_of` matched, when one answer says it: the
/// mismatch of the alternative that matched furthest into the value (the
/// deepest path), or, when those that got furthest all stopped at one place,
/// that place with what each wanted there. `None`: they stopped at different
/// places as deep, so the whole `$one_of` is the clearer answer.
fn closest_alternative(misses: Vec<Mismatch>) -> Option<Mismatch> {
    let depth = |m: &Mismatch| m.path.matches('/').count();
    let deepest = misses.iter().map(depth).max()?;
    let mut best: Vec<Mismatch> = misses.into_iter().filter(|m| depth(m) == deepest).collect();
    if best
        .iter()
        .any(|m| m.path != best[0].path || m.actual != best[0].actual)
    {
        return None;
    }
    if best.len() == 1 {
        return best.pop();
    }
    let mut wanted: Vec<String> = vec![];
    for m in &best {
        if !wanted.contains(&m.expected) {
            wanted.push(m.expected.clone());
        }
    }
    let first = best.swap_remove(0);
    Some(Mismatch {
        expected: if wanted.len() == 1 {
            first.expected
        } else {
            format!("one of: {}", truncate(&wanted.join(" | ")))
        },
        ..first
    })
}

fn fail(path: &str, expected: String, actual: Option<&Value>) -> Result<(), Mismatch> {
    Err(Mismatch {
        path: path.to_string(),
        expected,
        actual: show_opt(actual),
    })
}

/// "a string", "an object", ...: the JSON type of `v` in words.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Numeric equality: integers compare exactly, anything else as f64.
fn numbers_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn size_of(v: &Value) -> Option<usize> {
    match v {
        Value::String(s) => Some(s.chars().count()),
        Value::Array(a) => Some(a.len()),
        Value::Object(o) => Some(o.len()),
        _ => None,
    }
}

fn match_at(
    pattern: &Value,
    actual: Option<&Value>,
    path: &mut String,
    caps: &mut Captures,
) -> Result<(), Mismatch> {
    match pattern {
        Value::String(s) => match parse_str_pattern(s, false) {
            Ok(Some(StrPattern::Literal(lit))) => match actual {
                Some(Value::String(a)) if a == lit => Ok(()),
                _ => fail(path, show(&Value::String(lit.to_string())), actual),
            },
            Ok(Some(StrPattern::Matcher(m))) => match_str_matcher(&m, actual, path, caps),
            Ok(None) => fail(
                path,
                format!("invalid pattern: unrendered template in {s:?}"),
                actual,
            ),
            Err(e) => fail(path, format!("invalid pattern: {e}"), actual),
        },
        Value::Object(map) => {
            if let Some((k, arg)) = object_matcher(map) {
                return match_object_matcher(pattern, k, arg, actual, path, caps);
            }
            let Some(actual_v) = actual else {
                return fail(path, describe(pattern), None);
            };
            let Value::Object(amap) = actual_v else {
                return fail(path, format!("an object like {}", show(pattern)), actual);
            };
            for (k, p) in map {
                let key = k
                    .strip_prefix('$')
                    .filter(|r| r.starts_with('$'))
                    .unwrap_or(k);
                let len = path.len();
                path.push('/');
                path.push_str(&escape_pointer(key));
                let r = match_at(p, amap.get(key), path, caps);
                path.truncate(len);
                r?;
            }
            Ok(())
        }
        Value::Array(items) => {
            let Some(actual_v) = actual else {
                return fail(path, describe(pattern), None);
            };
            let Value::Array(aitems) = actual_v else {
                return fail(
                    path,
                    format!("an array of {} elements", items.len()),
                    actual,
                );
            };
            if aitems.len() != items.len() {
                return Err(Mismatch {
                    path: path.clone(),
                    expected: format!("an array of {} elements", items.len()),
                    actual: format!("{} elements: {}", aitems.len(), show(actual_v)),
                });
            }
            for (i, (p, a)) in items.iter().zip(aitems).enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                let r = match_at(p, Some(a), path, caps);
                path.truncate(len);
                r?;
            }
            Ok(())
        }
        Value::Number(n) => match actual {
            Some(Value::Number(a)) if numbers_equal(n, a) => Ok(()),
            _ => fail(path, show(pattern), actual),
        },
        _ => {
            if actual == Some(pattern) {
                Ok(())
            } else {
                fail(path, show(pattern), actual)
            }
        }
    }
}

fn match_str_matcher(
    m: &StrMatcher,
    actual: Option<&Value>,
    path: &str,
    caps: &mut Captures,
) -> Result<(), Mismatch> {
    if let StrMatcher::Absent = m {
        return match actual {
            None => Ok(()),
            Some(_) => fail(path, "absent".into(), actual),
        };
    }
    let Some(a) = actual else {
        return fail(path, describe_str(m), None);
    };
    let ok = match m {
        StrMatcher::Any => true,
        StrMatcher::Absent => unreachable!(),
        StrMatcher::String => a.is_string(),
        StrMatcher::Number => a.is_number(),
        StrMatcher::Integer => {
            a.is_i64() || a.is_u64() || a.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        StrMatcher::Bool => a.is_boolean(),
        StrMatcher::Object => a.is_object(),
        StrMatcher::Array => a.is_array(),
        StrMatcher::Null => a.is_null(),
        StrMatcher::Nonempty => size_of(a).is_some_and(|n| n > 0),
        StrMatcher::Regex(re) => a.as_str().is_some_and(|s| re.is_match(s)),
        StrMatcher::Compare(c, n) => a.as_f64().is_some_and(|x| c.holds(x, *n)),
        StrMatcher::Len(n) => {
            return match size_of(a) {
                Some(len) if len == *n => Ok(()),
                Some(len) => Err(Mismatch {
                    path: path.to_string(),
                    expected: format!("length {n}"),
                    actual: format!("length {len}: {}", show(a)),
                }),
                None => fail(
                    path,
                    format!("a string, array or object of length {n}"),
                    actual,
                ),
            };
        }
        StrMatcher::Capture(name) => {
            caps.insert(name.clone(), a.clone());
            true
        }
    };
    if ok {
        Ok(())
    } else {
        fail(path, describe_str(m), actual)
    }
}

fn match_object_matcher(
    pattern: &Value,
    key: &str,
    arg: &Value,
    actual: Option<&Value>,
    path: &mut String,
    caps: &mut Captures,
) -> Result<(), Mismatch> {
    match key {
        "$not" => {
            let mut scratch = Captures::new();
            match match_at(arg, actual, path, &mut scratch) {
                Ok(()) => fail(path, describe(pattern), actual),
                Err(_) => Ok(()),
            }
        }
        "$one_of" => {
            let Value::Array(alts) = arg else {
                return fail(
                    path,
                    "invalid pattern: `$one_of` needs a list".into(),
                    actual,
                );
            };
            let mut misses = vec![];
            for alt in alts {
                let mut local = Captures::new();
                match match_at(alt, actual, path, &mut local) {
                    Ok(()) => {
                        caps.extend(local);
                        return Ok(());
                    }
                    Err(m) => misses.push(m),
                }
            }
            Err(closest_alternative(misses).unwrap_or_else(|| Mismatch {
                path: path.clone(),
                expected: describe(pattern),
                actual: show_opt(actual),
            }))
        }
        "$all_of" => {
            let Value::Array(alts) = arg else {
                return fail(
                    path,
                    "invalid pattern: `$all_of` needs a list".into(),
                    actual,
                );
            };
            for alt in alts {
                match_at(alt, actual, path, caps)?;
            }
            Ok(())
        }
        "$contains" => match actual {
            Some(Value::String(a)) => match arg {
                Value::String(needle) if !is_matcher_word(needle) => {
                    let needle = needle
                        .strip_prefix('$')
                        .filter(|r| r.starts_with('$'))
                        .unwrap_or(needle);
                    if a.contains(needle) {
                        Ok(())
                    } else {
                        fail(
                            path,
                            format!("a string containing {}", show(&Value::from(needle))),
                            actual,
                        )
                    }
                }
                _ => fail(path, describe(pattern), actual),
            },
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let mut local = Captures::new();
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    let r = match_at(arg, Some(item), path, &mut local);
                    path.truncate(len);
                    if r.is_ok() {
                        caps.extend(local);
                        return Ok(());
                    }
                }
                fail(path, describe(pattern), actual)
            }
            _ => fail(path, describe(pattern), actual),
        },
        "$each" => match actual {
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    let r = match_at(arg, Some(item), path, caps);
                    path.truncate(len);
                    r?;
                }
                Ok(())
            }
            _ => fail(path, describe(pattern), actual),
        },
        _ => fail(
            path,
            format!("invalid pattern: unknown object matcher `{key}`"),
            actual,
        ),
    }
}

/// JSON equality where numbers compare numerically (1 == 1.0).
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    a == b || matches(b, a).is_ok() && matches(a, b).is_ok()
}

#[cfg(test)]
mod tests;
