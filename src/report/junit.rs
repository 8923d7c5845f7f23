//! JUnit XML: one testcase per case id, level/section/verdict as properties.

use super::{CaseRecord, RunReport};
use crate::verdict::Verdict;
use junit_report::{Duration, ReportBuilder, TestCase, TestSuiteBuilder};

/// The suite of per-frame invariants: one testcase per rule, so a rule
/// broken in 80 cases is one failure, not 80.
const INVARIANTS: &str = "invariants";

pub fn render(report: &RunReport, strict: bool) -> String {
    let mut builder = ReportBuilder::new();
    for (area, cases) in suites(report) {
        let mut suite = TestSuiteBuilder::new(&format!("arcp-conform.{area}"));
        for c in cases {
            let time = Duration::seconds_f64(c.duration_ms / 1000.0);
            let v = c.verdict();
            // A case that stalled where others did names their shared root cause.
            let reason = match report.stalls.iter().find(|s| s.cases.contains(&c.id)) {
                Some(s) => format!(
                    "{} [stalled at one point with {} other case(s): {}]",
                    c.reason,
                    s.cases.len() - 1,
                    s.point
                ),
                None => c.reason.clone(),
            };
            let mut tc = if c.baselined.is_some() || !v.fails_run(strict) {
                match v {
                    Verdict::Pass | Verdict::Info | Verdict::Warn => TestCase::success(&c.id, time),
                    _ => TestCase::skipped(&c.id),
                }
            } else if v == Verdict::Error {
                TestCase::error(&c.id, time, v.label(), &reason)
            } else {
                TestCase::failure(&c.id, time, v.label(), &reason)
            };
            tc.set_classname(&format!("arcp-conform.{area}"));
            let mut detail = if v == Verdict::Pass {
                format!("{}\n", c.title)
            } else {
                c.failure_text()
            };
            if let Some(f) = &c.flaky {
                detail.push_str(&format!("FLAKY: {f}\n"));
            }
            tc.set_system_out(&detail);
            suite.add_testcase(tc);
        }
        builder.add_testsuite(suite.build());
    }
    let mut buf = vec![];
    builder
        .build()
        .write_xml(&mut buf)
        .expect("writing XML to memory");
    let xml = String::from_utf8(buf).expect("XML is UTF-8");
    add_properties(&xml, report)
}

/// junit-report has no testcase properties; insert them after each
/// `<testcase ...>` start tag (every testcase has system-out, so none is empty).
fn add_properties(xml: &str, report: &RunReport) -> String {
    let mut out = String::with_capacity(xml.len() * 2);
    let mut rest = xml;
    let mut cases = report_order(report);
    while let Some(pos) = rest.find("<testcase ") {
        let end = pos + rest[pos..].find('>').expect("start tag closes");
        out.push_str(&rest[..=end]);
        if !rest[..end].ends_with('/') {
            if let Some(c) = cases.next() {
                out.push_str("<properties>");
                let flaky = c.flaky.iter().map(|f| ("flaky", f.clone()));
                for (k, v) in [
                    ("level", c.level.clone()),
                    ("section", c.sections.join(",")),
                    ("verdict", c.verdict.clone()),
                    ("source", c.source.clone()),
                ]
                .into_iter()
                .chain(flaky)
                {
                    out.push_str(&format!(
                        "<property name=\"{k}\" value=\"{}\"/>",
                        escape(&v)
                    ));
                }
                out.push_str("</properties>");
            }
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn report_order(report: &RunReport) -> impl Iterator<Item = &CaseRecord> {
    suites(report).into_iter().flat_map(|(_, c)| c)
}

/// Testsuites in order: the invariants first (root causes), then the cases
/// by spec area.
fn suites(report: &RunReport) -> Vec<(&str, Vec<&CaseRecord>)> {
    let mut areas: std::collections::BTreeMap<&str, Vec<&CaseRecord>> = Default::default();
    for c in &report.cases {
        areas.entry(c.area()).or_default().push(c);
    }
    let mut out = vec![];
    if !report.invariants.is_empty() {
        out.push((INVARIANTS, report.invariants.iter().collect()));
    }
    out.extend(areas);
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
