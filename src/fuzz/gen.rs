//! The fuzzer's source of randomness: a proptest [`TestRunner`] over a
//! ChaCha RNG seeded from `--seed` and the iteration number, so one seed
//! always generates the same sequences (whatever `--jobs` is), plus the
//! catalogue of hostile values (odd Unicode, boundary numbers, random JSON).

use proptest::prelude::Rng;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};

/// SplitMix64 step: spreads a seed over 64 bits.
fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Deterministic random choices for one iteration.
pub struct Gen {
    runner: TestRunner,
}

impl Gen {
    /// The generator of iteration `iteration` of a run seeded with `seed`.
    pub fn new(seed: u64, iteration: u64) -> Gen {
        let mut it = iteration;
        let mut s = seed ^ splitmix(&mut it).rotate_left(29);
        s = splitmix(&mut s);
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&splitmix(&mut s).to_le_bytes());
        }
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        let config = Config {
            failure_persistence: None,
            ..Config::default()
        };
        Gen {
            runner: TestRunner::new_with_rng(config, rng),
        }
    }

    pub fn u64(&mut self) -> u64 {
        self.runner.rng().next_u64()
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.below(1_000_000) as f64) < p * 1_000_000.0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Index chosen with the given weights (all zero: 0).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| *w as u64).sum();
        if total == 0 {
            return 0;
        }
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w as u64 {
                return i;
            }
            x -= *w as u64;
        }
        weights.len() - 1
    }

    /// One value of a proptest strategy.
    pub fn draw<S: Strategy>(&mut self, s: S) -> Option<S::Value> {
        s.new_tree(&mut self.runner).ok().map(|t| t.current())
    }

    /// An id of the shape peers validate (`prefix_` + 26 Crockford base32
    /// characters), but deterministic.
    pub fn ulid(&mut self, prefix: &str) -> String {
        const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        // A time prefix in a plausible range (first char 0-7 keeps it < 2^48 ms).
        let mut out = String::from(prefix);
        out.push(CROCKFORD[self.below(2) as usize] as char);
        for _ in 0..25 {
            out.push(CROCKFORD[self.below(32) as usize] as char);
        }
        out
    }

    /// 32 lowercase hex digits (a W3C trace id).
    pub fn trace_id(&mut self) -> String {
        format!("{:016x}{:016x}", self.u64(), self.u64() | 1)
    }

    /// A string from the hostile catalogue, a proptest-generated Unicode
    /// string, or a long one.
    pub fn odd_string(&mut self) -> String {
        match self.below(10) {
            0..=4 => self.pick(ODD_STRINGS).to_string(),
            5..=7 => self
                .draw(proptest::string::string_regex("\\PC{0,24}").expect("valid regex"))
                .unwrap_or_default(),
            8 => self
                .draw(proptest::collection::vec(proptest::char::any(), 0..16))
                .unwrap_or_default()
                .into_iter()
                .collect(),
            _ => {
                let unit = self.pick(&["x", "é", "\u{1f600}", "\u{200b}", "\\\"", "ab\u{0}"]);
                let n = *self.pick(&[256usize, 4096, 65_536]);
                unit.repeat(n / unit.len().max(1))
            }
        }
    }

    /// A short printable word (message texts, ids that should stay readable).
    pub fn word(&mut self) -> String {
        const WORDS: &[&str] = &[
            "alpha", "beta", "gamma", "delta", "x", "fuzz", "step", "data", "search", "report",
        ];
        format!("{}{}", self.pick(WORDS), self.below(100))
    }

    /// A number from the boundary catalogue or a random finite float/integer.
    pub fn number(&mut self) -> Value {
        match self.below(4) {
            0 | 1 => self.pick(boundary_numbers()).clone(),
            2 => json!(self.draw(proptest::num::i64::ANY).unwrap_or_default()),
            _ => {
                let f = self.draw(proptest::num::f64::ANY).unwrap_or_default();
                if f.is_finite() {
                    json!(f)
                } else {
                    json!(0.5)
                }
            }
        }
    }

    /// Random JSON, at most `depth` levels deep.
    pub fn json(&mut self, depth: u32) -> Value {
        let k = if depth == 0 {
            self.below(4)
        } else {
            self.below(6)
        };
        match k {
            0 => Value::Null,
            1 => Value::Bool(self.chance(0.5)),
            2 => self.number(),
            3 => Value::String(self.odd_string()),
            4 => {
                let n = self.below(4);
                Value::Array((0..n).map(|_| self.json(depth - 1)).collect())
            }
            _ => self.json_object(depth - 1),
        }
    }

    /// A random JSON object.
    pub fn json_object(&mut self, depth: u32) -> Value {
        let n = self.below(4);
        let mut m = Map::new();
        for _ in 0..n {
            let k = if self.chance(0.5) {
                self.word()
            } else {
                self.odd_string()
            };
            m.insert(k, self.json(depth));
        }
        Value::Object(m)
    }

    /// A value of a different JSON type than `v` (wrong-type mutations).
    pub fn other_type(&mut self, v: Option<&Value>) -> Value {
        loop {
            let c = match self.below(6) {
                0 => Value::Null,
                1 => Value::Bool(self.chance(0.5)),
                2 => self.number(),
                3 => Value::String(self.odd_string()),
                4 => json!([self.json(0)]),
                _ => json!({ self.word(): self.json(0) }),
            };
            if v.is_none_or(|v| std::mem::discriminant(v) != std::mem::discriminant(&c)) {
                return c;
            }
        }
    }
}

