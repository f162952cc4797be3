//! Reading: `find`, `getMore`, `killCursors`, `aggregate`, `count` and
//! `distinct`.

use bson::{doc, Bson, Document};

use super::Call;
use crate::collections::Stored;
use crate::error::{MongoError, Result};
use crate::filter::Filter;
use crate::projection::Projection;

/// The documents of `coll` that `filter` matches. An equality on `_id` is a
/// point read; anything else reads the collection.
pub fn select(call: &Call<'_>, coll: &str, filter: &Filter) -> Result<Vec<Stored>> {
    let by_id = filter.equalities().into_iter().find(|(path, v)| {
        *path == "_id" && !matches!(v, Bson::Null | Bson::Array(_) | Bson::Document(_))
    });
    let candidates = match by_id {
        Some((_, id)) => call
            .server
            .collections
            .get(&call.db, coll, id)?
            .into_iter()
            .collect(),
        None => call.server.collections.scan(&call.db, coll)?,
    };
    let mut out = Vec::new();
    for stored in candidates {
        if filter.matches(&stored.document)? {
            out.push(stored);
        }
    }
    Ok(out)
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
    let coll = call.collection()?;
    let filter = Filter::parse(&call.document("filter")?)?;
    let mut documents: Vec<Document> = select(call, &coll, &filter)?
        .into_iter()
        .map(|s| s.document)
        .collect();
    if let Some(sort) = call.optional_document("sort")? {
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

pub fn get_more(call: &Call<'_>) -> Result<Document> {
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
    call.server
        .cursors
        .next_batch(id, &namespace, batch_size(call.count("batchSize")?)?)
        .ok_or_else(|| MongoError::cursor_not_found(format!("cursor id {id} not found")))
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

pub fn aggregate(call: &Call<'_>) -> Result<Document> {
    let pipeline: Vec<Document> = call
        .array("pipeline")?
        .into_iter()
        .map(|s| match s {
            Bson::Document(d) => Ok(d),
            _ => Err(MongoError::wrong_type("aggregate.pipeline", "object")),
        })
        .collect::<Result<_>>()?;
    for stage in &pipeline {
        if let Some(name @ ("$out" | "$merge" | "$changeStream" | "$geoNear" | "$search")) =
            stage.keys().next().map(String::as_str)
        {
            return Err(MongoError::invalid_pipeline(format!(
                "{name} is not supported by this server yet"
            )));
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
            let docs: Vec<Document> = select(call, &coll, &first)?
                .into_iter()
                .map(|s| s.document)
                .collect();
            (call.namespace(&coll), (docs, rest))
        }
        _ => (
            format!("{}.$cmd.aggregate", call.db),
            (vec![Document::new()], &pipeline[..]),
        ),
    };
    let load = |other: &str| -> Result<Vec<Document>> {
        Ok(call
            .server
            .collections
            .scan(&call.db, other)?
            .into_iter()
            .map(|s| s.document)
            .collect())
    };
    let results = crate::aggregate::run(input.1, input.0, &load)?;
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
    let coll = call.collection()?;
    let query = call.document("query")?;
    let skip = call.count("skip")?.unwrap_or(0).max(0) as u64;
    let limit = call.count("limit")?.unwrap_or(0).unsigned_abs();
    let mut n = if query.is_empty() {
        call.server.collections.count(&call.db, &coll)?
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
    let coll = call.collection()?;
    let key = call
        .body
        .get_str("key")
        .map_err(|_| MongoError::wrong_type("distinct.key", "string"))?;
    let filter = Filter::parse(&call.document("query")?)?;
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
