//! Arbitrary bytes as frames to an in-memory reference runtime connection, read back with a deadline.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    arcp_conform::fuzz::targets::runtime_frames(data);
});
