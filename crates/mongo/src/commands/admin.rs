//! Databases, collections and indexes: `listDatabases`, `listCollections`,
//! `create`, `drop`, `dropDatabase`, `renameCollection`, `listIndexes`,
//! `createIndexes`, `dropIndexes`, `collStats`, `dbStats`.

use bson::{doc, Bson, Document};

use super::Call;
use crate::error::{MongoError, Result};
use crate::filter::Filter;

pub fn list_databases(call: &Call<'_>) -> Result<Document> {
    let filter = Filter::parse(&call.document("filter")?)?;
    let mut databases = Vec::new();
    let mut total = 0i64;
    for name in call.collections.databases()? {
        let mut size = 0i64;
        let mut empty = true;
        for coll in call.collections.collections(&name)? {
            let count = call.collections.count(&name, &coll)?;
            empty &= count == 0;
            size += count as i64 * 1024;
        }
        let entry = doc! {"name": name, "sizeOnDisk": size, "empty": empty};
        if filter.matches(&entry)? {
            total += size;
            databases.push(if call.flag("nameOnly") {
                doc! {"name": entry.get_str("name").unwrap_or_default()}
            } else {
                entry
            });
        }
    }
    Ok(doc! {"databases": databases, "totalSize": total, "totalSizeMb": total >> 20, "ok": 1.0})
}

fn id_index() -> Document {
    doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"}
}

pub fn list_collections(call: &Call<'_>) -> Result<Document> {
    let filter = Filter::parse(&call.document("filter")?)?;
    let mut entries = Vec::new();
    for name in call.collections.collections(&call.db)? {
        let entry = doc! {
            "name": &name,
            "type": "collection",
            "options": {},
            "info": {"readOnly": false},
            "idIndex": id_index(),
        };
        if filter.matches(&entry)? {
            entries.push(if call.flag("nameOnly") {
                doc! {"name": name, "type": "collection"}
            } else {
                entry
            });
        }
    }
    let batch = call
        .optional_document("cursor")?
        .and_then(|c| c.get_i32("batchSize").ok())
        .map(|b| b.max(0) as usize);
    Ok(call.server.cursors.first_batch(
        &format!("{}.$cmd.listCollections", call.db),
        entries,
        batch.or(Some(usize::MAX)),
        false,
    ))
}

pub async fn create(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    for unsupported in ["capped", "viewOn", "timeseries", "clusteredIndex"] {
        if call.body.contains_key(unsupported) && call.flag(unsupported) {
            return Err(MongoError::invalid_options(format!(
                "{unsupported} collections are not supported"
            )));
        }
    }
    if !call.collections.ensure(&call.db, &coll).await? {
        return Err(MongoError::namespace_exists(format!(
            "Collection {}.{coll} already exists.",
            call.db
        )));
    }
    Ok(doc! {"ok": 1.0})
}

pub async fn drop(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    if !call.collections.drop_collection(&call.db, &coll).await? {
        return Err(MongoError::namespace_not_found("ns not found"));
    }
    Ok(doc! {"ns": call.namespace(&coll), "nIndexesWas": 1, "ok": 1.0})
}

pub async fn drop_database(call: &Call<'_>) -> Result<Document> {
    call.collections.drop_database(&call.db).await?;
    Ok(doc! {"dropped": &call.db, "ok": 1.0})
}

/// Renames by copying every document and dropping the source: the engine
/// has no rename, and Cosmos DB's MongoDB API does not promise atomicity
/// here either.
pub async fn rename_collection(call: &Call<'_>) -> Result<Document> {
    let split = |ns: &str| -> Result<(String, String)> {
        ns.split_once('.')
            .map(|(d, c)| (d.to_string(), c.to_string()))
            .ok_or_else(|| {
                MongoError::invalid_namespace(format!("Invalid namespace specified '{ns}'"))
            })
    };
    let (from_db, from) = split(call.body.get_str(&call.name).unwrap_or(""))?;
    let (to_db, to) = split(
        call.body
            .get_str("to")
            .map_err(|_| MongoError::wrong_type("renameCollection.to", "string"))?,
    )?;
    let collections = &call.collections;
    if !collections.exists(&from_db, &from)? {
        return Err(MongoError::namespace_not_found(
            "source namespace does not exist",
        ));
    }
    if collections.exists(&to_db, &to)? {
        if !call.flag("dropTarget") {
            return Err(MongoError::namespace_exists("target namespace exists"));
        }
        collections.drop_collection(&to_db, &to).await?;
    }
    collections.ensure(&to_db, &to).await?;
    // The index specifications first, so the copies claim their unique
    // keys and get their expiry.
    let specs = collections.indexes(&from_db, &from)?;
    if !specs.is_empty() {
        collections.set_indexes(&to_db, &to, &specs).await?;
    }
    let indexes = collections.index_set(&to_db, &to)?;
    for stored in collections.scan(&from_db, &from)? {
        collections
            .insert(&to_db, &to, &indexes, &stored.document)
            .await?;
    }
    collections.drop_collection(&from_db, &from).await?;
    Ok(doc! {"ok": 1.0})
}

