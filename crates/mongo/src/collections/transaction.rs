//! A multi-document transaction as the collections see it: reads at one
//! point in time, writes held back until commit (see [`super::commit`]).
//!
//! A transaction reads the store as of its first command (an engine read
//! point), with its own writes laid over it: snapshot isolation, as in
//! MongoDB. Its writes only note the new version of each document. A
//! document it writes must be unchanged since its snapshot and not written
//! by another live transaction; otherwise the write fails at once with a
//! write conflict (error 112, which drivers retry the whole transaction
//! on), so no transaction overwrites what it did not see. Commit checks
//! each document again against the version the transaction read, in the
//! same atomic write that stores them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use bson::{Bson, Document};
use cosmonaut_engine::{ErrorKind, ReadPoint};

use super::write::{duplicate_key, next_order};
use super::{key, Collections, Stored};
use crate::error::{MongoError, Result};
use crate::indexes::{IndexSet, UniqueKey};
use crate::stored;

/// A document by database, collection and item id.
pub(super) type DocKey = (String, String, String);

/// A document a transaction wrote: the version its snapshot holds (`None`
/// when absent there) and its version now (`None` once deleted).
#[derive(Debug, Clone)]
pub struct PendingWrite {
    pub base: Option<Stored>,
    pub now: Option<Document>,
    pub order: i64,
    /// Written by update operators (change streams say `update`).
    pub update: bool,
}

/// An open transaction: where it reads and what it wrote.
pub struct Transaction {
    at: ReadPoint,
    deadline: Instant,
    live: AtomicBool,
    writes: Mutex<BTreeMap<DocKey, PendingWrite>>,
}

impl Transaction {
    /// Live until it commits, aborts or outlives its deadline.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire) && Instant::now() <= self.deadline
    }

    pub fn is_expired(&self) -> bool {
        Instant::now() > self.deadline
    }

    fn writes(&self) -> MutexGuard<'_, BTreeMap<DocKey, PendingWrite>> {
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the transaction, handing over its writes (to commit them, or
    /// to drop them on abort).
    pub(super) fn finish(&self) -> BTreeMap<DocKey, PendingWrite> {
        self.live.store(false, Ordering::Release);
        self.at.release();
        std::mem::take(&mut *self.writes())
    }
}

/// Which live transaction has written each document, across sessions.
#[derive(Default)]
pub(super) struct Intents(Mutex<HashMap<DocKey, Weak<Transaction>>>);

impl Intents {
    /// Claims `doc` for `mine`; a write conflict if another live
    /// transaction wrote it.
    fn claim(&self, doc: &DocKey, mine: &Arc<Transaction>) -> Result<()> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(holder) = map.get(doc).and_then(Weak::upgrade) {
            if !Arc::ptr_eq(&holder, mine) && holder.is_live() {
                return Err(write_conflict());
            }
        }
        if map.len() > 10_000 {
            map.retain(|_, t| t.upgrade().is_some_and(|t| t.is_live()));
        }
        map.insert(doc.clone(), Arc::downgrade(mine));
        Ok(())
    }

    /// Gives back what `mine` claimed.
    pub(super) fn release(&self, mine: &Arc<Transaction>, docs: impl Iterator<Item = DocKey>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for doc in docs {
            if map
                .get(&doc)
                .is_some_and(|t| std::ptr::eq(t.as_ptr(), Arc::as_ptr(mine)))
            {
                map.remove(&doc);
            }
        }
    }
}

pub(super) fn write_conflict() -> MongoError {
    MongoError::write_conflict(
        "WriteConflict error: this operation conflicted with another operation. \
         Please retry your operation or multi-document transaction.",
    )
}

fn doc_key(db: &str, coll: &str, id: &str) -> DocKey {
    (db.to_string(), coll.to_string(), id.to_string())
}

fn pending_stored(write: &PendingWrite) -> Option<Stored> {
    write.now.as_ref().map(|document| Stored {
        document: document.clone(),
        // Not an etag of the store: the transaction's own version.
        etag: String::new(),
        order: write.order,
    })
}

fn id_of(stored: &Stored) -> Result<String> {
    stored::item_id(stored.document.get("_id").unwrap_or(&Bson::Null))
}

