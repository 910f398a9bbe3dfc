//! Streaming k-way merge of sorted segments, for compaction.
//!
//! Every segment of a partition is sorted by (tags, time) in arrow's
//! default order (ascending, NULLs first), so merging them needs one decoded
//! chunk per segment at a time, never the whole partition. Rows are compared
//! by arrow's row format over the key columns; a source whose next rows all
//! sort before every other source's head is taken as one run (found by
//! binary search), so well-separated segments cost one comparison per run,
//! not per row.
//!
//! Primary-key tables: keys are unique inside a segment, and among sources
//! with equal keys the newest segment (highest `max_seq`, last in the
//! input) wins, the same rule as `dedup_last_write_wins`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::compute::{concat_batches, interleave};
use arrow::datatypes::SchemaRef;
use arrow::row::{Row, RowConverter, Rows, SortField};

use crate::error::Result;
use crate::schema::TableDef;
use crate::segment::{Segment, SegmentWriter, CHUNK_ROWS};

/// Merges `group` (segments of one partition, oldest `max_seq` first) into
/// `writer`, read in `schema` (the table's current columns).
pub(super) fn merge_segments(
    def: &TableDef,
    schema: &SchemaRef,
    group: &[Arc<Segment>],
    writer: &mut SegmentWriter,
) -> Result<()> {
    let mut key = def.tag_indices();
    key.push(def.time_index());
    let converter = RowConverter::new(
        key.iter()
            .map(|k| SortField::new(schema.field(*k).data_type().clone()))
            .collect(),
    )?;
    let mut sources = Vec::with_capacity(group.len());
    for seg in group {
        let mut source = Source {
            segment: seg.clone(),
            next_chunk: 0,
            current: None,
        };
        source.advance(schema, &key, &converter)?;
        sources.push(source);
    }
    let mut out = Output::new(schema.clone());
    let primary_key = def.options.primary_key;
    loop {
        // The source with the smallest head; among equal heads the newest.
        let mut best: Option<usize> = None;
        for (i, s) in sources.iter().enumerate() {
            let Some(head) = s.head() else { continue };
            if best.is_none_or(|b| head <= sources[b].head().unwrap_or(head)) {
                best = Some(i);
            }
        }
        let Some(best) = best else { break };
        let head = sources[best].head();
        // The smallest head among the other sources bounds the run.
        let mut bound: Option<Row<'_>> = None;
        for (i, s) in sources.iter().enumerate() {
            if i == best {
                continue;
            }
            if let Some(h) = s.head() {
                if bound.is_none_or(|b| h < b) {
                    bound = Some(h);
                }
            }
        }
        if bound.is_some() && bound == head {
            // Equal keys in several sources: one row from the newest; for
            // primary-key tables the others' rows with that key are dropped.
            let equal: Vec<usize> = match primary_key {
                true => (0..sources.len())
                    .filter(|i| *i != best && sources[*i].head() == head)
                    .collect(),
                false => Vec::new(),
            };
            let current = sources[best].current.as_ref();
            if let Some(c) = current {
                out.add(&c.batch, c.pos, 1);
            }
            for i in equal.into_iter().chain([best]) {
                sources[i].skip(1, schema, &key, &converter)?;
            }
        } else {
            let Some(c) = sources[best].current.as_ref() else {
                break;
            };
            let len = match bound {
                None => c.keys.num_rows() - c.pos,
                Some(b) => c.count_below(b),
            };
            out.add(&c.batch, c.pos, len);
            sources[best].skip(len, schema, &key, &converter)?;
        }
        while let Some(batch) = out.take_full()? {
            writer.push(&batch)?;
        }
    }
    if let Some(batch) = out.take_rest()? {
        writer.push(&batch)?;
    }
    Ok(())
}

/// One segment being merged: its decoded chunk and position.
struct Source {
    segment: Arc<Segment>,
    next_chunk: usize,
    current: Option<Chunk>,
}

struct Chunk {
    batch: RecordBatch,
    keys: Rows,
    pos: usize,
}

