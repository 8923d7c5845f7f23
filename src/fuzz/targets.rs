//! Bodies of the coverage-guided fuzz targets for the harness's own parsers
//! (`fuzz/fuzz_targets/*.rs` call these under libFuzzer; `tests/fuzz_smoke.rs`
//! calls them on generated inputs on the stable toolchain). Each must return
//! normally on any input: a panic is a bug.

use crate::runtime::Runtime;
use crate::transport::Inbound;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `wire::Envelope::decode` on arbitrary text; what decodes re-encodes and
/// decodes to the same envelope.
pub fn envelope_decode(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(env) = crate::wire::Envelope::decode(&text) {
        let again =
            crate::wire::Envelope::decode(&env.encode()).expect("an encoded envelope decodes");
        assert_eq!(env, again, "envelope round trip");
        let _ = env.message_type();
        let _ = crate::redact::frame(&text);
    }
}

/// `case::parse_str` on arbitrary text (YAML, templates, patterns).
pub fn case_load(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(cases) = crate::case::parse_str(&text, std::path::Path::new("fuzz.yaml")) {
        for c in &cases {
            let _ = c.all_steps();
        }
    }
}

/// `matcher::matches` with an arbitrary pattern and value: the input is two
/// JSON texts separated by a NUL byte (or split in half).
pub fn matcher(data: &[u8]) {
    let (a, b) = match data.iter().position(|x| *x == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => data.split_at(data.len() / 2),
    };
    let (Ok(pattern), Ok(actual)) = (
        serde_json::from_slice::<Value>(a),
        serde_json::from_slice::<Value>(b),
    ) else {
        return;
    };
    matcher_values(&pattern, &actual);
}

/// The matcher entry points on two JSON values.
pub fn matcher_values(pattern: &Value, actual: &Value) {
    let _ = crate::matcher::describe(pattern);
    let _ = crate::matcher::capture_names(pattern);
    // Like the loader: only validated patterns reach `matches`; an invalid
    // one must still be reported, not panic.
    let _ = crate::matcher::validate_pattern(pattern);
    match crate::matcher::matches(pattern, actual) {
        Ok(_) => {}
        Err(m) => {
            let _ = m.to_string();
        }
    }
    let _ = crate::matcher::show(actual);
}

static PANICKED: AtomicBool = AtomicBool::new(false);

/// Panics in the runtime's spawned tasks do not unwind into the caller:
/// record them with a panic hook (installed once, chaining the previous one).
fn watch_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            previous(info);
        }));
    });
}

const HELLO: &str = r#"{"arcp":"1.1","id":"msg_01HAAAAAAAAAAAAAAAAAAAAAAA","type":"session.hello","payload":{"auth":{"scheme":"bearer","token":"tok-alice"},"capabilities":{"encodings":["json"],"features":["heartbeat","ack","list_jobs","subscribe","lease_expires_at","cost.budget","model.use","provisioned_credentials","progress","result_chunk","agent_versions"]}}}"#;

const SENTINEL: &str = r#"{"arcp":"1.1","id":"fuzz-sentinel","type":"session.ping","payload":{"nonce":"fuzz-sentinel"}}"#;

/// Arbitrary bytes as frames (split at newlines, invalid UTF-8 replaced) to
/// an in-memory connection of a fresh reference runtime; the runtime may
/// answer anything but must not panic, and the harness reads its answers
/// with a deadline. When the first byte is odd a valid hello goes first, so
/// the in-session paths are reached.
pub fn runtime_frames(data: &[u8]) {
    watch_panics();
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        // Protocol time runs fast: heartbeats, expiry and sleeps happen too.
        let runtime = Runtime::new(crate::target::suite_runtime_config(1000.0));
        let mut conn = runtime.connect_memory(1 << 20);
        if data.first().is_some_and(|b| b & 1 == 1) {
            let _ = conn.send(HELLO.to_string()).await;
        }
        for frame in data.split(|b| *b == b'\n').take(64) {
            let text = String::from_utf8_lossy(frame).into_owned();
            if conn.send(text).await.is_err() {
                break;
            }
        }
        // A last ping: its pong (in a session) or its refusal (before hello)
        // says the runtime has read everything.
        let _ = conn.send(SENTINEL.to_string()).await;
        let until = Instant::now() + Duration::from_millis(200);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match conn.recv(left).await {
                Ok(Inbound::Frame(f)) => {
                    // Whatever the runtime sends is JSON.
                    assert!(
                        serde_json::from_str::<Value>(&f).is_ok(),
                        "the runtime sent a frame that is not JSON: {f}"
                    );
                    if f.contains("fuzz-sentinel") {
                        break;
                    }
                }
                Ok(Inbound::Fault(_)) => {}
                Ok(Inbound::Closed(_)) | Err(_) => break,
            }
        }
    });
    drop(rt);
    assert!(
        !PANICKED.swap(false, Ordering::SeqCst),
        "a runtime task panicked (see the message above)"
    );
}