impl Collections {
    /// Starts a transaction reading the store as of now.
    pub fn begin(&self, lifetime: Duration) -> Result<Arc<Transaction>> {
        Ok(Arc::new(Transaction {
            at: self.engine.read_point()?,
            deadline: Instant::now() + lifetime,
            live: AtomicBool::new(true),
            writes: Mutex::default(),
        }))
    }

    /// The same collections as `transaction` sees them.
    pub fn in_transaction(&self, transaction: Arc<Transaction>) -> Self {
        Self {
            transaction: Some(transaction),
            ..self.clone()
        }
    }

    /// Where this view reads: the transaction's point, or now.
    pub(super) fn read_point(&self) -> Option<&ReadPoint> {
        self.transaction.as_deref().map(|t| &t.at)
    }

    /// Ends a transaction without storing its writes.
    pub fn abort(&self, transaction: &Arc<Transaction>) {
        let writes = transaction.finish();
        self.intents.release(transaction, writes.into_keys());
    }

    /// The transaction's version of a document: `Some(None)` when it
    /// deleted it, `None` when it did not touch it.
    pub(super) fn pending_get(&self, db: &str, coll: &str, id: &str) -> Option<Option<Stored>> {
        let transaction = self.transaction.as_ref()?;
        let writes = transaction.writes();
        writes.get(&doc_key(db, coll, id)).map(pending_stored)
    }

    /// Lays the transaction's writes over the documents of `coll` its
    /// snapshot holds (those it wrote are replaced by its versions, or
    /// dropped).
    pub(super) fn overlay(&self, db: &str, coll: &str, read: Vec<Stored>) -> Result<Vec<Stored>> {
        let Some(transaction) = &self.transaction else {
            return Ok(read);
        };
        let writes = transaction.writes();
        let mut out = Vec::with_capacity(read.len());
        for stored in read {
            if !writes.contains_key(&doc_key(db, coll, &id_of(&stored)?)) {
                out.push(stored);
            }
        }
        out.extend(
            writes
                .iter()
                .filter(|((d, c, _), _)| d == db && c == coll)
                .filter_map(|(_, w)| pending_stored(w)),
        );
        super::natural_order(&mut out);
        Ok(out)
    }

    /// How the transaction changes a collection's document count.
    pub(super) fn pending_count_change(&self, db: &str, coll: &str) -> i64 {
        let Some(transaction) = &self.transaction else {
            return 0;
        };
        transaction
            .writes()
            .iter()
            .filter(|((d, c, _), _)| d == db && c == coll)
            .map(|(_, w)| i64::from(w.now.is_some()) - i64::from(w.base.is_some()))
            .sum()
    }

    /// Notes a new version of a document, after checking that no one else
    /// wrote it since the snapshot (`base` is the snapshot's version when
    /// the transaction has not written it yet).
    fn note(
        &self,
        (db, coll, id): (&str, &str, &str),
        base: Option<&Stored>,
        next: PendingWrite,
    ) -> Result<()> {
        let Some(transaction) = &self.transaction else {
            return Err(MongoError::internal("a transaction's write outside one"));
        };
        let doc = doc_key(db, coll, id);
        self.intents.claim(&doc, transaction)?;
        let first = !transaction.writes().contains_key(&doc);
        if first {
            // What is committed now must be what the snapshot holds.
            let now = match self.engine.read_item(db, coll, id, &key(id)) {
                Ok(found) => Some(super::etag_of(&found.document)),
                Err(e) if e.kind == ErrorKind::NotFound => None,
                Err(e) => return Err(e.into()),
            };
            if now != base.map(|b| b.etag.clone()) {
                return Err(write_conflict());
            }
        }
        let mut writes = transaction.writes();
        let entry = writes.entry(doc).or_insert_with(|| PendingWrite {
            base: base.cloned(),
            ..next.clone()
        });
        entry.now = next.now;
        entry.order = next.order;
        entry.update = next.update;
        Ok(())
    }

