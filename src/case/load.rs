//! Reading case files: YAML text -> validated [`Case`]s, with every error
//! reported as one `file:line:col: problem` message.
//!
//! Positions come from serde_yaml_ng itself. Errors raised while
//! deserialising carry the position of the node being visited. Step lines
//! (which a successful parse does not report) are found by re-reading the
//! document with a visitor that walks to one node and stops there with an
//! error — the error's position is that node's position. This follows the
//! real YAML structure, so flow style (`[{open: {}}]`), nested `repeat`
//! bodies, anchors and odd indentation all get the right line.

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use super::de::{CaseDe, MSG};
use super::model::Role;
use super::model::{Case, Step, StepKind};
use super::{client_check, validate};

/// A problem with a case file: which file, where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseError {
    /// The file, as given to the loader.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known (only with `line`).
    pub column: Option<usize>,
    /// The problem, one line, without the location.
    pub message: String,
}

impl CaseError {
    pub fn new(
        file: &Path,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        CaseError {
            file: file.to_path_buf(),
            line,
            column: line.and(column),
            message: message.into(),
        }
    }
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for CaseError {}

/// Turn a serde_yaml_ng error into a `CaseError`: position from the error,
/// message without serde_yaml_ng's ` at line L column C` (and, for our own
/// messages, without its `path: ` prefix).
fn yaml_error(file: &Path, e: serde_yaml_ng::Error) -> CaseError {
    let loc = e.location();
    let mut msg = e.to_string();
    if let Some(l) = &loc {
        let at = format!(" at line {} column {}", l.line(), l.column());
        if let Some(i) = msg.find(&at) {
            msg.replace_range(i..i + at.len(), "");
        }
    }
    if let Some(i) = msg.find(MSG) {
        msg = msg[i + MSG.len_utf8()..].to_string();
    }
    CaseError::new(
        file,
        loc.as_ref().map(|l| l.line()),
        loc.as_ref().map(|l| l.column()),
        msg,
    )
}

// ------------------------------------------------------------- positions

/// One step of a path into a YAML document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(&'static str),
    Index(usize),
}

const FOUND: &str = "__arcp_conform_locate__";

/// Walks a document along a path and fails, on purpose, at its end.
struct Locate<'p>(&'p [Seg]);

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Locate<'_> {
    fn here<E: de::Error>(&self) -> Result<(), E> {
        if self.0.is_empty() {
            Err(E::custom(FOUND))
        } else {
            Ok(())
        }
    }
}

macro_rules! locate_scalars {
    ($($name:ident: $t:ty),*) => {
        $(fn $name<E: de::Error>(self, _v: $t) -> Result<(), E> { self.here() })*
    };
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    locate_scalars!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.here()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.here()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.here()?;
        let Seg::Key(want) = self.0[0] else {
            return Ok(());
        };
        while let Some(key) = map.next_key::<serde_yaml_ng::Value>()? {
            if key.as_str() == Some(want) {
                return map.next_value_seed(Locate(&self.0[1..]));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.here()?;
        let Seg::Index(want) = self.0[0] else {
            return Ok(());
        };
        for _ in 0..want {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Locate(&self.0[1..])).map(|_| ())
    }
}

/// Finds positions of nodes in one document of a file.
pub(crate) struct Locator<'t> {
    text: &'t str,
    doc: usize,
}

impl Locator<'_> {
    /// 1-based (line, column) of the node at `path`, if it exists.
    pub(crate) fn find(&self, path: &[Seg]) -> Option<(usize, usize)> {
        let doc = serde_yaml_ng::Deserializer::from_str(self.text).nth(self.doc)?;
        match Locate(path).deserialize(doc) {
            Err(e) if e.to_string().contains(FOUND) => e.location().map(|l| (l.line(), l.column())),
            _ => None,
        }
    }
}

/// Lines of document `doc` read off the text, in one pass. Each
/// [`Locator::find`] re-reads the whole document, so finding every step that
/// way costs a parse per step (the fuzzer's generated cases have dozens).
struct TextLines {
    /// The first line of content: the root node's, unless a `---` line holds
    /// content (then `None`).
    first: Option<usize>,
    /// The items of a top-level `steps:` written in block style;
    /// [`step_lines`] checks them against the locator before trusting them
    /// (unless the text is [`Layout::Rendered`]).
    steps: Option<Vec<usize>>,
}

