//! Finding resources by resource id, for requests addressed by `_rid` paths
//! (`dbs/{rid}/colls/{rid}/docs/{rid}`, what `_self` links hold).
//!
//! Databases, containers, users, permissions and scripts are few, and are
//! found by scanning their parent. Items are found by scanning the logical
//! partition the request names (the SDKs send the partition key with every
//! rid-addressed item request), or the whole container when it names none;
//! the item key space is ordered by partition and id, not by rid.

use serde_json::Value;

use crate::engine::{require_container, Engine};
use crate::error::{EngineError, Result};
use crate::feed::scan_each;
use crate::items::{point_key, ItemKey};
use crate::keys;
use crate::records::decode;
use crate::rid::{self, ChildKind, RidKind};
use crate::ScriptKind;

/// The rid bytes of `text` if it names a resource of `kind`, else the
/// service's 400 for a malformed resource id.
fn parse(text: &str, kind: RidKind) -> Result<Vec<u8>> {
    rid::decode(text)
        .filter(|bytes| rid::kind_of(bytes) == Some(kind))
        .ok_or_else(|| EngineError::bad_request(format!("Invalid resource id '{text}'.")))
}

/// Whether `text` is a database rid, which makes a path rid-based (the
/// SDKs' own test: exactly 8 characters of base64 for 4 bytes).
pub fn is_database_rid(text: &str) -> bool {
    text.len() == 8 && rid::decode(text).is_some_and(|b| b.len() == 4)
}

/// The id in a resource's `id` field.
fn id_of(resource: &Value) -> Result<String> {
    resource
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| EngineError::internal("a stored resource has no id"))
}

impl Engine {
    /// The id of the database whose rid is `rid_text`.
    pub fn database_id_by_rid(&self, rid_text: &str) -> Result<String> {
        parse(rid_text, RidKind::Database)?;
        let (start, end) = keys::databases();
        self.find_by_rid(&start, &end, rid_text, |record| record.get("body"))
    }

    /// The id of database `db`'s container whose rid is `rid_text`.
    pub fn container_id_by_rid(&self, db: &str, rid_text: &str) -> Result<String> {
        parse(rid_text, RidKind::Container)?;
        let (start, end) = keys::containers(db);
        self.find_by_rid(&start, &end, rid_text, |record| record.get("body"))
    }

    /// The id of database `db`'s user whose rid is `rid_text`.
    pub fn user_id_by_rid(&self, db: &str, rid_text: &str) -> Result<String> {
        parse(rid_text, RidKind::User)?;
        let (start, end) = keys::users(db);
        self.find_by_rid(&start, &end, rid_text, whole)
    }

    /// The id of user `user`'s permission whose rid is `rid_text`.
    pub fn permission_id_by_rid(&self, db: &str, user: &str, rid_text: &str) -> Result<String> {
        parse(rid_text, RidKind::Permission)?;
        let (start, end) = keys::permissions(db, user);
        self.find_by_rid(&start, &end, rid_text, whole)
    }

    /// The id of a container's script of `kind` whose rid is `rid_text`.
    pub fn script_id_by_rid(
        &self,
        db: &str,
        coll: &str,
        kind: ScriptKind,
        rid_text: &str,
    ) -> Result<String> {
        parse(rid_text, RidKind::Child(kind.rid_kind()))?;
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let (start, end) = keys::scripts(&container.rid, kind.tag());
        self.find_by_rid(&start, &end, rid_text, whole)
    }

    /// The id of the item whose rid is `rid_text`, looked for in the logical
    /// partition `key` names (or in the whole container without one).
    pub fn item_id_by_rid(
        &self,
        db: &str,
        coll: &str,
        rid_text: &str,
        key: &ItemKey,
    ) -> Result<String> {
        let bytes = parse(rid_text, RidKind::Child(ChildKind::Document))?;
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        if bytes[..8] != container.rid[..] {
            return Err(EngineError::not_found());
        }
        let (start, end) = match key {
            Some(_) => {
                let (_, epk) = point_key(&container, key)?;
                keys::epk_items(&container.rid, &epk, true)
            }
            None => keys::items(&container.rid),
        };
        // The stored text carries `"_rid":"…"` at the top level; a match of
        // those bytes is confirmed by parsing (a nested object may hold one).
        let needle = format!("\"_rid\":\"{rid_text}\"");
        let mut found = None;
        scan_each(snapshot.as_ref(), &start, &end, false, |_, value| {
            if memmem(&value, needle.as_bytes()) {
                let item: Value = decode(&value)?;
                if item.get("_rid").and_then(Value::as_str) == Some(rid_text) {
                    found = Some(id_of(&item)?);
                }
            }
            Ok(found.is_none())
        })?;
        found.ok_or_else(EngineError::not_found)
    }

    /// The id of the resource in `[start, end)` whose `_rid` is `rid_text`;
    /// `resource` finds the resource in a stored record (databases and
    /// containers keep theirs under `body`).
    fn find_by_rid(
        &self,
        start: &[u8],
        end: &[u8],
        rid_text: &str,
        resource: fn(&Value) -> Option<&Value>,
    ) -> Result<String> {
        let snapshot = self.snapshot()?;
        for (_, value) in snapshot.scan(start, end, usize::MAX)? {
            let record: Value = decode(&value)?;
            let Some(found) = resource(&record) else {
                continue;
            };
            if found.get("_rid").and_then(Value::as_str) == Some(rid_text) {
                return id_of(found);
            }
        }
        Err(EngineError::not_found())
    }
}

/// A record that is the resource itself.
fn whole(record: &Value) -> Option<&Value> {
    Some(record)
}

fn memmem(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
