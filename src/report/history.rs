//! Results over time: `diff` (two result files, each verdict change with its
//! cause) and `history` (result files in order, e.g. one per SDK release:
//! per requirement, when it started or stopped passing).
//!
//! A cause is told from the provenance a results file records
//! ([`super::provenance`]): the requirement's sentence hash differs -> the
//! requirement changed; the case's content hash differs -> the case changed;
//! both equal -> the implementation changed.

use super::html::{class, esc, STYLE};
use super::provenance::RequirementRef;
use super::{CaseRecord, RunReport};
use crate::conformance::{normalize, requirements};
use crate::verdict::Verdict;
use std::collections::{BTreeMap, BTreeSet};

/// Why a case's verdict differs between two runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Same case, same requirement text: the implementation changed.
    Implementation,
    /// The sentence of these requirements differs (ids).
    Requirement(Vec<String>),
    /// The case's content differs.
    Case,
    /// A file lacks the hashes that would tell (written before they existed).
    Unknown,
}

impl Cause {
    pub fn describe(&self) -> String {
        match self {
            Cause::Implementation => "the implementation changed".into(),
            Cause::Requirement(ids) => format!("the requirement changed: {}", ids.join(", ")),
            Cause::Case => "the case changed".into(),
            Cause::Unknown => "cause unknown: a file has no requirement/case hashes".into(),
        }
    }
}

/// The cause of a difference between two records of one case.
pub fn cause(old: &CaseRecord, new: &CaseRecord) -> Cause {
    if old.case_hash.is_none() || new.case_hash.is_none() {
        return Cause::Unknown;
    }
    let hashes = |r: &[RequirementRef]| -> BTreeMap<String, String> {
        r.iter().map(|x| (x.id.clone(), x.hash.clone())).collect()
    };
    let (a, b) = (hashes(&old.requirements), hashes(&new.requirements));
    let changed: Vec<String> = a
        .keys()
        .chain(b.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|id| a.get(*id) != b.get(*id))
        .cloned()
        .collect();
    if !changed.is_empty() {
        Cause::Requirement(changed)
    } else if old.case_hash != new.case_hash {
        Cause::Case
    } else {
        Cause::Implementation
    }
}

/// What changed between two result files, one line per case.
pub fn diff(old: &RunReport, new: &RunReport) -> Vec<String> {
    let mut out = vec![];
    if let (Some(a), Some(b)) = (&old.spec, &new.spec) {
        if a != b {
            out.push(format!(
                "! spec: {} {} ({}) -> {} {} ({})",
                a.file, a.version, a.hash, b.file, b.version, b.hash
            ));
        }
    }
    let old_map: BTreeMap<&str, &CaseRecord> = old.records().map(|c| (c.id.as_str(), c)).collect();
    let new_map: BTreeMap<&str, &CaseRecord> = new.records().map(|c| (c.id.as_str(), c)).collect();
    for (id, n) in &new_map {
        match old_map.get(id) {
            // Result files before invariant entries: a rule that held is no news.
            None if n.seen.is_none() && n.tags.iter().any(|t| t == "invariant") => {}
            None => out.push(format!("+ {id}: {} (new case)", n.verdict)),
            Some(o) if o.verdict != n.verdict => {
                let dir = if n.verdict() < o.verdict() {
                    "improved"
                } else {
                    "regressed"
                };
                out.push(format!(
                    "~ {id}: {} -> {} ({dir}) [{}] {}",
                    o.verdict,
                    n.verdict,
                    cause(o, n).describe(),
                    n.reason
                ))
            }
            Some(o) => {
                // Same verdict, but not the same question: worth knowing.
                if let c @ (Cause::Requirement(_) | Cause::Case) = cause(o, n) {
                    out.push(format!("= {id}: {} [{}]", n.verdict, c.describe()))
                }
            }
        }
    }
    for (id, o) in &old_map {
        if !new_map.contains_key(id) {
            out.push(format!("- {id}: {} (case removed)", o.verdict));
        }
    }
    out
}

