//! `collMod`: changing a collection's index after it was made, by name or
//! key pattern: its TTL (`expireAfterSeconds`, which every stored
//! document's expiry then follows) and whether the planner may use it
//! (`hidden`; a hidden index still holds its unique keys and expires
//! documents, as in MongoDB).

use bson::{doc, Bson, Document};

use super::Call;
use crate::error::{MongoError, Result};

/// Options of `collMod` that change nothing here, or that a driver adds.
const PASSIVE: [&str; 6] = [
    "$db",
    "lsid",
    "comment",
    "writeConcern",
    "$clusterTime",
    "$readPreference",
];

pub async fn coll_mod(call: &Call<'_>) -> Result<Document> {
    let coll = call.collection()?;
    if !call.collections.exists(&call.db, &coll)? {
        return Err(MongoError::namespace_not_found(format!(
            "ns does not exist: {}",
            call.namespace(&coll)
        )));
    }
    let mut change = None;
    for (option, value) in call.body.iter().skip(1) {
        match option.as_str() {
            "index" => change = Some(IndexChange::parse(value)?),
            passive if PASSIVE.contains(&passive) => {}
            other => {
                return Err(MongoError::invalid_options(format!(
                    "option not supported on this server: collMod.{other}"
                )))
            }
        }
    }
    let Some(change) = change else {
        return Ok(doc! {"ok": 1.0});
    };
    let collections = &call.collections;
    loop {
        let mut specs = collections.indexes(&call.db, &coll)?;
        let Some(spec) = specs.iter_mut().find(|s| change.names(s)) else {
            return Err(MongoError::index_not_found(format!(
                "cannot find index {} for ns {}",
                change.target,
                call.namespace(&coll)
            )));
        };
        let reply = change.apply(spec)?;
        if collections.set_indexes(&call.db, &coll, &specs).await? {
            if reply.contains_key("expireAfterSeconds_new") {
                // Every stored document's expiry follows the new TTL.
                let indexes = collections.index_set(&call.db, &coll)?;
                collections.rewrite_all(&call.db, &coll, &indexes).await?;
            }
            let mut reply = reply;
            reply.insert("ok", 1.0);
            return Ok(reply);
        }
    }
}

/// What `collMod.index` asks of one index.
struct IndexChange {
    /// The index by name or key pattern (as the request gave it).
    target: Bson,
    expire_after: Option<i64>,
    hidden: Option<bool>,
}

impl IndexChange {
    fn parse(value: &Bson) -> Result<IndexChange> {
        let Bson::Document(spec) = value else {
            return Err(MongoError::wrong_type("collMod.index", "object"));
        };
        let target = match (spec.get("name"), spec.get("keyPattern")) {
            (Some(name @ Bson::String(_)), None) => name.clone(),
            (None, Some(pattern @ Bson::Document(_))) => pattern.clone(),
            _ => {
                return Err(MongoError::invalid_options(
                    "collMod.index needs either 'name' or 'keyPattern'",
                ))
            }
        };
        let expire_after = match spec.get("expireAfterSeconds") {
            None => None,
            Some(v) => Some(
                crate::compare::as_f64(v)
                    .filter(|s| *s >= 0.0 && *s <= f64::from(i32::MAX) && s.fract() == 0.0)
                    .ok_or_else(|| {
                        MongoError::invalid_options(
                            "expireAfterSeconds must be a non-negative number of seconds",
                        )
                    })? as i64,
            ),
        };
        let hidden = match spec.get("hidden") {
            None => None,
            Some(Bson::Boolean(b)) => Some(*b),
            Some(_) => return Err(MongoError::wrong_type("collMod.index.hidden", "bool")),
        };
        if expire_after.is_none() && hidden.is_none() {
            return Err(MongoError::invalid_options(
                "no expireAfterSeconds or hidden field to change",
            ));
        }
        Ok(IndexChange {
            target,
            expire_after,
            hidden,
        })
    }

    fn names(&self, spec: &Document) -> bool {
        match &self.target {
            Bson::String(name) => spec.get_str("name").ok() == Some(name.as_str()),
            pattern => spec.get("key") == Some(pattern),
        }
    }

    /// Changes `spec`; the reply names each old and new value.
    fn apply(&self, spec: &mut Document) -> Result<Document> {
        let mut reply = Document::new();
        if let Some(seconds) = self.expire_after {
            let single = spec.get_document("key").is_ok_and(|k| k.len() == 1);
            if !single || spec.get_str("name").ok() == Some("_id_") {
                return Err(MongoError::invalid_options(
                    "a TTL index is on one field other than _id",
                ));
            }
            if let Some(old) = spec.get("expireAfterSeconds") {
                reply.insert("expireAfterSeconds_old", old.clone());
            }
            reply.insert("expireAfterSeconds_new", seconds);
            spec.insert("expireAfterSeconds", seconds);
        }
        if let Some(hidden) = self.hidden {
            if spec.get_str("name").ok() == Some("_id_") {
                return Err(MongoError::bad_value("cannot hide the _id index"));
            }
            let old = spec.get_bool("hidden").unwrap_or(false);
            reply.insert("hidden_old", old);
            reply.insert("hidden_new", hidden);
            if hidden {
                spec.insert("hidden", true);
            } else {
                spec.remove("hidden");
            }
        }
        Ok(reply)
    }
}
