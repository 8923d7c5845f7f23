//! YAML -> model. The YAML shapes (`Raw*`, all optional fields,
//! `deny_unknown_fields`) are deserialised by serde and converted into the
//! public model right inside the visitor of the mapping that holds them, so
//! every error — serde's own or ours — carries the line and column of the
//! node it is about (serde_yaml_ng attaches the position of the innermost
//! node being visited to an error that has none yet).
//!
//! Our own messages are prefixed with [`MSG`] so the loader can drop
//! serde_yaml_ng's `path: ` prefix from them (see `load::yaml_error`).

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use super::model::*;
use crate::duration::{parse_duration, seconds};
use crate::matcher;
use crate::template;
use crate::wire::{ErrorCode, Feature};

/// Marks the start of one of our own messages inside a serde_yaml_ng error.
pub(crate) const MSG: char = '\u{1f}';

/// A custom error carrying [`MSG`].
pub(crate) fn custom<E: de::Error>(msg: impl fmt::Display) -> E {
    E::custom(format!("{MSG}{msg}"))
}

pub(crate) fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
}

pub(crate) const ID_RULE: &str = "^[a-z0-9][a-z0-9_.-]*$";

fn valid_session_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// ---------------------------------------------------------------- scalars

/// Deserialise a string-ish scalar: strings, and integers as their decimal
/// text. Floats are refused because YAML has already lost their spelling
/// (`6.10` reads as `6.1`, `1.0` as `1`).
struct TextVisitor(&'static str);

impl<'de> Visitor<'de> for TextVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Err(custom(format!(
            "{v:?} reads as a number; quote it (e.g. \"{v:?}\") so it stays text exactly as written"
        )))
    }
}

fn text<'de, D: Deserializer<'de>>(d: D, what: &'static str) -> Result<String, D::Error> {
    d.deserialize_any(TextVisitor(what))
}

/// Plain text (note, message, tag, client name/version, section).
pub(crate) struct Text(pub String);
impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        text(d, "a string").map(Text)
    }
}

/// Text that must not be empty.
pub(crate) struct NonEmptyText(pub String);
impl<'de> Deserialize<'de> for NonEmptyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-empty string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                if v.trim().is_empty() {
                    Err(custom("must not be empty"))
                } else {
                    Ok(v.to_string())
                }
            }
        }
        d.deserialize_str(V).map(NonEmptyText)
    }
}

/// A string that may hold `${...}` templates; their syntax is checked.
pub(crate) struct TemplateStr(pub String);
impl<'de> Deserialize<'de> for TemplateStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                template::check_str(v).map_err(custom)?;
                Ok(v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
                Ok(v.to_string())
            }
        }
        d.deserialize_any(V).map(TemplateStr)
    }
}

/// A case id (`^[a-z0-9][a-z0-9_.-]*$`).
pub(crate) struct CaseId(pub String);
impl<'de> Deserialize<'de> for CaseId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a case id")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                if valid_id(v) {
                    Ok(v.to_string())
                } else {
                    Err(custom(format!("invalid id {v:?}: must match {ID_RULE}")))
                }
            }
        }
        d.deserialize_str(V).map(CaseId)
    }
}

/// A session name (`a`, `b`, `observer`, ...).
pub(crate) struct SessionName(pub String);
impl<'de> Deserialize<'de> for SessionName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a session name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                if valid_session_name(v) {
                    Ok(v.to_string())
                } else {
                    Err(custom(format!(
                        "invalid session name {v:?} (letters, digits and `_`)"
                    )))
                }
            }
        }
        d.deserialize_str(V).map(SessionName)
    }
}

/// A capture / `set` / `as` name.
pub(crate) struct CaptureName(pub String);
impl<'de> Deserialize<'de> for CaptureName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a capture name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                check_capture_name(v).map_err(custom)?;
                Ok(v.to_string())
            }
        }
        d.deserialize_str(V).map(CaptureName)
    }
}

pub(crate) fn check_capture_name(v: &str) -> Result<(), String> {
    if !matcher::valid_capture_name(v) {
        return Err(format!(
            "invalid capture name {v:?} (letters, digits, `_ . -`, starting with a letter or `_`)"
        ));
    }
    if v == "i" || template::Builtin::parse(v).is_some() {
        return Err(format!(
            "capture name {v:?} is reserved for a built-in template name"
        ));
    }
    Ok(())
}

/// A JSON pointer used by `capture:`.
pub(crate) struct Pointer(pub String);
impl<'de> Deserialize<'de> for Pointer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON pointer such as /payload/job_id")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                if v.starts_with('/') {
                    Ok(v.to_string())
                } else {
                    Err(custom(format!(
                        "invalid JSON pointer {v:?}: must start with `/` (e.g. /payload/job_id)"
                    )))
                }
            }
        }
        d.deserialize_str(V).map(Pointer)
    }
}

/// A §12 error code.
pub(crate) struct Code(pub String);
impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error code")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                if ErrorCode::parse(v).is_some() {
                    Ok(v.to_string())
                } else {
                    let all: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
                    Err(custom(format!(
                        "unknown error code {v:?} (expected one of: {})",
                        all.join(", ")
                    )))
                }
            }
        }
        d.deserialize_str(V).map(Code)
    }
}

/// A negotiated feature name.
pub(crate) struct FeatureName(pub Feature);
impl<'de> Deserialize<'de> for FeatureName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Feature;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a feature name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Feature, E> {
                Feature::parse(v).ok_or_else(|| {
                    custom(format!(
                        "unknown feature {v:?} (expected one of: {})",
                        Feature::all_names().join(", ")
                    ))
                })
            }
        }
        d.deserialize_str(V).map(FeatureName)
    }
}