/// One column of a history: a label (e.g. an SDK version) and the runs
/// under it (e.g. its runtime and client suites).
pub struct Column {
    pub label: String,
    pub reports: Vec<RunReport>,
}

/// A requirement's standing in one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Every case that checks it and ran passed (INFO and N/A aside).
    Pass,
    /// The worst verdict of the cases that check it.
    Not(Verdict),
    /// No case that checks it ran (or all were N/A).
    Absent,
}

impl Standing {
    fn label(&self) -> String {
        match self {
            Standing::Pass => "PASS".into(),
            Standing::Not(v) => v.label().into(),
            Standing::Absent => "—".into(),
        }
    }
}

/// Per requirement of cases/requirements.yaml, its standing in each column.
pub struct History {
    pub labels: Vec<String>,
    /// (requirement id, § , level, standings, cases by column)
    pub rows: Vec<Row>,
}

pub struct Row {
    pub id: String,
    pub section: String,
    pub level: String,
    pub standings: Vec<Standing>,
    /// The non-passing cases of each column, `id VERDICT`.
    pub failing: Vec<Vec<String>>,
}

impl Row {
    /// "started passing in B", "stopped passing in C", or how it stood throughout.
    pub fn events(&self, labels: &[String]) -> String {
        let mut ev = vec![];
        let mut prev: Option<bool> = None;
        for (i, s) in self.standings.iter().enumerate() {
            let now = match s {
                Standing::Pass => true,
                Standing::Not(_) => false,
                Standing::Absent => continue,
            };
            match prev {
                Some(false) if now => ev.push(format!("started passing in {}", labels[i])),
                Some(true) if !now => ev.push(format!("stopped passing in {}", labels[i])),
                _ => {}
            }
            prev = Some(now);
        }
        if !ev.is_empty() {
            return ev.join("; ");
        }
        match prev {
            Some(true) => "passes throughout".into(),
            Some(false) => "never passes".into(),
            None => "not checked".into(),
        }
    }

    fn changed(&self) -> bool {
        let seen: BTreeSet<bool> = self
            .standings
            .iter()
            .filter_map(|s| match s {
                Standing::Pass => Some(true),
                Standing::Not(_) => Some(false),
                Standing::Absent => None,
            })
            .collect();
        seen.len() > 1
    }
}

/// Requirement ids a record checks: recorded, or for older files worked out
/// from its quote.
fn ids_of(c: &CaseRecord, reqs: &[(String, String)]) -> Vec<String> {
    if !c.requirements.is_empty() {
        return c.requirements.iter().map(|r| r.id.clone()).collect();
    }
    let q = normalize(&c.requirement);
    reqs.iter()
        .filter(|(_, text)| text.contains(q.as_str()))
        .map(|(id, _)| id.clone())
        .collect()
}

pub fn history(columns: &[Column]) -> History {
    let reqs = requirements();
    let texts: Vec<(String, String)> = reqs
        .iter()
        .map(|r| (r.id.clone(), normalize(&r.text)))
        .collect();
    // requirement id -> column -> verdicts of its cases
    let mut by_req: BTreeMap<String, Vec<Vec<(String, Verdict)>>> = BTreeMap::new();
    for (i, col) in columns.iter().enumerate() {
        for c in col.reports.iter().flat_map(|r| &r.cases) {
            for id in ids_of(c, &texts) {
                by_req
                    .entry(id)
                    .or_insert_with(|| vec![vec![]; columns.len()])[i]
                    .push((c.id.clone(), c.verdict()));
            }
        }
    }
    let rows = reqs
        .iter()
        .filter_map(|r| {
            let cols = by_req.get(&r.id)?;
            let standings = cols.iter().map(|v| standing(v)).collect();
            let failing = cols
                .iter()
                .map(|v| {
                    v.iter()
                        .filter(|(_, x)| !passing(*x))
                        .map(|(id, x)| format!("{id} {}", x.label()))
                        .collect()
                })
                .collect();
            Some(Row {
                id: r.id.clone(),
                section: r.section.clone(),
                level: r.level.clone(),
                standings,
                failing,
            })
        })
        .collect();
    History {
        labels: columns.iter().map(|c| c.label.clone()).collect(),
        rows,
    }
}

