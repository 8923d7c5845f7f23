//! Reproducers: a finding written as a case file of the case language, with
//! the seed, the command and the wire log of the shrunk run in comments.
//! `arcp-conform run --case FILE` replays it without the fuzzer.

use super::oracle::Signature;
use super::plan::{Header, Plan};
use crate::case::Level;
use crate::verdict::{Direction, Outcome};
use std::path::{Path, PathBuf};

/// Where and how a finding was made, for the comments.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    pub seed: u64,
    pub iteration: u64,
    /// The target, as `--target` would say it (none: embedded).
    pub target: Option<String>,
    pub faults: Vec<String>,
    /// What provoked the finding (message / mutation or check).
    pub trigger: String,
    pub original_actions: usize,
    pub shrink_runs: usize,
    /// How steady the written reproducer was.
    pub replayed: Option<Replays>,
}

/// The fuzzer's replays of a written reproducer.
#[derive(Debug, Clone, Default)]
pub struct Replays {
    /// How many of them.
    pub of: usize,
    /// How many gave the finding's signature.
    pub same: usize,
    /// What each of the others gave instead (a verdict, or another
    /// signature), so a timing-dependent reproducer shows its other face.
    pub others: Vec<String>,
}

impl Replays {
    /// The reproducer's comment lines about its replays.
    fn lines(&self) -> Vec<String> {
        let steady = if self.same < self.of {
            " (timing-dependent: replay it a few times)"
        } else {
            ""
        };
        let mut out = vec![format!(
            "replayed {} times by the fuzzer: {} reproduced this signature{steady}",
            self.of, self.same
        )];
        out.extend(
            self.others
                .iter()
                .map(|o| format!("  another replay gave: {o}")),
        );
        out
    }
}

/// Most wire log lines in a reproducer, and their longest text.
const WIRE_LINES: usize = 400;
const WIRE_WIDTH: usize = 600;

/// The header of a finding's case. `trigger` is what provoked it
/// ("message / mutation"): an added field brings in §5's MUST.
pub fn header(sig: &Signature, trigger: &str, faults: &[String]) -> Header {
    let (sections, requirement) = super::oracle::requirement(sig, trigger);
    Header {
        id: sig.case_id(),
        title: format!("Fuzz finding: {sig}"),
        sections,
        level: level_of(&requirement),
        requirement,
        catches: faults.to_vec(),
    }
}

/// The level a requirement sentence supports, as the case loader checks it:
/// MUST only for a sentence that says MUST (or REQUIRED), INFO for one
/// without a keyword.
pub fn level_of(requirement: &str) -> Level {
    use crate::conformance::level_unsupported;
    if level_unsupported("MUST", requirement).is_none() {
        Level::Must
    } else if level_unsupported("SHOULD", requirement).is_none() {
        Level::Should
    } else {
        Level::Info
    }
}

fn comment_line(s: &str) -> String {
    let one: String = s
        .chars()
        .map(|c| {
            // Only what YAML prints, and no line break (YAML 1.1 also breaks
            // lines at NEL, LS and PS).
            let printable = matches!(c, ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
                && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}');
            if printable {
                c
            } else {
                '\u{fffd}'
            }
        })
        .collect();
    if one.chars().count() > WIRE_WIDTH {
        let cut: String = one.chars().take(WIRE_WIDTH).collect();
        format!("{cut}… ({} chars)", one.chars().count())
    } else {
        one
    }
}

fn comment(out: &mut String, s: &str) {
    out.push_str("# ");
    out.push_str(&comment_line(s));
    out.push('\n');
}

/// Line of `yaml` (1-based) that starts its top-level `steps:`.
fn steps_line(yaml: &str) -> Option<usize> {
    yaml.lines().position(|l| l == "steps:").map(|i| i + 1)
}

