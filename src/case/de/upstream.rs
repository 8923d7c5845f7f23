//! The credential upstream's steps: `expect_upstream`, `expect_upstream_none`,
//! `upstream_fail`.

use super::*;
use serde::de::Deserializer;
use serde::Deserialize;

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
