//! Scripts: a container's stored procedures, triggers and user-defined
//! functions, as resources (`/sprocs`, `/triggers`, `/udfs`). Each is a
//! small JSON record (`0x80 container / kind / id`) holding its JavaScript
//! source; running them is [`run`]'s.

use cosmonaut_storage::{KvRead, Txn};
use serde_json::{json, Map, Value};

use crate::engine::{new_etag, now_seconds, require_container, Engine};
use crate::error::{EngineError, ErrorKind, Result};
use crate::feed::{read_page, FeedPage, FeedRequest};
use crate::items::ops::same_container;
use crate::keys;
use crate::records::{decode, encode, ContainerRecord};
use crate::{rid, validation};

mod collection;
mod run;
mod triggers;

pub(crate) use collection::Partition;
pub(crate) use run::query_functions;
pub use run::ScriptResult;
pub(crate) use triggers::{after_write, around_delete, before_write};
pub use triggers::{Triggers, WriteOptions};

/// Which kind of script a resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    StoredProcedure,
    Trigger,
    UserDefinedFunction,
}

impl ScriptKind {
    /// The path segment that names the kind's feed.
    pub fn from_segment(segment: &str) -> Option<Self> {
        Some(match segment {
            "sprocs" => Self::StoredProcedure,
            "triggers" => Self::Trigger,
            "udfs" => Self::UserDefinedFunction,
            _ => return None,
        })
    }

    pub fn segment(self) -> &'static str {
        match self {
            Self::StoredProcedure => "sprocs",
            Self::Trigger => "triggers",
            Self::UserDefinedFunction => "udfs",
        }
    }

    /// The list's name in a feed response.
    /// How a script's rid names its kind.
    pub(crate) fn rid_kind(self) -> rid::ChildKind {
        match self {
            ScriptKind::StoredProcedure => rid::ChildKind::StoredProcedure,
            ScriptKind::Trigger => rid::ChildKind::Trigger,
            ScriptKind::UserDefinedFunction => rid::ChildKind::UserDefinedFunction,
        }
    }

    pub fn feed_name(self) -> &'static str {
        match self {
            Self::StoredProcedure => "StoredProcedures",
            Self::Trigger => "Triggers",
            Self::UserDefinedFunction => "UserDefinedFunctions",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::StoredProcedure => "stored procedure",
            Self::Trigger => "trigger",
            Self::UserDefinedFunction => "user-defined function",
        }
    }

    pub(crate) fn tag(self) -> u8 {
        match self {
            Self::StoredProcedure => 1,
            Self::Trigger => 2,
            Self::UserDefinedFunction => 3,
        }
    }
}

/// `value` as one of `allowed`, matched without regard to case and spelled
/// as the service spells it.
/// `value` if it is one of `allowed` in any casing, as sent: the service
/// returns such properties spelled as the client spelled them.
fn one_of<'a>(value: Option<&'a Value>, allowed: &[&str]) -> Option<&'a str> {
    let text = value?.as_str()?;
    allowed
        .iter()
        .any(|a| a.eq_ignore_ascii_case(text))
        .then_some(text)
}

/// The user-settable properties of a script body, checked: an id, its
/// JavaScript source (which must compile) and, for a trigger, when and on
/// what it fires.
fn checked_body(kind: ScriptKind, body: &Value) -> Result<(String, Map<String, Value>)> {
    let id = validation::body_id(body, validation::MAX_RESOURCE_ID_CHARS, false)?;
    let source = body.get("body").and_then(Value::as_str).ok_or_else(|| {
        EngineError::bad_request(format!(
            "A {} needs a 'body' with its JavaScript source.",
            kind.noun()
        ))
    })?;
    // The source is stored as sent, as the service stores it; it is compiled
    // when it runs, and a script that does not compile fails then.
    let mut fields = Map::new();
    fields.insert("id".into(), json!(id));
    fields.insert("body".into(), json!(source));
    if kind == ScriptKind::Trigger {
        let trigger_type = one_of(body.get("triggerType"), &["Pre", "Post"]).ok_or_else(|| {
            EngineError::bad_request("A trigger needs a triggerType of 'Pre' or 'Post'.")
        })?;
        let operation = one_of(
            body.get("triggerOperation"),
            &["All", "Create", "Replace", "Delete", "Update", "Upsert"],
        )
        .ok_or_else(|| {
            EngineError::bad_request(
                "A trigger needs a triggerOperation of 'All', 'Create', 'Replace', 'Delete', \
                 'Update' or 'Upsert'.",
            )
        })?;
        fields.insert("triggerType".into(), json!(trigger_type));
        fields.insert("triggerOperation".into(), json!(operation));
    }
    Ok((id, fields))
}

/// A script as this reader sees it.
pub(crate) fn load_script(
    reader: &dyn KvRead,
    container: &ContainerRecord,
    kind: ScriptKind,
    id: &str,
) -> Result<Option<Value>> {
    reader
        .get(&keys::script(&container.rid, kind.tag(), id))?
        .map(|b| decode(&b))
        .transpose()
}

