//! Property tests: every value survives text output -> text input and
//! binary output -> binary input unchanged.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, IntervalMonthDayNanoArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use bytes::BytesMut;
use datafusion_common::ScalarValue;
use proptest::prelude::*;

use crate::*;

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Paris",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "+05:45",
    "-03:30",
];

fn settings(zone: &str) -> PgFormatSettings {
    PgFormatSettings {
        timezone: PgFormatSettings::parse_timezone(zone).unwrap(),
        ..PgFormatSettings::default()
    }
}

/// Text out then text in, and binary out then binary in, give back `array[0]`.
fn round_trip(array: ArrayRef, settings: &PgFormatSettings) -> Result<(), TestCaseError> {
    let want = ScalarValue::try_from_array(array.as_ref(), 0).unwrap();
    let dt = array.data_type().clone();
    let mut s = String::new();
    prop_assert!(!format_text(array.as_ref(), 0, settings, &mut s).unwrap());
    let got =
        parse_text(&s, &dt, settings).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
    prop_assert_eq!(&got, &want, "text {}", s);
    let mut b = BytesMut::new();
    prop_assert!(!format_binary(array.as_ref(), 0, &mut b).unwrap());
    let got = parse_binary(&b, &dt).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(&got, &want, "binary {:?}", b.to_vec());
    Ok(())
}

const TEXT_TARGETS: usize = 14;

/// Targets the text-input fuzz cases are read as.
fn text_target(which: usize) -> DataType {
    match which {
        0 => DataType::Int32,
        1 => DataType::Float64,
        2 => DataType::Decimal128(20, 4),
        3 => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        4 => DataType::Timestamp(TimeUnit::Nanosecond, None),
        5 => DataType::Date32,
        6 => DataType::Time64(TimeUnit::Microsecond),
        7 => DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
        8 => DataType::new_list(DataType::Int32, true),
        9 => DataType::new_list(DataType::Utf8, true),
        10 => DataType::Binary,
        11 => DataType::Boolean,
        12 => DataType::Int16,
        _ => DataType::Float32,
    }
}

/// 512 cases, or `PROPTEST_CASES` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

