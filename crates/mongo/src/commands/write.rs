//! Writing: `insert`, `update`, `delete` and `findAndModify`. Each document
//! is changed with optimistic concurrency (replace if its etag still
//! holds, else read it again and retry), so concurrent updates of one
//! document never lose each other.

use bson::{doc, oid::ObjectId, Bson, Document};

use super::read::select;
use super::{size_of, Call};
use crate::error::{MongoError, Result};
use crate::filter::Filter;
use crate::update::{self, UpdateContext};
use cosmonaut_engine::charge;

/// A write error as drivers expect it in `writeErrors`.
fn write_error(index: usize, e: &MongoError) -> Bson {
    Bson::Document(doc! {"index": index as i32, "code": e.code, "errmsg": &e.message})
}

/// MongoDB (5.0 and later) stores field names starting with `$` anywhere
/// but in `_id`.
fn check_fields(document: &Document) -> Result<()> {
    fn dollar_keys(value: &Bson) -> Option<String> {
        match value {
            Bson::Document(d) => d.iter().find_map(|(k, v)| {
                if k.starts_with('$') {
                    Some(k.clone())
                } else {
                    dollar_keys(v)
                }
            }),
            Bson::Array(items) => items.iter().find_map(dollar_keys),
            _ => None,
        }
    }
    match document.get("_id").and_then(dollar_keys) {
        Some(key) => Err(MongoError::dollar_prefixed_field(format!(
            "_id fields may not contain '$'-prefixed fields: {key} is not valid for storage."
        ))),
        None => Ok(()),
    }
}

/// `_id` first (generated if missing), as MongoDB stores documents.
pub(super) fn with_id(mut document: Document) -> Document {
    let id = document
        .remove("_id")
        .unwrap_or_else(|| Bson::ObjectId(ObjectId::new()));
    let mut out = doc! {"_id": id};
    out.extend(document);
    out
}

fn ordered(call: &Call<'_>) -> bool {
    call.body.get("ordered").is_none_or(crate::expr::truthy)
}

fn reply(n: i64, errors: Vec<Bson>, extra: Document) -> Document {
    let mut reply = doc! {"n": n as i32};
    reply.extend(extra);
    if !errors.is_empty() {
        reply.insert("writeErrors", errors);
    }
    reply.insert("ok", 1.0);
    reply
}

pub async fn insert(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    if !call.body.contains_key("documents") {
        return Err(MongoError {
            code: 40414,
            name: "Location40414",
            message: "BSON field 'insert.documents' is missing but a required field".into(),
        });
    }
    let documents = call.array("documents")?;
    call.collections.ensure(&call.db, &coll).await?;
    let indexes = call.collections.index_set(&call.db, &coll)?;
    let mut n = 0;
    let mut errors = Vec::new();
    for (index, document) in documents.into_iter().enumerate() {
        let result = match document {
            Bson::Document(d) => {
                let d = with_id(d);
                match check_fields(&d) {
                    Ok(()) => {
                        call.meter.add(charge::write(size_of(&d)));
                        call.collections.insert(&call.db, &coll, &indexes, &d).await
                    }
                    Err(e) => Err(e),
                }
            }
            _ => Err(MongoError::wrong_type("insert.documents", "object")),
        };
        match result {
            Ok(()) => n += 1,
            Err(e) => {
                errors.push(write_error(index, &e));
                if ordered(call) {
                    break;
                }
            }
        }
    }
    Ok(reply(n, errors, Document::new()))
}

/// One update statement's parts.
struct Statement {
    filter: Filter,
    /// The statement's (or command's) collation.
    collation: Option<Document>,
    update: Change,
    upsert: bool,
    multi: bool,
    array_filters: Vec<(String, Filter)>,
}

enum Change {
    Operators(Document),
    Replacement(Document),
    Pipeline(Vec<Document>),
}

