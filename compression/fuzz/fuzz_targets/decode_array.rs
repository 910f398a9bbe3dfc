//! Fuzz target: `lynx_compression::decode_array` on arbitrary bytes must return an
//! error or a well-formed result, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lynx_compression::fuzz_support::fuzz_decode_array(data);
});