/// Microseconds from year -4000 to 9999.
fn micros_range() -> std::ops::Range<i64> {
    -188_395_000_000_000_000..253_402_300_799_999_999
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn integers_round_trip(a in any::<i16>(), b in any::<i32>(), c in any::<i64>()) {
        let s = PgFormatSettings::default();
        round_trip(Arc::new(Int16Array::from(vec![a])), &s)?;
        round_trip(Arc::new(Int32Array::from(vec![b])), &s)?;
        round_trip(Arc::new(Int64Array::from(vec![c])), &s)?;
    }

    #[test]
    fn floats_round_trip_bit_exact(bits in any::<u64>(), bits32 in any::<u32>()) {
        let s = PgFormatSettings::default();
        let v = f64::from_bits(bits);
        let mut text = String::new();
        format_text(&Float64Array::from(vec![v]), 0, &s, &mut text).unwrap();
        let back = parse_f64(&text).unwrap();
        prop_assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()), "{} -> {}", v, text);
        let mut b = BytesMut::new();
        format_binary(&Float64Array::from(vec![v]), 0, &mut b).unwrap();
        let ScalarValue::Float64(Some(back)) = parse_binary(&b, &DataType::Float64).unwrap() else {
            return Err(TestCaseError::fail("not a float8"));
        };
        prop_assert_eq!(back.to_bits(), v.to_bits());
        let v = f32::from_bits(bits32);
        let mut text = String::new();
        format_text(&Float32Array::from(vec![v]), 0, &s, &mut text).unwrap();
        let back = parse_f32(&text).unwrap();
        prop_assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()), "{} -> {}", v, text);
    }

    #[test]
    fn timestamps_round_trip(micros in micros_range(), zone in 0..ZONES.len(), unit in 0..4usize, with_tz in any::<bool>()) {
        let s = settings(ZONES[zone]);
        let tz: Option<Arc<str>> = with_tz.then(|| Arc::from("UTC"));
        let array: ArrayRef = match unit {
            0 => Arc::new(TimestampSecondArray::from(vec![micros.div_euclid(1_000_000)]).with_timezone_opt(tz)),
            1 => Arc::new(TimestampMillisecondArray::from(vec![micros.div_euclid(1_000)]).with_timezone_opt(tz)),
            2 => Arc::new(TimestampMicrosecondArray::from(vec![micros]).with_timezone_opt(tz)),
            _ => {
                // Nanoseconds cover 1677..2262; text keeps microseconds.
                let ns = (micros % 9_000_000_000_000_000) * 1_000;
                Arc::new(TimestampNanosecondArray::from(vec![ns]).with_timezone_opt(tz))
            }
        };
        round_trip(array, &s)?;
    }

    #[test]
    fn dates_round_trip(days in -2_100_000i32..2_932_896) {
        round_trip(Arc::new(Date32Array::from(vec![days])), &PgFormatSettings::default())?;
    }

    #[test]
    fn decimals_round_trip(v in -(10i128.pow(38) - 1)..10i128.pow(38), scale in 0i8..=38) {
        let array = Decimal128Array::from(vec![v]).with_precision_and_scale(38, scale).unwrap();
        round_trip(Arc::new(array), &PgFormatSettings::default())?;
    }

    #[test]
    fn intervals_round_trip(months in any::<i32>(), days in any::<i32>(), micros in -9_000_000_000_000_000i64..9_000_000_000_000_000) {
        let iv = IntervalMonthDayNano::new(months, days, micros * 1_000);
        round_trip(Arc::new(IntervalMonthDayNanoArray::from(vec![iv])), &PgFormatSettings::default())?;
    }

    #[test]
    fn binary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), which in 0..8usize) {
        let targets = [
            DataType::Int32,
            DataType::Float64,
            DataType::Decimal128(20, 4),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::Date32,
            DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
            DataType::new_list(DataType::Int32, true),
            DataType::Utf8,
        ];
        let _ = parse_binary(&bytes, &targets[which]);
    }

    #[test]
    fn text_input_never_panics(
        s in prop_oneof!["\\PC{0,30}", "[0-9a-zA-Z:+\\-./ ,_{}\"\\\\]{0,40}"],
        which in 0..TEXT_TARGETS,
    ) {
        let _ = parse_text(&s, &text_target(which), &PgFormatSettings::default());
        let _ = PgFormatSettings::parse_timezone(&s);
    }

    #[test]
    fn text_arrays_round_trip(items in proptest::collection::vec(proptest::option::of("\\PC{0,8}"), 0..6)) {
        let values = arrow::array::StringArray::from(items.clone());
        let offsets = arrow::buffer::OffsetBuffer::from_lengths([items.len()]);
        let field = Arc::new(arrow::datatypes::Field::new("item", DataType::Utf8, true));
        let list = arrow::array::ListArray::new(field, offsets, Arc::new(values), None);
        round_trip(Arc::new(list), &PgFormatSettings::default())?;
    }

    #[test]
    fn float4_binary_round_trips(bits in any::<u32>()) {
        let v = f32::from_bits(bits);
        let mut b = BytesMut::new();
        format_binary(&Float32Array::from(vec![v]), 0, &mut b).unwrap();
        let ScalarValue::Float32(Some(back)) = parse_binary(&b, &DataType::Float32).unwrap() else {
            return Err(TestCaseError::fail("not a float4"));
        };
        prop_assert_eq!(back.to_bits(), v.to_bits());
    }
}

#[test]
fn round_trip_helper_sees_nulls_as_nulls() {
    let a = Int32Array::from(vec![None::<i32>]);
    let mut s = String::new();
    assert!(format_text(&a, 0, &PgFormatSettings::default(), &mut s).unwrap());
    assert!(a.is_null(0));
}

