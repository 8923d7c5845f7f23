//! JSON values, objects and matcher patterns written in YAML, with templates
//! and matchers checked where they are written.

use super::*;
use crate::matcher;
use crate::template;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};
use std::fmt;

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
