use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, TimestampMicrosecondType};

use super::*;
use crate::prom::decode::{parse, Limits, WriteMessage};
use crate::prom::proto::{TimeSeries, WriteRequest};

const NOW: i64 = 1_700_000_000_000;

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries::from_pairs(labels, samples)
}

fn batches(ts: Vec<TimeSeries>) -> Vec<TableBatch> {
    let msg = WriteMessage::V1(WriteRequest {
        timeseries: ts,
        metadata: vec![],
    });
    let parsed = parse(&msg, &Limits::default(), NOW).unwrap();
    build_batches(&parsed, None).unwrap()
}

fn strings(b: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let a = b.column_by_name(col).unwrap().as_string::<i32>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
        .collect()
}

#[test]
fn label_names_map_to_columns_one_to_one() {
    for (label, column) in [
        ("job", "job"),
        ("time", "label_time"),
        ("value", "label_value"),
        ("label_time", "label_label_time"),
        ("label_", "label_label_"),
        ("labels", "labels"),
        ("Time", "Time"),
    ] {
        assert_eq!(column_for_label(label), column);
        assert_eq!(label_for_column(column), label);
    }
}

#[test]
fn one_batch_per_metric_with_union_of_labels() {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let out = batches(vec![
        series(
            &[("__name__", "up"), ("job", "a")],
            &[(NOW - 2000, 1.0), (NOW - 1000, stale)],
        ),
        series(
            &[("__name__", "other"), ("time", "t"), ("value", "v")],
            &[(NOW, 7.0)],
        ),
        series(
            &[("__name__", "up"), ("instance", "i"), ("job", "b")],
            &[(NOW, 0.0)],
        ),
        series(&[("__name__", "no_samples"), ("x", "y")], &[]),
    ]);
    assert_eq!(out.len(), 2, "series without samples make no table");
    let up = &out[0];
    assert_eq!(up.table, "up");
    assert_eq!(up.label_columns, ["instance", "job"]);
    let b = &up.batch;
    let time = b.column(0).as_primitive::<TimestampMicrosecondType>();
    assert_eq!(
        time.values().to_vec(),
        [(NOW - 2000) * 1000, (NOW - 1000) * 1000, NOW * 1000]
    );
    assert_eq!(time.timezone(), Some("+00:00"));
    let value = b.column(1).as_primitive::<Float64Type>();
    let bits: Vec<u64> = value.values().iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, [1f64.to_bits(), 0x7ff0_0000_0000_0002, 0]);
    assert_eq!(strings(b, "instance"), [None, None, Some("i".into())]);
    assert_eq!(
        strings(b, "job"),
        [Some("a".into()), Some("a".into()), Some("b".into())]
    );
    let other = &out[1];
    assert_eq!(other.label_columns, ["label_time", "label_value"]);
    assert_eq!(strings(&other.batch, "label_time"), [Some("t".into())]);
    assert_eq!(strings(&other.batch, "label_value"), [Some("v".into())]);
}

#[test]
fn new_tables_are_primary_key_metric_tables() {
    let def = metric_table("up", &["job".to_string()]);
    def.validate().unwrap();
    assert!(def.options.primary_key);
    assert!(is_metric_table(&def));
    assert_eq!(incompatibility(&def, &["job".to_string()]), None);
    let mut wrong = def.clone();
    wrong.columns[2].column_type = ColumnType::Int64;
    assert_eq!(
        incompatibility(&wrong, &["job".to_string()]).unwrap(),
        "table \"up\" exists but cannot store Prometheus samples: its column \"job\" is not TEXT"
    );
    let mut no_value = def.clone();
    no_value.columns.remove(1);
    assert_eq!(
        incompatibility(&no_value, &[]).unwrap(),
        "table \"up\" exists but cannot store Prometheus samples: it has no DOUBLE PRECISION column \"value\""
    );
}
