//! A collection's MongoDB index specifications, kept in its container's
//! settings (`mongoIndexes`; the `_id` index is implicit). A TTL index turns
//! the container's per-item expiry on (`defaultTtl: -1`).

use bson::Document;
use cosmonaut_engine::ErrorKind;
use serde_json::Value;

use super::Collections;
use crate::error::Result;
use crate::indexes::IndexSet;
use crate::stored;

const INDEXES: &str = "mongoIndexes";

impl Collections {
    /// The index specifications created on a collection, besides `_id_`.
    pub fn indexes(&self, db: &str, coll: &str) -> Result<Vec<Document>> {
        let info = self.engine.read_container(db, coll)?;
        let Some(list) = info.body.get(INDEXES) else {
            return Ok(Vec::new());
        };
        list.as_array()
            .into_iter()
            .flatten()
            .map(stored::from_json)
            .collect()
    }

    /// What the collection's indexes oblige its writes to do (nothing for
    /// a collection that does not exist yet).
    pub fn index_set(&self, db: &str, coll: &str) -> Result<IndexSet> {
        match self.indexes(db, coll) {
            Ok(specs) => Ok(IndexSet::from_specs(&specs)),
            Err(e) if e.code == crate::MongoError::namespace_not_found("").code => {
                Ok(IndexSet::default())
            }
            Err(e) => Err(e),
        }
    }

    /// Writes the collection's index specifications; `Ok(false)` when the
    /// settings changed meanwhile (the caller reads them again).
    pub async fn set_indexes(&self, db: &str, coll: &str, indexes: &[Document]) -> Result<bool> {
        let expires = !IndexSet::from_specs(indexes).ttl.is_empty();
        let specs = Value::Array(indexes.iter().map(stored::to_json).collect());
        self.change_settings(db, coll, |map| {
            map.insert(INDEXES.into(), specs);
            if expires && map.get("defaultTtl").is_none_or(Value::is_null) {
                map.insert("defaultTtl".into(), Value::from(-1));
            }
        })
        .await
    }

    /// Sets one setting of the collection's container.
    pub async fn set_setting(&self, db: &str, coll: &str, name: &str, value: Value) -> Result<()> {
        loop {
            let value = value.clone();
            if self
                .change_settings(db, coll, move |map| {
                    map.insert(name.to_string(), value);
                })
                .await?
            {
                return Ok(());
            }
        }
    }

    /// Turns on what change streams read: the engine's all-versions log
    /// (kept a day) with the versions replaces and deletes overwrote.
    pub async fn keep_change_history(&self, db: &str, coll: &str) -> Result<()> {
        loop {
            let info = self.engine.read_container(db, coll)?;
            if info
                .body
                .pointer("/changeFeedPolicy/retentionDuration")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                > 0
            {
                return Ok(());
            }
            let changed = self
                .change_settings(db, coll, |map| {
                    map.insert("changeFeedPolicy".into(), serde_json::json!({"retentionDuration": 1440}));
                    map.insert(
                        "previousImageRetentionPolicy".into(),
                        serde_json::json!({"supportedFeatures": {"allVersionsAndDeletes": {"mode": 3}}}),
                    );
                })
                .await?;
            if changed {
                return Ok(());
            }
        }
    }

    /// Replaces the container's settings with `change` applied, if no one
    /// changed them since they were read (else `Ok(false)`).
    async fn change_settings(
        &self,
        db: &str,
        coll: &str,
        change: impl FnOnce(&mut serde_json::Map<String, Value>),
    ) -> Result<bool> {
        let info = self.engine.read_container(db, coll)?;
        let mut body = info.body.clone();
        let etag = body.get("_etag").and_then(|e| e.as_str()).map(String::from);
        if let Some(map) = body.as_object_mut() {
            map.retain(|k, _| !k.starts_with('_'));
            change(map);
        }
        match self.engine.replace_container(db, coll, body, etag).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::PreconditionFailed => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
