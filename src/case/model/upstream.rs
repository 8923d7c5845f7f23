//! The credential upstream's steps' bodies and the facts they check.

use serde::Deserialize;
use std::time::Duration;

/// Default `within:` for `expect_upstream`.
pub const DEFAULT_UPSTREAM_WITHIN: Duration = Duration::from_secs(5);

/// What the credential upstream saw (CONFORMANCE.md, "The credential
/// upstream"). Every string is a template, rendered before use.
#[derive(Debug, Clone, PartialEq)]
pub enum UpstreamFact {
    /// `issued: <credential id>`: the upstream issued this credential.
    Issued(String),
    /// `issued_for: <job id>`: the upstream issued a credential for this job.
    IssuedFor(String),
    /// `revoked: <credential id>`: every value of it is revoked.
    Revoked(String),
    /// `revoked_for: <job id>`: every credential issued for this job is revoked.
    RevokedFor(String),
    /// `revoked_value: <value>`: this one value is revoked (rotation).
    RevokedValue(String),
    /// `rejects: <value>`: presented at its endpoint now, the upstream refuses it.
    Rejects(String),
    /// `presented: <credential id>`: it was presented at its endpoint.
    Presented(String),
    /// `presented_elsewhere: <credential id>` (`"*"`: any credential): it was
    /// presented at a URL other than its endpoint (§9.8.1).
    PresentedElsewhere(String),
}

impl UpstreamFact {
    pub fn key(&self) -> &'static str {
        match self {
            UpstreamFact::Issued(_) => "issued",
            UpstreamFact::IssuedFor(_) => "issued_for",
            UpstreamFact::Revoked(_) => "revoked",
            UpstreamFact::RevokedFor(_) => "revoked_for",
            UpstreamFact::RevokedValue(_) => "revoked_value",
            UpstreamFact::Rejects(_) => "rejects",
            UpstreamFact::Presented(_) => "presented",
            UpstreamFact::PresentedElsewhere(_) => "presented_elsewhere",
        }
    }

    pub fn template(&self) -> &str {
        match self {
            UpstreamFact::Issued(s)
            | UpstreamFact::IssuedFor(s)
            | UpstreamFact::Revoked(s)
            | UpstreamFact::RevokedFor(s)
            | UpstreamFact::RevokedValue(s)
            | UpstreamFact::Rejects(s)
            | UpstreamFact::Presented(s)
            | UpstreamFact::PresentedElsewhere(s) => s,
        }
    }
}

/// `expect_upstream`: `fact` becomes true within `within`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectUpstream {
    pub fact: UpstreamFact,
    pub within: Duration,
}

/// `expect_upstream_none`: `fact` stays false for `duration`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectUpstreamNone {
    pub fact: UpstreamFact,
    pub duration: Duration,
}

/// Which upstream calls an `upstream_fail` applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamOp {
    Issue,
    Rotate,
    Revoke,
    /// Issue, rotate and revoke (default).
    #[default]
    Any,
}

/// `upstream_fail`: from now on, the upstream answers `op` calls with
/// `status` (`times` times then recovers, or forever), and/or slowly.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamFail {
    pub op: UpstreamOp,
    /// 0: no failure, only `delay`.
    pub status: u16,
    /// `None`: fail permanently.
    pub times: Option<u32>,
    pub delay: Duration,
    /// Only rotate / revoke calls about this credential id (template);
    /// `None`: every call.
    pub credential: Option<String>,
}
