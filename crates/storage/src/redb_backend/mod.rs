//! The embedded backend: a write-ahead log, a memtable and a redb B-tree
//! (docs/design.md, "Write-ahead log, memtable and flushes"). Readers'
//! view is in `layers`, the background flush in `flush`.

mod flush;
mod layers;
mod reopen;
mod room;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use redb::{Builder, Database, Durability, ReadableDatabase, TableDefinition};

use self::flush::FlushQueue;
use self::layers::Layers;
use crate::backend::{Backend, Snapshot, Write};
use crate::memtable::Memtable;
use crate::wal::Wal;
use crate::{Result, StorageError};

/// The whole key space lives in one table; key prefixes separate resource kinds.
const KV: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

/// How often the memtable is flushed to the B-tree at the latest, so the
/// log stays short to replay. A flush costs about one copy of every leaf
/// touched since the last, so longer intervals share each page write among
/// more commits (10 s wrote less per commit than 2 s when both were measured).
const FLUSH_INTERVAL: Duration = Duration::from_secs(10);
/// A memtable this large is flushed whatever the time.
const FLUSH_BYTES: usize = 64 << 20;
/// If the flush of the last memtable has not finished by the time the next
/// one is this large, writers wait for it: memory stays bounded when the
/// disk falls behind.
const STALL_BYTES: usize = 4 * FLUSH_BYTES;
/// Keys and values a flush writes per B-tree transaction (see `write_tree`).
/// Each commit's fsync still delays the log syncs behind it, for less time
/// the smaller the commit, but every commit costs one: at 512 KiB, p99.9 of
/// writes fell from 80-250 ms to about 20 ms for a rise of a third in p99 of
/// 1 KB writes (commit d9b5b07 has the sizes tried).
const FLUSH_COMMIT_BYTES: usize = 512 << 10;

/// The embedded backend: a redb B-tree, a write-ahead log and a memtable.
/// A commit is appended to the log and inserted into the memtable; it is
/// durable, and visible to snapshots, once a sync of the log covers it. A
/// background thread flushes full memtables into the B-tree, which is made
/// durable by each flush (redb is a copy-on-write B-tree with checksummed
/// pages). A crash leaves the last flush plus the logs, which opening replays.
pub struct RedbBackend {
    shared: Arc<Shared>,
    flusher: Option<thread::JoinHandle<()>>,
}

struct Shared {
    /// The B-tree's file; `None` only while it is being reopened after a
    /// write to it failed (redb then refuses every later transaction).
    db: Mutex<Option<Database>>,
    data_file: PathBuf,
    options: OpenOptions,
    /// The memtables over the B-tree, swapped whole so a reader takes a
    /// consistent pair.
    layers: RwLock<Arc<Layers>>,
    log: Mutex<Log>,
    /// The newest commit a sync has made durable: what snapshots see.
    durable: AtomicU64,
    /// A log write or sync failed: what was applied after the last durable
    /// commit may or may not be on disk, so nothing more is accepted.
    failed: AtomicBool,
    flush: Mutex<FlushQueue>,
    flushes: AtomicU64,
    flush_failures: AtomicU64,
    /// Why the last flush failed, until one succeeds.
    flush_error: Mutex<Option<String>>,
    /// Why the last append to the log failed (a full disk), until one succeeds.
    append_error: Mutex<Option<String>>,
    append_failing: AtomicBool,
    /// Signals a memtable to flush, a flush done, or a stop.
    flush_signal: Condvar,
}

struct Log {
    wal: Wal,
    /// The number of the last commit applied.
    applied: u64,
    last_freeze: Instant,
    flush_interval: Duration,
}

