//! §9 leases: capability grants, constraints, budgets and subsetting.

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Reserved namespaces (§9.2).
pub const NAMESPACES: &[&str] = &[
    "fs.read",
    "fs.write",
    "net.fetch",
    "tool.call",
    "agent.delegate",
    "cost.budget",
    "model.use",
];

/// A lease: namespace -> patterns.
pub type Lease = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeaseConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// Per-currency budget counters (§9.6).
pub type Budget = BTreeMap<String, f64>;

/// Compile a capability glob. `*` stays within a path segment; `**` crosses.
pub fn glob(pattern: &str) -> Option<GlobMatcher> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// Does any pattern match `target`?
pub fn covers(patterns: &[String], target: &str) -> bool {
    patterns
        .iter()
        .any(|p| p == target || glob(p).is_some_and(|g| g.is_match(target)))
}

fn is_glob(p: &str) -> bool {
    p.contains(['*', '?', '[', '{'])
}

/// Is the child pattern's match set within the parent pattern's? Conservative:
/// equal, a literal the parent matches, or a glob under a parent `prefix**`.
pub fn pattern_within(parent: &str, child: &str) -> bool {
    if parent == child {
        return true;
    }
    if !is_glob(child) {
        return glob(parent).is_some_and(|g| g.is_match(child));
    }
    if let Some(prefix) = parent.strip_suffix("**") {
        if !is_glob(prefix) && child.starts_with(prefix) {
            return true;
        }
    }
    if let Some(prefix) = parent.strip_suffix('*') {
        // `a/*` covers `a/b*` when the child stays inside one segment.
        if !is_glob(prefix) {
            if let Some(rest) = child.strip_prefix(prefix) {
                return !rest.contains('/') && !rest.contains("**");
            }
        }
    }
    false
}

/// Parse an amount string `CURRENCY:DECIMAL` (§9.6).
pub fn parse_amount(s: &str) -> Option<(String, f64)> {
    let (cur, dec) = s.split_once(':')?;
    if cur.is_empty() || dec.is_empty() {
        return None;
    }
    let mut parts = dec.splitn(2, '.');
    let int = parts.next()?;
    let frac = parts.next();
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    Some((cur.to_string(), dec.parse().ok()?))
}

/// Initial counters from a lease's `cost.budget` patterns.
pub fn budget_of(lease: &Lease) -> Option<Result<Budget, String>> {
    let amounts = lease.get("cost.budget")?;
    let mut budget = Budget::new();
    for a in amounts {
        match parse_amount(a) {
            Some((cur, v)) => {
                budget.insert(cur, v);
            }
            None => return Some(Err(format!("invalid cost.budget amount `{a}`"))),
        }
    }
    Some(Ok(budget))
}

/// Why a delegated lease is not a subset of its parent (§9.4), if it is not.
pub fn subset_violation(
    parent: &Lease,
    parent_remaining: &Budget,
    child: &Lease,
) -> Option<String> {
    for (ns, patterns) in child {
        if ns == "cost.budget" {
            for a in patterns {
                let Some((cur, v)) = parse_amount(a) else {
                    return Some(format!("invalid cost.budget amount `{a}`"));
                };
                match parent_remaining.get(&cur) {
                    Some(rem) if v <= *rem + 1e-9 => {}
                    Some(rem) => {
                        return Some(format!(
                            "cost.budget {cur}:{v} exceeds the parent's remaining {rem}"
                        ))
                    }
                    None => return Some(format!("parent lease has no {cur} budget")),
                }
            }
            continue;
        }
        let Some(parent_patterns) = parent.get(ns) else {
            return Some(format!("parent lease does not grant `{ns}`"));
        };
        for p in patterns {
            if !parent_patterns.iter().any(|pp| pattern_within(pp, p)) {
                return Some(format!("`{ns}: {p}` is not covered by the parent lease"));
            }
        }
    }
    None
}

/// Parse an `expires_at`: ISO 8601, UTC with `Z` suffix (§9.5).
pub fn parse_expires_at(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if !s.ends_with('Z') {
        return Err(format!("expires_at `{s}` must be UTC with a `Z` suffix"));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|e| format!("expires_at `{s}` is not ISO 8601: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_cover_paths_and_names() {
        let p = vec!["/workspace/app/**".to_string(), "search.*".to_string()];
        assert!(covers(&p, "/workspace/app/src/main.rs"));
        assert!(!covers(&p, "/etc/passwd"));
        assert!(covers(&p, "search.web"));
        assert!(!covers(&["tier-fast/*".to_string()], "tier-slow/x"));
    }

    #[test]
    fn subsets() {
        assert!(pattern_within("/a/**", "/a/b/**"));
        assert!(pattern_within("/a/**", "/a/b/c.txt"));
        assert!(!pattern_within("/a/b/**", "/a/**"));
        assert!(pattern_within("tier-fast/*", "tier-fast/mini"));
        assert!(!pattern_within("tier-fast/*", "tier-*"));
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("USD:5.00"), Some(("USD".into(), 5.0)));
        assert_eq!(
            parse_amount("credits:1000"),
            Some(("credits".into(), 1000.0))
        );
        assert_eq!(parse_amount("USD:-1"), None);
        assert_eq!(parse_amount("USD:1."), None);
        assert_eq!(parse_amount("USD"), None);
    }

    #[test]
    fn expires_at_must_be_utc_z() {
        assert!(parse_expires_at("2026-05-13T23:42:00Z").is_ok());
        assert!(parse_expires_at("2026-05-13T23:42:00+01:00").is_err());
        assert!(parse_expires_at("tomorrow").is_err());
    }
}
