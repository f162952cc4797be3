use crate::Result;

/// One key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// One write of a commit: a key and its new value, `None` to delete it.
pub type Write = (Vec<u8>, Option<Vec<u8>>);

/// Reading the key space: what snapshots and write transactions share.
pub trait KvRead {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// The values of `keys`, in their order. A backend across a network
    /// answers them in one request rather than one each.
    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        keys.iter().map(|key| self.get(key)).collect()
    }

    /// Entries with `start <= key < end`, at most `limit` of them, in key
    /// order or, if `descending`, the reverse.
    fn scan_ordered(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        descending: bool,
    ) -> Result<Vec<KeyValue>>;

    /// Entries with `start <= key < end` in key order, at most `limit` of them.
    fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        self.scan_ordered(start, end, limit, false)
    }

    /// Entries with `start <= key < end` in descending key order, at most
    /// `limit` of them (descending index scans: `ORDER BY ... DESC`).
    fn scan_rev(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        self.scan_ordered(start, end, limit, true)
    }

    /// How many keys `[start, end)` holds. A backend that can count where
    /// the data is (PostgreSQL's `count(*)`) says so instead of handing
    /// every key over.
    fn count(&self, start: &[u8], end: &[u8]) -> Result<u64> {
        const CHUNK: usize = 1024;
        let mut from = start.to_vec();
        let mut total = 0u64;
        loop {
            let rows = self.scan(&from, end, CHUNK)?;
            total += rows.len() as u64;
            match rows.last() {
                Some((last, _)) if rows.len() == CHUNK => {
                    from = last.clone();
                    from.push(0);
                }
                _ => return Ok(total),
            }
        }
    }
}

/// A consistent read-only view of the key space at one point in time.
pub trait Snapshot: KvRead + Send {}

/// How a backend is doing, for metrics and readiness probes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackendStatus {
    /// Commits held in memory, not yet in the main data file.
    pub memtable_bytes: u64,
    /// Bytes of write-ahead log on disk.
    pub log_bytes: u64,
    pub data_file_bytes: u64,
    /// Memtables moved into the data file, and attempts that failed.
    pub flushes: u64,
    pub flush_failures: u64,
    /// Why the backend is not working as it should, while it is not.
    pub degraded: Option<String>,
    /// Connections to the database server, for a backend that has one.
    pub connections: Option<ConnectionStatus>,
}

/// A backend's connections to its database server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionStatus {
    /// Connections open, in use or idle.
    pub open: u64,
    /// Open connections not in use.
    pub idle: u64,
    /// Connections the backend opens at most.
    pub limit: u64,
    /// Calls that could not reach the server (refused, broken, timed out).
    pub unreachable: u64,
}

/// A storage engine: an ordered key space with snapshot reads and atomic,
/// durable batch commits, in two steps so that a writer can prepare the next
/// commit while the last one is being made durable. The
/// [`Store`](crate::Store) calls `apply` from one thread at a time; `sync`
/// may run on another thread at the same time.
pub trait Backend: Send + Sync + 'static {
    /// What readers see: every commit that is durable, and nothing else.
    /// A snapshot owns what it reads from, so a reader may keep one across
    /// requests (a transaction that reads at one point in time).
    fn snapshot(&self) -> Result<Box<dyn Snapshot>>;

    /// What the writer sees: every commit applied, durable or not yet.
    /// The writer keeps this view until it has applied the group it read it
    /// for (or found nothing to apply), so a backend shared by several
    /// processes can open its write transaction, and take its write lock,
    /// here, and give both up when the view is dropped.
    fn latest(&self) -> Result<Box<dyn Snapshot + '_>>;

    /// Applies `writes` atomically as the next commit (`None` deletes the
    /// key) and returns its number. [`Backend::latest`] sees it at once;
    /// snapshots only once a [`Backend::sync`] has made it durable.
    fn apply(&self, writes: &[Write]) -> Result<u64>;

    /// Makes every commit applied so far durable and visible to snapshots,
    /// and returns the number of the newest durable commit.
    fn sync(&self) -> Result<u64>;

    /// Sizes, flush counts and trouble, for `/metrics` and `/health/ready`.
    fn status(&self) -> BackendStatus {
        BackendStatus::default()
    }

    /// Applies and syncs one commit.
    fn commit(&self, writes: &[Write]) -> Result<()> {
        self.apply(writes)?;
        self.sync()?;
        Ok(())
    }
}
