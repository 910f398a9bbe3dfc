//! Writing a segment file from rows sorted by (tags, time).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::{cast, concat, concat_batches};
use arrow::datatypes::{DataType, Int64Type};
use arrow::row::{RowConverter, SortField};
use lynx_compression::{encode_array, EncodeOptions};

use super::{
    BlobRef, ChunkMeta, Footer, SeriesEntry, CHUNK_ROWS, FORMAT_VERSION, HEAD_MAGIC, TAIL_MAGIC,
};
use crate::error::{Result, StorageError};
use crate::parallel::parallel_map;
use crate::schema::TableDef;
use crate::series_order::{is_string_dictionary, tag_value};
use hashbrown::HashMap;

/// Writes `batch` (the table's columns in `def` order, sorted by (tags,
/// time), at least one row) to `path` and fsyncs it. The caller renames the
/// file into place and commits it to the manifest.
pub fn write_segment(
    path: &Path,
    def: &TableDef,
    batch: &RecordBatch,
    partition: i64,
    max_seq: u64,
) -> Result<Footer> {
    let mut writer = SegmentWriter::create(path, def, partition, max_seq)?;
    writer.push(batch)?;
    writer.finish()
}

/// Full chunks buffered before they are encoded together (every (chunk,
/// column) blob is one task for the cores).
const GROUP_CHUNKS: usize = 2;

/// Writes a segment from rows that arrive in (tags, time) order, in
/// batches of any size: memory holds at most a few chunks whatever the
/// segment's size, so compaction and rewrites stream through it.
///
/// The file is written to `path` (a temporary name); `finish` writes the
/// footer and fsyncs. A writer dropped unfinished leaves a partial file
/// that the caller deletes (it is never named by a manifest).
pub struct SegmentWriter {
    path: PathBuf,
    name: String,
    tag_indices: Vec<usize>,
    time_index: usize,
    out: BufWriter<File>,
    offset: u64,
    footer: Footer,
    /// Rows pushed but not encoded yet, oldest first.
    pending: VecDeque<RecordBatch>,
    pending_rows: usize,
    /// The tag columns of the last row pushed (one-row slices), to tell
    /// whether the next batch continues its series.
    last_tags: Option<Vec<ArrayRef>>,
    options: EncodeOptions,
}

impl SegmentWriter {
    pub fn create(path: &Path, def: &TableDef, partition: i64, max_seq: u64) -> Result<Self> {
        let io = |e: std::io::Error| StorageError::io(path, e);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(io)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(HEAD_MAGIC).map_err(io)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(io)?;
        out.write_all(&0u32.to_le_bytes()).map_err(io)?;
        Ok(SegmentWriter {
            path: path.to_path_buf(),
            name: def.name.clone(),
            tag_indices: def.tag_indices(),
            time_index: def.time_index(),
            out,
            offset: super::HEAD_LEN as u64,
            footer: Footer {
                version: FORMAT_VERSION,
                columns: def.columns.clone(),
                rows: 0,
                partition,
                min_time: i64::MAX,
                max_time: i64::MIN,
                max_seq,
                chunks: Vec::new(),
                series: Vec::new(),
            },
            pending: VecDeque::new(),
            pending_rows: 0,
            last_tags: None,
            options: EncodeOptions::default(),
        })
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.footer.rows
    }

