//! Traceability: cases cite real sections and quote the spec; every
//! requirement is checked or excluded; CONFORMANCE.md is up to date.

use arcp_conform::conformance::{coverage, normalize, render_document, requirements};

/// The binary's copy of the spec is the vendored file the tests read.
#[test]
fn the_binary_embeds_the_vendored_spec() {
    assert_eq!(arcp_conform::spec::SPEC, SPEC);
}
use std::collections::BTreeSet;

const SPEC: &str = include_str!("../spec/draft-arcp-1.1.md");

fn spec_sections() -> BTreeSet<String> {
    SPEC.lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| l.trim_start_matches('#').split_whitespace().next())
        .map(|n| n.trim_end_matches('.').to_string())
        .filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect()
}

#[test]
fn cases_cite_existing_sections_and_quote_the_spec() {
    let sections = spec_sections();
    let spec = normalize(SPEC);
    let cases = arcp_conform::suite::all_cases().unwrap();
    let mut problems = vec![];
    for c in &cases {
        for s in &c.sections {
            if !sections.contains(s) {
                problems.push(format!(
                    "{}: §{s} is not a section of the spec",
                    c.location()
                ));
            }
        }
        if !spec.contains(&normalize(&c.requirement)) {
            problems.push(format!(
                "{}: requirement is not a quote from the spec: {:?}",
                c.location(),
                c.requirement
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Both directions: every requirement sentence the spec has (every sentence
/// with MUST, SHOULD, MAY, REQUIRED or OPTIONAL) is listed in
/// cases/requirements.yaml, in its section and at its level; every listed
/// one is such a sentence of the spec.
#[test]
fn spec_and_requirements_yaml_agree() {
    let cases = arcp_conform::suite::all_cases().unwrap();
    let check = arcp_conform::spec::diff::check(SPEC, &requirements(), &cases);
    assert!(
        check.agrees(),
        "{}",
        check.markdown("spec/draft-arcp-1.1.md")
    );
}

#[test]
fn every_requirement_is_covered_or_excluded() {
    let cases = arcp_conform::suite::all_cases().unwrap();
    let reqs = requirements();
    let cov = coverage(&reqs, &cases);
    let open: Vec<String> = reqs
        .iter()
        .filter(|r| cov[r.id.as_str()].is_empty() && r.excluded.is_none())
        .map(|r| format!("{} (§{} {}): {}", r.id, r.section, r.level, r.text))
        .collect();
    assert!(
        open.is_empty(),
        "requirements neither covered nor excluded:\n{}",
        open.join("\n")
    );
}

#[test]
fn conformance_md_is_up_to_date() {
    let cases = arcp_conform::suite::all_cases().unwrap();
    let current =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/CONFORMANCE.md")).unwrap();
    let next = render_document(&current, &cases).unwrap();
    assert!(
        next == current,
        "CONFORMANCE.md is out of date: run `cargo run -- conformance`"
    );
}
