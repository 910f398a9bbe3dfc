//! Opening a segment file with mmap and decoding the columns and chunks a
//! reader asks for.

use std::collections::HashSet;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::AsArray;
use arrow::array::{new_null_array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow::buffer::BooleanBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use lynx_compression::{
    block_stats, chunk_stats, decode_array, decode_blocks, open_chunk, ChunkStats, OpenedChunk,
    Predicate, PreparedPredicate, Scalar,
};
use memmap2::Mmap;

use super::{
    BlobRef, Footer, SeriesEntry, FORMAT_VERSION, HEAD_LEN, HEAD_MAGIC, TAIL_LEN, TAIL_MAGIC,
};
use crate::db::FieldFilter;
use crate::schema::ColumnRole;

/// Rows per independently decodable block inside a chunk.
const BLOCK: usize = 1024;
use crate::error::{Result, StorageError};

/// An open, validated segment. Cheap to share: readers hold an `Arc` and
/// keep the mapping alive even after compaction deletes the file.
pub struct Segment {
    path: PathBuf,
    mmap: Mmap,
    footer: Footer,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("path", &self.path)
            .field("rows", &self.footer.rows)
            .finish_non_exhaustive()
    }
}

impl Segment {
    /// Maps `path` and checks its header, trailer, footer checksum and every
    /// chunk offset; any damage is a `Corrupt` error naming the file.
    pub fn open(path: &Path) -> Result<Segment> {
        let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
        // SAFETY: segment files are immutable once renamed into place; the
        // engine never writes to or truncates a file it has mapped.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| StorageError::io(path, e))?;
        let footer = parse(&mmap).map_err(|message| StorageError::Corrupt {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(Segment {
            path: path.to_path_buf(),
            mmap,
            footer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn footer(&self) -> &Footer {
        &self.footer
    }

    pub fn file_bytes(&self) -> u64 {
        self.mmap.len() as u64
    }

    /// Whether any row may have `lo <= time <= hi`.
    pub fn overlaps(&self, lo: Option<i64>, hi: Option<i64>) -> bool {
        lo.is_none_or(|lo| self.footer.max_time >= lo)
            && hi.is_none_or(|hi| self.footer.min_time <= hi)
    }

    /// Decodes the columns `projection` of `schema` (the table's current
    /// schema; columns the segment predates read as NULL) for the rows with
    /// `lo <= time <= hi`.
    pub fn read(
        &self,
        schema: &SchemaRef,
        projection: &[usize],
        lo: Option<i64>,
        hi: Option<i64>,
    ) -> Result<Vec<RecordBatch>> {
        self.read_rows(schema, projection, None, (lo, hi), &[])
    }

    /// Decodes every column of `schema` (as `read` does) for the rows of
    /// chunk `index` only: streaming readers hold one chunk at a time.
    pub fn read_chunk(&self, schema: &SchemaRef, index: usize) -> Result<RecordBatch> {
        let chunks = &self.footer.chunks;
        let start: usize = chunks.iter().take(index).map(|c| c.rows as usize).sum();
        let len = chunks.get(index).map_or(0, |c| c.rows as usize);
        let all: Vec<usize> = (0..schema.fields().len()).collect();
        let range = start..start + len;
        let rows = std::slice::from_ref(&range);
        let mut parts = self.read_rows(schema, &all, Some(rows), (None, None), &[])?;
        match parts.len() {
            1 => Ok(parts.swap_remove(0)),
            _ => Ok(arrow::compute::concat_batches(schema, &parts)?),
        }
    }

    /// Like `read`, restricted to the row ranges `rows` (file row numbers,
    /// sorted and disjoint, e.g. the series picked from the directory), and
    /// to the rows where every one of `filters` (on columns of `schema`)
    /// holds. Inside a chunk only the 1024-row blocks that intersect the
    /// ranges and whose time bounds meet `[lo, hi]` are looked at, and only
    /// rows with `lo <= time <= hi` are returned. The filters are evaluated
    /// on the encoded columns (see `lynx_compression::evaluate_blocks`), and
    /// blocks where no row passes them are not decoded at all.
    pub fn read_rows(
        &self,
        schema: &SchemaRef,
        projection: &[usize],
        rows: Option<&[Range<usize>]>,
        (lo, hi): (Option<i64>, Option<i64>),
        filters: &[FieldFilter],
    ) -> Result<Vec<RecordBatch>> {
        let out_schema = Arc::new(schema.project(projection)?);
        let position = |i: usize| {
            let name = schema.field(i).name();
            self.footer.columns.iter().position(|c| &c.name == name)
        };
        let sources: Vec<Option<usize>> = projection.iter().map(|i| position(*i)).collect();
        // A filter on a column this segment predates sees only NULLs, which
        // no comparison matches.
        let Some(field_filters) = filters
            .iter()
            .map(|f| position(f.column).map(|c| (c, &f.predicate)))
            .collect::<Option<Vec<(usize, &Predicate)>>>()
        else {
            return Ok(Vec::new());
        };
        let time_col = self
            .footer
            .columns
            .iter()
            .position(|c| c.role == ColumnRole::Time);
        let timed = lo.is_some() || hi.is_some();
        let mut batches = Vec::new();
        let mut chunk_start = 0usize;
        for chunk in &self.footer.chunks {
            let chunk_rows = chunk.rows as usize;
            let span = chunk_start..chunk_start + chunk_rows;
            chunk_start += chunk_rows;
            if lo.is_some_and(|lo| chunk.max_time < lo) || hi.is_some_and(|hi| chunk.min_time > hi)
            {
                continue;
            }
            // Parts of this chunk to read, in chunk-local row numbers.
            let parts: Vec<Range<usize>> = match rows {
                None => std::iter::once(0..chunk_rows).collect(),
                Some(ranges) => ranges
                    .iter()
                    .filter(|r| r.start < span.end && r.end > span.start)
                    .map(|r| r.start.max(span.start) - span.start..r.end.min(span.end) - span.start)
                    .collect(),
            };
            if parts.is_empty() {
                continue;
            }
            let mut cols = ChunkColumns {
                segment: self,
                chunk,
                verified: vec![false; chunk.columns.len()],
                opened: (0..chunk.columns.len()).map(|_| None).collect(),
                last: vec![None; chunk.columns.len()],
                shared: !field_filters.is_empty(),
                prepared: vec![None; field_filters.len()],
            };
            // Blocks that may hold a wanted row: by the time column's block
            // bounds and by each field filter's block decisions.
            let mut block_ok = match (time_col, timed) {
                (Some(t), true) => self.time_blocks(chunk.columns[t], lo, hi)?,
                _ => None,
            };
            for (f, (c, predicate)) in field_filters.iter().enumerate() {
                let prepared = cols.prepared(*c, f, predicate)?;
                let blocks = chunk_rows.div_ceil(BLOCK);
                let ok = block_ok.get_or_insert_with(|| vec![true; blocks]);
                for (b, ok) in ok.iter_mut().enumerate() {
                    *ok = *ok && prepared.may_match_block(b);
                }
            }
            let pieces: Vec<Range<usize>> = parts
                .into_iter()
                .flat_map(|part| block_runs(part, block_ok.as_deref()))
                .collect();
            cols.shared |= pieces.len() > 1;
            for part in pieces {
                // With a time range, narrow the piece to its exact rows when
                // its times are sorted (a piece of one series); otherwise
                // keep the rows in range by a mask.
                let mut part = part;
                let mut keep: Option<BooleanBuffer> = None;
                if let (Some(t), true) = (time_col, timed) {
                    let times = cast(&cols.rows(t, part.clone())?, &DataType::Int64)?;
                    let times = times.as_primitive::<Int64Type>().values().clone();
                    if times.is_sorted() {
                        let first = lo.map_or(0, |lo| times.partition_point(|&v| v < lo));
                        let end = hi.map_or(times.len(), |hi| times.partition_point(|&v| v <= hi));
                        if first >= end {
                            continue;
                        }
                        part = part.start + first..part.start + end;
                    } else {
                        let (lo, hi) = (lo.unwrap_or(i64::MIN), hi.unwrap_or(i64::MAX));
                        keep = Some(BooleanBuffer::collect_bool(times.len(), |i| {
                            lo <= times[i] && times[i] <= hi
                        }));
                    }
                }
                for (f, (c, predicate)) in field_filters.iter().enumerate() {
                    let matches = cols.matches(*c, f, predicate, part.clone())?;
                    keep = Some(match keep {
                        None => matches,
                        Some(k) => &k & &matches,
                    });
                }
                // The selected runs of one part go up as one batch.
                let mut selected = Vec::new();
                for (sub, keep) in selected_runs(part, keep) {
                    let mut columns: Vec<ArrayRef> = Vec::with_capacity(projection.len());
                    for (field, source) in out_schema.fields().iter().zip(&sources) {
                        let array = match source {
                            None => new_null_array(field.data_type(), sub.len()),
                            Some(c) => {
                                let array = cols.rows(*c, sub.clone())?;
                                if array.data_type() == field.data_type() {
                                    array
                                } else {
                                    cast(&array, field.data_type())?
                                }
                            }
                        };
                        columns.push(array);
                    }
                    let options = RecordBatchOptions::new().with_row_count(Some(sub.len()));
                    let batch =
                        RecordBatch::try_new_with_options(out_schema.clone(), columns, &options)?;
                    let batch = match keep {
                        None => batch,
                        Some(keep) => arrow::compute::filter_record_batch(
                            &batch,
                            &BooleanArray::new(keep, None),
                        )?,
                    };
                    if batch.num_rows() > 0 {
                        selected.push(batch);
                    }
                }
                match selected.len() {
                    0 => {}
                    1 => batches.extend(selected),
                    _ => batches.push(arrow::compute::concat_batches(&out_schema, &selected)?),
                }
            }
        }
        Ok(batches)
    }

    /// Row count, NULL count and min/max of column `name` in every chunk,
    /// read from the chunk headers (nothing is decoded). `None` when the
    /// segment predates the column (all its rows are NULL there).
    pub fn column_stats(&self, name: &str) -> Result<Option<Vec<ChunkStats>>> {
        let Some(c) = self.footer.columns.iter().position(|col| col.name == name) else {
            return Ok(None);
        };
        self.footer
            .chunks
            .iter()
            .map(|chunk| {
                let blob = chunk.columns[c];
                let bytes = &self.mmap[blob.offset as usize..(blob.offset + blob.len) as usize];
                chunk_stats(bytes).map_err(|e| self.corrupt(format!("column \"{name}\": {e}")))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// Per 1024-row block of a chunk's time column (`blob`): may a row have
    /// `lo <= time <= hi`? `None` when the blob has no block index (a
    /// single block).
    fn time_blocks(
        &self,
        blob: BlobRef,
        lo: Option<i64>,
        hi: Option<i64>,
    ) -> Result<Option<Vec<bool>>> {
        let bytes = &self.mmap[blob.offset as usize..(blob.offset + blob.len) as usize];
        let stats = block_stats(bytes).map_err(|e| self.corrupt(format!("block index: {e}")))?;
        let int = |v: &Option<Scalar>| match v {
            Some(Scalar::Int(i)) => Some(*i),
            _ => None,
        };
        Ok(stats.map(|blocks| {
            blocks
                .iter()
                .map(|b| match (int(&b.min), int(&b.max)) {
                    (Some(min), Some(max)) => {
                        lo.is_none_or(|lo| max >= i128::from(lo))
                            && hi.is_none_or(|hi| min <= i128::from(hi))
                    }
                    _ => false, // every time is NULL: none is in range
                })
                .collect()
        }))
    }

    /// A predicate error on column `c`: damaged bytes make the segment
    /// corrupt; anything else (a predicate that does not fit the column)
    /// is the caller's mistake.
    fn predicate_error(&self, c: usize, e: lynx_compression::CompressionError) -> StorageError {
        let message = format!("column \"{}\": {e}", self.footer.columns[c].name);
        if e.is_corrupt() {
            self.corrupt(message)
        } else {
            StorageError::Internal(format!("{}: {message}", self.path.display()))
        }
    }

    fn corrupt(&self, message: String) -> StorageError {
        StorageError::Corrupt {
            path: self.path.clone(),
            message,
        }
    }

    /// The bytes of a blob, checksum verified once per read call.
    fn blob(&self, blob: BlobRef, column: usize, verified: &mut bool) -> Result<&[u8]> {
        // Offsets were bounds-checked in `parse`.
        let bytes = &self.mmap[blob.offset as usize..(blob.offset + blob.len) as usize];
        if !*verified {
            if crc32fast::hash(bytes) != blob.crc {
                return Err(self.corrupt(format!(
                    "checksum mismatch in column \"{}\" at offset {}",
                    self.footer.columns[column].name, blob.offset
                )));
            }
            *verified = true;
        }
        Ok(bytes)
    }

    /// Decodes a whole chunk (`whole_rows`) or only `blocks` of it.
    fn decode(
        &self,
        bytes: &[u8],
        column: usize,
        whole_rows: Option<usize>,
        blocks: Range<usize>,
    ) -> Result<ArrayRef> {
        let data_type = self.footer.columns[column].column_type.to_arrow();
        let decoded = match whole_rows {
            Some(_) => decode_array(bytes, &data_type),
            None => decode_blocks(bytes, &data_type, blocks.clone()),
        };
        self.checked(decoded, column, whole_rows, blocks)
    }

    /// `decoded` (column `column`, a whole chunk of `whole_rows` or
    /// `blocks`) with a corrupt-segment error when it failed or holds the
    /// wrong number of rows.
    fn checked(
        &self,
        decoded: std::result::Result<ArrayRef, lynx_compression::CompressionError>,
        column: usize,
        whole_rows: Option<usize>,
        blocks: Range<usize>,
    ) -> Result<ArrayRef> {
        let name = &self.footer.columns[column].name;
        let array = decoded.map_err(|e| self.corrupt(format!("column \"{name}\": {e}")))?;
        let expected = whole_rows.unwrap_or(blocks.len() * BLOCK);
        if array.len() != expected && !(whole_rows.is_none() && array.len() < expected) {
            return Err(self.corrupt(format!(
                "column \"{name}\" decoded {} rows, expected {expected}",
                array.len()
            )));
        }
        Ok(array)
    }
}

/// Decoding parts of one chunk's columns. When several parts of a chunk are
/// read, each column is opened once (header parsed, zstd stage
/// decompressed) and every part unpacks only its own blocks; the last
/// decoded blocks of each column are kept so the time column read for
/// narrowing is not decoded twice.
struct ChunkColumns<'a> {
    segment: &'a Segment,
    chunk: &'a super::ChunkMeta,
    verified: Vec<bool>,
    /// Per column, the chunk opened for several parts.
    opened: Vec<Option<OpenedChunk<'a>>>,
    /// The blocks last decoded for each column (first block, array).
    last: Vec<Option<(usize, ArrayRef)>>,
    /// More than one part of this chunk will be read.
    shared: bool,
    /// Per field filter, its predicate prepared for this chunk.
    prepared: Vec<Option<PreparedPredicate>>,
}

impl<'a> ChunkColumns<'a> {
    /// Column `c` opened once for several reads of this chunk.
    fn opened(&mut self, c: usize) -> Result<&OpenedChunk<'a>> {
        let seg: &'a Segment = self.segment;
        if self.opened[c].is_none() {
            let bytes = seg.blob(self.chunk.columns[c], c, &mut self.verified[c])?;
            let opened = open_chunk(bytes).map_err(|e| seg.corrupt(format!("column {c}: {e}")))?;
            self.opened[c] = Some(opened);
        }
        Ok(self.opened[c].as_ref().expect("opened above"))
    }

    /// Field filter number `f` (`predicate` on column `c`) prepared for
    /// this chunk, once.
    fn prepared(
        &mut self,
        c: usize,
        f: usize,
        predicate: &Predicate,
    ) -> Result<&PreparedPredicate> {
        let seg: &'a Segment = self.segment;
        if self.prepared[f].is_none() {
            let prepared = self
                .opened(c)?
                .prepare(predicate)
                .map_err(|e| seg.predicate_error(c, e))?;
            self.prepared[f] = Some(prepared);
        }
        Ok(self.prepared[f].as_ref().expect("prepared above"))
    }

    /// Whether each row of `part` (chunk-local) of column `c` satisfies
    /// `predicate` (field filter number `f`), evaluated on the encoded
    /// blocks that hold the part; the predicate is prepared for the chunk
    /// once.
    fn matches(
        &mut self,
        c: usize,
        f: usize,
        predicate: &Predicate,
        part: Range<usize>,
    ) -> Result<BooleanBuffer> {
        let seg: &'a Segment = self.segment;
        let chunk_rows = self.chunk.rows as usize;
        let blocks = part.start / BLOCK..part.end.div_ceil(BLOCK);
        self.prepared(c, f, predicate)?;
        let opened = self.opened[c].as_ref().expect("opened when prepared");
        let prepared = self.prepared[f].as_ref().expect("prepared above");
        let bits = opened
            .evaluate_prepared(prepared, blocks.clone())
            .map_err(|e| seg.predicate_error(c, e))?;
        let first = blocks.start * BLOCK;
        if bits.len() != (blocks.end * BLOCK).min(chunk_rows) - first {
            return Err(seg.corrupt(format!(
                "column \"{}\" evaluated {} rows of blocks {blocks:?}",
                seg.footer.columns[c].name,
                bits.len()
            )));
        }
        Ok(bits.slice(part.start - first, part.len()))
    }

    /// Rows `part` (chunk-local) of column `c` of the segment.
    fn rows(&mut self, c: usize, part: Range<usize>) -> Result<ArrayRef> {
        let seg: &'a Segment = self.segment;
        let chunk_rows = self.chunk.rows as usize;
        let blocks = part.start / BLOCK..part.end.div_ceil(BLOCK);
        if let Some((first, array)) = &self.last[c] {
            let offset = first * BLOCK;
            if part.start >= offset && part.end <= offset + array.len() {
                return Ok(array.slice(part.start - offset, part.len()));
            }
        }
        let array = if self.shared {
            let data_type = seg.footer.columns[c].column_type.to_arrow();
            seg.checked(
                self.opened(c)?.decode_blocks(&data_type, blocks.clone()),
                c,
                None,
                blocks.clone(),
            )?
        } else {
            let bytes = seg.blob(self.chunk.columns[c], c, &mut self.verified[c])?;
            let covers_chunk = blocks.start == 0 && blocks.end * BLOCK >= chunk_rows;
            let whole = covers_chunk.then_some(chunk_rows);
            seg.decode(bytes, c, whole, blocks.clone())?
        };
        let out = array.slice(part.start - blocks.start * BLOCK, part.len());
        self.last[c] = Some((blocks.start, array));
        Ok(out)
    }
}

/// The parts of `part` to decode, each with the mask of its rows to keep
/// (`None`: all of them): without a mask, `part` itself; with one, the runs
/// of consecutive 1024-row blocks that hold a selected row, each cut to
/// its first and last selected row, so blocks where nothing passed are
/// never decoded.
fn selected_runs(
    part: Range<usize>,
    keep: Option<BooleanBuffer>,
) -> Vec<(Range<usize>, Option<BooleanBuffer>)> {
    let Some(keep) = keep else {
        return vec![(part, None)];
    };
    let mut runs: Vec<Range<usize>> = Vec::new();
    for (s, e) in keep.set_slices() {
        let (s, e) = (part.start + s, part.start + e);
        match runs.last_mut() {
            // Same or next block: one decode.
            Some(last) if s / BLOCK <= (last.end - 1) / BLOCK + 1 => last.end = e,
            _ => runs.push(s..e),
        }
    }
    runs.into_iter()
        .map(|r| {
            let mask = keep.slice(r.start - part.start, r.len());
            let all = mask.count_set_bits() == r.len();
            (r, (!all).then_some(mask))
        })
        .collect()
}

/// The pieces of a chunk-local row range that lie in blocks whose time
/// bounds matter: one piece per run of consecutive wanted blocks, so a
/// range holding several series (each sorted by time) skips the middle
/// blocks that are outside the time range, not only its two ends.
fn block_runs(part: Range<usize>, block_ok: Option<&[bool]>) -> Vec<Range<usize>> {
    let Some(ok) = block_ok else {
        return if part.is_empty() {
            Vec::new()
        } else {
            vec![part]
        };
    };
    let wanted = |b: usize| ok.get(b).copied().unwrap_or(true);
    let mut runs = Vec::new();
    let mut b = part.start / BLOCK;
    let end_block = part.end.div_ceil(BLOCK);
    while b < end_block {
        if !wanted(b) {
            b += 1;
            continue;
        }
        let first = b;
        while b < end_block && wanted(b) {
            b += 1;
        }
        let range = part.start.max(first * BLOCK)..part.end.min(b * BLOCK);
        if !range.is_empty() {
            runs.push(range);
        }
    }
    runs
}

/// Makes equal tag values of the series directory share one allocation
/// (JSON decoding gives each its own).
fn intern_tags(series: &mut [SeriesEntry]) {
    let mut seen: HashSet<Arc<str>> = HashSet::new();
    for value in series.iter_mut().flat_map(|s| s.tags.iter_mut().flatten()) {
        match seen.get(&**value) {
            Some(shared) => *value = shared.clone(),
            None => {
                seen.insert(value.clone());
            }
        }
    }
}

fn parse(bytes: &[u8]) -> std::result::Result<Footer, String> {
    if bytes.len() < HEAD_LEN + TAIL_LEN {
        return Err(format!("{} bytes is too short for a segment", bytes.len()));
    }
    if &bytes[..8] != HEAD_MAGIC {
        return Err("not a LynxStore segment (bad header magic)".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().map_err(|_| "header")?);
    if version != FORMAT_VERSION {
        return Err(format!("unsupported segment format version {version}"));
    }
    let tail = &bytes[bytes.len() - TAIL_LEN..];
    if &tail[12..20] != TAIL_MAGIC {
        return Err("truncated segment (bad trailer magic)".into());
    }
    let footer_len = u64::from_le_bytes(tail[..8].try_into().map_err(|_| "trailer")?);
    let footer_crc = u32::from_le_bytes(tail[8..12].try_into().map_err(|_| "trailer")?);
    let body_end = (bytes.len() - TAIL_LEN) as u64;
    if footer_len > body_end - HEAD_LEN as u64 {
        return Err(format!("footer length {footer_len} exceeds the file"));
    }
    let footer_start = body_end - footer_len;
    let footer_bytes = &bytes[footer_start as usize..body_end as usize];
    if crc32fast::hash(footer_bytes) != footer_crc {
        return Err("footer checksum mismatch".into());
    }
    let mut footer: Footer =
        serde_json::from_slice(footer_bytes).map_err(|e| format!("unreadable footer: {e}"))?;
    intern_tags(&mut footer.series);
    let mut rows = 0u64;
    for chunk in &footer.chunks {
        if chunk.columns.len() != footer.columns.len() {
            return Err("a chunk does not have one blob per column".into());
        }
        for blob in &chunk.columns {
            let end = blob.offset.checked_add(blob.len);
            if blob.offset < HEAD_LEN as u64 || end.is_none_or(|end| end > footer_start) {
                return Err(format!(
                    "blob at offset {} lies outside the data",
                    blob.offset
                ));
            }
        }
        rows += u64::from(chunk.rows);
    }
    if rows != footer.rows {
        return Err(format!(
            "chunks hold {rows} rows, footer says {}",
            footer.rows
        ));
    }
    Ok(footer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The pieces are disjoint, ordered, inside the range, and cover
        /// exactly the rows whose block is wanted (or not listed).
        #[test]
        fn block_runs_cover_exactly_the_wanted_rows(
            start in 0usize..5000,
            len in 0usize..5000,
            ok in prop::option::of(prop::collection::vec(any::<bool>(), 0..8)),
        ) {
            let part = start..start + len;
            let runs = block_runs(part.clone(), ok.as_deref());
            let wanted: Vec<usize> = part
                .clone()
                .filter(|r| ok.as_ref().is_none_or(|ok| ok.get(r / BLOCK).copied().unwrap_or(true)))
                .collect();
            let covered: Vec<usize> = runs.iter().flat_map(|r| r.clone()).collect();
            prop_assert_eq!(covered, wanted);
            prop_assert!(runs.iter().all(|r| !r.is_empty()));
            prop_assert!(runs.windows(2).all(|w| w[0].end < w[1].start));
        }
    }

    /// Equal tag values of a directory share one allocation after reading,
    /// and the directory's JSON is the one older files carry.
    #[test]
    fn equal_tag_values_share_one_allocation_in_the_same_format() {
        let json = r#"[{"tags":["node","a",null],"start":0,"end":2,"first_time":1,"last_time":2},{"tags":["node","b",null],"start":2,"end":3,"first_time":1,"last_time":1}]"#;
        let mut series: Vec<SeriesEntry> = serde_json::from_str(json).unwrap();
        let job = |s: &[SeriesEntry], i: usize| s[i].tags[0].clone().unwrap();
        assert!(!Arc::ptr_eq(&job(&series, 0), &job(&series, 1)));
        intern_tags(&mut series);
        assert!(Arc::ptr_eq(&job(&series, 0), &job(&series, 1)));
        assert_eq!(series[0].tags[1].as_deref(), Some("a"));
        assert_eq!(series[1].tags[1].as_deref(), Some("b"));
        assert_eq!(series[1].tags[2], None);
        assert_eq!(serde_json::to_string(&series).unwrap(), json);
    }
}
