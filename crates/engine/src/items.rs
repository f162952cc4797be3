use cosmonaut_storage::KvRead;
use serde_json::{Map, Value};

use crate::containers::read_counters;
use crate::engine::{new_etag, now_seconds, require_container, Engine};
use crate::error::{EngineError, ErrorKind, Result};
use crate::feed::{read_page, FeedPage, FeedRequest};
use crate::index::{self, IndexPolicy};
use crate::keys;
use crate::partition::{effective_partition_key, Epk, PartitionKeyKind, PartitionKeyValue};
use crate::records::{decode, encode, ContainerRecord, Counters};
use crate::{rid, validation};

/// How a write treats an existing item with the same id and partition key.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteMode {
    /// 409 if it exists.
    Create,
    /// Create or overwrite.
    Upsert,
    /// Overwrite the item with this id; 404 if it does not exist.
    Replace { id: String },
}

/// The partition key a request named in `x-ms-documentdb-partitionkey`, if any.
pub type ItemKey = Option<Vec<PartitionKeyValue>>;

/// Which items a feed read covers.
#[derive(Debug, Clone)]
pub enum ItemScope {
    All,
    PartitionKey(Vec<PartitionKeyValue>),
    /// One physical partition, by `x-ms-documentdb-partitionkeyrangeid`,
    /// optionally narrowed to the EPKs in `[start, end)` (`x-ms-start-epk`,
    /// `x-ms-end-epk`), as SDKs do for feed ranges and hierarchical prefixes.
    Range {
        id: String,
        start: Option<Epk>,
        end: Option<Epk>,
    },
}

/// The result of an item operation and what the session token needs.
#[derive(Debug, Clone)]
pub struct ItemOutcome {
    /// The item as stored (with system properties); `Null` after a delete.
    pub document: Value,
    /// The container's log sequence number after (or at) this operation.
    pub lsn: u64,
    /// The physical partition that owns the item.
    pub range_id: String,
    /// Whether an upsert created the item rather than replacing it.
    pub created: bool,
}

/// A page of items with the container state a response reports.
#[derive(Debug, Clone)]
pub struct ItemPage {
    pub page: FeedPage,
    pub container_rid: String,
    pub lsn: u64,
    /// The index path (as an indexing-policy path, `/a/b/?`) that chose the
    /// items read, if one did.
    pub index_path: Option<String>,
}

impl ItemPage {
    pub fn used_index(&self) -> bool {
        self.index_path.is_some()
    }
}

/// Resolves the key a point operation addresses: the header's, which must be
/// a full key. The empty key `[]` addresses items without partition key values.
fn point_key(container: &ContainerRecord, key: &ItemKey) -> Result<(Vec<PartitionKeyValue>, Epk)> {
    let def = container.partition_key()?;
    let values = key.clone().ok_or_else(|| {
        EngineError::bad_request("PartitionKey value must be supplied for this operation.")
    })?;
    def.check_full_key(&values)?;
    let values = def.with_none_as_undefined(&values);
    let epk = effective_partition_key(&def, &values);
    Ok((values, epk))
}

fn range_of(container: &ContainerRecord, epk: &Epk) -> Result<String> {
    Ok(container
        .ranges()?
        .into_iter()
        .find(|r| r.contains(epk))
        .map(|r| r.id)
        .unwrap_or_else(|| "0".into()))
}

fn etag_of(document: &Value) -> Option<&str> {
    document.get("_etag").and_then(Value::as_str)
}

