//! Write-ahead log.
//!
//! Owns durability of acknowledged writes between flushes. A record is
//! acknowledged only after the write (and, in [`Durability::Fsync`] mode, the
//! fsync) of the group commit that contains it. Knows nothing about tables or
//! SQL: it stores opaque, checksummed payloads with a sequence number.
//!
//! File layout: `wal/<first-seq, 20 digits>.wal`, each starting with
//! [`MAGIC`], then records `[len: u32 LE][crc32: u32 LE][seq: u64 LE][payload]`
//! where `len` counts `seq + payload` and the CRC covers the same bytes.
//!
//! Group commit: the first writer that finds no sync in progress becomes the
//! leader, takes every record buffered so far, writes and fsyncs them once and
//! wakes the others. Many concurrent writers therefore share one fsync.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::atomic_file::sync_dir;
use crate::error::{Result, StorageError};

pub const MAGIC: &[u8; 8] = b"LYNXWAL1";
const RECORD_HEADER: usize = 8;
/// A record larger than this is treated as corruption on replay.
const MAX_RECORD: usize = 1 << 30;

/// When an append is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// fsync before acknowledging: survives power loss and `kill -9`.
    #[default]
    Fsync,
    /// Written to the OS before acknowledging, fsynced on rotation and close:
    /// survives `kill -9` of the process, not a power loss.
    Relaxed,
}

/// Observer of fsync latency (for `/metrics`).
pub type SyncObserver = Box<dyn Fn(Duration) + Send + Sync>;

struct Inner {
    next_seq: u64,
    pending: Vec<u8>,
    pending_last_seq: u64,
    durable_seq: u64,
    syncing: bool,
    file: Option<File>,
    file_len: u64,
    /// Sequence ranges whose group commit failed, newest last.
    failed: VecDeque<(u64, u64, String)>,
}

pub struct Wal {
    dir: PathBuf,
    mode: Durability,
    rotate_bytes: u64,
    inner: Mutex<Inner>,
    cond: Condvar,
    on_sync: Option<SyncObserver>,
}

/// A record read back during replay.
pub struct WalRecord {
    pub seq: u64,
    pub payload: Vec<u8>,
}

