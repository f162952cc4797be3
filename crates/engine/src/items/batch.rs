//! Transactional batches: up to 100 operations on one logical partition,
//! run in order in one transaction and committed together or not at all.
//! When one fails, every other operation reports a failed dependency and
//! nothing is stored, as on the service.
//!
//! Bulk requests (non-atomic batches, as the SDKs' bulk executors send
//! them) carry operations on any partition keys; each succeeds or fails on
//! its own, and all that succeed share one commit.

use serde_json::Value;

use super::{ops, point_key, range_of, ItemKey, WriteMode};
use crate::containers::{read_counters, write_counters};
use crate::engine::{require_container, Engine};
use crate::error::{EngineError, Result};
use crate::keys;
use crate::patch::{self, PatchOperation};
use crate::records::ContainerRecord;
use crate::validation;

/// The service runs at most this many operations in one batch.
pub const MAX_OPERATIONS: usize = 100;

/// One operation of a batch, as the SDKs send it.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOperation {
    Create {
        body: Value,
    },
    Upsert {
        body: Value,
    },
    Replace {
        id: String,
        body: Value,
    },
    Read {
        id: String,
    },
    Delete {
        id: String,
    },
    Patch {
        id: String,
        operations: Vec<PatchOperation>,
        condition: Option<String>,
    },
}

/// A batch operation with its optional `ifMatch` etag.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStep {
    pub operation: BatchOperation,
    pub if_match: Option<String>,
}

/// What a batch did: one result per operation, in order.
#[derive(Debug)]
pub struct BatchOutcome {
    /// The document written or read (`Null` for a delete) and whether a
    /// write created it; or why the operation failed.
    pub results: Vec<Result<(Value, bool)>>,
    pub committed: bool,
    pub lsn: u64,
    pub range_id: String,
}

