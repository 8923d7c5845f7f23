//! Self-contained HTML: a single run, or a matrix of cases × implementations.
//! Readable offline: inline CSS and a few lines of JS for the filters.

use super::{CaseRecord, RunReport};
use crate::verdict::Verdict;
use std::collections::{BTreeMap, BTreeSet};

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn class(v: &str) -> &'static str {
    match Verdict::parse(v) {
        Some(Verdict::Pass) => "pass",
        Some(Verdict::Fail) | Some(Verdict::Error) => "fail",
        Some(Verdict::Warn) | Some(Verdict::Untestable) => "warn",
        Some(Verdict::Info) => "info",
        _ => "na",
    }
}

pub(crate) const STYLE: &str = r#"<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 6px;vertical-align:top}
th{background:#f4f4f4;position:sticky;top:0}
.pass{background:#d9f2d9}.fail{background:#f8d0d0}.warn{background:#fbecc0}.info{background:#d6ecf7}.na{background:#eee;color:#777}
.base{outline:2px dashed #999}
pre{background:#f7f7f7;padding:6px;overflow-x:auto;font-size:12px;max-height:30em}
details{margin:.3em 0 1em}.filters select{margin-right:1em}
</style>"#;

const SCRIPT: &str = r#"<script>
function filt(){const a=document.getElementById('area').value,l=document.getElementById('level').value,v=document.getElementById('verdict').value;
document.querySelectorAll('tr[data-area]').forEach(r=>{const ok=(!a||r.dataset.area==a)&&(!l||r.dataset.level==l)&&(!v||r.dataset.verdicts.split(' ').includes(v));r.style.display=ok?'':'none';});}
</script>"#;

fn filters(areas: &BTreeSet<String>) -> String {
    let opts = |name: &str, values: Vec<String>| {
        let mut s = format!("<label>{name} <select id=\"{name}\" onchange=\"filt()\"><option value=\"\">all</option>");
        for v in values {
            s.push_str(&format!("<option>{}</option>", esc(&v)));
        }
        s.push_str("</select></label>");
        s
    };
    format!(
        "<p class=\"filters\">{}{}{}</p>",
        opts("area", areas.iter().cloned().collect()),
        opts(
            "level",
            vec!["MUST".into(), "SHOULD".into(), "MAY".into(), "INFO".into()]
        ),
        opts(
            "verdict",
            Verdict::ALL.iter().map(|v| v.label().to_string()).collect()
        )
    )
}

fn detail(anchor: &str, c: &CaseRecord) -> String {
    format!(
        "<details id=\"{anchor}\"><summary><b class=\"{}\">{}</b> {} — {}</summary><pre>{}</pre></details>",
        class(&c.verdict),
        esc(&c.verdict),
        esc(&c.id),
        esc(&c.reason),
        esc(&c.failure_text())
    )
}

/// One run: summary, filterable table, and each non-passing case's detail.
pub fn run_page(report: &RunReport) -> String {
    let areas: BTreeSet<String> = report.cases.iter().map(|c| c.area().to_string()).collect();
    let mut s = format!(
        "<!doctype html><meta charset=utf-8><title>arcp-conform: {}</title>{STYLE}{SCRIPT}<h1>arcp-conform: {}</h1><p>{} · {} · {:.2} s</p>",
        esc(&report.name),
        esc(&report.name),
        esc(&report.target),
        esc(&report.started_at),
        report.duration_ms / 1000.0
    );
    let counts: Vec<String> = report
        .counts()
        .iter()
        .map(|(v, n)| format!("{n} {}", v.label()))
        .collect();
    s.push_str(&format!("<p><b>{}</b></p>", counts.join(", ")));
    let broken = report.broken();
    if !broken.is_empty() {
        s.push_str("<h2>Root causes</h2><p>Per-frame invariants the target broke, each once, with the cases it broke them in; those cases keep their own verdicts.</p><table><tr><th>invariant</th><th>§</th><th>level</th><th>verdict</th><th>frames</th><th>cases</th><th>first</th></tr>");
        for (i, c) in broken.iter().enumerate() {
            let seen = c.seen.as_ref();
            s.push_str(&format!(
                "<tr><td><a href=\"#i{i}\">{}</a></td><td>{}</td><td>{}</td><td class=\"{}{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.id),
                esc(&c.sections.join(", ")),
                esc(&c.level),
                class(&c.verdict),
                if c.baselined.is_some() { " base" } else { "" },
                esc(&c.verdict),
                seen.map_or(0, |x| x.count),
                seen.map_or(0, |x| x.cases.len()),
                esc(&seen.map_or(String::new(), |x| format!("{}: {}", x.first.case, x.first.detail)))
            ));
        }
        s.push_str("</table>");
        for (i, c) in broken.iter().enumerate() {
            s.push_str(&detail(&format!("i{i}"), c));
        }
    }
    if !report.stalls.is_empty() {
        // As the console has them: one root cause, each case one link.
        s.push_str("<h2>Stalls</h2><p>Cases that stalled at one point: one root cause the harness can name but not judge, listed once; not a verdict of its own.</p><ul>");
        for st in &report.stalls {
            let links: Vec<String> = st
                .cases
                .iter()
                .map(|id| match report.cases.iter().position(|c| &c.id == id) {
                    Some(i) => format!("<a href=\"#c{i}\">{}</a>", esc(id)),
                    None => esc(id),
                })
                .collect();
            s.push_str(&format!(
                "<li>{} cases stalled at one point: {}<br>{}</li>",
                st.cases.len(),
                esc(&st.point),
                links.join(", ")
            ));
        }
        s.push_str("</ul>");
    }
    if !broken.is_empty() || !report.stalls.is_empty() {
        s.push_str("<h2>Cases</h2>");
    }
    s.push_str(&filters(&areas));
    s.push_str(
        "<table><tr><th>case</th><th>§</th><th>level</th><th>verdict</th><th>reason</th></tr>",
    );
    for (i, c) in report.cases.iter().enumerate() {
        let link = if c.verdict() == Verdict::Pass {
            esc(&c.id)
        } else {
            format!("<a href=\"#c{i}\">{}</a>", esc(&c.id))
        };
        s.push_str(&format!(
            "<tr data-area=\"{}\" data-level=\"{}\" data-verdicts=\"{}\"><td>{link}</td><td>{}</td><td>{}</td><td class=\"{}{}\">{}</td><td>{}</td></tr>",
            esc(c.area()),
            esc(&c.level),
            esc(&c.verdict),
            esc(&c.sections.join(", ")),
            esc(&c.level),
            class(&c.verdict),
            if c.baselined.is_some() { " base" } else { "" },
            esc(&match &c.flaky {
                Some(_) => format!("{} (flaky)", c.verdict),
                None => c.verdict.clone(),
            }),
            esc(&{
                let why = c.flaky.as_deref().unwrap_or(&c.reason);
                let mut why = if c.invariants.is_empty() {
                    why.to_string()
                } else {
                    format!("{why} [also broke {}]", c.invariants.join(", "))
                };
                if let Some(st) = report.stalls.iter().find(|st| st.cases.contains(&c.id)) {
                    why.push_str(&format!(
                        " [stalled at one point with {} other case(s)]",
                        st.cases.len() - 1
                    ));
                }
                why
            })
        ));
    }
    s.push_str("</table><h2>Details</h2>");
    for (i, c) in report.cases.iter().enumerate() {
        if c.verdict() != Verdict::Pass {
            s.push_str(&detail(&format!("c{i}"), c));
        }
    }
    s
}

/// Cases × implementations.
pub struct Matrix<'a> {
    pub reports: &'a [RunReport],
}

impl Matrix<'_> {
    fn rows(&self) -> BTreeMap<String, (String, String, String)> {
        let mut rows = BTreeMap::new();
        for r in self.reports {
            for c in r.records() {
                rows.entry(c.id.clone()).or_insert((
                    c.area().to_string(),
                    c.level.clone(),
                    c.sections.join(", "),
                ));
            }
        }
        rows
    }

    fn cell<'r>(&self, report: &'r RunReport, id: &str) -> Option<&'r CaseRecord> {
        report.records().find(|c| c.id == id)
    }

    pub fn markdown(&self) -> String {
        let mut s = String::from("| case | level | §");
        for r in self.reports {
            s.push_str(&format!(" | {}", r.name));
        }
        s.push_str(" |\n|---|---|---");
        for _ in self.reports {
            s.push_str("|---");
        }
        s.push_str("|\n");
        for (id, (_, level, sec)) in self.rows() {
            s.push_str(&format!("| `{id}` | {level} | {sec}"));
            for r in self.reports {
                let v = self.cell(r, &id).map_or("—".to_string(), |c| {
                    if c.baselined.is_some() {
                        format!("{} (baselined)", c.verdict)
                    } else {
                        c.verdict.clone()
                    }
                });
                s.push_str(&format!(" | {v}"));
            }
            s.push_str(" |\n");
        }
        s.push_str("\nTotals:\n\n");
        for r in self.reports {
            let counts: Vec<String> = r
                .counts()
                .iter()
                .map(|(v, n)| format!("{n} {}", v.label()))
                .collect();
            s.push_str(&format!(
                "- **{}** ({}): {}\n",
                r.name,
                r.target,
                counts.join(", ")
            ));
        }
        s
    }

    pub fn html(&self) -> String {
        let rows = self.rows();
        let areas: BTreeSet<String> = rows.values().map(|r| r.0.clone()).collect();
        let mut s = format!("<!doctype html><meta charset=utf-8><title>arcp-conform matrix</title>{STYLE}{SCRIPT}<h1>ARCP v1.1 conformance matrix</h1>");
        s.push_str(&filters(&areas));
        s.push_str("<table><tr><th>case</th><th>level</th><th>§</th>");
        for r in self.reports {
            s.push_str(&format!(
                "<th title=\"{}\">{}</th>",
                esc(&r.target),
                esc(&r.name)
            ));
        }
        s.push_str("</tr>");
        let mut details = String::new();
        for (id, (area, level, sec)) in &rows {
            let verdicts: Vec<String> = self
                .reports
                .iter()
                .filter_map(|r| self.cell(r, id).map(|c| c.verdict.clone()))
                .collect();
            s.push_str(&format!(
                "<tr data-area=\"{}\" data-level=\"{}\" data-verdicts=\"{}\"><td>{}</td><td>{}</td><td>{}</td>",
                esc(area),
                esc(level),
                esc(&verdicts.join(" ")),
                esc(id),
                esc(level),
                esc(sec)
            ));
            for (ri, r) in self.reports.iter().enumerate() {
                match self.cell(r, id) {
                    None => s.push_str("<td class=\"na\">—</td>"),
                    Some(c) if c.verdict() == Verdict::Pass => {
                        s.push_str("<td class=\"pass\">PASS</td>")
                    }
                    Some(c) => {
                        let anchor = format!("m{ri}-{}", id.replace('.', "-"));
                        s.push_str(&format!(
                            "<td class=\"{}{}\"><a href=\"#{anchor}\">{}</a></td>",
                            class(&c.verdict),
                            if c.baselined.is_some() { " base" } else { "" },
                            esc(&c.verdict)
                        ));
                        details.push_str(&format!("<h3>{} — {}</h3>", esc(&r.name), esc(id)));
                        details.push_str(&detail(&anchor, c));
                    }
                }
            }
            s.push_str("</tr>");
        }
        s.push_str("</table><h2>Details</h2>");
        s.push_str(&details);
        s
    }
}
