//! Azure Cosmos DB for MongoDB's own commands: `customAction` (create, get
//! and update databases and collections with throughput, shard key and
//! indexes) and `shardCollection`. A shard key is kept in the collection's
//! settings and reported back; documents stay one logical partition each
//! (see `collections`), so every shard key value lives together already.

use bson::{doc, Document};
use cosmonaut_engine::{ErrorKind, NewContainer, Throughput};
use serde_json::{json, Value};

use super::Call;
use crate::compare::as_f64;
use crate::error::{MongoError, Result};

/// The setting that keeps a collection's shard key field.
const SHARD_KEY: &str = "mongoShardKey";

fn throughput(call: &Call<'_>) -> Result<Option<Throughput>> {
    if let Some(ru) = call.body.get("offerThroughput").and_then(as_f64) {
        return Ok(Some(Throughput::Manual(ru.max(0.0) as u64)));
    }
    if let Ok(settings) = call.body.get_document("autoScaleSettings") {
        let max = settings
            .get("maxThroughput")
            .and_then(as_f64)
            .ok_or_else(|| MongoError::bad_value("autoScaleSettings needs maxThroughput"))?;
        return Ok(Some(Throughput::Autoscale {
            max: max.max(0.0) as u64,
            increment_percent: 0,
        }));
    }
    Ok(None)
}

/// The offer (provisioned throughput) of a database or container rid.
fn offer_of(call: &Call<'_>, rid: &str) -> Result<Option<Value>> {
    Ok(call
        .collections
        .engine()
        .list_offers()?
        .into_iter()
        .find(|o| o["offerResourceId"].as_str() == Some(rid)))
}

fn describe_offer(reply: &mut Document, offer: Option<Value>) {
    let Some(content) = offer.map(|o| o["content"].clone()) else {
        return;
    };
    if let Some(max) = content
        .pointer("/offerAutopilotSettings/maxThroughput")
        .and_then(Value::as_i64)
    {
        reply.insert("autoScaleSettings", doc! {"maxThroughput": max as i32});
    } else if let Some(ru) = content["offerThroughput"].as_i64() {
        reply.insert("provisionedThroughput", ru as i32);
    }
}

async fn set_offer(call: &Call<'_>, rid: &str, wanted: Throughput) -> Result<()> {
    let Some(offer) = offer_of(call, rid)? else {
        return Err(MongoError::bad_value(
            "throughput can only be changed where it was provisioned at creation",
        ));
    };
    let content = match wanted {
        Throughput::Manual(ru) => json!({"offerThroughput": ru}),
        Throughput::Autoscale { max, .. } => {
            json!({"offerAutopilotSettings": {"maxThroughput": max}})
        }
    };
    let id = offer["id"].as_str().unwrap_or_default().to_string();
    call.collections
        .engine()
        .replace_offer(&id, json!({"content": content}))
        .await?;
    Ok(())
}

pub async fn custom_action(call: &Call<'_>) -> Result<Document> {
    let action = call.body.get_str("customAction").unwrap_or_default();
    let engine = call.collections.engine();
    crate::collections::check_names(&call.db, None)?;
    match action {
        "CreateDatabase" => {
            match engine
                .create_database_with_throughput(json!({"id": call.db}), throughput(call)?)
                .await
            {
                Ok(_) => Ok(doc! {"ok": 1.0}),
                Err(e) if e.kind == ErrorKind::Conflict => {
                    Err(MongoError::namespace_exists("Database already exists"))
                }
                Err(e) => Err(e.into()),
            }
        }
        "GetDatabase" => {
            let body = engine.read_database(&call.db).map_err(|_| {
                MongoError::namespace_not_found(format!("Database {} not found", call.db))
            })?;
            let mut reply = doc! {"database": &call.db};
            describe_offer(
                &mut reply,
                offer_of(call, body["_rid"].as_str().unwrap_or_default())?,
            );
            reply.insert("ok", 1.0);
            Ok(reply)
        }
        "UpdateDatabase" => {
            let body = engine.read_database(&call.db)?;
            let wanted = throughput(call)?.ok_or_else(|| {
                MongoError::bad_value("UpdateDatabase needs offerThroughput or autoScaleSettings")
            })?;
            set_offer(call, body["_rid"].as_str().unwrap_or_default(), wanted).await?;
            Ok(doc! {"ok": 1.0})
        }
        "CreateCollection" | "UpdateCollection" | "GetCollection" => {
            collection_action(call, action).await
        }
        other => Err(MongoError::command_not_found(format!(
            "no such customAction: '{other}'"
        ))),
    }
}

