//! An embedded storage backend on fjall, a maintained LSM tree (its own
//! journal, memtables, sorted tables with prefix-compressed keys and
//! compressed blocks, and leveled compaction), for comparing with the
//! default backend (a write-ahead log and memtable of our own in front of
//! redb's B-tree) on the same benchmarks: `cosmonaut serve
//! --storage-engine fjall`. It has none of the default backend's fault
//! handling (a full disk, a damaged file, backups), so it is not offered
//! for use.
//!
//! The store's writer applies groups and its syncer makes them durable
//! (group commit). Here a group applied goes into a memtable of its own,
//! which only the writer's view reads; a sync writes every group applied
//! since the last one into fjall as one batch and fsyncs fjall's journal,
//! so snapshots, which read fjall alone, see exactly the durable commits.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use cosmonaut_storage::memtable::Memtable;
use cosmonaut_storage::merge::{scan_layers, Layer};
use cosmonaut_storage::{
    Backend, BackendStatus, KeyValue, KvRead, Result, Snapshot, StorageError, Write,
};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};

/// The whole key space lives in one keyspace, as in the default backend.
const KEYSPACE: &str = "kv";

pub struct FjallBackend {
    db: Database,
    kv: Keyspace,
    pending: Mutex<Pending>,
    /// Serializes syncs, so commits reach fjall in the order applied.
    syncing: Mutex<()>,
    durable: AtomicU64,
}

/// Groups applied but not yet synced.
struct Pending {
    /// Taking the writer's next groups.
    active: Arc<Memtable>,
    /// Being written into fjall by a sync; the writer's view still reads it
    /// until fjall holds it.
    syncing: Option<Arc<Memtable>>,
    applied: u64,
}

impl FjallBackend {
    /// The folder this backend keeps in a data dir.
    pub const DIR_NAME: &'static str = "fjall";

    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self> {
        let db = Database::builder(dir)
            .cache_size(cache_bytes)
            // The store's syncer decides when the journal is synced.
            .manual_journal_persist(true)
            .open()
            .map_err(backend)?;
        let kv = db
            .keyspace(KEYSPACE, KeyspaceCreateOptions::default)
            .map_err(backend)?;
        Ok(Self {
            db,
            kv,
            pending: Mutex::new(Pending {
                active: Arc::default(),
                syncing: None,
                applied: 0,
            }),
            syncing: Mutex::new(()),
            durable: AtomicU64::new(0),
        })
    }

    fn pending(&self) -> Result<MutexGuard<'_, Pending>> {
        self.pending
            .lock()
            .map_err(|_| StorageError::Backend("the pending-writes lock is poisoned".into()))
    }
}

impl Backend for FjallBackend {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        Ok(Box::new(View {
            pending: Vec::new(),
            snapshot: self.db.snapshot(),
            kv: self.kv.clone(),
        }))
    }

    fn latest(&self) -> Result<Box<dyn Snapshot + '_>> {
        // The tables before fjall's snapshot: a sync empties a table only
        // after fjall holds what it held.
        let pending = {
            let pending = self.pending()?;
            std::iter::once(Arc::clone(&pending.active))
                .chain(pending.syncing.clone())
                .collect()
        };
        Ok(Box::new(View {
            pending,
            snapshot: self.db.snapshot(),
            kv: self.kv.clone(),
        }))
    }

    fn apply(&self, writes: &[Write]) -> Result<u64> {
        let mut pending = self.pending()?;
        pending.applied += 1;
        let number = pending.applied;
        pending.active.insert(number, writes);
        Ok(number)
    }

    fn sync(&self) -> Result<u64> {
        let _one_at_a_time = self
            .syncing
            .lock()
            .map_err(|_| StorageError::Backend("the sync lock is poisoned".into()))?;
        let (table, applied) = {
            let mut pending = self.pending()?;
            if pending.active.is_empty() {
                return Ok(self.durable.load(Ordering::SeqCst));
            }
            let table = std::mem::take(&mut pending.active);
            pending.syncing = Some(Arc::clone(&table));
            (table, pending.applied)
        };
        // The table holds every write since the last sync; each key's
        // newest is what the batch needs.
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncData));
        table.for_each_newest(None, |key, value| {
            match value {
                Some(value) => batch.insert(&self.kv, key, value),
                None => batch.remove(&self.kv, key),
            }
            Ok::<_, StorageError>(true)
        })?;
        batch.commit().map_err(backend)?;
        drop(table);
        self.pending()?.syncing = None;
        self.durable.store(applied, Ordering::SeqCst);
        Ok(applied)
    }

    fn status(&self) -> BackendStatus {
        BackendStatus {
            log_bytes: self.db.journal_disk_space().unwrap_or_default(),
            data_file_bytes: self.db.disk_space().unwrap_or_default(),
            memtable_bytes: self.db.write_buffer_size(),
            ..BackendStatus::default()
        }
    }
}