impl Statement {
    fn parse(
        spec: &Document,
        query_field: &str,
        update_field: &str,
        variables: &Document,
    ) -> Result<Statement> {
        let filter = match spec.get(query_field) {
            Some(Bson::Document(d)) => Filter::parse(&crate::expr::bind_filter(d, variables))?,
            // An update statement must say what it updates; findAndModify
            // without a query takes the first document.
            None if query_field == "q" => {
                return Err(MongoError {
                    code: 40414,
                    name: "Location40414",
                    message: "BSON field 'update.updates.q' is missing but a required field".into(),
                })
            }
            None | Some(Bson::Null) => Filter::And(Vec::new()),
            Some(_) => return Err(MongoError::wrong_type(query_field, "object")),
        };
        let update = match spec.get(update_field) {
            Some(Bson::Document(d)) if update::is_replacement(d) => {
                check_fields(d)?;
                Change::Replacement(d.clone())
            }
            Some(Bson::Document(d)) => Change::Operators(d.clone()),
            Some(Bson::Array(stages)) => Change::Pipeline(
                stages
                    .iter()
                    .map(|s| {
                        crate::expr::bind(s, variables)
                            .as_document()
                            .cloned()
                            .ok_or_else(|| MongoError::wrong_type(update_field, "object"))
                    })
                    .collect::<Result<_>>()?,
            ),
            _ => {
                return Err(MongoError::failed_to_parse(format!(
                    "'{update_field}' must be an object or a pipeline"
                )))
            }
        };
        let array_filters = match spec.get("arrayFilters") {
            Some(Bson::Array(list)) => update::parse_array_filters(list)?,
            _ => Vec::new(),
        };
        Ok(Statement {
            collation: spec.get_document("collation").ok().cloned(),
            filter,
            update,
            upsert: spec.get("upsert").is_some_and(crate::expr::truthy),
            multi: spec.get("multi").is_some_and(crate::expr::truthy),
            array_filters,
        })
    }

    /// The document `original` becomes.
    fn apply(&self, original: &Document, inserting: bool) -> Result<Document> {
        match &self.update {
            Change::Replacement(r) => {
                let mut new = r.clone();
                match (r.get("_id"), original.get("_id")) {
                    (Some(a), Some(b)) if !crate::compare::equal(a, b) && !inserting => {
                        return Err(MongoError::immutable_field(format!(
                            "After applying the update, the (immutable) field '_id' was found to have been altered to _id: {a}"
                        )))
                    }
                    (None, Some(id)) => {
                        new.insert("_id", id.clone());
                    }
                    _ => {}
                }
                Ok(with_id(new))
            }
            Change::Operators(ops) => {
                let mut new = original.clone();
                update::apply(
                    &mut new,
                    ops,
                    &UpdateContext {
                        query: Some(&self.filter),
                        array_filters: &self.array_filters,
                        inserting,
                    },
                )?;
                check_fields(&new)?;
                Ok(new)
            }
            Change::Pipeline(stages) => {
                let load = |_: &str| -> Result<Vec<Document>> {
                    Err(MongoError::invalid_pipeline(
                        "$lookup is not allowed in an update pipeline",
                    ))
                };
                let mut out = crate::aggregate::run(stages, vec![original.clone()], &load)?;
                let mut new = out.pop().ok_or_else(|| {
                    MongoError::invalid_pipeline("an update pipeline must return the document")
                })?;
                // A stage that drops `_id` (`$replaceRoot`, `$project`) keeps the document's.
                if let (false, Some(id)) = (new.contains_key("_id"), original.get("_id")) {
                    new.insert("_id", id.clone());
                }
                if !new
                    .get("_id")
                    .zip(original.get("_id"))
                    .is_none_or(|(a, b)| crate::compare::equal(a, b))
                {
                    return Err(MongoError::immutable_field("Performing an update on the path '_id' would modify the immutable field '_id'"));
                }
                Ok(with_id(new))
            }
        }
    }

    /// The document an upsert inserts when nothing matched.
    fn new_document(&self) -> Result<Document> {
        let mut base = Document::new();
        if !matches!(self.update, Change::Replacement(_)) {
            for (path, value) in self.filter.equalities() {
                if !path.starts_with('$') {
                    update::set_path(&mut base, path, value.clone())?;
                }
            }
        } else if let Some((_, id)) = self
            .filter
            .equalities()
            .into_iter()
            .find(|(p, _)| *p == "_id")
        {
            base.insert("_id", id.clone());
        }
        self.apply(&with_id(base), true)
    }
}

/// What applying a statement did.
#[derive(Default)]
struct Applied {
    matched: i64,
    modified: i64,
    upserted: Option<Bson>,
    /// The document before and after the last change (for findAndModify).
    before: Option<Document>,
    after: Option<Document>,
}

