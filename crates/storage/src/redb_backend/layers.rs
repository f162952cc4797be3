//! What a reader sees: the memtables over a redb read transaction.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use redb::{ReadOnlyTable, ReadableDatabase};

use super::{Shared, KV};
use crate::backend::{KeyValue, KvRead, Snapshot};
use crate::memtable::Memtable;
use crate::merge::{merge, Layer};
use crate::{Result, StorageError};

/// Newest first: the memtable taking writes, and the one being flushed.
pub(super) struct Layers {
    pub(super) active: Arc<Memtable>,
    pub(super) frozen: Option<Arc<Memtable>>,
}

impl Layers {
    pub(super) fn tables(&self) -> impl Iterator<Item = &Arc<Memtable>> {
        std::iter::once(&self.active).chain(self.frozen.as_ref())
    }
}

impl Shared {
    /// A view over the B-tree and the memtables at commit `at` (`None`: the
    /// newest durable commit). The layers are taken before the B-tree and
    /// `at` after it, so whatever a concurrent flush moves from a memtable
    /// into the B-tree is seen in one or the other (see docs/design.md).
    pub(super) fn view(&self, at: Option<u64>) -> Result<LayeredSnapshot> {
        let layers = self.layers()?;
        let txn = self.db.begin_read().map_err(StorageError::backend)?;
        let table = txn.open_table(KV).map_err(StorageError::backend)?;
        let at = at.unwrap_or_else(|| self.durable.load(Ordering::SeqCst));
        Ok(LayeredSnapshot { layers, at, table })
    }
}

pub(super) struct LayeredSnapshot {
    layers: Arc<Layers>,
    at: u64,
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl Snapshot for LayeredSnapshot {}

impl KvRead for LayeredSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        for table in self.layers.tables() {
            if let Some(found) = table.get(key, self.at) {
                return Ok(found);
            }
        }
        let value = self.table.get(key).map_err(StorageError::backend)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn scan_ordered(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        descending: bool,
    ) -> Result<Vec<KeyValue>> {
        if start >= end || limit == 0 {
            return Ok(Vec::new());
        }
        let mut layers: Vec<Layer<'_>> = self
            .layers
            .tables()
            .map(|table| -> Layer<'_> {
                Box::new(table.range(start, end, self.at, descending).map(Ok))
            })
            .collect();
        let range = self
            .table
            .range(start..end)
            .map_err(StorageError::backend)?;
        let tree = range.map(|entry| {
            entry
                .map(|(k, v)| (k.value().to_vec(), Some(v.value().to_vec())))
                .map_err(StorageError::backend)
        });
        layers.push(if descending {
            Box::new(tree.rev())
        } else {
            Box::new(tree)
        });
        merge(layers, descending, limit)
    }
}
