//! Case directories, the documentation's examples, and waits derived from the target.

use super::*;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "arcp-conform-case-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn case_text(id: &str, extra: &str) -> String {
    with_steps("  - open: {}\n").replace("t.case", id) + extra
}

#[test]
fn load_dir_recursive_sorted() {
    let d = TempDir::new("ok");
    d.write("b/second.yaml", &case_text("b.one", ""));
    d.write(
        "a.yml",
        &format!(
            "{}---\n{}",
            case_text("a.one", ""),
            case_text("a.two", "depends_on: [b.one]\n")
        ),
    );
    d.write("b/notes.txt", "not a case");
    d.write(".hidden/x.yaml", "garbage: [");
    d.write("c/d/e.yaml", &case_text("c.deep", ""));
    let cases = load_dir(&d.0).unwrap();
    let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a.one", "a.two", "b.one", "c.deep"]);
    assert_eq!(cases[2].source, d.0.join("b/second.yaml"));
    assert_eq!(cases[1].line, 9);
    let files = case_files(&d.0).unwrap();
    assert_eq!(files.len(), 3);
}

#[test]
fn load_dir_duplicate_ids_name_both_files() {
    let d = TempDir::new("dup");
    d.write("x.yaml", &case_text("a.b", ""));
    d.write("y/z.yaml", &format!("# comment\n{}", case_text("a.b", "")));
    let e = load_dir(&d.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: duplicate case id \"a.b\" (also in {}:1)",
            d.0.join("y/z.yaml").display(),
            d.0.join("x.yaml").display()
        )
    );
    assert_eq!(e.file, d.0.join("y/z.yaml"));
    assert_eq!(e.line, Some(2));
}

#[test]
fn load_dir_dependencies() {
    let d = TempDir::new("deps");
    d.write("x.yaml", &case_text("a", "depends_on: [nope]\n"));
    let e = load_dir(&d.0).unwrap_err().to_string();
    assert!(
        e.ends_with("x.yaml:1: case \"a\" depends on unknown case \"nope\""),
        "{e}"
    );

    let d = TempDir::new("cycle");
    d.write("x.yaml", &case_text("a", "depends_on: [b]\n"));
    d.write("y.yaml", &case_text("b", "depends_on: [c]\n"));
    d.write("z.yaml", &case_text("c", "depends_on: [a]\n"));
    let e = load_dir(&d.0).unwrap_err().to_string();
    assert!(
        e.ends_with("x.yaml:1: dependency cycle: a -> b -> c -> a"),
        "{e}"
    );
}

#[test]
fn load_dir_reports_bad_file_and_missing_dir() {
    let d = TempDir::new("bad");
    d.write("ok.yaml", &case_text("ok", ""));
    d.write("sub/bad.yaml", &with_steps("  - sleeep: 1\n"));
    let e = load_dir(&d.0).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}:7:5: unknown step `sleeep`",
            d.0.join("sub/bad.yaml").display()
        )),
        "{e}"
    );
    let e = load_dir(&d.0.join("missing")).unwrap_err().to_string();
    assert!(e.contains("missing: cannot read directory"), "{e}");
    let e = load_file(&d.0.join("none.yaml")).unwrap_err().to_string();
    assert!(e.contains("none.yaml: cannot read:"), "{e}");
}

/// Every ```yaml block of the language doc that is a whole case (starts
/// with `id:`) must load.
#[test]
fn documentation_examples_load() {
    let doc = include_str!("../../../docs/case-language.md");
    let mut found = 0;
    for block in doc.split("```yaml\n").skip(1) {
        let body = block.split("\n```").next().unwrap();
        if body.starts_with("id:") {
            found += 1;
            parse_str(body, Path::new("docs/case-language.md"))
                .unwrap_or_else(|e| panic!("doc example does not load: {e}\n{body}"));
        }
    }
    assert!(found >= 1);
}

/// The step snippets in the doc parse as steps (sessions opened first).
#[test]
fn documentation_step_snippets_parse() {
    let doc = include_str!("../../../docs/case-language.md");
    let section = doc
        .split("## Steps")
        .nth(1)
        .unwrap()
        .split("## Patterns")
        .next()
        .unwrap();
    let mut found = 0;
    for block in section.split("```yaml\n").skip(1) {
        let body = block.split("\n```").next().unwrap();
        let lines: Vec<&str> = body.lines().collect();
        let snippet = if body.starts_with("- ") {
            lines.iter().map(|l| format!("  {l}\n")).collect::<String>()
        } else {
            // a bare `step: {...}` mapping
            let mut it = lines.iter();
            let first = it.next().unwrap();
            format!(
                "  - {first}\n{}",
                it.map(|l| format!("    {l}\n")).collect::<String>()
            )
        };
        let prelude = "  - open: {}\n  - open: {session: b}\n  - open: {session: c}\n  - submit: {}\n  - set: {seen: 1, first_id: x, second_id: y, seq_a: 1, seq_b: 2, n: 1}\n";
        // open/resume/connect need their session not connected
        let extra = if snippet.starts_with("  - open:") || snippet.starts_with("  - resume:") {
            "  - drop: {}\n"
        } else if snippet.starts_with("  - connect:") {
            "  - drop: {session: b}\n"
        } else {
            ""
        };
        let text = with_steps(&format!("{prelude}{extra}{snippet}"));
        found += 1;
        parse(&text).unwrap_or_else(|e| panic!("doc snippet does not parse: {e}\n{text}"));
    }
    assert!(found >= 15, "{found}");
}

