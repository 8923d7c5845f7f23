//! Loader tests: the YAML in here doubles as the worked examples of the
//! case language.

use super::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

const FILE: &str = "cases/session/x.yaml";

fn parse(text: &str) -> Result<Vec<Case>, CaseError> {
    parse_str(text, Path::new(FILE))
}

fn one(text: &str) -> Case {
    match parse(text) {
        Ok(mut cases) => {
            assert_eq!(cases.len(), 1);
            cases.remove(0)
        }
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("expected an error, parsed {} case(s)", c.len()),
        Err(e) => e.to_string(),
    }
}

/// A case header followed by `steps`, so tests can focus on steps.
fn with_steps(steps: &str) -> String {
    format!(
        "id: t.case\ntitle: T\nsections: [\"6.3\"]\nlevel: MUST\nrequirement: \"R.\"\nsteps:\n{steps}"
    )
}

fn steps_of(steps: &str) -> Vec<Step> {
    one(&with_steps(steps)).steps
}

fn assert_err(text: &str, want: &str) {
    let e = err(text);
    assert_eq!(e, want, "\nfull error: {e}");
}

fn assert_err_contains(text: &str, want: &str) {
    let e = err(text);
    assert!(e.contains(want), "error {e:?}\ndoes not contain {want:?}");
}

const FULL: &str = r#"# A complete example using every top-level field.
id: session.resume.replays-after-last-seq
title: Resume replays events after last_event_seq
sections: ["6.3", "8.3"]
level: INFO
requirement: "The runtime replays buffered events from that sequence."
requires:
  features: [subscribe, heartbeat]
  agents: [conformance]
  sessions: 2
  principals: [alice, bob]
  reconnect: true
tags: [resume, events]
depends_on: [session.handshake.welcome]
timeout: 20s
role: runtime
steps:
  - open: {}
    note: handshake as alice
  - submit:
      input: {script: [{emit: progress, count: 3}]}
      lease_request: {"fs.read": ["/tmp/**"]}
      idempotency_key: "k-${session.a.id}"
      max_runtime_sec: 60
  - expect:
      match:
        type: job.event
        job_id: "${job}"
        event_seq: "$capture seq"
        payload: {kind: progress}
      within: 2s
      capture: {first_kind: /payload/kind}
  - drop: {}
  - resume:
      last_event_seq: "${seq}"
  - expect: {match: {type: session.welcome}, next: true}
  - wait_job: {status: success, within: 15s, capture: {result: /payload/result}}
"#;

/// A `role: client` case with these steps.
fn client_case(steps: &str) -> String {
    with_steps(steps) + "role: client\nscenario: submit\n"
}

mod client;
mod dirs;
mod errors;
mod parse;
