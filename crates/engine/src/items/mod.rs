//! Items: point reads and writes, patches, transactional batches and the
//! read feed. The operations themselves, run inside a write transaction,
//! are in [`ops`]; this module resolves keys and ranges around them.

use cosmonaut_storage::{KvRead, Txn};
use serde_json::Value;

use crate::containers::read_counters;
use crate::engine::{now_seconds, require_container, Engine};
use crate::error::{EngineError, ErrorKind, Result};
use crate::feed::{read_page, FeedPage, FeedRequest};
use crate::keys;
use crate::partition::{effective_partition_key, Epk, PartitionKeyKind, PartitionKeyValue};
use crate::patch::{self, PatchOperation};
use crate::records::{decode, ContainerRecord};
use crate::scripts::{self, Partition, WriteOptions};
use crate::ttl::Ttl;
use crate::validation;

mod atomic;
mod batch;
mod expiry;
pub(crate) mod ops;

pub use atomic::{AtomicFailure, AtomicStep};
pub use batch::{BatchOperation, BatchOutcome, BatchStep};

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
    /// `document` as the JSON text it was stored as, when that is what the
    /// response carries (not after a delete or a post-trigger's reply).
    pub text: Option<Vec<u8>>,
    /// The container's log sequence number after (or at) this operation.
    pub lsn: u64,
    /// The physical partition that owns the item.
    pub range_id: String,
    /// Whether an upsert created the item rather than replacing it.
    pub created: bool,
}

/// An item as stored, for a point read that sends it on unparsed.
#[derive(Debug, Clone)]
pub struct StoredItem {
    /// The item's JSON text, system properties included.
    pub text: Vec<u8>,
    pub etag: String,
    /// The container's log sequence number at the read.
    pub lsn: u64,
    /// The physical partition that owns the item.
    pub range_id: String,
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
    /// What producing the page read, for query and index metrics.
    pub metrics: crate::QueryMetrics,
}

impl ItemPage {
    pub fn used_index(&self) -> bool {
        self.index_path.is_some()
    }
}

/// Resolves the key a point operation addresses: the header's, which must be
/// a full key.
pub(crate) fn point_key(
    container: &ContainerRecord,
    key: &ItemKey,
) -> Result<(Vec<PartitionKeyValue>, Epk)> {
    let def = container.partition_key()?;
    let values = key.clone().ok_or_else(|| {
        EngineError::bad_request("PartitionKey value must be supplied for this operation.")
    })?;
    def.check_full_key(&values)?;
    let epk = effective_partition_key(&def, &values);
    Ok((values, epk))
}

pub(crate) fn range_of(container: &ContainerRecord, epk: &Epk) -> Result<String> {
    Ok(container
        .ranges()?
        .iter()
        .find(|r| r.contains(epk))
        .map(|r| r.id.clone())
        .unwrap_or_else(|| "0".into()))
}

impl Engine {
    /// Creates, upserts or replaces one item, running the triggers the
    /// options name around it in the same transaction.
    pub async fn write_item(
        &self,
        db: &str,
        coll: &str,
        mode: WriteMode,
        body: Value,
        key: ItemKey,
        options: impl Into<WriteOptions>,
    ) -> Result<ItemOutcome> {
        let WriteOptions { if_match, triggers } = options.into();
        let id = validation::body_id(&body, validation::MAX_ITEM_ID_BYTES, true)?;
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let def = container.partition_key()?;
        let values = def.extract(&body)?;
        if let Some(header) = &key {
            def.check_full_key(header)?;
            if *header != values {
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
                let current = ops::same_container(txn, &db, &coll, &container.rid)?;
                let partition = Partition {
                    container: &current,
                    values: &values,
                    epk: &epk,
                };
                let (body, id) =
                    scripts::before_write(txn, partition, &triggers, &mode, (body, id))?;
                let (written, created) = ops::write_by_id(
                    txn,
                    &current,
                    |id| keys::item(&container.rid, &epk, id),
                    &mode,
                    (&id, body),
                    if_match.as_deref(),
                )?;
                // A post-trigger may answer with a body of its own.
                let text = triggers.post.is_empty().then_some(written.text);
                let document =
                    scripts::after_write(txn, partition, &triggers, &mode, written.document)?;
                Ok(ItemOutcome {
                    document,
                    text,
                    lsn: written.lsn,
                    range_id,
                    created,
                })
            })
            .await
    }