fn passing(v: Verdict) -> bool {
    matches!(v, Verdict::Pass | Verdict::Info | Verdict::NotApplicable)
}

fn standing(verdicts: &[(String, Verdict)]) -> Standing {
    let ran: Vec<Verdict> = verdicts
        .iter()
        .map(|(_, v)| *v)
        .filter(|v| *v != Verdict::NotApplicable)
        .collect();
    match ran.iter().filter(|v| !passing(**v)).max() {
        Some(v) => Standing::Not(*v),
        None if ran.is_empty() => Standing::Absent,
        None => Standing::Pass,
    }
}

impl History {
    fn summary(&self) -> String {
        let changed = self.rows.iter().filter(|r| r.changed()).count();
        let mut s = format!(
            "{} requirements checked in {} columns ({}); {} changed standing.\n",
            self.rows.len(),
            self.labels.len(),
            self.labels.join(", "),
            changed
        );
        let pass_counts: Vec<String> = (0..self.labels.len())
            .map(|i| {
                let p = self
                    .rows
                    .iter()
                    .filter(|r| r.standings[i] == Standing::Pass)
                    .count();
                let n = self
                    .rows
                    .iter()
                    .filter(|r| matches!(r.standings[i], Standing::Not(_)))
                    .count();
                format!("{}: {p} passing, {n} not", self.labels[i])
            })
            .collect();
        s.push_str(&format!("{}.\n", pass_counts.join("; ")));
        s
    }

    pub fn markdown(&self) -> String {
        let mut s = self.summary();
        let changed: Vec<&Row> = self.rows.iter().filter(|r| r.changed()).collect();
        if !changed.is_empty() {
            s.push_str("\n## Changes\n\n");
            for r in changed {
                s.push_str(&format!(
                    "- {} (§{} {}): {}\n",
                    r.id,
                    r.section,
                    r.level,
                    r.events(&self.labels)
                ));
            }
        }
        s.push_str("\n## Requirements\n\n| requirement | § | level |");
        for l in &self.labels {
            s.push_str(&format!(" {l} |"));
        }
        s.push_str(" history | not passing (last column) |\n|---|---|---|");
        s.push_str(&"---|".repeat(self.labels.len() + 2));
        s.push('\n');
        for r in &self.rows {
            s.push_str(&format!("| {} | {} | {} |", r.id, r.section, r.level));
            for st in &r.standings {
                s.push_str(&format!(" {} |", st.label()));
            }
            let last = r.failing.last().cloned().unwrap_or_default();
            s.push_str(&format!(
                " {} | {} |\n",
                r.events(&self.labels),
                last.join("<br>")
            ));
        }
        s
    }

