//! The change feed, latest-version mode: every item once, at the LSN of its
//! latest write, in LSN order. Writes keep one entry per item
//! (`keys::change`), so a read is a scan from the caller's LSN; deletes
//! drop the entry (this mode does not show them). The client's
//! continuation is the LSN of the last change it saw, sent back as an etag.
//!
//! All-versions-and-deletes mode reads a second log (`keys::version`), one
//! entry per write or delete, which containers with a change feed policy
//! keep for its retention window.

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
        let (mut after, since) = match start {
            ChangeFeedStart::Beginning => (0, None),
            ChangeFeedStart::Now => (current, None),
            ChangeFeedStart::After(lsn) => (lsn, None),
            ChangeFeedStart::Since(second) => (0, Some(second)),
        };
        let ttl = container.ttl();
        let now = now_seconds();
        let limit = request.page_items();
        let (mut items, mut bytes) = (Vec::new(), 0);
        let (from, to) = keys::changes_after(&container.rid, after);
        let exhausted = scan_each(snapshot.as_ref(), &from, &to, false, |entry, _| {
            let Some((lsn, item_key)) = keys::change_of(&container.rid, &entry) else {
                return Ok(true);
            };
            if items.len() >= limit || bytes >= MAX_PAGE_BYTES {
                return Ok(false);
            }
            after = lsn;
            if item_key.as_slice() < first.as_slice() || item_key.as_slice() >= last.as_slice() {
                return Ok(true);
            }
            let Some(raw) = snapshot.get(&item_key)? else {
                return Ok(true);
            };
            let mut document: Value = decode(&raw)?;
            let written = document.get("_ts").and_then(Value::as_u64).unwrap_or(0);
            if ttl.is_expired(&document, now) || since.is_some_and(|s| written < s) {
                return Ok(true);
            }
            if let Value::Object(map) = &mut document {
                map.insert("_lsn".into(), Value::from(lsn));
            }
            bytes += raw.len();
            items.push(document);
            Ok(true)
        })?;
        if exhausted {
            // Everything up to the container's LSN has been seen.
            after = after.max(current);
        }
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
        let mut after = match start {
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
        let limit = request.page_items();
        let (mut items, mut bytes) = (Vec::new(), 0);
        let (from, to) = keys::versions_after(&container.rid, after);
        let exhausted = scan_each(snapshot.as_ref(), &from, &to, false, |entry, raw| {
            let Some((lsn, item_key)) = keys::version_of(&container.rid, &entry) else {
                return Ok(true);
            };
            if items.len() >= limit || bytes >= MAX_PAGE_BYTES {
                return Ok(false);
            }
            after = lsn;
            if item_key.as_slice() >= first.as_slice() && item_key.as_slice() < last.as_slice() {
                bytes += raw.len();
                items.push(decode::<Value>(&raw)?);
            }
            Ok(true)
        })?;
        if exhausted {
            after = after.max(current);
        }
        Ok(ChangePage {
            items,
            lsn: after,
            container_rid: container.rid_text(),
        })
    }
}
