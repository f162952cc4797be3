//! Reading: `find`, `getMore`, `killCursors`, `aggregate`, `count` and
//! `distinct`.

use bson::{doc, Bson, Document};

use super::Call;
use crate::collections::Stored;
use crate::cursors::Next;
use crate::error::{MongoError, Result};
use crate::filter::{Condition, Filter};
use crate::projection::Projection;

/// How a filter's candidates are found, as `explain` reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// A point read by `_id`.
    IdLookup,
    /// Engine index lookups of these keys on an index's leading path.
    Index {
        name: String,
        /// The item property holding the path's keys.
        property: String,
        keys: usize,
    },
    /// An engine index range scan of keys within bounds on an index's
    /// leading path.
    Range {
        name: String,
        property: String,
        low: Option<serde_json::Value>,
        high: Option<serde_json::Value>,
    },
    /// Every document of the collection.
    Scan,
}

impl Plan {
    pub fn describe(&self) -> Document {
        match self {
            Plan::IdLookup => doc! {"stage": "IDHACK"},
            Plan::Index { name, keys, .. } => doc! {
                "stage": "FETCH",
                "inputStage": {"stage": "IXSCAN", "indexName": name, "keysExamined": *keys as i64},
            },
            Plan::Range { name, .. } => doc! {
                "stage": "FETCH",
                "inputStage": {"stage": "IXSCAN", "indexName": name},
            },
            Plan::Scan => doc! {"stage": "COLLSCAN"},
        }
    }
}

/// The conditions a filter's top-level conjuncts put on `path`.
fn conditions_on<'f>(filter: &'f Filter, path: &'f str) -> impl Iterator<Item = &'f Condition> {
    let conjuncts: &[Filter] = match filter {
        Filter::And(list) => list,
        one => std::slice::from_ref(one),
    };
    conjuncts.iter().flat_map(move |conjunct| match conjunct {
        Filter::Path(p, conditions) if p == path => conditions.as_slice(),
        _ => &[],
    })
}

/// The equality keys a filter's conjunct gives on `path` (`{p: v}`,
/// `{p: {$eq: v}}`, `{p: {$in: [...]}}`), if every one has an index key.
fn equality_keys(filter: &Filter, path: &str) -> Option<Vec<Bson>> {
    conditions_on(filter, path).find_map(|condition| {
        let values = match condition {
            Condition::Eq(v) => vec![v.clone()],
            Condition::In(values, patterns) if patterns.is_empty() && !values.is_empty() => {
                values.clone()
            }
            _ => return None,
        };
        values
            .iter()
            .all(|v| crate::indexes::key_of(v).is_some())
            .then_some(values)
    })
}

/// The bounds a filter's conjuncts put on `path` (`{p: {$gt: 5, $lte: 9}}`),
/// over numbers or over strings, as index keys; MongoDB's comparisons
/// stay within a type, as the engine's do, so keys of other types are
/// never in range.
fn range_keys(
    filter: &Filter,
    path: &str,
) -> Option<(Option<serde_json::Value>, Option<serde_json::Value>)> {
    let key = |v: &Bson| match v {
        Bson::String(_) => crate::indexes::key_of(v),
        _ => crate::compare::as_f64(v).and_then(|_| crate::indexes::key_of(v)),
    };
    let (mut low, mut high) = (None, None);
    for condition in conditions_on(filter, path) {
        match condition {
            Condition::Gt(v) | Condition::Gte(v) if low.is_none() => low = key(v),
            Condition::Lt(v) | Condition::Lte(v) if high.is_none() => high = key(v),
            _ => {}
        }
    }
    // Both bounds of one type, or one bound.
    match (&low, &high) {
        (None, None) => None,
        (Some(a), Some(b)) if a.is_number() != b.is_number() => None,
        _ => Some((low, high)),
    }
}

