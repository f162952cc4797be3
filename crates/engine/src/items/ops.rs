//! Item operations inside a write transaction. Single requests and
//! transactional batches run the same functions, so an operation behaves
//! the same alone or in a batch.

use std::sync::Arc;

use cosmonaut_query::{Parameters, Query};
use cosmonaut_storage::{KvRead, Txn};
use serde_json::{json, Map, Value};

use super::WriteMode;
use crate::containers::{read_counters, write_counters};
use crate::engine::{new_etag, now_seconds, require_container};
use crate::error::{EngineError, Result};
use crate::index;
use crate::keys;
use crate::partition::PartitionKeyValue;
use crate::patch::{self, PatchOperation};
use crate::previous_images::PreviousImages;
use crate::records::{decode, ContainerRecord};
use crate::ttl;
use crate::{rid, validation};

/// A document as written: its value, its JSON text as stored (a response
/// sends it on rather than printing the value again) and the container LSN
/// the write reached.
pub(crate) struct Written {
    pub document: Value,
    pub text: Vec<u8>,
    pub lsn: u64,
}

impl Written {
    /// What a delete leaves: no document.
    pub(crate) fn deleted(lsn: u64) -> Self {
        Self {
            document: Value::Null,
            text: Vec::new(),
            lsn,
        }
    }
}

/// A document as read from storage, with the length of its stored text:
/// the container's byte count moves by it, so it need not be encoded again.
pub(crate) struct StoredDocument {
    pub document: Value,
    pub len: u64,
}

impl StoredDocument {
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            document: decode(bytes)?,
            len: bytes.len() as u64,
        })
    }
}

/// The container as this transaction sees it, if it is still the one with
/// `rid` (it may have been dropped, or dropped and made again, since the
/// request resolved it).
pub(crate) fn same_container(
    txn: &Txn<'_>,
    db: &str,
    coll: &str,
    rid: &[u8; 8],
) -> Result<Arc<ContainerRecord>> {
    let current = require_container(txn, db, coll)?;
    if current.rid != *rid {
        return Err(EngineError::owner_not_found("container", coll));
    }
    Ok(current)
}

pub(crate) fn etag_of(document: &Value) -> Option<&str> {
    document.get("_etag").and_then(Value::as_str)
}

/// The item at `item_key`, unless it is absent or expired; an expired item
/// is removed on the spot, so what replaces it starts clean.
fn stored(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    item_key: &[u8],
) -> Result<Option<StoredDocument>> {
    let Some(stored) = txn
        .get(item_key)?
        .map(|b| StoredDocument::decode(&b))
        .transpose()?
    else {
        return Ok(None);
    };
    if container.ttl().is_expired(&stored.document, now_seconds()) {
        remove_document(txn, container, item_key, &stored, Removal::Expired)?;
        return Ok(None);
    }
    Ok(Some(stored))
}

/// The item at `item_key`, or 404.
fn existing(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    item_key: &[u8],
) -> Result<StoredDocument> {
    stored(txn, container, item_key)?.ok_or_else(EngineError::not_found)
}

fn check_etag(existing: &Value, if_match: Option<&str>) -> Result<()> {
    match if_match {
        Some(tag) if etag_of(existing) != Some(tag) => Err(EngineError::precondition_failed()),
        _ => Ok(()),
    }
}

/// Creates, upserts or replaces the item at `item_key`; the flag says
/// whether it was created.
pub(crate) fn write(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    item_key: &[u8],
    mode: &WriteMode,
    body: Value,
    if_match: Option<&str>,
) -> Result<(Written, bool)> {
    let existing = stored(txn, container, item_key)?;
    match (mode, &existing) {
        (WriteMode::Create, Some(_)) => return Err(EngineError::conflict()),
        // An upsert of an item that does not exist creates it, whatever
        // `If-Match` says, as on the service.
        (WriteMode::Replace { .. }, None) => return Err(EngineError::not_found()),
        _ => {}
    }
    if let Some(old) = &existing {
        check_etag(&old.document, if_match)?;
    }
    let written = store_document(txn, container, item_key, existing.as_ref(), body)?;
    Ok((written, existing.is_none()))
}

/// [`write`] for a body whose id is `id`, with the item keys `key_of`
/// makes: a replace whose body names another id than the one addressed
/// renames the item, as the service lets a replace do.
pub(crate) fn write_by_id(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    key_of: impl Fn(&str) -> Vec<u8>,
    mode: &WriteMode,
    (id, body): (&str, Value),
    if_match: Option<&str>,
) -> Result<(Written, bool)> {
    match mode {
        WriteMode::Replace { id: addressed } if addressed != id => {
            let keys = (key_of(addressed), key_of(id));
            rename(txn, container, (&keys.0, &keys.1), body, if_match)
        }
        _ => write(txn, container, &key_of(id), mode, body, if_match),
    }
}

