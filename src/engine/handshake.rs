//! The handshake a run starts with (§6.2), and the hello dialects known
//! SDKs speak when the spec-shaped `session.hello` fails: the run then
//! continues in the one that works, and the failure stays a finding.

use super::runner::handshake_case;
use super::{run_case, EngineOptions};
use crate::profile::{Dialect, IdentityDialect, SessionIdDialect};
use crate::target::Target;
use crate::verdict::{Outcome, Verdict};

/// The hello variations to try after the spec-shaped one, on top of `base`
/// (its resume and close choices kept): a client-minted envelope
/// `session_id` (Ruby SDK), a flat client identity, and both.
pub fn hello_variations(base: &Dialect) -> Vec<Dialect> {
    let spec = spec_hello(base);
    let with = |sid, ident| Dialect {
        session_id: sid,
        client_identity: ident,
        ..spec.clone()
    };
    vec![
        with(SessionIdDialect::Client, IdentityDialect::Object),
        with(SessionIdDialect::Welcome, IdentityDialect::Flat),
        with(SessionIdDialect::Client, IdentityDialect::Flat),
    ]
}

/// `base` with session.hello spelled as the spec spells it.
pub fn spec_hello(base: &Dialect) -> Dialect {
    let spec = Dialect::default();
    Dialect {
        session_id: spec.session_id,
        client_identity: spec.client_identity,
        ..base.clone()
    }
}

/// What a hello variation changes, for a person.
pub fn describe(d: &Dialect) -> String {
    let mut parts = vec![];
    if d.session_id == SessionIdDialect::Client {
        parts.push("a client-minted envelope session_id");
    }
    if d.client_identity == IdentityDialect::Flat {
        parts.push("a flat client_name/client_version");
    }
    if parts.is_empty() {
        return "the spec's spelling".into();
    }
    parts.join(" and ")
}

/// Open the handshake session as the spec spells the hello; when that
/// fails (an error, a crash, a close; not silence), try each known variation.
/// When one works, the target's dialect becomes it and the spec-shaped
/// attempt comes back as a FAIL of §6.2's hello requirement, to report.
pub async fn find_dialect(target: &mut Target, opts: &EngineOptions) -> Option<Outcome> {
    let case = handshake_case();
    let found = target.profile.dialect.clone();
    target.profile.dialect = spec_hello(&found);
    let spec = run_case(&case, target, opts).await;
    // A refused token is the profile's problem, not a dialect: the run says
    // so. A target that answers nothing is unresponsive, whatever the hello.
    if spec.verdict == Verdict::Pass
        || spec.reason.contains("authentication failed")
        || spec.deadline_missed
    {
        target.profile.dialect = found;
        return None;
    }
    for v in hello_variations(&found) {
        target.profile.dialect = v.clone();
        if run_case(&case, target, opts).await.verdict != Verdict::Pass {
            continue;
        }
        let mut o = spec;
        o.verdict = Verdict::Fail;
        o.origin = None;
        o.reason = format!(
            "the spec-shaped session.hello failed: {}; a hello with {} gets a welcome, so the run continues in that dialect (profile: `{}`)",
            o.reason,
            describe(&v),
            v.snippet()
        );
        o.dialect = vec![format!(
            "run in the hello dialect the probe found: {}",
            describe(&v)
        )];
        return Some(o);
    }
    target.profile.dialect = found;
    None
}
