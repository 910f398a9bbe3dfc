//! The manifest: which segment files make up the database.
//!
//! Owns `manifest.json`: the list of live segments per table and the WAL
//! position up to which every record is contained in them. It is replaced
//! atomically (write, fsync, rename, fsync the directory), so after a crash
//! the engine sees either the old or the new set of segments. Files in
//! `segments/` that the manifest does not name are leftovers of an
//! interrupted flush or compaction and are deleted on open, never read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic_file::{read_checked, write_checked};
use crate::catalog::TableId;
use crate::error::{Result, StorageError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    pub id: u64,
    pub table: TableId,
    /// File name inside `segments/`.
    pub file: String,
    pub partition: i64,
    pub rows: u64,
    pub min_time: i64,
    pub max_time: i64,
    pub max_seq: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestData {
    /// Incremented on every commit.
    pub version: u64,
    /// Every WAL record with `seq <= flushed_seq` is in the segments below.
    pub flushed_seq: u64,
    pub next_segment_id: u64,
    pub segments: Vec<SegmentEntry>,
}

#[derive(Debug)]
pub struct Manifest {
    path: PathBuf,
    pub data: ManifestData,
}

impl Manifest {
    pub fn open(dir: &Path) -> Result<Manifest> {
        let path = dir.join("manifest.json");
        let data = match read_checked(&path, "LYNXMANIFEST1")? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?,
            None => ManifestData {
                next_segment_id: 1,
                ..ManifestData::default()
            },
        };
        Ok(Manifest { path, data })
    }

    /// Persists `next` as the new manifest; the in-memory copy changes only
    /// when the write succeeded.
    pub fn commit(&mut self, mut next: ManifestData) -> Result<()> {
        next.version = self.data.version + 1;
        let bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| StorageError::Internal(format!("manifest serialization: {e}")))?;
        write_checked(&self.path, "LYNXMANIFEST1", &bytes)?;
        self.data = next;
        Ok(())
    }

    pub fn allocate_id(&mut self) -> u64 {
        let id = self.data.next_segment_id;
        self.data.next_segment_id += 1;
        id
    }
}

pub fn segment_file_name(table: TableId, partition: i64, id: u64) -> String {
    format!("t{table}_p{partition}_s{id:08}.lseg")
}