/// Replaces the item at `old_key` with `body`, whose id differs, so that it
/// is stored at `new_key`. 404 when there is no item to replace, 409 when
/// the new id is taken.
fn rename(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    (old_key, new_key): (&[u8], &[u8]),
    body: Value,
    if_match: Option<&str>,
) -> Result<(Written, bool)> {
    delete(txn, container, old_key, if_match)?;
    if stored(txn, container, new_key)?.is_some() {
        return Err(EngineError::conflict());
    }
    let written = store_document(txn, container, new_key, None, body)?;
    Ok((written, false))
}

/// Reads the item at `item_key` as this transaction sees it.
pub(crate) fn read(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    item_key: &[u8],
) -> Result<Value> {
    Ok(existing(txn, container, item_key)?.document)
}

/// Patches the item at `item_key` when `condition` holds for it; the patch
/// may change neither its id nor its partition key (`key`).
pub(crate) fn patch(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    item_key: &[u8],
    key: &[PartitionKeyValue],
    operations: &[PatchOperation],
    condition: Option<&Query>,
    if_match: Option<&str>,
) -> Result<Written> {
    let existing = existing(txn, container, item_key)?;
    check_etag(&existing.document, if_match)?;
    if let Some(query) = condition {
        let rows = query
            .run(vec![existing.document.clone()], &Parameters::new())
            .map_err(|e| EngineError::bad_request(e.to_string()))?;
        if rows.is_empty() {
            return Err(EngineError::precondition_failed());
        }
    }
    let mut patched = existing.document.clone();
    patch::apply(&mut patched, operations)?;
    let def = container.partition_key()?;
    if patched.get("id") != existing.document.get("id") || def.extract(&patched)? != key {
        return Err(EngineError::bad_request(
            "A patch cannot change the item's id or partition key.",
        ));
    }
    store_document(txn, container, item_key, Some(&existing), patched)
}

/// Deletes the item at `item_key`; returns the LSN the delete reached.
pub(crate) fn delete(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    item_key: &[u8],
    if_match: Option<&str>,
) -> Result<u64> {
    let existing = existing(txn, container, item_key)?;
    check_etag(&existing.document, if_match)?;
    remove_document(txn, container, item_key, &existing, Removal::Deleted)
}

/// Why a document is removed, as the all-versions feed reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    Deleted,
    /// Its time to live ran out.
    Expired,
}

/// Removes a stored document with its index entries, keeping the
/// container's counters in step; returns the LSN reached.
pub(crate) fn remove_document(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    item_key: &[u8],
    existing: &StoredDocument,
    cause: Removal,
) -> Result<u64> {
    let mut counters = read_counters(txn, &container.rid)?;
    counters.lsn += 1;
    counters.document_count = counters.document_count.saturating_sub(1);
    counters.document_bytes = counters.document_bytes.saturating_sub(existing.len);
    let existing = &existing.document;
    let policy = container.index_policy();
    let old_entries = index::entries(&container.rid, item_key, existing, policy);
    index::apply(txn, &old_entries, Default::default())?;
    txn.delete(item_key.to_vec());
    write_counters(txn, &container.rid, &counters);
    let previous = move_change(txn, container, item_key, true, None)?;
    if container.keeps_versions() {
        let def = container.partition_key()?;
        let names = def
            .paths
            .iter()
            .map(|p| p.rsplit('/').next().unwrap_or_default().to_string());
        let key: Map<String, Value> = names
            .zip(def.extract(existing)?.iter().map(|v| v.to_json()))
            .collect();
        let metadata = json!({
            "operationType": "delete",
            "id": existing.get("id").cloned().unwrap_or(Value::Null),
            "partitionKey": key,
            "timeToLiveExpired": cause == Removal::Expired,
        });
        let images = PreviousImages::of_container(&container.body);
        let previous_image = images.on_delete.then(|| images.image_of(existing));
        let versions = (None, previous_image.as_ref());
        record_version(
            txn,
            container,
            item_key,
            (counters.lsn, previous),
            versions,
            metadata,
        )?;
    }
    Ok(counters.lsn)
}

