//! Scalars and small lists of a case file (text, ids, names, codes, sections,
//! durations, spans, feature sets), each checked where it is written.

use super::*;
use crate::duration::{parse_duration, seconds};
use crate::matcher;
use crate::template;
use crate::wire::{ErrorCode, Feature};
use serde::de::value::SeqAccessDeserializer;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

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
