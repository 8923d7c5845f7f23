//! The spec as data: the vendored draft (spec/draft-arcp-1.1.md), its
//! requirement sentences (every sentence with an RFC 2119 keyword, with its
//! section), and stable hashes of both so results files can say which text
//! they were judged against. [`diff`] compares two drafts, or a draft with
//! cases/requirements.yaml.

pub mod cli;
pub mod diff;

use crate::conformance::normalize;
use serde::{Deserialize, Serialize};

/// The vendored spec text (see spec/README.md for its provenance).
pub static SPEC: &str = include_str!("../../spec/draft-arcp-1.1.md");
/// Where [`SPEC`] lives in the repository.
pub const SPEC_FILE: &str = "spec/draft-arcp-1.1.md";
/// The protocol version the vendored draft specifies.
pub const SPEC_VERSION: &str = "1.1";

/// The RFC 2119 keywords a requirement sentence carries (SHALL and
/// RECOMMENDED are defined in §2.1 but the draft does not use them).
const KEYWORDS: &[&str] = &["MUST", "SHOULD", "MAY", "REQUIRED", "OPTIONAL"];

/// One requirement sentence of a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentence {
    /// Section number (`6.4`, `8.2.1`), or the heading of an unnumbered section.
    pub section: String,
    /// Strength of its first keyword, as cases/requirements.yaml spells it:
    /// MUST, MUST NOT, SHOULD, SHOULD NOT or MAY (REQUIRED is a MUST, OPTIONAL a MAY).
    pub level: String,
    /// The sentence as written (list markers removed, lines joined).
    pub text: String,
    /// 1-based line of the draft where the sentence's paragraph or list item starts.
    pub line: usize,
}

impl Sentence {
    /// The sentence with markup and spacing normalized: what comparisons use.
    pub fn key(&self) -> String {
        normalize(&self.text)
    }

    pub fn hash(&self) -> String {
        text_hash(&self.text)
    }
}

/// A short stable hash of a requirement text (FNV-1a 64 of its normalized
/// form, in hex): equal for the same sentence however it is wrapped or marked up.
pub fn text_hash(text: &str) -> String {
    fnv(normalize(text).as_bytes())
}

/// FNV-1a 64, hex. Not cryptographic: it tells texts apart, it does not
/// authenticate them.
pub fn fnv(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Which spec a results file was judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecStamp {
    /// Protocol version, e.g. `1.1`.
    pub version: String,
    /// The draft's file in this repository.
    pub file: String,
    /// [`fnv`] of the draft's bytes.
    pub hash: String,
}

/// The stamp of the vendored draft.
pub fn stamp() -> SpecStamp {
    SpecStamp {
        version: SPEC_VERSION.into(),
        file: SPEC_FILE.into(),
        hash: fnv(SPEC.as_bytes()),
    }
}

/// Every requirement sentence of a Markdown draft, in order.
pub fn extract(markdown: &str) -> Vec<Sentence> {
    let mut out = vec![];
    for (section, line, unit) in units(markdown) {
        for s in sentences(&unit) {
            if let Some(level) = level(&s) {
                out.push(Sentence {
                    section: section.clone(),
                    level,
                    text: s,
                    line,
                });
            }
        }
    }
    out
}

/// The draft's prose as (section, first line, text) units: a paragraph, a
/// list item or a table row, with its lines joined. Code blocks and
/// headings are not prose.
fn units(markdown: &str) -> Vec<(String, usize, String)> {
    let mut out = vec![];
    let mut section = String::new();
    let mut fenced = false;
    let mut cur: Option<(usize, String)> = None;
    let flush = |cur: &mut Option<(usize, String)>, out: &mut Vec<_>, section: &str| {
        if let Some((l, t)) = cur.take() {
            out.push((section.to_string(), l, t));
        }
    };
    for (i, raw) in markdown.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.starts_with("```") {
            flush(&mut cur, &mut out, &section);
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if line.starts_with('#') {
            flush(&mut cur, &mut out, &section);
            section = heading_section(line);
            continue;
        }
        if line.is_empty() || line.chars().all(|c| c == '-') {
            flush(&mut cur, &mut out, &section);
            continue;
        }
        let line = line.trim_start_matches('>').trim_start();
        if let Some(item) = list_item(line) {
            flush(&mut cur, &mut out, &section);
            cur = Some((n, item.to_string()));
        } else if line.starts_with('|') {
            flush(&mut cur, &mut out, &section);
            out.push((section.clone(), n, line.to_string()));
        } else if let Some((_, t)) = &mut cur {
            t.push(' ');
            t.push_str(line);
        } else {
            cur = Some((n, line.to_string()));
        }
    }
    flush(&mut cur, &mut out, &section);
    out
}

/// `## 6.4. Heartbeats` -> `6.4`; `## Abstract` -> `Abstract`.
fn heading_section(line: &str) -> String {
    let title = line.trim_start_matches('#').trim();
    match title.split_whitespace().next() {
        Some(w) if w.starts_with(|c: char| c.is_ascii_digit()) => w.trim_end_matches('.').into(),
        _ => title.to_string(),
    }
}

/// The text of a list item line (`- x`, `* x`, `3. x`), without its marker.
fn list_item(line: &str) -> Option<&str> {
    if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
        return Some(rest);
    }
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 {
        return line[digits..].strip_prefix(". ");
    }
    None
}

