//! Writing documents, with what their collection's indexes oblige: the
//! expiry a TTL index gives, and the keys a unique index says one document
//! may hold.
//!
//! Unique keys are markers in a companion container (`<coll>$unique`): an
//! item per key, named by a hash of the index and the key, naming the
//! document that holds it. Creating a marker is create-if-absent in the
//! engine, so two writers (on any gateways) cannot both claim a key. A
//! document's markers are claimed before it is written and released after
//! it no longer holds them; a marker left behind by a crash between the two
//! is recognised (its document does not hold the key) and taken over, once
//! it is older than a write in flight could be.

use bson::{Bson, Document};
use cosmonaut_engine::{ErrorKind, WriteMode};
use serde_json::json;

use super::{etag_of, key, Collections, Stored};
use crate::error::{MongoError, Result};
use crate::indexes::{IndexSet, UniqueKey};
use crate::stored;

/// How long a marker whose document does not (yet) hold its key counts as
/// a write in flight rather than a leftover.
const IN_FLIGHT_MS: i64 = 30_000;

/// The container holding a collection's unique-key markers.
pub fn markers_of(coll: &str) -> String {
    format!("{coll}$unique")
}

/// The natural-order position of a document inserted now: microseconds
/// since the epoch, made strictly increasing within this process (gateways
/// sharing a store order their inserts by their clocks).
pub(super) fn next_order() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

pub(super) fn now_ms() -> i64 {
    bson::DateTime::now().timestamp_millis()
}

/// MongoDB's duplicate key error for a unique index.
pub(super) fn duplicate_key(db: &str, coll: &str, key: &UniqueKey) -> MongoError {
    MongoError::duplicate_key(format!(
        "E11000 duplicate key error collection: {db}.{coll} index: {} dup key: {}",
        key.index, key.shown
    ))
}

impl Collections {
    pub(super) fn item(
        &self,
        document: &Document,
        indexes: &IndexSet,
        order: i64,
    ) -> Result<(serde_json::Value, String)> {
        let mut item = stored::to_item(
            document,
            indexes.ttl_for(document, now_ms()),
            indexes.lookup_keys(document),
        )?;
        if let Some(map) = item.as_object_mut() {
            map.insert(stored::ORDER.into(), order.into());
        }
        let id = item["id"].as_str().unwrap_or_default().to_string();
        Ok((item, id))
    }