/// How [`RedbBackend::open_with`] opens a data file.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// Verify the checksum of every page first, so a file damaged outside
    /// Cosmonaut (a bad disk, a stray write) is refused at start instead of
    /// being served. Reads the whole file once.
    pub verify: bool,
    /// Drop a whole record at the end of the write-ahead log that fails
    /// its checksum (and what follows it) instead of refusing to open: its
    /// acknowledged writes are lost. For an operator who has decided so.
    pub discard_damaged_log_tail: bool,
    /// Memory for B-tree pages. The flush fills it as it writes: under
    /// steady writes the process grows by this much in its first half
    /// minute, and reads of items no memtable holds find their pages here
    /// instead of asking the kernel for them.
    pub cache_bytes: usize,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            verify: false,
            discard_damaged_log_tail: false,
            cache_bytes: RedbBackend::DEFAULT_CACHE_BYTES,
        }
    }
}

impl RedbBackend {
    /// The file's name inside a data dir.
    pub const FILE_NAME: &'static str = "cosmonaut.redb";

    /// redb's own default: the B-tree pages kept in memory, up to this many
    /// bytes, once written or read.
    pub const DEFAULT_CACHE_BYTES: usize = 1 << 30;

    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, OpenOptions::default())
    }

    pub fn open_with(path: &Path, options: OpenOptions) -> Result<Self> {
        let db = open_database(path, options)?;
        let (wal, replay) = Wal::open(path, options.discard_damaged_log_tail)?;
        // The logs' commits go into a memtable that the flusher moves into
        // the B-tree as it does any other, so opening writes nothing to the
        // data file: a store starts as fast as it reads its logs, and starts
        // on a full disk too (the flush waits for room, as it would later).
        let replayed = Memtable::default();
        let mut applied = 0;
        for record in &replay.records {
            applied += 1;
            replayed.insert(applied, record);
        }
        if applied > 0 {
            let writes: usize = replay.records.iter().map(Vec::len).sum();
            tracing::info!(
                records = applied,
                writes,
                "replaying the write-ahead log over the last flush"
            );
        }
        drop(replay.records);
        let (frozen, pending) = if applied > 0 {
            let replayed = Arc::new(replayed);
            (Some(Arc::clone(&replayed)), Some((replayed, replay.files)))
        } else {
            Wal::retire(path, &replay.files)?;
            (None, None)
        };
        let tree = layers::open_tree(&db)?;
        let shared = Arc::new(Shared {
            db: Mutex::new(Some(db)),
            data_file: path.to_path_buf(),
            options,
            layers: RwLock::new(Arc::new(Layers {
                active: Arc::default(),
                frozen,
                tree: Some(tree),
            })),
            log: Mutex::new(Log {
                wal,
                applied,
                last_freeze: Instant::now(),
                flush_interval: FLUSH_INTERVAL,
            }),
            durable: AtomicU64::new(applied),
            failed: AtomicBool::new(false),
            flushes: AtomicU64::new(0),
            flush_failures: AtomicU64::new(0),
            flush_error: Mutex::new(None),
            append_error: Mutex::new(None),
            append_failing: AtomicBool::new(false),
            flush: Mutex::new(FlushQueue::with_pending(pending)),
            flush_signal: Condvar::new(),
        });
        let flusher = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("cosmonaut-flush".into())
                .spawn(move || shared.run_flusher())?
        };
        Ok(Self {
            shared,
            flusher: Some(flusher),
        })
    }

    /// Flushes at least this often instead of every 10 s (tests use it to
    /// crash across flushes).
    pub fn checkpoint_every(self, interval: Duration) -> Self {
        if let Ok(mut log) = self.shared.log.lock() {
            log.flush_interval = interval;
        }
        self
    }

    /// Removes the write-ahead logs of a data file that is being replaced
    /// (by a restore), so they are not replayed over the new file.
    pub fn discard_log(data_file: &Path) -> Result<()> {
        Wal::remove_all(data_file)
    }
}

