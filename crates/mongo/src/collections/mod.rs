//! MongoDB databases and collections on the engine: a database is an engine
//! database, a collection a container partitioned on `/id` (each document
//! its own logical partition, so a collection has no partition size limit),
//! a document an item (see [`crate::stored`]). Writes are in [`write`],
//! index specifications and what they oblige in [`index_specs`].

use std::sync::Arc;

use bson::{Bson, Document};
use cosmonaut_engine::partition::PartitionKeyValue;
use cosmonaut_engine::{Engine, ErrorKind, FeedRequest, ItemScope, NewContainer};
use serde_json::json;

use crate::error::{MongoError, Result};
use crate::stored;

mod commit;
mod index_specs;
mod transaction;
mod write;

pub use transaction::Transaction;

/// A stored document with the etag it was read at.
#[derive(Debug, Clone)]
pub struct Stored {
    pub document: Document,
    pub etag: String,
    /// Where the document stands in the collection's natural order (its
    /// insertion; see `write::next_order`).
    pub order: i64,
}

impl Stored {
    pub(crate) fn from_item(item: &serde_json::Value) -> Result<Stored> {
        Ok(Stored {
            document: stored::from_item(item)?,
            etag: etag_of(item),
            order: item
                .get(stored::ORDER)
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0),
        })
    }
}

/// Puts documents in natural order: as they were inserted, as a MongoDB
/// collection scan returns them.
pub fn natural_order(documents: &mut [Stored]) {
    documents.sort_by_key(|d| d.order);
}

/// Databases, collections and documents on the engine; bound to a
/// transaction, reads see its snapshot and its writes, and writes wait
/// for its commit.
#[derive(Clone)]
pub struct Collections {
    engine: Arc<Engine>,
    transaction: Option<Arc<Transaction>>,
    /// The documents open transactions have written (shared by every view).
    intents: Arc<transaction::Intents>,
}

pub(crate) fn key(id: &str) -> Option<Vec<PartitionKeyValue>> {
    Some(vec![PartitionKeyValue::String(id.to_string())])
}

pub(crate) fn etag_of(item: &serde_json::Value) -> String {
    item.get("_etag")
        .and_then(|e| e.as_str())
        .unwrap_or_default()
        .to_string()
}

/// Database and collection names MongoDB refuses.
pub fn check_names(db: &str, coll: Option<&str>) -> Result<()> {
    if db.is_empty()
        || db.len() > 63
        || db.contains(['/', '\\', '.', ' ', '"', '$', '\0', '?', '#'])
    {
        return Err(MongoError::invalid_namespace(format!(
            "Invalid database name: '{db}'"
        )));
    }
    if let Some(coll) = coll {
        if coll.is_empty()
            || coll.starts_with('$')
            || coll.contains(['\0', '/', '\\', '?', '#'])
            || coll.len() > 255
        {
            return Err(MongoError::invalid_namespace(format!(
                "Invalid collection name: {db}.{coll}"
            )));
        }
    }
    Ok(())
}

