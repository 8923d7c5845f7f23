//! The bodies of the cargo-fuzz targets (`fuzz/fuzz_targets/`) on the stable
//! toolchain: each runs on proptest-generated hostile inputs for a bounded
//! time (FUZZ_SMOKE_SECS per target, default 1). `fuzz/smoke.sh` calls this
//! when cargo-fuzz is not installed. Nothing may panic.

use arcp_conform::fuzz::gen::Gen;
use arcp_conform::fuzz::mutate::{self, Base, FrameCtx, JobRef};
use arcp_conform::fuzz::targets;
use proptest::prelude::any;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn budget() -> Duration {
    let secs = std::env::var("FUZZ_SMOKE_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs)
}

/// Run `body` on inputs from `input` until the budget is spent; report how many.
fn smoke(name: &str, seed: u64, mut input: impl FnMut(&mut Gen) -> Vec<u8>, body: fn(&[u8])) {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget() || n < 50 {
        let mut g = Gen::new(seed, n);
        let data = input(&mut g);
        body(&data);
        n += 1;
    }
    eprintln!(
        "{name}: {n} inputs in {:.1}s",
        start.elapsed().as_secs_f64()
    );
}

fn random_bytes(g: &mut Gen) -> Vec<u8> {
    g.draw(proptest::collection::vec(any::<u8>(), 0..512))
        .unwrap_or_default()
}

/// A mutated client frame, as the protocol fuzzer makes them.
fn mutated_frame(g: &mut Gen, in_session: bool) -> String {
    let bases = [
        Base::Ping,
        Base::Submit,
        Base::ListJobs,
        Base::Ack,
        Base::Hello,
        Base::Resume,
        Base::Pong,
        Base::Cancel(JobRef::Unknown("job_01HZZZZZZZZZZZZZZZZZZZZZZZ".into())),
        Base::Subscribe(JobRef::Unknown("job_01HZZZZZZZZZZZZZZZZZZZZZZZ".into())),
        Base::RuntimeOnly("job.event"),
    ];
    let base = g.pick(&bases).clone();
    let m = mutate::generate(g, base, Some("b"));
    let features = arcp_conform::wire::Feature::all_names();
    let ctx = FrameCtx {
        arcp: "1.1",
        session: "a",
        in_session,
        features: &features,
        job: &|_| None,
    };
    let text = mutate::build(&m, &ctx).text;
    // Markers become plain text here: the target sees them as odd characters.
    text
}

#[test]
fn envelope_decode() {
    smoke(
        "envelope_decode",
        1,
        |g| match g.below(3) {
            0 => random_bytes(g),
            1 => g.json(4).to_string().into_bytes(),
            _ => mutated_frame(g, true).into_bytes(),
        },
        targets::envelope_decode,
    );
}

const YAML_BITS: &[&str] = &[
    "${",
    "$${",
    "${session.a.id}",
    "${now+5s}",
    "$regex (",
    "$gt x",
    "$capture 1x",
    "- ",
    ": ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "!!binary ",
    "---\n",
    "\t",
    "\n  ",
    "'",
    "\"",
    "#",
    "? ",
    "|\n",
    "steps:\n",
    "- repeat: {times: 1000000000, steps: []}\n",
    "timeout: 1e400s\n",
    "\u{0}",
    "- expect: {match: {$one_of: []}}\n",
    "sections: [6.10]\n",
    "- sleep: -1s\n",
];

#[test]
fn case_load() {
    let suite = arcp_conform::suite::embedded_sources();
    smoke(
        "case_load",
        2,
        |g| {
            let mut text = match g.below(3) {
                0 => g.pick(&suite).1.clone(),
                1 => {
                    let it = g.below(1000);
                    arcp_conform::fuzz::plan_for(g.u64(), it, &Default::default())
                        .1
                        .yaml
                }
                _ => String::from_utf8_lossy(&random_bytes(g)).into_owned(),
            };
            for _ in 0..g.range(1, 4) {
                let mut at = g.below(text.len() as u64 + 1) as usize;
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                match g.below(3) {
                    0 => {
                        let bit: &str = YAML_BITS[g.below(YAML_BITS.len() as u64) as usize];
                        text.insert_str(at, bit)
                    }
                    1 => text.truncate(at),
                    _ => {
                        let s = g.odd_string();
                        text.insert_str(at, &s)
                    }
                }
            }
            text.into_bytes()
        },
        targets::case_load,
    );
}

fn pattern(g: &mut Gen, depth: u32) -> Value {
    const STR: &[&str] = &[
        "$any",
        "$absent",
        "$string",
        "$number",
        "$integer",
        "$bool",
        "$object",
        "$array",
        "$null",
        "$nonempty",
        "$regex (",
        "$regex ^a+$",
        "$regex [",
        "$regex \\",
        "$gt 1",
        "$gt x",
        "$lte -1e400",
        "$len 3",
        "$len -1",
        "$capture x",
        "$capture 9",
        "$$lit",
        "$unknown",
        "$",
    ];
    if depth == 0 {
        return if g.chance(0.5) {
            json!(g.pick(STR))
        } else {
            g.json(1)
        };
    }
    match g.below(8) {
        0 => json!({"$one_of": (0..g.below(3)).map(|_| pattern(g, depth - 1)).collect::<Vec<_>>()}),
        1 => json!({"$all_of": [pattern(g, depth - 1), pattern(g, depth - 1)]}),
        2 => json!({"$not": pattern(g, depth - 1)}),
        3 => json!({"$contains": pattern(g, depth - 1)}),
        4 => json!({"$each": pattern(g, depth - 1)}),
        5 => json!({ g.word(): pattern(g, depth - 1), "$x": 1 }),
        6 => json!([pattern(g, depth - 1), pattern(g, depth - 1)]),
        _ => json!({ g.word(): pattern(g, depth - 1), "type": pattern(g, depth - 1) }),
    }
}

#[test]
fn matcher() {
    smoke(
        "matcher",
        3,
        |g| {
            if g.chance(0.1) {
                return random_bytes(g);
            }
            let p = pattern(g, 3);
            let v = if g.chance(0.5) { g.json(3) } else { p.clone() };
            let mut out = p.to_string().into_bytes();
            out.push(0);
            out.extend(v.to_string().into_bytes());
            out
        },
        targets::matcher,
    );
}

#[test]
fn runtime_frames() {
    smoke(
        "runtime_frames",
        4,
        |g| {
            let mut out = vec![if g.chance(0.7) { 1u8 } else { 0u8 }];
            for _ in 0..g.range(1, 6) {
                out.push(b'\n');
                let frame = match g.below(4) {
                    0 => random_bytes(g),
                    _ => mutated_frame(g, true).into_bytes(),
                };
                out.extend(frame.into_iter().filter(|b| *b != b'\n'));
            }
            out
        },
        targets::runtime_frames,
    );
}
