//! Traceability: the spec's requirement sentences (cases/requirements.yaml)
//! against the cases that check them, rendered into CONFORMANCE.md.

use crate::case::Case;
use serde::Deserialize;
use std::collections::BTreeMap;

static REQUIREMENTS: &str = include_str!("../cases/requirements.yaml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub section: String,
    pub level: String,
    pub text: String,
    #[serde(default)]
    pub excluded: Option<String>,
}

pub fn requirements() -> Vec<Requirement> {
    serde_yaml_ng::from_str(REQUIREMENTS).expect("cases/requirements.yaml parses")
}

/// Compare quotes loosely: markup and spacing do not matter.
pub fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '`' | '*'))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 2119 keywords that carry each level, as a case writes it. `INFO`
/// needs none: it is the level of a sentence that describes behaviour
/// without a keyword.
pub fn keywords(level: &str) -> &'static [&'static str] {
    match level {
        "MUST" => &["MUST", "REQUIRED", "SHALL"],
        "SHOULD" => &["SHOULD", "RECOMMENDED"],
        "MAY" => &["MAY", "OPTIONAL"],
        _ => &[],
    }
}

/// Does `text` hold `word` as a whole word?
fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w == word)
}

/// Why a case (or per-frame rule) at `level` may not quote `quote`: the
/// sentence it is part of must carry a keyword of that level (a sentence
/// without MUST/SHOULD/MAY is not a MUST). The sentence is the quote itself
/// or, for a fragment, any requirement sentence of cases/requirements.yaml
/// it is part of (as for coverage). `None` when the level is borne out.
pub fn level_unsupported(level: &str, quote: &str) -> Option<String> {
    let wanted = keywords(level);
    if wanted.is_empty() {
        return None;
    }
    static SENTENCES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let sentences =
        SENTENCES.get_or_init(|| requirements().iter().map(|r| normalize(&r.text)).collect());
    let q = normalize(quote);
    let mut texts: Vec<&str> = vec![&q];
    texts.extend(
        sentences
            .iter()
            .filter(|s| s.contains(q.as_str()))
            .map(String::as_str),
    );
    if texts.iter().any(|t| wanted.iter().any(|k| has_word(t, k))) {
        return None;
    }
    let found: Vec<&str> = [
        "MUST",
        "REQUIRED",
        "SHALL",
        "SHOULD",
        "RECOMMENDED",
        "MAY",
        "OPTIONAL",
    ]
    .into_iter()
    .filter(|k| texts.iter().any(|t| has_word(t, k)))
    .collect();
    let has = if found.is_empty() {
        "no RFC 2119 keyword".to_string()
    } else {
        format!("only {}", found.join(", "))
    };
    Some(format!(
        "`level: {level}` needs a requirement sentence with {}, but the quoted one has {has}: quote the spec sentence that carries the {level}, or write the level the sentence supports (INFO for a sentence without a keyword)",
        wanted.join(" or ")
    ))
}

/// Case ids that quote part of each requirement.
pub fn coverage<'a>(reqs: &'a [Requirement], cases: &[Case]) -> BTreeMap<&'a str, Vec<String>> {
    let quotes: Vec<(String, &str)> = cases
        .iter()
        .map(|c| (normalize(&c.requirement), c.id.as_str()))
        .collect();
    reqs.iter()
        .map(|r| {
            let text = normalize(&r.text);
            let ids = quotes
                .iter()
                // A case covers a requirement when its quote is part of the sentence.
                .filter(|(q, _)| text.contains(q.as_str()))
                .map(|(_, id)| id.to_string())
                .collect();
            (r.id.as_str(), ids)
        })
        .collect()
}

/// The generated traceability table.
pub fn table(cases: &[Case]) -> String {
    let reqs = requirements();
    let cov = coverage(&reqs, cases);
    let covered = reqs
        .iter()
        .filter(|r| !cov[r.id.as_str()].is_empty())
        .count();
    let excluded = reqs
        .iter()
        .filter(|r| cov[r.id.as_str()].is_empty() && r.excluded.is_some())
        .count();
    let mut s = format!(
        "{} requirement sentences: {} checked by cases, {} excluded, {} open. {} cases (runtime and client suites).\n\n",
        reqs.len(),
        covered,
        excluded,
        reqs.len() - covered - excluded,
        cases.len()
    );
    s.push_str("| id | § | level | requirement | checked by |\n|---|---|---|---|---|\n");
    for r in &reqs {
        let ids = &cov[r.id.as_str()];
        let by = if !ids.is_empty() {
            ids.iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join("<br>")
        } else if let Some(why) = &r.excluded {
            format!("excluded: {why}")
        } else {
            "**not covered**".into()
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.id,
            r.section,
            r.level,
            r.text.replace('|', "\\|"),
            by
        ));
    }
    s
}

/// The per-frame invariants ([`crate::checks`]): checked on every frame of
/// every case, each reported once per run with the cases it was broken in.
pub fn invariants_table() -> String {
    let mut s = String::from(
        "\n### Per-frame invariants\n\nChecked on every frame the target sends, in every case. A broken one is its own finding \
(one entry per run, with the cases it was seen in); it does not change the verdict of the case it was seen in. \
How they were chosen: [docs/invariants.md](docs/invariants.md).\n\n| id | § | level | requirement |\n|---|---|---|---|\n",
    );
    for i in crate::checks::ALL.iter().chain(
        crate::clienttest::checks::ALL
            .iter()
            .filter(|c| !crate::checks::ALL.iter().any(|r| r.id == c.id)),
    ) {
        s.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            i.id,
            i.section,
            i.level,
            i.requirement.replace('|', "\\|")
        ));
    }
    s
}

const START: &str = "<!-- traceability:start -->";
const END: &str = "<!-- traceability:end -->";

/// CONFORMANCE.md with its traceability section regenerated.
pub fn render_document(current: &str, cases: &[Case]) -> Result<String, String> {
    let (a, b) = match (current.find(START), current.find(END)) {
        (Some(a), Some(b)) if a < b => (a, b),
        _ => return Err(format!("CONFORMANCE.md lacks the {START} / {END} markers")),
    };
    Ok(format!(
        "{}{START}\n{}{}{}",
        &current[..a],
        table(cases),
        invariants_table(),
        &current[b..]
    ))
}

#[cfg(test)]
mod tests {
    use super::level_unsupported;
    use crate::checks::{ALL, TERMINAL};

    /// Same rule as for cases: a per-frame rule's level is the keyword its
    /// quoted sentence carries (runtime and client rules).
    #[test]
    fn every_invariant_level_is_carried_by_its_sentence() {
        for i in ALL.iter().chain(crate::clienttest::checks::ALL) {
            if let Some(why) = level_unsupported(i.level.label(), i.requirement) {
                panic!("{}: {why}", i.id);
            }
        }
        assert!(
            level_unsupported("MUST", TERMINAL.requirement).is_some(),
            "the rule must refuse a MUST on a sentence without keyword"
        );
    }
}
