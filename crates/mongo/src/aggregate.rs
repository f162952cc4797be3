//! Aggregation pipelines over documents read from a collection: `$match`,
//! `$group`, `$sort`, `$project` and the other common stages.

use std::cmp::Ordering;

use bson::{Bson, Document};

use crate::compare::{as_f64, compare};
use crate::error::{MongoError, Result};
use crate::expr::eval;
use crate::filter::Filter;
use crate::projection::Projection;

/// Reads another collection of the same database (for `$lookup`).
pub type Loader<'a> = &'a dyn Fn(&str) -> Result<Vec<Document>>;

/// One `$group` accumulator's running state.
pub struct Accumulator {
    op: String,
    sum: f64,
    integral: bool,
    count: u64,
    value: Option<Bson>,
    list: Vec<Bson>,
}

impl Accumulator {
    pub fn new(op: &str) -> Self {
        Self {
            op: op.to_string(),
            sum: 0.0,
            integral: true,
            count: 0,
            value: None,
            list: Vec::new(),
        }
    }

    pub fn add(&mut self, value: &Bson) {
        match self.op.as_str() {
            "$sum" | "$avg" => {
                if let Some(f) = as_f64(value) {
                    self.sum += f;
                    self.count += 1;
                    self.integral &= matches!(value, Bson::Int32(_) | Bson::Int64(_));
                }
            }
            "$min" | "$max" => {
                if matches!(value, Bson::Null | Bson::Undefined) {
                    return;
                }
                let replace = match &self.value {
                    None => true,
                    Some(current) => {
                        let o = compare(value, current);
                        if self.op == "$min" {
                            o == Ordering::Less
                        } else {
                            o == Ordering::Greater
                        }
                    }
                };
                if replace {
                    self.value = Some(value.clone());
                }
            }
            "$first" => {
                if self.count == 0 {
                    self.value = Some(value.clone());
                }
                self.count += 1;
            }
            "$last" => self.value = Some(value.clone()),
            "$push" => self.list.push(value.clone()),
            "$addToSet" if !self.list.iter().any(|v| crate::compare::equal(v, value)) => {
                self.list.push(value.clone());
            }
            "$count" => self.count += 1,
            _ => {}
        }
    }

    pub fn finish(self) -> Bson {
        match self.op.as_str() {
            "$sum" => {
                if self.integral && self.sum.abs() < 9.0e15 {
                    let i = self.sum as i64;
                    i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32)
                } else {
                    Bson::Double(self.sum)
                }
            }
            "$avg" if self.count == 0 => Bson::Null,
            "$avg" => Bson::Double(self.sum / self.count as f64),
            "$push" | "$addToSet" => Bson::Array(self.list),
            "$count" => Bson::Int32(self.count as i32),
            _ => self.value.unwrap_or(Bson::Null),
        }
    }
}

const ACCUMULATORS: [&str; 9] = [
    "$sum",
    "$avg",
    "$min",
    "$max",
    "$first",
    "$last",
    "$push",
    "$addToSet",
    "$count",
];

/// Sorts by a `{path: 1|-1}` specification.
pub fn sort(documents: &mut [Document], spec: &Document) -> Result<()> {
    sort_with(documents, spec, |d| d)
}

/// Sorts anything holding a document by the document's sort keys; stable,
/// so equal keys keep their order.
pub fn sort_with<T>(
    items: &mut [T],
    spec: &Document,
    document: impl Fn(&T) -> &Document,
) -> Result<()> {
    let mut keys = Vec::new();
    for (path, direction) in spec {
        let descending = match as_f64(direction) {
            Some(1.0) => false,
            Some(-1.0) => true,
            _ => {
                return Err(MongoError::bad_value(
                    "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
                ))
            }
        };
        keys.push((path.clone(), descending));
    }
    items.sort_by_cached_key(|item| {
        keys.iter()
            .map(|(path, desc)| {
                SortValue(crate::path::sort_key(document(item), path, *desc), *desc)
            })
            .collect::<Vec<_>>()
    });
    Ok(())
}

/// A sort key component with its direction, ordered as the sort wants.
#[derive(PartialEq)]
struct SortValue(Bson, bool);
impl Eq for SortValue {}
impl PartialOrd for SortValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SortValue {
    fn cmp(&self, other: &Self) -> Ordering {
        let o = compare(&self.0, &other.0);
        if self.1 {
            o.reverse()
        } else {
            o
        }
    }
}

