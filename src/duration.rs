//! Durations as cases write them: `"250ms"`, `"5s"`, `"1.5s"`, `"2m"`,
//! `"1h"`, or a bare number of seconds (`5`, `0.5`, `"5"`).

use std::time::Duration;

/// Parse a duration string. Units: `ms`, `s`, `m`, `h`; no unit = seconds.
/// Fractions are allowed (`1.5s`); negative values are not.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "invalid duration {s:?}: unknown unit {unit:?} (use ms, s, m or h)"
            ))
        }
    };
    let n: f64 = num
        .parse()
        .ok()
        .filter(|_| !num.is_empty() && !num.starts_with('+'))
        .ok_or_else(|| {
            format!(
                "invalid duration {s:?} (expected e.g. 250ms, 5s, 1.5s, 2m or a number of seconds)"
            )
        })?;
    seconds(n * scale).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// A non-negative, finite number of seconds as a `Duration`.
pub fn seconds(n: f64) -> Result<Duration, String> {
    if !n.is_finite() {
        return Err("not a finite number".into());
    }
    if n < 0.0 {
        return Err("negative".into());
    }
    Duration::try_from_secs_f64(n).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration(" 3s "), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn rejects() {
        for bad in [
            "", "s", "5x", "5 s", "-1s", "five", "1.2.3s", "+5s", "5sec", "NaN", "inf",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse_duration("5x").unwrap_err(),
            "invalid duration \"5x\": unknown unit \"x\" (use ms, s, m or h)"
        );
        assert_eq!(
            parse_duration("-1s").unwrap_err(),
            "invalid duration \"-1s\": negative"
        );
    }
}