/// How to find the candidates of `filter` in `coll`.
pub fn plan(call: &Call<'_>, coll: &str, filter: &Filter) -> Result<(Plan, Vec<Bson>)> {
    // Index keys and item ids are exact; a case-folding collation reads everything.
    if crate::compare::caseless() {
        return Ok((Plan::Scan, Vec::new()));
    }
    if let Some(values) = equality_keys(filter, "_id") {
        if values.len() == 1 && !matches!(values[0], Bson::Null) {
            return Ok((Plan::IdLookup, values));
        }
    }
    let indexes = call.collections.index_set(&call.db, coll)?;
    for lookup in &indexes.lookup {
        if let Some(values) = equality_keys(filter, &lookup.path) {
            let plan = Plan::Index {
                name: lookup.index.clone(),
                property: lookup.property.clone(),
                keys: values.len(),
            };
            return Ok((plan, values));
        }
    }
    for lookup in &indexes.lookup {
        if let Some((low, high)) = range_keys(filter, &lookup.path) {
            let plan = Plan::Range {
                name: lookup.index.clone(),
                property: lookup.property.clone(),
                low,
                high,
            };
            return Ok((plan, Vec::new()));
        }
    }
    Ok((Plan::Scan, Vec::new()))
}

/// The documents of `coll` that `filter` matches, and how they were found:
/// by `_id`, by an index on a path the filter asks equality of, or by
/// reading the collection. Candidates are always matched in full here.
pub fn select_planned(
    call: &Call<'_>,
    coll: &str,
    filter: &Filter,
) -> Result<(Vec<Stored>, Plan, usize)> {
    let (plan, values) = plan(call, coll, filter)?;
    let collections = &call.collections;
    let candidates: Vec<Stored> = match &plan {
        Plan::IdLookup => collections
            .get(&call.db, coll, &values[0])?
            .into_iter()
            .collect(),
        Plan::Index { property, .. } => {
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            for value in &values {
                let Some(key) = crate::indexes::key_of(value) else {
                    continue;
                };
                for stored in collections.lookup(&call.db, coll, property, &key)? {
                    let id =
                        crate::stored::item_id(stored.document.get("_id").unwrap_or(&Bson::Null))?;
                    if seen.insert(id) {
                        out.push(stored);
                    }
                }
            }
            out
        }
        Plan::Range {
            property,
            low,
            high,
            ..
        } => collections.lookup_range(&call.db, coll, property, low.as_ref(), high.as_ref())?,
        Plan::Scan => collections.scan(&call.db, coll)?,
    };
    let mut candidates = candidates;
    crate::collections::natural_order(&mut candidates);
    let examined = candidates.len();
    let mut out = Vec::new();
    for stored in candidates {
        if filter.matches(&stored.document)? {
            out.push(stored);
        }
    }
    let bytes: usize = out.iter().map(|s| super::size_of(&s.document)).sum();
    call.meter.add(match plan {
        Plan::IdLookup => cosmonaut_engine::charge::point_read(bytes),
        _ => cosmonaut_engine::charge::query(examined, bytes),
    });
    Ok((out, plan, examined))
}

/// The documents of `coll` that `filter` matches.
pub fn select(call: &Call<'_>, coll: &str, filter: &Filter) -> Result<Vec<Stored>> {
    Ok(select_planned(call, coll, filter)?.0)
}

fn batch_size(value: Option<i64>) -> Result<Option<usize>> {
    match value {
        Some(n) if n < 0 => Err(MongoError::bad_value(
            "BatchSize value must be non-negative",
        )),
        other => Ok(other.map(|n| n as usize)),
    }
}

pub fn find(call: &Call<'_>) -> Result<Document> {
    let collation = call.optional_document("collation")?;
    crate::compare::with_collation(collation.as_ref(), || find_collated(call))
}