fn number_arg(stage: &str, value: &Bson) -> Result<usize> {
    match as_f64(value) {
        Some(n) if n >= 0.0 && n.fract() == 0.0 => Ok(n as usize),
        _ => Err(MongoError::bad_value(format!(
            "invalid argument to {stage} stage"
        ))),
    }
}

fn stage_document<'a>(stage: &str, arg: &'a Bson) -> Result<&'a Document> {
    match arg {
        Bson::Document(d) => Ok(d),
        _ => Err(MongoError::location(format!(
            "the {stage} stage specification must be an object"
        ))),
    }
}

/// Refuses a blocking stage (a sort or a grouping, which holds all its
/// input) whose input is over `limit` bytes: what MongoDB does when a
/// command opts out of spilling to disk (`allowDiskUse: false`). Without
/// the opt-out, MongoDB 6.0 spills, and this server sorts in memory.
pub fn check_blocking(stage: &str, documents: &[Document], limit: Option<usize>) -> Result<()> {
    let Some(limit) = limit else {
        return Ok(());
    };
    let mut total = 0usize;
    for document in documents {
        total += document.to_vec().map_or(0, |bytes| bytes.len());
        if total > limit {
            return Err(MongoError::memory_limit(format!(
                "{stage} exceeded memory limit of {limit} bytes, but did not opt in to external \
                 sorting. Pass allowDiskUse:true to opt in."
            )));
        }
    }
    Ok(())
}

/// Runs `pipeline` over `documents`.
pub fn run(pipeline: &[Document], documents: Vec<Document>, load: Loader) -> Result<Vec<Document>> {
    run_limited(pipeline, documents, load, None)
}