/// A spec section number such as `"6.3"`.
pub(crate) struct Section(pub String);
impl<'de> Deserialize<'de> for Section {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a section number such as \"6.3\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                let ok = !v.is_empty()
                    && v.split('.')
                        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
                if ok {
                    Ok(v.to_string())
                } else {
                    Err(custom(format!(
                        "invalid section {v:?} (expected a number such as \"6.3\" or \"9.8.1\")"
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
                Err(custom(format!(
                    "section {v:?} reads as a number; quote it (\"6.10\" would otherwise read as 6.1)"
                )))
            }
        }
        d.deserialize_any(V).map(Section)
    }
}

/// `MUST` | `SHOULD` | `MAY` | `INFO`.
pub(crate) struct LevelDe(pub Level);
impl<'de> Deserialize<'de> for LevelDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Level;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("MUST, SHOULD, MAY or INFO")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Level, E> {
                match v {
                    "MUST" => Ok(Level::Must),
                    "SHOULD" => Ok(Level::Should),
                    "MAY" => Ok(Level::May),
                    "INFO" => Ok(Level::Info),
                    "MUST NOT" | "SHOULD NOT" => Err(custom(format!(
                        "invalid level {v:?}: write {:?} (the NOT stays in the requirement sentence)",
                        &v[..v.len() - 4]
                    ))),
                    _ => Err(custom(format!(
                        "invalid level {v:?} (expected MUST, SHOULD, MAY or INFO)"
                    ))),
                }
            }
        }
        d.deserialize_str(V).map(LevelDe)
    }
}

/// A duration: `"250ms"`, `"1.5s"`, `"2m"`, or a number of seconds.
pub(crate) struct Dur(pub Duration);
impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 250ms, 5s, 1.5s, 2m, or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                parse_duration(v).map_err(custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                seconds(v as f64).map_err(|e| custom(format!("invalid duration {v}: {e}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                seconds(v).map_err(|e| custom(format!("invalid duration {v}: {e}")))
            }
        }
        d.deserialize_any(V).map(Dur)
    }
}

/// A wait: a [`Dur`] literal, or derived from the target's limits
/// (`heartbeat * 2 + 5s`, see [`crate::limits`]).
pub(crate) struct SpanDe(pub Span);
impl<'de> Deserialize<'de> for SpanDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 5s, or one derived from the target such as `heartbeat * 2 + 5s`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                Span::parse(v).map_err(custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Span, E> {
                Ok(Span::written(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Span, E> {
                seconds(v as f64)
                    .map(Span::written)
                    .map_err(|e| custom(format!("invalid duration {v}: {e}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Span, E> {
                seconds(v)
                    .map(Span::written)
                    .map_err(|e| custom(format!("invalid duration {v}: {e}")))
            }
        }
        d.deserialize_any(V).map(SpanDe)
    }
}

/// A list that must not be empty.
pub(crate) struct NonEmpty<T>(pub Vec<T>);
impl<'de, T: Deserialize<'de>> Deserialize<'de> for NonEmpty<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Vec<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-empty list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<T>, A::Error> {
                let items = Vec::<T>::deserialize(SeqAccessDeserializer::new(seq))?;
                if items.is_empty() {
                    Err(custom("must not be empty"))
                } else {
                    Ok(items)
                }
            }
        }
        d.deserialize_seq(V(PhantomData)).map(NonEmpty)
    }
}

/// `features:` of a hello: a list of strings or `"all"`.
pub(crate) struct FeatureSetDe(pub FeatureSet);
impl<'de> Deserialize<'de> for FeatureSetDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FeatureSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of feature names or \"all\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FeatureSet, E> {
                if v == "all" {
                    Ok(FeatureSet::All)
                } else {
                    Err(custom(format!(
                        "invalid features {v:?}: expected a list of feature names or \"all\""
                    )))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<FeatureSet, A::Error> {
                let items = Vec::<Text>::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(FeatureSet::List(items.into_iter().map(|t| t.0).collect()))
            }
        }
        d.deserialize_any(V).map(FeatureSetDe)
    }
}

// ------------------------------------------------------------------- JSON

/// Any JSON value written in YAML, with `${...}` syntax checked in every
/// string and key, duplicate keys refused, and — for patterns — every
/// matcher validated where it is written.
#[derive(Clone, Copy)]
struct JsonSeed {
    pattern: bool,
}

impl<'de> DeserializeSeed<'de> for JsonSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonSeed {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-compatible value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| custom(format!("{v} is not representable in JSON")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        template::check_str(v).map_err(custom)?;
        if self.pattern {
            matcher::validate_str_pattern(v).map_err(custom)?;
        }
        Ok(Value::String(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<Text>()? {
            let key = key.0;
            template::check_str(&key).map_err(custom)?;
            if out.contains_key(&key) {
                return Err(custom(format!("duplicate key {key:?}")));
            }
            let v = map.next_value_seed(self)?;
            out.insert(key, v);
        }
        if self.pattern {
            matcher::validate_object_pattern(&out).map_err(custom)?;
        }
        Ok(Value::Object(out))
    }
}

/// A JSON value (templates allowed).
pub(crate) struct Json(pub Value);
impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        JsonSeed { pattern: false }.deserialize(d).map(Json)
    }
}

