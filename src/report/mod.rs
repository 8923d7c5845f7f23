//! Reports: the run as data ([`RunReport`]), and its renderings for a
//! person ([`console`]) and for CI ([`junit`], JSON).

pub mod baseline;
pub mod console;
pub mod history;
pub mod html;
pub mod junit;
pub mod provenance;
pub mod stall;

use crate::checks::Invariant;
use crate::engine::runner::CaseResult;
use crate::verdict::{Outcome, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One case's result with the case's own description, as stored in JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseRecord {
    pub id: String,
    pub title: String,
    pub sections: Vec<String>,
    pub level: String,
    pub requirement: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub source: String,
    pub verdict: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dialect: Vec<String>,
    /// Set when a baseline expected this result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baselined: Option<String>,
    pub duration_ms: f64,
    #[serde(default)]
    pub wire: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr: String,
    /// The requirements the case checks, with a hash of each sentence (absent in older files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<provenance::RequirementRef>,
    /// A hash of the case's content (absent in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_hash: Option<String>,
    /// In a case: the per-frame rules broken while it ran. Each is its own
    /// entry in [`RunReport::invariants`]; the case's verdict is its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invariants: Vec<String>,
    /// In an invariant entry: where the rule was broken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<Seen>,
    /// Passed only on a retry with larger deadlines: why the first try failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flaky: Option<String>,
}

/// Where a per-frame rule was broken in a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seen {
    /// Frames that broke it, over all cases.
    pub count: u64,
    /// The cases it was broken in, by id.
    pub cases: Vec<String>,
    /// The first violation: of the first case (by id) that saw one.
    pub first: FirstSeen,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FirstSeen {
    pub case: String,
    pub session: String,
    pub detail: String,
    /// The frame, redacted and cut like the wire log.
    pub frame: String,
}

/// Wire-log entries kept before an invariant's first violation note.
const EXCERPT_BEFORE: usize = 8;

impl CaseRecord {
    /// The entry of one per-frame rule for the whole run: FAIL (or WARN for
    /// a SHOULD) with every case it was broken in, PASS when none broke it.
    pub fn for_invariant(inv: &Invariant, results: &[CaseResult]) -> CaseRecord {
        let mut hits: Vec<(&CaseResult, &crate::verdict::Sighting)> = results
            .iter()
            .filter_map(|r| {
                r.outcome
                    .violations
                    .iter()
                    .find(|v| v.invariant.id == inv.id)
                    .map(|v| (r, v))
            })
            .collect();
        hits.sort_by(|a, b| a.0.case.id.cmp(&b.0.case.id));
        let count: u64 = hits.iter().map(|(_, v)| v.count).sum();
        let mut rec = CaseRecord {
            id: inv.id.to_string(),
            title: format!("Per-frame invariant (§{})", inv.section),
            sections: vec![inv.section.to_string()],
            level: inv.level.label().to_string(),
            requirement: inv.requirement.to_string(),
            tags: vec!["invariant".into()],
            source: "src/checks.rs".into(),
            verdict: Verdict::Pass.label().to_string(),
            reason: String::new(),
            expected: None,
            actual: None,
            step_line: None,
            origin: None,
            dialect: vec![],
            baselined: None,
            duration_ms: 0.0,
            wire: vec![],
            stderr: String::new(),
            requirements: vec![],
            case_hash: None,
            invariants: vec![],
            seen: None,
            flaky: None,
        };
        let Some((first, v)) = hits.first() else {
            return rec;
        };
        rec.verdict = Verdict::for_level(inv.level).label().to_string();
        rec.reason = format!(
            "{count} frame{} in {} case{}; first in {}: {}",
            if count == 1 { "" } else { "s" },
            hits.len(),
            if hits.len() == 1 { "" } else { "s" },
            first.case.id,
            v.detail
        );
        rec.expected = Some(format!("every frame obeys: \"{}\"", inv.requirement));
        rec.actual = Some(v.detail.clone());
        // The first case's log up to the note of the violation.
        let note = format!("violation {} ", inv.id);
        let wire = &first.outcome.wire;
        let end = wire
            .iter()
            .position(|w| w.dir == crate::verdict::Direction::Note && w.text.starts_with(&note))
            .map_or(wire.len(), |i| i + 1);
        rec.wire = wire[end.saturating_sub(EXCERPT_BEFORE + 1)..end]
            .iter()
            .map(|w| serde_json::to_value(w).unwrap_or_default())
            .collect();
        rec.seen = Some(Seen {
            count,
            cases: hits.iter().map(|(r, _)| r.case.id.clone()).collect(),
            first: FirstSeen {
                case: first.case.id.clone(),
                session: v.session.clone(),
                detail: v.detail.clone(),
                frame: v.frame.clone(),
            },
        });
        rec
    }

    pub fn from_result(r: &CaseResult) -> CaseRecord {
        let c = &r.case;
        let o: &Outcome = &r.outcome;
        CaseRecord {
            id: c.id.clone(),
            title: c.title.clone(),
            sections: c.sections.clone(),
            level: c.level.label().to_string(),
            requirement: c.requirement.clone(),
            tags: c.tags.clone(),
            source: c.location(),
            verdict: o.verdict.label().to_string(),
            reason: o.reason.clone(),
            expected: o.expected.clone(),
            actual: o.actual.clone(),
            step_line: o.step_line,
            origin: o.origin.map(|x| format!("{x:?}").to_lowercase()),
            dialect: o.dialect.clone(),
            baselined: None,
            duration_ms: o.duration.as_secs_f64() * 1000.0,
            wire: o
                .wire
                .iter()
                .map(|w| serde_json::to_value(w).unwrap_or_default())
                .collect(),
            stderr: o.stderr.clone(),
            requirements: provenance::requirements_of(c),
            case_hash: Some(provenance::case_hash(c)),
            invariants: o
                .violations
                .iter()
                .map(|v| v.invariant.id.to_string())
                .collect(),
            seen: None,
            flaky: o.flaky.clone(),
        }
    }

    pub fn verdict(&self) -> Verdict {
        Verdict::parse(&self.verdict).unwrap_or(Verdict::Error)
    }

    /// Spec area: the first segment of the id (`session`, `jobs`, ...).
    pub fn area(&self) -> &str {
        self.id.split('.').next().unwrap_or(&self.id)
    }

    /// The wire log as text lines.
    pub fn wire_lines(&self) -> Vec<String> {
        self.wire
            .iter()
            .filter_map(|w| serde_json::from_value::<WireLine>(w.clone()).ok())
            .map(|w| {
                let arrow = match w.dir.as_str() {
                    "out" => "->",
                    "in" => "<-",
                    _ => "--",
                };
                format!("{:>9.1}ms {arrow} [{}] {}", w.t_ms, w.session, w.text)
            })
            .collect()
    }

    /// The failure text: requirement, expected, actual and wire log.
    pub fn failure_text(&self) -> String {
        let mut s = format!(
            "{} — {}\nrequirement (§{}, {}): \"{}\"\n",
            self.verdict,
            self.reason,
            self.sections.join(", §"),
            self.level,
            self.requirement
        );
        if let Some(l) = self.step_line {
            s.push_str(&format!(
                "at: {}:{l}\n",
                self.source.split(':').next().unwrap_or("")
            ));
        }
        if let Some(e) = &self.expected {
            s.push_str(&format!("expected: {e}\n"));
        }
        if let Some(a) = &self.actual {
            s.push_str(&format!("actual:   {a}\n"));
        }
        if let Some(seen) = &self.seen {
            let f = &seen.first;
            s.push_str(&format!(
                "first:    case {}, session [{}]\n",
                f.case, f.session
            ));
            if !f.frame.is_empty() {
                s.push_str(&format!("frame:    {}\n", f.frame));
            }
            s.push_str(&format!(
                "seen in:  {} ({} cases)\n",
                seen.cases.join(", "),
                seen.cases.len()
            ));
        }
        if !self.invariants.is_empty() {
            s.push_str(&format!(
                "also broke per-frame invariants (their own entries): {}\n",
                self.invariants.join(", ")
            ));
        }
        for d in &self.dialect {
            s.push_str(&format!("dialect:  {d}\n"));
        }
        if !self.wire.is_empty() {
            s.push_str("wire log:\n");
            for l in self.wire_lines() {
                s.push_str("  ");
                s.push_str(&l);
                s.push('\n');
            }
        }
        if !self.stderr.is_empty() {
            s.push_str("target stderr:\n");
            s.push_str(&self.stderr);
            s.push('\n');
        }
        s
    }
}

#[derive(Deserialize)]
struct WireLine {
    t_ms: f64,
    session: String,
    dir: String,
    text: String,
}

/// Everything about one run; the `--json` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub tool: String,
    /// Short name of the implementation (profile name), a matrix column.
    #[serde(default)]
    pub name: String,
    pub target: String,
    pub started_at: String,
    pub duration_ms: f64,
    /// The spec the cases were judged against (absent in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<crate::spec::SpecStamp>,
    /// One entry per per-frame rule the suite checks: a root cause is one
    /// finding, however many cases saw it.
    #[serde(default)]
    pub invariants: Vec<CaseRecord>,
    pub cases: Vec<CaseRecord>,
    /// Only some cases ran (`--select`, `--tag`, ...): a rule that did not
    /// fire may simply not have been exercised.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub subset: bool,
    /// Failed cases that stalled at the same point: one root cause, listed
    /// once with its cases (no verdict of its own: see [`stall`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stalls: Vec<stall::Stall>,
}

