//! action.yml, the composite GitHub Action, run locally: its `run:` steps
//! execute for real (bash, as GitHub runs them) against the reference runtime
//! served by this build (`arcp-conform serve --stdio`). The install step
//! (cargo install from the action's checkout) and the upload step (an action
//! that needs GitHub) are not run; their shape is checked instead.

use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const ACTION: &str = include_str!("../action.yml");

fn action() -> Value {
    serde_yaml_ng::from_str(ACTION).expect("action.yml parses")
}

fn steps() -> Vec<Value> {
    action()["runs"]["steps"].as_sequence().unwrap().clone()
}

fn step(id: &str) -> Value {
    steps()
        .into_iter()
        .find(|s| s["id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("no step with id {id}"))
}

/// `${{ inputs.x }}` and `${{ github.action_path }}` as GitHub would expand them.
fn expand(text: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in inputs {
        out = out.replace(&format!("${{{{ inputs.{k} }}}}"), v);
    }
    out.replace("${{ github.action_path }}", env!("CARGO_MANIFEST_DIR"))
}

/// A scratch workspace, removed when dropped.
struct Ws(PathBuf);

impl Ws {
    fn new(kind: &str, name: &str) -> Ws {
        let ws = std::env::temp_dir().join(format!("arcp-{kind}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&ws);
        std::fs::create_dir_all(&ws).unwrap();
        Ws(ws)
    }
}

impl Drop for Ws {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Run {
    _ws: Ws,
    code: i32,
    out: PathBuf,
    outputs: String,
    summary: String,
    stdout: String,
}

/// Run the action's `run` step in a fresh workspace with these inputs
/// (the rest take their defaults from action.yml).
fn run_step(name: &str, given: &[(&str, &str)]) -> Run {
    let mut inputs: BTreeMap<String, String> = action()["inputs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let d = v["default"].as_str().unwrap_or("").to_string();
            (k.as_str().unwrap().to_string(), d)
        })
        .collect();
    for (k, v) in given {
        assert!(inputs.contains_key(*k), "action.yml has no input {k}");
        inputs.insert(k.to_string(), v.to_string());
    }
    let guard = Ws::new("action", name);
    let ws = guard.0.clone();
    let (outputs, summary) = (ws.join("github-output"), ws.join("step-summary"));
    let s = step("run");
    assert_eq!(s["shell"].as_str(), Some("bash"));
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_arcp-conform"))
        .parent()
        .unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let mut cmd = Command::new("bash");
    // GitHub's `shell: bash`: bash --noprofile --norc -eo pipefail {0}.
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(expand(s["run"].as_str().unwrap(), &inputs))
        .current_dir(&ws)
        .env("PATH", path)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("RUNNER_TEMP", &ws);
    for (k, v) in s["env"].as_mapping().unwrap() {
        cmd.env(k.as_str().unwrap(), expand(v.as_str().unwrap(), &inputs));
    }
    let o = cmd.output().unwrap();
    Run {
        _ws: guard,
        code: o.status.code().unwrap(),
        out: ws.join(&inputs["output-dir"]),
        outputs: std::fs::read_to_string(outputs).unwrap_or_default(),
        summary: std::fs::read_to_string(summary).unwrap_or_default(),
        stdout: String::from_utf8_lossy(&o.stdout).to_string()
            + &String::from_utf8_lossy(&o.stderr),
    }
}

#[test]
fn the_action_installs_from_this_repository_and_always_uploads() {
    let a = action();
    assert_eq!(a["runs"]["using"].as_str(), Some("composite"));
    let install = step("install");
    let run = install["run"].as_str().unwrap();
    assert!(run.contains("cargo install --locked") && run.contains("--path \"$ACTION_PATH\""));
    assert_eq!(
        install["env"]["ACTION_PATH"].as_str(),
        Some("${{ github.action_path }}")
    );
    let upload = steps()
        .into_iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("an upload-artifact step");
    assert!(upload["if"].as_str().unwrap().contains("always()"));
    assert_eq!(
        upload["with"]["path"].as_str(),
        Some("${{ inputs.output-dir }}")
    );
    // The action's outputs come from the run step.
    assert!(a["outputs"]["exit-code"]["value"]
        .as_str()
        .unwrap()
        .contains("steps.run.outputs"));
}

#[test]
fn a_conforming_runtime_passes_the_gate_with_reports() {
    let r = run_step(
        "pass",
        &[
            ("target", "arcp-conform serve --stdio --time-scale 10"),
            ("args", "--time-scale 10 --select 'session.heartbeat.*'"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.outputs.contains("exit-code=0"), "{}", r.outputs);
    assert!(r.summary.contains("arcp-conform: exit 0"), "{}", r.summary);
    let junit = std::fs::read_to_string(r.out.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testsuite") && junit.contains("session.heartbeat."),
        "{junit}"
    );
    assert!(std::fs::read_to_string(r.out.join("report.html"))
        .unwrap()
        .starts_with("<!doctype html>"));
    let results = arcp_conform::report::RunReport::load(&r.out.join("results.json")).unwrap();
    assert!(results.spec.is_some());
}

#[test]
fn a_faulty_runtime_fails_the_gate_and_its_baseline_lets_it_pass() {
    // A fault a MUST rule catches (frame.chunk-order, events.result.chunk-data).
    let target = "arcp-conform serve --stdio --fault chunks-out-of-order";
    let r = run_step(
        "fail",
        &[("target", target), ("args", "--select 'events.*'")],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.outputs.contains("exit-code=1"));
    let junit = std::fs::read_to_string(r.out.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
    // The proposed baseline, committed by the SDK, turns known failures into a pass.
    let baseline = r.out.join("baseline-proposed.yaml");
    let r = run_step(
        "baselined",
        &[
            ("target", target),
            ("args", "--select 'events.*'"),
            ("baseline", baseline.to_str().unwrap()),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn the_client_suite_runs_through_the_action_too() {
    let r = run_step(
        "client",
        &[
            ("suite", "client"),
            ("target", "arcp-conform driver"),
            ("args", "--select 'client.heartbeat.*'"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(std::fs::read_to_string(r.out.join("junit.xml"))
        .unwrap()
        .contains("client.heartbeat."));
}

#[test]
fn bad_input_is_exit_2() {
    let r = run_step("bad", &[("suite", "server")]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let r = run_step("badprofile", &[("profile", "no-such-profile.yaml")]);
    assert_eq!(r.code, 2, "{}", r.stdout);
}

/// Run a shell snippet in a fresh workspace with this build's arcp-conform on PATH
/// (so installs are skipped), with the reference runtime as the target.
fn run_snippet(name: &str, script: &str, vars: &[(&str, &str)]) -> (i32, PathBuf, String, Ws) {
    let guard = Ws::new("recipe", name);
    let ws = guard.0.clone();
    std::fs::write(
        ws.join("profile.yaml"),
        "name: reference\ntarget: arcp-conform serve --stdio --time-scale 10\ntime_scale: 10\n",
    )
    .unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_arcp-conform"))
        .parent()
        .unwrap();
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-c", script])
        .current_dir(&ws)
        .env(
            "PATH",
            format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
        )
        .env("ARCP_PROFILE", "profile.yaml");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    (
        o.status.code().unwrap(),
        ws.join("arcp-conform-reports"),
        text,
        guard,
    )
}

#[test]
fn the_gitlab_template_runs_against_the_reference_runtime() {
    let t: Value = serde_yaml_ng::from_str(include_str!("../ci/gitlab-ci.yml")).unwrap();
    let job = &t[".arcp-conform"];
    assert_eq!(job["artifacts"]["when"].as_str(), Some("always"));
    assert_eq!(
        job["artifacts"]["reports"]["junit"].as_str(),
        Some("arcp-conform-reports/junit.xml")
    );
    let script = job["script"][0].as_str().unwrap();
    let (code, out, text, _ws) = run_snippet(
        "gitlab",
        script,
        &[
            ("ARCP_SUITE", "runtime"),
            (
                "ARCP_ARGS",
                "--time-scale 10 --select 'session.heartbeat.*'",
            ),
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(std::fs::read_to_string(out.join("junit.xml"))
        .unwrap()
        .contains("session.heartbeat."));
}

#[test]
fn the_shell_recipe_in_docs_ci_md_runs_against_the_reference_runtime() {
    let doc = include_str!("../docs/ci.md");
    let block = doc
        .split("<!-- recipe:start -->")
        .nth(1)
        .and_then(|s| s.split("<!-- recipe:end -->").next())
        .expect("docs/ci.md has the recipe markers");
    let script = block
        .trim()
        .strip_prefix("```sh")
        .and_then(|s| s.strip_suffix("```"))
        .expect("the recipe is one sh block");
    let (code, out, text, _ws) = run_snippet("recipe", script, &[]);
    assert_eq!(code, 0, "{text}");
    for f in [
        "junit.xml",
        "report.html",
        "results.json",
        "baseline-proposed.yaml",
    ] {
        assert!(out.join(f).exists(), "{f}: {text}");
    }
}
