//! Running queries over a container's items.

use cosmonaut_query::{Parameters, Query, QueryError};
use serde_json::Value;

use crate::containers::read_counters;
use crate::engine::{require_container, Engine};
use crate::error::{substatus, EngineError, Result};
use crate::feed::{page_of_results, FeedRequest};
use crate::items::{scope_keys, ItemPage, ItemScope};
use crate::records::decode;

fn query_error(err: QueryError) -> EngineError {
    EngineError::bad_request(err.to_string())
}

impl Engine {
    /// Runs a query over the items in `scope`, a page at a time.
    ///
    /// Queries whose results come document by document page by storage key,
    /// like the read feed. Ordered, grouped, aggregated, `DISTINCT`, `TOP` and
    /// `OFFSET` queries are computed over the whole scope and paged by result
    /// offset. A request for one physical partition answers for that partition
    /// only; merging partitions is the client's, guided by the query plan.
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
        if query.is_streaming() {
            return self.scan_items(db, coll, scope, request, |doc| {
                query.run_document(doc, parameters).map_err(query_error)
            });
        }
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
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
        let documents = if query.from.is_some() {
            let (start, end) = scope_keys(&container, scope)?;
            snapshot
                .scan(&start, &end, usize::MAX)?
                .into_iter()
                .map(|(_, bytes)| decode::<Value>(&bytes))
                .collect::<Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        let results = query.run(documents, parameters).map_err(query_error)?;
        let page = page_of_results(results, request)?;
        let counters = read_counters(snapshot.as_ref(), &container.rid)?;
        Ok(ItemPage {
            page,
            container_rid: container.rid_text(),
            lsn: counters.lsn,
        })
    }
}
