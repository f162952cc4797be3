//! Running queries over a container's items, choosing how to read them:
//!
//! - streaming queries (results document by document) page by storage key;
//!   when an index lookup answers a `WHERE` conjunct, a page walks the
//!   index from where the last one stopped: an equality's entries in item
//!   key order ([`equal_walk`]), a range's in value order (the walk of
//!   [`ordered`]); other lookups page through the set of keys they name;
//! - `ORDER BY` queries walk the index in order ([`ordered`]), stopping at
//!   the page or `TOP`, when no item could be missed;
//! - grouping, aggregating and `DISTINCT` queries that read only indexed
//!   paths run over index entries alone ([`covering`]);
//! - anything else is computed whole over its scope (narrowed by a lookup)
//!   and paged by result offset.
//!
//! A request for one physical partition answers for that partition only;
//! merging partitions is the client's, guided by the query plan.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cosmonaut_query::{Context, Parameters, Query, QueryError, UserFunctions};
use cosmonaut_storage::KvRead;
use serde_json::Value;

use crate::containers::{computed_properties, read_counters};
use crate::engine::{now_seconds, require_container, Engine};
use crate::error::{substatus, EngineError, ErrorKind, Result};
use crate::feed::{page_of_results, read_keys_page, read_page, FeedPage, FeedRequest};
use crate::hex::{decode_hex, encode_hex};
use crate::index::{self, IndexPolicy, Lookup, ValueRange};
use crate::items::{scope_keys, ItemPage, ItemScope};
use crate::keys;
use crate::records::{decode, ContainerRecord};
use crate::scripts;
use crate::ttl::Ttl;

mod covering;
mod equal_walk;
mod metrics;
mod ordered;
mod routing;

use metrics::Meter;
pub use metrics::{IndexUse, QueryMetrics};
use ordered::OrderIndex;

fn query_error(err: QueryError) -> EngineError {
    EngineError::bad_request(err.to_string())
}

impl Engine {
    /// The indexes that would serve `query` better than the container's
    /// policy does (index metrics' potential indexes).
    pub fn potential_indexes(
        &self,
        db: &str,
        coll: &str,
        query: &Query,
        parameters: &Parameters,
    ) -> Result<Vec<IndexUse>> {
        let snapshot = self.snapshot()?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        Ok(index::potential_indexes(
            query,
            parameters,
            container.index_policy(),
        ))
    }

    /// Runs a query over the items in `scope`, a page at a time.
    pub fn query_items(
        &self,
        db: &str,
        coll: &str,
        scope: &ItemScope,
        query: &Query,
        parameters: &Parameters,
        request: &FeedRequest,
    ) -> Result<ItemPage> {
        self.query_items_at(None, db, coll, scope, query, parameters, request)
    }