pub fn list_indexes(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    if !call.collections.exists(&call.db, &coll)? {
        return Err(MongoError::namespace_not_found(format!(
            "ns does not exist: {}",
            call.namespace(&coll)
        )));
    }
    let mut all = vec![id_index()];
    all.extend(call.collections.indexes(&call.db, &coll)?);
    Ok(call
        .server
        .cursors
        .first_batch(&call.namespace(&coll), all, Some(usize::MAX), false))
}

/// An index name as MongoDB makes it: `a_1_b_-1`.
fn index_name(key: &Document) -> String {
    key.iter()
        .map(|(k, v)| {
            format!(
                "{k}_{}",
                match v {
                    Bson::String(s) => s.clone(),
                    other => crate::compare::as_f64(other)
                        .map_or_else(|| other.to_string(), |f| (f as i64).to_string()),
                }
            )
        })
        .collect::<Vec<_>>()
        .join("_")
}

pub async fn create_indexes(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    let created_collection = call.collections.ensure(&call.db, &coll).await?;
    let mut wanted = Vec::new();
    for spec in call.array("indexes")? {
        let Bson::Document(mut spec) = spec else {
            return Err(MongoError::wrong_type("createIndexes.indexes", "object"));
        };
        let key = spec
            .get_document("key")
            .map_err(|_| {
                MongoError::failed_to_parse(
                    "The 'key' field is a required property of an index specification",
                )
            })?
            .clone();
        if key.is_empty() {
            return Err(MongoError::failed_to_parse("Index keys cannot be empty."));
        }
        match spec.get("partialFilterExpression") {
            None => {}
            Some(Bson::Document(partial)) => {
                if spec.get("sparse").is_some_and(crate::expr::truthy) {
                    return Err(MongoError::cannot_create_index(
                        "cannot mix \"partialFilterExpression\" and \"sparse\" options",
                    ));
                }
                Filter::parse(partial)?;
            }
            Some(_) => {
                return Err(MongoError::type_mismatch(
                    "'partialFilterExpression' for an index must be a document",
                ))
            }
        }
        if let Some(seconds) = spec.get("expireAfterSeconds") {
            let valid =
                crate::compare::as_f64(seconds).is_some_and(|s| s >= 0.0 && s <= i32::MAX as f64);
            if !valid || key.len() != 1 {
                return Err(MongoError::invalid_options(
                    "TTL index 'expireAfterSeconds' must be a non-negative number of seconds, on one field",
                ));
            }
        }
        if !spec.contains_key("name") {
            spec.insert("name", index_name(&key));
        }
        spec.insert("v", 2);
        wanted.push(spec);
    }
    loop {
        let mut current = call.collections.indexes(&call.db, &coll)?;
        let before = current.len() + 1;
        for spec in &wanted {
            let name = spec.get_str("name").unwrap_or_default();
            match current
                .iter()
                .find(|i| i.get_str("name").ok() == Some(name))
            {
                Some(existing) if existing.get("key") != spec.get("key") => {
                    return Err(MongoError {
                        code: 86,
                        name: "IndexKeySpecsConflict",
                        message: format!(
                            "An existing index has the same name as the requested index: {name}"
                        ),
                    });
                }
                Some(_) => {}
                None => current.push(spec.clone()),
            }
        }
        let after = current.len() + 1;
        if after == before
            || call
                .collections
                .set_indexes(&call.db, &coll, &current)
                .await?
        {
            let added: Vec<&Document> = current.iter().skip(before - 1).collect();
            finish_new_indexes(call, &coll, &added).await?;
            return Ok(doc! {
                "numIndexesBefore": before as i32,
                "numIndexesAfter": after as i32,
                "createdCollectionAutomatically": created_collection,
                "ok": 1.0,
            });
        }
    }
}

/// Makes new indexes hold for the documents already stored: markers for
/// a unique index (removing the index again if two documents share a key),
/// expiry for a TTL index.
async fn finish_new_indexes(call: &Call<'_>, coll: &str, added: &[&Document]) -> Result<()> {
    let collections = &call.collections;
    let indexes = collections.index_set(&call.db, coll)?;
    for spec in added {
        let name = spec.get_str("name").unwrap_or_default();
        if spec.get("unique").is_some_and(crate::expr::truthy) {
            if let Err(e) = collections
                .build_unique(&call.db, coll, &indexes, name)
                .await
            {
                remove_index(call, coll, name).await?;
                return Err(e);
            }
        }
    }
    // Expiry and lookup keys for what is already stored.
    if !added.is_empty() {
        collections.rewrite_all(&call.db, coll, &indexes).await?;
    }
    Ok(())
}

