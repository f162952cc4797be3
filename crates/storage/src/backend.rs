use crate::Result;

/// One key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// One write of a commit: a key and its new value, `None` to delete it.
pub type Write = (Vec<u8>, Option<Vec<u8>>);

/// Reading the key space: what snapshots and write transactions share.
pub trait KvRead {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Entries with `start <= key < end` in key order, at most `limit` of them.
    fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<KeyValue>>;

    /// Entries with `start <= key < end` in descending key order, at most
    /// `limit` of them (descending index scans: `ORDER BY ... DESC`).
    fn scan_rev(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<KeyValue>>;
}

/// A consistent read-only view of the key space at one point in time.
pub trait Snapshot: KvRead + Send {}

/// A storage engine: an ordered key space with snapshot reads and atomic,
/// durable batch commits. The [`Store`](crate::Store) guarantees that at most
/// one `commit` runs at a time, so a backend needs no write concurrency of its own.
pub trait Backend: Send + Sync + 'static {
    fn snapshot(&self) -> Result<Box<dyn Snapshot + '_>>;

    /// Applies all writes atomically; `None` deletes the key. Returns once the
    /// batch is durable.
    fn commit(&self, writes: &[Write]) -> Result<()>;
}
