//! The persisted catalog of tables.
//!
//! Owns table definitions and their ids; stored as `catalog.json`, replaced
//! atomically on every DDL statement before the statement is acknowledged.
//! Table ids are never reused, so WAL records of a dropped table can never be
//! mistaken for rows of a newer table with the same name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic_file::{read_checked, write_checked};
use crate::error::{Result, StorageError};
use crate::schema::TableDef;

pub type TableId = u64;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CatalogFile {
    next_table_id: TableId,
    tables: BTreeMap<TableId, TableDef>,
}

#[derive(Debug)]
pub struct Catalog {
    path: PathBuf,
    file: CatalogFile,
}

impl Catalog {
    pub fn open(dir: &Path) -> Result<Catalog> {
        let path = dir.join("catalog.json");
        let file = match read_checked(&path, "LYNXCATALOG1")? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?,
            None => CatalogFile {
                next_table_id: 1,
                tables: BTreeMap::new(),
            },
        };
        Ok(Catalog { path, file })
    }

    pub fn tables(&self) -> impl Iterator<Item = (TableId, &TableDef)> {
        self.file.tables.iter().map(|(id, def)| (*id, def))
    }

    pub fn find(&self, name: &str) -> Option<(TableId, &TableDef)> {
        self.tables().find(|(_, def)| def.name == name)
    }

    /// Applies `change` to a copy of the catalog and persists it; the
    /// in-memory catalog changes only if the write succeeded.
    fn commit(&mut self, change: impl FnOnce(&mut CatalogFile)) -> Result<()> {
        let mut next = self.file.clone();
        change(&mut next);
        let bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| StorageError::Internal(format!("catalog serialization: {e}")))?;
        write_checked(&self.path, "LYNXCATALOG1", &bytes)?;
        self.file = next;
        Ok(())
    }

    pub fn create(&mut self, def: TableDef) -> Result<TableId> {
        if self.find(&def.name).is_some() {
            return Err(StorageError::TableExists(def.name));
        }
        def.validate()?;
        let id = self.file.next_table_id;
        self.commit(|f| {
            f.next_table_id += 1;
            f.tables.insert(id, def);
        })?;
        Ok(id)
    }

    pub fn drop_table(&mut self, id: TableId) -> Result<()> {
        self.commit(|f| {
            f.tables.remove(&id);
        })
    }

    pub fn replace(&mut self, id: TableId, def: TableDef) -> Result<()> {
        def.validate()?;
        self.commit(|f| {
            f.tables.insert(id, def);
        })
    }
}