/// A JSON object (templates allowed).
pub(crate) struct JsonObject(pub Map<String, Value>);
impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Map<String, Value>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                match (JsonSeed { pattern: false }).visit_map(map)? {
                    Value::Object(m) => Ok(m),
                    _ => unreachable!("visit_map builds an object"),
                }
            }
        }
        d.deserialize_map(V).map(JsonObject)
    }
}

/// A matcher pattern (templates allowed).
pub(crate) struct Pattern(pub Value);
impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        JsonSeed { pattern: true }.deserialize(d).map(Pattern)
    }
}

// ---------------------------------------------------------- mapping bodies

/// Deserialise a mapping as `R` and convert it with `conv` while still
/// inside the mapping, so a conversion error points at the mapping.
fn from_map<'de, D, R, T>(
    d: D,
    what: &'static str,
    conv: fn(R) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    R: Deserialize<'de>,
{
    struct V<R, T> {
        what: &'static str,
        conv: fn(R) -> Result<T, String>,
    }
    impl<'de, R: Deserialize<'de>, T> Visitor<'de> for V<R, T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.what)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            let raw = R::deserialize(MapAccessDeserializer::new(map))?;
            (self.conv)(raw).map_err(custom)
        }
    }
    d.deserialize_map(V { what, conv })
}

macro_rules! map_de {
    ($name:ident, $raw:ty => $out:ty, $what:literal, $conv:expr) => {
        pub(crate) struct $name(pub $out);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                from_map::<D, $raw, $out>(d, $what, $conv).map($name)
            }
        }
    };
}

fn session(s: Option<SessionName>) -> String {
    s.map(|s| s.0)
        .unwrap_or_else(|| DEFAULT_SESSION.to_string())
}

fn captures(c: Option<BTreeMap<CaptureNameKey, Pointer>>) -> BTreeMap<String, String> {
    c.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.0, v.0))
        .collect()
}

/// A capture name used as a map key (needs `Ord`).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CaptureNameKey(pub String);
impl<'de> Deserialize<'de> for CaptureNameKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CaptureName::deserialize(d).map(|c| CaptureNameKey(c.0))
    }
}

/// `expect: welcome | error` of open/hello/resume.
#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum HelloExpectKw {
    Welcome,
    Error,
}

