//! Parquet export: a stream of record batches into one file.
//!
//! Written to a temporary file next to the target, fsynced and renamed, so
//! the target is either the complete export or untouched. Columns keep
//! their Arrow types (timestamps as microseconds, `timestamptz` adjusted to
//! UTC), compressed with zstd; readers such as DuckDB, pyarrow and Spark
//! read them directly, and `lynxstore import` reads them back unchanged.

use std::fs::File;
use std::path::{Path, PathBuf};

use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::{Result, SqlError, StatusCode};

fn io_error(path: &Path, e: impl std::fmt::Display) -> SqlError {
    SqlError::new(
        StatusCode::Unavailable,
        format!("could not write file \"{}\": {e}", path.display()),
    )
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes every batch of `stream` to `path`; returns the row count.
pub async fn write_parquet(path: &Path, mut stream: SendableRecordBatchStream) -> Result<u64> {
    let tmp = temp_path(path);
    let result = async {
        let file = File::create(&tmp).map_err(|e| io_error(path, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(1 << 20))
            .build();
        let mut writer = ArrowWriter::try_new(file, stream.schema(), Some(props))
            .map_err(|e| io_error(path, e))?;
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            writer.write(&batch).map_err(|e| io_error(path, e))?;
        }
        let file = writer.into_inner().map_err(|e| io_error(path, e))?;
        file.sync_all().map_err(|e| io_error(path, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
        Ok(rows)
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