async fn run_statement(
    call: &Call<'_>,
    coll: &str,
    statement: &Statement,
    sort: Option<&Document>,
) -> Result<Applied> {
    let collections = &call.collections;
    let collation = statement.collation.as_ref();
    let mut candidates =
        crate::compare::with_collation(collation, || select(call, coll, &statement.filter))?;
    if let Some(sort) = sort {
        crate::compare::with_collation(collation, || {
            crate::aggregate::sort_with(&mut candidates, sort, |s| &s.document)
        })?;
    }
    if !statement.multi {
        candidates.truncate(1);
    }
    let indexes = collections.index_set(&call.db, coll)?;
    let mut applied = Applied::default();
    for mut current in candidates {
        // Each retry follows a write by someone else; a document that keeps
        // changing under a write gets a write conflict, not a hang.
        let mut attempts = 0;
        loop {
            attempts += 1;
            if attempts > 100 {
                return Err(MongoError::write_conflict(
                    "the document kept changing while it was updated; retry",
                ));
            }
            let new = statement.apply(&current.document, false)?;
            if new == current.document {
                applied.matched += 1;
                applied.before = Some(current.document.clone());
                applied.after = Some(new);
                break;
            }
            let update = !matches!(statement.update, Change::Replacement(_));
            if collections
                .replace(&call.db, coll, &indexes, &current, &new, update)
                .await?
            {
                applied.matched += 1;
                applied.modified += 1;
                call.meter.add(charge::replace(size_of(&new)));
                applied.before = Some(current.document);
                applied.after = Some(new);
                break;
            }
            // Changed since it was read: read it again; it may no longer match.
            let id = current.document.get("_id").cloned().unwrap_or(Bson::Null);
            match collections.get(&call.db, coll, &id)? {
                Some(again) if statement.filter.matches(&again.document)? => current = again,
                _ => break,
            }
        }
    }
    if applied.matched == 0 && statement.upsert {
        collections.ensure(&call.db, coll).await?;
        let new = statement.new_document()?;
        let indexes = collections.index_set(&call.db, coll)?;
        call.meter.add(charge::write(size_of(&new)));
        collections.insert(&call.db, coll, &indexes, &new).await?;
        applied.upserted = new.get("_id").cloned();
        applied.after = Some(new);
    }
    Ok(applied)
}

/// Refuses fields a statement of `command` does not have, as MongoDB 6.0
/// does (a newer driver's option reaches an older server this way).
fn known_fields(spec: &Document, command: &str, field: &str, known: &[&str]) -> Result<()> {
    match spec.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(MongoError {
            code: 40415,
            name: "Location40415",
            message: format!("BSON field '{command}.{field}.{unknown}' is an unknown field."),
        }),
        None => Ok(()),
    }
}

const UPDATE_FIELDS: [&str; 8] = [
    "q",
    "u",
    "upsert",
    "multi",
    "arrayFilters",
    "collation",
    "hint",
    "c",
];
const DELETE_FIELDS: [&str; 4] = ["q", "limit", "collation", "hint"];

pub async fn update(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    let mut matched = 0;
    let mut modified = 0;
    let mut upserted = Vec::new();
    let mut errors = Vec::new();
    for (index, spec) in call.array("updates")?.into_iter().enumerate() {
        let result = match &spec {
            Bson::Document(spec) => match known_fields(spec, "update", "updates", &UPDATE_FIELDS)
                .and_then(|()| call.variables())
                .and_then(|variables| Statement::parse(spec, "q", "u", &variables))
            {
                Ok(statement) => run_statement(call, &coll, &statement, None).await,
                Err(e) => Err(e),
            },
            _ => Err(MongoError::wrong_type("update.updates", "object")),
        };
        match result {
            Ok(applied) => {
                matched += applied.matched;
                modified += applied.modified;
                if let Some(id) = applied.upserted {
                    matched += 1;
                    upserted.push(Bson::Document(doc! {"index": index as i32, "_id": id}));
                }
            }
            Err(e) => {
                errors.push(write_error(index, &e));
                if ordered(call) {
                    break;
                }
            }
        }
    }
    let mut extra = doc! {"nModified": modified as i32};
    if !upserted.is_empty() {
        extra.insert("upserted", upserted);
    }
    Ok(reply(matched, errors, extra))
}