fn hello_outcome(
    expect: Option<HelloExpectKw>,
    code: Option<Code>,
) -> Result<HelloOutcome, String> {
    match (expect, code) {
        (Some(HelloExpectKw::Welcome), Some(c)) => {
            Err(format!("`code: {}` only applies with `expect: error`", c.0))
        }
        (Some(HelloExpectKw::Error), c) | (None, c @ Some(_)) => Ok(HelloOutcome::Error {
            code: c.map(|c| c.0),
        }),
        (Some(HelloExpectKw::Welcome) | None, None) => Ok(HelloOutcome::Welcome),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    name: Text,
    version: Text,
}

/// `auth:` present: null -> omit, anything else -> replace.
fn de_auth<'de, D: Deserializer<'de>>(d: D) -> Result<Auth, D::Error> {
    Ok(match Option::<Json>::deserialize(d)? {
        None => Auth::Omit,
        Some(Json(Value::Null)) => Auth::Omit,
        Some(Json(v)) => Auth::Replace(v),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHello {
    session: Option<SessionName>,
    principal: Option<Principal>,
    features: Option<FeatureSetDe>,
    client: Option<RawClient>,
    #[serde(default, deserialize_with = "de_auth")]
    auth: Auth,
    payload: Option<JsonObject>,
    expect: Option<HelloExpectKw>,
    code: Option<Code>,
    auto_pong: Option<bool>,
}

fn conv_hello(r: RawHello) -> Result<Hello, String> {
    Ok(Hello {
        session: session(r.session),
        principal: r.principal.unwrap_or(Principal::Alice),
        features: r.features.map(|f| f.0).unwrap_or_default(),
        client: r.client.map(|c| ClientInfo {
            name: c.name.0,
            version: c.version.0,
        }),
        auth: r.auth,
        payload: r.payload.map(|p| p.0),
        expect: hello_outcome(r.expect, r.code)?,
        auto_pong: r.auto_pong.unwrap_or(true),
    })
}
map_de!(HelloDe, RawHello => Hello, "a hello mapping", conv_hello);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSessionRef {
    session: Option<SessionName>,
}
map_de!(SessionRefDe, RawSessionRef => SessionRef, "a mapping with an optional `session`",
    |r: RawSessionRef| Ok(SessionRef { session: session(r.session) }));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSend {
    session: Option<SessionName>,
    #[serde(rename = "type")]
    kind: Option<NonEmptyText>,
    raw: Option<TemplateStr>,
    oversize: Option<u64>,
    payload: Option<Json>,
    job_id: Option<TemplateStr>,
    trace_id: Option<TemplateStr>,
    envelope: Option<JsonObject>,
}

fn conv_send(r: RawSend) -> Result<Send, String> {
    let given: Vec<&str> = [
        ("type", r.kind.is_some()),
        ("raw", r.raw.is_some()),
        ("oversize", r.oversize.is_some()),
    ]
    .iter()
    .filter(|(_, present)| *present)
    .map(|(k, _)| *k)
    .collect();
    if given.len() != 1 {
        return Err(if given.is_empty() {
            "`send` needs exactly one of `type`, `raw` or `oversize`".to_string()
        } else {
            format!(
                "`send` takes exactly one of `type`, `raw` or `oversize` (got `{}`)",
                given.join("` and `")
            )
        });
    }
    let frame = if let Some(kind) = r.kind {
        Frame::Message(MessageSpec {
            kind: kind.0,
            payload: r
                .payload
                .map(|p| p.0)
                .unwrap_or_else(|| Value::Object(Map::new())),
            job_id: r.job_id.map(|t| t.0),
            trace_id: r.trace_id.map(|t| t.0),
            envelope: r.envelope.map(|e| e.0).unwrap_or_default(),
        })
    } else {
        let extra: Vec<&str> = [
            ("payload", r.payload.is_some()),
            ("job_id", r.job_id.is_some()),
            ("trace_id", r.trace_id.is_some()),
            ("envelope", r.envelope.is_some()),
        ]
        .iter()
        .filter(|(_, present)| *present)
        .map(|(k, _)| *k)
        .collect();
        if let Some(k) = extra.first() {
            return Err(format!(
                "`{k}` only applies to `send: {{type: ...}}`, not to `{}`",
                given[0]
            ));
        }
        match (r.raw, r.oversize) {
            (Some(raw), _) => Frame::Raw(raw.0),
            (_, Some(n)) => Frame::Oversize(n),
            _ => unreachable!("exactly one given"),
        }
    };
    Ok(Send {
        session: session(r.session),
        frame,
    })
}
map_de!(SendDe, RawSend => Send, "a send mapping", conv_send);

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum SubmitExpectKw {
    Accepted,
    Error,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubmit {
    session: Option<SessionName>,
    agent: Option<TemplateStr>,
    input: Option<Json>,
    lease_request: Option<Json>,
    lease_constraints: Option<Json>,
    idempotency_key: Option<TemplateStr>,
    max_runtime_sec: Option<Json>,
    trace_id: Option<TemplateStr>,
    #[serde(rename = "as")]
    capture_as: Option<CaptureName>,
    expect: Option<SubmitExpectKw>,
    code: Option<Code>,
}

fn conv_submit(r: RawSubmit) -> Result<Submit, String> {
    let expect = match (r.expect, r.code) {
        (Some(SubmitExpectKw::Accepted), Some(c)) => {
            return Err(format!("`code: {}` only applies with `expect: error`", c.0))
        }
        (Some(SubmitExpectKw::Error), c) | (None, c @ Some(_)) => SubmitOutcome::Error {
            code: c.map(|c| c.0),
        },
        (Some(SubmitExpectKw::Accepted) | None, None) => SubmitOutcome::Accepted,
    };
    Ok(Submit {
        session: session(r.session),
        agent: r
            .agent
            .map(|a| a.0)
            .unwrap_or_else(|| DEFAULT_SUBMIT_AGENT.to_string()),
        input: r
            .input
            .map(|i| i.0)
            .unwrap_or_else(|| Value::Object(Map::new())),
        lease_request: r.lease_request.map(|v| v.0),
        lease_constraints: r.lease_constraints.map(|v| v.0),
        idempotency_key: r.idempotency_key.map(|v| v.0),
        max_runtime_sec: r.max_runtime_sec.map(|v| v.0),
        trace_id: r.trace_id.map(|v| v.0),
        capture_as: r
            .capture_as
            .map(|c| c.0)
            .unwrap_or_else(|| DEFAULT_JOB_CAPTURE.to_string()),
        expect,
    })
}
map_de!(SubmitDe, RawSubmit => Submit, "a submit mapping", conv_submit);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    session: Option<SessionName>,
    #[serde(rename = "match")]
    pattern: Pattern,
    within: Option<SpanDe>,
    next: Option<bool>,
    or_close: Option<bool>,
    capture: Option<BTreeMap<CaptureNameKey, Pointer>>,
}
map_de!(ExpectDe, RawExpect => Expect, "an expect mapping with `match`",
|r: RawExpect| Ok(Expect {
    session: session(r.session),
    pattern: r.pattern.0,
    within: r.within.map(|d| d.0).unwrap_or_else(|| Span::fixed(DEFAULT_EXPECT_WITHIN)),
    next: r.next.unwrap_or(false),
    or_close: r.or_close.unwrap_or(false),
    capture: captures(r.capture),
}));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectError {
    session: Option<SessionName>,
    code: Option<Code>,
    within: Option<SpanDe>,
    #[serde(rename = "in")]
    source: Option<ErrorSource>,
    or_close: Option<bool>,
}
map_de!(ExpectErrorDe, RawExpectError => ExpectError, "an expect_error mapping",
|r: RawExpectError| Ok(ExpectError {
    session: session(r.session),
    code: r.code.map(|c| c.0),
    within: r.within.map(|d| d.0).unwrap_or_else(|| Span::fixed(DEFAULT_EXPECT_WITHIN)),
    source: r.source.unwrap_or_default(),
    or_close: r.or_close.unwrap_or(false),
}));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectNone {
    session: Option<SessionName>,
    #[serde(rename = "match")]
    pattern: Option<Pattern>,
    #[serde(rename = "for")]
    duration: Option<SpanDe>,
}
map_de!(ExpectNoneDe, RawExpectNone => ExpectNone, "an expect_none mapping",
|r: RawExpectNone| Ok(ExpectNone {
    session: session(r.session),
    pattern: r.pattern.map(|p| p.0),
    duration: r.duration.map(|d| d.0).unwrap_or_else(|| Span::fixed(DEFAULT_EXPECT_NONE_FOR)),
}));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectClose {
    session: Option<SessionName>,
    within: Option<SpanDe>,
}
map_de!(ExpectCloseDe, RawExpectClose => ExpectClose, "an expect_close mapping",
|r: RawExpectClose| Ok(ExpectClose {
    session: session(r.session),
    within: r.within.map(|d| d.0).unwrap_or_else(|| Span::fixed(DEFAULT_EXPECT_WITHIN)),
}));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResume {
    session: Option<SessionName>,
    last_event_seq: Option<Json>,
    token: Option<Json>,
    expect: Option<HelloExpectKw>,
    code: Option<Code>,
}

fn conv_resume(r: RawResume) -> Result<Resume, String> {
    let s = session(r.session);
    Ok(Resume {
        last_event_seq: r
            .last_event_seq
            .map(|v| v.0)
            .unwrap_or_else(|| Value::String(format!("${{session.{s}.last_seq}}"))),
        token: r
            .token
            .map(|v| v.0)
            .unwrap_or_else(|| Value::String(format!("${{session.{s}.resume_token}}"))),
        expect: hello_outcome(r.expect, r.code)?,
        session: s,
    })
}
map_de!(ResumeDe, RawResume => Resume, "a resume mapping", conv_resume);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaitJob {
    session: Option<SessionName>,
    job: Option<TemplateStr>,
    status: Option<JobStatus>,
    within: Option<SpanDe>,
    capture: Option<BTreeMap<CaptureNameKey, Pointer>>,
}
map_de!(WaitJobDe, RawWaitJob => WaitJob, "a wait_job mapping",
|r: RawWaitJob| Ok(WaitJob {
    session: session(r.session),
    job: r.job.map(|j| j.0).unwrap_or_else(|| format!("${{{DEFAULT_JOB_CAPTURE}}}")),
    status: r.status.unwrap_or_default(),
    within: r.within.map(|d| d.0).unwrap_or_else(|| Span::fixed(DEFAULT_WAIT_JOB_WITHIN)),
    capture: captures(r.capture),
}));

/// `set:` — a mapping of names to values, order kept.
pub(crate) struct SetDe(pub Map<String, Value>);
impl<'de> Deserialize<'de> for SetDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Map<String, Value>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Map::new();
                while let Some(CaptureName(k)) = map.next_key()? {
                    if out.contains_key(&k) {
                        return Err(custom(format!("duplicate key {k:?}")));
                    }
                    let Json(v) = map.next_value()?;
                    out.insert(k, v);
                }
                if out.is_empty() {
                    return Err(custom("`set` needs at least one name"));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V).map(SetDe)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssert {
    equal: Option<(Json, Json)>,
    not_equal: Option<(Json, Json)>,
    less: Option<(Json, Json)>,
    greater: Option<(Json, Json)>,
    message: Option<Text>,
}

fn conv_assert(r: RawAssert) -> Result<Assert, String> {
    let mut ops = Vec::new();
    for (op, v) in [
        (AssertOp::Equal, r.equal),
        (AssertOp::NotEqual, r.not_equal),
        (AssertOp::Less, r.less),
        (AssertOp::Greater, r.greater),
    ] {
        if let Some((a, b)) = v {
            ops.push((op, a.0, b.0));
        }
    }
    if ops.len() != 1 {
        let names: Vec<_> = ops.iter().map(|(op, _, _)| op.as_str()).collect();
        return Err(if ops.is_empty() {
            "`assert` needs exactly one of `equal`, `not_equal`, `less`, `greater`".to_string()
        } else {
            format!(
                "`assert` takes exactly one of `equal`, `not_equal`, `less`, `greater` (got `{}`)",
                names.join("` and `")
            )
        });
    }
    let (op, left, right) = ops.pop().expect("one op");
    Ok(Assert {
        op,
        left,
        right,
        message: r.message.map(|m| m.0),
    })
}
map_de!(AssertDe, RawAssert => Assert, "an assert mapping", conv_assert);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepeat {
    times: u32,
    steps: NonEmpty<Step>,
}
map_de!(RepeatDe, RawRepeat => Repeat, "a repeat mapping with `times` and `steps`",
|r: RawRepeat| {
    if r.times == 0 {
        return Err("`times` must be at least 1".to_string());
    }
    Ok(Repeat { times: r.times, steps: r.steps.0 })
});

// ------------------------------------------------------- client-role steps

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWelcome {
    session: Option<SessionName>,
    resume: Option<bool>,
    #[serde(rename = "match")]
    pattern: Option<Pattern>,
    features: Option<FeatureSetDe>,
    payload: Option<JsonObject>,
    code: Option<Code>,
    within: Option<Dur>,
    capture: Option<BTreeMap<CaptureNameKey, Pointer>>,
    auto_pong: Option<bool>,
}
map_de!(WelcomeDe, RawWelcome => Welcome, "a welcome mapping",
|r: RawWelcome| Ok(Welcome {
    session: session(r.session),
    resume: r.resume.unwrap_or(false),
    pattern: r.pattern.map(|p| p.0),
    features: r.features.map(|f| f.0).unwrap_or_default(),
    payload: r.payload.map(|p| p.0),
    code: r.code.map(|c| c.0),
    within: r.within.map(|d| d.0).unwrap_or(DEFAULT_WELCOME_WITHIN),
    capture: captures(r.capture),
    auto_pong: r.auto_pong.unwrap_or(true),
}));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccept {
    session: Option<SessionName>,
    #[serde(rename = "match")]
    pattern: Option<Pattern>,
    within: Option<Dur>,
    #[serde(rename = "as")]
    capture_as: Option<CaptureName>,
    payload: Option<JsonObject>,
    code: Option<Code>,
    capture: Option<BTreeMap<CaptureNameKey, Pointer>>,
}
map_de!(AcceptDe, RawAccept => Accept, "an accept mapping",
|r: RawAccept| Ok(Accept {
    session: session(r.session),
    pattern: r.pattern.map(|p| p.0),
    within: r.within.map(|d| d.0).unwrap_or(DEFAULT_EXPECT_WITHIN),
    capture_as: r.capture_as.map(|c| c.0).unwrap_or_else(|| DEFAULT_JOB_CAPTURE.to_string()),
    payload: r.payload.map(|p| p.0),
    code: r.code.map(|c| c.0),
    capture: captures(r.capture),
}));

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmit {
    session: Option<SessionName>,
    job: Option<TemplateStr>,
    kind: Option<NonEmptyText>,
    body: Option<Json>,
    result: Option<Json>,
    error: Option<Code>,
    #[serde(rename = "type")]
    message: Option<NonEmptyText>,
    payload: Option<JsonObject>,
    seq: Option<Json>,
    envelope: Option<JsonObject>,
}

fn conv_emit(r: RawEmit) -> Result<Emit, String> {
    let given: Vec<&str> = [
        ("kind", r.kind.is_some()),
        ("result", r.result.is_some()),
        ("error", r.error.is_some()),
        ("type", r.message.is_some()),
    ]
    .iter()
    .filter(|(_, present)| *present)
    .map(|(k, _)| *k)
    .collect();
    if given.len() != 1 {
        return Err(format!(
            "`emit` takes exactly one of `kind`, `result`, `error` or `type`{}",
            if given.is_empty() {
                String::new()
            } else {
                format!(" (got `{}`)", given.join("` and `"))
            }
        ));
    }
    if r.body.is_some() && r.kind.is_none() {
        return Err("`body` only applies to `emit: {kind: ...}`".to_string());
    }
    let what = match (r.kind, r.result, r.error, r.message) {
        (Some(k), _, _, _) => EmitWhat::Event {
            kind: k.0,
            body: r
                .body
                .map(|b| b.0)
                .unwrap_or_else(|| Value::Object(Map::new())),
        },
        (_, Some(v), _, _) => EmitWhat::Result(v.0),
        (_, _, Some(c), _) => EmitWhat::Error(c.0),
        (_, _, _, Some(t)) => EmitWhat::Message(t.0),
        _ => unreachable!("exactly one given"),
    };
    Ok(Emit {
        session: session(r.session),
        job: r
            .job
            .map(|j| j.0)
            .unwrap_or_else(|| format!("${{{DEFAULT_JOB_CAPTURE}}}")),
        what,
        payload: r.payload.map(|p| p.0),
        seq: r.seq.map(|s| s.0),
        envelope: r.envelope.map(|e| e.0).unwrap_or_default(),
    })
}
map_de!(EmitDe, RawEmit => Emit, "an emit mapping", conv_emit);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectOutput {
    line: Option<Pattern>,
    result: Option<Pattern>,
    error: Option<Code>,
    within: Option<Dur>,
}

fn conv_expect_output(r: RawExpectOutput) -> Result<ExpectOutput, String> {
    let pattern = match (r.line, r.result, r.error) {
        (Some(l), None, None) => {
            if !l.0.is_string() {
                return Err(
                    "`line` is a string pattern (a literal line, `$regex ...`, ...)".into(),
                );
            }
            OutputPattern::Line(l.0)
        }
        (None, Some(p), None) => OutputPattern::Result(p.0),
        (None, None, Some(c)) => OutputPattern::Error(c.0),
        _ => return Err("`expect_output` takes exactly one of `line`, `result` or `error`".into()),
    };
    Ok(ExpectOutput {
        pattern,
        within: r.within.map(|d| d.0).unwrap_or(DEFAULT_EXPECT_WITHIN),
    })
}
map_de!(ExpectOutputDe, RawExpectOutput => ExpectOutput, "an expect_output mapping", conv_expect_output);

// ------------------------------------------------------ upstream steps

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstreamFact {
    issued: Option<TemplateStr>,
    issued_for: Option<TemplateStr>,
    revoked: Option<TemplateStr>,
    revoked_for: Option<TemplateStr>,
    revoked_value: Option<TemplateStr>,
    rejects: Option<TemplateStr>,
    presented: Option<TemplateStr>,
    presented_elsewhere: Option<TemplateStr>,
    within: Option<Dur>,
    #[serde(rename = "for")]
    duration: Option<Dur>,
}

const UPSTREAM_FACTS: &str = "`issued`, `issued_for`, `revoked`, `revoked_for`, `revoked_value`, `rejects`, `presented` or `presented_elsewhere`";

fn upstream_fact(r: &mut RawUpstreamFact) -> Result<UpstreamFact, String> {
    let mut facts: Vec<UpstreamFact> = [
        r.issued.take().map(|t| UpstreamFact::Issued(t.0)),
        r.issued_for.take().map(|t| UpstreamFact::IssuedFor(t.0)),
        r.revoked.take().map(|t| UpstreamFact::Revoked(t.0)),
        r.revoked_for.take().map(|t| UpstreamFact::RevokedFor(t.0)),
        r.revoked_value
            .take()
            .map(|t| UpstreamFact::RevokedValue(t.0)),
        r.rejects.take().map(|t| UpstreamFact::Rejects(t.0)),
        r.presented.take().map(|t| UpstreamFact::Presented(t.0)),
        r.presented_elsewhere
            .take()
            .map(|t| UpstreamFact::PresentedElsewhere(t.0)),
    ]
    .into_iter()
    .flatten()
    .collect();
    match facts.len() {
        1 => Ok(facts.pop().expect("one fact")),
        0 => Err(format!("needs exactly one of {UPSTREAM_FACTS}")),
        _ => Err(format!(
            "takes exactly one of {UPSTREAM_FACTS} (got `{}`)",
            facts
                .iter()
                .map(UpstreamFact::key)
                .collect::<Vec<_>>()
                .join("` and `")
        )),
    }
}

map_de!(ExpectUpstreamDe, RawUpstreamFact => ExpectUpstream, "an expect_upstream mapping",
|mut r: RawUpstreamFact| {
    let fact = upstream_fact(&mut r).map_err(|e| format!("`expect_upstream` {e}"))?;
    if r.duration.is_some() {
        return Err("`for` belongs to `expect_upstream_none`; `expect_upstream` takes `within`".into());
    }
    Ok(ExpectUpstream {
        fact,
        within: r.within.map(|d| d.0).unwrap_or(DEFAULT_UPSTREAM_WITHIN),
    })
});

map_de!(ExpectUpstreamNoneDe, RawUpstreamFact => ExpectUpstreamNone, "an expect_upstream_none mapping",
|mut r: RawUpstreamFact| {
    let fact = upstream_fact(&mut r).map_err(|e| format!("`expect_upstream_none` {e}"))?;
    if r.within.is_some() {
        return Err("`within` belongs to `expect_upstream`; `expect_upstream_none` takes `for`".into());
    }
    Ok(ExpectUpstreamNone {
        fact,
        duration: r.duration.map(|d| d.0).unwrap_or(DEFAULT_EXPECT_NONE_FOR),
    })
});

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstreamFail {
    op: Option<UpstreamOp>,
    status: Option<u16>,
    times: Option<u32>,
    delay: Option<Dur>,
    credential: Option<TemplateStr>,
}

map_de!(UpstreamFailDe, RawUpstreamFail => UpstreamFail, "an upstream_fail mapping",
|r: RawUpstreamFail| {
    if r.status.is_none() && r.times.is_none() && r.delay.is_none() {
        return Err("`upstream_fail` needs `status`, `times` or `delay`".into());
    }
    let status = match (r.status, r.times) {
        (Some(s), _) if !(400..=599).contains(&s) => {
            return Err(format!("`status: {s}` is not an HTTP error status (400-599)"))
        }
        (Some(s), _) => s,
        (None, Some(_)) => 503,
        (None, None) => 0,
    };
    if r.times == Some(0) {
        return Err("`times` must be at least 1 (leave it out to fail permanently)".into());
    }
    Ok(UpstreamFail {
        op: r.op.unwrap_or_default(),
        status,
        times: r.times,
        delay: r.delay.map(|d| d.0).unwrap_or_default(),
        credential: r.credential.map(|c| c.0),
    })
});

// ------------------------------------------------------------------ steps

/// Levenshtein distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn unknown_step(key: &str) -> String {
    let mut msg = format!(
        "unknown step `{key}` (expected one of: {})",
        StepKind::NAMES.join(", ")
    );
    if let Some(best) = StepKind::NAMES
        .iter()
        .min_by_key(|n| distance(key, n))
        .filter(|n| distance(key, n) <= 2)
    {
        msg.push_str(&format!("; did you mean `{best}`?"));
    }
    msg
}

fn step_body<'de, A: MapAccess<'de>>(key: &str, map: &mut A) -> Result<StepKind, A::Error> {
    Ok(match key {
        "open" => StepKind::Open(map.next_value::<HelloDe>()?.0),
        "connect" => StepKind::Connect(map.next_value::<SessionRefDe>()?.0),
        "hello" => StepKind::Hello(map.next_value::<HelloDe>()?.0),
        "send" => StepKind::Send(map.next_value::<SendDe>()?.0),
        "submit" => StepKind::Submit(map.next_value::<SubmitDe>()?.0),
        "expect" => StepKind::Expect(map.next_value::<ExpectDe>()?.0),
        "expect_error" => StepKind::ExpectError(map.next_value::<ExpectErrorDe>()?.0),
        "expect_none" => StepKind::ExpectNone(map.next_value::<ExpectNoneDe>()?.0),
        "expect_close" => StepKind::ExpectClose(map.next_value::<ExpectCloseDe>()?.0),
        "drop" => StepKind::Drop(map.next_value::<SessionRefDe>()?.0),
        "resume" => StepKind::Resume(map.next_value::<ResumeDe>()?.0),
        "wait_job" => StepKind::WaitJob(map.next_value::<WaitJobDe>()?.0),
        "sleep" => StepKind::Sleep(map.next_value::<SpanDe>()?.0),
        "set" => StepKind::Set(map.next_value::<SetDe>()?.0),
        "assert" => StepKind::Assert(map.next_value::<AssertDe>()?.0),
        "repeat" => StepKind::Repeat(map.next_value::<RepeatDe>()?.0),
        "welcome" => StepKind::Welcome(map.next_value::<WelcomeDe>()?.0),
        "accept" => StepKind::Accept(map.next_value::<AcceptDe>()?.0),
        "emit" => StepKind::Emit(map.next_value::<EmitDe>()?.0),
        "expect_output" => StepKind::ExpectOutput(map.next_value::<ExpectOutputDe>()?.0),
        "expect_upstream" => StepKind::ExpectUpstream(map.next_value::<ExpectUpstreamDe>()?.0),
        "expect_upstream_none" => {
            StepKind::ExpectUpstreamNone(map.next_value::<ExpectUpstreamNoneDe>()?.0)
        }
        "upstream_fail" => StepKind::UpstreamFail(map.next_value::<UpstreamFailDe>()?.0),
        other => return Err(custom(unknown_step(other))),
    })
}

/// A step: a mapping with exactly one step key plus an optional `note`.
/// `line` is left 0; the loader fills it in.
impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Step;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a step: a mapping with one step key ({})",
                    StepKind::NAMES.join(", ")
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
                let mut kind: Option<(String, StepKind)> = None;
                let mut note: Option<String> = None;
                while let Some(Text(key)) = map.next_key()? {
                    if key == "note" {
                        if note.is_some() {
                            return Err(custom("duplicate key \"note\""));
                        }
                        note = Some(map.next_value::<Text>()?.0);
                        continue;
                    }
                    if !StepKind::NAMES.contains(&key.as_str()) {
                        return Err(custom(unknown_step(&key)));
                    }
                    if let Some((prev, _)) = &kind {
                        return Err(custom(format!(
                            "a step has exactly one step key, this one has `{prev}` and `{key}` (start a new `- ` item)"
                        )));
                    }
                    let k = step_body(&key, &mut map)?;
                    kind = Some((key, k));
                }
                let Some((_, kind)) = kind else {
                    return Err(custom(format!(
                        "step has no step key (expected one of: {})",
                        StepKind::NAMES.join(", ")
                    )));
                };
                Ok(Step {
                    kind,
                    note,
                    line: 0,
                })
            }
        }
        d.deserialize_map(V)
    }
}