impl Engine {
    /// Creates, upserts or replaces one item.
    pub async fn write_item(
        &self,
        db: &str,
        coll: &str,
        mode: WriteMode,
        body: Value,
        key: ItemKey,
        if_match: Option<String>,
    ) -> Result<ItemOutcome> {
        let id = validation::body_id(&body, validation::MAX_ITEM_ID_BYTES, true)?;
        if let WriteMode::Replace { id: addressed } = &mode {
            if *addressed != id {
                return Err(EngineError::bad_request(format!(
                    "The id '{id}' in the body does not match the item '{addressed}' addressed."
                )));
            }
        }
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let def = container.partition_key()?;
        let values = def.extract(&body)?;
        if let Some(header) = &key {
            def.check_full_key(header)?;
            if def.with_none_as_undefined(header) != values {
                return Err(EngineError::partition_key_mismatch());
            }
        } else if mode != WriteMode::Create && mode != WriteMode::Upsert {
            return Err(EngineError::bad_request(
                "PartitionKey value must be supplied for this operation.",
            ));
        }
        let epk = effective_partition_key(&def, &values);
        let range_id = range_of(&container, &epk)?;
        let (db, coll) = (db.to_string(), coll.to_string());

        self.store
            .transact(move |txn| {
                // The container may have been dropped (or dropped and re-made) since the check above.
                let current = require_container(txn, &db, &coll)?;
                if current.rid != container.rid {
                    return Err(EngineError::owner_not_found("container", &coll));
                }
                let item_key = keys::item(&container.rid, &epk, &id);
                let existing: Option<Value> =
                    txn.get(&item_key)?.map(|b| decode(&b)).transpose()?;
                match (&mode, &existing) {
                    (WriteMode::Create, Some(_)) => return Err(EngineError::conflict()),
                    (WriteMode::Replace { .. }, None) => return Err(EngineError::not_found()),
                    (_, None) if if_match.is_some() => return Err(EngineError::not_found()),
                    _ => {}
                }
                if let (Some(tag), Some(old)) = (&if_match, &existing) {
                    if etag_of(old) != Some(tag.as_str()) {
                        return Err(EngineError::precondition_failed());
                    }
                }
                let mut counters = read_counters(txn, &container.rid)?;
                counters.lsn += 1;
                let doc_rid = match existing
                    .as_ref()
                    .and_then(|d| d.get("_rid"))
                    .and_then(Value::as_str)
                {
                    Some(r) => r.to_string(),
                    None => {
                        counters.next_document += 1;
                        rid::encode(&rid::document(container.rid, counters.next_document))
                    }
                };
                let document = with_system_properties(body, &container, &doc_rid);
                let bytes = encode(&document)?;
                validation::check_item_size(bytes.len())?;
                let old_len = existing
                    .as_ref()
                    .map(|d| encode(d).map(|b| b.len() as u64))
                    .transpose()?;
                match old_len {
                    Some(old) => {
                        counters.document_bytes = counters.document_bytes.saturating_sub(old)
                    }
                    None => counters.document_count += 1,
                }
                counters.document_bytes += bytes.len() as u64;
                let policy = IndexPolicy::from_container(&current.body);
                let old_entries = existing
                    .as_ref()
                    .map(|d| index::entries(&container.rid, &item_key, d, &policy))
                    .unwrap_or_default();
                let new_entries = index::entries(&container.rid, &item_key, &document, &policy);
                index::apply(txn, &old_entries, &new_entries)?;
                txn.put(item_key, bytes);
                txn.put(keys::counters(&container.rid), encode(&counters)?);
                Ok(ItemOutcome {
                    document,
                    lsn: counters.lsn,
                    range_id,
                    created: existing.is_none(),
                })
            })
            .await
    }

    pub fn read_item(&self, db: &str, coll: &str, id: &str, key: &ItemKey) -> Result<ItemOutcome> {
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        let (_, epk) = point_key(&container, key)?;
        let bytes = snapshot
            .get(&keys::item(&container.rid, &epk, id))?
            .ok_or_else(EngineError::not_found)?;
        let counters = read_counters(snapshot.as_ref(), &container.rid)?;
        Ok(ItemOutcome {
            document: decode(&bytes)?,
            lsn: counters.lsn,
            range_id: range_of(&container, &epk)?,
            created: false,
        })
    }