    /// A query as of `at` (see [`Engine::read_point`]), or now.
    #[allow(clippy::too_many_arguments)]
    pub fn query_items_at(
        &self,
        at: Option<&crate::ReadPoint>,
        db: &str,
        coll: &str,
        scope: &ItemScope,
        query: &Query,
        parameters: &Parameters,
        request: &FeedRequest,
    ) -> Result<ItemPage> {
        query.validate(parameters).map_err(query_error)?;
        let snapshot = self.reader(at)?;
        let container = require_container(snapshot.as_ref(), db, coll)?;
        let mut inlined = query.clone();
        inlined.freeze_static_time(std::time::SystemTime::now());
        inlined.inline_computed(&computed_properties(&container.body)?);
        let (start, end) = scope_keys(&container, scope)?;
        let policy = container.index_policy();
        // Planned on the query as written, where an indexed computed property
        // is still a path (`c.lowerName`); it runs inlined on what the lookup names.
        let lookup = policy
            .enabled()
            .then(|| index::plan_lookup(query, parameters, policy))
            .flatten()
            .filter(|l| {
                l.ranges
                    .iter()
                    .all(|r| index::range_keys(&container.rid, &l.path, r).is_some())
            });
        let query = &inlined;
        let counters = read_counters(snapshot.as_ref(), &container.rid)?;
        let functions = query
            .calls_user_functions()
            .then(|| scripts::query_functions(snapshot.as_ref(), &container))
            .transpose()?;
        let run = QueryRun {
            functions: functions.as_deref(),
            reader: snapshot.as_ref(),
            container: &container,
            policy,
            lookup,
            item_count: counters.document_count,
            query,
            parameters,
            start,
            end,
            now: now_seconds(),
            deadline: Instant::now() + self.config.query_time_limit,
            time_limit: self.config.query_time_limit,
            meter: Meter::default(),
            pages_per_partition: matches!(scope, ItemScope::All) && container.partition_count > 1,
        };
        let (page, index_path) = if query.is_streaming() {
            run.streaming(request)?
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
            let order = ordered::order_index(query, run.policy, &container.rid)?;
            match order.as_ref().map(|o| run.ordered_walk(o, request)) {
                Some(walked) => match walked? {
                    Some(done) => done,
                    None => run.whole(order.as_ref(), request)?,
                },
                None => run.whole(None, request)?,
            }
        };
        let mut utilized: Vec<IndexUse> =
            index_path.iter().map(|n| metrics::index_use(n)).collect();
        // A partition key scope is a filter on the partition key, answered
        // by its index (the hash of all paths when there are several).
        if let ItemScope::PartitionKey(_) = scope {
            let def = container.partition_key()?;
            let spec = match def.paths.as_slice() {
                [path] => format!("{path}/?"),
                _ => "/_epk/?".to_string(),
            };
            utilized.insert(0, IndexUse::Single(spec));
        }
        Ok(ItemPage {
            page,
            container_rid: container.rid_text(),
            lsn: counters.lsn,
            index_path,
            metrics: run.meter.finish(utilized),
        })
    }
}

/// One query over one scope, and what choosing how to read it needs.
struct QueryRun<'a> {
    reader: &'a dyn KvRead,
    /// The container's user-defined functions, when the query calls one.
    functions: Option<&'a dyn UserFunctions>,
    container: &'a ContainerRecord,
    policy: &'a IndexPolicy,
    /// The index lookup that answers a `WHERE` conjunct, if any.
    lookup: Option<Lookup>,
    /// Items in the container, to compare with indexes' presence counters.
    item_count: u64,
    query: &'a Query,
    parameters: &'a Parameters,
    /// The scope's item keys: `[start, end)`.
    start: Vec<u8>,
    end: Vec<u8>,
    /// The clock reading expiry is judged by.
    now: u64,
    /// When the page must be done; reading past it is refused with 408.
    deadline: Instant,
    time_limit: Duration,
    meter: Meter,
    /// Whether a page stops at the end of a physical partition, as the
    /// service's gateway serves a cross-partition query one partition at a time.
    pages_per_partition: bool,
}

/// A page and the index (as a policy names it) that produced it.
type Answer = (FeedPage, Option<String>);

/// A query's input documents, how many stored documents were read for
/// them, and the index that named or held them.
type Input = (Vec<Value>, usize, Option<String>);

