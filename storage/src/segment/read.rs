//! Opening a segment file with mmap and decoding the columns and chunks a
//! reader asks for.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::compute::cast;
use arrow::datatypes::SchemaRef;
use lynx_compression::decode_array;
use memmap2::Mmap;

use super::{Footer, FORMAT_VERSION, HEAD_LEN, HEAD_MAGIC, TAIL_LEN, TAIL_MAGIC};
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
    /// schema; columns the segment predates read as NULL) for every chunk
    /// that may hold rows with `lo <= time <= hi`; one batch per chunk.
    pub fn read(
        &self,
        schema: &SchemaRef,
        projection: &[usize],
        lo: Option<i64>,
        hi: Option<i64>,
    ) -> Result<Vec<RecordBatch>> {
        let out_schema = Arc::new(schema.project(projection)?);
        let sources: Vec<Option<usize>> = projection
            .iter()
            .map(|i| {
                let name = schema.field(*i).name();
                self.footer.columns.iter().position(|c| &c.name == name)
            })
            .collect();
        let mut batches = Vec::new();
        for chunk in &self.footer.chunks {
            if lo.is_some_and(|lo| chunk.max_time < lo) || hi.is_some_and(|hi| chunk.min_time > hi)
            {
                continue;
            }
            let rows = chunk.rows as usize;
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(projection.len());
            for (field, source) in out_schema.fields().iter().zip(&sources) {
                let array = match source {
                    None => new_null_array(field.data_type(), rows),
                    Some(c) => {
                        let array = self.decode(chunk.columns[*c], *c, rows)?;
                        if array.data_type() == field.data_type() {
                            array
                        } else {
                            cast(&array, field.data_type())?
                        }
                    }
                };
                columns.push(array);
            }
            let options = RecordBatchOptions::new().with_row_count(Some(rows));
            batches.push(RecordBatch::try_new_with_options(
                out_schema.clone(),
                columns,
                &options,
            )?);
        }
        Ok(batches)
    }

    fn decode(&self, blob: super::BlobRef, column: usize, rows: usize) -> Result<ArrayRef> {
        let corrupt = |message: String| StorageError::Corrupt {
            path: self.path.clone(),
            message,
        };
        // Offsets were bounds-checked in `parse`.
        let bytes = &self.mmap[blob.offset as usize..(blob.offset + blob.len) as usize];
        if crc32fast::hash(bytes) != blob.crc {
            return Err(corrupt(format!(
                "checksum mismatch in column \"{}\" at offset {}",
                self.footer.columns[column].name, blob.offset
            )));
        }
        let data_type = self.footer.columns[column].column_type.to_arrow();
        let array = decode_array(bytes, &data_type).map_err(|e| {
            corrupt(format!(
                "column \"{}\" at offset {}: {e}",
                self.footer.columns[column].name, blob.offset
            ))
        })?;
        if array.len() != rows {
            return Err(corrupt(format!(
                "column \"{}\" at offset {} has {} rows, expected {rows}",
                self.footer.columns[column].name,
                blob.offset,
                array.len()
            )));
        }
        Ok(array)
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
    let footer: Footer =
        serde_json::from_slice(footer_bytes).map_err(|e| format!("unreadable footer: {e}"))?;
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
