//! What a reader sees: the memtables over a redb read transaction.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use redb::{Database, ReadOnlyTable, ReadableDatabase};

use super::{Shared, KV};
use crate::backend::{KeyValue, KvRead, Snapshot};
use crate::memtable::Memtable;
use crate::merge::{scan_layers, Layer};
use crate::{Result, StorageError};

/// Newest first: the memtable taking writes, and the one being flushed;
/// then the B-tree as it was when these memtables were put in place.
pub(super) struct Layers {
    pub(super) active: Arc<Memtable>,
    pub(super) frozen: Option<Arc<Memtable>>,
    /// One read transaction shared by every reader until the next flush
    /// changes the tree: opening one per request (a lock, a header read and
    /// a table lookup) was about 3% of a point read. Only a flush writes to
    /// the tree, and it puts new layers in place right after, so the tree
    /// here never misses what the memtables above it no longer hold.
    /// `None` while the data file is being reopened (see `reopen`).
    pub(super) tree: Option<Arc<Tree>>,
}

pub(super) type Tree = ReadOnlyTable<&'static [u8], &'static [u8]>;

impl Layers {
    pub(super) fn tables(&self) -> impl Iterator<Item = &Arc<Memtable>> {
        std::iter::once(&self.active).chain(self.frozen.as_ref())
    }
}

impl Shared {
    /// A view over the memtables and the B-tree at commit `at` (`None`: the
    /// newest durable commit). `at` is read after the layers, so it covers
    /// every commit they hold that a sync has finished.
    pub(super) fn view(&self, at: Option<u64>) -> Result<LayeredSnapshot> {
        let layers = self.layers()?;
        let tree = layers.tree.clone().ok_or_else(|| {
            StorageError::Unavailable(
                "The data file is being reopened after a write to it failed, so reads wait \
                 for it."
                    .into(),
            )
        })?;
        let at = at.unwrap_or_else(|| self.durable.load(Ordering::SeqCst));
        Ok(LayeredSnapshot { layers, tree, at })
    }
}

/// The B-tree as of now, for the layers that go in place next.
pub(super) fn open_tree(db: &Database) -> Result<Arc<Tree>> {
    let txn = db.begin_read().map_err(StorageError::backend)?;
    let table = txn.open_table(KV).map_err(StorageError::backend)?;
    Ok(Arc::new(table))
}

pub(super) struct LayeredSnapshot {
    layers: Arc<Layers>,
    tree: Arc<Tree>,
    at: u64,
}

impl Snapshot for LayeredSnapshot {}

impl KvRead for LayeredSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        for table in self.layers.tables() {
            if let Some(found) = table.get(key, self.at) {
                return Ok(found);
            }
        }
        let value = self.tree.get(key).map_err(read_error)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn scan_ordered(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        descending: bool,
    ) -> Result<Vec<KeyValue>> {
        let tree = || -> Result<Layer<'_>> {
            let range = self.tree.range(start..end).map_err(read_error)?;
            let entries = range.map(|entry| {
                entry
                    .map(|(k, v)| (k.value().to_vec(), Some(v.value().to_vec())))
                    .map_err(read_error)
            });
            Ok(if descending {
                Box::new(entries.rev())
            } else {
                Box::new(entries)
            })
        };
        let tables = self.layers.tables().map(|t| &**t);
        scan_layers(tables, self.at, tree, (start, end), limit, descending)
    }
}

/// A failed read of the B-tree. After a write to the file failed, redb
/// refuses reads of pages it has not cached until the flusher opens the
/// file again: that passes by itself, so the caller hears "retry".
fn read_error(err: redb::StorageError) -> StorageError {
    match err {
        redb::StorageError::PreviousIo => StorageError::Unavailable(
            "A write to the data file failed, and it is being opened again; reads of data \
             not cached in memory wait for that."
                .into(),
        ),
        other => StorageError::backend(other),
    }
}
