//! Running scripts inside a write transaction: stored procedures on one
//! logical partition, triggers around an item write, and user-defined
//! functions inside a query.

use std::time::Duration;

use cosmonaut_query::{Parameters, QueryError, UserFunctions, Val};
use cosmonaut_script::{
    Collection, CollectionError, CollectionRequest, Invocation, Limits, ScriptError, Udfs,
};
use cosmonaut_storage::{KvRead, Txn};
use serde_json::Value;

use super::{load_script, load_scripts, script_not_found, ScriptKind};
use crate::containers::read_counters;
use crate::engine::{now_seconds, require_container, Engine};
use crate::error::{EngineError, ErrorKind, Result};
use crate::items::{ops, point_key, range_of, ItemKey, WriteMode};
use crate::keys;
use crate::partition::{Epk, PartitionKeyValue};
use crate::records::{decode, ContainerRecord};
use crate::validation;

/// What a stored procedure left: its response body and log, and where the
/// container's log sequence stands after it.
#[derive(Debug, Clone)]
pub struct ScriptResult {
    /// What the script set with `getResponse().setBody()`, if anything.
    pub body: Option<Value>,
    /// What it wrote with `console.log`.
    pub log: String,
    pub lsn: u64,
    pub range_id: String,
}

/// The triggers a request names (`x-ms-documentdb-pre-trigger-include`
/// and `-post-trigger-include`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Triggers {
    pub pre: Vec<String>,
    pub post: Vec<String>,
}

impl Triggers {
    pub fn is_empty(&self) -> bool {
        self.pre.is_empty() && self.post.is_empty()
    }
}

/// The conditions and triggers of an item write or delete.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteOptions {
    pub if_match: Option<String>,
    pub triggers: Triggers,
}

impl From<Option<String>> for WriteOptions {
    fn from(if_match: Option<String>) -> Self {
        Self {
            if_match,
            triggers: Triggers::default(),
        }
    }
}

/// Before or after the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TriggerMoment {
    Pre,
    Post,
}

/// How long a script may run; the service's limit is about five seconds.
pub(crate) const SCRIPT_TIME_LIMIT: Duration = Duration::from_secs(5);

fn limits() -> Limits {
    Limits {
        timeout: SCRIPT_TIME_LIMIT,
        ..Limits::default()
    }
}

/// A script's failure as the service reports it: the status a rethrown
/// collection error carried, or 400.
fn script_error(error: ScriptError) -> EngineError {
    let kind = match &error {
        ScriptError::Timeout(_) => ErrorKind::RequestTimeout,
        ScriptError::Thrown {
            status: Some(status),
            ..
        } => match status {
            404 => ErrorKind::NotFound,
            408 => ErrorKind::RequestTimeout,
            409 => ErrorKind::Conflict,
            412 => ErrorKind::PreconditionFailed,
            413 => ErrorKind::RequestEntityTooLarge,
            _ => ErrorKind::BadRequest,
        },
        _ => ErrorKind::BadRequest,
    };
    EngineError::new(kind, error.to_string())
}

fn collection_error(error: EngineError) -> CollectionError {
    let status = match error.kind {
        ErrorKind::BadRequest => 400,
        ErrorKind::NotFound => 404,
        ErrorKind::Conflict => 409,
        ErrorKind::PreconditionFailed => 412,
        ErrorKind::RequestEntityTooLarge => 413,
        ErrorKind::RequestTimeout => 408,
        ErrorKind::Gone => 410,
        ErrorKind::FailedDependency => 424,
        ErrorKind::Internal => 500,
    };
    CollectionError {
        status,
        message: error.message,
    }
}

/// The container as a script sees it: the request's logical partition,
/// read and written through the request's transaction.
struct PartitionCollection<'t, 'a> {
    txn: &'t mut Txn<'a>,
    container: &'t ContainerRecord,
    values: &'t [PartitionKeyValue],
    epk: &'t Epk,
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
                ops::delete(self.txn, self.container, &key, if_match.as_deref())?;
                Ok(Value::Null)
            }
            CollectionRequest::Read { link } => {
                let id = self.resolve(&link)?;
                let key = self.key(&id);
                ops::read(self.txn, self.container, &key)
            }
            CollectionRequest::Query { query, parameters } => {
                let parsed = cosmonaut_query::parse(&query)
                    .map_err(|e| EngineError::bad_request(e.to_string()))?;
                let parameters = query_parameters(&parameters)?;
                let rows = parsed
                    .run(self.documents()?, &parameters)
                    .map_err(|e| EngineError::bad_request(e.to_string()))?;
                Ok(Value::Array(rows))
            }
        }
    }

    fn key(&self, id: &str) -> Vec<u8> {
        keys::item(&self.container.rid, self.epk, id)
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
        if self.container.partition_key()?.extract(&document)? != self.values {
            return Err(EngineError::bad_request(
                "Requests originating from scripts cannot reference partition keys other than the \
                 one for which the client request was submitted.",
            ));
        }
        let key = self.key(&id);
        let ((stored, _), _) = ops::write(
            self.txn,
            self.container,
            &key,
            &mode,
            document,
            if_match.as_deref(),
        )?;
        Ok(stored)
    }

    /// The partition's live documents, as the transaction sees them.
    fn documents(&self) -> Result<Vec<Value>> {
        let (start, end) = keys::epk_items(&self.container.rid, self.epk, true);
        let ttl = self.container.ttl();
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

/// `[{name, value}]` as query parameters.
fn query_parameters(list: &Value) -> Result<Parameters> {
    let mut parameters = Parameters::new();
    for entry in list.as_array().map(Vec::as_slice).unwrap_or_default() {
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| EngineError::bad_request("A query parameter needs a name."))?;
        parameters.insert(
            name.to_string(),
            entry.get("value").cloned().unwrap_or(Value::Null),
        );
    }
    Ok(parameters)
}

