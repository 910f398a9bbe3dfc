//! Remote-write bodies: snappy, protobuf (1.0 and 2.0), validation.
#![no_main]

#[path = "../../src/prom/proto.rs"]
#[allow(dead_code)]
mod proto;
#[path = "../../src/prom/decode.rs"]
#[allow(dead_code)]
mod decode;

libfuzzer_sys::fuzz_target!(|data: &[u8]| decode::fuzz_decode(data));