impl QueryRun<'_> {
    /// Refuses the query once it has run past its time limit, so one query
    /// cannot hold a worker (and a storage snapshot) indefinitely. Returns
    /// the time it read, which starts the next document's load timing.
    fn check_time(&self) -> Result<Instant> {
        let now = Instant::now();
        if now < self.deadline {
            return Ok(now);
        }
        Err(EngineError::new(
            ErrorKind::RequestTimeout,
            format!(
                "The query ran past its time limit of {} ms. Filter on an indexed path, ask for \
                 smaller pages, or raise the server's --query-timeout.",
                self.time_limit.as_millis()
            ),
        ))
    }

    fn run_document(&self, bytes: &[u8]) -> Result<Vec<Value>> {
        let started = self.check_time()?;
        let document: Value = decode(bytes)?;
        self.meter.document(bytes.len(), started);
        if self.is_expired(&document) {
            return Ok(Vec::new());
        }
        self.query
            .run_document_with(document, &self.context())
            .map_err(query_error)
    }

    fn context(&self) -> Context<'_> {
        Context::new(self.parameters, self.functions)
    }

    /// Expired items are gone for queries at once, before the purge removes them.
    fn is_expired(&self, document: &Value) -> bool {
        self.policy.ttl.is_expired(document, self.now)
    }

    fn lookup_name(&self) -> Option<String> {
        self.lookup.as_ref().map(|l| index::policy_path(&l.path))
    }

    fn streaming(&self, request: &FeedRequest) -> Result<Answer> {
        let run = |bytes: &[u8]| self.run_document(bytes);
        let (start, end) = self.page_bounds(request)?;
        let rid = &self.container.rid;
        let mut page = match &self.lookup {
            Some(l) => {
                match equal_walk::read_page(self.reader, rid, l, (&start, &end), request, run)? {
                    Some(page) => page,
                    None => match self.range_walk(l, request)? {
                        Some(page) => page,
                        None => {
                            let keys = self.candidates(l)?;
                            let run = |bytes: &[u8]| self.run_document(bytes);
                            read_keys_page(self.reader, &keys, &start, &end, request, run)?
                        }
                    },
                }
            }
            None => read_page(self.reader, &start, &end, request, run)?,
        };
        // The next page starts at the next partition.
        if page.continuation.is_none() && end < self.end {
            page.continuation = Some(encode_hex(&end));
        }
        Ok((page, self.lookup_name()))
    }

    /// A page of the items one range names (`c.n > 5`), walking its index
    /// entries in value order from the continuation, so a page reads what
    /// it returns rather than every match; `None` where the walk could
    /// return an item twice (entries of array elements) or miss an order
    /// (cut strings), or pages stop at partitions.
    fn range_walk(&self, lookup: &Lookup, request: &FeedRequest) -> Result<Option<FeedPage>> {
        let [range @ ValueRange::Between { .. }] = lookup.ranges.as_slice() else {
            return Ok(None);
        };
        if self.pages_per_partition || lookup.path.contains(&index::Segment::Element) {
            return Ok(None);
        }
        let rid = &self.container.rid;
        let order = OrderIndex::ascending(rid, &lookup.path);
        let Some(walk) =
            ordered::walk_range(self.reader, &order, rid, Some(range), self.item_count)?
        else {
            return Ok(None);
        };
        self.walk_page(&order, walk, (0, None), request).map(Some)
    }

    /// One page of a walk over `range` of `order`'s entries, `window` rows
    /// skipped and taken at most (`TOP`, `OFFSET`/`LIMIT`).
    fn walk_page(
        &self,
        order: &OrderIndex,
        range: ordered::KeyRange,
        window: (usize, Option<usize>),
        request: &FeedRequest,
    ) -> Result<FeedPage> {
        ordered::read_ordered_page(
            self.reader,
            &self.container.rid,
            order,
            range,
            (&self.start, &self.end),
            window,
            request,
            |bytes| self.run_document(bytes),
        )
    }

    /// The item keys a streaming page may read: the whole scope, or the
    /// physical partition the page starts in when pages stop at partitions.
    fn page_bounds(&self, request: &FeedRequest) -> Result<(Vec<u8>, Vec<u8>)> {
        let whole = (self.start.clone(), self.end.clone());
        if !self.pages_per_partition {
            return Ok(whole);
        }
        // A token that names no key is refused by the page read itself.
        let at = match request.continuation.as_deref().map(decode_hex) {
            Some(Some(key)) => key,
            Some(None) => return Ok(whole),
            None => self.start.clone(),
        };
        for range in self.container.ranges()? {
            let (low, high) = keys::epk_range(&self.container.rid, &range.min, range.max.as_ref());
            if at >= low && at < high {
                return Ok((low.max(self.start.clone()), high.min(self.end.clone())));
            }
        }
        Ok(whole)
    }

    /// The page from walking `order`, or `None` when a walk cannot answer.
    fn ordered_walk(&self, order: &OrderIndex, request: &FeedRequest) -> Result<Option<Answer>> {
        if !walkable(self.query) {
            return Ok(None);
        }
        if let Some(lookup) = self.lookup.as_ref().filter(|l| is_point(l)) {
            // An equality filter names few items: reading and sorting them
            // beats a walk, unless a composite index orders them already.
            let rid = &self.container.rid;
            let found = ordered::equality_then_order(
                self.reader,
                self.query,
                self.policy,
                rid,
                lookup,
                self.item_count,
            )?;
            let Some((composite, range)) = found else {
                return Ok(None);
            };
            let window = ordered::window(self.query, self.parameters)?;
            let page = self.walk_page(&composite, range, window, request)?;
            return Ok(Some((page, Some(composite.name.clone()))));
        }
        let bound = ordered::same_path_bound(order, self.lookup.as_ref());
        let rid = &self.container.rid;
        let Some(range) = ordered::walk_range(self.reader, order, rid, bound, self.item_count)?
        else {
            return Ok(None);
        };
        let window = ordered::window(self.query, self.parameters)?;
        let page = self.walk_page(order, range, window, request)?;
        Ok(Some((page, Some(order.name.clone()))))
    }

    /// The whole result computed at once, then paged by offset.
    fn whole(&self, order: Option<&OrderIndex>, request: &FeedRequest) -> Result<Answer> {
        if self.counts_every_item() {
            let page = page_of_results(vec![Value::from(self.item_count)], request)?;
            return Ok((page, None));
        }
        if let Some((count, index_path)) = self.counted_by_index()? {
            let page = page_of_results(vec![Value::from(count)], request)?;
            return Ok((page, Some(index_path)));
        }
        let (results, read, index_path) = match self.covered(order.is_some())? {
            Some((documents, name)) => {
                self.check_time()?;
                let results = self.query.run_weighted_with(documents, &self.context());
                (results, 0, Some(name))
            }
            None => {
                let (mut documents, read, index_path) = self.documents()?;
                self.check_time()?;
                // Rows that tie keep the order the index walk would give them.
                if order.is_some_and(|o| o.backwards) {
                    documents.reverse();
                }
                let results = self.query.run_with(documents, &self.context());
                (results, read, index_path)
            }
        };
        let results = results.map_err(query_error)?;
        let mut page = page_of_results(results, request)?;
        page.documents_read = read;
        Ok((page, index_path))
    }

    /// Whether the query is `SELECT VALUE COUNT(1) FROM c` over the whole
    /// container, which the container's item counter answers, as long as
    /// no item can have expired without being purged yet.
    fn counts_every_item(&self) -> bool {
        self.query.filter.is_none() && self.counts_whole_container()
    }

    /// `SELECT VALUE COUNT(1) FROM c WHERE <one path's conditions>` over
    /// the whole container: the number of index entries the conditions
    /// name, counted where the data is (by PostgreSQL, for that store).
    fn counted_by_index(&self) -> Result<Option<(u64, String)>> {
        if !self.policy.enabled() || !self.counts_whole_container() {
            return Ok(None);
        }
        let Some(lookup) = index::exact_lookup(self.query, self.parameters, self.policy) else {
            return Ok(None);
        };
        let rid = &self.container.rid;
        if !index::holds_exact_values(self.reader, &keys::index_path(rid, &lookup.path))? {
            return Ok(None);
        }
        let Some(mut ranges) = lookup
            .ranges
            .iter()
            .map(|r| index::range_keys(rid, &lookup.path, r))
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        // `IN ('a', 'a')` names one range twice; its items count once.
        ranges.sort();
        ranges.dedup();
        let started = Instant::now();
        let mut count = 0;
        for (from, to) in &ranges {
            count += self.reader.count(from, to)?;
        }
        self.meter.index_read(started);
        Ok(Some((count, index::policy_path(&lookup.path))))
    }

    /// Whether the query is `SELECT VALUE COUNT(1) FROM c` (with any
    /// filter) over every item of the container, none of which can have
    /// expired unseen.
    fn counts_whole_container(&self) -> bool {
        use cosmonaut_query::{Expr, Projection, Source};
        let q = self.query;
        let Some(from) = &q.from else {
            return false;
        };
        let plain = q.group_by.is_empty()
            && q.order_by.is_empty()
            && q.offset_limit.is_none()
            && q.select.top.is_none()
            && !q.select.distinct
            && from.joins.is_empty();
        let Source::Collection { alias, path, .. } = &from.source else {
            return false;
        };
        let counts_rows = match &q.select.projection {
            Projection::Value(Expr::Call {
                name,
                args,
                udf: false,
            }) if name == "COUNT" => match args.as_slice() {
                // Defined for every row, so every row counts.
                [Expr::Literal(_)] => true,
                [Expr::Identifier(name)] => name == alias,
                _ => false,
            },
            _ => false,
        };
        let (first, after) = keys::items(&self.container.rid);
        let whole = self.start <= first && self.end >= after;
        plain && path.is_empty() && counts_rows && whole && self.policy.ttl == Ttl::Off
    }

    /// Documents cut down to the paths an index holds, each with the number
    /// of items it stands for, and the index, when that index answers the
    /// query; no stored document is read.
    fn covered(&self, ordered: bool) -> Result<Option<(covering::Weighted, String)>> {
        // Index entries do not say when their item expires.
        if ordered || walkable(self.query) || self.policy.ttl != Ttl::Off {
            return Ok(None);
        }
        let rid = &self.container.rid;
        let Some(cover) = covering::covering_index(self.query, self.policy, rid) else {
            return Ok(None);
        };
        let started = Instant::now();
        let lookup = self.lookup.as_ref();
        let Some(ranges) =
            covering::covered_ranges(self.reader, &cover, rid, lookup, self.item_count)?
        else {
            return Ok(None);
        };
        let scope = (self.start.as_slice(), self.end.as_slice());
        let documents = covering::covered_documents(self.reader, &cover, rid, &ranges, scope)?;
        self.meter.index_read(started);
        Ok(Some((documents, cover.name)))
    }

    /// The stored documents the query reads: those a lookup names, or all in scope.
    fn documents(&self) -> Result<Input> {
        let documents: Vec<Value> = match (&self.lookup, self.query.from.is_some()) {
            (_, false) => Vec::new(),
            (Some(l), true) => {
                let keys: Vec<Vec<u8>> = self.candidates(l)?.into_iter().collect();
                let mut documents = Vec::with_capacity(keys.len());
                // In batches: one request each to a store across a network.
                for batch in keys.chunks(FETCH_BATCH) {
                    let started = self.check_time()?;
                    let mut bytes_read = 0;
                    for bytes in self.reader.get_many(batch)?.into_iter().flatten() {
                        documents.push(decode::<Value>(&bytes)?);
                        bytes_read += bytes.len();
                    }
                    self.meter.document(bytes_read, started);
                }
                documents
            }
            (None, true) => self
                .reader
                .scan(&self.start, &self.end, usize::MAX)?
                .into_iter()
                .map(|(_, bytes)| {
                    let started = self.check_time()?;
                    let document = decode::<Value>(&bytes)?;
                    self.meter.document(bytes.len(), started);
                    Ok(document)
                })
                .collect::<Result<_>>()?,
        };
        let read = documents.len();
        let documents = documents
            .into_iter()
            .filter(|d| !self.is_expired(d))
            .collect();
        Ok((documents, read, self.lookup_name()))
    }

    /// The item keys in scope that the index names for `lookup`.
    fn candidates(&self, lookup: &Lookup) -> Result<BTreeSet<Vec<u8>>> {
        let started = Instant::now();
        let keys = index_candidates(self.reader, self.container, lookup, &self.start, &self.end);
        self.meter.index_read(started);
        keys
    }
}