impl RunReport {
    pub fn new(
        name: String,
        target: String,
        started_at: String,
        duration: std::time::Duration,
        results: &[CaseResult],
        rules: &[&Invariant],
    ) -> RunReport {
        let mut cases: Vec<CaseRecord> = results.iter().map(CaseRecord::from_result).collect();
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        let mut invariants: Vec<CaseRecord> = rules
            .iter()
            .map(|i| CaseRecord::for_invariant(i, results))
            .collect();
        invariants.sort_by(|a, b| a.id.cmp(&b.id));
        let stalls = stall::group(&cases);
        RunReport {
            tool: format!("arcp-conform {}", env!("CARGO_PKG_VERSION")),
            name,
            target,
            started_at,
            duration_ms: duration.as_secs_f64() * 1000.0,
            spec: Some(crate::spec::stamp()),
            invariants,
            cases,
            subset: false,
            stalls,
        }
    }

    /// Invariant entries, then cases: everything a baseline, a diff or a
    /// matrix compares by id.
    pub fn records(&self) -> impl Iterator<Item = &CaseRecord> {
        self.invariants.iter().chain(&self.cases)
    }

    pub fn records_mut(&mut self) -> impl Iterator<Item = &mut CaseRecord> {
        self.invariants.iter_mut().chain(&mut self.cases)
    }