/// Split a unit into sentences. A sentence ends at `.`, `?`
/// or `!` followed by a space and a capital, a backtick, `*` or `§`; and at a
/// colon followed by a capital or a backtick (a field list: "`job_id` (REQUIRED): The job…").
fn sentences(unit: &str) -> Vec<String> {
    let chars: Vec<char> = unit.chars().collect();
    let mut out = vec![];
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let after = chars.get(i + 2).copied();
        let ends = next == Some(' ')
            && match c {
                '.' | '?' | '!' => {
                    after.is_some_and(|a| a.is_uppercase() || matches!(a, '`' | '*' | '§'))
                }
                ':' => after.is_some_and(|a| a.is_uppercase() || a == '`'),
                _ => false,
            };
        if ends {
            push_sentence(&chars[start..=i], &mut out);
            start = i + 2;
            i += 2;
            continue;
        }
        i += 1;
    }
    push_sentence(&chars[start.min(chars.len())..], &mut out);
    out
}

fn push_sentence(chars: &[char], out: &mut Vec<String>) {
    let s: String = chars.iter().collect::<String>().trim().to_string();
    if !s.is_empty() {
        out.push(s);
    }
}

/// The level of a sentence's first keyword, or None when it has none. A
/// keyword in double quotes is being named (§2.1), not used.
fn level(sentence: &str) -> Option<String> {
    let words: Vec<&str> = sentence
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '"'))
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        if !KEYWORDS.contains(w) {
            continue;
        }
        let not = words.get(i + 1) == Some(&"NOT");
        return Some(
            match (*w, not) {
                ("MUST", true) => "MUST NOT",
                ("SHOULD", true) => "SHOULD NOT",
                ("MUST" | "REQUIRED", _) => "MUST",
                ("SHOULD", _) => "SHOULD",
                _ => "MAY",
            }
            .to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_capitals_and_field_colons() {
        let md = "## 8.4. Result Streaming\n\n- `data` (REQUIRED): Chunk payload. `utf8` SHOULD be\n  used for text; `base64` for binary.\n\n```json\n{\"a\": \"MUST\"}\n```\n\nThe key words \"MUST\" and \"MAY\" are defined (e.g., here).\n";
        let s = extract(md);
        let got: Vec<(&str, &str, &str)> = s
            .iter()
            .map(|s| (s.section.as_str(), s.level.as_str(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("8.4", "MUST", "`data` (REQUIRED):"),
                (
                    "8.4",
                    "SHOULD",
                    "`utf8` SHOULD be used for text; `base64` for binary."
                ),
            ]
        );
    }

    #[test]
    fn first_keyword_sets_the_level() {
        assert_eq!(level("A MAY x; it MUST NOT y.").as_deref(), Some("MAY"));
        assert_eq!(level("It MUST NOT y.").as_deref(), Some("MUST NOT"));
        assert_eq!(level("`x` is OPTIONAL.").as_deref(), Some("MAY"));
        assert_eq!(level("no keyword may here"), None);
    }

    #[test]
    fn hashes_ignore_wrapping_and_markup() {
        assert_eq!(text_hash("a `b`\n  c"), text_hash("a b c"));
        assert_ne!(text_hash("a MUST b"), text_hash("a MAY b"));
    }
}
