//! Results files over time: the committed ones (some written before results
//! recorded their spec) still load, and `history` renders a column per label.

use arcp_conform::report::RunReport;
use std::path::{Path, PathBuf};
use std::process::Command;

fn result_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            result_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json")
            && p.to_string_lossy().contains("results")
        {
            out.push(p);
        }
    }
}

#[test]
fn every_committed_results_file_loads() {
    let mut files = vec![];
    result_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("reports"),
        &mut files,
    );
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        let r = RunReport::load(f).unwrap();
        assert!(!r.cases.is_empty(), "{}", f.display());
    }
}

#[test]
fn history_merges_files_under_one_label_and_writes_markdown_and_html() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("arcp-history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (md, html) = (dir.join("h.md"), dir.join("h.html"));
    let out = Command::new(env!("CARGO_BIN_EXE_arcp-conform"))
        .current_dir(root)
        .args([
            "history",
            "old=reports/embedded/results.json",
            "old=reports/client-reference/results.json",
            "new=reports/embedded/results.json",
            "--markdown",
            md.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("in 2 columns (old, new)"), "{md}");
    assert!(
        md.contains("| requirement | § | level | old | new | history |"),
        "{md}"
    );
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("<th>old</th>"));
    std::fs::remove_dir_all(&dir).ok();

    let out = Command::new(env!("CARGO_BIN_EXE_arcp-conform"))
        .args(["history", "x=/no/such/results.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/results.json"));
}