fn find_collated(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    let filter = Filter::parse(&call.filter("filter")?)?;
    let mut documents: Vec<Document> = select(call, &coll, &filter)?
        .into_iter()
        .map(|s| s.document)
        .collect();
    if let Some(sort) = call.optional_document("sort")? {
        crate::aggregate::check_blocking("Sort", &documents, call.blocking_limit())?;
        crate::aggregate::sort(&mut documents, &sort)?;
    }
    let skip = call.count("skip")?.unwrap_or(0);
    if skip < 0 {
        return Err(MongoError::bad_value("skip value must be non-negative"));
    }
    let limit = call.count("limit")?.unwrap_or(0);
    let mut documents: Vec<Document> = documents.into_iter().skip(skip as usize).collect();
    if limit != 0 {
        documents.truncate(limit.unsigned_abs() as usize);
    }
    if let Some(spec) = call
        .optional_document("projection")?
        .filter(|p| !p.is_empty())
    {
        let projection = Projection::parse(&spec)?;
        documents = documents
            .iter()
            .map(|d| projection.apply(d))
            .collect::<Result<_>>()?;
    }
    let single = call.flag("singleBatch") || limit < 0;
    Ok(call.server.cursors.first_batch(
        &call.namespace(&coll),
        documents,
        batch_size(call.count("batchSize")?)?,
        single,
    ))
}

pub async fn get_more(call: &Call<'_>) -> Result<Document> {
    let id = match call.body.get(&call.name) {
        Some(Bson::Int64(id)) => *id,
        Some(Bson::Int32(id)) => i64::from(*id),
        _ => return Err(MongoError::wrong_type("getMore.getMore", "long")),
    };
    let coll = call
        .body
        .get_str("collection")
        .map_err(|_| MongoError::wrong_type("getMore.collection", "string"))?;
    let namespace = call.namespace(coll);
    match call
        .server
        .cursors
        .next(id, &namespace, batch_size(call.count("batchSize")?)?)
    {
        Next::Batch(reply) => {
            let batch = reply
                .get_document("cursor")
                .ok()
                .and_then(|c| c.get_array("nextBatch").ok());
            let (items, bytes) = batch.map_or((0, 0), |b| {
                let bytes = b
                    .iter()
                    .filter_map(Bson::as_document)
                    .map(super::size_of)
                    .sum();
                (b.len(), bytes)
            });
            call.meter.add(cosmonaut_engine::charge::feed(items, bytes));
            Ok(reply)
        }
        Next::Missing => Err(MongoError::cursor_not_found(format!(
            "cursor id {id} not found"
        ))),
        Next::Stream(mut stream) => {
            let wait = call.count("maxTimeMS")?.unwrap_or(1000).clamp(0, 60_000) as u64;
            let read = stream
                .next_events(&call.collections, std::time::Duration::from_millis(wait))
                .await;
            let resume = crate::changes::token(stream.after);
            call.server.cursors.put_back(id, &namespace, stream);
            let events = read?;
            Ok(doc! {
                "cursor": {"nextBatch": events, "id": id, "ns": namespace, "postBatchResumeToken": resume},
                "ok": 1.0,
            })
        }
    }
}

pub fn kill_cursors(call: &Call<'_>) -> Result<Document> {
    let ids: Vec<i64> = call
        .array("cursors")?
        .iter()
        .filter_map(|c| match c {
            Bson::Int64(i) => Some(*i),
            Bson::Int32(i) => Some(i64::from(*i)),
            _ => None,
        })
        .collect();
    let (killed, not_found) = call.server.cursors.kill(&ids);
    Ok(doc! {
        "cursorsKilled": killed, "cursorsNotFound": not_found,
        "cursorsAlive": [], "cursorsUnknown": [], "ok": 1.0,
    })
}

/// An aggregation that starts with `$changeStream` opens a change stream.
async fn watch(call: &Call<'_>, pipeline: &[Document]) -> Result<Document> {
    let Some(Bson::String(_)) = call.body.get(&call.name) else {
        return Err(MongoError::illegal_operation(
            "change streams on a whole database or deployment are not supported yet; watch a collection",
        ));
    };
    let coll = call.collection()?;
    let options = pipeline[0]
        .get_document("$changeStream")
        .cloned()
        .unwrap_or_default();
    let stream = crate::changes::ChangeStream::open(
        &call.collections,
        &call.db,
        &coll,
        &options,
        pipeline[1..].to_vec(),
    )
    .await?;
    let resume = crate::changes::token(stream.after);
    let namespace = call.namespace(&coll);
    let id = call.server.cursors.open_stream(&namespace, stream);
    Ok(doc! {
        "cursor": {"firstBatch": [], "id": id, "ns": namespace, "postBatchResumeToken": resume},
        "ok": 1.0,
    })
}