    /// Notes an insert; a duplicate `_id` or unique key is error 11000 now,
    /// as MongoDB reports it inside a transaction.
    pub(super) fn insert_pending(
        &self,
        db: &str,
        coll: &str,
        indexes: &IndexSet,
        document: &Document,
    ) -> Result<()> {
        let id = stored::item_id(document.get("_id").unwrap_or(&Bson::Null))?;
        if self
            .get(db, coll, document.get("_id").unwrap_or(&Bson::Null))?
            .is_some()
        {
            return Err(super::duplicate(db, coll, document.get("_id")));
        }
        self.check_unique_pending(db, coll, &id, &indexes.unique_keys(document)?, indexes)?;
        let next = PendingWrite {
            base: None,
            now: Some(document.clone()),
            order: next_order(),
            update: false,
        };
        self.note((db, coll, &id), None, next)
    }

    /// Notes a new version of `old` (as the transaction read it).
    pub(super) fn replace_pending(
        &self,
        db: &str,
        coll: &str,
        indexes: &IndexSet,
        old: &Stored,
        new: &Document,
        update: bool,
    ) -> Result<()> {
        let id = id_of(old)?;
        let before = indexes.unique_keys(&old.document)?;
        let gained: Vec<UniqueKey> = indexes
            .unique_keys(new)?
            .into_iter()
            .filter(|k| !before.contains(k))
            .collect();
        self.check_unique_pending(db, coll, &id, &gained, indexes)?;
        let next = PendingWrite {
            base: None,
            now: Some(new.clone()),
            order: old.order,
            update,
        };
        self.note((db, coll, &id), Some(old), next)
    }

    /// Notes the deletion of `old` (as the transaction read it).
    pub(super) fn delete_pending(&self, db: &str, coll: &str, old: &Stored) -> Result<()> {
        let id = id_of(old)?;
        let next = PendingWrite {
            base: None,
            now: None,
            order: old.order,
            update: false,
        };
        self.note((db, coll, &id), Some(old), next)
    }

    /// Whether another document, as the transaction sees them, holds one
    /// of `keys` (error 11000 if so).
    fn check_unique_pending(
        &self,
        db: &str,
        coll: &str,
        owner: &str,
        keys: &[UniqueKey],
        indexes: &IndexSet,
    ) -> Result<()> {
        for unique in keys {
            if let Some(transaction) = &self.transaction {
                let writes = transaction.writes();
                for ((d, c, id), write) in writes.iter() {
                    if d != db || c != coll || id == owner {
                        continue;
                    }
                    if let Some(document) = &write.now {
                        if indexes.unique_keys(document)?.contains(unique) {
                            return Err(duplicate_key(db, coll, unique));
                        }
                    }
                }
            }
            if let Some((holder, _)) = self.marker_holder(db, coll, unique, indexes)? {
                if holder != owner {
                    return Err(duplicate_key(db, coll, unique));
                }
            }
        }
        Ok(())
    }

    /// Who holds a unique key as this view sees it: the marker's owner and
    /// etag, unless the owner is a leftover or the transaction has moved
    /// it off the key.
    pub(super) fn marker_holder(
        &self,
        db: &str,
        coll: &str,
        unique: &UniqueKey,
        indexes: &IndexSet,
    ) -> Result<Option<(String, String)>> {
        let Some(marker) = self.marker_document(db, coll, unique)? else {
            return Ok(None);
        };
        let owner = marker["owner"].as_str().unwrap_or_default().to_string();
        if let Some(mine) = self.pending_get(db, coll, &owner) {
            let holds = match mine {
                Some(stored) => indexes.unique_keys(&stored.document)?.contains(unique),
                None => false,
            };
            return Ok(holds.then(|| (owner, super::etag_of(&marker))));
        }
        let at = marker["at"].as_i64().unwrap_or(0);
        if self.is_leftover(db, coll, &owner, unique, indexes, at)? {
            return Ok(None);
        }
        Ok(Some((owner, super::etag_of(&marker))))
    }

    /// The marker item of a unique key, if there is one (as committed now).
    pub(super) fn marker_document(
        &self,
        db: &str,
        coll: &str,
        unique: &UniqueKey,
    ) -> Result<Option<serde_json::Value>> {
        match self.engine.read_item(
            db,
            &super::write::markers_of(coll),
            &unique.marker,
            &key(&unique.marker),
        ) {
            Ok(found) => Ok(Some(found.document)),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
