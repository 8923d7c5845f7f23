//! Client cases that stalled at the same point: several failures with one
//! root cause the harness can name but not judge. A client that waits for
//! something the harness never sends (e.g. a reply correlated by a field the
//! spec does not have) fails every case that needs it to go on, each with
//! "printed no matching line". That is not a spec violation of its own, so
//! it is no FAIL: it is one entry with the count, listed once.

use super::CaseRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Failed cases that stopped at the same point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stall {
    /// Where they stopped, in words.
    pub point: String,
    /// The cases, by id.
    pub cases: Vec<String>,
}

/// The reason a client case gets when the driver printed nothing it waited for
/// ([`crate::clienttest`]'s `output` step).
const NO_LINE: &str = "the driver printed no matching line";

/// The message type of the last frame the client sent, from a case's wire log.
fn last_sent(c: &CaseRecord) -> Option<String> {
    c.wire.iter().rev().find_map(|w| {
        (w.get("dir")?.as_str()? == "in")
            .then(|| serde_json::from_str::<serde_json::Value>(w.get("text")?.as_str()?).ok())
            .flatten()
            .and_then(|v| v.get("type")?.as_str().map(String::from))
    })
}

/// Groups of two or more failed cases that stalled at the same point: the
/// driver printed nothing expected, after the same last frame of the client.
pub fn group(cases: &[CaseRecord]) -> Vec<Stall> {
    let mut by_point: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in cases {
        // Any level: an INFO case stalled at the same point has the same root cause.
        let v = c.verdict();
        if !(v.fails_run(true) || v == crate::verdict::Verdict::Info)
            || !c.reason.starts_with(NO_LINE)
        {
            continue;
        }
        let point = match last_sent(c) {
            Some(t) => format!(
                "the client's last frame was `{t}`; then its driver printed nothing the case waited for"
            ),
            None => "the client sent no frame; its driver printed nothing the case waited for".into(),
        };
        by_point.entry(point).or_default().push(c.id.clone());
    }
    by_point
        .into_iter()
        .filter(|(_, cases)| cases.len() > 1)
        .map(|(point, mut cases)| {
            cases.sort();
            Stall { point, cases }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str, verdict: &str, reason: &str, sent: &[&str]) -> CaseRecord {
        let mut wire: Vec<serde_json::Value> = sent
            .iter()
            .map(|t| json!({"t_ms": 1.0, "session": "a", "dir": "in", "text": json!({"type": t}).to_string()}))
            .collect();
        wire.push(json!({"t_ms": 2.0, "session": "a", "dir": "out", "text": "{\"type\":\"job.accepted\"}"}));
        serde_json::from_value(json!({
            "id": id, "title": "t", "sections": ["7.1"], "level": "MUST", "requirement": "r",
            "source": "x.yaml", "verdict": verdict, "reason": reason, "duration_ms": 1.0, "wire": wire,
        }))
        .unwrap()
    }

    #[test]
    fn cases_stalled_at_one_point_are_one_entry() {
        let stalled = "the driver printed no matching line within 5s";
        let cases = vec![
            record(
                "client.a",
                "FAIL",
                stalled,
                &["session.hello", "job.submit"],
            ),
            record(
                "client.b",
                "FAIL",
                stalled,
                &["session.hello", "job.submit"],
            ),
            record("client.c", "FAIL", stalled, &["session.hello"]),
            record(
                "client.d",
                "FAIL",
                "the client surfaced `X`",
                &["job.submit"],
            ),
            record("client.e", "PASS", "", &["job.submit"]),
        ];
        let g = group(&cases);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[0].cases, ["client.a", "client.b"]);
        assert!(g[0].point.contains("`job.submit`"), "{}", g[0].point);
    }
}