impl Collections {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            transaction: None,
            intents: Arc::default(),
        }
    }

    /// The engine, for commands about the account rather than documents.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn databases(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut request = FeedRequest {
            max_items: Some(-1),
            continuation: None,
        };
        loop {
            let page = self.engine.list_databases(&request)?;
            names.extend(
                page.items
                    .iter()
                    .filter_map(|d| d.get("id")?.as_str().map(String::from)),
            );
            match page.continuation {
                Some(c) => request.continuation = Some(c),
                None => return Ok(names),
            }
        }
    }

    pub fn collections(&self, db: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut request = FeedRequest {
            max_items: Some(-1),
            continuation: None,
        };
        loop {
            let (page, _) = match self.engine.list_containers(db, &request) {
                Ok(found) => found,
                Err(e) if e.kind == ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            // Containers with a `$` in their name keep a collection's unique
            // keys; MongoDB collection names cannot hold one.
            names.extend(
                page.items
                    .iter()
                    .filter_map(|d| d.get("id")?.as_str().map(String::from))
                    .filter(|name| !name.contains('$')),
            );
            match page.continuation {
                Some(c) => request.continuation = Some(c),
                None => return Ok(names),
            }
        }
    }

    pub fn exists(&self, db: &str, coll: &str) -> Result<bool> {
        match self.engine.read_container(db, coll) {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the collection (and its database) if missing; true if it did.
    pub async fn ensure(&self, db: &str, coll: &str) -> Result<bool> {
        check_names(db, Some(coll))?;
        self.ensure_container(db, coll).await
    }

    async fn ensure_container(&self, db: &str, coll: &str) -> Result<bool> {
        if self.exists(db, coll)? {
            return Ok(false);
        }
        match self.engine.create_database(json!({"id": db})).await {
            Ok(_) => {}
            Err(e) if e.kind == ErrorKind::Conflict => {}
            Err(e) => return Err(e.into()),
        }
        match self
            .engine
            .create_container(db, NewContainer::hashed(coll, "/id"))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::Conflict => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn drop_collection(&self, db: &str, coll: &str) -> Result<bool> {
        match self
            .engine
            .delete_container(db, &write::markers_of(coll))
            .await
        {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        match self.engine.delete_container(db, coll).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn drop_database(&self, db: &str) -> Result<bool> {
        match self.engine.delete_database(db).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub fn count(&self, db: &str, coll: &str) -> Result<u64> {
        let committed = match self.engine.read_container_at(self.read_point(), db, coll) {
            Ok(info) => info.document_count,
            Err(e) if e.kind == ErrorKind::NotFound => 0,
            Err(e) => return Err(e.into()),
        };
        Ok(committed.saturating_add_signed(self.pending_count_change(db, coll)))
    }

    /// Every document of a collection (none if it does not exist).
    pub fn scan(&self, db: &str, coll: &str) -> Result<Vec<Stored>> {
        let mut out = Vec::new();
        let mut request = FeedRequest {
            max_items: Some(-1),
            continuation: None,
        };
        loop {
            let page = match self.engine.read_items_at(
                self.read_point(),
                db,
                coll,
                &ItemScope::All,
                &request,
            ) {
                Ok(page) => page,
                Err(e) if e.kind == ErrorKind::NotFound => {
                    return self.overlay(db, coll, Vec::new())
                }
                Err(e) => return Err(e.into()),
            };
            for item in &page.page.items {
                out.push(Stored::from_item(item)?);
            }
            match page.page.continuation {
                Some(c) => request.continuation = Some(c),
                None => {
                    natural_order(&mut out);
                    return self.overlay(db, coll, out);
                }
            }
        }
    }

    /// The documents whose index keys (the item property `keys.<property>`)
    /// hold `key`: an index lookup in the engine.
    pub fn lookup(
        &self,
        db: &str,
        coll: &str,
        property: &str,
        key: &serde_json::Value,
    ) -> Result<Vec<Stored>> {
        let condition = format!("ARRAY_CONTAINS(c.{}.{property}, @key)", stored::KEYS);
        let parameters = cosmonaut_query::Parameters::from([("@key".to_string(), key.clone())]);
        self.index_query(db, coll, &condition, &parameters)
    }

    /// The documents with an index key (in `keys.<property>`) at or above
    /// `low` and one (perhaps another: MongoDB tests each condition on an
    /// array by itself) at or below `high`: an index range scan in the
    /// engine over the keys' elements. Bounds are inclusive, so keys
    /// rounded to doubles never drop a match; the caller's filter decides.
    pub fn lookup_range(
        &self,
        db: &str,
        coll: &str,
        property: &str,
        low: Option<&serde_json::Value>,
        high: Option<&serde_json::Value>,
    ) -> Result<Vec<Stored>> {
        let mut conditions = Vec::new();
        let mut parameters = cosmonaut_query::Parameters::new();
        for (bound, name, op) in [(low, "@low", ">="), (high, "@high", "<=")] {
            if let Some(value) = bound {
                conditions.push(format!(
                    "EXISTS(SELECT VALUE k FROM k IN c.{}.{property} WHERE k {op} {name})",
                    stored::KEYS
                ));
                parameters.insert(name.to_string(), value.clone());
            }
        }
        if conditions.is_empty() {
            return self.scan(db, coll);
        }
        self.index_query(db, coll, &conditions.join(" AND "), &parameters)
    }

    /// The documents an engine query with `condition` on `c` finds.
    fn index_query(
        &self,
        db: &str,
        coll: &str,
        condition: &str,
        parameters: &cosmonaut_query::Parameters,
    ) -> Result<Vec<Stored>> {
        let text = format!("SELECT * FROM c WHERE {condition}");
        let query =
            cosmonaut_query::parse(&text).map_err(|e| MongoError::internal(e.to_string()))?;
        let mut out = Vec::new();
        let mut request = FeedRequest {
            max_items: Some(-1),
            continuation: None,
        };
        loop {
            let page = match self.engine.query_items_at(
                self.read_point(),
                db,
                coll,
                &ItemScope::All,
                &query,
                parameters,
                &request,
            ) {
                Ok(page) => page.page,
                Err(e) if e.kind == ErrorKind::NotFound => {
                    return self.overlay(db, coll, Vec::new())
                }
                Err(e) => return Err(e.into()),
            };
            for item in &page.items {
                out.push(Stored::from_item(item)?);
            }
            match page.continuation {
                Some(c) => request.continuation = Some(c),
                None => return self.overlay(db, coll, out),
            }
        }
    }

    /// Every write and delete after `after` (the collection's latest
    /// change when `None`), from the engine's all-versions log, and the
    /// position the next read continues after.
    pub fn changes(
        &self,
        db: &str,
        coll: &str,
        after: Option<u64>,
    ) -> Result<(Vec<serde_json::Value>, u64)> {
        let start = after.map_or(
            cosmonaut_engine::ChangeFeedStart::Now,
            cosmonaut_engine::ChangeFeedStart::After,
        );
        let request = FeedRequest {
            max_items: Some(-1),
            continuation: None,
        };
        let page = self
            .engine
            .read_all_versions(db, coll, &ItemScope::All, start, &request)?;
        Ok((page.items, page.lsn))
    }

    /// The document with this `_id`, if any.
    pub fn get(&self, db: &str, coll: &str, id: &Bson) -> Result<Option<Stored>> {
        let item_id = stored::item_id(id)?;
        if let Some(pending) = self.pending_get(db, coll, &item_id) {
            return Ok(pending);
        }
        match self
            .engine
            .read_item_at(self.read_point(), db, coll, &item_id, &key(&item_id))
        {
            Ok(outcome) => Ok(Some(Stored::from_item(&outcome.document)?)),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// MongoDB's duplicate key error for an `_id`.
pub fn duplicate(db: &str, coll: &str, id: Option<&Bson>) -> MongoError {
    MongoError::duplicate_key(format!(
        "E11000 duplicate key error collection: {db}.{coll} index: _id_ dup key: {{ _id: {} }}",
        id.cloned().unwrap_or(Bson::Null)
    ))
}
