use std::collections::BTreeMap;
use std::ops::Bound;

use crate::backend::{KeyValue, KvRead, Snapshot};
use crate::merge::{merge, Layer};
use crate::Result;

/// Writes staged by a batch or a transaction; `None` is a delete.
pub(crate) type Staged = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A closure's writes at one moment ([`Txn::savepoint`]).
pub struct Savepoint(Staged);

/// The view one write closure works in. Reads see the committed state, then
/// the writes of closures earlier in the same group commit, then its own
/// writes. Its writes are kept only if the closure succeeds.
pub struct Txn<'a> {
    base: &'a dyn Snapshot,
    batch: &'a Staged,
    own: Staged,
}

impl<'a> Txn<'a> {
    pub(crate) fn new(base: &'a dyn Snapshot, batch: &'a Staged) -> Self {
        Self {
            base,
            batch,
            own: Staged::new(),
        }
    }

    pub(crate) fn into_writes(self) -> Staged {
        self.own
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        debug_assert!(
            key.first().is_some_and(|b| *b != crate::RESERVED_PREFIX),
            "keys starting with 0x00 belong to storage"
        );
        self.own.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.own.insert(key, None);
    }

    /// Marks the closure's writes so far, to roll back to later.
    pub fn savepoint(&self) -> Savepoint {
        Savepoint(self.own.clone())
    }

    /// Drops the writes made since `point` was taken.
    pub fn rollback_to(&mut self, point: Savepoint) {
        self.own = point.0;
    }

    /// Drops every write this closure made so far, so it can succeed
    /// without changing anything (a transactional batch that failed, whose
    /// per-operation results still go back to the client).
    pub fn discard(&mut self) {
        self.own.clear();
    }
}

impl KvRead for Txn<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.own.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.batch.get(key) {
            return Ok(v.clone());
        }
        self.base.get(key)
    }

    /// Keys this transaction or its batch wrote are answered here; the
    /// rest go to the base in one request (one round trip to a store
    /// across a network, however many keys).
    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out: Vec<Option<Option<Vec<u8>>>> = keys
            .iter()
            .map(|key| self.own.get(key).or_else(|| self.batch.get(key)).cloned())
            .collect();
        let missing: Vec<Vec<u8>> = keys
            .iter()
            .zip(&out)
            .filter(|(_, known)| known.is_none())
            .map(|(key, _)| key.clone())
            .collect();
        let mut fetched = self.base.get_many(&missing)?.into_iter();
        for slot in out.iter_mut().filter(|known| known.is_none()) {
            *slot = Some(fetched.next().flatten());
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    /// Entries with `start <= key < end`, merged across all three layers.
    fn scan_ordered(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        descending: bool,
    ) -> Result<Vec<KeyValue>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let range = (
            Bound::Included(start.to_vec()),
            Bound::Excluded(end.to_vec()),
        );
        let overlay_keys =
            self.batch.range(range.clone()).count() + self.own.range(range.clone()).count();
        // Deleted keys in the overlays may hide base entries, so read enough to fill `limit`.
        let wanted = limit.saturating_add(overlay_keys);
        let base = self.base.scan_ordered(start, end, wanted, descending)?;
        let base: Layer<'_> = Box::new(base.into_iter().map(|(k, v)| Ok((k, Some(v)))));
        let layers = vec![
            overlay(&self.own, range.clone(), descending),
            overlay(self.batch, range, descending),
            base,
        ];
        merge(layers, descending, limit)
    }
}

/// A staged layer's entries in `range`, in scan order.
fn overlay(layer: &Staged, range: (Bound<Vec<u8>>, Bound<Vec<u8>>), descending: bool) -> Layer<'_> {
    let entries = layer.range(range);
    let entries: Box<dyn Iterator<Item = _>> = if descending {
        Box::new(entries.rev())
    } else {
        Box::new(entries)
    };
    Box::new(entries.map(|(k, v)| Ok((k.clone(), v.clone()))))
}
