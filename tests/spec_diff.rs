//! `arcp-conform spec diff` on a realistic edit of the vendored spec: a MUST
//! added to §6.7, a SHOULD of §6.5 weakened to MAY, and §11's trace paragraph
//! moved to §10. Run through the binary, in Markdown and JSON.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const SPEC: &str = include_str!("../spec/draft-arcp-1.1.md");
const ADDED: &str = "The runtime MUST reply to `session.close` within one heartbeat interval.";
const TRACE: &str = "ARCP propagates W3C Trace Context. The `trace_id` envelope field\ncarries the `traceparent` value for the operation. Runtimes MUST\nforward the trace context to tool servers and sub-agents.\n\n";

fn edited() -> String {
    let s = SPEC.replacen(
        "The runtime acknowledges with `session.closed`.",
        &format!("The runtime acknowledges with `session.closed`. {ADDED}"),
        1,
    );
    let s = s.replacen(
        "Clients SHOULD send `session.ack` at most every event",
        "Clients MAY send `session.ack` at most every event",
        1,
    );
    assert!(s.contains(TRACE));
    let s = s.replacen(TRACE, "", 1);
    let s = s.replacen(
        "## 11. Trace Propagation",
        &format!("{TRACE}## 11. Trace Propagation"),
        1,
    );
    assert_ne!(s, SPEC);
    s
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_arcp-conform"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn edited_file(dir: &Path) -> String {
    let p = dir.join("draft-arcp-1.1-edited.md");
    std::fs::write(&p, edited()).unwrap();
    p.display().to_string()
}

#[test]
fn spec_diff_reports_added_weakened_and_moved_requirements() {
    let dir = std::env::temp_dir().join(format!("arcp-spec-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let new = edited_file(&dir);
    let (code, json) = run(&["spec", "diff", "spec/draft-arcp-1.1.md", &new, "--json"]);
    // The added MUST has no case: the diff says so and exits 1.
    assert_eq!(code, 1, "{json}");
    let d: Value = serde_json::from_str(&json).unwrap();
    let changes = d["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "{json}");
    assert_eq!(
        d["new_requirements"].as_u64(),
        d["old_requirements"].as_u64().map(|n| n + 1)
    );

    // In draft order: §6.5, §6.7, §10.
    let weakened = &changes[0];
    let added = &changes[1];
    assert_eq!(added["kind"], "added");
    assert_eq!(added["new"]["section"], "6.7");
    assert_eq!(added["new"]["level"], "MUST");
    assert_eq!(added["new"]["text"], ADDED);
    assert_eq!(added["open"], true);
    assert!(added["cases"].as_array().unwrap().is_empty());

    assert_eq!(weakened["kind"], "changed");
    assert_eq!(weakened["requirement"], "R6.5-5");
    assert_eq!(weakened["level_change"], "weakened SHOULD -> MAY");
    assert_eq!(weakened["open"], false);

    let moved = &changes[2];
    assert_eq!(moved["kind"], "moved");
    assert_eq!(moved["requirement"], "R11-1");
    assert_eq!(moved["old"]["section"], "11");
    assert_eq!(moved["new"]["section"], "10");
    let cases = moved["cases"].as_array().unwrap();
    assert!(!cases.is_empty(), "R11-1 is checked by a case: {json}");

    let (_, md) = run(&["spec", "diff", "spec/draft-arcp-1.1.md", &new]);
    assert!(
        md.contains("1 added, 0 removed, 1 changed, 1 moved; 1 open"),
        "{md}"
    );
    assert!(md.contains("| added **open** | 6.7 | MUST |"), "{md}");
    assert!(md.contains("| moved | 11 -> 10 | MUST | R11-1: "), "{md}");

    // The edited draft no longer agrees with cases/requirements.yaml.
    let (code, md) = run(&["spec", "check", &new]);
    assert_eq!(code, 1);
    assert!(md.contains(ADDED), "{md}");
    assert!(md.contains("R6.5-5: "), "{md}");
    assert!(
        md.contains("R11-1: is in §10 of the draft, listed as §11"),
        "{md}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_same_draft_has_no_changes() {
    let (code, md) = run(&[
        "spec",
        "diff",
        "spec/draft-arcp-1.1.md",
        "spec/draft-arcp-1.1.md",
    ]);
    assert_eq!(code, 0);
    assert!(md.contains("No requirement sentence changed."), "{md}");
    let (code, _) = run(&["spec", "check"]);
    assert_eq!(code, 0);
}

#[test]
fn a_missing_draft_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_arcp-conform"))
        .args(["spec", "diff", "no-such.md", "spec/draft-arcp-1.1.md"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such.md"));
}