/// Opens (or creates) the B-tree's file, with its one table.
fn open_database(path: &Path, options: OpenOptions) -> Result<Database> {
    let OpenOptions {
        verify,
        cache_bytes,
        ..
    } = options;
    let corrupt = |reason: String| StorageError::Corrupt {
        path: path.display().to_string(),
        reason,
    };
    // A plain open of a damaged file may panic inside redb; say so instead.
    let opened = catch_unwind(AssertUnwindSafe(|| {
        Builder::new()
            .set_check_integrity_on_open(verify)
            .set_cache_size(cache_bytes)
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
    // Made up front, so snapshots never see it missing; only a new file
    // needs the write.
    let has_table = db
        .begin_read()
        .map_err(StorageError::backend)?
        .open_table(KV)
        .is_ok();
    if !has_table {
        write_tree(&db, &Memtable::default(), FLUSH_COMMIT_BYTES, || Ok(()))?;
    }
    Ok(db)
}

/// Writes the newest version of each of `table`'s keys into the B-tree, in
/// durable transactions of about `commit_bytes` of keys and values each.
///
/// redb writes a transaction's pages only when it commits, so one commit for
/// a whole memtable made its fsync write a hundred megabytes or more at once,
/// and every log sync issued meanwhile waited behind it: stalls of 80-250 ms
/// (commit d9b5b07 has the measurements). Small commits spread those writes.
/// A crash between two of them is harmless: the memtable's log file is
/// retired only after the last one, and replaying it writes every key again.
///
/// `room` is asked before each transaction and stops the flush while it
/// says no (see `room`).
fn write_tree(
    db: &Database,
    table: &Memtable,
    commit_bytes: usize,
    room: impl Fn() -> Result<()>,
) -> Result<()> {
    // Where the next transaction starts: `None` before the first key.
    let mut from: Option<Vec<u8>> = None;
    loop {
        room()?;
        let mut txn = db.begin_write().map_err(StorageError::backend)?;
        txn.set_durability(Durability::Immediate)
            .map_err(StorageError::backend)?;
        // Each commit records the allocator state, so opening after a crash
        // loads it instead of walking the whole file to rebuild it (7.8 s
        // at 3.3 GB without it; docs/performance.md, "At scale").
        txn.set_quick_repair(true);
        let mut rest = None;
        {
            let mut tree = txn.open_table(KV).map_err(StorageError::backend)?;
            let mut bytes = 0usize;
            table.for_each_newest(from.as_deref(), |key, value| -> Result<bool> {
                if bytes >= commit_bytes {
                    rest = Some(key.to_vec());
                    return Ok(false);
                }
                bytes += key.len() + value.map_or(0, <[u8]>::len);
                match value {
                    Some(v) => tree.insert(key, v).map(drop),
                    None => tree.remove(key).map(drop),
                }
                .map_err(StorageError::backend)?;
                Ok(true)
            })?;
        }
        txn.commit().map_err(StorageError::backend)?;
        match rest {
            Some(key) => from = Some(key),
            None => return Ok(()),
        }
    }
}

fn poisoned(what: &str) -> StorageError {
    StorageError::Backend(format!("the {what} lock is poisoned"))
}

impl Shared {
    fn lock_log(&self) -> Result<MutexGuard<'_, Log>> {
        self.log.lock().map_err(|_| poisoned("write-ahead log"))
    }

    fn layers(&self) -> Result<Arc<Layers>> {
        Ok(Arc::clone(
            &*self.layers.read().map_err(|_| poisoned("memtable"))?,
        ))
    }

    fn check_healthy(&self) -> Result<()> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StorageError::Backend(
                "a write to the write-ahead log failed earlier; restart the server".into(),
            ));
        }
        Ok(())
    }

    /// At a clean close: everything into the B-tree, and no log left.
    fn close(&self) -> Result<()> {
        let log = self.lock_log()?;
        log.wal.sync_handle().sync_data()?;
        let layers = self.layers()?;
        let db = self.db.lock().map_err(|_| poisoned("data file"))?;
        let db = db
            .as_ref()
            .ok_or_else(|| StorageError::Backend("the data file could not be reopened".into()))?;
        for table in layers.tables().collect::<Vec<_>>().into_iter().rev() {
            write_tree(db, table, FLUSH_COMMIT_BYTES, || self.check_room())?;
        }
        drop(log);
        Wal::remove_all(&self.data_file)
    }
}

