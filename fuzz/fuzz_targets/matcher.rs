//! matcher::matches with an arbitrary pattern and value (two JSON texts split by a NUL byte).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    arcp_conform::fuzz::targets::matcher(data);
});