pub async fn aggregate(call: &Call<'_>) -> Result<Document> {
    let variables = call.variables()?;
    let pipeline: Vec<Document> = call
        .array("pipeline")?
        .into_iter()
        .map(|s| match crate::expr::bind(&s, &variables) {
            Bson::Document(d) => Ok(d),
            _ => Err(MongoError::wrong_type("aggregate.pipeline", "object")),
        })
        .collect::<Result<_>>()?;
    if pipeline
        .first()
        .is_some_and(|s| s.contains_key("$changeStream"))
    {
        return watch(call, &pipeline).await;
    }
    // `$out` or `$merge` (last) writes the result into a collection instead of returning it.
    let mut pipeline = pipeline;
    let output = super::output::Output::take(call, &mut pipeline)?;
    for stage in &pipeline {
        match stage.keys().next().map(String::as_str) {
            Some(name @ ("$out" | "$merge")) => {
                return Err(MongoError::invalid_pipeline(format!(
                    "{name} can only be the final stage in the pipeline"
                )))
            }
            Some(name @ ("$changeStream" | "$geoNear" | "$search")) => {
                return Err(MongoError::invalid_pipeline(format!(
                    "{name} is not supported by this server yet"
                )))
            }
            _ => {}
        }
    }
    let (namespace, input) = match call.body.get(&call.name) {
        Some(Bson::String(_)) => {
            let coll = call.collection()?;
            // A leading $match narrows what is read (by _id, a point read).
            let (first, rest) = match pipeline.first().and_then(|s| s.get_document("$match").ok()) {
                Some(m) => (Filter::parse(m)?, &pipeline[1..]),
                None => (Filter::And(Vec::new()), &pipeline[..]),
            };
            let collation = call.optional_document("collation")?;
            let docs: Vec<Document> =
                crate::compare::with_collation(collation.as_ref(), || select(call, &coll, &first))?
                    .into_iter()
                    .map(|s| s.document)
                    .collect();
            (call.namespace(&coll), (docs, rest))
        }
        // A database-level aggregate starts from one empty document (for
        // `$documents`), or from this server's sessions.
        _ => match pipeline
            .first()
            .filter(|s| s.contains_key("$listLocalSessions"))
        {
            Some(_) => (
                format!("{}.$cmd.aggregate", call.db),
                (call.server.sessions.list(), &pipeline[1..]),
            ),
            None => (
                format!("{}.$cmd.aggregate", call.db),
                (vec![Document::new()], &pipeline[..]),
            ),
        },
    };
    let load = |other: &str| -> Result<Vec<Document>> {
        Ok(call
            .collections
            .scan(&call.db, other)?
            .into_iter()
            .map(|s| s.document)
            .collect())
    };
    let collation = call.optional_document("collation")?;
    let results = crate::compare::with_collation(collation.as_ref(), || {
        crate::aggregate::run_limited(input.1, input.0, &load, call.blocking_limit())
    })?;
    if let Some(output) = output {
        output.write(call, results).await?;
        return Ok(doc! {"cursor": {"firstBatch": [], "id": 0i64, "ns": namespace}, "ok": 1.0});
    }
    if call.flag("explain") {
        return Ok(
            doc! {"stages": pipeline.into_iter().map(Bson::Document).collect::<Vec<_>>(), "ok": 1.0},
        );
    }
    let batch = call
        .optional_document("cursor")?
        .and_then(|c| c.get("batchSize").and_then(crate::compare::as_f64))
        .map(|b| b.max(0.0) as usize);
    Ok(call
        .server
        .cursors
        .first_batch(&namespace, results, batch, false))
}