impl Wal {
    /// Opens the log in `dir`, returning it with every intact record in
    /// order. A torn or corrupt tail of the last file (a crash mid-write) is
    /// cut off; corruption anywhere else is an error naming the file.
    pub fn open(
        dir: &Path,
        mode: Durability,
        rotate_bytes: u64,
        on_sync: Option<SyncObserver>,
    ) -> Result<(Wal, Vec<WalRecord>)> {
        fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let files = list_files(dir)?;
        let mut records = Vec::new();
        let mut last_seq = 0;
        let mut tail: Option<(PathBuf, u64)> = None;
        for (i, path) in files.iter().enumerate() {
            let is_last = i + 1 == files.len();
            let (recs, valid_len) = read_file(path, is_last)?;
            // A file is named by the first sequence it holds: after a flush
            // trimmed older files, an empty newest file still fixes where
            // numbering continues (it must stay above the manifest's
            // flushed position).
            if let Some(first) = first_seq_of(path) {
                last_seq = last_seq.max(first.saturating_sub(1));
            }
            if let Some(r) = recs.last() {
                last_seq = r.seq;
            }
            records.extend(recs);
            if is_last {
                tail = Some((path.clone(), valid_len));
            }
        }
        let (file, file_len) = match tail {
            Some((path, valid_len)) => {
                let mut f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| StorageError::io(&path, e))?;
                if valid_len < MAGIC.len() as u64 {
                    // Crashed while creating the file: write the magic again.
                    f.set_len(0).map_err(|e| StorageError::io(&path, e))?;
                    f.write_all(MAGIC).map_err(|e| StorageError::io(&path, e))?;
                    f.sync_all().map_err(|e| StorageError::io(&path, e))?;
                    (f, MAGIC.len() as u64)
                } else {
                    f.set_len(valid_len)
                        .map_err(|e| StorageError::io(&path, e))?;
                    // Appends continue after the last intact record.
                    f.seek(SeekFrom::Start(valid_len))
                        .map_err(|e| StorageError::io(&path, e))?;
                    (f, valid_len)
                }
            }
            None => (create_file(dir, last_seq + 1)?, MAGIC.len() as u64),
        };
        let wal = Wal {
            dir: dir.to_path_buf(),
            mode,
            rotate_bytes,
            inner: Mutex::new(Inner {
                next_seq: last_seq + 1,
                pending: Vec::new(),
                pending_last_seq: last_seq,
                durable_seq: last_seq,
                syncing: false,
                file: Some(file),
                file_len,
                failed: VecDeque::new(),
            }),
            cond: Condvar::new(),
            on_sync,
        };
        Ok((wal, records))
    }

    /// Appends one record and returns its sequence number once it is durable
    /// (per the log's [`Durability`]). Blocks the calling thread.
    pub fn append(&self, payload: &[u8]) -> Result<u64> {
        if payload.len() + RECORD_HEADER > MAX_RECORD {
            return Err(StorageError::InvalidData {
                table: String::new(),
                message: format!(
                    "write of {} bytes exceeds the WAL record limit",
                    payload.len()
                ),
            });
        }
        let mut inner = self.inner.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        encode_record(&mut inner.pending, seq, payload);
        inner.pending_last_seq = seq;
        loop {
            // A failed group also advances `durable_seq`, so check failures first.
            if let Some((_, _, msg)) = inner
                .failed
                .iter()
                .find(|(lo, hi, _)| *lo <= seq && seq <= *hi)
            {
                return Err(StorageError::io(
                    &self.dir,
                    std::io::Error::other(msg.clone()),
                ));
            }
            if inner.durable_seq >= seq {
                return Ok(seq);
            }
            if inner.syncing {
                self.cond.wait(&mut inner);
                continue;
            }
            self.lead_group_commit(&mut inner);
        }
    }

    /// Writes everything pending as one group; called with the lock held and
    /// releases it during I/O.
    fn lead_group_commit(&self, inner: &mut parking_lot::MutexGuard<'_, Inner>) {
        inner.syncing = true;
        let buf = std::mem::take(&mut inner.pending);
        let first = inner.durable_seq + 1;
        let upto = inner.pending_last_seq;
        let mut file = inner.file.take();
        let start_len = inner.file_len;
        let rotate = start_len + buf.len() as u64 > self.rotate_bytes;
        let result = parking_lot::MutexGuard::unlocked(inner, || {
            self.write_group(&mut file, start_len, &buf, rotate, upto)
        });
        inner.file = file;
        inner.syncing = false;
        match result {
            Ok(new_len) => {
                inner.file_len = new_len;
                inner.durable_seq = upto;
            }
            Err(e) => {
                // Nothing of this group is acknowledged; its bytes were cut off.
                inner.failed.push_back((first, upto, e.to_string()));
                while inner.failed.len() > 64 {
                    inner.failed.pop_front();
                }
                inner.durable_seq = upto;
                // durable_seq moves past the failed group so later groups can
                // proceed; waiters of the failed range find it in `failed` first.
            }
        }
        self.cond.notify_all();
    }

    fn write_group(
        &self,
        file: &mut Option<File>,
        start_len: u64,
        buf: &[u8],
        rotate: bool,
        upto: u64,
    ) -> std::io::Result<u64> {
        let f = file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("WAL is closed"))?;
        let started = Instant::now();
        let res = f.write_all(buf).and_then(|_| match self.mode {
            Durability::Fsync => f.sync_data(),
            Durability::Relaxed => Ok(()),
        });
        if let Err(e) = res {
            // Cut off whatever part of the group reached the file.
            let _ = f.set_len(start_len);
            let _ = f.seek(SeekFrom::Start(start_len));
            return Err(e);
        }
        if let Some(obs) = &self.on_sync {
            obs(started.elapsed());
        }
        let len = start_len + buf.len() as u64;
        if rotate {
            f.sync_all()?;
            let next = create_file(&self.dir, upto + 1).map_err(std::io::Error::other)?;
            *file = Some(next);
            return Ok(MAGIC.len() as u64);
        }
        Ok(len)
    }

    /// Deletes whole files whose records all have `seq < upto` (they were
    /// flushed into segments). The current file is kept.
    pub fn trim_before(&self, upto: u64) -> Result<()> {
        let files = list_files(&self.dir)?;
        for pair in files.windows(2) {
            let next_first = first_seq_of(&pair[1]).unwrap_or(0);
            if next_first <= upto {
                fs::remove_file(&pair[0]).map_err(|e| StorageError::io(&pair[0], e))?;
            }
        }
        Ok(())
    }

    /// Starts a new file for the records after everything appended so far,
    /// so that a flush can trim the whole log up to its watermark. Called by
    /// a flush while it holds the write gate (no append is in flight); a
    /// file with no record yet is kept as it is.
    pub fn rotate(&self) -> Result<()> {
        let mut inner = self.inner.lock();
        while inner.syncing {
            self.cond.wait(&mut inner);
        }
        if inner.file_len <= MAGIC.len() as u64 || !inner.pending.is_empty() {
            return Ok(());
        }
        if let Some(f) = &inner.file {
            f.sync_all().map_err(|e| StorageError::io(&self.dir, e))?;
        }
        let next = create_file(&self.dir, inner.durable_seq + 1)?;
        inner.file = Some(next);
        inner.file_len = MAGIC.len() as u64;
        Ok(())
    }

    /// fsyncs the current file (used on shutdown in relaxed mode).
    pub fn sync(&self) -> Result<()> {
        let inner = self.inner.lock();
        if let Some(f) = &inner.file {
            f.sync_all().map_err(|e| StorageError::io(&self.dir, e))?;
        }
        Ok(())
    }

    pub fn last_seq(&self) -> u64 {
        self.inner.lock().durable_seq
    }
}

