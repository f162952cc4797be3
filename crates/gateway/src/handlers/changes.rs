//! The change feed: `GET .../docs` with `A-IM: Incremental feed`. Where it
//! starts comes from `If-None-Match` (`*`: now; an etag from an earlier
//! page: after it) or `If-Modified-Since` (a point in time), else the
//! beginning. The answer's `etag` is the continuation; 304 when nothing
//! changed. `A-IM: Full-Fidelity Feed` asks for every version and delete
//! instead, each as `{current, metadata}`.

use axum::http::StatusCode;
use cosmonaut_engine::{ChangeFeedStart, FeedPage};

use super::items::session_token;
use super::{page_bytes, sized_feed_reply};
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::RequestContext;
use crate::Gateway;

pub fn read(
    gateway: &Gateway,
    ctx: &RequestContext,
    db: &str,
    coll: &str,
) -> Result<Reply, ApiError> {
    let scope = ctx.item_scope()?;
    let start = start_of(ctx)?;
    let request = ctx.feed_request()?;
    let page = if ctx.is_all_versions_feed() {
        gateway
            .engine
            .read_all_versions(db, coll, &scope, start, &request)?
    } else {
        gateway
            .engine
            .read_changes(db, coll, &scope, start, &request)?
    };
    let etag = format!("\"{}\"", page.lsn);
    let range_id = ctx.partition_key_range_id().unwrap_or_else(|| "0".into());
    let reply = if page.items.is_empty() {
        Reply::empty(StatusCode::NOT_MODIFIED).charge(1.0)
    } else {
        let feed = FeedPage {
            items: page.items,
            continuation: None,
            documents_read: 0,
        };
        let bytes = page_bytes(&feed);
        sized_feed_reply("Documents", &page.container_rid, feed, bytes)
    };
    Ok(reply
        .header("etag", etag)
        .header("x-ms-session-token", session_token(&range_id, page.lsn))
        .header("lsn", page.lsn.to_string()))
}

fn start_of(ctx: &RequestContext) -> Result<ChangeFeedStart, ApiError> {
    if let Some(tag) = ctx.if_none_match() {
        let tag = tag.trim();
        if tag == "*" {
            return Ok(ChangeFeedStart::Now);
        }
        return tag
            .trim_matches('"')
            .parse::<u64>()
            .map(ChangeFeedStart::After)
            .map_err(|_| {
                ApiError::bad_request(format!("Invalid change feed continuation (etag) '{tag}'."))
            });
    }
    if let Some(date) = ctx.header("if-modified-since") {
        let when = httpdate::parse_http_date(date.trim()).map_err(|_| {
            ApiError::bad_request(format!("Invalid If-Modified-Since date '{date}'."))
        })?;
        let second = when
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        return Ok(ChangeFeedStart::Since(second));
    }
    Ok(ChangeFeedStart::Beginning)
}