// ------------------------------------------------------------------- case

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRequires {
    features: Option<Vec<FeatureName>>,
    agents: Option<Vec<AgentRole>>,
    sessions: Option<u32>,
    principals: Option<Vec<Principal>>,
    reconnect: Option<bool>,
}

fn dedup<T: PartialEq>(v: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

map_de!(RequiresDe, RawRequires => Requires, "a requires mapping",
|r: RawRequires| {
    let sessions = r.sessions.unwrap_or(1);
    if sessions == 0 {
        return Err("`sessions` must be at least 1".to_string());
    }
    Ok(Requires {
        features: dedup(r.features.unwrap_or_default().into_iter().map(|f| f.0).collect()),
        agents: dedup(r.agents.unwrap_or_default()),
        sessions,
        principals: dedup(r.principals.unwrap_or_default()),
        reconnect: r.reconnect.unwrap_or(false),
    })
});

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: CaseId,
    title: NonEmptyText,
    sections: Option<NonEmpty<Section>>,
    section: Option<Section>,
    level: LevelDe,
    requirement: NonEmptyText,
    requires: Option<RequiresDe>,
    tags: Option<Vec<Text>>,
    depends_on: Option<Vec<CaseId>>,
    timeout: Option<Dur>,
    role: Option<Role>,
    catches: Option<Vec<Text>>,
    scenario: Option<Text>,
    steps: NonEmpty<Step>,
}