    /// Invariants broken in this run (root causes), worst first.
    pub fn broken(&self) -> Vec<&CaseRecord> {
        let mut v: Vec<&CaseRecord> = self
            .invariants
            .iter()
            .filter(|i| i.verdict() != Verdict::Pass)
            .collect();
        v.sort_by_key(|i| std::cmp::Reverse(i.verdict()));
        v
    }

    /// Does anything fail the run that no baseline accepted?
    pub fn fails(&self, strict: bool) -> bool {
        self.records()
            .any(|c| c.verdict().fails_run(strict) && c.baselined.is_none())
    }

    pub fn counts(&self) -> BTreeMap<Verdict, usize> {
        let mut m = BTreeMap::new();
        for c in &self.cases {
            *m.entry(c.verdict()).or_insert(0) += 1;
        }
        m
    }

    pub fn load(path: &std::path::Path) -> Result<RunReport, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a result file: {e}", path.display()))
    }

    /// The `--json` text (secrets are redacted by the writer, [`crate::redact::output`]).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn write_json(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, crate::redact::output(&self.to_json()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Sighting;
    use std::sync::Arc;

    fn result(id: &str, verdict: Verdict, seen: &[(&'static Invariant, u64)]) -> CaseResult {
        let text = format!(
            "id: {id}\ntitle: t\nsections: [\"8.3\"]\nlevel: MUST\nrequirement: r\nsteps:\n  - open: {{}}\n"
        );
        let case = crate::case::parse_str(&text, std::path::Path::new("t.yaml"))
            .unwrap()
            .remove(0);
        let mut outcome = Outcome::new(verdict, "");
        outcome.violations = seen
            .iter()
            .map(|(inv, n)| Sighting {
                invariant: inv,
                count: *n,
                detail: format!("{} broken in {id}", inv.id),
                session: "a".into(),
                frame: "{}".into(),
                t_ms: 0.0,
            })
            .collect();
        CaseResult {
            case: Arc::new(case),
            outcome,
        }
    }

    #[test]
    fn one_invariant_broken_in_many_cases_is_one_entry_and_cases_keep_their_verdicts() {
        use crate::checks::{FEATURES, SCHEMA};
        let results = [
            result("b.two", Verdict::Pass, &[(&FEATURES, 2)]),
            result("a.one", Verdict::Pass, &[(&FEATURES, 1)]),
            result("c.three", Verdict::Fail, &[]),
        ];
        let r = RunReport::new(
            "t".into(),
            "t".into(),
            String::new(),
            std::time::Duration::ZERO,
            &results,
            crate::checks::ALL,
        );
        assert_eq!(r.invariants.len(), crate::checks::ALL.len());
        let broken = r.broken();
        assert_eq!(broken.len(), 1);
        let e = broken[0];
        assert_eq!(
            (e.id.as_str(), e.verdict()),
            ("frame.features", Verdict::Fail)
        );
        let seen = e.seen.as_ref().unwrap();
        assert_eq!(seen.count, 3);
        assert_eq!(seen.cases, ["a.one", "b.two"]);
        assert_eq!(seen.first.case, "a.one");
        assert!(e.reason.starts_with("3 frames in 2 cases; first in a.one"));
        let schema = r.records().find(|c| c.id == SCHEMA.id).unwrap();
        assert_eq!(schema.verdict(), Verdict::Pass);
        // The cases keep their own verdicts, with a pointer to the rule.
        let one = r.cases.iter().find(|c| c.id == "a.one").unwrap();
        assert_eq!(
            (one.verdict(), one.invariants.clone()),
            (Verdict::Pass, vec!["frame.features".to_string()])
        );
        assert!(r.fails(false));
        // JUnit: one failure for the rule, one for the failing case.
        let xml = junit::render(&r, false);
        assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
        assert!(xml.contains("name=\"frame.features\""));
        assert!(xml.contains("classname=\"arcp-conform.invariants\""));
        // A baseline lists the rule by id; it round-trips through JSON.
        let b = baseline::Baseline::from_report(&r, false, None);
        let ids: Vec<&str> = b.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["frame.features", "c.three"]);
        let mut again: RunReport =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert!(b
            .apply(
                &mut again,
                chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
            )
            .is_empty());
        assert!(!again.fails(false));
        // A run that no longer breaks it: the entry is stale.
        let clean = RunReport::new(
            "t".into(),
            "t".into(),
            String::new(),
            std::time::Duration::ZERO,
            &results[2..],
            crate::checks::ALL,
        );
        let mut clean = clean;
        let problems = b.apply(
            &mut clean,
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("frame.features: stale")),
            "{problems:?}"
        );
        let mut out = vec![];
        console::root_causes(
            &mut out,
            console::Style {
                color: false,
                verbose: false,
            },
            &r,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("FAIL frame.features (§6.2, MUST) — 3 frames in 2 cases"),
            "{text}"
        );
    }
}
