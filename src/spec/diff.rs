//! What a change of the spec means for the suite: `spec diff` (two drafts)
//! and `spec check` (a draft against cases/requirements.yaml). Each changed
//! requirement sentence is listed with the cases that cite it; a new MUST
//! no case checks is open.

use super::{extract, Sentence};
use crate::case::Case;
use crate::conformance::{normalize, Requirement};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Added,
    Removed,
    Changed,
    Moved,
}

/// One requirement sentence that differs between two drafts.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Sentence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Sentence>,
    /// Its id in cases/requirements.yaml (matched on the old text, else the new).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// Cases whose `requirement:` quote is part of the old sentence (or, when added, the new).
    pub cases: Vec<String>,
    /// Of those, the cases whose quote is no longer in the new draft's sentence.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale_quotes: Vec<String>,
    /// "weakened SHOULD -> MAY", "strengthened MAY -> MUST", or "MUST -> MUST NOT".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level_change: Option<String>,
    /// A MUST / MUST NOT in the new draft that no case checks.
    pub open: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpecDiff {
    pub old_requirements: usize,
    pub new_requirements: usize,
    pub changes: Vec<Change>,
}

/// Compare the requirement sentences of two drafts.
pub fn diff(old_md: &str, new_md: &str, reqs: &[Requirement], cases: &[Case]) -> SpecDiff {
    let (old, new) = (extract(old_md), extract(new_md));
    let quotes = Quotes::new(cases);
    let ids: BTreeMap<String, &str> = reqs
        .iter()
        .map(|r| (normalize(&r.text), r.id.as_str()))
        .collect();
    let mut old_left: Vec<Option<&Sentence>> = old.iter().map(Some).collect();
    let mut new_left: Vec<Option<&Sentence>> = new.iter().map(Some).collect();
    let mut pairs: Vec<(&Sentence, &Sentence)> = vec![];

    // Same text: unchanged, or moved when its section differs.
    for n in new_left.iter_mut() {
        let key = n.unwrap().key();
        if let Some(o) = old_left
            .iter_mut()
            .find(|o| o.is_some_and(|o| o.key() == key))
        {
            pairs.push((o.take().unwrap(), n.take().unwrap()));
        }
    }
    // Edited text: the most similar remaining sentences, best pairs first.
    let mut candidates: Vec<(f64, usize, usize)> = vec![];
    for (i, o) in old_left.iter().enumerate() {
        for (j, n) in new_left.iter().enumerate() {
            if let (Some(o), Some(n)) = (o, n) {
                let s = similarity(&o.text, &n.text);
                if s >= 0.5 {
                    candidates.push((s, i, j));
                }
            }
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, i, j) in candidates {
        if old_left[i].is_some() && new_left[j].is_some() {
            pairs.push((old_left[i].take().unwrap(), new_left[j].take().unwrap()));
        }
    }

    let mut changes = vec![];
    for (o, n) in pairs {
        let kind = if o.key() != n.key() {
            Kind::Changed
        } else if o.section != n.section {
            Kind::Moved
        } else {
            continue;
        };
        let cited = quotes.citing(&o.text);
        let stale = cited
            .iter()
            .filter(|c| !quotes.citing(&n.text).contains(c))
            .cloned()
            .collect();
        changes.push(Change {
            kind,
            requirement: ids.get(&o.key()).map(|s| s.to_string()),
            open: is_must(&n.level) && quotes.citing(&n.text).is_empty(),
            level_change: level_change(&o.level, &n.level),
            cases: cited,
            stale_quotes: stale,
            old: Some(o.clone()),
            new: Some(n.clone()),
        });
    }
    for o in old_left.into_iter().flatten() {
        changes.push(Change {
            kind: Kind::Removed,
            requirement: ids.get(&o.key()).map(|s| s.to_string()),
            cases: quotes.citing(&o.text),
            stale_quotes: quotes.citing(&o.text),
            level_change: None,
            open: false,
            old: Some(o.clone()),
            new: None,
        });
    }
    for n in new_left.into_iter().flatten() {
        let cases = quotes.citing(&n.text);
        changes.push(Change {
            kind: Kind::Added,
            requirement: ids.get(&n.key()).map(|s| s.to_string()),
            open: is_must(&n.level) && cases.is_empty(),
            cases,
            stale_quotes: vec![],
            level_change: None,
            old: None,
            new: Some(n.clone()),
        });
    }
    changes.sort_by_key(|c| c.new.as_ref().or(c.old.as_ref()).map(|s| s.line));
    SpecDiff {
        old_requirements: old.len(),
        new_requirements: new.len(),
        changes,
    }
}

/// Where a draft and cases/requirements.yaml disagree.
#[derive(Debug, Clone, Serialize)]
pub struct SpecCheck {
    pub requirements: usize,
    /// Requirement sentences of the draft that requirements.yaml does not list.
    pub unlisted: Vec<Sentence>,
    /// requirements.yaml entries the draft does not bear out, with why.
    pub stale: Vec<Stale>,
    /// Cases whose `requirement:` quote is not in the draft.
    pub misquoted: Vec<String>,
    /// Listed MUST / MUST NOT requirements no case checks and none excludes.
    pub open: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stale {
    pub id: String,
    pub problem: String,
}

impl SpecCheck {
    /// The draft and requirements.yaml agree in both directions and every
    /// case quotes the draft.
    pub fn agrees(&self) -> bool {
        self.unlisted.is_empty() && self.stale.is_empty() && self.misquoted.is_empty()
    }
}

/// Compare a draft with cases/requirements.yaml and the cases' quotes.
pub fn check(md: &str, reqs: &[Requirement], cases: &[Case]) -> SpecCheck {
    let sentences = extract(md);
    let by_key: BTreeMap<String, &Sentence> = sentences.iter().map(|s| (s.key(), s)).collect();
    let listed: BTreeSet<String> = reqs.iter().map(|r| normalize(&r.text)).collect();
    let unlisted = sentences
        .iter()
        .filter(|s| !listed.contains(&s.key()))
        .cloned()
        .collect();
    let mut stale = vec![];
    for r in reqs {
        let problem = match by_key.get(&normalize(&r.text)) {
            None => "not a requirement sentence of the draft".to_string(),
            Some(s) if s.section != r.section => {
                format!(
                    "is in §{} of the draft, listed as §{}",
                    s.section, r.section
                )
            }
            Some(s) if s.level != r.level => {
                format!("is a {} in the draft, listed as {}", s.level, r.level)
            }
            Some(_) => continue,
        };
        stale.push(Stale {
            id: r.id.clone(),
            problem,
        });
    }
    let text = normalize(md);
    let misquoted = cases
        .iter()
        .filter(|c| !text.contains(&normalize(&c.requirement)))
        .map(|c| format!("{} ({})", c.id, c.location()))
        .collect();
    let cov = crate::conformance::coverage(reqs, cases);
    let open = reqs
        .iter()
        .filter(|r| is_must(&r.level) && cov[r.id.as_str()].is_empty() && r.excluded.is_none())
        .map(|r| r.id.clone())
        .collect();
    SpecCheck {
        requirements: sentences.len(),
        unlisted,
        stale,
        misquoted,
        open,
    }
}

/// Case quotes, normalized once.
struct Quotes(Vec<(String, String)>);

impl Quotes {
    fn new(cases: &[Case]) -> Quotes {
        Quotes(
            cases
                .iter()
                .map(|c| (normalize(&c.requirement), c.id.clone()))
                .collect(),
        )
    }

    /// Cases that cite a sentence: the same rule as [`crate::conformance::coverage`].
    fn citing(&self, sentence: &str) -> Vec<String> {
        let s = normalize(sentence);
        self.0
            .iter()
            .filter(|(q, _)| s.contains(q.as_str()))
            .map(|(_, id)| id.clone())
            .collect()
    }
}

fn is_must(level: &str) -> bool {
    level.starts_with("MUST")
}

fn rank(level: &str) -> u8 {
    match level {
        "MUST" | "MUST NOT" => 3,
        "SHOULD" | "SHOULD NOT" => 2,
        _ => 1,
    }
}

fn level_change(old: &str, new: &str) -> Option<String> {
    if old == new {
        return None;
    }
    let how = match rank(new).cmp(&rank(old)) {
        std::cmp::Ordering::Less => "weakened ",
        std::cmp::Ordering::Greater => "strengthened ",
        std::cmp::Ordering::Equal => "",
    };
    Some(format!("{how}{old} -> {new}"))
}

/// Word overlap of two sentences (Jaccard over lowercase words).
fn similarity(a: &str, b: &str) -> f64 {
    let words = |s: &str| -> BTreeSet<String> {
        normalize(s)
            .split(|c: char| !c.is_alphanumeric() && c != '_' && c != '.')
            .filter(|w| !w.is_empty())
            .map(|w| w.to_lowercase())
            .collect()
    };
    let (a, b) = (words(a), words(b));
    let union = a.union(&b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn cases_cell(c: &Change) -> String {
    let mut s = if c.cases.is_empty() {
        "none".to_string()
    } else {
        c.cases
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !c.stale_quotes.is_empty() {
        s.push_str(&format!(
            "<br>quote no longer in the draft: {}",
            c.stale_quotes
                .iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s
}

impl SpecDiff {
    pub fn markdown(&self, old_name: &str, new_name: &str) -> String {
        let count = |k: Kind| self.changes.iter().filter(|c| c.kind == k).count();
        let open = self.changes.iter().filter(|c| c.open).count();
        let mut s = format!(
            "# Spec diff: {old_name} -> {new_name}\n\n{} requirement sentences -> {}: {} added, {} removed, {} changed, {} moved; {} open (a MUST no case checks).\n\n",
            self.old_requirements,
            self.new_requirements,
            count(Kind::Added),
            count(Kind::Removed),
            count(Kind::Changed),
            count(Kind::Moved),
            open
        );
        if self.changes.is_empty() {
            s.push_str("No requirement sentence changed.\n");
            return s;
        }
        s.push_str("| change | § | level | requirement | cases |\n|---|---|---|---|---|\n");
        for c in &self.changes {
            let (o, n) = (c.old.as_ref(), c.new.as_ref());
            let section = match (o, n) {
                (Some(o), Some(n)) if o.section != n.section => {
                    format!("{} -> {}", o.section, n.section)
                }
                _ => n.or(o).map(|s| s.section.clone()).unwrap_or_default(),
            };
            let level = c
                .level_change
                .clone()
                .unwrap_or_else(|| n.or(o).map(|s| s.level.clone()).unwrap_or_default());
            let text = match (c.kind, o, n) {
                (Kind::Changed, Some(o), Some(n)) => {
                    format!("~~{}~~<br>{}", cell(&o.text), cell(&n.text))
                }
                _ => cell(&n.or(o).map(|s| s.text.clone()).unwrap_or_default()),
            };
            let id = c
                .requirement
                .as_ref()
                .map(|i| format!("{i}: "))
                .unwrap_or_default();
            let kind = format!("{:?}", c.kind).to_lowercase();
            let kind = if c.open {
                format!("{kind} **open**")
            } else {
                kind
            };
            s.push_str(&format!(
                "| {kind} | {section} | {level} | {id}{text} | {} |\n",
                cases_cell(c)
            ));
        }
        s
    }
}

impl SpecCheck {
    pub fn markdown(&self, name: &str) -> String {
        let mut s = format!(
            "# Spec check: {name} against cases/requirements.yaml\n\n{} requirement sentences in the draft; {} unlisted, {} stale entries, {} misquoting cases; {} open MUSTs.\n",
            self.requirements,
            self.unlisted.len(),
            self.stale.len(),
            self.misquoted.len(),
            self.open.len()
        );
        if !self.unlisted.is_empty() {
            s.push_str("\n## In the draft, not in cases/requirements.yaml\n\n");
            for u in &self.unlisted {
                s.push_str(&format!(
                    "- line {} (§{} {}): {}\n",
                    u.line, u.section, u.level, u.text
                ));
            }
        }
        if !self.stale.is_empty() {
            s.push_str("\n## In cases/requirements.yaml, not borne out by the draft\n\n");
            for x in &self.stale {
                s.push_str(&format!("- {}: {}\n", x.id, x.problem));
            }
        }
        if !self.misquoted.is_empty() {
            s.push_str("\n## Cases quoting text the draft does not have\n\n");
            for m in &self.misquoted {
                s.push_str(&format!("- {m}\n"));
            }
        }
        if !self.open.is_empty() {
            s.push_str("\n## Open MUSTs (no case, no exclusion)\n\n");
            for o in &self.open {
                s.push_str(&format!("- {o}\n"));
            }
        }
        s
    }
}