fn conv_case(r: RawCase) -> Result<Case, String> {
    let sections = match (r.sections, r.section) {
        (Some(_), Some(_)) => {
            return Err("give either `sections` or `section`, not both".to_string())
        }
        (Some(s), None) => s.0.into_iter().map(|s| s.0).collect(),
        (None, Some(s)) => vec![s.0],
        (None, None) => return Err("missing field `sections`".to_string()),
    };
    let timeout = r.timeout.map(|t| t.0).unwrap_or(DEFAULT_CASE_TIMEOUT);
    if timeout.is_zero() {
        return Err("`timeout` must be more than 0".to_string());
    }
    let id = r.id.0;
    let depends_on: Vec<String> = r
        .depends_on
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.0)
        .collect();
    if depends_on.contains(&id) {
        return Err(format!("case {id:?} depends on itself"));
    }
    let role = r.role.unwrap_or_default();
    let scenario = r.scenario.map(|s| s.0);
    match (role, &scenario) {
        (Role::Client, None) => {
            return Err(format!(
                "a `role: client` case needs `scenario:` (one of: {})",
                SCENARIOS.join(", ")
            ))
        }
        (Role::Client, Some(s)) if !SCENARIOS.contains(&s.as_str()) => {
            return Err(format!(
                "unknown scenario {s:?} (expected one of: {})",
                SCENARIOS.join(", ")
            ))
        }
        (Role::Runtime, Some(_)) => {
            return Err("`scenario` only applies to `role: client` cases".to_string())
        }
        _ => {}
    }
    Ok(Case {
        id,
        title: r.title.0,
        sections,
        level: r.level.0,
        requirement: r.requirement.0,
        requires: r.requires.map(|r| r.0).unwrap_or_default(),
        tags: r
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.0)
            .collect(),
        depends_on: dedup(depends_on),
        timeout,
        role,
        catches: r
            .catches
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.0)
            .collect(),
        scenario,
        steps: r.steps.0,
        source: Default::default(),
        line: 0,
    })
}
map_de!(CaseDe, RawCase => Case, "a case mapping (id, title, sections, level, requirement, steps, ...)", conv_case);