fn self_link(container: &ContainerRecord) -> String {
    container
        .body
        .get("_self")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn source_of(script: &Value) -> &str {
    script
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Whether a trigger declared for `declared` fires on `operation`.
fn fires_on(declared: &str, operation: &str) -> bool {
    declared == "All"
        || declared == operation
        || (declared == "Update" && matches!(operation, "Replace" | "Upsert"))
        || (operation == "Upsert" && matches!(declared, "Create" | "Replace"))
}

/// The operation a write mode is, as triggers name it.
pub(crate) fn operation_of(mode: &WriteMode) -> &'static str {
    match mode {
        WriteMode::Create => "Create",
        WriteMode::Upsert => "Upsert",
        WriteMode::Replace { .. } => "Replace",
    }
}

/// Runs the named triggers of one moment, in order, inside the write's
/// transaction. Pre-triggers may change `request_body`; post-triggers see
/// the stored document as `response_body` and may change what the client
/// gets back. Any failure fails the write.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fire_triggers(
    txn: &mut Txn<'_>,
    container: &ContainerRecord,
    values: &[PartitionKeyValue],
    epk: &Epk,
    names: &[String],
    moment: TriggerMoment,
    operation: &str,
    bodies: (Option<Value>, Option<Value>),
) -> Result<(Option<Value>, Option<Value>)> {
    let (mut request_body, mut response_body) = bodies;
    for name in names {
        let trigger = load_script(txn, container, ScriptKind::Trigger, name)?
            .ok_or_else(|| script_not_found(ScriptKind::Trigger, name))?;
        let declared_type = trigger["triggerType"].as_str().unwrap_or_default();
        let expected = match moment {
            TriggerMoment::Pre => "Pre",
            TriggerMoment::Post => "Post",
        };
        if declared_type != expected {
            return Err(EngineError::bad_request(format!(
                "The trigger '{name}' is a {declared_type}-trigger and cannot run as a {expected}-trigger."
            )));
        }
        let declared_operation = trigger["triggerOperation"].as_str().unwrap_or_default();
        if !fires_on(declared_operation, operation) {
            return Err(EngineError::bad_request(format!(
                "The trigger '{name}' fires on {declared_operation} operations, not on {operation}."
            )));
        }
        let invocation = Invocation {
            self_link: self_link(container),
            operation: operation.to_string(),
            request_body: request_body.clone(),
            response_body: response_body.clone(),
            ..Invocation::default()
        };
        let mut collection = PartitionCollection {
            txn,
            container,
            values,
            epk,
        };
        let outcome =
            cosmonaut_script::run(source_of(&trigger), &invocation, &mut collection, limits())
                .map_err(script_error)?;
        match moment {
            TriggerMoment::Pre => request_body = outcome.request_body,
            TriggerMoment::Post => {
                if let Some(body) = outcome.response_body {
                    response_body = Some(body);
                }
            }
        }
    }
    Ok((request_body, response_body))
}

/// A query's view of the container's user-defined functions.
struct QueryFunctions(Udfs);

impl UserFunctions for QueryFunctions {
    fn call(&self, name: &str, arguments: &[Val]) -> Result<Val, QueryError> {
        // JSON has no undefined; a function sees it as null.
        let arguments: Vec<Value> = arguments
            .iter()
            .map(|a| a.clone().unwrap_or(Value::Null))
            .collect();
        self.0
            .call(name, &arguments)
            .map_err(|e| QueryError::Semantic(e.to_string()))
    }
}

/// The container's user-defined functions, compiled for one query.
pub(crate) fn query_functions(
    reader: &dyn KvRead,
    container: &ContainerRecord,
) -> Result<Box<dyn UserFunctions>> {
    let udfs = load_scripts(reader, container, ScriptKind::UserDefinedFunction)?;
    let definitions = udfs
        .iter()
        .map(|u| (u["id"].as_str().unwrap_or_default(), source_of(u)));
    let compiled = Udfs::new(definitions, limits()).map_err(script_error)?;
    Ok(Box::new(QueryFunctions(compiled)))
}

impl Engine {
    /// Runs the stored procedure `id` on the logical partition `key`, in one
    /// transaction: everything it wrote commits, or nothing does.
    pub async fn execute_stored_procedure(
        &self,
        db: &str,
        coll: &str,
        id: &str,
        key: &ItemKey,
        arguments: Vec<Value>,
    ) -> Result<ScriptResult> {
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let (values, epk) = point_key(&container, key)?;
        let range_id = range_of(&container, &epk)?;
        let (db, coll, id) = (db.to_string(), coll.to_string(), id.to_string());
        self.store
            .transact(move |txn| {
                let current = ops::same_container(txn, &db, &coll, &container.rid)?;
                let procedure = load_script(txn, &current, ScriptKind::StoredProcedure, &id)?
                    .ok_or_else(|| script_not_found(ScriptKind::StoredProcedure, &id))?;
                let invocation = Invocation {
                    self_link: self_link(&current),
                    arguments,
                    ..Invocation::default()
                };
                let mut collection = PartitionCollection {
                    txn,
                    container: &current,
                    values: &values,
                    epk: &epk,
                };
                let outcome = cosmonaut_script::run(
                    source_of(&procedure),
                    &invocation,
                    &mut collection,
                    limits(),
                )
                .map_err(script_error)?;
                Ok(ScriptResult {
                    body: outcome.response_body,
                    log: outcome.log,
                    lsn: read_counters(txn, &current.rid)?.lsn,
                    range_id,
                })
            })
            .await
    }
}