impl BatchStep {
    /// Reads one operation of a batch request body.
    pub fn parse(op: &Value) -> Result<Self> {
        let bad = |m: String| EngineError::bad_request(m);
        let kind = op
            .get("operationType")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("A batch operation needs an 'operationType'.".into()))?;
        let id = || {
            op.get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| bad(format!("The batch operation '{kind}' needs an 'id'.")))
        };
        let body = || {
            op.get("resourceBody").cloned().ok_or_else(|| {
                bad(format!(
                    "The batch operation '{kind}' needs a 'resourceBody'."
                ))
            })
        };
        let operation = match kind.to_ascii_lowercase().as_str() {
            "create" => BatchOperation::Create { body: body()? },
            "upsert" => BatchOperation::Upsert { body: body()? },
            "replace" => BatchOperation::Replace {
                id: id()?,
                body: body()?,
            },
            "read" => BatchOperation::Read { id: id()? },
            "delete" => BatchOperation::Delete { id: id()? },
            "patch" => {
                let request = body()?;
                BatchOperation::Patch {
                    id: id()?,
                    operations: patch::parse_operations(&request)?,
                    condition: request
                        .get("condition")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                }
            }
            other => return Err(bad(format!("'{other}' is not a batch operation."))),
        };
        Ok(Self {
            operation,
            if_match: op
                .get("ifMatch")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

impl Engine {
    /// Runs a transactional batch on the logical partition `key`.
    pub async fn execute_batch(
        &self,
        db: &str,
        coll: &str,
        key: &ItemKey,
        steps: Vec<BatchStep>,
    ) -> Result<BatchOutcome> {
        // The service's wording, which clients match on.
        if steps.is_empty() {
            return Err(EngineError::bad_request("Batch request has no operations."));
        }
        if steps.len() > MAX_OPERATIONS {
            return Err(EngineError::bad_request(format!(
                "Batch request has more operations than what is supported. It has {} \
                 operations; at most {MAX_OPERATIONS} are allowed.",
                steps.len()
            )));
        }
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let (values, epk) = point_key(&container, key)?;
        let range_id = range_of(&container, &epk)?;
        let (db, coll) = (db.to_string(), coll.to_string());
        self.store
            .transact(move |txn| {
                let current = ops::same_container(txn, &db, &coll, &container.rid)?;
                let mut results = Vec::with_capacity(steps.len());
                let mut failed = None;
                // A batch is one write: every operation takes the same LSN,
                // the one after the container's LSN before the batch.
                let before = read_counters(txn, &container.rid)?.lsn;
                for (i, step) in steps.iter().enumerate() {
                    let mut counters = read_counters(txn, &container.rid)?;
                    if counters.lsn != before {
                        counters.lsn = before;
                        write_counters(txn, &container.rid, &counters);
                    }
                    let result = run_step(txn, &current, &values, &epk, step);
                    if result.is_err() {
                        failed = Some(i);
                    }
                    results.push(result);
                    if failed.is_some() {
                        break;
                    }
                }
                let committed = failed.is_none();
                if let Some(index) = failed {
                    // Nothing of a failed batch is stored; every other operation says so.
                    txn.discard();
                    let cause = results.swap_remove(index);
                    results = (0..steps.len())
                        .map(|_| Err(EngineError::failed_dependency()))
                        .collect();
                    results[index] = cause;
                }
                let lsn = read_counters(txn, &container.rid)?.lsn;
                Ok(BatchOutcome {
                    results,
                    committed,
                    lsn,
                    range_id,
                })
            })
            .await
    }
}

impl Engine {
    /// Runs independent operations, each on its own partition key; with
    /// `continue_on_error` unset, operations after the first failure are
    /// not run (and report a failed dependency). An operation the request
    /// could not parse comes as its error and fails alone, as on the service.
    pub async fn execute_bulk(
        &self,
        db: &str,
        coll: &str,
        steps: Vec<Result<(ItemKey, BatchStep)>>,
        continue_on_error: bool,
    ) -> Result<BatchOutcome> {
        if steps.is_empty() || steps.len() > MAX_OPERATIONS {
            return Err(EngineError::bad_request(format!(
                "A bulk request takes 1 to {MAX_OPERATIONS} operations, not {}.",
                steps.len()
            )));
        }
        let container = require_container(self.snapshot()?.as_ref(), db, coll)?;
        let (db, coll) = (db.to_string(), coll.to_string());
        self.store
            .transact(move |txn| {
                let current = ops::same_container(txn, &db, &coll, &container.rid)?;
                let mut results = Vec::with_capacity(steps.len());
                let mut range_id = None;
                for parsed in &steps {
                    if !continue_on_error && results.iter().any(|r: &Result<_>| r.is_err()) {
                        results.push(Err(EngineError::failed_dependency()));
                        continue;
                    }
                    let (key, step) = match parsed {
                        Ok(parsed) => parsed,
                        Err(err) => {
                            results.push(Err(err.clone()));
                            continue;
                        }
                    };
                    let before = txn.savepoint();
                    let result = point_key(&current, key).and_then(|(values, epk)| {
                        range_id.get_or_insert(range_of(&current, &epk)?);
                        run_step(txn, &current, &values, &epk, step)
                    });
                    if result.is_err() {
                        txn.rollback_to(before);
                    }
                    results.push(result);
                }
                let committed = results.iter().all(Result::is_ok);
                let lsn = read_counters(txn, &container.rid)?.lsn;
                Ok(BatchOutcome {
                    results,
                    committed,
                    lsn,
                    range_id: range_id.unwrap_or_else(|| "0".into()),
                })
            })
            .await
    }
}

pub(super) fn run_step(
    txn: &mut cosmonaut_storage::Txn<'_>,
    container: &ContainerRecord,
    values: &[crate::partition::PartitionKeyValue],
    epk: &crate::partition::Epk,
    step: &BatchStep,
) -> Result<(Value, bool)> {
    let if_match = step.if_match.as_deref();
    let item_key = |id: &str| keys::item(&container.rid, epk, id);
    // A body must carry an id and the batch's partition key.
    let checked = |body: &Value| -> Result<String> {
        let id = validation::body_id(body, validation::MAX_ITEM_ID_BYTES, true)?;
        if container.partition_key()?.extract(body)? != values {
            return Err(EngineError::partition_key_mismatch());
        }
        Ok(id)
    };
    match &step.operation {
        BatchOperation::Create { body } | BatchOperation::Upsert { body } => {
            let id = checked(body)?;
            let mode = match step.operation {
                BatchOperation::Create { .. } => WriteMode::Create,
                _ => WriteMode::Upsert,
            };
            let (written, created) = ops::write(
                txn,
                container,
                &item_key(&id),
                &mode,
                body.clone(),
                if_match,
            )?;
            Ok((written.document, created))
        }
        BatchOperation::Replace { id, body } => {
            let new_id = checked(body)?;
            let mode = WriteMode::Replace { id: id.clone() };
            let body = (new_id.as_str(), body.clone());
            let (written, _) = ops::write_by_id(txn, container, item_key, &mode, body, if_match)?;
            Ok((written.document, false))
        }
        BatchOperation::Read { id } => Ok((ops::read(txn, container, &item_key(id))?, false)),
        BatchOperation::Delete { id } => {
            ops::delete(txn, container, &item_key(id), if_match)?;
            Ok((Value::Null, false))
        }
        BatchOperation::Patch {
            id,
            operations,
            condition,
        } => {
            let condition = condition
                .as_deref()
                .map(patch::parse_condition)
                .transpose()?;
            let written = ops::patch(
                txn,
                container,
                &item_key(id),
                values,
                operations,
                condition.as_ref(),
                if_match,
            )?;
            Ok((written.document, false))
        }
    }
}