    /// Inserts a new document; a duplicate `_id` or unique key is error 11000.
    pub async fn insert(
        &self,
        db: &str,
        coll: &str,
        indexes: &IndexSet,
        document: &Document,
    ) -> Result<()> {
        if self.transaction.is_some() {
            return self.insert_pending(db, coll, indexes, document);
        }
        let (item, id) = self.item(document, indexes, next_order())?;
        let keys = indexes.unique_keys(document)?;
        let claimed = self.claim_all(db, coll, &id, &keys, indexes).await?;
        match self
            .engine
            .write_item(db, coll, WriteMode::Create, item, key(&id), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                self.release_all(db, coll, &id, &claimed).await;
                if e.kind == ErrorKind::Conflict {
                    Err(super::duplicate(db, coll, document.get("_id")))
                } else {
                    Err(e.into())
                }
            }
        }
    }

    /// Replaces the document `old` (as read) with `new`, as an update
    /// (operators or a pipeline) when `update`, else as a replacement;
    /// change streams tell the two apart. `Ok(false)` when it changed since
    /// (the caller reads it again and retries).
    pub async fn replace(
        &self,
        db: &str,
        coll: &str,
        indexes: &IndexSet,
        old: &Stored,
        new: &Document,
        update: bool,
    ) -> Result<bool> {
        if self.transaction.is_some() {
            self.replace_pending(db, coll, indexes, old, new, update)?;
            return Ok(true);
        }
        let (mut item, id) = self.item(new, indexes, old.order)?;
        if let (true, Some(map)) = (update, item.as_object_mut()) {
            map.insert(stored::OP.into(), "update".into());
        }
        let before = indexes.unique_keys(&old.document)?;
        let after = indexes.unique_keys(new)?;
        let gained: Vec<UniqueKey> = after
            .iter()
            .filter(|k| !before.contains(k))
            .cloned()
            .collect();
        let claimed = self.claim_all(db, coll, &id, &gained, indexes).await?;
        let mode = WriteMode::Replace { id: id.clone() };
        match self
            .engine
            .write_item(db, coll, mode, item, key(&id), Some(old.etag.clone()))
            .await
        {
            Ok(_) => {}
            Err(e) => {
                self.release_all(db, coll, &id, &claimed).await;
                return match e.kind {
                    ErrorKind::PreconditionFailed | ErrorKind::NotFound => Ok(false),
                    _ => Err(e.into()),
                };
            }
        }
        let lost: Vec<String> = before
            .iter()
            .filter(|k| !after.contains(k))
            .map(|k| k.marker.clone())
            .collect();
        self.release_all(db, coll, &id, &lost).await;
        Ok(true)
    }

    /// Deletes the document `old` (as read); `Ok(false)` when it changed or went.
    pub async fn delete(
        &self,
        db: &str,
        coll: &str,
        indexes: &IndexSet,
        old: &Stored,
    ) -> Result<bool> {
        if self.transaction.is_some() {
            self.delete_pending(db, coll, old)?;
            return Ok(true);
        }
        let id = stored::item_id(old.document.get("_id").unwrap_or(&Bson::Null))?;
        match self
            .engine
            .delete_item(db, coll, &id, &key(&id), Some(old.etag.clone()))
            .await
        {
            Ok(_) => {}
            Err(e) if matches!(e.kind, ErrorKind::PreconditionFailed | ErrorKind::NotFound) => {
                return Ok(false)
            }
            Err(e) => return Err(e.into()),
        }
        let held: Vec<String> = indexes
            .unique_keys(&old.document)?
            .into_iter()
            .map(|k| k.marker)
            .collect();
        self.release_all(db, coll, &id, &held).await;
        Ok(true)
    }

    /// Claims every key for the document `owner`; on a key another
    /// document holds, gives back what it claimed and answers 11000.
    async fn claim_all(
        &self,
        db: &str,
        coll: &str,
        owner: &str,
        keys: &[UniqueKey],
        indexes: &IndexSet,
    ) -> Result<Vec<String>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.ensure_container(db, &markers_of(coll)).await?;
        let mut claimed = Vec::new();
        for unique in keys {
            match self.claim(db, coll, owner, unique, indexes).await {
                Ok(true) => claimed.push(unique.marker.clone()),
                Ok(false) => {
                    self.release_all(db, coll, owner, &claimed).await;
                    return Err(duplicate_key(db, coll, unique));
                }
                Err(e) => {
                    self.release_all(db, coll, owner, &claimed).await;
                    return Err(e);
                }
            }
        }
        Ok(claimed)
    }

    /// Claims one key; false when another document holds it.
    async fn claim(
        &self,
        db: &str,
        coll: &str,
        owner: &str,
        unique: &UniqueKey,
        indexes: &IndexSet,
    ) -> Result<bool> {
        let markers = markers_of(coll);
        let marker =
            json!({"id": unique.marker, "index": unique.index, "owner": owner, "at": now_ms()});
        for _ in 0..8 {
            match self
                .engine
                .write_item(
                    db,
                    &markers,
                    WriteMode::Create,
                    marker.clone(),
                    key(&unique.marker),
                    None,
                )
                .await
            {
                Ok(_) => return Ok(true),
                Err(e) if e.kind == ErrorKind::Conflict => {}
                Err(e) => return Err(e.into()),
            }
            let existing =
                match self
                    .engine
                    .read_item(db, &markers, &unique.marker, &key(&unique.marker))
                {
                    Ok(found) => found.document,
                    Err(e) if e.kind == ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
            let holder = existing["owner"].as_str().unwrap_or_default().to_string();
            if holder == owner {
                return Ok(true);
            }
            if !self.is_leftover(
                db,
                coll,
                &holder,
                unique,
                indexes,
                existing["at"].as_i64().unwrap_or(0),
            )? {
                return Ok(false);
            }
            let mode = WriteMode::Replace {
                id: unique.marker.clone(),
            };
            match self
                .engine
                .write_item(
                    db,
                    &markers,
                    mode,
                    marker.clone(),
                    key(&unique.marker),
                    Some(etag_of(&existing)),
                )
                .await
            {
                Ok(_) => return Ok(true),
                Err(e) if matches!(e.kind, ErrorKind::PreconditionFailed | ErrorKind::NotFound) => {
                    continue
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(MongoError::write_conflict(
            "a unique key is contended; retry the write",
        ))
    }

    /// Whether a marker held by `holder` is a leftover: old enough, and
    /// its document gone or no longer holding the key.
    pub(super) fn is_leftover(
        &self,
        db: &str,
        coll: &str,
        holder: &str,
        unique: &UniqueKey,
        indexes: &IndexSet,
        at: i64,
    ) -> Result<bool> {
        if now_ms() - at < IN_FLIGHT_MS {
            return Ok(false);
        }
        match self.engine.read_item(db, coll, holder, &key(holder)) {
            Ok(found) => {
                let document = stored::from_item(&found.document)?;
                Ok(!indexes.unique_keys(&document)?.contains(unique))
            }
            Err(e) if e.kind == ErrorKind::NotFound => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes the markers of a new unique index for the documents already
    /// stored (the index is published first, so writes from now on claim
    /// their own); a key two documents hold is error 11000, and the
    /// markers made are removed again.
    pub async fn build_unique(
        &self,
        db: &str,
        coll: &str,
        indexes: &IndexSet,
        name: &str,
    ) -> Result<()> {
        let only = IndexSet {
            unique: indexes
                .unique
                .iter()
                .filter(|u| u.name == name)
                .cloned()
                .collect(),
            ..IndexSet::default()
        };
        for stored in self.scan(db, coll)? {
            let id = stored::item_id(stored.document.get("_id").unwrap_or(&Bson::Null))?;
            let keys = only.unique_keys(&stored.document)?;
            if let Err(e) = self.claim_all(db, coll, &id, &keys, &only).await {
                self.drop_markers(db, coll, name).await?;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Removes every marker of the unique index `name`.
    pub async fn drop_markers(&self, db: &str, coll: &str, name: &str) -> Result<()> {
        let container = markers_of(coll);
        let mut request = cosmonaut_engine::FeedRequest {
            max_items: Some(-1),
            continuation: None,
        };
        loop {
            let page = match self.engine.read_items(
                db,
                &container,
                &cosmonaut_engine::ItemScope::All,
                &request,
            ) {
                Ok(page) => page.page,
                Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            for marker in page
                .items
                .iter()
                .filter(|m| m["index"].as_str() == Some(name))
            {
                let id = marker["id"].as_str().unwrap_or_default();
                match self
                    .engine
                    .delete_item(db, &container, id, &key(id), None)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.kind == ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match page.continuation {
                Some(c) => request.continuation = Some(c),
                None => return Ok(()),
            }
        }
    }

    /// Writes every document again so that each carries the expiry and
    /// the index keys the collection's indexes give it now.
    pub async fn rewrite_all(&self, db: &str, coll: &str, indexes: &IndexSet) -> Result<()> {
        for stored in self.scan(db, coll)? {
            let mut current = stored;
            // Lost races mean someone else wrote it, with the new settings.
            for _ in 0..3 {
                if self
                    .replace(db, coll, indexes, &current, &current.document.clone(), true)
                    .await?
                {
                    break;
                }
                let id = current.document.get("_id").cloned().unwrap_or(Bson::Null);
                match self.get(db, coll, &id)? {
                    Some(again) => current = again,
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Gives back markers `owner` holds. Failures only leave leftovers,
    /// which later claims recognise.
    async fn release_all(&self, db: &str, coll: &str, owner: &str, markers: &[String]) {
        let container = markers_of(coll);
        for marker in markers {
            let Ok(found) = self.engine.read_item(db, &container, marker, &key(marker)) else {
                continue;
            };
            if found.document["owner"].as_str() == Some(owner) {
                let etag = etag_of(&found.document);
                if let Err(err) = self
                    .engine
                    .delete_item(db, &container, marker, &key(marker), Some(etag))
                    .await
                {
                    tracing::debug!(%err, "a unique-key marker stays behind");
                }
            }
        }
    }
}
