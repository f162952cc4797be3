use std::path::Path;

use std::panic::{catch_unwind, AssertUnwindSafe};

use redb::{Builder, Database, ReadOnlyTable, ReadableDatabase, TableDefinition};

use crate::backend::{Backend, KeyValue, KvRead, Snapshot, Write};
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
    /// The file's name inside a data dir.
    pub const FILE_NAME: &'static str = "cosmonaut.redb";

    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, false)
    }

    /// Opens the file after verifying the checksum of every page, so a file
    /// damaged outside Cosmonaut (a bad disk, a stray write) is refused at
    /// start instead of being served. Reads the whole file once.
    pub fn open_verified(path: &Path) -> Result<Self> {
        Self::open_with(path, true)
    }

    fn open_with(path: &Path, verify: bool) -> Result<Self> {
        let corrupt = |reason: String| StorageError::Corrupt {
            path: path.display().to_string(),
            reason,
        };
        // A plain open of a damaged file may panic inside redb; say so instead.
        let opened = catch_unwind(AssertUnwindSafe(|| {
            Builder::new()
                .set_check_integrity_on_open(verify)
                .create(path)
        }))
        .map_err(|panic| {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unreadable page".into());
            corrupt(reason)
        })?;
        let db = opened.map_err(|e| match e {
            redb::DatabaseError::Storage(redb::StorageError::Corrupted(reason)) => corrupt(reason),
            other => StorageError::backend(other),
        })?;
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

    fn commit(&self, writes: &[Write]) -> Result<()> {
        let txn = self.db.begin_write().map_err(StorageError::backend)?;
        {
            let mut table = txn.open_table(KV).map_err(StorageError::backend)?;
            for (key, value) in writes {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_file_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(RedbBackend::FILE_NAME);
        {
            let backend = RedbBackend::open(&path).expect("open");
            let writes: Vec<_> = (0..2000u32)
                .map(|i| {
                    (
                        [&[1u8][..], &i.to_be_bytes()].concat(),
                        Some(vec![7u8; 100]),
                    )
                })
                .collect();
            backend.commit(&writes).expect("commit");
        }
        RedbBackend::open_verified(&path).expect("an intact file opens verified");
        let mut bytes = std::fs::read(&path).expect("read");
        for offset in (8192..bytes.len()).step_by(4096) {
            bytes[offset] ^= 0xFF;
        }
        std::fs::write(&path, bytes).expect("damage");
        let err = RedbBackend::open_verified(&path)
            .err()
            .expect("a damaged file must not open");
        assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("cosmonaut restore"));
    }
}
