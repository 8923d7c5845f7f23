//! case::parse_str on arbitrary text: YAML, templates, patterns, durations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    arcp_conform::fuzz::targets::case_load(data);
});
