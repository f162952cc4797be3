//! Names of the headers every item request reads or its reply carries,
//! made at compile time.
//!
//! `HeaderMap::get` with a `&str` parses and lowercases the name before it
//! can hash it, some 400 instructions for an `x-ms-...` name; a create
//! looked up fourteen of them, and a reply checked each name it set. A
//! `HeaderName` made by `from_static` skips that work. Headers of rarer
//! requests keep their string literals at the call site.

use axum::http::HeaderName;

pub const AUTHORIZATION: HeaderName = HeaderName::from_static("authorization");
pub const CONTENT_TYPE: HeaderName = HeaderName::from_static("content-type");
pub const DATE: HeaderName = HeaderName::from_static("date");
pub const HOST: HeaderName = HeaderName::from_static("host");
pub const IF_MATCH: HeaderName = HeaderName::from_static("if-match");
pub const IF_NONE_MATCH: HeaderName = HeaderName::from_static("if-none-match");
pub const A_IM: HeaderName = HeaderName::from_static("a-im");
pub const ACTIVITY_ID: HeaderName = HeaderName::from_static("x-ms-activity-id");
pub const MS_DATE: HeaderName = HeaderName::from_static("x-ms-date");
pub const CONSISTENCY_LEVEL: HeaderName = HeaderName::from_static("x-ms-consistency-level");
pub const PARTITION_KEY: HeaderName = HeaderName::from_static("x-ms-documentdb-partitionkey");
pub const PARTITION_KEY_RANGE_ID: HeaderName =
    HeaderName::from_static("x-ms-documentdb-partitionkeyrangeid");
pub const IS_UPSERT: HeaderName = HeaderName::from_static("x-ms-documentdb-is-upsert");
pub const IS_QUERY: HeaderName = HeaderName::from_static("x-ms-documentdb-isquery");
pub const IS_BATCH: HeaderName = HeaderName::from_static("x-ms-cosmos-is-batch-request");
pub const IS_QUERY_PLAN: HeaderName = HeaderName::from_static("x-ms-cosmos-is-query-plan-request");
pub const PRE_TRIGGERS: HeaderName = HeaderName::from_static("x-ms-documentdb-pre-trigger-include");
pub const POST_TRIGGERS: HeaderName =
    HeaderName::from_static("x-ms-documentdb-post-trigger-include");

// Reply headers (see `reply::header_name`).
pub const SESSION_TOKEN: HeaderName = HeaderName::from_static("x-ms-session-token");
pub const LSN: HeaderName = HeaderName::from_static("lsn");
pub const ALT_CONTENT_PATH: HeaderName = HeaderName::from_static("x-ms-alt-content-path");
pub const CONTENT_PATH: HeaderName = HeaderName::from_static("x-ms-content-path");
pub const ITEM_COUNT: HeaderName = HeaderName::from_static("x-ms-item-count");
pub const CONTINUATION: HeaderName = HeaderName::from_static("x-ms-continuation");
pub const SUBSTATUS: HeaderName = HeaderName::from_static("x-ms-substatus");
pub const REQUEST_CHARGE: HeaderName = HeaderName::from_static("x-ms-request-charge");
pub const REQUEST_DURATION: HeaderName = HeaderName::from_static("x-ms-request-duration-ms");
