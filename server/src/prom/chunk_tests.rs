use super::*;

fn decode(chunk: &[u8]) -> Vec<(i64, f64)> {
    decode_xor(chunk).unwrap()
}

fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut c = XorChunk::default();
    for &(t, v) in samples {
        c.append(t, v);
    }
    c.into_bytes()
}

fn assert_roundtrip(samples: &[(i64, f64)]) {
    let got = decode(&encode(samples));
    let bits = |s: &[(i64, f64)]| s.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(&got), bits(samples));
}

#[test]
fn golden_bytes_for_a_small_chunk() {
    // Worked out by hand from xor.go: count, zigzag varint 1000, 1.0, uvarint
    // delta 1000, then bits 0 | 0 | 11 00001 001011 11111111111.
    assert_eq!(
        encode(&[(1000, 1.0), (2000, 1.0), (3000, 2.0)]),
        [
            0x00, 0x03, 0xD0, 0x0F, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0xE8, 0x07, 0x30, 0x97, 0xFF,
            0xC0
        ]
    );
}

#[test]
fn every_delta_of_delta_bucket_and_value_case_roundtrips() {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let mut t = 1_700_000_000_000i64;
    let mut samples = vec![(t, 0.5)];
    let mut delta = 15_000i64;
    // Boundaries of the 14/17/20-bit buckets on both sides, then 64-bit jumps.
    let dods = [
        0,
        1,
        -1,
        8191,
        -8191,
        8192,
        -8192,
        8193,
        65536,
        -65535,
        -65536,
        65537,
        524288,
        -524287,
        -524288,
        524289,
        1 << 40,
        -(1 << 40),
        0,
        0,
    ];
    let values = [
        0.5,
        0.5,
        1.0,
        -1.0,
        f64::NAN,
        stale,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        1e300,
        f64::MIN_POSITIVE,
        3.0,
        3.0000000001,
        42.0,
        f64::from_bits(1),
        f64::from_bits(u64::MAX),
        7.0,
        7.0,
        8.0,
    ];
    for (dod, v) in dods.iter().zip(values) {
        delta += dod;
        t += delta;
        samples.push((t, v));
    }
    assert_roundtrip(&samples);
    assert_roundtrip(&samples[..1]);
    assert_roundtrip(&samples[..2]);
    assert_roundtrip(&[(-5, 1.0), (i64::MIN / 4, 2.0), (i64::MAX / 4, 3.0)]);
}

#[test]
fn pseudo_random_series_roundtrip() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..200 {
        let mut t = (next() % (1 << 41)) as i64;
        let samples: Vec<(i64, f64)> = (0..MAX_SAMPLES_PER_CHUNK)
            .map(|_| {
                t += (next() % 30_000) as i64;
                let v = match next() % 4 {
                    0 => f64::from_bits(next()),
                    1 => (next() % 100) as f64,
                    2 => (next() % 1000) as f64 / 7.0,
                    _ => 1.0,
                };
                (t, v)
            })
            .collect();
        assert_roundtrip(&samples);
    }
}

#[test]
fn crc32c_and_frames() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(b""), 0);
    let mut out = Vec::new();
    write_frame(&mut out, &[0xAB; 200]);
    assert_eq!(&out[..2], &[0xC8, 0x01], "uvarint 200");
    assert_eq!(&out[2..6], &crc32c(&[0xAB; 200]).to_be_bytes());
    assert_eq!(out.len(), 2 + 4 + 200);
}

#[test]
fn corrupt_chunks_are_errors_not_panics() {
    let good = encode(&[(1000, 1.0), (2000, 1.0), (3000, 2.0)]);
    for cut in 0..good.len() {
        assert!(decode_xor(&good[..cut]).is_err(), "cut at {cut}");
    }
    assert!(decode_xor(&[0xff, 0xff, 0x80]).is_err());
}