async fn collection_action(call: &Call<'_>, action: &str) -> Result<Document> {
    let coll = call
        .body
        .get_str("collection")
        .map_err(|_| MongoError::wrong_type("customAction.collection", "string"))?
        .to_string();
    crate::collections::check_names(&call.db, Some(&coll))?;
    let collections = &call.collections;
    let engine = collections.engine();
    match action {
        "CreateCollection" => {
            if collections.exists(&call.db, &coll)? {
                return Err(MongoError::namespace_exists(format!(
                    "Collection {}.{coll} already exists",
                    call.db
                )));
            }
            match engine.create_database(json!({"id": call.db})).await {
                Ok(_) => {}
                Err(e) if e.kind == ErrorKind::Conflict => {}
                Err(e) => return Err(e.into()),
            }
            let mut body = NewContainer::hashed(&coll, "/id").body;
            if let Ok(key) = call.body.get_str("shardKey") {
                body[SHARD_KEY] = json!(key);
            }
            engine
                .create_container(
                    &call.db,
                    NewContainer {
                        body,
                        throughput: throughput(call)?,
                    },
                )
                .await?;
        }
        "UpdateCollection" => {
            let info = engine.read_container(&call.db, &coll)?;
            if let Some(wanted) = throughput(call)? {
                set_offer(call, &info.rid, wanted).await?;
            }
        }
        _ => {
            let info = engine.read_container(&call.db, &coll).map_err(|_| {
                MongoError::namespace_not_found(format!("Collection {}.{coll} not found", call.db))
            })?;
            let mut reply = doc! {"database": &call.db, "collection": &coll};
            if let Some(key) = info.body[SHARD_KEY].as_str() {
                reply.insert("shardKeyDefinition", doc! {key: "hashed"});
            }
            describe_offer(&mut reply, offer_of(call, &info.rid)?);
            reply.insert("ok", 1.0);
            return Ok(reply);
        }
    }
    if let Ok(indexes) = call.body.get_array("indexes") {
        let create = doc! {"createIndexes": &coll, "indexes": indexes.clone()};
        let inner = call.inner(create, "createIndexes");
        super::admin::create_indexes(&inner).await?;
    }
    Ok(doc! {"ok": 1.0})
}

/// `shardCollection` (on `admin`): names a collection's shard key.
pub async fn shard_collection(call: &Call<'_>) -> Result<Document> {
    let namespace = call
        .body
        .get_str(&call.name)
        .map_err(|_| MongoError::wrong_type("shardCollection", "string"))?;
    let (db, coll) = namespace.split_once('.').ok_or_else(|| {
        MongoError::invalid_namespace(format!("Invalid namespace specified '{namespace}'"))
    })?;
    let key = call
        .body
        .get_document("key")
        .map_err(|_| MongoError::wrong_type("shardCollection.key", "object"))?;
    let field = match key.keys().collect::<Vec<_>>().as_slice() {
        [field] => field.to_string(),
        _ => {
            return Err(MongoError::invalid_options(
                "the shard key must be one field",
            ))
        }
    };
    let collections = &call.collections;
    collections.ensure(db, coll).await?;
    let info = collections.engine().read_container(db, coll)?;
    match info.body[SHARD_KEY].as_str() {
        Some(existing) if existing != field => {
            return Err(MongoError::illegal_operation(format!(
                "{namespace} is already sharded on {existing}"
            )))
        }
        Some(_) => {}
        None => {
            if info.document_count > 0 {
                return Err(MongoError::illegal_operation(
                    "an existing collection with documents cannot be sharded; create it sharded",
                ));
            }
            collections
                .set_setting(db, coll, SHARD_KEY, json!(field))
                .await?;
        }
    }
    Ok(doc! {"collectionsharded": namespace, "ok": 1.0})
}
