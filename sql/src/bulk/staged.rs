//! Validated rows waiting for their write: in memory up to a limit, then
//! in a temporary Arrow IPC file under `<data-dir>/tmp/`.
//!
//! Lets `COPY FROM STDIN` stay all-or-nothing against bad input without
//! holding a 10 GB dump in memory: nothing is written to the table until
//! the whole input is validated, and then it is read back and written in
//! requests of at most [`ATOMIC_WRITE_BYTES`]. The file is removed when the
//! stage is dropped (written, failed or abandoned).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use lynx_storage::Database;

use super::{batch_bytes, write_validated_in, ATOMIC_WRITE_BYTES};
use crate::error::{Result, SqlError, StatusCode};

static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

pub struct Staged {
    dir: PathBuf,
    limit: usize,
    mem: Vec<RecordBatch>,
    mem_bytes: usize,
    spill: Option<(PathBuf, StreamWriter<BufWriter<File>>)>,
}

fn io(path: &std::path::Path, e: impl std::fmt::Display) -> SqlError {
    SqlError::new(
        StatusCode::Unavailable,
        format!("COPY staging file {}: {e}", path.display()),
    )
}

impl Staged {
    /// A stage spilling beyond [`ATOMIC_WRITE_BYTES`] into `db`'s `tmp/`.
    pub fn new(db: &Database) -> Staged {
        Self::with_limit(db, ATOMIC_WRITE_BYTES)
    }

    pub fn with_limit(db: &Database, limit: usize) -> Staged {
        Staged {
            dir: db.dir().join("tmp"),
            limit,
            mem: Vec::new(),
            mem_bytes: 0,
            spill: None,
        }
    }

    /// Whether rows went to a temporary file.
    pub fn spilled(&self) -> bool {
        self.spill.is_some()
    }

    pub fn push(&mut self, batch: RecordBatch) -> Result<()> {
        let size = batch_bytes(&batch);
        if self.spill.is_none() && self.mem_bytes + size <= self.limit {
            self.mem_bytes += size;
            self.mem.push(batch);
            return Ok(());
        }
        if self.spill.is_none() {
            std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
            let path = self.dir.join(format!(
                "copy-{}-{}.arrows",
                std::process::id(),
                NEXT_FILE.fetch_add(1, Ordering::Relaxed)
            ));
            let file = File::create(&path).map_err(|e| io(&path, e))?;
            let writer = StreamWriter::try_new(BufWriter::new(file), &batch.schema())
                .map_err(|e| io(&path, e))?;
            self.spill = Some((path, writer));
            for b in std::mem::take(&mut self.mem) {
                self.write_spill(&b)?;
            }
            self.mem_bytes = 0;
        }
        self.write_spill(&batch)
    }

    fn write_spill(&mut self, batch: &RecordBatch) -> Result<()> {
        if let Some((path, w)) = &mut self.spill {
            w.write(batch).map_err(|e| io(path, e))?;
        }
        Ok(())
    }

    /// Writes every staged row into `table`. Blocking.
    pub fn write_to(mut self, db: &Database, table: &str) -> Result<u64> {
        let Some((path, mut writer)) = self.spill.take() else {
            return write_validated_in(db, table, &self.mem, self.limit);
        };
        // Keep the path so Drop removes the file whatever happens below.
        let result = (|| {
            writer.finish().map_err(|e| io(&path, e))?;
            drop(writer);
            let file = File::open(&path).map_err(|e| io(&path, e))?;
            let reader =
                StreamReader::try_new(BufReader::new(file), None).map_err(|e| io(&path, e))?;
            let mut written = 0;
            let mut group = Vec::new();
            let mut group_bytes = 0;
            for batch in reader {
                let batch = batch.map_err(|e| io(&path, e))?;
                group_bytes += batch_bytes(&batch);
                group.push(batch);
                if group_bytes >= self.limit {
                    written += write_validated_in(db, table, &group, self.limit)?;
                    group.clear();
                    group_bytes = 0;
                }
            }
            written += write_validated_in(db, table, &group, self.limit)?;
            Ok(written)
        })();
        let _ = std::fs::remove_file(&path);
        result
    }
}

/// Removes staging files a crashed process left behind. Call only while
/// holding the data directory (no COPY of this process is running yet).
pub fn remove_stale(db: &Database) {
    let Ok(dir) = std::fs::read_dir(db.dir().join("tmp")) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("copy-") && name.ends_with(".arrows") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some((path, _)) = self.spill.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