fn text_lines(text: &str, doc: usize) -> TextLines {
    let mut current = 0;
    let (mut started, mut marker) = (false, false);
    let (mut first, mut marker_content) = (None, false);
    let mut in_steps = false;
    let mut indent: Option<usize> = None;
    let mut out = vec![];
    let mut next_line = 1;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Number lines as the YAML parser does: it also breaks lines at a
        // lone CR, NEL, LS and PS (which a quoted scalar may hold).
        let number = next_line;
        next_line += 1 + line
            .chars()
            .filter(|c| matches!(c, '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
            .count();
        if line.starts_with("---") || line.starts_with("...") {
            if let Some(rest) = line.strip_prefix("---") {
                if started || marker {
                    current += 1;
                }
                marker = true;
                if current == doc && first.is_none() {
                    marker_content |= !rest.split('#').next().unwrap_or("").trim().is_empty();
                }
            }
            if in_steps {
                break;
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        started = true;
        if current != doc {
            continue;
        }
        first.get_or_insert(number);
        let ind = line.len() - trimmed.len();
        if !in_steps {
            in_steps = ind == 0 && line.split('#').next().unwrap_or("").trim_end() == "steps:";
            continue;
        }
        let want = *indent.get_or_insert(ind);
        let item = trimmed == "-" || trimmed.starts_with("- ");
        if ind < want || (ind == want && !item) {
            break;
        }
        if ind == want {
            out.push(number);
        }
    }
    TextLines {
        first: first.filter(|_| !marker_content),
        steps: (!out.is_empty()).then_some(out),
    }
}

/// Set each step's line: from the text when its layout allows and the
/// locator agrees on the first and last step, else node by node.
fn step_lines(loc: &Locator<'_>, steps: &mut [Step], read: Option<Vec<usize>>, layout: Layout) {
    let path = |i: usize| vec![Seg::Key("steps"), Seg::Index(i)];
    let nested = steps.iter().any(|s| matches!(s.kind, StepKind::Repeat(_)));
    if let Some(lines) = read.filter(|l| l.len() == steps.len()) {
        let agree = layout == Layout::Rendered || {
            let first = loc.find(&path(0)).map(|(l, _)| l);
            let last = loc.find(&path(steps.len() - 1)).map(|(l, _)| l);
            first == lines.first().copied() && last == lines.last().copied()
        };
        if !nested && agree {
            for (s, l) in steps.iter_mut().zip(lines) {
                s.line = l;
            }
            return;
        }
    }
    fill_lines(loc, steps, &mut vec![Seg::Key("steps")]);
}

fn fill_lines(loc: &Locator<'_>, steps: &mut [Step], path: &mut Vec<Seg>) {
    for (i, step) in steps.iter_mut().enumerate() {
        path.push(Seg::Index(i));
        step.line = loc.find(path).map(|(l, _)| l).unwrap_or(0);
        if let StepKind::Repeat(r) = &mut step.kind {
            path.push(Seg::Key("repeat"));
            path.push(Seg::Key("steps"));
            fill_lines(loc, &mut r.steps, path);
            path.truncate(path.len() - 2);
        }
        path.pop();
    }
}

// ---------------------------------------------------------------- loading

/// Parse the text of one case file (one case, or several YAML documents
/// separated by `---`, each a case). `path` is used for messages and as
/// each case's `source`. Empty documents are skipped; a file with no case at
/// all is an error.
pub fn parse_str(text: &str, path: &Path) -> Result<Vec<Case>, CaseError> {
    parse(text, path, Layout::Any)
}

/// [`parse_str`] for text this program rendered in block style (the
/// fuzzer's cases, one per iteration): lines are read off the text without
/// checking them against re-reads of the document, which cost three parses
/// per case. The fuzzer's tests check that both ways agree.
pub fn parse_rendered(text: &str, path: &Path) -> Result<Vec<Case>, CaseError> {
    parse(text, path, Layout::Rendered)
}

/// How far the text's layout can be trusted for lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Anything a user wrote: lines read off the text are checked.
    Any,
    /// Block style, as serde_yaml_ng renders.
    Rendered,
}

fn parse(text: &str, path: &Path, layout: Layout) -> Result<Vec<Case>, CaseError> {
    let mut cases: Vec<Case> = Vec::new();
    for (doc_index, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let parsed = Option::<CaseDe>::deserialize(doc).map_err(|e| yaml_error(path, e))?;
        let Some(CaseDe(mut case)) = parsed else {
            continue;
        };
        let loc = Locator {
            text,
            doc: doc_index,
        };
        case.source = path.to_path_buf();
        let read = text_lines(text, doc_index);
        case.line = read
            .first
            .filter(|_| layout == Layout::Rendered)
            .or_else(|| loc.find(&[]).map(|(l, _)| l))
            .unwrap_or(1);
        step_lines(&loc, &mut case.steps, read.steps, layout);
        let checked = match case.role {
            Role::Client => client_check::check(&mut case),
            Role::Runtime => validate::check(&mut case),
        };
        checked.map_err(|(line, msg)| {
            CaseError::new(path, Some(line).filter(|l| *l > 0), None, msg)
        })?;
        if let Some(prev) = cases.iter().find(|c| c.id == case.id) {
            return Err(duplicate(&case, prev));
        }
        cases.push(case);
    }
    if cases.is_empty() {
        return Err(CaseError::new(path, None, None, "no case in file"));
    }
    Ok(cases)
}

fn duplicate(case: &Case, prev: &Case) -> CaseError {
    CaseError::new(
        &case.source,
        Some(case.line),
        None,
        format!(
            "duplicate case id {:?} (also in {})",
            case.id,
            prev.location()
        ),
    )
}

/// Read and parse one case file.
pub fn load_file(path: &Path) -> Result<Vec<Case>, CaseError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CaseError::new(path, None, None, format!("cannot read: {e}")))?;
    parse_str(&text, path)
}

