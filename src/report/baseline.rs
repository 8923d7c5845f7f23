//! Baselines: expected non-passing results per case id, so CI stays green on
//! known deviations and turns red on new ones, and on entries gone stale.

use super::RunReport;
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    /// The verdict expected (FAIL, WARN, ERROR, UNTESTABLE, ...).
    pub verdict: String,
    pub reason: String,
    /// Known-flaky: may pass or not; never stale.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
    /// A flaky entry stops applying after this date (YYYY-MM-DD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--baseline {}: {e}", path.display()))?;
        let b: Baseline = serde_yaml_ng::from_str(&text).map_err(|e| match e.location() {
            Some(l) => format!("{}:{}:{}: {e}", path.display(), l.line(), l.column()),
            None => format!("{}: {e}", path.display()),
        })?;
        for e in &b.entries {
            if Verdict::parse(&e.verdict).is_none() {
                return Err(format!(
                    "{}: entry {}: unknown verdict `{}`",
                    path.display(),
                    e.id,
                    e.verdict
                ));
            }
            if let Some(d) = &e.expires {
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                    format!(
                        "{}: entry {}: expires `{d}` is not YYYY-MM-DD",
                        path.display(),
                        e.id
                    )
                })?;
            }
        }
        Ok(b)
    }

    /// A baseline that accepts every result of `report` that fails the run.
    /// Entries of `previous` that still apply keep their reason and flags, so
    /// refreshing a baseline does not lose what people wrote.
    pub fn from_report(report: &RunReport, strict: bool, previous: Option<&Baseline>) -> Baseline {
        let old = |id: &str| previous.and_then(|p| p.entries.iter().find(|e| e.id == id));
        let entries = report
            .records()
            .filter_map(|c| match old(&c.id) {
                // Flaky entries stay while their case exists; others while the verdict holds.
                Some(e) if e.flaky || e.verdict == c.verdict => Some(e.clone()),
                _ if c.verdict().fails_run(strict) => Some(Entry {
                    id: c.id.clone(),
                    verdict: c.verdict.clone(),
                    reason: c.reason.chars().take(300).collect(),
                    flaky: false,
                    expires: None,
                }),
                _ => None,
            })
            .collect();
        Baseline {
            target: Some(report.name.clone()),
            entries,
        }
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }

    /// Mark baselined results in `report`; return the problems that fail the
    /// run besides unlisted failures: stale entries, changed verdicts.
    pub fn apply(&self, report: &mut RunReport, today: chrono::NaiveDate) -> Vec<String> {
        let mut problems = vec![];
        let subset = report.subset;
        let rules: Vec<String> = report.invariants.iter().map(|i| i.id.clone()).collect();
        for e in &self.entries {
            let expired = e
                .expires
                .as_deref()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .is_some_and(|d| today > d);
            let Some(c) = report.records_mut().find(|c| c.id == e.id) else {
                continue; // not selected in this run
            };
            if expired {
                problems.push(format!(
                    "{}: baseline entry expired on {} (remove or renew it)",
                    e.id,
                    e.expires.as_deref().unwrap_or("")
                ));
                continue;
            }
            let got = c.verdict();
            if got == Verdict::Pass {
                // A rule that did not fire in a subset run may not have been exercised.
                let unexercised = subset && rules.contains(&e.id);
                if !(e.flaky || unexercised) {
                    problems.push(format!(
                        "{}: stale baseline entry — the case now passes; remove it from the baseline",
                        e.id
                    ));
                }
                continue;
            }
            // A listed failure now INFO (its level follows a sentence without
            // RFC 2119 keyword) no longer fails the run: the entry is dead.
            if got == Verdict::Info && !e.verdict.eq_ignore_ascii_case("INFO") && !e.flaky {
                problems.push(format!(
                    "{}: stale baseline entry — the case is now INFO, which does not fail the run; remove it from the baseline",
                    e.id
                ));
                continue;
            }
            if got.label().eq_ignore_ascii_case(&e.verdict) || e.flaky {
                c.baselined = Some(e.reason.clone());
            } else if got.fails_run(true) {
                problems.push(format!(
                    "{}: baseline expects {}, got {got} — {}",
                    e.id, e.verdict, c.reason
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::CaseRecord;

    fn record(id: &str, verdict: &str) -> CaseRecord {
        CaseRecord {
            id: id.into(),
            title: String::new(),
            sections: vec![],
            level: "MUST".into(),
            requirement: String::new(),
            tags: vec![],
            source: String::new(),
            verdict: verdict.into(),
            reason: "r".into(),
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
        }
    }

    fn report(cases: Vec<CaseRecord>) -> RunReport {
        RunReport {
            tool: String::new(),
            name: "t".into(),
            target: String::new(),
            started_at: String::new(),
            duration_ms: 0.0,
            spec: None,
            invariants: vec![],
            cases,
            subset: false,
            stalls: vec![],
        }
    }

    fn entry(id: &str, verdict: &str) -> Entry {
        Entry {
            id: id.into(),
            verdict: verdict.into(),
            reason: "known".into(),
            flaky: false,
            expires: None,
        }
    }

    #[test]
    fn listed_failures_pass_stale_entries_fail_changed_verdicts_fail() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let b = Baseline {
            target: None,
            entries: vec![
                entry("a", "FAIL"),
                entry("b", "FAIL"),
                entry("c", "FAIL"),
                entry("e", "FAIL"),
            ],
        };
        let mut r = report(vec![
            record("a", "FAIL"),
            record("b", "PASS"),
            record("c", "ERROR"),
            record("d", "FAIL"),
            record("e", "INFO"),
        ]);
        let problems = b.apply(&mut r, today);
        assert_eq!(r.cases[0].baselined.as_deref(), Some("known"));
        assert!(problems.iter().any(|p| p.starts_with("b: stale")));
        assert!(problems
            .iter()
            .any(|p| p.starts_with("c: baseline expects FAIL, got ERROR")));
        assert!(r.cases[3].baselined.is_none());
        // A FAIL now INFO (a level lowered to what its sentence supports).
        assert!(problems
            .iter()
            .any(|p| p.starts_with("e: stale baseline entry — the case is now INFO")));
        assert_eq!(problems.len(), 3);
    }

    #[test]
    fn a_rule_that_did_not_fire_in_a_subset_run_is_not_stale() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let b = Baseline {
            target: None,
            entries: vec![entry("frame.x", "FAIL"), entry("b", "FAIL")],
        };
        let run = |subset| {
            let mut r = report(vec![record("b", "PASS")]);
            r.invariants = vec![record("frame.x", "PASS")];
            r.subset = subset;
            b.apply(&mut r, today)
        };
        // A case that ran and passed is stale either way; the rule only in a full run.
        let full = run(false);
        assert!(
            full.iter().any(|p| p.starts_with("frame.x: stale")),
            "{full:?}"
        );
        let subset = run(true);
        assert!(
            !subset.iter().any(|p| p.starts_with("frame.x")),
            "{subset:?}"
        );
        assert!(subset.iter().any(|p| p.starts_with("b: stale")));
    }

    #[test]
    fn refreshing_keeps_reasons_that_still_apply() {
        let mut flaky = entry("f", "ERROR");
        flaky.flaky = true;
        let old = Baseline {
            target: None,
            entries: vec![entry("a", "FAIL"), entry("b", "FAIL"), flaky],
        };
        let r = report(vec![
            record("a", "FAIL"),
            record("b", "PASS"),
            record("c", "FAIL"),
            record("f", "PASS"),
        ]);
        let new = Baseline::from_report(&r, false, Some(&old));
        let ids: Vec<(&str, &str)> = new
            .entries
            .iter()
            .map(|e| (e.id.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(ids, [("a", "known"), ("c", "r"), ("f", "known")]);
    }

    #[test]
    fn flaky_entries_are_never_stale_until_they_expire() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let mut flaky = entry("a", "ERROR");
        flaky.flaky = true;
        flaky.expires = Some("2026-12-31".into());
        let b = Baseline {
            target: None,
            entries: vec![flaky.clone()],
        };
        let mut r = report(vec![record("a", "PASS")]);
        assert!(b.apply(&mut r, today).is_empty());
        let mut expired = flaky;
        expired.expires = Some("2026-11-01".into());
        let b = Baseline {
            target: None,
            entries: vec![expired],
        };
        let mut r = report(vec![record("a", "ERROR")]);
        let p = b.apply(&mut r, today);
        assert!(p[0].contains("expired"));
        assert!(r.cases[0].baselined.is_none());
    }
}