/// The client-case snippets in the doc parse inside a `role: client` case.
#[test]
fn documentation_client_snippets_parse() {
    let doc = include_str!("../../../docs/case-language.md");
    let section = doc
        .split("## Client cases")
        .nth(1)
        .unwrap()
        .split("## Error messages")
        .next()
        .unwrap();
    let mut found = 0;
    for block in section.split("```yaml\n").skip(1) {
        let body = block.split("\n```").next().unwrap();
        if body.starts_with("id:") {
            continue;
        }
        let lines: Vec<&str> = body.lines().collect();
        let snippet = if body.starts_with("- ") {
            lines.iter().map(|l| format!("  {l}\n")).collect::<String>()
        } else {
            let mut it = lines.iter();
            let first = it.next().unwrap();
            format!(
                "  - {first}\n{}",
                it.map(|l| format!("    {l}\n")).collect::<String>()
            )
        };
        let prelude = if snippet.starts_with("  - welcome:") {
            ""
        } else {
            "  - welcome: {}\n  - accept: {}\n"
        };
        let text = client_case(&format!("{prelude}{snippet}"));
        found += 1;
        parse(&text).unwrap_or_else(|e| panic!("doc snippet does not parse: {e}\n{text}"));
    }
    assert!(found >= 4, "{found}");
}

#[test]
fn derived_waits_and_templates() {
    let c = one(&with_steps(
        "  - open: {}\n  - submit:\n      input: {steps: [{op: sleep, ms: \"${ms(heartbeat * 2)}\"}, {op: result_chunks, chunks: \"${list(x, replay_buffer + 1)}\"}]}\n  - expect_close: {within: heartbeat * 3 + 5s}\n  - sleep: resume_window + 1s\n",
    ));
    let waits: Vec<String> = c.waits().iter().map(|(_, w)| w.to_string()).collect();
    assert!(
        waits.contains(&"heartbeat * 3 + 5".to_string()),
        "{waits:?}"
    );
    assert!(
        waits.contains(&"resume_window + 1".to_string()),
        "{waits:?}"
    );
    let limits = crate::limits::Limits {
        heartbeat_sec: Some(2.0),
        resume_window_sec: Some(10.0),
        replay_buffer: Some(2),
    };
    let b = crate::template::Builtin::parse("ms(heartbeat * 2)").unwrap();
    assert_eq!(b.limit_value(&limits), Some(json!(4000)));
    let b = crate::template::Builtin::parse("list(x, replay_buffer + 1)").unwrap();
    assert_eq!(b.limit_value(&limits), Some(json!(["x", "x", "x"])));
    assert_err_contains(
        &with_steps("  - open: {}\n  - sleep: hearbeat + 1s\n"),
        "cases/session/x.yaml:8",
    );
}

#[test]
fn error_literal_waits_sized_after_a_runtime() {
    assert_err_contains(
        &with_steps("  - open: {}\n  - expect_close: {within: 90s}\n"),
        "cases/session/x.yaml:8: `expect_close` waits a literal 90s, longer than 60s",
    );
    let tagged = with_steps("  - open: {}\n  - sleep: 25s\n")
        .replace("steps:\n", "tags: [resume-window]\nsteps:\n");
    assert_err_contains(
        &tagged,
        "cases/session/x.yaml:9: `sleep` waits a literal 25s in a case tagged `resume-window`",
    );
    // Defaults are not written waits; derived ones are the point.
    one(&with_steps("  - open: {}\n  - wait_job: {job: j}\n")
        .replace("steps:\n", "tags: [heartbeat]\nsteps:\n"));
    one(
        &with_steps("  - open: {}\n  - expect_close: {within: heartbeat * 3}\n")
            .replace("steps:\n", "tags: [heartbeat]\nsteps:\n"),
    );
}

#[test]
fn error_derived_waits_in_client_cases() {
    assert_err_contains(
        &client_case("  - welcome: {}\n  - expect_close: {within: heartbeat * 2}\n"),
        "cases/session/x.yaml:8: `heartbeat * 2`: in a `role: client` case the harness plays the runtime",
    );
}