    /// Appends rows (the table's columns in `def` order) that sort at or
    /// after every row pushed before. Text columns may come as dictionaries
    /// of strings whose entries are not NULL; they are stored as text.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let time = times(batch, self.time_index)?;
        self.add_series(batch, &time)?;
        let (lo, hi) = min_max(&time);
        self.footer.min_time = self.footer.min_time.min(lo);
        self.footer.max_time = self.footer.max_time.max(hi);
        self.footer.rows += rows as u64;
        self.pending.push_back(batch.clone());
        self.pending_rows += rows;
        if self.pending_rows >= (GROUP_CHUNKS + 1) * CHUNK_ROWS {
            self.encode(self.pending_rows / CHUNK_ROWS)?;
        }
        Ok(())
    }

    /// Encodes what is buffered, writes the footer and fsyncs the file.
    /// Returns the footer; an empty segment is an error.
    pub fn finish(mut self) -> Result<Footer> {
        if self.footer.rows == 0 {
            return Err(StorageError::Internal(format!(
                "segment {} would hold no rows",
                self.path.display()
            )));
        }
        self.encode(self.pending_rows.div_ceil(CHUNK_ROWS))?;
        let io = |e: std::io::Error| StorageError::io(&self.path, e);
        let footer_bytes = serde_json::to_vec(&self.footer)
            .map_err(|e| StorageError::Internal(format!("segment footer: {e}")))?;
        let out = &mut self.out;
        out.write_all(&footer_bytes).map_err(io)?;
        out.write_all(&(footer_bytes.len() as u64).to_le_bytes())
            .map_err(io)?;
        out.write_all(&crc32fast::hash(&footer_bytes).to_le_bytes())
            .map_err(io)?;
        out.write_all(TAIL_MAGIC).map_err(io)?;
        out.flush().map_err(io)?;
        out.get_ref().sync_all().map_err(io)?;
        Ok(self.footer)
    }

    /// Extends the series directory with the runs of equal tags in `batch`.
    fn add_series(&mut self, batch: &RecordBatch, time: &[i64]) -> Result<()> {
        let rows = batch.num_rows();
        let before = self.footer.rows;
        let tags: Vec<ArrayRef> = self
            .tag_indices
            .iter()
            .map(|i| batch.column(*i).clone())
            .collect();
        // Row 0 continues the open series when every tag equals the last
        // row's.
        let mut continues = false;
        if let Some(last) = &self.last_tags {
            continues = true;
            for (prev, col) in last.iter().zip(&tags) {
                continues &= same_value(prev, &col.slice(0, 1))?;
            }
        }
        let mut boundaries = vec![0];
        if !tags.is_empty() && rows > 1 {
            let mut changed = vec![false; rows];
            for col in &tags {
                mark_changes(col, &mut changed)?;
            }
            boundaries.extend((1..rows).filter(|r| changed[*r]));
        }
        boundaries.push(rows);
        for w in boundaries.windows(2) {
            let (lo, hi) = min_max(&time[w[0]..w[1]]);
            match self.footer.series.last_mut() {
                Some(open) if w[0] == 0 && continues => {
                    open.end += w[1] as u64;
                    open.first_time = open.first_time.min(lo);
                    open.last_time = open.last_time.max(hi);
                }
                _ => self.footer.series.push(SeriesEntry {
                    tags: tag_values(&tags, w[0]),
                    start: before + w[0] as u64,
                    end: before + w[1] as u64,
                    first_time: lo,
                    last_time: hi,
                }),
            }
        }
        self.last_tags = Some(tags.iter().map(|c| c.slice(rows - 1, 1)).collect());
        Ok(())
    }

    /// Encodes and writes the first `chunks` chunks of the buffered rows
    /// (the last one may be short when the buffer runs out).
    fn encode(&mut self, chunks: usize) -> Result<()> {
        let mut batches = Vec::with_capacity(chunks);
        for _ in 0..chunks {
            let take = CHUNK_ROWS.min(self.pending_rows);
            if take == 0 {
                break;
            }
            batches.push(self.take_front(take)?);
        }
        let columns = self.footer.columns.len();
        let (options, name) = (&self.options, &self.name);
        let blobs = parallel_map(batches.len() * columns, |task| {
            let column = batches[task / columns].column(task % columns);
            encode_array(column.as_ref(), options)
                .map(|blob| (blob, column.null_count() as u32))
                .map_err(|e| StorageError::Internal(format!("encoding a column of {name}: {e}")))
        });
        let mut blobs = blobs.into_iter();
        let io = |e: std::io::Error| StorageError::io(&self.path, e);
        for batch in &batches {
            let (min_time, max_time) = min_max(&times(batch, self.time_index)?);
            let mut meta = ChunkMeta {
                rows: batch.num_rows() as u32,
                min_time,
                max_time,
                columns: Vec::with_capacity(columns),
            };
            for blob in blobs.by_ref().take(columns) {
                let (blob, nulls) = blob?;
                self.out.write_all(&blob).map_err(io)?;
                meta.columns.push(BlobRef {
                    offset: self.offset,
                    len: blob.len() as u64,
                    crc: crc32fast::hash(&blob),
                    nulls,
                });
                self.offset += blob.len() as u64;
            }
            self.footer.chunks.push(meta);
        }
        Ok(())
    }

    /// The first `n` buffered rows as one batch (a slice when they lie in
    /// one pushed batch, concatenated otherwise).
    fn take_front(&mut self, n: usize) -> Result<RecordBatch> {
        let mut parts = Vec::new();
        let mut need = n;
        while need > 0 {
            let Some(front) = self.pending.front_mut() else {
                break;
            };
            if front.num_rows() <= need {
                need -= front.num_rows();
                parts.extend(self.pending.pop_front());
            } else {
                parts.push(front.slice(0, need));
                *front = front.slice(need, front.num_rows() - need);
                need = 0;
            }
        }
        self.pending_rows -= n - need;
        match (parts.len(), parts.first()) {
            (1, _) => Ok(parts.swap_remove(0)),
            (_, Some(first)) if parts.iter().all(|p| p.schema() == first.schema()) => {
                Ok(concat_batches(&first.schema(), &parts)?)
            }
            (_, Some(_)) => {
                // Text as dictionaries and as Utf8 mixed: all as Utf8.
                let parts = parts
                    .iter()
                    .map(dictionaries_as_text)
                    .collect::<Result<Vec<_>>>()?;
                Ok(concat_batches(&parts[0].schema(), &parts)?)
            }
            (_, None) => Err(StorageError::Internal(
                "segment writer ran out of rows".into(),
            )),
        }
    }
}