pub fn count(call: &Call<'_>) -> Result<Document> {
    let collation = call.optional_document("collation")?;
    crate::compare::with_collation(collation.as_ref(), || count_collated(call))
}

fn count_collated(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    let query = call.document("query")?;
    let skip = call.count("skip")?.unwrap_or(0).max(0) as u64;
    let limit = call.count("limit")?.unwrap_or(0).unsigned_abs();
    let mut n = if query.is_empty() {
        call.collections.count(&call.db, &coll)?
    } else {
        select(call, &coll, &Filter::parse(&query)?)?.len() as u64
    };
    n = n.saturating_sub(skip);
    if limit > 0 {
        n = n.min(limit);
    }
    Ok(doc! {"n": n as i64, "ok": 1.0})
}

pub fn distinct(call: &Call<'_>) -> Result<Document> {
    let collation = call.optional_document("collation")?;
    crate::compare::with_collation(collation.as_ref(), || distinct_collated(call))
}

fn distinct_collated(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    let key = call
        .body
        .get_str("key")
        .map_err(|_| MongoError::wrong_type("distinct.key", "string"))?;
    let filter = Filter::parse(&call.filter("query")?)?;
    let mut values: Vec<Bson> = Vec::new();
    for stored in select(call, &coll, &filter)? {
        for found in crate::path::lookup(&stored.document, key) {
            let items = match found {
                Bson::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            for v in items {
                if !values.iter().any(|x| crate::compare::equal(x, &v)) {
                    values.push(v);
                }
            }
        }
    }
    values.sort_by(crate::compare::compare);
    Ok(doc! {"values": values, "ok": 1.0})
}

/// `explain` of a find, count, distinct, aggregate (its leading `$match`),
/// update, delete or findAndModify: how its filter's documents are found,
/// and with `executionStats` how many were read and returned. Writes are
/// not run.
pub fn explain(call: &Call<'_>) -> Result<Document> {
    let inner = call.document("explain")?;
    let Some(name) = inner.keys().next().cloned() else {
        return Err(MongoError::failed_to_parse(
            "explain needs a command to explain",
        ));
    };
    let inner_call = call.inner(inner.clone(), &name);
    let coll = inner_call.collection()?;
    let filter = match name.to_ascii_lowercase().as_str() {
        "find" => inner.get_document("filter").cloned().unwrap_or_default(),
        "count" | "findandmodify" => inner.get_document("query").cloned().unwrap_or_default(),
        "distinct" => inner.get_document("query").cloned().unwrap_or_default(),
        "aggregate" => inner
            .get_array("pipeline")
            .ok()
            .and_then(|p| p.first())
            .and_then(|s| s.as_document())
            .and_then(|s| s.get_document("$match").ok())
            .cloned()
            .unwrap_or_default(),
        "update" | "delete" => {
            let field = if name == "update" {
                "updates"
            } else {
                "deletes"
            };
            inner
                .get_array(field)
                .ok()
                .and_then(|l| l.first())
                .and_then(|s| s.as_document())
                .and_then(|s| s.get_document("q").ok())
                .cloned()
                .unwrap_or_default()
        }
        other => {
            return Err(MongoError::illegal_operation(format!(
                "Cannot explain cmd: {other}"
            )))
        }
    };
    let compiled = Filter::parse(&filter)?;
    let (found, plan, examined) = select_planned(&inner_call, &coll, &compiled)?;
    let keys = match &plan {
        Plan::Index { .. } | Plan::Range { .. } => examined as i64,
        _ => 0,
    };
    Ok(doc! {
        "queryPlanner": {
            "namespace": inner_call.namespace(&coll),
            "parsedQuery": filter,
            "winningPlan": plan.describe(),
            "rejectedPlans": [],
        },
        "executionStats": {
            "executionSuccess": true,
            "nReturned": found.len() as i64,
            "totalKeysExamined": keys,
            "totalDocsExamined": examined as i64,
        },
        "serverInfo": {"host": call.server.config.advertised_host.as_str(), "version": crate::SERVER_VERSION},
        "ok": 1.0,
    })
}
