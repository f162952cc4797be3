use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use cosmonaut_storage::{KvRead, RedbBackend, Snapshot, Store};

use crate::error::{EngineError, Result};
use crate::keys;
use crate::records::{decode, encode, ContainerRecord, DatabaseRecord, Meta};

/// Settings that shape new resources.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Physical partitions of a new container, unless its throughput needs more.
    pub partitions_per_container: u32,
    /// How long one query page may compute before it is refused with 408.
    pub query_time_limit: std::time::Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            partitions_per_container: 1,
            query_time_limit: std::time::Duration::from_secs(30),
        }
    }
}

/// The database engine. Reads run on storage snapshots from any thread;
/// writes are closures run by the storage writer, so each one checks and
/// changes state atomically.
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) config: EngineConfig,
}

impl Engine {
    /// Opens (or creates) the embedded store in `data_dir`.
    pub fn open(data_dir: &Path, config: EngineConfig) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            EngineError::internal(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let backend = RedbBackend::open(&data_dir.join(RedbBackend::FILE_NAME))?;
        Ok(Self::from_store(Store::new(Arc::new(backend))?, config))
    }

    /// An engine over a store built by the caller (with a commit observer,
    /// for continuous backup).
    pub fn from_store(store: Store, config: EngineConfig) -> Self {
        Self { store, config }
    }

    /// Brings data written by an older Cosmonaut up to this one's formats;
    /// returns how many containers were rebuilt. Run once at start, before
    /// serving: format 1 cut long strings in index entries, so indexes
    /// written before it are rebuilt.
    pub async fn upgrade_stored_data(&self) -> Result<usize> {
        const INDEX_FORMAT: u32 = 1;
        self.store
            .transact(|txn| {
                let mut meta = Meta::read(txn)?;
                if meta.index_format >= INDEX_FORMAT {
                    return Ok(0);
                }
                let (start, end) = keys::all_containers();
                let mut rebuilt = 0;
                for (_, bytes) in txn.scan(&start, &end, usize::MAX)? {
                    let container: ContainerRecord = decode(&bytes)?;
                    crate::containers::rebuild_index(txn, &container)?;
                    rebuilt += 1;
                }
                meta.index_format = INDEX_FORMAT;
                txn.put(keys::meta(), encode(&meta)?);
                Ok(rebuilt)
            })
            .await
    }

    /// Storage counters: transactions against commits and syncs shows
    /// group commit at work.
    pub fn storage_stats(&self) -> StorageCounters {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = self.store.stats();
        StorageCounters {
            commits: stats.commits.load(Relaxed),
            transactions: stats.transactions.load(Relaxed),
            syncs: stats.syncs.load(Relaxed),
        }
    }

    /// The storage backend's sizes and health.
    pub fn storage_status(&self) -> cosmonaut_storage::BackendStatus {
        self.store.backend_status()
    }

    pub(crate) fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        Ok(self.store.snapshot()?)
    }

    /// The store as of now, to read at again and again: the reads that
    /// take it (`read_item_at`, `read_items_at`, `query_items_at`,
    /// `read_container_at`) see every commit made before it and none
    /// after. A front end's transaction reads at one (snapshot isolation).
    /// Holding one keeps what it sees alive: memtables and pages in the
    /// embedded store, a read transaction and its connection on PostgreSQL.
    pub fn read_point(&self) -> Result<ReadPoint> {
        Ok(ReadPoint(Mutex::new(Some(self.snapshot()?))))
    }

    /// A fresh snapshot, or the one `at` holds.
    pub(crate) fn reader<'a>(&self, at: Option<&'a ReadPoint>) -> Result<Reader<'a>> {
        Ok(match at {
            None => Reader::Fresh(self.snapshot()?),
            Some(point) => {
                let guard = point
                    .0
                    .lock()
                    .map_err(|_| EngineError::internal("a read point was poisoned"))?;
                if guard.is_none() {
                    return Err(EngineError::internal("the read point was released"));
                }
                Reader::Pinned(guard)
            }
        })
    }
}

/// A storage snapshot kept across calls (see [`Engine::read_point`]).
pub struct ReadPoint(Mutex<Option<Box<dyn Snapshot>>>);

impl ReadPoint {
    /// Lets go of the snapshot (and what it holds: a PostgreSQL
    /// connection above all) before the point itself is dropped; reads
    /// at it fail from now on.
    pub fn release(&self) {
        if let Ok(mut snapshot) = self.0.lock() {
            *snapshot = None;
        }
    }
}