/// `batch` with its dictionary columns cast to their value type.
fn dictionaries_as_text(batch: &RecordBatch) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Dictionary(_, v) => cast(c, v),
            _ => Ok(c.clone()),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    crate::dict::with_columns(&batch.schema(), columns)
}

fn min_max(values: &[i64]) -> (i64, i64) {
    values
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)))
}

/// The time column as i64 microseconds.
pub(crate) fn times(batch: &RecordBatch, time_index: usize) -> Result<Vec<i64>> {
    time_values(batch.column(time_index))
}

/// A time column's values as i64 microseconds.
pub(crate) fn time_values(column: &ArrayRef) -> Result<Vec<i64>> {
    let micros = cast(column, &DataType::Int64)?;
    Ok(micros.as_primitive::<Int64Type>().values().to_vec())
}

/// Whether the one-row columns `a` and `b` hold the same value (text as
/// Utf8 or dictionary alike).
fn same_value(a: &ArrayRef, b: &ArrayRef) -> Result<bool> {
    let text = |c: &ArrayRef| c.as_string_opt::<i32>().is_some() || is_string_dictionary(c);
    if text(a) && text(b) {
        return Ok(tag_value(a, 0) == tag_value(b, 0));
    }
    let pair = concat(&[a.as_ref(), b.as_ref()])?;
    let mut changed = [false; 2];
    mark_changes(&pair, &mut changed)?;
    Ok(!changed[1])
}

/// Sets `changed[row]` where `col` differs from its value at `row - 1`.
fn mark_changes(col: &ArrayRef, changed: &mut [bool]) -> Result<()> {
    if let Some(strings) = col.as_any().downcast_ref::<StringArray>() {
        let value = |r: usize| strings.is_valid(r).then(|| strings.value(r));
        for (r, c) in changed.iter_mut().enumerate().skip(1) {
            *c |= value(r) != value(r - 1);
        }
        return Ok(());
    }
    if let Some(ids) = dictionary_ids(col) {
        for (r, c) in changed.iter_mut().enumerate().skip(1) {
            *c |= ids[r] != ids[r - 1];
        }
        return Ok(());
    }
    let converter = RowConverter::new(vec![SortField::new(col.data_type().clone())])?;
    let keys = converter.convert_columns(std::slice::from_ref(col))?;
    for (r, c) in changed.iter_mut().enumerate().skip(1) {
        *c |= keys.row(r) != keys.row(r - 1);
    }
    Ok(())
}

/// Per row of a dictionary of strings, a number that is equal exactly
/// where the strings are (entries holding equal strings share one; NULL is
/// `u32::MAX`). `None` for other columns.
fn dictionary_ids(col: &ArrayRef) -> Option<Vec<u32>> {
    let dict = col.as_any_dictionary_opt()?;
    let entries = dict.values().as_string_opt::<i32>()?;
    if entries.is_empty() {
        return Some(vec![u32::MAX; col.len()]);
    }
    let mut index: HashMap<&str, u32> = HashMap::new();
    let id_of: Vec<u32> = (0..entries.len())
        .map(|i| match entries.is_valid(i) {
            true => {
                let next = index.len() as u32;
                *index.entry(entries.value(i)).or_insert(next)
            }
            false => u32::MAX,
        })
        .collect();
    let keys = dict.normalized_keys();
    let valid = dict.keys().nulls();
    Some(
        keys.iter()
            .enumerate()
            .map(|(r, &k)| match valid {
                Some(n) if n.is_null(r) => u32::MAX,
                _ => id_of[k],
            })
            .collect(),
    )
}