/// Strings that break naive parsers, renderers and loggers. None contains a
/// raw newline outside what JSON escapes; all are valid Unicode (a text frame
/// over our transports cannot carry invalid UTF-8, so U+FFFD stands in).
pub const ODD_STRINGS: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "\u{1}\u{1f}\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{ad}",
    "\u{200b}\u{200c}\u{200d}",
    "\u{200e}\u{202e}txt.exe",
    "\u{2028}\u{2029}",
    "\u{feff}",
    "\u{fffd}\u{fffd}",
    "\u{fffe}\u{ffff}",
    "\u{1f600}",
    "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}",
    "\u{10ffff}",
    "e\u{301}\u{301}\u{301}\u{301}",
    "Z\u{351}\u{34d}\u{316}a\u{33e}\u{32b}l\u{344}g\u{312}o",
    "\u{fdfd}",
    "\u{12400}",
    "\\",
    "\"",
    "\\u0000",
    "\t",
    "\r",
    "\n",
    "a\r\nb",
    "${x}",
    "$${",
    "$any",
    "$$absent",
    "%s%n%x",
    "../../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "null",
    "true",
    "-1",
    "NaN",
    "1e400",
    "{}",
    "[]",
    "{\"a\":",
    "session.close",
    "[REDACTED]",
    "tok-invalid",
];

/// Numbers at the edges of what JSON parsers and integer types hold.
pub fn boundary_numbers() -> &'static [Value] {
    use std::sync::OnceLock;
    static NUMS: OnceLock<Vec<Value>> = OnceLock::new();
    NUMS.get_or_init(|| {
        vec![
            json!(0),
            json!(-0.0),
            json!(1),
            json!(-1),
            json!(0.5),
            json!(-0.5),
            json!(i32::MAX),
            json!(i32::MAX as i64 + 1),
            json!(u32::MAX as u64 + 1),
            json!(9_007_199_254_740_992u64),
            json!(9_007_199_254_740_993u64),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1e-300),
            json!(5e-324),
            json!(f64::MAX),
            json!(f64::MIN),
            json!(1e21),
        ]
    })
}

/// Number literals a JSON parser may refuse or round (used in raw text).
pub const NUMBER_LITERALS: &[&str] = &[
    "1e400",
    "-1e400",
    "123456789012345678901234567890123456789",
    "-0",
    "0e0",
    "1E+2",
    "1.0000000000000000000000001",
    "4.9e-325",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws() {
        let draw = |seed, it| {
            let mut g = Gen::new(seed, it);
            (0..50).map(|_| g.json(3).to_string()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7, 3), draw(7, 3));
        assert_ne!(draw(7, 3), draw(7, 4));
        assert_ne!(draw(7, 3), draw(8, 3));
    }

    #[test]
    fn odd_strings_have_no_bare_newlines_outside_json_escaping() {
        for s in ODD_STRINGS {
            let text = serde_json::to_string(s).unwrap();
            assert!(!text.contains('\n') && !text.contains('\r'), "{s:?}");
        }
    }
}