/// Runs `pipeline` with a memory limit on its blocking stages (see
/// [`check_blocking`]).
pub fn run_limited(
    pipeline: &[Document],
    mut documents: Vec<Document>,
    load: Loader,
    blocking_limit: Option<usize>,
) -> Result<Vec<Document>> {
    for stage in pipeline {
        let Some((name, arg)) = stage.iter().next().filter(|_| stage.len() == 1) else {
            return Err(MongoError::location(
                "A pipeline stage specification object must contain exactly one field.",
            ));
        };
        if matches!(
            name.as_str(),
            "$sort" | "$group" | "$bucket" | "$sortByCount"
        ) {
            check_blocking(name, &documents, blocking_limit)?;
        }
        documents = match name.as_str() {
            "$match" => {
                let filter = Filter::parse(stage_document(name, arg)?)?;
                let mut kept = Vec::new();
                for d in documents {
                    if filter.matches(&d)? {
                        kept.push(d);
                    }
                }
                kept
            }
            "$sort" => {
                sort(&mut documents, stage_document(name, arg)?)?;
                documents
            }
            // The documents given (a database-level aggregate starts with it).
            "$documents" => match crate::expr::eval(arg, &Document::new())? {
                Bson::Array(items) => items
                    .into_iter()
                    .map(|item| match item {
                        Bson::Document(d) => Ok(d),
                        _ => Err(MongoError::location("$documents takes an array of objects")),
                    })
                    .collect::<Result<_>>()?,
                _ => return Err(MongoError::location("$documents takes an array of objects")),
            },
            "$skip" => documents.into_iter().skip(number_arg(name, arg)?).collect(),
            "$limit" => {
                let n = number_arg(name, arg)?;
                if n == 0 {
                    return Err(MongoError::bad_value("the limit must be positive"));
                }
                documents.into_iter().take(n).collect()
            }
            "$project" => {
                let projection = Projection::parse(stage_document(name, arg)?)?;
                documents
                    .iter()
                    .map(|d| projection.apply(d))
                    .collect::<Result<_>>()?
            }
            "$addFields" | "$set" => {
                let fields = stage_document(name, arg)?;
                let mut out = Vec::with_capacity(documents.len());
                for mut d in documents {
                    for (path, e) in fields {
                        let value = eval(e, &d)?;
                        crate::update::set_path(&mut d, path, value)?;
                    }
                    out.push(d);
                }
                out
            }
            "$unset" => {
                let paths: Vec<String> = match arg {
                    Bson::String(s) => vec![s.clone()],
                    Bson::Array(items) => items
                        .iter()
                        .filter_map(|i| i.as_str().map(String::from))
                        .collect(),
                    _ => {
                        return Err(MongoError::location(
                            "$unset specification must be a string or an array",
                        ))
                    }
                };
                documents
                    .into_iter()
                    .map(|mut d| {
                        for p in &paths {
                            crate::update::unset_path(&mut d, p);
                        }
                        d
                    })
                    .collect()
            }
            "$replaceRoot" | "$replaceWith" => {
                let e = if name == "$replaceRoot" {
                    stage_document(name, arg)?.get("newRoot").ok_or_else(|| {
                        MongoError::location("no newRoot specified for the $replaceRoot stage")
                    })?
                } else {
                    arg
                };
                documents
                    .iter()
                    .map(|d| match eval(e, d)? {
                        Bson::Document(new) => Ok(new),
                        other => Err(MongoError::location(format!(
                            "'newRoot' expression must evaluate to an object, but resulting value was: {other}"
                        ))),
                    })
                    .collect::<Result<_>>()?
            }
            "$count" => {
                let field = arg.as_str().ok_or_else(|| {
                    MongoError::location("the count field must be a non-empty string")
                })?;
                vec![bson::doc! {field: documents.len() as i32}]
            }
            "$group" => group(stage_document(name, arg)?, documents)?,
            "$sortByCount" => {
                let grouped = group(
                    &bson::doc! {"_id": arg.clone(), "count": {"$sum": 1}},
                    documents,
                )?;
                let mut grouped = grouped;
                sort(&mut grouped, &bson::doc! {"count": -1})?;
                grouped
            }
            "$unwind" => unwind(arg, documents)?,
            "$lookup" => lookup(stage_document(name, arg)?, documents, load)?,
            "$facet" => {
                let mut out = Document::new();
                for (field, sub) in stage_document(name, arg)? {
                    let Bson::Array(stages) = sub else {
                        return Err(MongoError::location(
                            "a $facet sub-pipeline must be an array",
                        ));
                    };
                    let stages: Vec<Document> = stages
                        .iter()
                        .filter_map(|s| s.as_document().cloned())
                        .collect();
                    let result = run(&stages, documents.clone(), load)?;
                    out.insert(
                        field.clone(),
                        Bson::Array(result.into_iter().map(Bson::Document).collect()),
                    );
                }
                vec![out]
            }
            "$bucket" => bucket(stage_document(name, arg)?, documents)?,
            other => {
                return Err(MongoError::invalid_pipeline(format!(
                    "Unrecognized pipeline stage name: '{other}'"
                )))
            }
        };
    }
    Ok(documents)
}

fn group(spec: &Document, documents: Vec<Document>) -> Result<Vec<Document>> {
    let key_expr = spec
        .get("_id")
        .ok_or_else(|| MongoError::location("a group specification must include an _id"))?;
    let mut fields = Vec::new();
    for (field, acc) in spec.iter().filter(|(k, _)| k.as_str() != "_id") {
        let Some((op, e)) = acc.as_document().and_then(|d| d.iter().next()) else {
            return Err(MongoError::location(format!(
                "The field '{field}' must be an accumulator object"
            )));
        };
        if !ACCUMULATORS.contains(&op.as_str()) {
            return Err(MongoError::location(format!(
                "unknown group operator '{op}'"
            )));
        }
        fields.push((field.clone(), op.clone(), e.clone()));
    }
    let mut groups: Vec<(Bson, Vec<Accumulator>)> = Vec::new();
    for d in &documents {
        let key = eval(key_expr, d)?;
        let at = match groups
            .iter()
            .position(|(k, _)| compare(k, &key) == Ordering::Equal)
        {
            Some(at) => at,
            None => {
                groups.push((
                    key,
                    fields
                        .iter()
                        .map(|(_, op, _)| Accumulator::new(op))
                        .collect(),
                ));
                groups.len() - 1
            }
        };
        for ((_, _, e), acc) in fields.iter().zip(groups[at].1.iter_mut()) {
            acc.add(&eval(e, d)?);
        }
    }
    Ok(groups
        .into_iter()
        .map(|(key, accs)| {
            let mut out = bson::doc! {"_id": key};
            for ((field, _, _), acc) in fields.iter().zip(accs) {
                out.insert(field.clone(), acc.finish());
            }
            out
        })
        .collect())
}

