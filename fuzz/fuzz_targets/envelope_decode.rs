//! wire::Envelope::decode on arbitrary text (and the encode/decode round trip).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    arcp_conform::fuzz::targets::envelope_decode(data);
});