/// What one engine call reads from.
pub(crate) enum Reader<'a> {
    Fresh(Box<dyn Snapshot>),
    /// Holds a snapshot (checked when the guard was taken).
    Pinned(std::sync::MutexGuard<'a, Option<Box<dyn Snapshot>>>),
}

impl Reader<'_> {
    pub(crate) fn as_ref(&self) -> &(dyn Snapshot + 'static) {
        match self {
            Reader::Fresh(snapshot) => snapshot.as_ref(),
            Reader::Pinned(guard) => match guard.as_ref() {
                Some(snapshot) => snapshot.as_ref(),
                None => &Released,
            },
        }
    }
}

/// What a released read point reads: nothing (never reached: `reader`
/// refuses a released point).
struct Released;

impl KvRead for Released {
    fn get(&self, _key: &[u8]) -> cosmonaut_storage::Result<Option<Vec<u8>>> {
        Err(cosmonaut_storage::StorageError::Backend(
            "the read point was released".into(),
        ))
    }

    fn scan_ordered(
        &self,
        _start: &[u8],
        _end: &[u8],
        _limit: usize,
        _descending: bool,
    ) -> cosmonaut_storage::Result<Vec<cosmonaut_storage::KeyValue>> {
        Err(cosmonaut_storage::StorageError::Backend(
            "the read point was released".into(),
        ))
    }
}

impl Snapshot for Released {}

impl std::ops::Deref for Reader<'_> {
    type Target = dyn Snapshot;

    fn deref(&self) -> &Self::Target {
        self.as_ref()
    }
}

/// How many write transactions storage has run, in how many group commits,
/// made durable by how many log syncs.
#[derive(Debug, Clone, Copy)]
pub struct StorageCounters {
    pub commits: u64,
    pub transactions: u64,
    pub syncs: u64,
}

pub(crate) fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh entity tag, quoted as the service sends it.
pub(crate) fn new_etag() -> String {
    format!("\"{}\"", uuid::Uuid::new_v4())
}

pub(crate) fn load_database(snapshot: &dyn KvRead, id: &str) -> Result<Option<DatabaseRecord>> {
    snapshot
        .get(&keys::database(id))?
        .map(|bytes| decode(&bytes))
        .transpose()
}

pub(crate) fn load_container(
    snapshot: &dyn KvRead,
    db: &str,
    id: &str,
) -> Result<Option<Arc<ContainerRecord>>> {
    let key = keys::container(db, id);
    snapshot
        .get(&key)?
        .map(|bytes| decoded_container(key, bytes))
        .transpose()
}

/// Decoded container records by key, with the bytes they were decoded from.
/// Every item request loads its container; decoding the record (and parsing
/// its policies) cost a third of a point read. A hit needs the stored bytes
/// to be equal, so a replaced record is never served stale and no
/// invalidation is needed, whichever engine (or test) wrote it.
static CONTAINERS: LazyLock<Mutex<HashMap<Vec<u8>, CachedContainer>>> =
    LazyLock::new(Default::default);

/// A decoded record and the bytes it was decoded from.
type CachedContainer = (Vec<u8>, Arc<ContainerRecord>);

/// Records kept at most; past it the cache starts over.
const CACHED_CONTAINERS: usize = 4096;

fn decoded_container(key: Vec<u8>, bytes: Vec<u8>) -> Result<Arc<ContainerRecord>> {
    if let Ok(cache) = CONTAINERS.lock() {
        if let Some((cached, record)) = cache.get(&key) {
            if *cached == bytes {
                return Ok(Arc::clone(record));
            }
        }
    }
    let record = Arc::new(decode::<ContainerRecord>(&bytes)?);
    if let Ok(mut cache) = CONTAINERS.lock() {
        if cache.len() >= CACHED_CONTAINERS {
            cache.clear();
        }
        cache.insert(key, (bytes, Arc::clone(&record)));
    }
    Ok(record)
}

/// The container an item operation addresses, or the service's 404 for a
/// missing owner.
pub(crate) fn require_container(
    snapshot: &dyn KvRead,
    db: &str,
    id: &str,
) -> Result<Arc<ContainerRecord>> {
    if let Some(c) = load_container(snapshot, db, id)? {
        return Ok(c);
    }
    if load_database(snapshot, db)?.is_none() {
        return Err(EngineError::owner_not_found("database", db));
    }
    Err(EngineError::owner_not_found("container", id))
}
