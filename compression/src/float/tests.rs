//! Float node round trips per scheme (bit-exact) and ALP behaviour.

use proptest::prelude::*;

use super::*;

const SCHEMES: [FloatScheme; 5] = [
    FloatScheme::Plain,
    FloatScheme::Bits,
    FloatScheme::Alp,
    FloatScheme::AlpUlp,
    FloatScheme::Xor,
];

fn round_trip(bits: &[u64], w: FloatWidth, scheme: Option<FloatScheme>) -> usize {
    let mut out = Vec::new();
    encode_node(bits, w, scheme, &mut out);
    let mut back = vec![0u64; bits.len()];
    let mut r = ByteReader::new(&out);
    decode_node(&mut r, w, &mut back).unwrap();
    assert_eq!(back, bits);
    assert_eq!(r.remaining(), 0);
    out.len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_f64_bits_round_trip(bits in prop::collection::vec(any::<u64>(), 0..1500), scheme in 0usize..6) {
        round_trip(&bits, FloatWidth::F64, SCHEMES.get(scheme).copied());
    }

    #[test]
    fn any_f32_bits_round_trip(bits in prop::collection::vec(any::<u32>(), 0..1500), scheme in 0usize..6) {
        let bits: Vec<u64> = bits.into_iter().map(u64::from).collect();
        round_trip(&bits, FloatWidth::F32, SCHEMES.get(scheme).copied());
    }

    #[test]
    fn decimals_round_trip(v in prop::collection::vec(-1_000_000i64..1_000_000, 0..3000), digits in 0u32..6, scheme in 0usize..6) {
        let p = 10f64.powi(digits as i32);
        let bits: Vec<u64> = v.iter().map(|&x| (x as f64 / p).to_bits()).collect();
        round_trip(&bits, FloatWidth::F64, SCHEMES.get(scheme).copied());
        let bits32: Vec<u64> = v.iter().map(|&x| ((x as f64 / p) as f32).to_bits() as u64).collect();
        round_trip(&bits32, FloatWidth::F32, SCHEMES.get(scheme).copied());
    }
}

#[test]
fn alp_turns_two_decimal_values_into_small_integers() {
    let bits: Vec<u64> = (0..4096)
        .map(|i| ((i % 1000) as f64 / 100.0).to_bits())
        .collect();
    let alp = round_trip(&bits, FloatWidth::F64, Some(FloatScheme::Alp));
    let plain = round_trip(&bits, FloatWidth::F64, Some(FloatScheme::Plain));
    assert!(alp * 4 < plain, "alp {alp} vs plain {plain}");
}

#[test]
fn special_values_survive_alp_as_exceptions() {
    let specials = [
        f64::from_bits(0x7ff0_0000_0000_0002),
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::from_bits(1),
        f64::NAN,
        -f64::NAN,
        1e300,
    ];
    let bits: Vec<u64> = (0..3000)
        .map(|i| {
            if i % 10 == 0 {
                specials[(i / 10) % specials.len()]
            } else {
                i as f64 * 0.25
            }
        })
        .map(f64::to_bits)
        .collect();
    for scheme in SCHEMES {
        round_trip(&bits, FloatWidth::F64, Some(scheme));
    }
}
