use std::sync::Arc;

use arrow::array::{ArrayRef, PrimitiveArray};
use arrow::datatypes::{
    ArrowTimestampType, DataType, Field, IntervalMonthDayNano, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::config::ConfigOptions;
use datafusion::common::ScalarValue;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl};
use proptest::prelude::*;

use super::FastDateBin;

fn array_of<T: ArrowTimestampType>(values: &[Option<i64>], tz: &Option<Arc<str>>) -> ArrayRef {
    Arc::new(
        values
            .iter()
            .copied()
            .collect::<PrimitiveArray<T>>()
            .with_timezone_opt(tz.clone()),
    )
}

fn timestamps(unit: TimeUnit, values: &[Option<i64>], tz: &Option<Arc<str>>) -> ArrayRef {
    match unit {
        TimeUnit::Second => array_of::<TimestampSecondType>(values, tz),
        TimeUnit::Millisecond => array_of::<TimestampMillisecondType>(values, tz),
        TimeUnit::Microsecond => array_of::<TimestampMicrosecondType>(values, tz),
        TimeUnit::Nanosecond => array_of::<TimestampNanosecondType>(values, tz),
    }
}

/// Calls `udf` the way a physical plan does; errors become their text.
fn call(
    udf: &dyn ScalarUDFImpl,
    stride: ScalarValue,
    values: ArrayRef,
    origin: i64,
) -> Result<ArrayRef, String> {
    let rows = values.len();
    let args = vec![
        ColumnarValue::Scalar(stride),
        ColumnarValue::Array(values.clone()),
        ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(Some(origin), None)),
    ];
    let arg_fields = args
        .iter()
        .map(|a| Arc::new(Field::new("a", a.data_type(), true)))
        .collect();
    let result = udf.invoke_with_args(ScalarFunctionArgs {
        args,
        arg_fields,
        number_rows: rows,
        return_field: Arc::new(Field::new("r", values.data_type().clone(), true)),
        config_options: Arc::new(ConfigOptions::default()),
    });
    result
        .and_then(|v| v.into_array(rows))
        .map_err(|e| e.to_string())
}

fn datafusion_date_bin() -> ScalarUDF {
    datafusion::functions::datetime::date_bin().as_ref().clone()
}

fn check(unit: TimeUnit, stride: ScalarValue, values: &[Option<i64>], origin: i64) {
    let tz: Option<Arc<str>> = Some("+00:00".into());
    let input = timestamps(unit, values, &tz);
    let reference = datafusion_date_bin();
    let expected = call(
        reference.inner().as_ref(),
        stride.clone(),
        input.clone(),
        origin,
    );
    let fast = FastDateBin::new(reference);
    let got = call(&fast, stride.clone(), input, origin);
    match (&got, &expected) {
        (Ok(g), Ok(e)) => assert_eq!(
            g.to_data(),
            e.to_data(),
            "unit {unit:?} stride {stride:?} origin {origin} values {values:?}"
        ),
        _ => assert_eq!(got.is_ok(), expected.is_ok(), "{got:?} vs {expected:?}"),
    }
}

fn interval(months: i32, days: i32, nanos: i64) -> ScalarValue {
    ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(months, days, nanos)))
}

#[test]
fn hourly_buckets_of_sorted_microseconds() {
    // 2016-01-01 03:11:00 UTC onwards, every 10 s, two series.
    let start = 1_451_617_860_000_000i64;
    let mut values: Vec<Option<i64>> = (0..2_000).map(|i| Some(start + i * 10_000_000)).collect();
    values.extend((0..2_000).map(|i| Some(start + i * 10_000_000)));
    values[7] = None;
    let origin = 946_857_600_000_000_000; // 2000-01-03, TimescaleDB's origin
    check(
        TimeUnit::Microsecond,
        interval(0, 0, 3_600_000_000_000),
        &values,
        origin,
    );

    let fast = FastDateBin::new(datafusion_date_bin());
    let out = call(
        &fast,
        interval(0, 0, 3_600_000_000_000),
        timestamps(TimeUnit::Microsecond, &values[..3], &None),
        origin,
    )
    .expect("binned");
    let out = out
        .as_any()
        .downcast_ref::<PrimitiveArray<TimestampMicrosecondType>>()
        .expect("microseconds");
    // 03:11:00 and 03:11:10 fall in the 03:00 bucket.
    let bucket = 1_451_617_200_000_000;
    assert_eq!(
        out.iter().collect::<Vec<_>>(),
        vec![Some(bucket), Some(bucket), Some(bucket)]
    );
}