/// Every `*.yaml` / `*.yml` file under `dir`, recursively, sorted; entries
/// whose name starts with `.` are skipped.
pub fn case_files(dir: &Path) -> Result<Vec<PathBuf>, CaseError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CaseError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| CaseError::new(dir, None, None, format!("cannot read directory: {e}")))?;
        for entry in entries {
            let entry = entry.map_err(|e| {
                CaseError::new(dir, None, None, format!("cannot read directory: {e}"))
            })?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            // requirements.yaml is the requirement list, not a case.
            if name.starts_with('.') || name == "requirements.yaml" {
                continue;
            }
            let meta = std::fs::metadata(&path)
                .map_err(|e| CaseError::new(&path, None, None, format!("cannot read: {e}")))?;
            if meta.is_dir() {
                walk(&path, out)?;
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Load every case under `dir` (see [`case_files`]), in file order then
/// document order. Fails on the first problem: a bad file, a case id used
/// twice (naming both places), a `depends_on` naming no case, or a
/// dependency cycle.
pub fn load_dir(dir: &Path) -> Result<Vec<Case>, CaseError> {
    let mut sources = vec![];
    for file in case_files(dir)? {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| CaseError::new(&file, None, None, format!("cannot read: {e}")))?;
        sources.push((file, text));
    }
    load_sources(&sources)
}

/// Load cases from (path, text) pairs, with the checks of [`load_dir`]:
/// unique ids, known dependencies, no cycles.
pub fn load_sources(sources: &[(PathBuf, String)]) -> Result<Vec<Case>, CaseError> {
    let mut cases: Vec<Case> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (file, text) in sources {
        for case in parse_str(text, file)? {
            if let Some(&i) = by_id.get(&case.id) {
                return Err(duplicate(&case, &cases[i]));
            }
            by_id.insert(case.id.clone(), cases.len());
            cases.push(case);
        }
    }
    check_dependencies(&cases)?;
    Ok(cases)
}

/// A suite's cases (the embedded ones, `--cases DIR`): each case's level is
/// borne out by its quoted sentence, else one error at its `level:` line.
/// The probe's and the fuzzer's generated cases, and reproducers run with
/// `--case`, cite the oracle they were judged by and are not checked.
pub fn check_levels(cases: &[Case], sources: &[(PathBuf, String)]) -> Result<(), CaseError> {
    for case in cases {
        if let Some(msg) = validate::level(case) {
            let text = sources
                .iter()
                .find(|(p, _)| *p == case.source)
                .map_or("", |(_, t)| t.as_str());
            let line = level_line(text, case.line);
            return Err(CaseError::new(&case.source, Some(line), None, msg));
        }
    }
    Ok(())
}

/// Line of the top-level `level:` key of the case starting at `start`
/// (1-based), else `start`.
fn level_line(text: &str, start: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(start.saturating_sub(1))
        .take_while(|(i, l)| *i + 1 == start || !l.starts_with("---"))
        .find(|(_, l)| l.starts_with("level:"))
        .map_or(start, |(i, _)| i + 1)
}

/// Every `depends_on` names a loaded case, and there is no cycle.
pub fn check_dependencies(cases: &[Case]) -> Result<(), CaseError> {
    let index: BTreeMap<&str, &Case> = cases.iter().map(|c| (c.id.as_str(), c)).collect();
    for case in cases {
        for dep in &case.depends_on {
            if !index.contains_key(dep.as_str()) {
                return Err(CaseError::new(
                    &case.source,
                    Some(case.line),
                    None,
                    format!("case {:?} depends on unknown case {dep:?}", case.id),
                ));
            }
        }
    }
    // Depth-first search for a cycle; report it as a -> b -> a.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit<'a>(
        id: &'a str,
        index: &BTreeMap<&'a str, &'a Case>,
        marks: &mut HashMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        match marks.get(id).copied().unwrap_or(Mark::New) {
            Mark::Done => return None,
            Mark::Active => {
                let start = stack.iter().position(|s| *s == id).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(id);
                return Some(cycle);
            }
            Mark::New => {}
        }
        marks.insert(id, Mark::Active);
        stack.push(id);
        for dep in &index[id].depends_on {
            if let Some(c) = visit(dep, index, marks, stack) {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(id, Mark::Done);
        None
    }
    let mut marks = HashMap::new();
    for case in cases {
        if let Some(cycle) = visit(&case.id, &index, &mut marks, &mut Vec::new()) {
            let first = index[cycle[0]];
            return Err(CaseError::new(
                &first.source,
                Some(first.line),
                None,
                format!("dependency cycle: {}", cycle.join(" -> ")),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# comment\nid: a.b\ntitle: t\nsections: [\"5\"]\nlevel: MUST\nrequirement: \"x\"\nsteps:\n  - open: {}\n    note: |\n      - not a step\n  # a comment\n  - sleep: 1s\n\n  - repeat:\n      times: 2\n      steps:\n        - sleep: 1ms\n---\nid: a.c\ntitle: t\nsections: [\"5\"]\nlevel: MUST\nrequirement: \"x\"\nsteps:\n- open: {}\n- sleep: 1s\n";

    #[test]
    fn step_lines_read_off_the_text_match_the_yaml_structure() {
        assert_eq!(text_lines(TEXT, 0).steps, Some(vec![8, 12, 14]));
        assert_eq!(text_lines(TEXT, 1).steps, Some(vec![25, 26]));
        assert_eq!(text_lines(TEXT, 0).first, Some(2));
        assert_eq!(text_lines(TEXT, 1).first, Some(19));
        // Content on the `---` line: the root's line is not read off the text.
        assert_eq!(text_lines("--- {id: a}\n", 0).first, None);
        assert_eq!(text_lines("--- # c\nid: a\n", 0).first, Some(2));
        let cases = parse_str(TEXT, Path::new("t.yaml")).unwrap();
        let lines = |c: &Case| c.steps.iter().map(|s| s.line).collect::<Vec<_>>();
        assert_eq!(lines(&cases[0]), [8, 12, 14]);
        let StepKind::Repeat(r) = &cases[0].steps[2].kind else {
            panic!("a repeat step")
        };
        assert_eq!(r.steps[0].line, 17);
        assert_eq!(lines(&cases[1]), [25, 26]);
        // A quoted scalar holding LS and PS: YAML counts them as line breaks.
        let breaks = "id: a.e\ntitle: t\nsections: [\"5\"]\nlevel: MUST\nrequirement: \"x\"\nsteps:\n- open: {}\n  note: '\u{2028}\u{2029} '\n- sleep: 1s\n";
        assert_eq!(text_lines(breaks, 0).steps, Some(vec![7, 11]));
        let c = parse_str(breaks, Path::new("b.yaml")).unwrap();
        assert_eq!(lines(&c[0]), [7, 11]);
        // Flow style has no block lines: the locator finds them.
        let flow = "id: a.d\ntitle: t\nsections: [\"5\"]\nlevel: MUST\nrequirement: \"x\"\nsteps: [{open: {}},\n  {sleep: 1s}]\n";
        assert_eq!(text_lines(flow, 0).steps, None);
        let c = parse_str(flow, Path::new("f.yaml")).unwrap();
        assert_eq!(lines(&c[0]), [6, 7]);
    }
}
