//! Rendering an action sequence into a case of the case language
//! (docs/case-language.md), with the expectations that judge it.
//!
//! The fuzzer runs exactly the case it renders (through
//! [`crate::engine::run_case`]), so a reproducer is that same case, shrunk:
//! replaying it needs nothing but `arcp-conform run --case FILE`.
//!
//! Every step carries a [`StepTag`]: which action it belongs to, which oracle
//! it embodies, the message type involved and the rule (mutation or check),
//! so a failing step names a finding's signature.

use super::model::{Action, ModelConfig, Slot, State};
use crate::case::Level;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

mod action;
mod steps;

/// A `session.error` answering the request with this id: its `request_id`
/// (when the runtime sends one) must be that id, so a stale error from an
/// earlier request does not stand in for it.
fn error_for(id: &str) -> Value {
    json!({"type": "session.error", "payload": {"request_id": {"$one_of": [id, "$absent"]}}})
}

/// What a step checks, for signatures.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTag {
    /// Index of the action in the (rendered) sequence; `None` for the epilogue.
    pub action: Option<usize>,
    /// The oracle: `error-frame`, `pong`, `reply`, `accept`, `welcome`, ...
    pub oracle: &'static str,
    /// The message type the step sent or is about.
    pub message: String,
    /// The mutation or check.
    pub rule: String,
    /// The step sends or judges a mutated frame: `rule` names the mutation,
    /// which provoked a finding but is not its root cause.
    pub mutated: bool,
}

/// A rendered iteration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The case document (YAML), without comments.
    pub yaml: String,
    /// One tag per top-level step, in order.
    pub tags: Vec<StepTag>,
    /// Indices (into the input) of the actions that were rendered.
    pub rendered: Vec<usize>,
    /// Features the case relies on (its `requires.features`).
    pub features: Vec<String>,
}

/// Header fields of the rendered case.
#[derive(Debug, Clone)]
pub struct Header {
    pub id: String,
    pub title: String,
    pub sections: Vec<String>,
    pub requirement: String,
    /// The level the requirement sentence carries: a finding under a
    /// sentence without MUST is not a FAIL (see `oracle::requirement`).
    pub level: Level,
    pub catches: Vec<String>,
}

impl Header {
    pub fn iteration(seed: u64, iteration: u64) -> Header {
        Header {
            id: format!("fuzz.s{seed}.i{iteration}"),
            title: format!("fuzz iteration {iteration} of seed {seed}"),
            sections: vec!["5".into(), "12".into()],
            requirement: "The runtime answers malformed input with an error and keeps serving; every frame obeys the spec.".into(),
            // While fuzzing every oracle may fail; the finding's own header
            // (repro::header) then says what the spec requires of it.
            level: Level::Must,
            catches: vec![],
        }
    }
}

struct Renderer<'a> {
    cfg: &'a ModelConfig,
    st: State,
    steps: Vec<Value>,
    tags: Vec<StepTag>,
    action: Option<usize>,
    features: BTreeSet<String>,
    /// Jobs whose id has been captured (`${jN}`).
    captured: BTreeSet<u32>,
    /// The `job.submit` step of each job, for resubmission.
    submits: BTreeMap<u32, Value>,
    /// Jobs whose terminal message a step consumed while rendering the
    /// current action (none is left for `wait_job`).
    ended: BTreeSet<u32>,
    nonce: u32,
    tokens: u32,
    ids: u64,
}

/// Render `actions` as a case. Actions that do not apply in the state the
/// earlier ones leave are skipped (and not listed in [`Plan::rendered`]).
pub fn render(actions: &[Action], cfg: &ModelConfig, header: &Header) -> Plan {
    let mut r = Renderer {
        cfg,
        st: State::default(),
        steps: vec![],
        tags: vec![],
        action: None,
        features: BTreeSet::new(),
        captured: BTreeSet::new(),
        submits: BTreeMap::new(),
        ended: BTreeSet::new(),
        nonce: 0,
        tokens: 0,
        ids: 0,
    };
    let mut rendered = vec![];
    for (i, a) in actions.iter().enumerate() {
        if !r.st.applicable(a, cfg) {
            continue;
        }
        r.action(rendered.len(), a);
        r.st.apply(a, cfg);
        for j in std::mem::take(&mut r.ended) {
            if let Some(js) = r.st.jobs.get_mut(&j) {
                js.waited = true;
            }
        }
        rendered.push(i);
    }
    // Epilogue: every job that ends on its own has ended, so each of its
    // frames was read and judged (a violation on a job's last frame must not
    // depend on whether it beat the final pong); everything sent so far has
    // been read and judged; and the target still serves a fresh session.
    r.action = None;
    let ending: Vec<u32> = r
        .st
        .jobs
        .keys()
        .copied()
        .filter(|j| r.captured.contains(j) && r.st.applicable(&Action::WaitJob { job: *j }, cfg))
        .collect();
    for job in ending {
        let wait = Action::WaitJob { job };
        r.action(0, &wait);
        r.st.apply(&wait, cfg);
        if let Some(t) = r.tags.last_mut() {
            // Part of the epilogue, not of any action.
            t.action = None;
            t.rule = "end".into();
        }
    }
    r.action = None;
    for s in [Slot::A, Slot::B] {
        if r.st.slot(s).open {
            r.ping(s.name(), "alive-at-end", "end");
        }
    }
    // A second session needs a runtime shared between connections; over
    // stdio it would be a new process (proving nothing) and would make
    // `run --case` judge the whole reproducer N/A.
    if cfg.shared_runtime {
        r.push(
            json!({"open": {"session": "z"}}),
            "fresh-session",
            "session.hello",
            "fresh-session",
        );
    }
    let features: Vec<String> = r.features.iter().cloned().collect();
    let mut doc = Map::new();
    doc.insert("id".into(), json!(header.id));
    doc.insert("title".into(), json!(header.title));
    doc.insert("sections".into(), json!(header.sections));
    doc.insert("level".into(), json!(header.level.label()));
    doc.insert("requirement".into(), json!(header.requirement));
    if !features.is_empty() {
        doc.insert("requires".into(), json!({ "features": features }));
    }
    if !header.catches.is_empty() {
        doc.insert("catches".into(), json!(header.catches));
    }
    doc.insert("tags".into(), json!(["fuzz"]));
    doc.insert("timeout".into(), json!("300s"));
    doc.insert("steps".into(), Value::Array(r.steps));
    let yaml =
        serde_yaml_ng::to_string(&Value::Object(doc)).expect("JSON values serialize as YAML");
    Plan {
        yaml,
        tags: r.tags,
        rendered,
        features,
    }
}