#[test]
fn overflow_and_odd_strides_match_datafusion() {
    let extremes = [
        Some(i64::MIN),
        Some(i64::MIN + 1),
        Some(-9_223_372_036_854_776),
        Some(-1),
        Some(0),
        Some(1),
        Some(9_223_372_036_854_775),
        Some(9_223_372_036_854_776),
        Some(i64::MAX - 1),
        Some(i64::MAX),
        None,
    ];
    for unit in [
        TimeUnit::Second,
        TimeUnit::Millisecond,
        TimeUnit::Microsecond,
        TimeUnit::Nanosecond,
    ] {
        for stride in [
            interval(0, 0, 1),
            interval(0, 0, 1_500),
            interval(0, 1, 0),
            interval(0, 0, 0),
            interval(0, 0, -60_000_000_000),
            interval(1, 0, 0),
            ScalarValue::IntervalDayTime(Some(arrow::datatypes::IntervalDayTime::new(0, 60_000))),
        ] {
            for origin in [0, 500, -7, i64::MAX, i64::MIN] {
                check(unit, stride.clone(), &extremes, origin);
            }
        }
    }
}

fn unit_strategy() -> impl Strategy<Value = TimeUnit> {
    prop_oneof![
        Just(TimeUnit::Second),
        Just(TimeUnit::Millisecond),
        Just(TimeUnit::Microsecond),
        Just(TimeUnit::Nanosecond),
    ]
}

proptest! {
    /// Any stride, origin and values (sorted runs, random, extremes, NULLs):
    /// the fast path gives exactly DataFusion's array, or both fail.
    #[test]
    fn same_results_as_datafusion(
        unit in unit_strategy(),
        stride in prop_oneof![1i64..64, 1i64..5_000, Just(1_000i64), Just(3_000_000i64), 1i64..10_000_000_000_000, Just(3_600_000_000_000i64), -10i64..1],
        days in prop_oneof![Just(0i32), 0i32..3],
        origin in prop_oneof![Just(0i64), -1_000_000_000_000i64..1_000_000_000_000, any::<i64>()],
        start in prop_oneof![-1_000_000_000i64..1_000_000_000, any::<i64>()],
        small in any::<bool>(),
        steps in prop::collection::vec((0i64..5_000, any::<bool>(), 0u8..20), 0..200),
    ) {
        let mut v = start;
        let values: Vec<Option<i64>> = steps
            .iter()
            .map(|&(step, jump, null)| {
                // Small steps land on every value next to a bin's edges.
                let step = if small { step % 4 } else { step };
                v = if jump && null == 1 { v.wrapping_sub(step * 997) } else { v.wrapping_add(step) };
                (null != 0).then_some(v)
            })
            .collect();
        check(unit, interval(0, days, stride), &values, origin);
    }
}

#[test]
fn replaces_date_bin_and_keeps_its_ordering_rule() {
    let ctx = datafusion::prelude::SessionContext::new();
    crate::functions::register(&ctx);
    let udf = ctx.udf("date_bin").expect("date_bin registered");
    assert_eq!(
        udf.as_ref(),
        &ScalarUDF::new_from_impl(FastDateBin::new(datafusion_date_bin()))
    );
    assert_eq!(
        udf.return_type(&[
            DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::Timestamp(TimeUnit::Nanosecond, None),
        ])
        .expect("return type"),
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    // Binning an ascending column by a constant stride and origin stays
    // ascending (DataFusion relies on this to skip sorts); a varying stride
    // does not.
    use arrow::compute::SortOptions;
    use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
    let constant = ExprProperties::new_unknown().with_order(SortProperties::Singleton);
    let ascending =
        ExprProperties::new_unknown().with_order(SortProperties::Ordered(SortOptions::default()));
    let unordered = ExprProperties::new_unknown().with_order(SortProperties::Unordered);
    assert_eq!(
        udf.output_ordering(&[constant.clone(), ascending.clone(), constant.clone()])
            .unwrap(),
        SortProperties::Ordered(SortOptions::default())
    );
    assert_eq!(
        udf.output_ordering(&[unordered, ascending, constant])
            .unwrap(),
        SortProperties::Unordered
    );
}

#[tokio::test]
async fn microsecond_columns_are_binned_without_a_cast() {
    use arrow::array::RecordBatch;
    use arrow::datatypes::Schema;

    let ctx = datafusion::prelude::SessionContext::new();
    crate::functions::register(&ctx);
    let times = crate::test_support::minutes([0, 59, 60, 61, 125].into_iter());
    let schema = Arc::new(Schema::new(vec![Field::new(
        "time",
        times.data_type().clone(),
        false,
    )]));
    let batch = RecordBatch::try_new(schema, vec![times]).unwrap();
    ctx.register_batch("t", batch).unwrap();
    let sql = "SELECT date_bin(INTERVAL '1 hour', time, '2000-01-03T00:00:00Z') AS hour FROM t";
    let (plan, rows) = crate::test_support::run(&ctx, sql).await;
    assert!(!plan.contains("CAST"), "{plan}");
    let df = ctx.sql(sql).await.unwrap();
    assert_eq!(
        df.schema().field(0).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
    );
    let expected = [
        "+----------------------+",
        "| hour                 |",
        "+----------------------+",
        "| 2024-01-01T00:00:00Z |",
        "| 2024-01-01T00:00:00Z |",
        "| 2024-01-01T01:00:00Z |",
        "| 2024-01-01T01:00:00Z |",
        "| 2024-01-01T02:00:00Z |",
        "+----------------------+",
    ];
    assert_eq!(rows.trim(), expected.join("\n"));
}
