use axum::http::{Method, StatusCode};
use cosmonaut_engine::{ContainerInfo, NewContainer};
use serde_json::json;

use super::{feed_reply, query_feed_reply, whole_feed};
use crate::charge::METADATA;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
use crate::Gateway;

/// Per-item quota the service reports; `-1` is "no limit".
const QUOTA: &str = "functions=25;storedProcedures=100;triggers=25;documentSize=10240;\
                     documentsSize=10485760;documentsCount=-1;collectionSize=10485760";

/// `/dbs/{db}/colls`: create and list.
pub async fn feed(gateway: &Gateway, ctx: &RequestContext, db: &str) -> Result<Reply, ApiError> {
    match ctx.method {
        Method::POST if ctx.is_query() => {
            let (all, owner) = whole_feed(|r| Ok(gateway.engine.list_containers(db, r)?))?;
            query_feed_reply(ctx, "DocumentCollections", &owner, all)
        }
        Method::POST => {
            let new = NewContainer {
                body: ctx.json_body()?,
                throughput: ctx.offer_throughput()?,
            };
            let body = gateway.engine.create_container(db, new).await?;
            Ok(Reply::json(StatusCode::CREATED, body)
                .etag_from_body()
                .charge(METADATA))
        }
        Method::GET => {
            let (page, db_rid) = gateway.engine.list_containers(db, &ctx.feed_request()?)?;
            Ok(feed_reply("DocumentCollections", &db_rid, page))
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

/// `/dbs/{db}/colls/{coll}`: read, replace and delete.
pub async fn one(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
) -> Result<Reply, ApiError> {
    match ctx.method {
        Method::GET => {
            let info = gateway.engine.read_container(db, coll)?;
            let mut body = info.body.clone();
            if ctx.flag("x-ms-documentdb-populatepartitionstatistics") {
                body["statistics"] = gateway.engine.partition_statistics(db, coll)?.into();
            }
            Ok(with_usage(Reply::json(StatusCode::OK, body), &info))
        }
        Method::PUT => {
            let body = gateway
                .engine
                .replace_container(db, coll, ctx.json_body()?, ctx.if_match())
                .await?;
            Ok(Reply::json(StatusCode::OK, body)
                .etag_from_body()
                .charge(METADATA))
        }
        Method::DELETE => {
            gateway.engine.delete_container(db, coll).await?;
            Ok(Reply::empty(StatusCode::NO_CONTENT).charge(METADATA))
        }
        _ => Err(ApiError::method_not_allowed(ctx.method.as_str())),
    }
}

fn with_usage(reply: Reply, info: &ContainerInfo) -> Reply {
    let usage = format!(
        "functions=0;storedProcedures=0;triggers=0;documentSize={};documentsSize={};\
         documentsCount={};collectionSize={}",
        info.document_bytes / 1024,
        info.document_bytes / 1024,
        info.document_count,
        info.document_bytes / 1024
    );
    reply
        .etag_from_body()
        .charge(METADATA)
        .header("x-ms-resource-quota", QUOTA)
        .header("x-ms-resource-usage", usage)
        .header("x-ms-content-path", info.rid.clone())
        // Index changes apply within the write that makes them: a
        // transformation is always complete.
        .header(
            "x-ms-documentdb-collection-index-transformation-progress",
            "100",
        )
        .header("lsn", info.lsn.to_string())
}

/// `/dbs/{db}/colls/{coll}/pkranges`: the physical partitions. The ranges of
/// a container never change here, so an incremental read (`If-None-Match`
/// with the etag of a previous answer) gets 304.
pub fn partition_key_ranges(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
) -> Result<Reply, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    let (ranges, coll_rid) = gateway.engine.partition_key_ranges(db, coll)?;
    let etag = format!("\"{coll_rid}-{}\"", ranges.len());
    if ctx.if_none_match() == Some(etag.as_str()) {
        return Ok(Reply::empty(StatusCode::NOT_MODIFIED)
            .header("etag", etag)
            .charge(METADATA));
    }
    let count = ranges.len();
    let body = json!({"_rid": coll_rid, "PartitionKeyRanges": ranges, "_count": count});
    Ok(Reply::json(StatusCode::OK, body)
        .header("etag", etag)
        .header("x-ms-item-count", count.to_string())
        .header("x-ms-content-path", coll_rid)
        .charge(METADATA))
}
