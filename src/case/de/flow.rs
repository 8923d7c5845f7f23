//! Steps over values and control: `set`, `assert`, `repeat`.

use super::*;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;

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
