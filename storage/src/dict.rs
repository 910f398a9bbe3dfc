//! Dictionary encoding of the string columns of memtable batches.
//!
//! A tag column repeats a few values over many rows: in remote-write data
//! the label strings were about 60 % of the memtable's bytes (50 bytes a
//! sample). Coalesced and large memtable batches keep such columns as
//! `Dictionary(UInt16, Utf8)`: two bytes a row plus each distinct value
//! once. Readers get the table's types back through [`expand`].

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, RecordBatch, RecordBatchOptions, StringArray,
};
use arrow::array::{StringBuilder, UInt16Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Schema, SchemaRef, UInt16Type};
use hashbrown::HashMap;

use crate::error::Result;

/// `batch` with each `Utf8` column that gets smaller dictionary-encoded
/// (under a schema of its own), or `None` when no column changed.
pub(crate) fn compact(batch: &RecordBatch) -> Option<RecordBatch> {
    let mut changed = false;
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match c.as_string_opt::<i32>().and_then(encode) {
            Some(dict) => {
                changed = true;
                Arc::new(dict) as ArrayRef
            }
            None => c.clone(),
        })
        .collect();
    if !changed {
        return None;
    }
    with_columns(&batch.schema(), columns).ok()
}

/// A batch of `columns` under `schema`'s names, nullability and metadata,
/// with each field's type taken from its column (string columns as
/// dictionaries, or back as text).
pub(crate) fn with_columns(schema: &Schema, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
        .collect();
    let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

/// `batch` (from [`compact`]) with its columns back in the types of `schema`.
pub(crate) fn expand(schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| expand_column(f.data_type(), c))
        .collect::<Result<Vec<_>>>()?;
    // A projection may keep no column (count(*)): the row count stays.
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &options,
    )?)
}

/// One column of a compacted batch in its table type `ty`.
pub(crate) fn expand_column(ty: &DataType, column: &ArrayRef) -> Result<ArrayRef> {
    if column.data_type() == ty {
        return Ok(column.clone());
    }
    Ok(cast(column, ty)?)
}

/// The dictionary encoding of `col`, when it is smaller.
fn encode(col: &StringArray) -> Option<DictionaryArray<UInt16Type>> {
    let n = col.len();
    // Beyond n / 2 distinct values the keys and the dictionary together
    // rarely undercut the offsets they replace.
    let limit = (n / 2).min(usize::from(u16::MAX));
    let mut index: HashMap<&str, u16> = HashMap::new();
    let mut values = StringBuilder::new();
    let mut keys = Vec::with_capacity(n);
    let mut prev: Option<(&str, u16)> = None;
    for i in 0..n {
        if col.is_null(i) {
            keys.push(0);
            continue;
        }
        let s = col.value(i);
        let key = match prev {
            // Rows of one series are adjacent: compare before hashing.
            Some((p, k)) if p == s => k,
            _ => {
                let next = index.len();
                let k = *index.entry(s).or_insert_with(|| {
                    values.append_value(s);
                    next as u16
                });
                if index.len() > limit {
                    return None;
                }
                k
            }
        };
        prev = Some((s, key));
        keys.push(key);
    }
    if index.is_empty() {
        return None; // all null: nothing to share
    }
    let values = values.finish();
    let plain = 4 * (n + 1) + col.value_data().len();
    let encoded = 2 * n + 4 * (values.len() + 1) + values.value_data().len();
    if encoded >= plain {
        return None;
    }
    let keys = UInt16Array::new(keys.into(), col.nulls().cloned());
    DictionaryArray::try_new(keys, Arc::new(values)).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use proptest::prelude::*;

    use super::{compact, expand};

    fn batch(tags: Vec<Option<String>>) -> RecordBatch {
        let n = tags.len();
        let schema = Schema::new(vec![
            Field::new("host", DataType::Utf8, true),
            Field::new("value", DataType::Float64, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(tags)) as ArrayRef,
                Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64))),
            ],
        )
        .unwrap()
    }

    #[test]
    fn repeated_tags_shrink_and_come_back_equal() {
        let tags = (0..4096)
            .map(|i| (i % 7 != 3).then(|| format!("host-{}:9100", i / 64)))
            .collect();
        let b = batch(tags);
        let small = compact(&b).expect("64 distinct values in 4096 rows compact");
        assert!(matches!(
            small.column(0).data_type(),
            DataType::Dictionary(..)
        ));
        assert_eq!(small.column(1).data_type(), &DataType::Float64);
        assert!(small.get_array_memory_size() * 2 < b.get_array_memory_size());
        assert_eq!(expand(&b.schema(), &small).unwrap(), b);
        // No column kept (count(*)): the row count survives.
        let none = expand(
            &Arc::new(b.schema().project(&[]).unwrap()),
            &small.project(&[]).unwrap(),
        );
        assert_eq!(none.unwrap().num_rows(), 4096);
        // A slice (one request of a coalesced batch) expands to the same slice.
        assert_eq!(
            expand(&b.schema(), &small.slice(100, 900)).unwrap(),
            b.slice(100, 900)
        );
    }

    #[test]
    fn distinct_or_null_columns_stay_plain() {
        let distinct = batch((0..1000).map(|i| Some(format!("req-{i}"))).collect());
        assert!(compact(&distinct).is_none());
        assert!(compact(&batch(vec![None; 100])).is_none());
        assert!(compact(&batch(Vec::new())).is_none());
    }

    proptest! {
        #[test]
        fn compaction_round_trips(
            tags in prop::collection::vec(prop::option::of("[a-c]{0,3}"), 0..600),
            start in 0usize..600,
            len in 0usize..600,
        ) {
            let b = batch(tags);
            if let Some(small) = compact(&b) {
                prop_assert_eq!(&expand(&b.schema(), &small).unwrap(), &b);
                let start = start.min(b.num_rows());
                let len = len.min(b.num_rows() - start);
                let part = expand(&b.schema(), &small.slice(start, len)).unwrap();
                prop_assert_eq!(part, b.slice(start, len));
                prop_assert_eq!(small.column(0).null_count(), b.column(0).null_count());
            }
        }
    }
}
