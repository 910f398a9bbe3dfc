//! Text input and Bind parameters.

use arrow::datatypes::{DataType, TimeUnit};
use datafusion_common::ScalarValue;
use pgwire::api::results::FieldFormat;
use pgwire::api::Type;

use super::*;

fn parse(s: &str, dt: &DataType) -> ScalarValue {
    parse_text(s, dt, &PgFormatSettings::default()).unwrap()
}

fn parse_err(s: &str, dt: &DataType) -> (String, &'static str) {
    let e = parse_text(s, dt, &PgFormatSettings::default()).unwrap_err();
    (e.to_string(), e.sqlstate())
}

#[test]
fn integers_and_booleans_parse_like_postgres() {
    assert_eq!(
        parse(" 42 ", &DataType::Int32),
        ScalarValue::Int32(Some(42))
    );
    assert_eq!(
        parse("-2147483648", &DataType::Int32),
        ScalarValue::Int32(Some(i32::MIN))
    );
    assert_eq!(
        parse("0x1F", &DataType::Int64),
        ScalarValue::Int64(Some(31))
    );
    assert_eq!(
        parse("1_000", &DataType::Int16),
        ScalarValue::Int16(Some(1000))
    );
    assert_eq!(
        parse_err("abc", &DataType::Int32),
        (
            "invalid input syntax for type integer: \"abc\"".to_string(),
            "22P02"
        )
    );
    assert_eq!(
        parse_err("99999999999", &DataType::Int32),
        (
            "value \"99999999999\" is out of range for type integer".to_string(),
            "22003"
        )
    );
    assert_eq!(parse_err("", &DataType::Int64).1, "22P02");
    assert_eq!(parse_err("1 2", &DataType::Int64).1, "22P02");
    for t in ["t", "true", "YES", "on", "1", " y "] {
        assert_eq!(
            parse(t, &DataType::Boolean),
            ScalarValue::Boolean(Some(true)),
            "{t}"
        );
    }
    for f in ["f", "FALSE", "no", "off", "0", "of"] {
        assert_eq!(
            parse(f, &DataType::Boolean),
            ScalarValue::Boolean(Some(false)),
            "{f}"
        );
    }
    assert_eq!(
        parse_err("o", &DataType::Boolean),
        (
            "invalid input syntax for type boolean: \"o\"".to_string(),
            "22P02"
        )
    );
}

