//! The collection a script works on: its request's logical partition,
//! read and written through the request's own transaction.

use cosmonaut_query::parameters_from_json;
use cosmonaut_script::{Collection, CollectionError, CollectionRequest};
use cosmonaut_storage::{KvRead, Txn};
use serde_json::Value;

use crate::engine::now_seconds;
use crate::error::{EngineError, Result};
use crate::items::{ops, WriteMode};
use crate::keys;
use crate::partition::{Epk, PartitionKeyValue};
use crate::records::{decode, ContainerRecord};
use crate::validation;

fn collection_error(error: EngineError) -> CollectionError {
    CollectionError {
        status: error.kind.status_code(),
        message: error.message,
    }
}

/// The logical partition a script runs in.
#[derive(Clone, Copy)]
pub(crate) struct Partition<'p> {
    pub container: &'p ContainerRecord,
    pub values: &'p [PartitionKeyValue],
    pub epk: &'p Epk,
}

/// The container as a script sees it: the request's logical partition,
/// read and written through the request's transaction.
pub(super) struct PartitionCollection<'t, 'a> {
    txn: &'t mut Txn<'a>,
    partition: Partition<'t>,
}

impl<'t, 'a> PartitionCollection<'t, 'a> {
    pub(super) fn new(txn: &'t mut Txn<'a>, partition: Partition<'t>) -> Self {
        Self { txn, partition }
    }
}

impl Collection for PartitionCollection<'_, '_> {
    fn execute(&mut self, request: CollectionRequest) -> Result<Value, CollectionError> {
        self.apply(request).map_err(collection_error)
    }
}

impl PartitionCollection<'_, '_> {
    fn apply(&mut self, request: CollectionRequest) -> Result<Value> {
        match request {
            CollectionRequest::Create {
                document,
                disable_automatic_id,
            } => self.write(WriteMode::Create, document, disable_automatic_id, None),
            CollectionRequest::Upsert {
                document,
                disable_automatic_id,
            } => self.write(WriteMode::Upsert, document, disable_automatic_id, None),
            CollectionRequest::Replace {
                link,
                document,
                if_match,
            } => {
                let id = self.resolve(&link)?;
                self.write(WriteMode::Replace { id }, document, true, if_match)
            }
            CollectionRequest::Delete { link, if_match } => {
                let id = self.resolve(&link)?;
                let key = self.key(&id);
                ops::delete(
                    self.txn,
                    self.partition.container,
                    &key,
                    if_match.as_deref(),
                )?;
                Ok(Value::Null)
            }
            CollectionRequest::Read { link } => {
                let id = self.resolve(&link)?;
                let key = self.key(&id);
                ops::read(self.txn, self.partition.container, &key)
            }
            CollectionRequest::Query { query, parameters } => {
                let parsed = cosmonaut_query::parse(&query)
                    .map_err(|e| EngineError::bad_request(e.to_string()))?;
                let parameters = parameters_from_json(Some(&parameters))
                    .map_err(|e| EngineError::bad_request(e.to_string()))?;
                let rows = parsed
                    .run(self.documents()?, &parameters)
                    .map_err(|e| EngineError::bad_request(e.to_string()))?;
                Ok(Value::Array(rows))
            }
        }
    }

    fn key(&self, id: &str) -> Vec<u8> {
        keys::item(&self.partition.container.rid, self.partition.epk, id)
    }

    fn write(
        &mut self,
        mode: WriteMode,
        mut document: Value,
        disable_automatic_id: bool,
        if_match: Option<String>,
    ) -> Result<Value> {
        if let (Some(fields), false) = (document.as_object_mut(), disable_automatic_id) {
            fields
                .entry("id")
                .or_insert_with(|| Value::String(uuid::Uuid::new_v4().to_string()));
        }
        let id = validation::body_id(&document, validation::MAX_ITEM_ID_BYTES, true)?;
        if let WriteMode::Replace { id: addressed } = &mode {
            if *addressed != id {
                return Err(EngineError::bad_request(format!(
                    "The id '{id}' of the document does not match the document '{addressed}' addressed."
                )));
            }
        }
        if self
            .partition
            .container
            .partition_key()?
            .extract(&document)?
            != self.partition.values
        {
            return Err(EngineError::bad_request(
                "Requests originating from scripts cannot reference partition keys other than the \
                 one for which the client request was submitted.",
            ));
        }
        let key = self.key(&id);
        let (written, _) = ops::write(
            self.txn,
            self.partition.container,
            &key,
            &mode,
            document,
            if_match.as_deref(),
        )?;
        Ok(written.document)
    }

    /// The partition's live documents, as the transaction sees them.
    fn documents(&self) -> Result<Vec<Value>> {
        let (start, end) = keys::epk_items(&self.partition.container.rid, self.partition.epk, true);
        let ttl = self.partition.container.ttl();
        let now = now_seconds();
        let mut out = Vec::new();
        for (_, bytes) in self.txn.scan(&start, &end, usize::MAX)? {
            let document: Value = decode(&bytes)?;
            if !ttl.is_expired(&document, now) {
                out.push(document);
            }
        }
        Ok(out)
    }

    /// The id of the document a link names: by name
    /// (`dbs/d/colls/c/docs/{id}`) or by resource id (its `_self`).
    fn resolve(&self, link: &str) -> Result<String> {
        let last = link
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        if self.txn.get(&self.key(last))?.is_some() {
            return Ok(last.to_string());
        }
        self.documents()?
            .into_iter()
            .find(|d| d.get("_rid").and_then(Value::as_str) == Some(last))
            .and_then(|d| d.get("id").and_then(Value::as_str).map(str::to_string))
            .ok_or_else(EngineError::not_found)
    }
}