pub async fn delete(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    let collections = &call.collections;
    let mut n = 0;
    let mut errors = Vec::new();
    for (index, spec) in call.array("deletes")?.into_iter().enumerate() {
        let result: Result<i64> = async {
            let Bson::Document(spec) = spec else {
                return Err(MongoError::wrong_type("delete.deletes", "object"));
            };
            known_fields(&spec, "delete", "deletes", &DELETE_FIELDS)?;
            // A `q` that is not a document is refused, never read as "everything".
            let q = match spec.get("q") {
                Some(Bson::Document(q)) => q,
                Some(_) => return Err(MongoError::wrong_type("delete.deletes.q", "object")),
                None => {
                    return Err(MongoError {
                        code: 40414,
                        name: "Location40414",
                        message: "BSON field 'delete.deletes.q' is missing but a required field"
                            .into(),
                    })
                }
            };
            let filter = Filter::parse(&crate::expr::bind_filter(q, &call.variables()?))?;
            let one = spec.get("limit").is_some_and(crate::expr::truthy);
            let mut deleted = 0;
            let indexes = collections.index_set(&call.db, &coll)?;
            let collation = spec.get_document("collation").ok();
            let found = crate::compare::with_collation(collation, || select(call, &coll, &filter))?;
            for stored in found {
                if collections
                    .delete(&call.db, &coll, &indexes, &stored)
                    .await?
                {
                    deleted += 1;
                    call.meter.add(charge::delete(size_of(&stored.document)));
                    if one {
                        break;
                    }
                }
            }
            Ok(deleted)
        }
        .await;
        match result {
            Ok(d) => n += d,
            Err(e) => {
                errors.push(write_error(index, &e));
                if ordered(call) {
                    break;
                }
            }
        }
    }
    Ok(reply(n, errors, Document::new()))
}

pub async fn find_and_modify(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    let sort = call.optional_document("sort")?;
    let fields = call.optional_document("fields")?.filter(|f| !f.is_empty());
    let project = |d: Option<Document>| -> Result<Bson> {
        match (d, &fields) {
            (None, _) => Ok(Bson::Null),
            (Some(d), Some(f)) => Ok(Bson::Document(
                crate::projection::Projection::parse(f)?.apply(&d)?,
            )),
            (Some(d), None) => Ok(Bson::Document(d)),
        }
    };
    if call.flag("remove") {
        if call.body.contains_key("update") {
            return Err(MongoError::failed_to_parse(
                "Cannot specify both an update and remove=true",
            ));
        }
        let filter = Filter::parse(&call.filter("query")?)?;
        let collation = call.optional_document("collation")?;
        let candidates = crate::compare::with_collation(collation.as_ref(), || {
            let mut found: Vec<Document> = select(call, &coll, &filter)?
                .into_iter()
                .map(|s| s.document)
                .collect();
            if let Some(sort) = &sort {
                crate::aggregate::sort(&mut found, sort)?;
            }
            Ok::<_, MongoError>(found)
        })?;
        let indexes = call.collections.index_set(&call.db, &coll)?;
        for document in candidates {
            let id = document.get("_id").cloned().unwrap_or(Bson::Null);
            if let Some(current) = call.collections.get(&call.db, &coll, &id)? {
                let still = crate::compare::with_collation(collation.as_ref(), || {
                    filter.matches(&current.document)
                })?;
                if still
                    && call
                        .collections
                        .delete(&call.db, &coll, &indexes, &current)
                        .await?
                {
                    return Ok(
                        doc! {"lastErrorObject": {"n": 1}, "value": project(Some(current.document))?, "ok": 1.0},
                    );
                }
            }
        }
        return Ok(doc! {"lastErrorObject": {"n": 0}, "value": Bson::Null, "ok": 1.0});
    }
    if !call.body.contains_key("update") {
        return Err(MongoError::failed_to_parse(
            "Either an update or remove=true must be specified",
        ));
    }
    let mut spec = call.body.clone();
    spec.insert("multi", false);
    let statement = Statement::parse(&spec, "query", "update", &call.variables()?)?;
    let applied = run_statement(call, &coll, &statement, sort.as_ref()).await?;
    let want_new = call.flag("new");
    let value = if applied.upserted.is_some() {
        if want_new {
            applied.after
        } else {
            None
        }
    } else if want_new {
        applied.after
    } else {
        applied.before
    };
    let mut last = doc! {"n": (applied.matched + i64::from(applied.upserted.is_some())) as i32, "updatedExisting": applied.matched > 0};
    if let Some(id) = applied.upserted {
        last.insert("upserted", id);
    }
    Ok(doc! {"lastErrorObject": last, "value": project(value)?, "ok": 1.0})
}