/// The column-at-a-time writer of `fast_text` against the general
/// `write_text`, byte for byte, for every type it takes and every zone.
fn fast_equals_general(array: ArrayRef, settings: &PgFormatSettings) -> Result<(), TestCaseError> {
    let fast = crate::fast_text::FastText::new(array.as_ref(), settings);
    for row in 0..array.len() {
        let mut want = BytesMut::new();
        let general = write_text(array.as_ref(), row, settings, &mut want);
        let Some(fast) = &fast else {
            continue;
        };
        let mut got = BytesMut::new();
        let quick = fast.write(row, settings, &mut got);
        match (general, quick) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(a, b, "null flag at row {}", row);
                prop_assert_eq!(&got[..], &want[..], "row {}", row);
            }
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "general {:?} fast {:?}", a.is_ok(), b.is_ok()),
        }
    }
    Ok(())
}

fn timestamp_micros() -> impl Strategy<Value = Option<i64>> {
    prop::option::weighted(
        0.9,
        prop_oneof![
            4 => -2_208_988_800_000_000i64..4_102_444_800_000_000, // 1900..2100
            2 => (0i64..4_000_000_000).prop_map(|s| s * 1_000_000), // whole seconds
            1 => -62_200_000_000_000_000i64..253_500_000_000_000_000, // year 0 .. 10003
            1 => prop::sample::select(vec![i64::MIN, i64::MAX, -62_135_596_800_000_000, 253_402_300_799_999_999]),
            1 => any::<i64>(),
        ],
    )
}

proptest! {
    #[test]
    fn fast_text_output_is_the_general_output(
        stamps in prop::collection::vec(timestamp_micros(), 1..40),
        floats in prop::collection::vec(prop::option::weighted(0.9, prop_oneof![
            (-1_000_000i64..1_000_000).prop_map(|v| v as f64),
            any::<f64>(),
            prop::sample::select(vec![0.0, -0.0, 1e15, -1e15, 999_999_999_999_999.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
        ]), 1..40),
        ints in prop::collection::vec(prop::option::of(any::<i64>()), 1..40),
        texts in prop::collection::vec(prop::option::of(".{0,12}"), 1..20),
        efd in -15i32..=3,
    ) {
        let mut zones: Vec<&str> = ZONES.to_vec();
        zones.extend(["Etc/UTC", "GMT", "+00:09:21", "14", "-12"]);
        for zone in zones {
            let mut s = settings(zone);
            s.extra_float_digits = efd;
            let tz = TimestampMicrosecondArray::from(stamps.clone()).with_timezone("+00:00");
            fast_equals_general(Arc::new(tz), &s)?;
        }
        let s = PgFormatSettings { extra_float_digits: efd, ..PgFormatSettings::default() };
        fast_equals_general(Arc::new(TimestampMicrosecondArray::from(stamps.clone())), &s)?;
        fast_equals_general(Arc::new(Float64Array::from(floats.clone())), &s)?;
        fast_equals_general(Arc::new(Int64Array::from(ints.clone())), &s)?;
        let narrow: Vec<Option<i32>> = ints.iter().map(|v| v.map(|v| v as i32)).collect();
        fast_equals_general(Arc::new(Int32Array::from(narrow)), &s)?;
        let small: Vec<Option<i16>> = ints.iter().map(|v| v.map(|v| v as i16)).collect();
        fast_equals_general(Arc::new(Int16Array::from(small)), &s)?;
        fast_equals_general(Arc::new(arrow::array::StringArray::from(texts.clone())), &s)?;
        let bools: Vec<Option<bool>> = ints.iter().map(|v| v.map(|v| v % 2 == 0)).collect();
        fast_equals_general(Arc::new(arrow::array::BooleanArray::from(bools)), &s)?;
    }
}

proptest! {
    #[test]
    fn digits_are_the_decimal_form(v in prop_oneof![any::<u64>(), 0u64..1000, Just(u64::MAX)]) {
        let mut tmp = [0u8; 20];
        prop_assert_eq!(crate::fast_text::u64_digits(v, &mut tmp), v.to_string());
    }
}
