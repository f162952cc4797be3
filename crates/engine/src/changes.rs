//! The change feed, latest-version mode: every item once, at the LSN of its
//! latest write, in LSN order. Writes keep one entry per item
//! (`keys::change`), so a read is a scan from the caller's LSN; deletes
//! drop the entry (this mode does not show them). The client's
//! continuation is the LSN of the last change it saw, sent back as an etag.
//!
//! All-versions-and-deletes mode reads a second log (`keys::version`), one
//! entry per write or delete, which containers with a change feed policy
//! keep for its retention window.

use cosmonaut_storage::KvRead;
use serde_json::Value;

use crate::containers::read_counters;
use crate::engine::{now_seconds, require_container, Engine};
use crate::error::{EngineError, Result};
use crate::feed::{scan_each, FeedRequest, MAX_PAGE_BYTES};
use crate::items::{scope_keys, ItemScope};
use crate::keys;
use crate::records::decode;

/// Where a change feed read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeFeedStart {
    /// Every item's latest version.
    Beginning,
    /// Only changes made from now on.
    Now,
    /// Changes after this LSN (a continuation).
    After(u64),
    /// Items last written at or after this Unix second.
    Since(u64),
}

/// A page of the change feed.
#[derive(Debug, Clone)]
pub struct ChangePage {
    /// Changed items, each with `_lsn`.
    pub items: Vec<Value>,
    /// The continuation: the LSN the next read continues after.
    pub lsn: u64,
    pub container_rid: String,
}

impl Engine {
    pub fn read_changes(
        &self,
        db: &str,
        coll: &str,
        scope: &ItemScope,
        start: ChangeFeedStart,
        request: &FeedRequest,
    ) -> Result<ChangePage> {
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        let (first, last) = scope_keys(&container, scope)?;
        let current = read_counters(snapshot.as_ref(), &container.rid)?.lsn;
        let (after, since) = match start {
            ChangeFeedStart::Beginning => (0, None),
            ChangeFeedStart::Now => (current, None),
            ChangeFeedStart::After(lsn) => (lsn, None),
            ChangeFeedStart::Since(second) => (0, Some(second)),
        };
        let ttl = container.ttl();
        let now = now_seconds();
        let range = keys::changes_after(&container.rid, after);
        let (items, after) = page_of_changes(
            snapshot.as_ref(),
            range,
            (&first, &last),
            (after, current),
            request.page_items(),
            |entry| keys::change_of(&container.rid, entry),
            |lsn, item_key, _| {
                let Some(raw) = snapshot.get(item_key)? else {
                    return Ok(None);
                };
                let mut document: Value = decode(&raw)?;
                let written = document.get("_ts").and_then(Value::as_u64).unwrap_or(0);
                if ttl.is_expired(&document, now) || since.is_some_and(|s| written < s) {
                    return Ok(None);
                }
                if let Value::Object(map) = &mut document {
                    map.insert("_lsn".into(), Value::from(lsn));
                }
                Ok(Some((document, raw.len())))
            },
        )?;
        Ok(ChangePage {
            items,
            lsn: after,
            container_rid: container.rid_text(),
        })
    }
}

impl Engine {
    /// A page of the all-versions-and-deletes feed: every create, replace
    /// and delete after the start, each as `{current, metadata}` (a delete
    /// has no `current`), in LSN order.
    pub fn read_all_versions(
        &self,
        db: &str,
        coll: &str,
        scope: &ItemScope,
        start: ChangeFeedStart,
        request: &FeedRequest,
    ) -> Result<ChangePage> {
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        if !container.keeps_versions() {
            return Err(EngineError::bad_request(
                "The all versions and deletes change feed needs a container with a change feed \
                 policy (changeFeedPolicy.retentionDuration in minutes).",
            ));
        }
        let current = read_counters(snapshot.as_ref(), &container.rid)?.lsn;
        let after = match start {
            ChangeFeedStart::Now => current,
            ChangeFeedStart::After(lsn) => lsn,
            ChangeFeedStart::Beginning | ChangeFeedStart::Since(_) => {
                return Err(EngineError::bad_request(
                    "The all versions and deletes change feed starts from now or from a \
                     continuation.",
                ))
            }
        };
        let (first, last) = scope_keys(&container, scope)?;
        let range = keys::versions_after(&container.rid, after);
        let (items, after) = page_of_changes(
            snapshot.as_ref(),
            range,
            (&first, &last),
            (after, current),
            request.page_items(),
            |entry| keys::version_of(&container.rid, entry),
            |_, _, raw| Ok(Some((decode::<Value>(&raw)?, raw.len()))),
        )?;
        Ok(ChangePage {
            items,
            lsn: after,
            container_rid: container.rid_text(),
        })
    }
}

/// One page of a change feed: the entries in `range` (in LSN order) whose
/// items lie in `[first, last)`, each made a page item by `take` (with its
/// size; `None` leaves it out), until the page is full. `entry_of` names an
/// entry's LSN and item key. Returns the items and the LSN the next page
/// continues after: the last entry examined, or the container's current
/// LSN (`current`) once every entry has been.
fn page_of_changes(
    reader: &dyn KvRead,
    (from, to): (Vec<u8>, Vec<u8>),
    (first, last): (&[u8], &[u8]),
    (mut after, current): (u64, u64),
    limit: usize,
    entry_of: impl Fn(&[u8]) -> Option<(u64, Vec<u8>)>,
    mut take: impl FnMut(u64, &[u8], Vec<u8>) -> Result<Option<(Value, usize)>>,
) -> Result<(Vec<Value>, u64)> {
    let (mut items, mut bytes) = (Vec::new(), 0);
    let exhausted = scan_each(reader, &from, &to, false, |entry, value| {
        let Some((lsn, item_key)) = entry_of(&entry) else {
            return Ok(true);
        };
        if items.len() >= limit || bytes >= MAX_PAGE_BYTES {
            return Ok(false);
        }
        after = lsn;
        if item_key.as_slice() >= first && item_key.as_slice() < last {
            if let Some((item, size)) = take(lsn, &item_key, value)? {
                bytes += size;
                items.push(item);
            }
        }
        Ok(true)
    })?;
    if exhausted {
        // Everything up to the container's LSN has been seen.
        after = after.max(current);
    }
    Ok((items, after))
}
