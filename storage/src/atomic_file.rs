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

/// Writes `body` atomically behind a header line `MAGIC <crc32 hex>\n`, so a
/// reader can tell a damaged file from a valid one.
pub fn write_checked(path: &Path, magic: &str, body: &[u8]) -> Result<()> {
    let mut bytes = format!("{magic} {:08x}\n", crc32fast::hash(body)).into_bytes();
    bytes.extend_from_slice(body);
    write_atomically(path, &bytes)
}

/// Reads a file written by `write_checked`: `Ok(None)` when it does not
/// exist, a `Corrupt` error naming it when the header or checksum is wrong.
pub fn read_checked(path: &Path, magic: &str) -> Result<Option<Vec<u8>>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io(path, e)),
    };
    let corrupt = |message: &str| StorageError::Corrupt {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let newline = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| corrupt("missing header line"))?;
    let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| corrupt("bad header"))?;
    let (got_magic, crc) = header
        .split_once(' ')
        .ok_or_else(|| corrupt("bad header"))?;
    if got_magic != magic {
        return Err(corrupt(&format!("expected a {magic} file")));
    }
    let crc = u32::from_str_radix(crc, 16).map_err(|_| corrupt("bad checksum field"))?;
    let body = bytes[newline + 1..].to_vec();
    if crc32fast::hash(&body) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(Some(body))
}