impl Drop for RedbBackend {
    /// A clean shutdown leaves no log to replay.
    fn drop(&mut self) {
        self.shared.stop_flusher();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        if self.shared.failed.load(Ordering::Acquire) {
            return;
        }
        if let Err(err) = self.shared.close() {
            tracing::error!(%err, "final flush failed; the log will be replayed at the next start");
        }
    }
}

impl Backend for RedbBackend {
    fn status(&self) -> crate::BackendStatus {
        let shared = &self.shared;
        let memtable_bytes = shared
            .layers()
            .map(|layers| layers.tables().map(|t| t.bytes() as u64).sum())
            .unwrap_or(0);
        let log_bytes = Wal::files_of(&shared.data_file)
            .map(|files| {
                files
                    .iter()
                    .filter_map(|(_, path)| std::fs::metadata(path).ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        let appending = shared
            .append_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .map(|e| format!("writes to the write-ahead log fail: {e}"));
        let degraded = if shared.failed.load(Ordering::Acquire) {
            Some("a write to the write-ahead log failed; restart the server".to_string())
        } else if appending.is_some() {
            appending
        } else {
            shared
                .flush_error
                .lock()
                .ok()
                .and_then(|e| e.clone())
                .map(|e| format!("flushing the memtable into the data file fails: {e}"))
        };
        crate::BackendStatus {
            memtable_bytes,
            log_bytes,
            data_file_bytes: std::fs::metadata(&shared.data_file).map_or(0, |m| m.len()),
            flushes: shared.flushes.load(Ordering::Relaxed),
            flush_failures: shared.flush_failures.load(Ordering::Relaxed),
            degraded,
            connections: None,
        }
    }

    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        Ok(Box::new(self.shared.view(None)?))
    }

    fn latest(&self) -> Result<Box<dyn Snapshot + '_>> {
        Ok(Box::new(self.shared.view(Some(u64::MAX))?))
    }

    fn apply(&self, writes: &[Write]) -> Result<u64> {
        let shared = &self.shared;
        shared.check_healthy()?;
        shared.wait_for_flush(&shared.layers()?.active)?;
        let mut log = shared.lock_log()?;
        // Taken under the log's lock, which freezing also holds.
        let layers = shared.layers()?;
        // The log first: if the append fails, nothing has changed.
        if let Err(err) = log.wal.append(writes) {
            if let Ok(mut last) = shared.append_error.lock() {
                *last = Some(err.to_string());
            }
            shared.append_failing.store(true, Ordering::Release);
            return Err(err);
        }
        if shared.append_failing.swap(false, Ordering::AcqRel) {
            if let Ok(mut last) = shared.append_error.lock() {
                *last = None;
            }
        }
        let seq = log.applied + 1;
        layers.active.insert(seq, writes);
        log.applied = seq;
        if let Err(err) = shared.maybe_freeze(&mut log, &layers) {
            // The commit stands; freezing is tried again at the next one.
            tracing::error!(%err, "cannot move the write-ahead log to a new file");
        }
        Ok(seq)
    }

    fn sync(&self) -> Result<u64> {
        let shared = &self.shared;
        shared.check_healthy()?;
        let (file, applied) = {
            let log = shared.lock_log()?;
            (log.wal.sync_handle(), log.applied)
        };
        let durable = shared.durable.load(Ordering::SeqCst);
        if applied <= durable {
            return Ok(durable);
        }
        if let Err(err) = file.sync_data() {
            shared.failed.store(true, Ordering::Release);
            return Err(err.into());
        }
        Ok(shared
            .durable
            .fetch_max(applied, Ordering::SeqCst)
            .max(applied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyValue;
    use std::collections::BTreeMap;

    fn key(n: u32) -> Vec<u8> {
        [&[1u8][..], &n.to_be_bytes()].concat()
    }

    #[test]
    fn a_flush_in_many_small_commits_leaves_each_key_at_its_newest_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::create(dir.path().join("data.redb")).expect("create");
        // The tree holds older values that the flush must overwrite or delete.
        let mut model = BTreeMap::new();
        let old: Vec<Write> = (0..50).map(|n| (key(n), Some(b"old".to_vec()))).collect();
        for (k, v) in &old {
            model.insert(k.clone(), v.clone());
        }
        let earlier = Memtable::default();
        earlier.insert(1, &old);
        write_tree(&db, &earlier, usize::MAX, || Ok(())).expect("first flush");
        let table = Memtable::default();
        for seq in 1..=20u32 {
            let writes: Vec<Write> = (0..30u32)
                .map(|i| {
                    let k = key((seq * 7 + i) % 80);
                    let v = ((seq + i) % 5 != 0).then(|| format!("{seq}-{i}").into_bytes());
                    (k, v)
                })
                .collect();
            for (k, v) in &writes {
                match v {
                    Some(v) => model.insert(k.clone(), Some(v.clone())),
                    None => model.remove(k),
                };
            }
            table.insert(u64::from(seq), &writes);
        }
        // A few keys per transaction: dozens of commits, split between a key's versions too.
        write_tree(&db, &table, 16, || Ok(())).expect("flush");
        let tree = layers::open_tree(&db).expect("tree");
        let stored: Vec<(Vec<u8>, Vec<u8>)> = tree
            .range::<&[u8]>(..)
            .expect("range")
            .map(|entry| {
                let (k, v) = entry.expect("entry");
                (k.value().to_vec(), v.value().to_vec())
            })
            .collect();
        let expected: Vec<(Vec<u8>, Vec<u8>)> = model
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        assert_eq!(stored, expected);
    }

    #[test]
    fn snapshots_see_a_commit_only_once_it_is_synced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = RedbBackend::open(&dir.path().join("data.redb")).expect("open");
        backend
            .commit(&[(key(1), Some(b"a".to_vec()))])
            .expect("commit");
        let before = backend.snapshot().expect("snapshot");
        let seq = backend.apply(&[(key(1), Some(b"b".to_vec())), (key(2), Some(b"c".to_vec()))]);
        assert_eq!(seq.expect("apply"), 2);
        let unsynced = backend.snapshot().expect("snapshot");
        let latest = backend.latest().expect("latest");
        assert_eq!(unsynced.get(&key(1)).expect("get"), Some(b"a".to_vec()));
        assert_eq!(unsynced.scan(&key(0), &key(9), 9).expect("scan").len(), 1);
        assert_eq!(latest.get(&key(1)).expect("get"), Some(b"b".to_vec()));
        assert_eq!(
            latest.scan_rev(&key(0), &key(9), 9).expect("scan")[0].0,
            key(2)
        );
        assert_eq!(backend.sync().expect("sync"), 2);
        let synced = backend.snapshot().expect("snapshot");
        assert_eq!(synced.get(&key(2)).expect("get"), Some(b"c".to_vec()));
        // A snapshot keeps its point in time.
        assert_eq!(before.get(&key(1)).expect("get"), Some(b"a".to_vec()));
        assert_eq!(before.get(&key(2)).expect("get"), None);
    }

    #[test]
    fn an_idle_memtable_is_flushed_when_due() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data.redb");
        let backend = RedbBackend::open(&path)
            .expect("open")
            .checkpoint_every(Duration::from_millis(100));
        backend
            .commit(&[(key(1), Some(b"a".to_vec()))])
            .expect("commit");
        // No further commit comes to trigger the freeze: the flusher does.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let layers = backend.shared.layers().expect("layers");
            if layers.active.is_empty() && layers.frozen.is_none() {
                break;
            }
            assert!(Instant::now() < deadline, "the memtable was never flushed");
            thread::sleep(Duration::from_millis(50));
        }
        let logs = Wal::files_of(&path).expect("logs");
        assert_eq!(logs.len(), 1, "{logs:?}");
        assert_eq!(std::fs::metadata(&logs[0].1).expect("stat").len(), 0);
        let snapshot = backend.snapshot().expect("snapshot");
        assert_eq!(snapshot.get(&key(1)).expect("get"), Some(b"a".to_vec()));
    }