fn encode_record(out: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    let len = (8 + payload.len()) as u32;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.wal")
}

fn first_seq_of(path: &Path) -> Option<u64> {
    path.file_stem()?.to_str()?.parse().ok()
}

fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<(u64, PathBuf)> = fs::read_dir(dir)
        .map_err(|e| StorageError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .filter_map(|p| first_seq_of(&p).map(|s| (s, p)))
        .collect();
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

fn create_file(dir: &Path, first_seq: u64) -> Result<File> {
    let path = dir.join(file_name(first_seq));
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|e| StorageError::io(&path, e))?;
    f.write_all(MAGIC).map_err(|e| StorageError::io(&path, e))?;
    f.sync_all().map_err(|e| StorageError::io(&path, e))?;
    sync_dir(dir)?;
    Ok(f)
}

/// Reads the records of one file. Returns them with the length of the valid
/// prefix. A bad record ends the file if `tolerate_tail`, else is an error.
fn read_file(path: &Path, tolerate_tail: bool) -> Result<(Vec<WalRecord>, u64)> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| StorageError::io(path, e))?;
    let corrupt = |offset: usize, what: &str| StorageError::Corrupt {
        path: path.to_path_buf(),
        message: format!("{what} at offset {offset}"),
    };
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        if tolerate_tail && bytes.len() < MAGIC.len() {
            // Crash while creating the file: treat as empty.
            return Ok((Vec::new(), 0));
        }
        return Err(corrupt(0, "bad WAL magic"));
    }
    let mut records = Vec::new();
    let mut pos = MAGIC.len();
    while pos < bytes.len() {
        match parse_record(&bytes[pos..]) {
            Some((rec, used)) => {
                records.push(rec);
                pos += used;
            }
            None if tolerate_tail => break,
            None => return Err(corrupt(pos, "torn or corrupt WAL record")),
        }
    }
    Ok((records, pos as u64))
}

fn parse_record(b: &[u8]) -> Option<(WalRecord, usize)> {
    let len = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(b.get(4..8)?.try_into().ok()?);
    if !(8..=MAX_RECORD).contains(&len) {
        return None;
    }
    let body = b.get(RECORD_HEADER..RECORD_HEADER + len)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let seq = u64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
    Some((
        WalRecord {
            seq,
            payload: body[8..].to_vec(),
        },
        RECORD_HEADER + len,
    ))
}

#[cfg(test)]
mod tests;