fn unwind(arg: &Bson, documents: Vec<Document>) -> Result<Vec<Document>> {
    let (path, keep_empty, index_field) = match arg {
        Bson::String(p) => (p.clone(), false, None),
        Bson::Document(d) => (
            d.get_str("path")
                .map(String::from)
                .map_err(|_| MongoError::location("no path specified to $unwind stage"))?,
            d.get_bool("preserveNullAndEmptyArrays").unwrap_or(false),
            d.get_str("includeArrayIndex").ok().map(String::from),
        ),
        _ => {
            return Err(MongoError::location(
                "expected either a string or an object as specification for $unwind stage",
            ))
        }
    };
    let path = path
        .strip_prefix('$')
        .ok_or_else(|| {
            MongoError::location("path option to $unwind stage should be prefixed with a '$'")
        })?
        .to_string();
    let mut out = Vec::new();
    for d in documents {
        match crate::path::get(&d, &path).cloned() {
            Some(Bson::Array(items)) if !items.is_empty() => {
                for (i, item) in items.into_iter().enumerate() {
                    let mut copy = d.clone();
                    crate::update::set_path(&mut copy, &path, item)?;
                    if let Some(f) = &index_field {
                        copy.insert(f.clone(), Bson::Int64(i as i64));
                    }
                    out.push(copy);
                }
            }
            Some(Bson::Array(_)) | None | Some(Bson::Null) => {
                if keep_empty {
                    out.push(d);
                }
            }
            Some(_) => out.push(d),
        }
    }
    Ok(out)
}

fn lookup(spec: &Document, documents: Vec<Document>, load: Loader) -> Result<Vec<Document>> {
    let get = |f: &str| {
        spec.get_str(f)
            .map_err(|_| MongoError::location(format!("$lookup needs a string '{f}'")))
    };
    let (from, local, foreign, into) = (
        get("from")?,
        get("localField")?,
        get("foreignField")?,
        get("as")?,
    );
    let others = load(from)?;
    let mut out = Vec::with_capacity(documents.len());
    for mut d in documents {
        let mut locals: Vec<Bson> = Vec::new();
        for v in crate::path::lookup(&d, local) {
            match v {
                Bson::Array(items) => locals.extend(items.iter().cloned()),
                other => locals.push(other.clone()),
            }
        }
        if locals.is_empty() {
            locals.push(Bson::Null);
        }
        let mut matched = Vec::new();
        for other in &others {
            let filter = Filter::parse(&bson::doc! {foreign: {"$in": locals.clone()}})?;
            if filter.matches(other)? {
                matched.push(Bson::Document(other.clone()));
            }
        }
        crate::update::set_path(&mut d, into, Bson::Array(matched))?;
        out.push(d);
    }
    Ok(out)
}

fn bucket(spec: &Document, documents: Vec<Document>) -> Result<Vec<Document>> {
    let group_by = spec
        .get("groupBy")
        .ok_or_else(|| MongoError::location("$bucket requires 'groupBy'"))?;
    let Ok(bounds) = spec.get_array("boundaries") else {
        return Err(MongoError::location("$bucket requires 'boundaries'"));
    };
    let default = spec.get("default");
    let output = spec
        .get_document("output")
        .cloned()
        .unwrap_or_else(|_| bson::doc! {"count": {"$sum": 1}});
    let mut keyed = Vec::new();
    for d in documents {
        let v = eval(group_by, &d)?;
        let bucket = bounds
            .windows(2)
            .find(|w| compare(&v, &w[0]) != Ordering::Less && compare(&v, &w[1]) == Ordering::Less)
            .map(|w| w[0].clone())
            .or_else(|| default.cloned());
        match bucket {
            Some(b) => {
                let mut d = d;
                d.insert("__bucket", b);
                keyed.push(d);
            }
            None => {
                return Err(MongoError::location(
                    "$bucket could not find a matching branch for an input, and no default was specified.",
                ))
            }
        }
    }
    let mut spec = bson::doc! {"_id": "$__bucket"};
    spec.extend(output);
    let mut grouped = group(&spec, keyed)?;
    sort(&mut grouped, &bson::doc! {"_id": 1})?;
    Ok(grouped)
}
