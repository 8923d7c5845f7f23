//! YAML -> model. The YAML shapes (`Raw*`, all optional fields,
//! `deny_unknown_fields`) are deserialised by serde and converted into the
//! public model right inside the visitor of the mapping that holds them, so
//! every error — serde's own or ours — carries the line and column of the
//! node it is about (serde_yaml_ng attaches the position of the innermost
//! node being visited to an error that has none yet).
//!
//! Our own messages are prefixed with [`MSG`] so the loader can drop
//! serde_yaml_ng's `path: ` prefix from them (see `load::yaml_error`).

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

use super::model::*;

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

// The mapping bodies, one file per family of steps; declared after `map_de!`,
// which they use.
mod client;
mod expect;
mod flow;
mod json;
mod runtime;
mod scalar;
mod upstream;
use client::*;
use expect::*;
use flow::*;
use json::*;
use runtime::*;
use scalar::*;
use upstream::*;

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
