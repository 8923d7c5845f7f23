//! The expectation steps: `expect`, `expect_error`, `expect_none`, `expect_close`.

use super::*;
use serde::de::Deserializer;
use serde::Deserialize;
use std::collections::BTreeMap;

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
