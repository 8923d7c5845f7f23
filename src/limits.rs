//! The target's limits (heartbeat interval, resume window, replay buffer) and
//! the case-language quantities derived from them.
//!
//! A case never sizes a wait or a burst after the reference runtime: it
//! writes `within: heartbeat * 2 + 5s` or `${list(x, replay_buffer + 100)}`,
//! and the run resolves the names from what the target advertised in
//! `session.welcome`, falling back to the profile's `limits:` section.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A limit a case may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Limit {
    /// `heartbeat`: the welcome's `heartbeat_interval_sec`.
    Heartbeat,
    /// `resume_window`: the welcome's `resume_window_sec`, else the profile's.
    ResumeWindow,
    /// `replay_buffer`: events the target keeps for resume (profile only).
    ReplayBuffer,
}

impl Limit {
    pub fn parse(s: &str) -> Option<Limit> {
        match s {
            "heartbeat" => Some(Limit::Heartbeat),
            "resume_window" => Some(Limit::ResumeWindow),
            "replay_buffer" => Some(Limit::ReplayBuffer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Heartbeat => "heartbeat",
            Limit::ResumeWindow => "resume_window",
            Limit::ReplayBuffer => "replay_buffer",
        }
    }

    fn is_duration(self) -> bool {
        !matches!(self, Limit::ReplayBuffer)
    }

    /// What a user can change so that this limit becomes known.
    pub fn knob(self) -> &'static str {
        match self {
            Limit::Heartbeat => "the target advertises no heartbeat_interval_sec in session.welcome (a runtime without heartbeats has no heartbeat rule to test)",
            Limit::ResumeWindow => "the target advertises no resume_window_sec: set `limits.resume_window` in the profile",
            Limit::ReplayBuffer => "set `limits.replay_buffer` (events kept for resume) in the profile",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The profile's `limits:` section; also what the probe learnt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Seconds of protocol time. Only the target's welcome gives it: not a
    /// profile key (a profile cannot give a runtime heartbeats); set in code
    /// for runs without a probe handshake (the embedded runtime's own).
    #[serde(skip)]
    pub heartbeat_sec: Option<f64>,
    /// Seconds of protocol time (the welcome's `resume_window_sec` wins).
    pub resume_window_sec: Option<f64>,
    /// Events the target keeps for resume.
    pub replay_buffer: Option<u64>,
}

impl Limits {
    /// What `session.welcome`'s payload advertises.
    pub fn from_welcome(payload: &serde_json::Value) -> Limits {
        let secs = |k: &str| payload.get(k).and_then(serde_json::Value::as_f64);
        Limits {
            heartbeat_sec: secs("heartbeat_interval_sec").filter(|s| *s > 0.0),
            resume_window_sec: secs("resume_window_sec").filter(|s| *s > 0.0),
            replay_buffer: None,
        }
    }

    /// `self`, with what it lacks taken from `fallback`.
    pub fn or(&self, fallback: &Limits) -> Limits {
        Limits {
            heartbeat_sec: self.heartbeat_sec.or(fallback.heartbeat_sec),
            resume_window_sec: self.resume_window_sec.or(fallback.resume_window_sec),
            replay_buffer: self.replay_buffer.or(fallback.replay_buffer),
        }
    }

    /// The value of `l` (seconds for durations, a count for the buffer).
    pub fn get(&self, l: Limit) -> Option<f64> {
        match l {
            Limit::Heartbeat => self.heartbeat_sec,
            Limit::ResumeWindow => self.resume_window_sec,
            Limit::ReplayBuffer => self.replay_buffer.map(|n| n as f64),
        }
    }

    pub fn check(&self) -> Result<(), String> {
        for (k, v) in [
            ("heartbeat_sec", self.heartbeat_sec),
            ("resume_window_sec", self.resume_window_sec),
        ] {
            if v.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
                return Err(format!("limits.{k} must be a positive number of seconds"));
            }
        }
        Ok(())
    }
}

/// `constant + k1 * name1 + ...`: a duration (constant in seconds) or a count.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub constant: f64,
    pub terms: Vec<(f64, Limit)>,
}

impl Expr {
    pub fn literal(constant: f64) -> Expr {
        Expr {
            constant,
            terms: vec![],
        }
    }

    pub fn is_derived(&self) -> bool {
        !self.terms.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = Limit> + '_ {
        self.terms.iter().map(|(_, l)| *l)
    }

    /// Parse `heartbeat * 3 + 5s` (`duration: true`) or `replay_buffer + 100`.
    /// Terms are joined by `+`; a term is a literal or `[k *] name [* k]`.
    pub fn parse(s: &str, duration: bool) -> Result<Expr, String> {
        let literal = |t: &str| -> Result<f64, String> {
            if duration {
                crate::duration::parse_duration(t).map(|d| d.as_secs_f64())
            } else {
                t.parse::<u64>()
                    .map(|n| n as f64)
                    .map_err(|_| format!("`{t}` is not a whole number"))
            }
        };
        let mut e = Expr::literal(0.0);
        for term in s.split('+') {
            let factors: Vec<&str> = term.split('*').map(str::trim).collect();
            let name = factors.iter().find_map(|f| Limit::parse(f));
            match (name, factors.as_slice()) {
                (None, [lit]) => e.constant += literal(lit)?,
                (Some(l), _) if l.is_duration() != duration => {
                    return Err(format!(
                        "`{l}` is {}, not {} (in {s:?})",
                        if l.is_duration() { "a duration" } else { "a count" },
                        if duration { "a duration" } else { "a count" }
                    ))
                }
                (Some(l), [_]) => e.terms.push((1.0, l)),
                (Some(l), [a, b]) => {
                    let k = if Limit::parse(a).is_some() { b } else { a };
                    let k: f64 = k
                        .parse()
                        .ok()
                        .filter(|k: &f64| *k >= 0.0 && k.is_finite())
                        .ok_or_else(|| {
                            format!("`{k}` is not a factor (write e.g. `{l} * 2`) in {s:?}")
                        })?;
                    e.terms.push((k, l));
                }
                _ => {
                    return Err(format!(
                        "invalid term `{}` in {s:?}: write a literal or `[k *] heartbeat | resume_window{}`",
                        term.trim(),
                        if duration { "" } else { " | replay_buffer" }
                    ))
                }
            }
        }
        Ok(e)
    }

