//! The purge of expired items. Reads and queries hide an expired item at
//! once; this removes it for good, with its index entries, a bounded number
//! per call so a large expiry wave never holds the writer for long.

use cosmonaut_storage::KvRead;
use serde_json::Value;

use super::ops;
use crate::engine::{now_seconds, Engine};
use crate::error::Result;
use crate::keys;
use crate::records::{decode, ContainerRecord};
use crate::ttl::Ttl;

/// Items removed per call at most.
const PURGE_BATCH: usize = 1000;

/// Drops all-versions-and-deletes entries committed before `cutoff` (a
/// Unix second), at most `limit`; returns how many. Entries are in LSN
/// order, which is commit order, so the first one inside the window ends it.
fn purge_versions(
    txn: &mut cosmonaut_storage::Txn<'_>,
    container: &ContainerRecord,
    cutoff: u64,
    limit: usize,
) -> Result<usize> {
    let (from, to) = keys::versions_after(&container.rid, 0);
    let mut purged = 0;
    for (key, bytes) in txn.scan(&from, &to, limit)? {
        let change: Value = decode(&bytes)?;
        let committed = change.pointer("/metadata/crts").and_then(Value::as_u64);
        if committed.is_some_and(|c| c >= cutoff) {
            break;
        }
        txn.delete(key);
        purged += 1;
    }
    Ok(purged)
}

impl Engine {
    /// Deletes items whose time to live has passed, and all-versions feed
    /// entries older than their container's retention; returns how many.
    pub async fn purge_expired(&self) -> Result<usize> {
        let now = now_seconds();
        self.store
            .transact(move |txn| {
                let (start, end) = keys::all_containers();
                let mut purged = 0;
                for (_, bytes) in txn.scan(&start, &end, usize::MAX)? {
                    let container: ContainerRecord = decode(&bytes)?;
                    if let Some(minutes) = container.version_retention_minutes() {
                        let cutoff = now.saturating_sub(minutes.saturating_mul(60));
                        purged += purge_versions(txn, &container, cutoff, PURGE_BATCH - purged)?;
                    }
                    let ttl = container.ttl();
                    if ttl == Ttl::Off || purged >= PURGE_BATCH {
                        continue;
                    }
                    let (from, to) = keys::expired(&container.rid, now);
                    for (entry, _) in txn.scan(&from, &to, PURGE_BATCH - purged)? {
                        let Some(item_key) = keys::expired_item(&container.rid, &entry) else {
                            continue;
                        };
                        let stored = txn.get(&item_key)?;
                        match stored
                            .map(|b| ops::StoredDocument::decode(&b))
                            .transpose()?
                        {
                            Some(doc) if ttl.is_expired(&doc.document, now) => {
                                ops::remove_document(
                                    txn,
                                    &container,
                                    &item_key,
                                    &doc,
                                    ops::Removal::Expired,
                                )?;
                                purged += 1;
                            }
                            Some(_) => {}
                            // An entry whose item is gone has nothing left to purge.
                            None => txn.delete(entry),
                        }
                    }
                    if purged >= PURGE_BATCH {
                        break;
                    }
                }
                Ok(purged)
            })
            .await
    }
}