    pub fn html(&self) -> String {
        let mut s = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>arcp-conform history</title>{STYLE}</head><body><h1>Requirement history</h1><p>{}</p><table><tr><th>requirement</th><th>§</th><th>level</th>",
            esc(&self.summary()).replace('\n', "<br>")
        );
        for l in &self.labels {
            s.push_str(&format!("<th>{}</th>", esc(l)));
        }
        s.push_str("<th>history</th></tr>");
        for r in &self.rows {
            s.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td>",
                esc(&r.id),
                esc(&r.section),
                esc(&r.level)
            ));
            for (st, failing) in r.standings.iter().zip(&r.failing) {
                let cls = match st {
                    Standing::Pass => "pass",
                    Standing::Not(v) => class(v.label()),
                    Standing::Absent => "na",
                };
                s.push_str(&format!(
                    "<td class=\"{cls}\" title=\"{}\">{}</td>",
                    esc(&failing.join("\n")),
                    esc(&st.label())
                ));
            }
            let ev = r.events(&self.labels);
            let ev = if r.changed() {
                format!("<b>{}</b>", esc(&ev))
            } else {
                esc(&ev)
            };
            s.push_str(&format!("<td>{ev}</td></tr>"));
        }
        s.push_str("</table></body></html>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(
        id: &str,
        verdict: &str,
        req_hash: Option<&str>,
        case_hash: Option<&str>,
    ) -> CaseRecord {
        let mut v = json!({
            "id": id, "title": "", "sections": ["6.4"], "level": "MUST",
            "requirement": "The receiver MUST respond promptly", "source": "x.yaml:1",
            "verdict": verdict, "reason": "", "duration_ms": 0.0
        });
        if let Some(h) = req_hash {
            v["requirements"] = json!([{"id": "R6.4-2", "hash": h}]);
        }
        if let Some(h) = case_hash {
            v["case_hash"] = json!(h);
        }
        serde_json::from_value(v).unwrap()
    }

    fn report(name: &str, cases: Vec<CaseRecord>) -> RunReport {
        serde_json::from_value(json!({
            "tool": "t", "name": name, "target": "t", "started_at": "", "duration_ms": 0.0, "cases": []
        }))
        .map(|mut r: RunReport| {
            r.cases = cases;
            r
        })
        .unwrap()
    }

    #[test]
    fn causes_are_told_apart() {
        let old = record("a", "PASS", Some("h1"), Some("c1"));
        let same = record("a", "FAIL", Some("h1"), Some("c1"));
        assert_eq!(cause(&old, &same), Cause::Implementation);
        let req = record("a", "FAIL", Some("h2"), Some("c2"));
        assert_eq!(cause(&old, &req), Cause::Requirement(vec!["R6.4-2".into()]));
        let case = record("a", "FAIL", Some("h1"), Some("c2"));
        assert_eq!(cause(&old, &case), Cause::Case);
        // A file from before the hashes loads, and says it cannot tell.
        let legacy = record("a", "PASS", None, None);
        assert_eq!(cause(&legacy, &same), Cause::Unknown);
        let lines = diff(&report("o", vec![old]), &report("n", vec![same]));
        assert_eq!(
            lines,
            vec!["~ a: PASS -> FAIL (regressed) [the implementation changed] "]
        );
        let lines = diff(
            &report("o", vec![record("a", "PASS", Some("h1"), Some("c1"))]),
            &report("n", vec![record("a", "PASS", Some("h2"), Some("c1"))]),
        );
        assert_eq!(lines, vec!["= a: PASS [the requirement changed: R6.4-2]"]);
    }

    #[test]
    fn history_shows_when_a_requirement_started_and_stopped_passing() {
        let col = |label: &str, v: &str| Column {
            label: label.into(),
            reports: vec![report(label, vec![record("a", v, None, None)])],
        };
        let h = history(&[
            col("1.1.1", "FAIL"),
            col("1.1.2", "PASS"),
            col("1.1.3", "FAIL"),
        ]);
        // Older files without requirement ids are matched on the case's quote.
        let row = h.rows.iter().find(|r| r.id == "R6.4-2").unwrap();
        assert_eq!(
            row.standings,
            vec![
                Standing::Not(Verdict::Fail),
                Standing::Pass,
                Standing::Not(Verdict::Fail)
            ]
        );
        assert_eq!(
            row.events(&h.labels),
            "started passing in 1.1.2; stopped passing in 1.1.3"
        );
        let md = h.markdown();
        assert!(
            md.contains("- R6.4-2 (§6.4 MUST): started passing in 1.1.2; stopped passing in 1.1.3"),
            "{md}"
        );
        assert!(h.html().contains("<b>started passing in 1.1.2"));
    }
}
