//! XOR chunks: decoding arbitrary bytes never panics, and whatever decodes
//! re-encodes to a chunk that decodes to the same samples.
#![no_main]

#[path = "../../src/prom/chunk.rs"]
#[allow(dead_code)]
mod chunk;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(samples) = chunk::decode_xor(data) {
        let mut c = chunk::XorChunk::default();
        for &(t, v) in samples.iter().take(1000) {
            c.append(t, v);
        }
        let again = chunk::decode_xor(&c.into_bytes()).expect("our own chunk decodes");
        let bits = |s: &[(i64, f64)]| s.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>();
        assert_eq!(bits(&again), bits(&samples[..samples.len().min(1000)]));
    }
});