impl Chunk {
    /// Rows from `pos` on whose key sorts before `bound` (at least one:
    /// the caller has checked the head does).
    fn count_below(&self, bound: Row<'_>) -> usize {
        let (mut lo, mut hi) = (self.pos + 1, self.keys.num_rows());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.keys.row(mid) < bound {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo - self.pos
    }
}

impl Source {
    fn head(&self) -> Option<Row<'_>> {
        self.current.as_ref().map(|c| c.keys.row(c.pos))
    }

    /// Moves past `n` rows of the current chunk, loading the next chunk
    /// when it runs out.
    fn skip(
        &mut self,
        n: usize,
        schema: &SchemaRef,
        key: &[usize],
        converter: &RowConverter,
    ) -> Result<()> {
        if let Some(c) = &mut self.current {
            c.pos += n;
            if c.pos < c.keys.num_rows() {
                return Ok(());
            }
        }
        self.advance(schema, key, converter)
    }

    /// Loads the next chunk that holds rows (none left: `current` is None).
    fn advance(
        &mut self,
        schema: &SchemaRef,
        key: &[usize],
        converter: &RowConverter,
    ) -> Result<()> {
        self.current = None;
        while self.next_chunk < self.segment.footer().chunks.len() {
            let batch = self.segment.read_chunk(schema, self.next_chunk)?;
            self.next_chunk += 1;
            if batch.num_rows() == 0 {
                continue;
            }
            let cols: Vec<ArrayRef> = key.iter().map(|k| batch.column(*k).clone()).collect();
            let keys = converter.convert_columns(&cols)?;
            self.current = Some(Chunk {
                batch,
                keys,
                pos: 0,
            });
            break;
        }
        Ok(())
    }
}

/// Merged rows waiting to become batches of exactly `CHUNK_ROWS` rows,
/// held as runs of source chunks.
struct Output {
    schema: SchemaRef,
    runs: Vec<(RecordBatch, usize, usize)>,
    rows: usize,
}

impl Output {
    fn new(schema: SchemaRef) -> Self {
        Output {
            schema,
            runs: Vec::new(),
            rows: 0,
        }
    }

    fn add(&mut self, batch: &RecordBatch, start: usize, len: usize) {
        if len == 0 {
            return;
        }
        self.rows += len;
        // A run that continues the previous one of the same chunk grows it.
        if let Some(last) = self.runs.last_mut() {
            if last.1 + last.2 == start && same_batch(&last.0, batch) {
                last.2 += len;
                return;
            }
        }
        self.runs.push((batch.clone(), start, len));
    }

    /// The first `CHUNK_ROWS` rows, once that many are waiting.
    fn take_full(&mut self) -> Result<Option<RecordBatch>> {
        if self.rows < CHUNK_ROWS {
            return Ok(None);
        }
        self.take(CHUNK_ROWS).map(Some)
    }

    fn take_rest(&mut self) -> Result<Option<RecordBatch>> {
        match self.rows {
            0 => Ok(None),
            n => self.take(n).map(Some),
        }
    }

