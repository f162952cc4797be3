use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redb::{Builder, Database, Durability, ReadOnlyTable, ReadableDatabase, TableDefinition};

use crate::backend::{Backend, KeyValue, KvRead, Snapshot, Write};
use crate::wal::Wal;
use crate::{Result, StorageError};

/// The whole key space lives in one table; key prefixes separate resource kinds.
const KV: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

/// How often the B-tree is made durable, so the log stays short to replay.
/// Writers wait while a checkpoint runs, and its cost is the pages touched
/// since the last one, which under random inserts soon approaches every
/// index leaf: so longer intervals share each page write among more commits
/// and stall less often (measured in docs/performance.md: at 2 s a 250 ms
/// stall every 2 s; at 10 s the log alone is written between checkpoints).
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);
/// A log this long is checkpointed whatever the time.
const CHECKPOINT_LOG_BYTES: u64 = 128 << 20;

/// The embedded backend: one redb file and its write-ahead log. redb is a
/// copy-on-write B-tree with checksummed pages; a commit is durable once
/// its log record is synced, and the B-tree is synced at checkpoints (see
/// [`crate::wal`] for why). A crash leaves the last checkpoint plus the log,
/// which opening replays.
pub struct RedbBackend {
    db: Database,
    log: Mutex<Log>,
    checkpoint_interval: Duration,
}

struct Log {
    wal: Wal,
    last_checkpoint: Instant,
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
        // Creates the table up front, so snapshots never see it missing.
        commit_tree(&db, [], Durability::Immediate)?;
        let (mut wal, records) = Wal::open(&Wal::path_for(path))?;
        if !records.is_empty() {
            let writes: usize = records.iter().map(Vec::len).sum();
            tracing::info!(
                records = records.len(),
                writes,
                "replaying the write-ahead log over the last checkpoint"
            );
            commit_tree(
                &db,
                records.iter().map(Vec::as_slice),
                Durability::Immediate,
            )?;
            wal.clear()?;
        }
        Ok(Self {
            db,
            log: Mutex::new(Log {
                wal,
                last_checkpoint: Instant::now(),
            }),
            checkpoint_interval: CHECKPOINT_INTERVAL,
        })
    }

    /// Checkpoints at least this often instead of every 10 s (tests use it
    /// to crash across checkpoints).
    pub fn checkpoint_every(mut self, interval: Duration) -> Self {
        self.checkpoint_interval = interval;
        self
    }

    /// Removes the write-ahead log of a data file that is being replaced
    /// (by a restore), so it is not replayed over the new file.
    pub fn discard_log(data_file: &Path) -> Result<()> {
        match std::fs::remove_file(Wal::path_for(data_file)) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        }
    }
}

/// Commits lists of writes, in order, as one B-tree transaction: durably, or
/// (with the log already holding them) in memory only.
fn commit_tree<'w>(
    db: &Database,
    batches: impl IntoIterator<Item = &'w [Write]>,
    durability: Durability,
) -> Result<()> {
    let mut txn = db.begin_write().map_err(StorageError::backend)?;
    txn.set_durability(durability)
        .map_err(StorageError::backend)?;
    {
        let mut table = txn.open_table(KV).map_err(StorageError::backend)?;
        for (key, value) in batches.into_iter().flatten() {
            match value {
                Some(v) => table.insert(key.as_slice(), v.as_slice()),
                None => table.remove(key.as_slice()),
            }
            .map_err(StorageError::backend)?;
        }
    }
    txn.commit().map_err(StorageError::backend)
}

/// Makes the B-tree durable as it stands, then empties the log.
fn checkpoint(db: &Database, log: &mut Log) -> Result<()> {
    let started = Instant::now();
    let log_bytes = log.wal.len();
    commit_tree(db, [], Durability::Immediate)?;
    log.wal.clear()?;
    // Writers wait while this runs: worth seeing when tuning the interval.
    tracing::debug!(
        log_bytes,
        ms = started.elapsed().as_secs_f64() * 1e3,
        "checkpoint"
    );
    log.last_checkpoint = Instant::now();
    Ok(())
}

impl Drop for RedbBackend {
    /// A clean shutdown leaves no log to replay.
    fn drop(&mut self) {
        let Ok(log) = self.log.get_mut() else { return };
        match checkpoint(&self.db, log) {
            Ok(()) => {
                let _ = std::fs::remove_file(log.wal.path());
            }
            Err(err) => {
                tracing::error!(%err, "final checkpoint failed; the log will be replayed at the next start")
            }
        }
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
        let mut log = self
            .log
            .lock()
            .map_err(|_| StorageError::Backend("the write-ahead log is poisoned".into()))?;
        let before = log.wal.len();
        log.wal.append(writes)?;
        if let Err(err) = commit_tree(&self.db, [writes], Durability::None) {
            // The caller hears of a failure, so the log must not keep the record.
            if let Err(undo) = log.wal.truncate_to(before) {
                tracing::error!(%undo, "cannot take a failed commit back out of the write-ahead log");
            }
            return Err(err);
        }
        if log.last_checkpoint.elapsed() >= self.checkpoint_interval
            || log.wal.len() >= CHECKPOINT_LOG_BYTES
        {
            // The commit is durable in the log already; a failed checkpoint
            // only leaves a longer log, and the next commit tries again.
            if let Err(err) = checkpoint(&self.db, &mut log) {
                tracing::error!(%err, "checkpoint failed; the write-ahead log keeps growing");
            }
        }
        Ok(())
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
