//! Batches: `POST .../docs` with `x-ms-cosmos-is-batch-request`. The body is
//! a list of operations; the answer lists one result per operation, with
//! 200 when every operation succeeded and 207 (multi-status) otherwise.
//! Atomic (transactional) batches store nothing when one fails; bulk
//! requests (`x-ms-cosmos-batch-atomic: false`) keep what succeeded.

use axum::http::StatusCode;
use cosmonaut_engine::partition::parse_partition_key_header;
use cosmonaut_engine::{BatchOperation, BatchStep, EngineError, ItemKey};
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
    let atomic = ctx
        .header("x-ms-cosmos-batch-atomic")
        .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"));
    let (kinds, outcome) = if atomic {
        // A transactional batch that cannot be read is refused whole.
        let steps = list
            .iter()
            .map(BatchStep::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let kinds: Vec<_> = steps.iter().map(|s| Some(s.operation.clone())).collect();
        let outcome = gateway
            .engine
            .execute_batch(db, coll, &ctx.partition_key()?, steps)
            .await?;
        (kinds, outcome)
    } else {
        // Bulk: each operation names its own partition key, and one that
        // cannot be read fails alone.
        let steps: Vec<_> = list
            .iter()
            .map(|op| Ok((operation_key(op)?, BatchStep::parse(op)?)))
            .collect();
        let kinds = steps
            .iter()
            .map(|s| s.as_ref().ok().map(|(_, step)| step.operation.clone()))
            .collect();
        let continue_on_error = ctx.flag("x-ms-cosmos-batch-continue-on-error");
        let outcome = gateway
            .engine
            .execute_bulk(db, coll, steps, continue_on_error)
            .await?;
        (kinds, outcome)
    };
    let results: Vec<Value> = kinds
        .iter()
        .zip(outcome.results)
        .map(|(kind, result)| result_entry(kind.as_ref(), result))
        .collect();
    // The response's charge is the sum of its operations', as the SDKs
    // that check it expect.
    let total: f64 = results
        .iter()
        .filter_map(|r| r["requestCharge"].as_f64())
        .sum();
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

/// One operation's entry in the response. A failed operation is charged
/// as a refused request; one that did not run (424) costs nothing.
fn result_entry(
    kind: Option<&BatchOperation>,
    result: Result<(Value, bool), EngineError>,
) -> Value {
    let mut entry = Map::new();
    match (kind, result) {
        (Some(kind), Ok((document, created))) => {
            let (status, ru) = success(kind, created, document.to_string().len());
            entry.insert("statusCode".into(), json!(status.as_u16()));
            entry.insert("requestCharge".into(), json!(ru));
            if let Some(etag) = document.get("_etag") {
                entry.insert("eTag".into(), etag.clone());
            }
            if !document.is_null() {
                entry.insert("resourceBody".into(), document);
            }
        }
        (_, Err(err)) => {
            let err = ApiError::from(err);
            let ru = if err.status == StatusCode::FAILED_DEPENDENCY {
                0.0
            } else {
                charge::REFUSED
            };
            entry.insert("statusCode".into(), json!(err.status.as_u16()));
            entry.insert("subStatusCode".into(), json!(err.substatus));
            entry.insert("requestCharge".into(), json!(ru));
            entry.insert("message".into(), json!(err.message));
        }
        // An operation that could not be read never succeeds.
        (None, Ok(_)) => {}
    }
    Value::Object(entry)
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
fn operation_key(op: &Value) -> Result<ItemKey, EngineError> {
    match op.get("partitionKey") {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(parse_partition_key_header(text)?)),
        Some(inline) => Ok(Some(parse_partition_key_header(&inline.to_string())?)),
    }
}