/// Items fetched per request when an index names them.
const FETCH_BATCH: usize = 256;

/// Whether walking an index in order answers the query row by row:
/// nothing groups, aggregates or de-duplicates its rows.
fn walkable(query: &Query) -> bool {
    query.group_by.is_empty() && !query.has_aggregates() && !query.select.distinct
}

fn is_point(lookup: &Lookup) -> bool {
    lookup
        .ranges
        .iter()
        .all(|r| matches!(r, ValueRange::Equal(_)))
}

/// The item keys within `[start, end)` that the index names for `lookup`.
fn index_candidates(
    reader: &dyn KvRead,
    container: &ContainerRecord,
    lookup: &Lookup,
    start: &[u8],
    end: &[u8],
) -> Result<BTreeSet<Vec<u8>>> {
    let mut keys = BTreeSet::new();
    for range in &lookup.ranges {
        // Plans are checked to give key ranges before they are used.
        let Some((from, to)) = index::range_keys(&container.rid, &lookup.path, range) else {
            continue;
        };
        for (entry, _) in reader.scan(&from, &to, usize::MAX)? {
            if let Some(item_key) = index::item_key_of(&container.rid, &lookup.path, &entry) {
                if item_key.as_slice() >= start && item_key.as_slice() < end {
                    keys.insert(item_key);
                }
            }
        }
    }
    Ok(keys)
}
