//! Reports: the run as data ([`RunReport`]), and its renderings for a
//! person ([`console`]) and for CI ([`junit`], JSON).

pub mod baseline;
pub mod console;
pub mod html;
pub mod junit;

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
}

impl CaseRecord {
    pub fn from_result(r: &CaseResult) -> CaseRecord {
        let c = &r.case;
        let o: &Outcome = &r.outcome;
        CaseRecord {
            id: c.id.clone(),
            title: c.title.clone(),
            sections: c.sections.clone(),
            level: c.level.as_str().to_string(),
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
    pub cases: Vec<CaseRecord>,
}

impl RunReport {
    pub fn new(
        name: String,
        target: String,
        started_at: String,
        duration: std::time::Duration,
        results: &[CaseResult],
    ) -> RunReport {
        let mut cases: Vec<CaseRecord> = results.iter().map(CaseRecord::from_result).collect();
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        RunReport {
            tool: format!("arcp-conform {}", env!("CARGO_PKG_VERSION")),
            name,
            target,
            started_at,
            duration_ms: duration.as_secs_f64() * 1000.0,
            cases,
        }
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
