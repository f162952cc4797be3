//! Batches: `POST .../docs` with `x-ms-cosmos-is-batch-request`. The body is
//! a list of operations; the answer lists one result per operation, with
//! 200 when every operation succeeded and 207 (multi-status) otherwise.
//! Atomic (transactional) batches store nothing when one fails; bulk
//! requests (`x-ms-cosmos-batch-atomic: false`) keep what succeeded.

use axum::http::StatusCode;
use cosmonaut_engine::partition::parse_partition_key_header;
use cosmonaut_engine::{BatchOperation, BatchStep, ItemKey};
use serde_json::{json, Map, Value};

use super::items::session_token;
use crate::charge;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
use crate::Gateway;

pub async fn run(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
) -> Result<Reply, ApiError> {
    let body = ctx.json_body()?;
    let list = body.as_array().ok_or_else(|| {
        ApiError::bad_request("A batch request body must be a list of operations.")
    })?;
    let steps = list
        .iter()
        .map(BatchStep::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let kinds: Vec<BatchOperation> = steps.iter().map(|s| s.operation.clone()).collect();
    let atomic = ctx
        .header("x-ms-cosmos-batch-atomic")
        .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"));
    let outcome = if atomic {
        gateway
            .engine
            .execute_batch(db, coll, &ctx.partition_key()?, steps)
            .await?
    } else {
        // Bulk: each operation names its own partition key.
        let keys = list
            .iter()
            .map(operation_key)
            .collect::<Result<Vec<_>, _>>()?;
        let continue_on_error = ctx.flag("x-ms-cosmos-batch-continue-on-error");
        gateway
            .engine
            .execute_bulk(
                db,
                coll,
                keys.into_iter().zip(steps).collect(),
                continue_on_error,
            )
            .await?
    };
    let mut total = 0.0;
    let results: Vec<Value> = kinds
        .iter()
        .zip(outcome.results)
        .map(|(kind, result)| {
            let mut entry = Map::new();
            match result {
                Ok((document, created)) => {
                    let (status, ru) = success(kind, created, document.to_string().len());
                    total += ru;
                    entry.insert("statusCode".into(), json!(status.as_u16()));
                    entry.insert("requestCharge".into(), json!(ru));
                    if let Some(etag) = document.get("_etag") {
                        entry.insert("eTag".into(), etag.clone());
                    }
                    if !document.is_null() {
                        entry.insert("resourceBody".into(), document);
                    }
                }
                Err(err) => {
                    let err = ApiError::from(err);
                    entry.insert("statusCode".into(), json!(err.status.as_u16()));
                    entry.insert("subStatusCode".into(), json!(err.substatus));
                    entry.insert("requestCharge".into(), json!(0.0));
                    entry.insert("message".into(), json!(err.message));
                }
            }
            Value::Object(entry)
        })
        .collect();
    let status = if outcome.committed {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok(Reply::json(status, Value::Array(results))
        .charge(total.max(1.0))
        .header(
            "x-ms-session-token",
            session_token(&outcome.range_id, outcome.lsn),
        )
        .header("lsn", outcome.lsn.to_string())
        .header("x-ms-documentdb-partitionkeyrangeid", outcome.range_id))
}

/// An operation's status and charge when it succeeded.
fn success(kind: &BatchOperation, created: bool, bytes: usize) -> (StatusCode, f64) {
    match kind {
        BatchOperation::Create { .. } => (StatusCode::CREATED, charge::write(bytes)),
        BatchOperation::Upsert { .. } if created => (StatusCode::CREATED, charge::write(bytes)),
        BatchOperation::Upsert { .. }
        | BatchOperation::Replace { .. }
        | BatchOperation::Patch { .. } => (StatusCode::OK, charge::replace(bytes)),
        BatchOperation::Read { .. } => (StatusCode::OK, charge::point_read(bytes)),
        BatchOperation::Delete { .. } => (StatusCode::NO_CONTENT, charge::delete(1024)),
    }
}

/// A bulk operation's `partitionKey`: the header's JSON form, as a string or inline.
fn operation_key(op: &Value) -> Result<ItemKey, ApiError> {
    match op.get("partitionKey") {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(parse_partition_key_header(text)?)),
        Some(inline) => Ok(Some(parse_partition_key_header(&inline.to_string())?)),
    }
}