/// The tag values of `row` (NULL, and None for non-text tags).
fn tag_values(tags: &[ArrayRef], row: usize) -> Box<[Option<Arc<str>>]> {
    tags.iter()
        .map(|col| tag_value(col, row).map(Arc::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Array, ArrayRef, AsArray, DictionaryArray, Float64Array, RecordBatch, StringArray,
        TimestampMicrosecondArray, UInt32Array,
    };

    use super::SegmentWriter;
    use crate::schema::{test_column, ColumnRole, ColumnType, TableDef, TableOptions, UTC};
    use crate::segment::Segment;

    fn def() -> TableDef {
        TableDef {
            name: "w".into(),
            columns: vec![
                test_column("time", ColumnType::TimestampTz, ColumnRole::Time),
                test_column("host", ColumnType::Text, ColumnRole::Tag),
                test_column("v", ColumnType::Float64, ColumnRole::Field),
            ],
            options: TableOptions::default(),
        }
    }

    /// Rows at times `t0..`, with `host` as given.
    fn batch(t0: i64, host: ArrayRef) -> RecordBatch {
        let n = host.len() as i64;
        let time = TimestampMicrosecondArray::from_iter_values(t0..t0 + n).with_timezone(UTC);
        let v = Float64Array::from_iter_values((t0..t0 + n).map(|t| t as f64));
        RecordBatch::try_from_iter(vec![
            ("time", Arc::new(time) as ArrayRef),
            ("host", host),
            ("v", Arc::new(v)),
        ])
        .unwrap()
    }

    fn dictionary(keys: Vec<Option<u32>>, entries: &[&str]) -> ArrayRef {
        let entries = Arc::new(StringArray::from(entries.to_vec()));
        Arc::new(DictionaryArray::try_new(UInt32Array::from(keys), entries).unwrap())
    }

    /// Pushed batches whose host is a dictionary (entries repeated, and
    /// other dictionaries in each batch) or plain text give the series
    /// directory and rows the same text would: a series that goes on into
    /// the next batch stays one entry.
    #[test]
    fn dictionary_tags_give_the_series_text_gives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let def = def();
        let mut w = SegmentWriter::create(&path, &def, 0, 1).unwrap();
        // NULL, NULL, a, a ("a" twice among the entries), b
        w.push(&batch(
            0,
            dictionary(
                vec![None, None, Some(1), Some(2), Some(0)],
                &["b", "a", "a"],
            ),
        ))
        .unwrap();
        // b (plain text), c
        w.push(&batch(5, Arc::new(StringArray::from(vec!["b", "c"]))))
            .unwrap();
        // c, c, d (another dictionary)
        w.push(&batch(
            7,
            dictionary(vec![Some(1), Some(1), Some(0)], &["d", "c"]),
        ))
        .unwrap();
        w.finish().unwrap();
        let seg = Segment::open(&path).unwrap();
        let directory: Vec<(Option<&str>, u64, u64)> = seg
            .footer()
            .series
            .iter()
            .map(|s| (s.tags[0].as_deref(), s.start, s.end))
            .collect();
        assert_eq!(
            directory,
            vec![
                (None, 0, 2),
                (Some("a"), 2, 4),
                (Some("b"), 4, 6),
                (Some("c"), 6, 9),
                (Some("d"), 9, 10),
            ]
        );
        let schema = def.arrow_schema();
        let read = seg.read(&schema, &[1], None, None).unwrap();
        let hosts: Vec<Option<String>> = read
            .iter()
            .flat_map(|b| {
                let h = b.column(0).as_string::<i32>();
                (0..h.len())
                    .map(|i| h.is_valid(i).then(|| h.value(i).to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let want = [
            None,
            None,
            Some("a"),
            Some("a"),
            Some("b"),
            Some("b"),
            Some("c"),
            Some("c"),
            Some("c"),
            Some("d"),
        ];
        assert_eq!(hosts, want.map(|h| h.map(str::to_string)));
    }
}
