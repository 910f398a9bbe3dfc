//! Crash-safe replacement of small files (catalog, manifest).
//!
//! Write a temporary sibling, fsync it, rename it over the target, fsync the
//! directory. After a crash the target holds either the old or the new bytes,
//! never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{Result, StorageError};

pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| StorageError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| StorageError::io(&tmp, e))?;
    f.sync_all().map_err(|e| StorageError::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| StorageError::io(path, e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Makes a rename or file creation inside `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}
