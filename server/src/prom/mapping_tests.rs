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

/// A row of the model: (time, value bits, label values by column name).
type ModelRow = (i64, u64, Vec<(String, Option<String>)>);

/// A table of the model: (metric, label names, rows as (time, value bits,
/// the row's labels)).
type ModelTable = (String, Vec<String>, Vec<(i64, u64, Vec<(String, String)>)>);

proptest::proptest! {
    /// `build_batches` against a plain model: one table per metric in
    /// order of first appearance, columns the sorted union of its series'
    /// label names (the HA replica label left out), rows in request order
    /// with NULL for an absent label; series of one metric with the same,
    /// different or interleaved label sets.
    #[test]
    fn batches_match_a_model_of_the_request(
        input in proptest::collection::vec(
            (
                0usize..3,
                proptest::collection::btree_map(
                    proptest::prop_oneof!["a", "b", "job", "replica"],
                    "[a-c]{1,2}",
                    0..4,
                ),
                proptest::collection::vec(proptest::prelude::any::<f64>(), 0..3),
            ),
            0..30,
        ),
        skip in proptest::option::of(proptest::prelude::Just("replica")),
    ) {
        let metrics = ["m0", "m1", "m2"];
        let mut ts = Vec::new();
        let mut model: Vec<ModelTable> = Vec::new();
        for (k, (m, labels, values)) in input.iter().enumerate() {
            let mut pairs: Vec<(&str, &str)> = vec![("__name__", metrics[*m])];
            pairs.extend(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let samples: Vec<(i64, f64)> =
                values.iter().enumerate().map(|(j, v)| (NOW - 1000 * (k * 3 + j) as i64, *v)).collect();
            ts.push(series(&pairs, &samples));
            if samples.is_empty() {
                continue;
            }
            let at = match model.iter().position(|t| t.0 == metrics[*m]) {
                Some(at) => at,
                None => {
                    model.push((metrics[*m].to_string(), Vec::new(), Vec::new()));
                    model.len() - 1
                }
            };
            let kept: Vec<(String, String)> = labels
                .iter()
                .filter(|(n, _)| Some(n.as_str()) != skip)
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            for (n, _) in &kept {
                if !model[at].1.contains(n) {
                    model[at].1.push(n.clone());
                }
            }
            for (t, v) in &samples {
                model[at].2.push((t * 1000, v.to_bits(), kept.clone()));
            }
        }
        let msg = WriteMessage::V1(WriteRequest { timeseries: ts, metadata: vec![] });
        let parsed = parse(&msg, &Limits::default(), NOW).unwrap();
        let out = build_batches(&parsed, skip).unwrap();
        proptest::prop_assert_eq!(out.len(), model.len());
        for (got, (metric, mut columns, rows)) in out.iter().zip(model) {
            columns.sort();
            proptest::prop_assert_eq!(&got.table, &metric);
            proptest::prop_assert_eq!(&got.label_columns, &columns);
            let b = &got.batch;
            let time = b.column(0).as_primitive::<TimestampMicrosecondType>();
            let value = b.column(1).as_primitive::<Float64Type>();
            let mut got_rows: Vec<ModelRow> = Vec::new();
            for i in 0..b.num_rows() {
                let tags = columns
                    .iter()
                    .map(|c| (c.clone(), strings(b, c)[i].clone()))
                    .collect();
                got_rows.push((time.value(i), value.value(i).to_bits(), tags));
            }
            let want: Vec<ModelRow> = rows
                .into_iter()
                .map(|(t, v, labels)| {
                    let tags = columns
                        .iter()
                        .map(|c| (c.clone(), labels.iter().find(|(n, _)| n == c).map(|(_, v)| v.clone())))
                        .collect();
                    (t, v, tags)
                })
                .collect();
            proptest::prop_assert_eq!(got_rows, want);
        }
    }
}
