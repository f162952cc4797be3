//! The aggregation stages that write their input into a collection instead
//! of returning it: `$out` (the collection becomes the result) and
//! `$merge` (each result is matched against the collection and replaces,
//! merges into, keeps or refuses what it matches, and is inserted,
//! dropped or refused when nothing matches).

use bson::{doc, Bson, Document};

use super::write::with_id;
use super::Call;
use crate::error::{MongoError, Result};
use crate::filter::Filter;
use crate::indexes::IndexSet;

/// Where an output stage writes: a collection of this database, or `{db, coll}`.
fn target(call: &Call<'_>, stage: &str, spec: &Bson, coll_field: &str) -> Result<(String, String)> {
    let (db, coll) = match spec {
        Bson::String(coll) => (call.db.clone(), coll.clone()),
        Bson::Document(d) => (
            d.get_str("db").unwrap_or(&call.db).to_string(),
            d.get_str(coll_field)
                .map_err(|_| MongoError::failed_to_parse(format!("{stage} needs '{coll_field}'")))?
                .to_string(),
        ),
        _ => {
            return Err(MongoError::failed_to_parse(format!(
                "{stage} takes a collection name or {{db, {coll_field}}}"
            )))
        }
    };
    crate::collections::check_names(&db, Some(&coll))?;
    Ok((db, coll))
}

/// What a pipeline ends with, if it writes.
pub enum Output {
    Out { db: String, coll: String },
    Merge(Merge),
}

impl Output {
    /// Takes a final `$out` or `$merge` off `pipeline`.
    pub fn take(call: &Call<'_>, pipeline: &mut Vec<Document>) -> Result<Option<Output>> {
        let Some(last) = pipeline.last() else {
            return Ok(None);
        };
        let output = if let Some(spec) = last.get("$out") {
            let (db, coll) = target(call, "$out", spec, "coll")?;
            Output::Out { db, coll }
        } else if let Some(spec) = last.get("$merge") {
            Output::Merge(Merge::parse(call, spec)?)
        } else {
            return Ok(None);
        };
        pipeline.pop();
        Ok(Some(output))
    }

    pub async fn write(&self, call: &Call<'_>, results: Vec<Document>) -> Result<()> {
        match self {
            Output::Out { db, coll } => write_out(call, db, coll, results).await,
            Output::Merge(merge) => merge.write(call, results).await,
        }
    }
}

/// `$out`: the collection `db.coll` becomes the pipeline's result (its
/// documents replaced, its indexes kept).
async fn write_out(call: &Call<'_>, db: &str, coll: &str, results: Vec<Document>) -> Result<()> {
    let collections = &call.collections;
    collections.ensure(db, coll).await?;
    let indexes = collections.index_set(db, coll)?;
    for old in collections.scan(db, coll)? {
        collections.delete(db, coll, &indexes, &old).await?;
    }
    for document in results {
        collections
            .insert(db, coll, &indexes, &with_id(document))
            .await?;
    }
    Ok(())
}

enum WhenMatched {
    Replace,
    KeepExisting,
    Merge,
    Fail,
    /// An update pipeline, with `$$new` the incoming document.
    Pipeline(Vec<Document>),
}

enum WhenNotMatched {
    Insert,
    Discard,
    Fail,
}

/// A parsed `$merge` stage.
pub struct Merge {
    db: String,
    coll: String,
    on: Vec<String>,
    variables: Document,
    matched: WhenMatched,
    not_matched: WhenNotMatched,
}

impl Merge {
    fn parse(call: &Call<'_>, spec: &Bson) -> Result<Merge> {
        let (db, coll) = match spec {
            Bson::Document(d) => {
                target(call, "$merge", d.get("into").unwrap_or(&Bson::Null), "coll")?
            }
            other => target(call, "$merge", other, "coll")?,
        };
        let empty = Document::new();
        let options = spec.as_document().unwrap_or(&empty);
        let on = match options.get("on") {
            None => vec!["_id".to_string()],
            Some(Bson::String(field)) => vec![field.clone()],
            Some(Bson::Array(fields)) if !fields.is_empty() => fields
                .iter()
                .map(|f| {
                    f.as_str()
                        .map(String::from)
                        .ok_or_else(|| MongoError::failed_to_parse("$merge 'on' takes field names"))
                })
                .collect::<Result<_>>()?,
            Some(_) => {
                return Err(MongoError::failed_to_parse(
                    "$merge 'on' takes a field name or an array of them",
                ))
            }
        };
        let matched = match options.get("whenMatched") {
            None => WhenMatched::Merge,
            Some(Bson::String(s)) => match s.as_str() {
                "replace" => WhenMatched::Replace,
                "keepExisting" => WhenMatched::KeepExisting,
                "merge" => WhenMatched::Merge,
                "fail" => WhenMatched::Fail,
                other => {
                    return Err(MongoError::bad_value(format!(
                        "Enumeration value '{other}' for field 'whenMatched' is not a valid value."
                    )))
                }
            },
            Some(Bson::Array(stages)) => WhenMatched::Pipeline(
                stages
                    .iter()
                    .map(|s| {
                        s.as_document()
                            .cloned()
                            .ok_or_else(|| MongoError::wrong_type("$merge.whenMatched", "object"))
                    })
                    .collect::<Result<_>>()?,
            ),
            Some(_) => return Err(MongoError::wrong_type("$merge.whenMatched", "string")),
        };
        let not_matched = match options.get("whenNotMatched").and_then(Bson::as_str) {
            None | Some("insert") => WhenNotMatched::Insert,
            Some("discard") => WhenNotMatched::Discard,
            Some("fail") => WhenNotMatched::Fail,
            Some(other) => {
                return Err(MongoError::bad_value(format!(
                    "Enumeration value '{other}' for field 'whenNotMatched' is not a valid value."
                )))
            }
        };
        let variables = match options.get("let") {
            Some(Bson::Document(d)) => crate::expr::evaluate_variables(d)?,
            _ => Document::new(),
        };
        Ok(Merge {
            db,
            coll,
            on,
            variables,
            matched,
            not_matched,
        })
    }

