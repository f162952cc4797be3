//! Running stored procedures on one logical partition and user-defined
//! functions inside a query.

use cosmonaut_query::{QueryError, UserFunctions, Val};
use cosmonaut_script::{Invocation, Limits, ScriptError, Udfs};
use cosmonaut_storage::KvRead;
use serde_json::Value;

use super::collection::{Partition, PartitionCollection};
use super::{load_script, load_scripts, script_not_found, ScriptKind};
use crate::containers::read_counters;
use crate::engine::{require_container, Engine};
use crate::error::{EngineError, ErrorKind, Result};
use crate::items::{ops, point_key, range_of, ItemKey};
use crate::records::ContainerRecord;

/// What a stored procedure left: its response body and log, and where the
/// container's log sequence stands after it.
#[derive(Debug, Clone)]
pub struct ScriptResult {
    /// The response body, if the script wrote it; `None` stands for the
    /// untouched body a stored procedure starts with, `""`.
    pub body: Option<Value>,
    /// What it wrote with `console.log`, when `logging` was asked for.
    pub log: String,
    pub lsn: u64,
    pub range_id: String,
}

/// A script's failure as the service reports it: the status a rethrown
/// collection error carried, or 400.
pub(super) fn script_error(error: ScriptError) -> EngineError {
    let kind = match &error {
        ScriptError::Timeout(_) => ErrorKind::RequestTimeout,
        ScriptError::Thrown {
            status: Some(status),
            ..
        } => ErrorKind::from_script_status(*status),
        _ => ErrorKind::BadRequest,
    };
    EngineError::new(kind, error.to_string())
}

pub(super) fn self_link(container: &ContainerRecord) -> String {
    container
        .body
        .get("_self")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub(super) fn source_of(script: &Value) -> &str {
    script
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default()
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
    let compiled = Udfs::new(definitions, Limits::default()).map_err(script_error)?;
    Ok(Box::new(QueryFunctions(compiled)))
}

impl Engine {
    /// Runs the stored procedure `id` on the logical partition `key`, in one
    /// transaction: everything it wrote commits, or nothing does. With
    /// `logging`, its `console.log` output is kept.
    pub async fn execute_stored_procedure(
        &self,
        db: &str,
        coll: &str,
        id: &str,
        key: &ItemKey,
        arguments: Vec<Value>,
        logging: bool,
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
                    // A procedure's response body starts empty, so that
                    // appending to it builds a string.
                    response_body: Some(Value::String(String::new())),
                    logging,
                    ..Invocation::default()
                };
                let partition = Partition {
                    container: &current,
                    values: &values,
                    epk: &epk,
                };
                let mut collection = PartitionCollection::new(txn, partition);
                let outcome = cosmonaut_script::run(
                    source_of(&procedure),
                    &invocation,
                    &mut collection,
                    Limits::default(),
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
