//! The parts of a request the handlers use, with the service's header parsing.

use axum::http::header::AsHeaderName;
use axum::http::{HeaderMap, HeaderName, Method};
use bytes::Bytes;
use cosmonaut_engine::partition::{parse_partition_key_header, Epk, PartitionKeyValue};
use cosmonaut_engine::{FeedRequest, ItemScope, Throughput, Triggers, WriteOptions};
use serde_json::Value;

use crate::error::ApiError;
use crate::header_names as names;

pub struct RequestContext {
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `https` or `http`: the listener the request came in on.
    pub scheme: &'static str,
    /// `host[:port]` the client used: HTTP/2's `:authority`, else the `Host` header.
    pub host: String,
    /// The request's activity id, for log lines about it.
    pub activity_id: String,
}

impl RequestContext {
    pub fn header(&self, name: impl AsHeaderName) -> Option<&str> {
        crate::auth::header(&self.headers, name)
    }

    pub fn flag(&self, name: impl AsHeaderName) -> bool {
        self.header(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn is_upsert(&self) -> bool {
        self.flag(names::IS_UPSERT)
    }

    /// `A-IM: Incremental feed` (latest version) or `Full-Fidelity Feed`
    /// (all versions and deletes): a change feed read.
    pub fn is_change_feed(&self) -> bool {
        self.header(names::A_IM).is_some_and(|v| {
            v.trim().eq_ignore_ascii_case("incremental feed") || self.is_all_versions_feed()
        })
    }

    /// `A-IM: Full-Fidelity Feed`: the all-versions-and-deletes change feed.
    pub fn is_all_versions_feed(&self) -> bool {
        self.header(names::A_IM)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("full-fidelity feed"))
    }

    pub fn is_batch(&self) -> bool {
        self.flag(names::IS_BATCH)
    }

    pub fn is_query(&self) -> bool {
        self.flag(names::IS_QUERY)
            || self
                .header(names::CONTENT_TYPE)
                .is_some_and(|v| v.starts_with("application/query+json"))
    }

    /// `Prefer: return=minimal`: a write answers with headers only.
    pub fn prefers_minimal(&self) -> bool {
        self.header(axum::http::HeaderName::from_static("prefer"))
            .is_some_and(|v| {
                v.split([',', ';'])
                    .any(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
            })
    }

    pub fn is_query_plan_request(&self) -> bool {
        self.flag(names::IS_QUERY_PLAN)
    }

    /// Which items a feed or query covers: a partition key, else one
    /// physical partition, else the whole container.
    pub fn item_scope(&self) -> Result<ItemScope, ApiError> {
        Ok(
            match (self.partition_key()?, self.partition_key_range_id()) {
                // The empty key names no partition: the query spans them all.
                (Some(key), _) if !key.is_empty() => ItemScope::PartitionKey(key),
                (_, Some(id)) => ItemScope::Range {
                    id,
                    start: self.epk_header("x-ms-start-epk")?,
                    end: self.epk_header("x-ms-end-epk")?,
                },
                (_, None) => ItemScope::All,
            },
        )
    }

    fn epk_header(&self, name: &str) -> Result<Option<Epk>, ApiError> {
        self.header(name)
            .map(|v| {
                Epk::from_hex(v).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Invalid effective partition key '{v}' in {name}."
                    ))
                })
            })
            .transpose()
    }

    pub fn if_match(&self) -> Option<String> {
        self.header(names::IF_MATCH).map(str::to_string)
    }

    /// The triggers a write names: comma-separated ids in
    /// `x-ms-documentdb-pre-trigger-include` and `-post-trigger-include`.
    pub fn triggers(&self) -> Triggers {
        let ids = |header: HeaderName| -> Vec<String> {
            self.header(header)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        };
        Triggers {
            pre: ids(names::PRE_TRIGGERS),
            post: ids(names::POST_TRIGGERS),
        }
    }

    /// The `If-Match` condition and triggers of an item write.
    pub fn write_options(&self) -> WriteOptions {
        WriteOptions {
            if_match: self.if_match(),
            triggers: self.triggers(),
        }
    }

    pub fn if_none_match(&self) -> Option<&str> {
        self.header(names::IF_NONE_MATCH)
    }

    /// The request body as JSON (text or Cosmos binary), with the service's
    /// message for malformed input.
    pub fn json_body(&self) -> Result<Value, ApiError> {
        if crate::binary_json::is_binary(&self.body) {
            return crate::binary_json::decode(&self.body)
                .map_err(|e| ApiError::bad_request(format!("The input content is invalid: {e}")));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::bad_request(format!(
                "The input content is invalid because it is not valid JSON: {e}"
            ))
        })
    }

    pub fn partition_key(&self) -> Result<Option<Vec<PartitionKeyValue>>, ApiError> {
        self.header(names::PARTITION_KEY)
            .map(|h| parse_partition_key_header(h).map_err(ApiError::from))
            .transpose()
    }

    pub fn partition_key_range_id(&self) -> Option<String> {
        // Some clients send "collectionRid,rangeId".
        self.header(names::PARTITION_KEY_RANGE_ID)
            .map(|v| v.rsplit(',').next().unwrap_or(v).trim().to_string())
    }

    pub fn feed_request(&self) -> Result<FeedRequest, ApiError> {
        let max_items = self
            .header("x-ms-max-item-count")
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "Invalid value '{v}' for header x-ms-max-item-count."
                    ))
                })
            })
            .transpose()?;
        Ok(FeedRequest {
            max_items,
            continuation: self.header("x-ms-continuation").map(str::to_string),
        })
    }

    /// The throughput a create asks for: `x-ms-offer-throughput` (manual
    /// RU/s) or `x-ms-cosmos-offer-autopilot-settings` (`{"maxThroughput": n}`).
    pub fn offer_throughput(&self) -> Result<Option<Throughput>, ApiError> {
        if let Some(v) = self.header("x-ms-offer-throughput") {
            return v
                .trim()
                .parse::<u64>()
                .map(|ru| Some(Throughput::Manual(ru)))
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "Invalid value '{v}' for header x-ms-offer-throughput."
                    ))
                });
        }
        let Some(v) = self.header("x-ms-cosmos-offer-autopilot-settings") else {
            return Ok(None);
        };
        let settings = serde_json::from_str::<Value>(v).ok();
        if let Some(parsed) = settings.as_ref().and_then(Throughput::autoscale_settings) {
            return parsed.map(Some).map_err(ApiError::from);
        }
        Err(ApiError::bad_request(format!(
            "Invalid value '{v}' for header x-ms-cosmos-offer-autopilot-settings."
        )))
    }

    /// Refuses an `x-ms-consistency-level` the account cannot give. The
    /// account is Session, so a request may ask for Session or a weaker
    /// level (reads are served from the latest commit either way) but not
    /// Strong or Bounded Staleness, which the service refuses with 400.
    pub fn check_consistency_level(&self) -> Result<(), ApiError> {
        let Some(v) = self.header(names::CONSISTENCY_LEVEL) else {
            return Ok(());
        };
        const WEAKER_OR_EQUAL: [&str; 3] = ["Session", "ConsistentPrefix", "Eventual"];
        const STRONGER: [&str; 2] = ["Strong", "BoundedStaleness"];
        let level = v.trim();
        if WEAKER_OR_EQUAL
            .iter()
            .any(|l| l.eq_ignore_ascii_case(level))
        {
            Ok(())
        } else if STRONGER.iter().any(|l| l.eq_ignore_ascii_case(level)) {
            Err(ApiError::bad_request(format!(
                "ConsistencyLevel {level} specified in the request is invalid when the account is \
                 configured with consistency level Session. Ensure the request consistency level \
                 is not stronger than the account's."
            )))
        } else {
            Err(ApiError::bad_request(format!(
                "Invalid value '{v}' for header x-ms-consistency-level: expected Session, \
                 ConsistentPrefix or Eventual."
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(name: &'static str, value: &str) -> RequestContext {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().expect("a valid header value"));
        RequestContext {
            method: Method::GET,
            headers,
            body: Bytes::new(),
            scheme: "https",
            host: "localhost".into(),
            activity_id: String::new(),
        }
    }

    #[test]
    fn consistency_levels_up_to_session_are_accepted() {
        for level in ["Session", "eventual", "ConsistentPrefix"] {
            let ctx = with_header("x-ms-consistency-level", level);
            assert!(ctx.check_consistency_level().is_ok(), "{level}");
        }
        let none = with_header("x-ms-other", "x");
        assert!(none.check_consistency_level().is_ok());
    }

    #[test]
    fn stronger_or_unknown_consistency_levels_are_refused() {
        for level in ["Strong", "BoundedStaleness", "Sessionx", ""] {
            let err = with_header("x-ms-consistency-level", level)
                .check_consistency_level()
                .expect_err(level);
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST, "{level}");
        }
    }
}