    /// A cache far smaller than the tree only makes the flush and reads
    /// fetch pages again: everything written reads back, before and after
    /// a reopen.
    #[test]
    fn a_small_page_cache_holds_nothing_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data.redb");
        let options = OpenOptions {
            cache_bytes: 64 << 10,
            ..OpenOptions::default()
        };
        let value = |n: u32| vec![n as u8; 1_000];
        {
            let backend = RedbBackend::open_with(&path, options)
                .expect("open")
                .checkpoint_every(Duration::from_millis(10));
            for batch in 0..20u32 {
                let writes: Vec<_> = (0..50)
                    .map(|i| (key(batch * 50 + i), Some(value(batch * 50 + i))))
                    .collect();
                backend.commit(&writes).expect("commit");
                thread::sleep(Duration::from_millis(5));
            }
            let snapshot = backend.snapshot().expect("snapshot");
            assert_eq!(snapshot.get(&key(999)).expect("get"), Some(value(999)));
        }
        let backend = RedbBackend::open_with(&path, options).expect("reopen");
        let snapshot = backend.snapshot().expect("snapshot");
        let all = snapshot.scan(&key(0), &key(1_000), 2_000).expect("scan");
        assert_eq!(all.len(), 1_000);
        for (n, entry) in (0..).zip(&all) {
            assert_eq!(entry, &(key(n), value(n)));
        }
    }

    /// Many commits across many flushes read back as a plain map says they
    /// should, before and after a reopen.
    #[test]
    fn reads_across_memtables_and_flushes_match_a_model() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data.redb");
        let mut model = BTreeMap::new();
        let check = |backend: &RedbBackend, model: &BTreeMap<Vec<u8>, Vec<u8>>| {
            let snapshot = backend.snapshot().expect("snapshot");
            let all: Vec<KeyValue> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            assert_eq!(
                snapshot.scan(&key(0), &key(1000), 10_000).expect("scan"),
                all
            );
            let mut back = all.clone();
            back.reverse();
            assert_eq!(
                snapshot.scan_rev(&key(0), &key(1000), 10_000).expect("rev"),
                back
            );
            assert_eq!(snapshot.scan(&key(100), &key(200), 7).expect("scan"), {
                let part: Vec<_> = all
                    .iter()
                    .filter(|(k, _)| *k >= key(100) && *k < key(200))
                    .take(7)
                    .cloned()
                    .collect();
                part
            });
            for n in (0..400).step_by(13) {
                assert_eq!(
                    snapshot.get(&key(n)).expect("get"),
                    model.get(&key(n)).cloned()
                );
            }
        };
        {
            let backend = RedbBackend::open(&path)
                .expect("open")
                .checkpoint_every(Duration::from_millis(5));
            let mut state = 7u32;
            for round in 0..300u32 {
                let mut writes = Vec::new();
                for _ in 0..5 {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    let n = (state >> 8) % 400;
                    if state.is_multiple_of(3) {
                        writes.push((key(n), None));
                        model.remove(&key(n));
                    } else {
                        let value = format!("{round}-{n}").into_bytes();
                        writes.push((key(n), Some(value.clone())));
                        model.insert(key(n), value);
                    }
                }
                backend.commit(&writes).expect("commit");
                if round.is_multiple_of(50) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if round.is_multiple_of(30) {
                    check(&backend, &model);
                }
            }
            check(&backend, &model);
        }
        check(&RedbBackend::open(&path).expect("reopen"), &model);
    }

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
        const VERIFIED: OpenOptions = OpenOptions {
            verify: true,
            discard_damaged_log_tail: false,
            cache_bytes: RedbBackend::DEFAULT_CACHE_BYTES,
        };
        RedbBackend::open_with(&path, VERIFIED).expect("an intact file opens verified");
        let mut bytes = std::fs::read(&path).expect("read");
        for offset in (8192..bytes.len()).step_by(4096) {
            bytes[offset] ^= 0xFF;
        }
        std::fs::write(&path, bytes).expect("damage");
        let err = RedbBackend::open_with(&path, VERIFIED)
            .err()
            .expect("a damaged file must not open");
        assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("cosmonaut restore"));
    }
}