    /// The value under `limits`, or the first limit that is not known.
    pub fn eval(&self, limits: &Limits) -> Result<f64, Limit> {
        let mut v = self.constant;
        for (k, l) in &self.terms {
            v += k * limits.get(*l).ok_or(*l)?;
        }
        Ok(v)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .terms
            .iter()
            .map(|(k, l)| {
                if *k == 1.0 {
                    l.to_string()
                } else {
                    format!("{l} * {k}")
                }
            })
            .collect();
        if self.constant != 0.0 || parts.is_empty() {
            parts.push(format!("{}", self.constant));
        }
        f.write_str(&parts.join(" + "))
    }
}

/// A wait as a case writes it: `5s`, or derived such as `heartbeat * 2 + 5s`.
/// Equal when the value is (whether written or a default is provenance).
#[derive(Debug, Clone)]
pub struct Span {
    pub expr: Expr,
    /// Written in the case (not a step's default).
    pub written: bool,
}

impl Span {
    /// A default wait (not written in the case).
    pub fn fixed(d: Duration) -> Span {
        Span {
            expr: Expr::literal(d.as_secs_f64()),
            written: false,
        }
    }

    /// A literal wait written in the case.
    pub fn written(d: Duration) -> Span {
        Span {
            written: true,
            ..Span::fixed(d)
        }
    }

    pub fn parse(s: &str) -> Result<Span, String> {
        Expr::parse(s, true).map(|expr| Span {
            expr,
            written: true,
        })
    }

    pub fn is_derived(&self) -> bool {
        self.expr.is_derived()
    }

    /// The literal value, when the span names no limit.
    pub fn literal(&self) -> Option<Duration> {
        (!self.is_derived()).then(|| Duration::from_secs_f64(self.expr.constant))
    }

    /// Protocol time under `limits`.
    pub fn at(&self, limits: &Limits) -> Result<Duration, Limit> {
        self.expr
            .eval(limits)
            .map(|s| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX))
    }
}

impl PartialEq for Span {
    fn eq(&self, other: &Span) -> bool {
        self.expr == other.expr
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.literal() {
            Some(d) => write!(f, "{d:?}"),
            None => write!(f, "{}", self.expr),
        }
    }
}

impl From<Duration> for Span {
    fn from(d: Duration) -> Span {
        Span::fixed(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> Limits {
        Limits {
            heartbeat_sec: Some(30.0),
            resume_window_sec: Some(600.0),
            replay_buffer: Some(500),
        }
    }

    #[test]
    fn derived_durations() {
        let s = Span::parse("heartbeat * 3 + 5s").unwrap();
        assert!(s.is_derived());
        assert_eq!(s.at(&lim()), Ok(Duration::from_secs(95)));
        let s = Span::parse("2*heartbeat+resume_window+500ms").unwrap();
        assert_eq!(s.at(&lim()), Ok(Duration::from_millis(660_500)));
        assert_eq!(
            Span::parse("5s").unwrap().literal(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            Span::parse("heartbeat").unwrap().at(&Limits::default()),
            Err(Limit::Heartbeat)
        );
        assert_eq!(
            Span::parse("heartbeat * 2 + 5s").unwrap().to_string(),
            "heartbeat * 2 + 5"
        );
    }

    #[test]
    fn counts_and_errors() {
        let e = Expr::parse("replay_buffer + 100", false).unwrap();
        assert_eq!(e.eval(&lim()), Ok(600.0));
        assert!(Expr::parse("replay_buffer", true).is_err());
        assert!(Expr::parse("heartbeat", false).is_err());
        assert!(Span::parse("heartbeat * x").is_err());
        assert!(Span::parse("heartbeat * heartbeat").is_err());
        assert!(Span::parse("hearbeat + 5s").is_err());
        assert!(Span::parse("5 parsecs").is_err());
    }

    #[test]
    fn welcome_wins_over_profile() {
        let w = Limits::from_welcome(
            &serde_json::json!({"heartbeat_interval_sec": 7, "resume_window_sec": null}),
        );
        let m = w.or(&lim());
        assert_eq!(m.heartbeat_sec, Some(7.0));
        assert_eq!(m.resume_window_sec, Some(600.0));
        assert_eq!(m.replay_buffer, Some(500));
        let none = Limits::from_welcome(&serde_json::json!({"heartbeat_interval_sec": null}));
        assert_eq!(none.heartbeat_sec, None);
    }
}