    fn take(&mut self, n: usize) -> Result<RecordBatch> {
        let mut taken = Vec::new();
        let mut need = n;
        let mut used = 0;
        for run in &mut self.runs {
            if need == 0 {
                break;
            }
            let len = run.2.min(need);
            taken.push((run.0.clone(), run.1, len));
            need -= len;
            run.1 += len;
            run.2 -= len;
            if run.2 == 0 {
                used += 1;
            }
        }
        self.runs.drain(..used);
        self.rows -= n;
        // Long runs are copied slice by slice; many short ones row by row.
        if taken.len() * 8 <= n {
            let slices: Vec<RecordBatch> = taken.iter().map(|(b, s, l)| b.slice(*s, *l)).collect();
            return Ok(concat_batches(&self.schema, &slices)?);
        }
        let mut batches: Vec<&RecordBatch> = Vec::new();
        let mut indices = Vec::with_capacity(n);
        for (batch, start, len) in &taken {
            let at = match batches.iter().rposition(|b| same_batch(b, batch)) {
                Some(at) => at,
                None => {
                    batches.push(batch);
                    batches.len() - 1
                }
            };
            indices.extend((*start..start + len).map(|r| (at, r)));
        }
        let columns = (0..self.schema.fields().len())
            .map(|c| {
                let arrays: Vec<&dyn Array> =
                    batches.iter().map(|b| b.column(c).as_ref()).collect();
                interleave(&arrays, &indices)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

/// Whether two batches are clones of one decoded chunk.
fn same_batch(a: &RecordBatch, b: &RecordBatch) -> bool {
    a.num_columns() == b.num_columns()
        && a.columns()
            .iter()
            .zip(b.columns())
            .all(|(x, y)| Arc::ptr_eq(x, y))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
    use arrow::array::{AsArray, TimestampMicrosecondArray};
    use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
    use proptest::prelude::*;

    use super::merge_segments;
    use crate::db::flush::sort_and_partition;
    use crate::memtable::MemBatch;
    use crate::schema::{test_column, ColumnRole, ColumnType, TableDef, TableOptions, UTC};
    use crate::segment::{write_segment, Footer, Segment, SegmentWriter};

    type Row = (i64, Option<&'static str>, Option<i64>, Option<f64>);

    fn def(primary_key: bool) -> TableDef {
        let col = test_column;
        TableDef {
            name: "m".into(),
            columns: vec![
                col("time", ColumnType::TimestampTz, ColumnRole::Time),
                col("host", ColumnType::Text, ColumnRole::Tag),
                // A non-text tag: flush orders it through arrow's row format.
                col("zone", ColumnType::Int64, ColumnRole::Tag),
                col("v", ColumnType::Float64, ColumnRole::Field),
            ],
            options: TableOptions {
                primary_key,
                ..TableOptions::default()
            },
        }
    }

    fn batch(def: &TableDef, rows: &[Row]) -> RecordBatch {
        let time = TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.0))
            .with_timezone(UTC);
        RecordBatch::try_new(
            def.arrow_schema(),
            vec![
                Arc::new(time),
                Arc::new(rows.iter().map(|r| r.1).collect::<StringArray>()),
                Arc::new(rows.iter().map(|r| r.2).collect::<Int64Array>()),
                Arc::new(rows.iter().map(|r| r.3).collect::<Float64Array>()),
            ],
        )
        .unwrap()
    }

    /// Flushes `batches` (seq = position + 1) as a segment each.
    fn segments(dir: &std::path::Path, def: &TableDef, batches: &[MemBatch]) -> Vec<Arc<Segment>> {
        batches
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let path = dir.join(format!("in{i}"));
                let parts = sort_and_partition(def, std::slice::from_ref(b)).unwrap();
                assert_eq!(parts.len(), 1, "one partition per input");
                write_segment(&path, def, &parts[0].1, parts[0].0, b.seq).unwrap();
                Arc::new(Segment::open(&path).unwrap())
            })
            .collect()
    }

    fn read_all(path: &std::path::Path, def: &TableDef) -> (Footer, RecordBatch) {
        let seg = Segment::open(path).unwrap();
        let schema = def.arrow_schema();
        let all: Vec<usize> = (0..schema.fields().len()).collect();
        let parts = seg.read(&schema, &all, None, None).unwrap();
        let batch = arrow::compute::concat_batches(&schema, &parts).unwrap();
        (seg.footer().clone(), batch)
    }

    /// The merge of one segment per batch, and the flush of all batches at
    /// once (the reference), both written and read back.
    fn merged_and_reference(
        def: &TableDef,
        batches: &[MemBatch],
    ) -> ((Footer, RecordBatch), (Footer, RecordBatch)) {
        let dir = tempfile::tempdir().unwrap();
        let segs = segments(dir.path(), def, batches);
        let max_seq = batches.len() as u64;
        let out = dir.path().join("merged");
        let mut writer = SegmentWriter::create(&out, def, 0, max_seq).unwrap();
        merge_segments(def, &def.arrow_schema(), &segs, &mut writer).unwrap();
        writer.finish().unwrap();
        let reference = dir.path().join("reference");
        let parts = sort_and_partition(def, batches).unwrap();
        write_segment(&reference, def, &parts[0].1, 0, max_seq).unwrap();
        (read_all(&out, def), read_all(&reference, def))
    }

    type Decoded = (i64, Option<String>, Option<i64>, Option<u64>);

    fn decoded(b: &RecordBatch) -> Vec<Decoded> {
        let t = b.column(0).as_primitive::<TimestampMicrosecondType>();
        let h = b.column(1).as_string::<i32>();
        let z = b.column(2).as_primitive::<Int64Type>();
        let v = b.column(3).as_primitive::<arrow::datatypes::Float64Type>();
        (0..b.num_rows())
            .map(|i| {
                (
                    t.value(i),
                    h.is_valid(i).then(|| h.value(i).to_string()),
                    z.is_valid(i).then(|| z.value(i)),
                    v.is_valid(i).then(|| v.value(i).to_bits()),
                )
            })
            .collect()
    }

    fn row() -> impl Strategy<Value = Row> {
        (
            0i64..12,
            prop::sample::select(vec![None, Some("a"), Some("ab"), Some("b")]),
            prop::sample::select(vec![None, Some(-1i64), Some(0), Some(7)]),
            prop::option::of(-3i32..3),
        )
            .prop_map(|(t, h, z, v)| (t, h, z, v.map(f64::from)))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Merging segments gives the rows, the order (by key) and the
        /// series directory of sorting all their rows at once; primary-key
        /// tables keep the newest segment's row for each key.
        #[test]
        fn merge_equals_sorting_everything(
            inputs in prop::collection::vec(prop::collection::vec(row(), 1..30), 1..5),
            primary_key in any::<bool>(),
        ) {
            let def = def(primary_key);
            let batches: Vec<MemBatch> = inputs
                .iter()
                .enumerate()
                .map(|(i, rows)| MemBatch::new(i as u64 + 1, batch(&def, rows)))
                .collect();
            let ((got_footer, got), (want_footer, want)) = merged_and_reference(&def, &batches);
            let (got, want) = (decoded(&got), decoded(&want));
            let key = |r: &Decoded| (r.1.clone(), r.2, r.0);
            prop_assert_eq!(got.iter().map(key).collect::<Vec<_>>(), want.iter().map(key).collect::<Vec<_>>());
            if primary_key {
                prop_assert_eq!(&got, &want);
            } else {
                let (mut got, mut want) = (got, want);
                got.sort();
                want.sort();
                prop_assert_eq!(got, want);
            }
            prop_assert_eq!(got_footer.series, want_footer.series);
            prop_assert_eq!(got_footer.rows, want_footer.rows);
            prop_assert_eq!((got_footer.min_time, got_footer.max_time), (want_footer.min_time, want_footer.max_time));
        }
    }

    /// Segments of several chunks whose rows interleave one by one (each
    /// source's run is a single row), plus a newer segment that overwrites
    /// some keys: the merge crosses chunk boundaries in every source and
    /// still equals the reference, chunk for chunk.
    #[test]
    fn multi_chunk_sources_merge_like_one_sort() {
        let def = def(true);
        let hosts = ["h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9"];
        let rows = |parity: i64| -> Vec<Row> {
            let mut out = Vec::new();
            for (i, h) in hosts.iter().enumerate() {
                for t in 0..7_000i64 {
                    out.push((2 * t + parity, Some(*h), Some(i as i64 % 3), Some(t as f64)));
                }
            }
            out
        };
        let newer: Vec<Row> = (0..5_000i64)
            .map(|t| (4 * t, Some("h3"), Some(0), Some(-1.0)))
            .collect();
        let batches: Vec<MemBatch> = [rows(0), rows(1), newer]
            .iter()
            .enumerate()
            .map(|(i, r)| MemBatch::new(i as u64 + 1, batch(&def, r)))
            .collect();
        let ((got_footer, got), (want_footer, want)) = merged_and_reference(&def, &batches);
        // 140,000 base rows; the newer segment replaces 3,500 of them
        // (times 0, 4, .. 13,996) and adds 1,500 beyond their range.
        assert_eq!(got.num_rows(), 141_500);
        assert_eq!(decoded(&got), decoded(&want));
        assert_eq!(got_footer.series, want_footer.series);
        let chunk_rows = |f: &Footer| f.chunks.iter().map(|c| c.rows).collect::<Vec<_>>();
        assert_eq!(chunk_rows(&got_footer), chunk_rows(&want_footer));
        assert_eq!(chunk_rows(&got_footer).len(), 3);
    }
}