/// The reproducer text: comments, then the case. `ran` is the case the
/// outcome came from (the shrinker's, under the iteration's header): the
/// wire log's notes name its step lines, which are renumbered here to the
/// lines the same steps have in this file.
pub fn render(
    sig: &Signature,
    prov: &Provenance,
    plan: &Plan,
    outcome: &Outcome,
    ran: &Plan,
) -> String {
    let mut out = String::new();
    let mut c = |s: &str| comment(&mut out, s);
    c("arcp-conform fuzz reproducer");
    c(&format!("signature: {sig}"));
    c(&format!("provoked by: {}", prov.trigger));
    c(&format!(
        "verdict: {} — {}",
        outcome.verdict.label(),
        outcome.reason
    ));
    for v in &outcome.violations {
        c(&format!(
            "invariant broken: {} (§{}, {}) ×{}: {}",
            v.invariant.id, v.invariant.section, v.invariant.level, v.count, v.detail
        ));
    }
    let target = prov
        .target
        .as_ref()
        .map(|t| format!(" --target '{t}'"))
        .unwrap_or_default();
    let faults: String = prov
        .faults
        .iter()
        .map(|f| format!(" --fault {f}"))
        .collect();
    c(&format!(
        "found by: arcp-conform fuzz --seed {}{target}{faults} (iteration {})",
        prov.seed, prov.iteration
    ));
    c(&format!(
        "shrunk from {} to {} actions in {} runs",
        prov.original_actions,
        plan.rendered.len(),
        prov.shrink_runs
    ));
    c(&format!(
        "replay: arcp-conform run --case FILE{target}{faults}"
    ));
    for line in prov.replayed.iter().flat_map(Replays::lines) {
        c(&line);
    }
    c("");
    c("wire log of the shrunk run (-> sent, <- received, -- note):");
    let shown = outcome.wire.len().min(WIRE_LINES);
    let more = outcome.wire.len() > shown;
    // The case starts after the comments still to come and a blank line; the
    // steps are the same text in both cases, only their headers differ.
    let first = out.lines().count() + shown + usize::from(more) + 2;
    let mut c = |s: &str| comment(&mut out, s);
    let steps = steps_line(&ran.yaml).zip(steps_line(&plan.yaml));
    let renumber = |text: &str| -> Option<String> {
        let (line, note) = text.strip_prefix("line ")?.split_once(": ")?;
        let line: usize = line.parse().ok()?;
        let (from, to) = steps?;
        let new = (line > from).then(|| line - from + to + first - 1)?;
        Some(format!("line {new}: {note}"))
    };
    for w in &outcome.wire[..shown] {
        let arrow = match w.dir {
            Direction::Out => "->",
            Direction::In => "<-",
            Direction::Note => "--",
        };
        let text = match w.dir {
            Direction::Note => renumber(&w.text).unwrap_or_else(|| w.text.clone()),
            _ => w.text.clone(),
        };
        c(&format!("{:>9.1}ms {arrow} [{}] {text}", w.t_ms, w.session));
    }
    if more {
        c(&format!("… {} more entries", outcome.wire.len() - shown));
    }
    out.push('\n');
    out.push_str(&plan.yaml);
    out
}

/// Write `text` as `<dir>/<case id>.yaml`.
pub fn write(dir: &Path, sig: &Signature, text: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.yaml", sig.case_id()));
    std::fs::write(&path, crate::redact::output(text))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_replay_that_differs_says_what_it_gave() {
        let r = super::Replays {
            of: 3,
            same: 2,
            others: vec!["ERROR: the harness lagged".into()],
        };
        assert_eq!(
            r.lines(),
            [
                "replayed 3 times by the fuzzer: 2 reproduced this signature (timing-dependent: replay it a few times)",
                "  another replay gave: ERROR: the harness lagged",
            ]
        );
        let steady = super::Replays {
            same: 3,
            others: vec![],
            ..r
        };
        assert_eq!(
            steady.lines(),
            ["replayed 3 times by the fuzzer: 3 reproduced this signature"]
        );
    }

    #[test]
    fn comments_stay_comments() {
        let nasty = "a\u{0}b\u{85}c\u{2028}d\u{fffe}e\u{ffff}f\u{7f}\n\r\t\u{feff}";
        let text = format!("# {}\nid: x\n", super::comment_line(nasty));
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(v["id"], serde_yaml_ng::Value::from("x"));
    }
}