/// A reader's view: fjall at one sequence number, under the writer's
/// unsynced groups if it is the writer's.
struct View {
    pending: Vec<Arc<Memtable>>,
    snapshot: fjall::Snapshot,
    kv: Keyspace,
}

impl Snapshot for View {}

impl KvRead for View {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        for table in &self.pending {
            if let Some(found) = table.get(key, u64::MAX) {
                return Ok(found);
            }
        }
        let value = self.snapshot.get(&self.kv, key).map_err(backend)?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn scan_ordered(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        descending: bool,
    ) -> Result<Vec<KeyValue>> {
        let fjall = || -> Result<Layer<'_>> {
            let range = self.snapshot.range(&self.kv, start..end);
            let entries = move |guard: fjall::Guard| {
                let (key, value) = guard.into_inner().map_err(backend)?;
                Ok((key.to_vec(), Some(value.to_vec())))
            };
            Ok(if descending {
                Box::new(range.rev().map(entries))
            } else {
                Box::new(range.map(entries))
            })
        };
        let tables = self.pending.iter().map(|t| &**t);
        scan_layers(tables, u64::MAX, fjall, (start, end), limit, descending)
    }
}

fn backend(err: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &str) -> Write {
        (key.as_bytes().to_vec(), Some(value.as_bytes().to_vec()))
    }

    #[test]
    fn snapshots_see_synced_commits_and_the_writer_sees_applied_ones() {
        let dir = tempfile::tempdir().expect("dir");
        let backend = FjallBackend::open(dir.path(), 8 << 20).expect("open");
        backend
            .commit(&[put("a", "1"), put("b", "2")])
            .expect("commit");
        let n = backend
            .apply(&[put("c", "3"), (b"a".to_vec(), None)])
            .expect("apply");
        let reader = backend.snapshot().expect("snapshot");
        assert_eq!(reader.get(b"a").expect("get"), Some(b"1".to_vec()));
        assert_eq!(reader.get(b"c").expect("get"), None);
        let writer = backend.latest().expect("latest");
        assert_eq!(writer.get(b"a").expect("get"), None);
        let keys: Vec<_> = writer
            .scan(b"a", b"z", 10)
            .expect("scan")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, [b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(backend.sync().expect("sync"), n);
        let after = backend.snapshot().expect("snapshot");
        assert_eq!(after.get(b"a").expect("get"), None);
        let rev = after.scan_rev(b"a", b"z", 1).expect("scan");
        assert_eq!(rev, [(b"c".to_vec(), b"3".to_vec())]);
        // The reader from before the sync still reads as it did.
        assert_eq!(reader.get(b"c").expect("get"), None);
    }

    #[test]
    fn synced_commits_outlive_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let backend = FjallBackend::open(dir.path(), 8 << 20).expect("open");
            backend.commit(&[put("k", "v")]).expect("commit");
        }
        let backend = FjallBackend::open(dir.path(), 8 << 20).expect("reopen");
        let view = backend.snapshot().expect("snapshot");
        assert_eq!(view.get(b"k").expect("get"), Some(b"v".to_vec()));
    }
}