/// Every script of one kind.
pub(crate) fn load_scripts(
    reader: &dyn KvRead,
    container: &ContainerRecord,
    kind: ScriptKind,
) -> Result<Vec<Value>> {
    let (start, end) = keys::scripts(&container.rid, kind.tag());
    reader
        .scan(&start, &end, usize::MAX)?
        .into_iter()
        .map(|(_, bytes)| decode(&bytes))
        .collect()
}

fn script_not_found(kind: ScriptKind, id: &str) -> EngineError {
    EngineError::new(
        ErrorKind::NotFound,
        format!("The {} '{id}' does not exist.", kind.noun()),
    )
}

/// Stores `fields` as the script `id`, over `existing` if there is one.
fn store(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    kind: ScriptKind,
    id: &str,
    mut fields: Map<String, Value>,
    existing: Option<&Value>,
) -> Result<Value> {
    let rid_text = match existing.and_then(|e| e.get("_rid")).and_then(Value::as_str) {
        Some(r) => r.to_string(),
        None => {
            // Scripts draw ids from the container's document sequence, so none collide.
            let mut counters = crate::containers::read_counters(txn, &container.rid)?;
            counters.next_document += 1;
            crate::containers::write_counters(txn, &container.rid, &counters);
            rid::encode(&rid::child(
                container.rid,
                kind.rid_kind(),
                counters.next_document,
            ))
        }
    };
    let self_link = format!(
        "dbs/{}/colls/{}/{}/{rid_text}/",
        rid::encode(&container.database_rid),
        container.rid_text(),
        kind.segment()
    );
    fields.insert("_rid".into(), json!(rid_text));
    fields.insert("_self".into(), json!(self_link));
    fields.insert("_etag".into(), json!(new_etag()));
    fields.insert("_ts".into(), json!(now_seconds()));
    let record = Value::Object(fields);
    txn.put(
        keys::script(&container.rid, kind.tag(), id),
        encode(&record)?,
    );
    Ok(record)
}

impl Engine {
    /// Creates a script; with `upsert`, replaces one with the same id. The
    /// flag says whether it was created.
    pub async fn create_script(
        &self,
        db: &str,
        coll: &str,
        kind: ScriptKind,
        body: Value,
        upsert: bool,
    ) -> Result<(Value, bool)> {
        let (id, fields) = checked_body(kind, &body)?;
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let (db, coll) = (db.to_string(), coll.to_string());
        self.store
            .transact(move |txn| {
                let current = same_container(txn, &db, &coll, &container.rid)?;
                let existing = load_script(txn, &current, kind, &id)?;
                if existing.is_some() && !upsert {
                    return Err(EngineError::conflict());
                }
                let record = store(txn, &current, kind, &id, fields, existing.as_ref())?;
                Ok((record, existing.is_none()))
            })
            .await
    }

    pub fn read_script(&self, db: &str, coll: &str, kind: ScriptKind, id: &str) -> Result<Value> {
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        load_script(snapshot.as_ref(), &container, kind, id)?
            .ok_or_else(|| script_not_found(kind, id))
    }

    /// A page of a container's scripts of one kind, and the container's `_rid`.
    pub fn list_scripts(
        &self,
        db: &str,
        coll: &str,
        kind: ScriptKind,
        request: &FeedRequest,
    ) -> Result<(FeedPage, String)> {
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        let (start, end) = keys::scripts(&container.rid, kind.tag());
        let page = read_page(snapshot.as_ref(), &start, &end, request, |b| {
            Ok(vec![decode(b)?])
        })?;
        Ok((page, container.rid_text()))
    }

    /// Every script of one kind, for a query over the feed.
    pub fn all_scripts(&self, db: &str, coll: &str, kind: ScriptKind) -> Result<Vec<Value>> {
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        load_scripts(snapshot.as_ref(), &container, kind)
    }

    pub async fn replace_script(
        &self,
        db: &str,
        coll: &str,
        kind: ScriptKind,
        id: &str,
        body: Value,
    ) -> Result<Value> {
        let (new_id, fields) = checked_body(kind, &body)?;
        if new_id != id {
            return Err(EngineError::bad_request(format!(
                "The id '{new_id}' in the body does not match the {} '{id}' addressed.",
                kind.noun()
            )));
        }
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let (db, coll, id) = (db.to_string(), coll.to_string(), id.to_string());
        self.store
            .transact(move |txn| {
                let current = same_container(txn, &db, &coll, &container.rid)?;
                let existing = load_script(txn, &current, kind, &id)?
                    .ok_or_else(|| script_not_found(kind, &id))?;
                store(txn, &current, kind, &id, fields, Some(&existing))
            })
            .await
    }

    pub async fn delete_script(
        &self,
        db: &str,
        coll: &str,
        kind: ScriptKind,
        id: &str,
    ) -> Result<()> {
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let (db, coll, id) = (db.to_string(), coll.to_string(), id.to_string());
        self.store
            .transact(move |txn| {
                let current = same_container(txn, &db, &coll, &container.rid)?;
                let key = keys::script(&current.rid, kind.tag(), &id);
                if txn.get(&key)?.is_none() {
                    return Err(script_not_found(kind, &id));
                }
                txn.delete(key);
                Ok(())
            })
            .await
    }
}