async fn remove_index(call: &Call<'_>, coll: &str, name: &str) -> Result<()> {
    loop {
        let keep: Vec<Document> = call
            .collections
            .indexes(&call.db, coll)?
            .into_iter()
            .filter(|i| i.get_str("name").ok() != Some(name))
            .collect();
        if call.collections.set_indexes(&call.db, coll, &keep).await? {
            return Ok(());
        }
    }
}

pub async fn drop_indexes(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    if !call.collections.exists(&call.db, &coll)? {
        return Err(MongoError::namespace_not_found(format!(
            "ns not found {}",
            call.namespace(&coll)
        )));
    }
    let target = call.body.get("index").cloned().unwrap_or(Bson::Null);
    loop {
        let current = call.collections.indexes(&call.db, &coll)?;
        let before = current.len() as i32 + 1;
        let keep: Vec<Document> = match &target {
            Bson::String(s) if s == "*" => Vec::new(),
            Bson::String(s) if s == "_id_" => {
                return Err(MongoError::invalid_options("cannot drop _id index"));
            }
            Bson::String(name) => {
                if !current
                    .iter()
                    .any(|i| i.get_str("name").ok() == Some(name.as_str()))
                {
                    return Err(MongoError::index_not_found(format!(
                        "index not found with name [{name}]"
                    )));
                }
                current
                    .iter()
                    .filter(|i| i.get_str("name").ok() != Some(name.as_str()))
                    .cloned()
                    .collect()
            }
            Bson::Document(key) => {
                if !current
                    .iter()
                    .any(|i| i.get_document("key").ok() == Some(key))
                {
                    return Err(MongoError::index_not_found(format!(
                        "can't find index with key: {key}"
                    )));
                }
                current
                    .iter()
                    .filter(|i| i.get_document("key").ok() != Some(key))
                    .cloned()
                    .collect()
            }
            Bson::Array(names) => current
                .iter()
                .filter(|i| !names.iter().any(|n| n.as_str() == i.get_str("name").ok()))
                .cloned()
                .collect(),
            _ => return Err(MongoError::wrong_type("dropIndexes.index", "string")),
        };
        if call.collections.set_indexes(&call.db, &coll, &keep).await? {
            return Ok(doc! {"nIndexesWas": before, "ok": 1.0});
        }
    }
}

pub fn stats(call: &Call<'_>, which: &str) -> Result<Document> {
    let collections = &call.collections;
    if which == "dbstats" {
        let names = collections.collections(&call.db)?;
        let mut objects = 0u64;
        for name in &names {
            objects += collections.count(&call.db, name)?;
        }
        return Ok(
            doc! {"db": &call.db, "collections": names.len() as i32, "objects": objects as i64, "ok": 1.0},
        );
    }
    let coll = call.collection()?;
    let count = collections.count(&call.db, &coll)?;
    Ok(
        doc! {"ns": call.namespace(&coll), "count": count as i64, "nindexes": 1 + collections.indexes(&call.db, &coll).map_or(0, |i| i.len()) as i32, "ok": 1.0},
    )
}

/// The server's parameters: the feature compatibility version and the
/// blocking stages' memory limit.
pub fn get_parameter(call: &Call<'_>) -> Document {
    let limit = call
        .server
        .blocking_limit
        .load(std::sync::atomic::Ordering::Relaxed) as i64;
    doc! {
        "featureCompatibilityVersion": {"version": "6.0"},
        "internalQueryMaxBlockingSortMemoryUsageBytes": limit,
        "allowDiskUseByDefault": true,
        "ok": 1.0,
    }
}

/// Sets the blocking stages' memory limit
/// (`internalQueryMaxBlockingSortMemoryUsageBytes`); other parameters are
/// not settable here.
pub fn set_parameter(call: &Call<'_>) -> Result<Document> {
    const LIMIT: &str = "internalQueryMaxBlockingSortMemoryUsageBytes";
    let mut was = None;
    for (name, value) in call.body.iter().skip(1) {
        if name.starts_with('$') || name == "lsid" || name == "comment" {
            continue;
        }
        if name != LIMIT {
            return Err(MongoError::invalid_options(format!(
                "attempted to set unrecognized parameter [{name}]"
            )));
        }
        let bytes = crate::compare::as_f64(value)
            .filter(|n| n.fract() == 0.0 && *n > 0.0)
            .ok_or_else(|| {
                MongoError::bad_value(format!("{LIMIT} takes a positive whole number"))
            })?;
        was = Some(
            call.server
                .blocking_limit
                .swap(bytes as usize, std::sync::atomic::Ordering::Relaxed) as i64,
        );
    }
    match was {
        Some(was) => Ok(doc! {"was": was, "ok": 1.0}),
        None => Err(MongoError::invalid_options("no option found to set")),
    }
}