    /// Applies patch operations to one item, when `condition` (a `FROM c
    /// WHERE ...` filter, as the service takes it) holds for the item as
    /// stored; 412 when it does not, or when `if_match` names another etag.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch_item(
        &self,
        db: &str,
        coll: &str,
        id: &str,
        key: &ItemKey,
        operations: Vec<PatchOperation>,
        condition: Option<&str>,
        if_match: Option<String>,
    ) -> Result<ItemOutcome> {
        let condition = condition.map(patch::parse_condition).transpose()?;
        self.on_item(db, coll, id, key, move |txn, partition, item_key| {
            ops::patch(
                txn,
                partition.container,
                item_key,
                partition.values,
                &operations,
                condition.as_ref(),
                if_match.as_deref(),
            )
        })
        .await
    }

    pub fn read_item(&self, db: &str, coll: &str, id: &str, key: &ItemKey) -> Result<ItemOutcome> {
        self.read_item_at(None, db, coll, id, key)
    }

    /// A point read as of `at` (see [`Engine::read_point`]), or now.
    pub fn read_item_at(
        &self,
        at: Option<&crate::ReadPoint>,
        db: &str,
        coll: &str,
        id: &str,
        key: &ItemKey,
    ) -> Result<ItemOutcome> {
        let stored = self.read_item_text_at(at, db, coll, id, key)?;
        Ok(ItemOutcome {
            document: decode(&stored.text)?,
            text: None,
            lsn: stored.lsn,
            range_id: stored.range_id,
            created: false,
        })
    }

    /// Where a point operation on `key` stands, for answers that carry no
    /// item (a 404 still tells the client its session): the partition key
    /// range the key falls in and the container's LSN.
    pub fn session_position(&self, db: &str, coll: &str, key: &ItemKey) -> Result<(String, u64)> {
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        let (_, epk) = point_key(&container, key)?;
        let counters = read_counters(snapshot.as_ref(), &container.rid)?;
        Ok((range_of(&container, &epk)?, counters.lsn))
    }

    /// A point read that leaves the item as the JSON text it is stored as,
    /// so a response can send it without parsing and printing it again.
    pub fn read_item_text(
        &self,
        db: &str,
        coll: &str,
        id: &str,
        key: &ItemKey,
    ) -> Result<StoredItem> {
        self.read_item_text_at(None, db, coll, id, key)
    }

    fn read_item_text_at(
        &self,
        at: Option<&crate::ReadPoint>,
        db: &str,
        coll: &str,
        id: &str,
        key: &ItemKey,
    ) -> Result<StoredItem> {
        let snapshot = self.reader(at)?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        let (_, epk) = point_key(&container, key)?;
        // The item and the container's counters (for the LSN) in one read:
        // one round trip to a store across a network.
        let wanted = [
            keys::item(&container.rid, &epk, id),
            keys::counters(&container.rid),
        ];
        let [text, counters] = <[_; 2]>::try_from(snapshot.get_many(&wanted)?)
            .map_err(|_| EngineError::internal("the store answered a read of two keys wrongly"))?;
        let text = text.ok_or_else(EngineError::not_found)?;
        let ttl = container.ttl();
        if ttl != Ttl::Off && ttl.is_expired(&decode(&text)?, now_seconds()) {
            return Err(EngineError::not_found());
        }
        let etag = stored_etag(&text)?;
        let counters = crate::containers::counters_from(counters)?;
        Ok(StoredItem {
            text,
            etag,
            lsn: counters.lsn,
            range_id: range_of(&container, &epk)?,
        })
    }

    /// Deletes one item, running the triggers the options name around it.
    pub async fn delete_item(
        &self,
        db: &str,
        coll: &str,
        id: &str,
        key: &ItemKey,
        options: impl Into<WriteOptions>,
    ) -> Result<ItemOutcome> {
        let WriteOptions { if_match, triggers } = options.into();
        self.on_item(db, coll, id, key, move |txn, partition, item_key| {
            let lsn = scripts::around_delete(txn, partition, &triggers, item_key, |txn| {
                ops::delete(txn, partition.container, item_key, if_match.as_deref())
            })?;
            Ok(ops::Written::deleted(lsn))
        })
        .await
    }

    /// Deletes every item of the logical partition `key` (a full key, or a
    /// leading part of a hierarchical one); returns how many.
    pub async fn delete_partition_key(&self, db: &str, coll: &str, key: &ItemKey) -> Result<u64> {
        let values = key.clone().ok_or_else(|| {
            EngineError::bad_request("PartitionKey value must be supplied for this operation.")
        })?;
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let (start, end) = scope_keys(&container, &ItemScope::PartitionKey(values))?;
        let (db, coll) = (db.to_string(), coll.to_string());
        self.store
            .transact(move |txn| {
                let current = ops::same_container(txn, &db, &coll, &container.rid)?;
                let mut deleted = 0;
                for (item_key, bytes) in txn.scan(&start, &end, usize::MAX)? {
                    ops::remove_document(
                        txn,
                        &current,
                        &item_key,
                        &ops::StoredDocument::decode(&bytes)?,
                        ops::Removal::Deleted,
                    )?;
                    deleted += 1;
                }
                Ok(deleted)
            })
            .await
    }

    /// Runs `work` on the item `id` under `key` in a write transaction,
    /// against the container as the transaction sees it; `work` gets the
    /// key's values and the item's storage key, and returns what it wrote.
    async fn on_item<F>(
        &self,
        db: &str,
        coll: &str,
        id: &str,
        key: &ItemKey,
        work: F,
    ) -> Result<ItemOutcome>
    where
        F: FnOnce(&mut Txn<'_>, Partition<'_>, &[u8]) -> Result<ops::Written> + Send + 'static,
    {
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let (values, epk) = point_key(&container, key)?;
        let range_id = range_of(&container, &epk)?;
        let item_key = keys::item(&container.rid, &epk, id);
        let (db, coll) = (db.to_string(), coll.to_string());
        self.store
            .transact(move |txn| {
                let current = ops::same_container(txn, &db, &coll, &container.rid)?;
                let partition = Partition {
                    container: &current,
                    values: &values,
                    epk: &epk,
                };
                let written = work(txn, partition, &item_key)?;
                Ok(ItemOutcome {
                    text: (!written.document.is_null()).then_some(written.text),
                    document: written.document,
                    lsn: written.lsn,
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
        self.read_items_at(None, db, coll, scope, request)
    }

    /// A page of items as of `at` (see [`Engine::read_point`]), or now.
    pub fn read_items_at(
        &self,
        at: Option<&crate::ReadPoint>,
        db: &str,
        coll: &str,
        scope: &ItemScope,
        request: &FeedRequest,
    ) -> Result<ItemPage> {
        let snapshot = self.reader(at)?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        let (start, end) = scope_keys(&container, scope)?;
        let ttl = container.ttl();
        let now = now_seconds();
        let page = read_page(snapshot.as_ref(), &start, &end, request, |bytes| {
            let document: Value = decode(bytes)?;
            Ok(if ttl.is_expired(&document, now) {
                Vec::new()
            } else {
                vec![document]
            })
        })?;
        let counters = read_counters(snapshot.as_ref(), &container.rid)?;
        Ok(ItemPage {
            page,
            container_rid: container.rid_text(),
            lsn: counters.lsn,
            index_path: None,
            metrics: Default::default(),
        })
    }
}

/// The `_etag` of an item's stored text. Items are stored with their system
/// properties last (`..."_etag":"...","_attachments":"attachments/","_ts":n}`,
/// see `ops::with_system_properties`), so the tag is read from the end of the
/// text without going through the body: that was a third of a point read.
/// Text of any other shape is parsed whole.
pub(crate) fn stored_etag(text: &[u8]) -> Result<String> {
    const KEY: &[u8] = b"\"_etag\":";
    const TAIL: &[u8] = b",\"_attachments\":\"attachments/\",\"_ts\":";
    let from_the_end = || {
        let tail_at = rfind(text, TAIL)?;
        let ts = text[tail_at + TAIL.len()..].strip_suffix(b"}")?;
        if ts.is_empty() || !ts.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let head = &text[..tail_at];
        let value = &head[rfind(head, KEY)? + KEY.len()..];
        serde_json::from_slice::<String>(value).ok()
    };
    if let Some(etag) = from_the_end() {
        return Ok(etag);
    }
    // Only `_etag` is wanted: serde skips the rest without building it.
    #[derive(serde::Deserialize)]
    struct Etag {
        #[serde(rename = "_etag")]
        etag: String,
    }
    let Etag { etag } = decode(text)?;
    Ok(etag)
}

/// Where `needle` last occurs in `haystack`.
fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
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
                &effective_partition_key(&def, values),
                !prefix,
            )
        }
        ItemScope::Range { id, start, end } => {
            let range = container
                .ranges()?
                .iter()
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
            let max = match (end, range.max.clone()) {
                (Some(e), Some(m)) => Some(if *e < m { e.clone() } else { m }),
                (Some(e), None) if !e.0.is_empty() && e.0 != [0xFF] => Some(e.clone()),
                (_, m) => m,
            };
            keys::epk_range(&container.rid, &min, max.as_ref())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_etag_is_read_from_the_end_of_stored_text_and_agrees_with_a_full_parse() {
        let stored = |body: Value| {
            let mut text = serde_json::to_vec(&body).expect("json");
            // What `with_system_properties` appends, in its order.
            text.pop();
            text.extend_from_slice(
                br#","_rid":"r","_self":"s","_etag":"\"e-1\"","_attachments":"attachments/","_ts":17}"#,
            );
            text
        };
        for body in [
            json!({"id": "a"}),
            json!({"id": "b", "nested": {"_etag": "inner", "x": [1, {"_etag": "deeper"}]}}),
            json!({"id": "c", "s": "\"_etag\":\"fake\",\"_attachments\":\"attachments/\",\"_ts\":1}"}),
        ] {
            let text = stored(body);
            assert_eq!(stored_etag(&text).expect("etag"), "\"e-1\"");
            let full: Value = serde_json::from_slice(&text).expect("json");
            assert_eq!(full["_etag"], "\"e-1\"");
        }
        // Another shape falls back to parsing: the tag is still found.
        let other = br#"{"_etag":"\"x\"","_ts":5,"id":"d"}"#;
        assert_eq!(stored_etag(other).expect("etag"), "\"x\"");
        assert!(stored_etag(b"{\"id\":\"no tag\"}").is_err());
    }
}