    async fn write(&self, call: &Call<'_>, results: Vec<Document>) -> Result<()> {
        let (db, coll) = (self.db.as_str(), self.coll.as_str());
        call.collections.ensure(db, coll).await?;
        let indexes = call.collections.index_set(db, coll)?;
        for document in results {
            // A write that lost a race reads its target again (a few times).
            let mut done = false;
            for _ in 0..8 {
                if self.merge_one(call, &indexes, &document).await? {
                    done = true;
                    break;
                }
            }
            if !done {
                return Err(MongoError::write_conflict(
                    "$merge kept losing races on a document; run it again",
                ));
            }
        }
        Ok(())
    }

    /// The filter that finds the target of `document`: equality on each
    /// `on` field, which must hold one value.
    fn target_filter(&self, document: &Document) -> Result<Document> {
        let mut filter = Document::new();
        for field in &self.on {
            match crate::path::lookup(document, field).first().copied() {
                Some(Bson::Array(_)) | Some(Bson::Null) | Some(Bson::Undefined) | None => {
                    return Err(MongoError::location(format!(
                        "$merge write error: 'on' field '{field}' cannot be missing, null, \
                         undefined or an array"
                    )))
                }
                Some(value) => {
                    filter.insert(field.clone(), doc! {"$eq": value.clone()});
                }
            }
        }
        Ok(filter)
    }

    /// Merges one result; false when its target changed meanwhile.
    async fn merge_one(
        &self,
        call: &Call<'_>,
        indexes: &IndexSet,
        document: &Document,
    ) -> Result<bool> {
        let (db, coll) = (self.db.as_str(), self.coll.as_str());
        let collections = &call.collections;
        let document = if self.on == ["_id"] {
            with_id(document.clone())
        } else {
            document.clone()
        };
        let filter = Filter::parse(&self.target_filter(&document)?)?;
        let mut in_target = call.inner(doc! {}, "find");
        in_target.db = db.to_string();
        let mut found = super::read::select(&in_target, coll, &filter)?;
        if found.len() > 1 {
            return Err(MongoError::location(
                "$merge found more than one document for one set of 'on' values; the 'on' \
                 fields need a unique index",
            ));
        }
        let Some(old) = found.pop() else {
            return match self.not_matched {
                WhenNotMatched::Insert => {
                    collections
                        .insert(db, coll, indexes, &with_id(document))
                        .await?;
                    Ok(true)
                }
                WhenNotMatched::Discard => Ok(true),
                WhenNotMatched::Fail => Err(MongoError::merge_not_matched(
                    "$merge could not find a matching document in the target collection for \
                     at least one document in the source collection",
                )),
            };
        };
        let mut new = match &self.matched {
            WhenMatched::KeepExisting => return Ok(true),
            WhenMatched::Fail => {
                return Err(crate::collections::duplicate(
                    db,
                    coll,
                    old.document.get("_id"),
                ))
            }
            WhenMatched::Replace => document.clone(),
            WhenMatched::Merge => {
                let mut merged = old.document.clone();
                for (k, v) in &document {
                    merged.insert(k.clone(), v.clone());
                }
                merged
            }
            WhenMatched::Pipeline(stages) => {
                let mut variables = self.variables.clone();
                variables.insert("new", document.clone());
                let bound: Vec<Document> = stages
                    .iter()
                    .filter_map(|s| {
                        crate::expr::bind(&Bson::Document(s.clone()), &variables)
                            .as_document()
                            .cloned()
                    })
                    .collect();
                let load = |_: &str| -> Result<Vec<Document>> {
                    Err(MongoError::invalid_pipeline(
                        "$lookup is not allowed in a $merge pipeline",
                    ))
                };
                crate::aggregate::run(&bound, vec![old.document.clone()], &load)?
                    .pop()
                    .ok_or_else(|| {
                        MongoError::invalid_pipeline("a $merge pipeline must return the document")
                    })?
            }
        };
        match (new.get("_id"), old.document.get("_id")) {
            (None, Some(id)) => {
                new.insert("_id", id.clone());
            }
            (Some(a), Some(b)) if !crate::compare::equal(a, b) => {
                return Err(MongoError::immutable_field(
                    "$merge failed to update the matching document, did you attempt to modify \
                     the _id or the shard key?",
                ))
            }
            _ => {}
        }
        collections
            .replace(db, coll, indexes, &old, &new, true)
            .await
    }
}