#[test]
fn bytea_and_arrays_parse_like_postgres() {
    assert_eq!(
        parse("\\x0102ff", &DataType::Binary),
        ScalarValue::Binary(Some(vec![1, 2, 255]))
    );
    assert_eq!(
        parse("\\x01 02", &DataType::Binary),
        ScalarValue::Binary(Some(vec![1, 2]))
    );
    assert_eq!(
        parse("a\\\\b\\001", &DataType::Binary),
        ScalarValue::Binary(Some(b"a\\b\x01".to_vec()))
    );
    assert_eq!(parse_err("\\x0", &DataType::Binary).1, "22023");
    assert_eq!(
        parse_err("\\q", &DataType::Binary),
        ("invalid input syntax for type bytea".to_string(), "22P02")
    );
    let list = DataType::new_list(DataType::Int32, true);
    let want = ScalarValue::List(ScalarValue::new_list_nullable(
        &[
            ScalarValue::Int32(Some(1)),
            ScalarValue::Int32(Some(2)),
            ScalarValue::Int32(None),
        ],
        &DataType::Int32,
    ));
    assert_eq!(parse("{1, 2,NULL}", &list), want);
    let tl = DataType::new_list(DataType::Utf8, true);
    let want = ScalarValue::List(ScalarValue::new_list_nullable(
        &[
            ScalarValue::Utf8(Some("a b".into())),
            ScalarValue::Utf8(Some("x\"y".into())),
            ScalarValue::Utf8(None),
            ScalarValue::Utf8(Some("NULL".into())),
        ],
        &DataType::Utf8,
    ));
    assert_eq!(parse(r#"{"a b","x\"y",NULL,"NULL"}"#, &tl), want);
    assert_eq!(parse(r#"{ "a b" , "x\"y",NULL ,"NULL"}"#, &tl), want);
    assert!(parse_text("{1,2", &list, &PgFormatSettings::default()).is_err());
    // Only ASCII whitespace separates elements (as in array_in): U+2000 is text.
    let one = |v: &str| {
        ScalarValue::List(ScalarValue::new_list_nullable(
            &[ScalarValue::Utf8(Some(v.into()))],
            &DataType::Utf8,
        ))
    };
    assert_eq!(parse("{\u{2000}}", &tl), one("\u{2000}"));
    assert_eq!(parse("{\x0b a\x0b}", &tl), one("a"));
}

fn ts_us(s: &str, dt: &DataType, settings: &PgFormatSettings) -> i64 {
    match parse_text(s, dt, settings).unwrap() {
        ScalarValue::TimestampMicrosecond(Some(v), _) => v,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn timestamps_parse_like_postgres() {
    let utc = PgFormatSettings::default();
    let paris = settings_in("Europe/Paris");
    let tz = tstz();
    let base = 1_704_164_645_000_000i64; // 2024-01-02 03:04:05 UTC
    assert_eq!(ts_us("2024-01-02 03:04:05+00", &tz, &utc), base);
    assert_eq!(ts_us("2024-01-02T03:04:05Z", &tz, &paris), base);
    assert_eq!(ts_us("2024-01-02 04:04:05", &tz, &paris), base);
    assert_eq!(ts_us("2024-01-02 05:04:05+02:00", &tz, &paris), base);
    assert_eq!(ts_us("2024-01-02 08:34:05 +0530", &tz, &utc), base);
    assert_eq!(
        ts_us("2024-01-01 22:04:05 America/New_York", &tz, &utc),
        base
    );
    assert_eq!(ts_us("2024-01-01 19:04:05 PST", &tz, &utc), base);
    assert_eq!(ts_us("Jan 2 2024 03:04:05", &tz, &utc), base);
    assert_eq!(ts_us("2024-01-02 03:04:05+02", &UTC_TS, &paris), base);
    assert_eq!(
        ts_us("2024-01-02 03:04:05.1234567", &UTC_TS, &utc),
        base + 123_457
    );
    assert_eq!(ts_us("2024-01-02", &UTC_TS, &utc), base - 11_045_000_000);
    assert_eq!(ts_us("20240102", &UTC_TS, &utc), base - 11_045_000_000);
    assert_eq!(ts_us("20240102T030405Z", &tz, &paris), base);
    let bc = ts_us("2024-01-02 03:04:05 BC", &UTC_TS, &utc);
    let bc = arrow::array::TimestampMicrosecondArray::from(vec![bc]);
    assert_eq!(text(&bc, 0), "2024-01-02 03:04:05 BC");
    assert_eq!(ts_us("epoch", &tz, &paris), 0);
    assert_eq!(ts_us("infinity", &tz, &utc), i64::MAX);
    assert_eq!(ts_us("-infinity", &UTC_TS, &utc), i64::MIN);
    // Skipped by the spring-forward jump: the offset before the jump (+01).
    assert_eq!(
        ts_us("2024-03-31 02:30", &tz, &paris),
        1_711_848_600_000_000
    );
    // Ambiguous at fall-back: the offset after the jump (+01).
    assert_eq!(
        ts_us("2024-10-27 02:30", &tz, &paris),
        1_729_992_600_000_000
    );
    let ns = DataType::Timestamp(TimeUnit::Nanosecond, None);
    assert_eq!(
        parse_text("2024-01-02 03:04:05.123456789", &ns, &utc).unwrap(),
        ScalarValue::TimestampNanosecond(Some(base * 1000 + 123_456_789), None)
    );
    let e = parse_text("x", &tz, &utc).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid input syntax for type timestamp with time zone: \"x\""
    );
    assert_eq!(e.sqlstate(), "22007");
    let e = parse_text("2024-13-01", &UTC_TS, &utc).unwrap_err();
    assert_eq!(
        e.to_string(),
        "date/time field value out of range: \"2024-13-01\""
    );
    assert_eq!(e.sqlstate(), "22008");
    assert_eq!(
        parse_text("2024-02-30", &DataType::Date32, &utc)
            .unwrap_err()
            .sqlstate(),
        "22008"
    );
    assert_eq!(
        parse_text("2024-01-02 25:00", &UTC_TS, &utc)
            .unwrap_err()
            .sqlstate(),
        "22008"
    );
}

#[test]
fn dates_and_times_parse_like_postgres() {
    let utc = PgFormatSettings::default();
    assert_eq!(
        parse("2024-01-02", &DataType::Date32),
        ScalarValue::Date32(Some(19724))
    );
    assert_eq!(
        parse("01/02/2024", &DataType::Date32),
        ScalarValue::Date32(Some(19724))
    );
    let dmy = PgFormatSettings {
        date_style: DateStyle::parse("ISO, DMY").unwrap(),
        ..utc.clone()
    };
    assert_eq!(
        parse_text("01/02/2024", &DataType::Date32, &dmy).unwrap(),
        ScalarValue::Date32(Some(19754))
    );
    assert_eq!(
        parse("2024-01-02 10:00", &DataType::Date32),
        ScalarValue::Date32(Some(19724))
    );
    assert_eq!(
        parse("January 2, 2024", &DataType::Date32),
        ScalarValue::Date32(Some(19724))
    );
    assert_eq!(
        parse("infinity", &DataType::Date32),
        ScalarValue::Date32(Some(i32::MAX))
    );
    let bc = parse("0044-03-15 BC", &DataType::Date32);
    let arr = bc.to_array().unwrap();
    assert_eq!(text(arr.as_ref(), 0), "0044-03-15 BC");
    let t = DataType::Time64(TimeUnit::Microsecond);
    assert_eq!(
        parse("13:45:00.25", &t),
        ScalarValue::Time64Microsecond(Some(49_500_250_000))
    );
    assert_eq!(
        parse("24:00:00", &t),
        ScalarValue::Time64Microsecond(Some(86_400_000_000))
    );
    assert_eq!(
        parse("allballs", &t),
        ScalarValue::Time64Microsecond(Some(0))
    );
    assert_eq!(
        parse("10:00 pm", &t),
        ScalarValue::Time64Microsecond(Some(79_200_000_000))
    );
    assert_eq!(parse_err("nope", &t).1, "22007");
    assert_eq!(
        parse_err("4714-11-23 BC", &DataType::Date32),
        ("date out of range: \"4714-11-23 BC\"".to_string(), "22008")
    );
    assert_eq!(
        parse("4714-11-24 BC", &DataType::Date32),
        ScalarValue::Date32(Some(-2_440_588))
    );
}

#[test]
fn params_decode_text_and_binary() {
    let s = PgFormatSettings::default();
    let dp =
        |b: Option<&[u8]>, ty: &Type, f: FieldFormat, t: &DataType| decode_param(b, ty, f, t, &s);
    assert_eq!(
        dp(
            Some(b"42"),
            &Type::INT4,
            FieldFormat::Text,
            &DataType::Int32
        )
        .unwrap(),
        ScalarValue::Int32(Some(42))
    );
    assert_eq!(
        dp(None, &Type::INT4, FieldFormat::Text, &DataType::Int32).unwrap(),
        ScalarValue::Int32(None)
    );
    assert_eq!(
        dp(
            Some(&[0, 0, 0, 42]),
            &Type::INT4,
            FieldFormat::Binary,
            &DataType::Int64
        )
        .unwrap(),
        ScalarValue::Int64(Some(42))
    );
    assert_eq!(
        dp(
            Some(&[0, 0, 0, 42]),
            &Type::UNKNOWN,
            FieldFormat::Binary,
            &DataType::Int32
        )
        .unwrap(),
        ScalarValue::Int32(Some(42))
    );
    let e = dp(
        Some(&[0, 0, 42]),
        &Type::INT4,
        FieldFormat::Binary,
        &DataType::Int32,
    )
    .unwrap_err();
    assert_eq!(e.sqlstate(), "08P01");
    let e = dp(
        Some(&[0xff, 0xfe]),
        &Type::TEXT,
        FieldFormat::Text,
        &DataType::Utf8,
    )
    .unwrap_err();
    assert_eq!(e.sqlstate(), "22021");
    assert_eq!(
        e.to_string(),
        "invalid byte sequence for encoding \"UTF8\": 0xff"
    );
    // A float8 parameter against an integer target.
    assert_eq!(
        dp(
            Some(b"2.0"),
            &Type::FLOAT8,
            FieldFormat::Text,
            &DataType::Int64
        )
        .unwrap(),
        ScalarValue::Int64(Some(2))
    );
    let tz = tstz();
    assert_eq!(
        dp(
            Some(&0i64.to_be_bytes()),
            &Type::TIMESTAMPTZ,
            FieldFormat::Binary,
            &tz
        )
        .unwrap(),
        ScalarValue::TimestampMicrosecond(Some(946_684_800_000_000), Some("UTC".into()))
    );
    assert_eq!(
        dp(
            Some(b"2000-01-01 00:00:00+00"),
            &Type::TIMESTAMPTZ,
            FieldFormat::Text,
            &tz
        )
        .unwrap(),
        ScalarValue::TimestampMicrosecond(Some(946_684_800_000_000), Some("UTC".into()))
    );
    let numeric = [0, 2, 0, 0, 0, 0, 0, 2, 0, 123, 0x11, 0x94];
    assert_eq!(
        dp(
            Some(&numeric),
            &Type::NUMERIC,
            FieldFormat::Binary,
            &DataType::Decimal128(10, 2)
        )
        .unwrap(),
        ScalarValue::Decimal128(Some(12345), 10, 2)
    );
    assert_eq!(
        dp(
            Some(&numeric),
            &Type::NUMERIC,
            FieldFormat::Binary,
            &DataType::Float64
        )
        .unwrap(),
        ScalarValue::Float64(Some(123.45))
    );
    assert_eq!(
        dp(
            Some(&numeric),
            &Type::NUMERIC,
            FieldFormat::Binary,
            &DataType::Int64
        )
        .unwrap(),
        ScalarValue::Int64(Some(123))
    );
    let arr = [
        0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 9,
    ];
    let list = DataType::new_list(DataType::Int32, true);
    assert_eq!(
        dp(Some(&arr), &Type::INT4_ARRAY, FieldFormat::Binary, &list).unwrap(),
        ScalarValue::List(ScalarValue::new_list_nullable(
            &[ScalarValue::Int32(Some(9))],
            &DataType::Int32
        ))
    );
    assert_eq!(
        dp(
            Some(&arr[..20]),
            &Type::INT4_ARRAY,
            FieldFormat::Binary,
            &list
        )
        .unwrap_err()
        .sqlstate(),
        "08P01"
    );
}
