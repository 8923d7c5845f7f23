//! The top-level modules depend on each other in one direction (see
//! docs/architecture.md). A module's dependencies are the `crate::X` paths
//! in its files (comments left out). The few edges that still close a cycle
//! are listed in `ALLOWED`, each with why; the list may only shrink: an
//! entry that no longer exists fails the test, so it is deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Edges that still close a cycle (issue 13): `(from, to, why)`.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "case",
        "conformance",
        "validate checks a case's level against its quoted sentence (conformance::level_unsupported)",
    ),
    (
        "checks",
        "clienttest",
        "checks::by_id looks up client-role invariants too",
    ),
    (
        "conformance",
        "clienttest",
        "the conformance table lists client-role invariants",
    ),
    (
        "runtime",
        "target",
        "the provisioner reads the target's state-dir variable",
    ),
    ("spec", "args", "spec's sub-command uses UsageError"),
    (
        "template",
        "case",
        "builtins name case agents/principals",
    ),
    (
        "verdict",
        "checks",
        "a violation points at its Invariant",
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level module -> the top-level modules its files name.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let module_of = |p: &Path| -> Option<String> {
        let rel = p.strip_prefix(&src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?.to_string();
        let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
        (name != "lib" && name != "main").then_some(name)
    };
    let mods: BTreeSet<String> = files.iter().filter_map(|p| module_of(p)).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> =
        mods.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for f in &files {
        let Some(m) = module_of(f) else { continue };
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (i, _) in line.match_indices("crate::") {
                // `crate::` preceded by an identifier char is e.g. `arcp_conform_crate::`.
                if line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &line[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name != m && mods.contains(&name) {
                    g.get_mut(&m).unwrap().insert(name);
                }
            }
        }
    }
    g
}

/// A cycle in `g`, if any (depth-first search).
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in &g[n] {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == m).unwrap();
                    let mut c = stack[at..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn top_level_modules_form_no_cycle() {
    let mut g = graph();
    for (from, to, why) in ALLOWED {
        assert!(
            g.get_mut(*from).is_some_and(|s| s.remove(*to)),
            "{from} -> {to} is gone: delete it from ALLOWED ({why})"
        );
    }
    if let Some(c) = find_cycle(&g) {
        panic!(
            "module cycle: {} (break it; see docs/architecture.md)",
            c.join(" -> ")
        );
    }
}

#[test]
fn command_modules_do_not_import_each_other() {
    // Shared flags live in `args`, below every command.
    let g = graph();
    for cmd in ["args", "clienttest", "fuzz", "spec"] {
        assert!(
            !g[cmd].contains("cli"),
            "{cmd} imports the top-level cli; put shared pieces in args"
        );
    }
}