    pub async fn delete_item(
        &self,
        db: &str,
        coll: &str,
        id: &str,
        key: &ItemKey,
        if_match: Option<String>,
    ) -> Result<ItemOutcome> {
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let (_, epk) = point_key(&container, key)?;
        let range_id = range_of(&container, &epk)?;
        let item_key = keys::item(&container.rid, &epk, id);
        let (db, coll) = (db.to_string(), coll.to_string());
        self.store
            .transact(move |txn| {
                let existing: Value = match txn.get(&item_key)? {
                    Some(bytes) => decode(&bytes)?,
                    None => return Err(EngineError::not_found()),
                };
                if let Some(tag) = &if_match {
                    if etag_of(&existing) != Some(tag.as_str()) {
                        return Err(EngineError::precondition_failed());
                    }
                }
                let mut counters: Counters = read_counters(txn, &container.rid)?;
                counters.lsn += 1;
                counters.document_count = counters.document_count.saturating_sub(1);
                let old_len = encode(&existing)?.len() as u64;
                counters.document_bytes = counters.document_bytes.saturating_sub(old_len);
                let current = require_container(txn, &db, &coll)?;
                let policy = IndexPolicy::from_container(&current.body);
                let old_entries = index::entries(&container.rid, &item_key, &existing, &policy);
                index::apply(txn, &old_entries, &Default::default())?;
                txn.delete(item_key);
                txn.put(keys::counters(&container.rid), encode(&counters)?);
                Ok(ItemOutcome {
                    document: Value::Null,
                    lsn: counters.lsn,
                    range_id,
                    created: false,
                })
            })
            .await
    }

    /// Reads a page of a container's items, in EPK order, limited to a
    /// partition key or a physical partition.
    pub fn read_items(
        &self,
        db: &str,
        coll: &str,
        scope: &ItemScope,
        request: &FeedRequest,
    ) -> Result<ItemPage> {
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        let (start, end) = scope_keys(&container, scope)?;
        let page = read_page(snapshot.as_ref(), &start, &end, request, |bytes| {
            Ok(vec![decode(bytes)?])
        })?;
        let counters = read_counters(snapshot.as_ref(), &container.rid)?;
        Ok(ItemPage {
            page,
            container_rid: container.rid_text(),
            lsn: counters.lsn,
            index_path: None,
        })
    }
}

/// The storage keys of the items a scope covers.
pub(crate) fn scope_keys(
    container: &ContainerRecord,
    scope: &ItemScope,
) -> Result<(Vec<u8>, Vec<u8>)> {
    Ok(match scope {
        ItemScope::All => keys::items(&container.rid),
        ItemScope::PartitionKey(values) => {
            let def = container.partition_key()?;
            let prefix = def.kind == PartitionKeyKind::MultiHash
                && !values.is_empty()
                && values.len() < def.paths.len();
            if !prefix {
                def.check_full_key(values)?;
            }
            keys::epk_items(
                &container.rid,
                &effective_partition_key(&def, &def.with_none_as_undefined(values)),
                !prefix,
            )
        }
        ItemScope::Range { id, start, end } => {
            let range = container
                .ranges()?
                .into_iter()
                .find(|r| r.id == *id)
                .ok_or_else(|| {
                    EngineError::new(
                        ErrorKind::Gone,
                        format!(
                            "The partition key range '{id}' does not exist (it may have been split)."
                        ),
                    )
                    .with_substatus(crate::error::substatus::PARTITION_KEY_RANGE_GONE)
                })?;
            // Intersect the physical range with the requested EPK range.
            let min = match start {
                Some(s) if *s > range.min => s.clone(),
                _ => range.min.clone(),
            };
            let max = match (end, range.max) {
                (Some(e), Some(m)) => Some(if *e < m { e.clone() } else { m }),
                (Some(e), None) if !e.0.is_empty() && e.0 != [0xFF] => Some(e.clone()),
                (_, m) => m,
            };
            keys::epk_range(&container.rid, &min, max.as_ref())
        }
    })
}

/// The document as stored: the client's properties, then the system ones.
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
