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

    pub(crate) fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>> {
        Ok(self.store.snapshot()?)
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
