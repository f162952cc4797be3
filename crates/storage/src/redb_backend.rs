use std::path::Path;

use redb::{Database, ReadOnlyTable, ReadableDatabase, TableDefinition};

use crate::backend::{Backend, KeyValue, KvRead, Snapshot};
use crate::{Result, StorageError};

/// The whole key space lives in one table; key prefixes separate resource kinds.
const KV: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

/// The embedded backend: one redb file. redb is a copy-on-write B-tree with
/// checksummed pages and fsync-on-commit, so a commit that returned is on disk
/// and a crash leaves the last committed state.
pub struct RedbBackend {
    db: Database,
}

impl RedbBackend {
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path).map_err(StorageError::backend)?;
        // Create the table up front so snapshots never see it missing.
        let txn = db.begin_write().map_err(StorageError::backend)?;
        txn.open_table(KV).map_err(StorageError::backend)?;
        txn.commit().map_err(StorageError::backend)?;
        Ok(Self { db })
    }
}

struct RedbSnapshot {
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl Snapshot for RedbSnapshot {}

impl KvRead for RedbSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let value = self.table.get(key).map_err(StorageError::backend)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        self.collect(start, end, limit, false)
    }

    fn scan_rev(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        self.collect(start, end, limit, true)
    }
}

impl RedbSnapshot {
    fn collect(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        descending: bool,
    ) -> Result<Vec<KeyValue>> {
        let mut out = Vec::new();
        if start >= end || limit == 0 {
            return Ok(out);
        }
        let range = self
            .table
            .range(start..end)
            .map_err(StorageError::backend)?;
        let entries: Box<dyn Iterator<Item = _>> = if descending {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        for entry in entries {
            let (k, v) = entry.map_err(StorageError::backend)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}

impl Backend for RedbBackend {
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>> {
        let txn = self.db.begin_read().map_err(StorageError::backend)?;
        let table = txn.open_table(KV).map_err(StorageError::backend)?;
        Ok(Box::new(RedbSnapshot { table }))
    }

    fn commit(&self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<()> {
        let txn = self.db.begin_write().map_err(StorageError::backend)?;
        {
            let mut table = txn.open_table(KV).map_err(StorageError::backend)?;
            for (key, value) in &writes {
                match value {
                    Some(v) => {
                        table
                            .insert(key.as_slice(), v.as_slice())
                            .map_err(StorageError::backend)?;
                    }
                    None => {
                        table
                            .remove(key.as_slice())
                            .map_err(StorageError::backend)?;
                    }
                }
            }
        }
        txn.commit().map_err(StorageError::backend)
    }
}
