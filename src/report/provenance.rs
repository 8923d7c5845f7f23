//! What a result was judged against: the spec draft, the requirement
//! sentences each case checks (id and hash of the sentence), and the case's
//! own content. `diff` and `history` use these to tell an implementation that
//! regressed from a requirement or a case that changed.

use crate::case::Case;
use crate::conformance::{normalize, requirements, Requirement};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// A requirement a case checks, as it read when the case ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequirementRef {
    /// Its id in cases/requirements.yaml.
    pub id: String,
    /// [`crate::spec::text_hash`] of the sentence.
    pub hash: String,
}

fn all() -> &'static [(Requirement, String, String)] {
    static ALL: OnceLock<Vec<(Requirement, String, String)>> = OnceLock::new();
    ALL.get_or_init(|| {
        requirements()
            .into_iter()
            .map(|r| {
                let key = normalize(&r.text);
                let hash = crate::spec::text_hash(&r.text);
                (r, key, hash)
            })
            .collect()
    })
}

/// The requirements a case checks: those whose sentence contains its quote
/// (the rule of [`crate::conformance::coverage`]).
pub fn requirements_of(case: &Case) -> Vec<RequirementRef> {
    let quote = normalize(&case.requirement);
    all()
        .iter()
        .filter(|(_, key, _)| key.contains(quote.as_str()))
        .map(|(r, _, hash)| RequirementRef {
            id: r.id.clone(),
            hash: hash.clone(),
        })
        .collect()
}

/// A hash of what the case is: its parsed content, without where it was read
/// from (moving a case file, or editing the case above it, is no change).
pub fn case_hash(case: &Case) -> String {
    let mut c = case.clone();
    c.source = Default::default();
    c.line = 0;
    crate::spec::fnv(format!("{c:?}").as_bytes())
}
