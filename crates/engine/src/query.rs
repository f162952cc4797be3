//! Running queries over a container's items, through an index when one
//! answers part of the `WHERE` clause.

use std::collections::BTreeSet;

use cosmonaut_query::{Parameters, Query, QueryError};
use cosmonaut_storage::KvRead;
use serde_json::Value;

use crate::containers::read_counters;
use crate::engine::{require_container, Engine};
use crate::error::{substatus, EngineError, Result};
use crate::feed::{page_of_results, read_keys_page, read_page, FeedRequest};
use crate::index::{self, IndexPolicy};
use crate::items::{scope_keys, ItemPage, ItemScope};
use crate::records::{decode, ContainerRecord};

fn query_error(err: QueryError) -> EngineError {
    EngineError::bad_request(err.to_string())
}

impl Engine {
    /// Runs a query over the items in `scope`, a page at a time.
    ///
    /// When the container's index answers a `WHERE` conjunct, only the items
    /// it names are read; the whole query still runs on each. Queries whose
    /// results come document by document page by storage key, like the read
    /// feed. Ordered, grouped, aggregated, `DISTINCT`, `TOP` and `OFFSET`
    /// queries are computed over their scope and paged by result offset. A
    /// request for one physical partition answers for that partition only;
    /// merging partitions is the client's, guided by the query plan.
    pub fn query_items(
        &self,
        db: &str,
        coll: &str,
        scope: &ItemScope,
        query: &Query,
        parameters: &Parameters,
        request: &FeedRequest,
    ) -> Result<ItemPage> {
        query.validate(parameters).map_err(query_error)?;
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        let (start, end) = scope_keys(&container, scope)?;
        let (index_path, candidates) = match index_candidates(
            snapshot.as_ref(),
            &container,
            query,
            parameters,
            &start,
            &end,
        )? {
            Some((path, keys)) => (Some(path), Some(keys)),
            None => (None, None),
        };
        let page = if query.is_streaming() {
            let run = |bytes: &[u8]| {
                query
                    .run_document(decode(bytes)?, parameters)
                    .map_err(query_error)
            };
            match &candidates {
                Some(keys) => read_keys_page(snapshot.as_ref(), keys, &start, &end, request, run)?,
                None => read_page(snapshot.as_ref(), &start, &end, request, run)?,
            }
        } else {
            if matches!(scope, ItemScope::All) && container.partition_count > 1 {
                // The service leaves merging several partitions' results to the client,
                // which then asks for the query plan.
                return Err(EngineError::bad_request(
                    "The cross-partition query cannot be served directly by the gateway: it needs \
                     results merged across physical partitions. Current SDKs handle this by \
                     requesting the query plan.",
                )
                .with_substatus(substatus::CROSS_PARTITION_QUERY_NOT_SERVABLE));
            }
            let documents: Vec<Value> = match (&candidates, query.from.is_some()) {
                (_, false) => Vec::new(),
                (Some(keys), true) => keys
                    .iter()
                    .filter_map(|k| snapshot.get(k).transpose())
                    .map(|bytes| decode::<Value>(&bytes?))
                    .collect::<Result<_>>()?,
                (None, true) => snapshot
                    .scan(&start, &end, usize::MAX)?
                    .into_iter()
                    .map(|(_, bytes)| decode::<Value>(&bytes))
                    .collect::<Result<_>>()?,
            };
            let read = documents.len();
            let results = query.run(documents, parameters).map_err(query_error)?;
            let mut page = page_of_results(results, request)?;
            page.documents_read = read;
            page
        };
        let counters = read_counters(snapshot.as_ref(), &container.rid)?;
        Ok(ItemPage {
            page,
            container_rid: container.rid_text(),
            lsn: counters.lsn,
            index_path,
        })
    }
}

/// The index path used and the item keys within `[start, end)` it names,
/// or `None` when no index answers the query.
fn index_candidates(
    reader: &dyn KvRead,
    container: &ContainerRecord,
    query: &Query,
    parameters: &Parameters,
    start: &[u8],
    end: &[u8],
) -> Result<Option<(String, BTreeSet<Vec<u8>>)>> {
    let policy = IndexPolicy::from_container(&container.body);
    if !policy.enabled() {
        return Ok(None);
    }
    let Some(lookup) = index::plan_lookup(query, parameters, &policy) else {
        return Ok(None);
    };
    let mut keys = BTreeSet::new();
    for range in &lookup.ranges {
        let Some((from, to)) = index::range_keys(&container.rid, &lookup.path, range) else {
            return Ok(None);
        };
        for (entry, _) in reader.scan(&from, &to, usize::MAX)? {
            if let Some(item_key) = index::item_key_of(&container.rid, &lookup.path, &entry) {
                if item_key.as_slice() >= start && item_key.as_slice() < end {
                    keys.insert(item_key);
                }
            }
        }
    }
    Ok(Some((index::policy_path(&lookup.path), keys)))
}
