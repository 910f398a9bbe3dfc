//! Byte-size properties of typical time-series columns (65,536 rows unless
//! noted). These are byte counts of deterministic data, not timings; the
//! bounds are what the codecs reach today with a little headroom.

use arrow_array::*;

use super::roundtrip::round_trip;
use crate::EncodeOptions;

const N: usize = 65_536;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn bits_per_value(a: &dyn Array) -> f64 {
    let blob = round_trip(a, &EncodeOptions::default()).unwrap();
    let bpv = blob.len() as f64 * 8.0 / a.len() as f64;
    eprintln!(
        "{:?}: {} bytes, {bpv:.4} bits/value",
        a.data_type(),
        blob.len()
    );
    bpv
}

#[test]
fn regular_timestamps_cost_under_a_tenth_of_a_bit() {
    let start = 1_700_000_000_000i64;
    let a = TimestampMillisecondArray::from_iter_values((0..N as i64).map(|i| start + i * 10_000))
        .with_timezone("UTC");
    assert!(bits_per_value(&a) < 0.1);
}

#[test]
fn jittered_timestamps_cost_a_few_bits() {
    let mut rng = Rng(7);
    let start = 1_700_000_000_000i64;
    let a = TimestampMillisecondArray::from_iter_values(
        (0..N as i64).map(|i| start + i * 10_000 + (rng.next() % 21) as i64 - 10),
    );
    assert!(bits_per_value(&a) < 6.5);
}

#[test]
fn sorted_low_cardinality_tags_cost_under_a_bit() {
    let a = StringArray::from(
        (0..1000)
            .flat_map(|h| std::iter::repeat_n(format!("host_{h}"), 65))
            .collect::<Vec<_>>(),
    );
    assert!(bits_per_value(&a) < 1.0);
}

#[test]
fn unsorted_low_cardinality_tags_cost_bits_of_the_code_width() {
    let mut rng = Rng(3);
    let a = StringArray::from_iter_values((0..N).map(|_| format!("region-{}", rng.next() % 16)));
    assert!(bits_per_value(&a) < 4.5);
}

#[test]
fn cpu_gauges_with_two_decimals_beat_plain_floats() {
    let mut rng = Rng(11);
    let mut acc: i64 = 5_000;
    let a = Float64Array::from_iter_values((0..N).map(|_| {
        acc = (acc + (rng.next() % 201) as i64 - 100).clamp(0, 10_000);
        acc as f64 / 100.0
    }));
    assert!(bits_per_value(&a) < 10.0);
}

#[test]
fn prometheus_counters_cost_few_bits() {
    let mut rng = Rng(5);
    let mut acc = 1_234_567.0f64;
    let a = Float64Array::from_iter_values((0..N).map(|_| {
        acc += (rng.next() % 100) as f64;
        acc
    }));
    assert!(bits_per_value(&a) < 8.0);
}

#[test]
fn staleness_markers_do_not_break_alp() {
    let mut rng = Rng(9);
    let a = Float64Array::from_iter_values((0..N).map(|i| {
        if i % 500 == 0 {
            f64::from_bits(0x7ff0_0000_0000_0002)
        } else {
            (rng.next() % 1000) as f64 / 10.0
        }
    }));
    assert!(bits_per_value(&a) < 12.0);
}

#[test]
fn gauges_summed_from_decimal_steps_cost_their_steps() {
    // A random walk of 5-digit decimal steps: the sums drift from their
    // decimals by rounding, so no value is an exact decimal, yet the keys'
    // steps take about 10 bits and the drift in ulps moves by 0 or 1.
    // Raw bits plus zstd took 38 bits/value.
    let mut rng = Rng(5);
    let mut g = 0.5f64;
    let a = Float64Array::from_iter_values((0..N).map(|_| {
        g = (g + ((rng.next() % 1000) as f64 - 500.0) / 1e5).clamp(0.0, 1.0);
        g
    }));
    let bits = bits_per_value(&a);
    assert!(bits < 16.0, "{bits}");
}

#[test]
fn booleans_in_runs_cost_under_a_tenth_of_a_bit() {
    let a = BooleanArray::from_iter((0..N).map(|i| Some((i / 4096) % 2 == 0)));
    assert!(bits_per_value(&a) < 0.1);
}

#[test]
fn rare_isolated_flips_cost_their_positions() {
    // Half the chunk is all true, the other half false with 1 in 50 rows
    // flipped: 0.07 bits/value of entropy; two run lengths per flip cost
    // about 0.12.
    let mut rng = Rng(21);
    let a = BooleanArray::from_iter(
        (0..N).map(|i| Some((i / 3000) % 2 == 0 || rng.next().is_multiple_of(50))),
    );
    let bits = bits_per_value(&a);
    assert!(bits < 0.1, "{bits}");
}

#[test]
fn random_booleans_cost_about_one_bit() {
    let mut rng = Rng(13);
    let a = BooleanArray::from_iter((0..N).map(|_| Some(rng.next().is_multiple_of(2))));
    assert!(bits_per_value(&a) < 1.1);
}

#[test]
fn high_cardinality_strings_shrink() {
    let mut rng = Rng(17);
    let a = StringArray::from_iter_values(
        (0..N).map(|i| format!("req-{:08x}-{}", rng.next() as u32, i)),
    );
    let raw_bits = a.value_data().len() as f64 * 8.0 / N as f64;
    assert!(bits_per_value(&a) < raw_bits);
}