/// Writes `body` as the item at `item_key`, over `existing` if there is one:
/// system properties, index entries and the container's counters move with
/// it in the same transaction. Returns the stored document and its LSN.
pub(crate) fn store_document(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    item_key: &[u8],
    existing: Option<&StoredDocument>,
    body: Value,
) -> Result<Written> {
    let mut counters = read_counters(txn, &container.rid)?;
    counters.lsn += 1;
    let old_len = existing.map(|old| old.len);
    let existing = existing.map(|old| &old.document);
    let doc_rid = match existing.and_then(|d| d.get("_rid")).and_then(Value::as_str) {
        Some(r) => r.to_string(),
        None => {
            counters.next_document += 1;
            rid::encode(&rid::document(container.rid, counters.next_document))
        }
    };
    let policy = container.index_policy();
    ttl::check_item_ttl(&body)?;
    let document = with_system_properties(body, container, &doc_rid);
    let bytes = crate::json::to_vec(&document);
    validation::check_item_size(bytes.len())?;
    match old_len {
        Some(old_len) => counters.document_bytes = counters.document_bytes.saturating_sub(old_len),
        None => counters.document_count += 1,
    }
    counters.document_bytes += bytes.len() as u64;
    let old_entries = existing
        .map(|d| index::entries(&container.rid, item_key, d, policy))
        .unwrap_or_default();
    let new_entries = index::entries(&container.rid, item_key, &document, policy);
    index::apply(txn, &old_entries, new_entries)?;
    txn.put(item_key.to_vec(), bytes.clone());
    write_counters(txn, &container.rid, &counters);
    let previous = move_change(
        txn,
        container,
        item_key,
        existing.is_some(),
        Some(counters.lsn),
    )?;
    if container.keeps_versions() {
        let metadata = json!({
            "operationType": if existing.is_some() { "replace" } else { "create" },
        });
        let images = PreviousImages::of_container(&container.body);
        let previous_image = existing
            .filter(|_| images.on_replace)
            .map(|d| images.image_of(d));
        let versions = (Some(&document), previous_image.as_ref());
        record_version(
            txn,
            container,
            item_key,
            (counters.lsn, previous),
            versions,
            metadata,
        )?;
    }
    Ok(Written {
        document,
        text: bytes,
        lsn: counters.lsn,
    })
}

/// The document as stored: the client's properties, then the system ones,
/// in this order always (point reads find `_etag` from the end of the text,
/// see `items::stored_etag`; another order is only slower to read).
fn with_system_properties(body: Value, container: &ContainerRecord, doc_rid: &str) -> Value {
    let mut props: Map<String, Value> = match body {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    for key in ["_rid", "_self", "_etag", "_attachments", "_ts", "_lsn"] {
        props.remove(key);
    }
    let self_link = format!(
        "dbs/{}/colls/{}/docs/{doc_rid}/",
        rid::encode(&container.database_rid),
        container.rid_text()
    );
    props.insert("_rid".into(), Value::String(doc_rid.to_string()));
    props.insert("_self".into(), Value::String(self_link));
    props.insert("_etag".into(), Value::String(new_etag()));
    props.insert("_attachments".into(), Value::String("attachments/".into()));
    props.insert("_ts".into(), Value::from(now_seconds()));
    Value::Object(props)
}

/// Appends a change to the all-versions-and-deletes log: the document as
/// written (none for a delete), the version it replaced or deleted (its
/// previous image), and the change's metadata, to which the LSN, the
/// previous version's LSN and the commit second are added.
fn record_version(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    item_key: &[u8],
    (lsn, previous_lsn): (u64, Option<u64>),
    (current, previous): (Option<&Value>, Option<&Value>),
    mut metadata: Value,
) -> Result<()> {
    metadata["lsn"] = json!(lsn);
    metadata["crts"] = json!(now_seconds());
    if let Some(previous_lsn) = previous_lsn {
        metadata["previousImageLSN"] = json!(previous_lsn);
    }
    let mut change = json!({ "metadata": metadata });
    if let Some(document) = current {
        change["current"] = document.clone();
    }
    if let Some(document) = previous {
        change["previous"] = document.clone();
    }
    let key = keys::version(&container.rid, lsn, keys::item_suffix(item_key));
    txn.put(key, crate::json::to_vec(&change));
    Ok(())
}

/// Moves an item's change-feed entry to `lsn` (its latest write), or drops
/// it when the item is deleted: the feed shows each item's latest version
/// once. Returns the LSN of the item's previous write, if it had one.
/// `existed` says whether the item was stored before this write: an item
/// that was not has no entry (its delete or expiry dropped it), so a create
/// skips the lookup, a read of a key that is not there.
fn move_change(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    item_key: &[u8],
    existed: bool,
    lsn: Option<u64>,
) -> Result<Option<u64>> {
    let suffix = keys::item_suffix(item_key);
    let version = keys::item_version(&container.rid, suffix);
    let mut previous = None;
    let old = if existed { txn.get(&version)? } else { None };
    if let Some(old) = old {
        if let Ok(old) = <[u8; 8]>::try_from(old.as_slice()) {
            let old = u64::from_be_bytes(old);
            previous = Some(old);
            txn.delete(keys::change(&container.rid, old, suffix));
        }
    }
    match lsn {
        Some(lsn) => {
            txn.put(keys::change(&container.rid, lsn, suffix), Vec::new());
            txn.put(version, lsn.to_be_bytes().to_vec());
        }
        None => txn.delete(version),
    }
    Ok(previous)
}
