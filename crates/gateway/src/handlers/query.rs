//! Queries: the query plan the SDKs ask for first, and execution over one
//! partition key, one physical partition or the whole container.

use axum::http::StatusCode;
use cosmonaut_engine::error::substatus::CROSS_PARTITION_QUERY_NOT_SERVABLE;
use cosmonaut_engine::{IndexUse, ItemScope};
use cosmonaut_query::{Parameters, Query};
use serde_json::{json, Value};

use super::page_bytes;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
use crate::telemetry::SlowQuery;
use crate::Gateway;

mod metrics;

/// The query text and parameters of a query request body.
/// The service's limits on a query's text and its JOINs.
const MAX_QUERY_BYTES: usize = 512 * 1024;
const MAX_JOINS: usize = 10;

pub(crate) fn parse_body(ctx: &RequestContext) -> Result<(Query, Parameters), ApiError> {
    let body = ctx.json_body()?;
    let text = body.get("query").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request("The query request body must have a string 'query'.")
    })?;
    if text.len() > MAX_QUERY_BYTES {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The query text is {} bytes; the limit is {MAX_QUERY_BYTES} bytes.",
                text.len()
            ),
        ));
    }
    let parameters = cosmonaut_query::parameters_from_json(body.get("parameters"))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let query = cosmonaut_query::parse(text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let joins = query.from.as_ref().map_or(0, |f| f.joins.len());
    if joins > MAX_JOINS {
        return Err(ApiError::bad_request(format!(
            "The query has {joins} JOINs; at most {MAX_JOINS} are allowed."
        )));
    }
    Ok((query, parameters))
}

/// Logs a query slower than the server's `--slow-query-ms`: its text, its
/// parameters' names (values only when the server is told to log them),
/// the partitions it covered, what it read, and what it cost.
fn log_slow_query(
    gateway: &Gateway,
    ctx: &RequestContext,
    parameters: &Parameters,
    scope: &ItemScope,
    (documents_read, utilized): (usize, &[IndexUse]),
    request_charge: f64,
    elapsed: std::time::Duration,
) {
    let with_values = gateway.telemetry.config().log_parameter_values;
    let body = ctx.json_body().ok();
    let text = body
        .as_ref()
        .and_then(|b| b.get("query"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut named: Vec<String> = parameters
        .iter()
        .map(|(name, value)| match with_values {
            true => format!("{name}={value}"),
            false => name.clone(),
        })
        .collect();
    named.sort();
    let scope = match scope {
        ItemScope::All => "all partitions".to_string(),
        ItemScope::PartitionKey(key) if with_values => format!(
            "partition key {}",
            Value::Array(key.iter().map(|v| v.to_json()).collect())
        ),
        ItemScope::PartitionKey(_) => "one partition key".to_string(),
        ItemScope::Range { id, .. } => format!("partition key range {id}"),
    };
    let indexes = utilized
        .iter()
        .map(|index| match index {
            IndexUse::Single(spec) => spec.clone(),
            IndexUse::Composite(specs) => format!("({})", specs.join(", ")),
        })
        .collect();
    gateway.telemetry.slow_query(
        &ctx.activity_id,
        &SlowQuery {
            text,
            parameters: named,
            scope,
            documents_read,
            indexes,
            request_charge,
            elapsed,
        },
    );
}

/// Runs the request's query over `resources` (offers, scripts): lists the
/// gateway answers whole.
pub(crate) fn run_over(
    ctx: &RequestContext,
    resources: Vec<Value>,
) -> Result<Vec<Value>, ApiError> {
    let (query, parameters) = parse_body(ctx)?;
    query
        .validate(&parameters)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    query
        .run(resources, &parameters)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The plan a client asks for before running a query across partitions:
/// what it must merge, the query each partition runs instead, and the EPK
/// ranges to visit.
pub fn plan(ctx: &RequestContext) -> Result<Reply, ApiError> {
    let (query, parameters) = parse_body(ctx)?;
    query
        .validate(&parameters)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if let Some(supported) = ctx.header("x-ms-cosmos-supported-query-features") {
        let supported: Vec<&str> = supported.split(',').map(str::trim).collect();
        let missing: Vec<&str> = cosmonaut_query::required_features(&query)
            .into_iter()
            .filter(|f| !supported.contains(f))
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Query contains 1 or more unsupported features. Upgrade your SDK to a version that \
                 does support the requested features: Query contained {}, which the calling client \
                 does not support.",
                missing.join(", ")
            )));
        }
    }
    Ok(Reply::json(
        StatusCode::OK,
        partitioned_execution_info(&query, &parameters)?,
    )
    .charge(crate::charge::METADATA))
}

fn partitioned_execution_info(query: &Query, parameters: &Parameters) -> Result<Value, ApiError> {
    let query_info = cosmonaut_query::query_info(query, parameters)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(json!({
        "partitionedQueryExecutionInfoVersion": 2,
        "queryInfo": query_info,
        "queryRanges": [{"min": "", "max": "FF", "isMinInclusive": true, "isMaxInclusive": false}]
    }))
}

pub fn run(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
) -> Result<Reply, ApiError> {
    let (query, parameters) = parse_body(ctx)?;
    super::require_cross_partition_consent(ctx, || {
        Ok(gateway.engine.query_pins_one_partition(db, coll, &query)?)
    })?;
    let scope = ctx.item_scope()?;
    let started = std::time::Instant::now();
    let result = gateway
        .engine
        .query_items(db, coll, &scope, &query, &parameters, &ctx.feed_request()?)
        .map_err(|err| {
            let needs_plan = err.substatus == CROSS_PARTITION_QUERY_NOT_SERVABLE;
            let mut api = ApiError::from(err);
            if needs_plan {
                api.additional_info = partitioned_execution_info(&query, &parameters)
                    .ok()
                    .map(|plan| plan.to_string());
            }
            api
        })?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let count = result.page.items.len();
    let retrieved = result.page.documents_read;
    let page_metrics = result.metrics.clone();
    let bytes = page_bytes(&result.page);
    let mut reply = super::items::item_page_reply(db, coll, &scope, result, bytes)
        .charge(crate::charge::query(retrieved, bytes));
    let elapsed = started.elapsed();
    if gateway.telemetry.is_slow(elapsed) {
        log_slow_query(
            gateway,
            ctx,
            &parameters,
            &scope,
            (retrieved, &page_metrics.utilized),
            reply.request_charge(),
            elapsed,
        );
    }
    if ctx.flag("x-ms-documentdb-populatequerymetrics") {
        let figures = metrics::PageFigures {
            metrics: &page_metrics,
            elapsed_ms,
            retrieved_count: retrieved,
            output_count: count,
            output_bytes: bytes,
        };
        reply = reply.header(
            "x-ms-documentdb-query-metrics",
            metrics::query_metrics(&figures),
        );
    }
    // Current SDKs ask for the V2 form; older ones (Python) for the base64 one.
    let v2 = ctx.flag("x-ms-cosmos-populateindexmetrics-v2");
    if v2 || ctx.flag("x-ms-cosmos-populateindexmetrics") {
        let potential = gateway
            .engine
            .potential_indexes(db, coll, &query, &parameters)?;
        let report = metrics::IndexReport {
            utilized: &page_metrics.utilized,
            potential: &potential,
        };
        let text = if v2 {
            metrics::index_metrics_v2(&report)
        } else {
            metrics::index_metrics_v1(&report)
        };
        reply = reply.header("x-ms-cosmos-index-utilization", text);
    }
    Ok(reply)
}
