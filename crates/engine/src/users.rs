//! Users and permissions: the resources resource tokens come from. A user
//! belongs to a database; a permission belongs to a user and grants `Read`
//! or `All` on a resource link (a container, or an item), optionally
//! narrowed to a partition key. Each permission carries its `_token`, which
//! a client sends instead of a master key signature.

use cosmonaut_storage::{KvRead, Txn};
use serde_json::{json, Value};

use crate::engine::{load_database, new_etag, now_seconds, Engine};
use crate::error::{EngineError, Result};
use crate::feed::{read_page, FeedPage, FeedRequest};
use crate::keys;
use crate::records::{decode, encode, DatabaseRecord, Meta};
use crate::{rid, validation};

fn require_database(reader: &dyn KvRead, db: &str) -> Result<DatabaseRecord> {
    load_database(reader, db)?.ok_or_else(|| EngineError::owner_not_found("database", db))
}

fn require_user(reader: &dyn KvRead, db: &str, user: &str) -> Result<Value> {
    reader
        .get(&keys::user(db, user))?
        .map(|b| decode(&b))
        .transpose()?
        .ok_or_else(|| EngineError::owner_not_found("user", user))
}

/// A permission body as the client sent it, checked.
/// The mode keeps the client's casing, as the service keeps it.
fn permission_fields(body: &Value) -> Result<(String, String)> {
    let mode = match body.get("permissionMode").and_then(Value::as_str) {
        Some(m) if m.eq_ignore_ascii_case("read") || m.eq_ignore_ascii_case("all") => m,
        _ => {
            return Err(EngineError::bad_request(
                "A permission needs a permissionMode of 'Read' or 'All'.",
            ))
        }
    };
    let resource = body
        .get("resource")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| EngineError::bad_request("A permission needs a 'resource' link."))?;
    Ok((mode.to_string(), resource.to_string()))
}

impl Engine {
    pub async fn create_user(&self, db: &str, body: Value) -> Result<Value> {
        let id = validation::body_id(&body, validation::MAX_RESOURCE_ID_CHARS, false)?;
        let db = db.to_string();
        self.store
            .transact(move |txn| {
                let database = require_database(txn, &db)?;
                let key = keys::user(&db, &id);
                if txn.get(&key)?.is_some() {
                    return Err(EngineError::conflict());
                }
                let mut meta = Meta::read(txn)?;
                meta.next_user += 1;
                let rid_text = rid::encode(&rid::user(database.rid, meta.next_user));
                let user = json!({
                    "id": id,
                    "_rid": rid_text,
                    "_self": format!("dbs/{}/users/{rid_text}/", rid::encode(&database.rid)),
                    "_etag": new_etag(),
                    "_permissions": "permissions/",
                    "_ts": now_seconds(),
                });
                txn.put(keys::meta(), encode(&meta)?);
                txn.put(key, encode(&user)?);
                Ok(user)
            })
            .await
    }

    pub fn read_user(&self, db: &str, user: &str) -> Result<Value> {
        let snapshot = self.snapshot()?;
        require_database(snapshot.as_ref(), db)?;
        snapshot
            .get(&keys::user(db, user))?
            .map(|b| decode(&b))
            .transpose()?
            .ok_or_else(EngineError::not_found)
    }

    pub fn list_users(&self, db: &str, request: &FeedRequest) -> Result<(FeedPage, String)> {
        let snapshot = self.snapshot()?;
        let database = require_database(snapshot.as_ref(), db)?;
        let (start, end) = keys::users(db);
        let page = read_page(snapshot.as_ref(), &start, &end, request, |b| {
            Ok(vec![decode(b)?])
        })?;
        Ok((page, rid::encode(&database.rid)))
    }

    /// Renames a user (the only property a user has); its permissions follow.
    pub async fn replace_user(&self, db: &str, user: &str, body: Value) -> Result<Value> {
        let new_id = validation::body_id(&body, validation::MAX_RESOURCE_ID_CHARS, false)?;
        let (db, user) = (db.to_string(), user.to_string());
        self.store
            .transact(move |txn| {
                require_database(txn, &db)?;
                let mut record: Value = match txn.get(&keys::user(&db, &user))? {
                    Some(b) => decode(&b)?,
                    None => return Err(EngineError::not_found()),
                };
                if new_id != user && txn.get(&keys::user(&db, &new_id))?.is_some() {
                    return Err(EngineError::conflict());
                }
                if let Some(fields) = record.as_object_mut() {
                    fields.insert("id".into(), json!(new_id));
                    fields.insert("_etag".into(), json!(new_etag()));
                    fields.insert("_ts".into(), json!(now_seconds()));
                }
                let (start, end) = keys::permissions(&db, &user);
                for (key, bytes) in txn.scan(&start, &end, usize::MAX)? {
                    let permission: Value = decode(&bytes)?;
                    let pid = permission["id"].as_str().unwrap_or_default().to_string();
                    txn.delete(key);
                    txn.put(keys::permission(&db, &new_id, &pid), bytes);
                }
                txn.delete(keys::user(&db, &user));
                txn.put(keys::user(&db, &new_id), encode(&record)?);
                Ok(record)
            })
            .await
    }

    /// Deletes a user and its permissions.
    pub async fn delete_user(&self, db: &str, user: &str) -> Result<()> {
        let (db, user) = (db.to_string(), user.to_string());
        self.store
            .transact(move |txn| {
                require_database(txn, &db)?;
                if txn.get(&keys::user(&db, &user))?.is_none() {
                    return Err(EngineError::not_found());
                }
                let (start, end) = keys::permissions(&db, &user);
                for (key, _) in txn.scan(&start, &end, usize::MAX)? {
                    txn.delete(key);
                }
                txn.delete(keys::user(&db, &user));
                Ok(())
            })
            .await
    }

    /// Creates (or, with `replace`, overwrites) a permission of a user.
    pub async fn write_permission(
        &self,
        db: &str,
        user: &str,
        body: Value,
        replace: Option<&str>,
    ) -> Result<Value> {
        let id = validation::body_id(&body, validation::MAX_RESOURCE_ID_CHARS, false)?;
        let (mode, resource) = permission_fields(&body)?;
        // A replace may rename the permission, as on the service.
        let addressed = replace.map(str::to_string);
        let (db, user) = (db.to_string(), user.to_string());
        self.store
            .transact(move |txn| {
                let database = require_database(txn, &db)?;
                let user_record = require_user(txn, &db, &user)?;
                let key = keys::permission(&db, &user, &id);
                let existing: Option<Value> = match &addressed {
                    None if txn.get(&key)?.is_some() => return Err(EngineError::conflict()),
                    None => None,
                    Some(old_id) => {
                        let old_key = keys::permission(&db, &user, old_id);
                        let old = txn.get(&old_key)?.ok_or_else(EngineError::not_found)?;
                        if *old_id != id {
                            if txn.get(&key)?.is_some() {
                                return Err(EngineError::conflict());
                            }
                            txn.delete(old_key);
                        }
                        Some(decode(&old)?)
                    }
                };
                let rid_text = match existing.as_ref().and_then(|p| p["_rid"].as_str()) {
                    Some(r) => r.to_string(),
                    None => {
                        let mut meta = Meta::read(txn)?;
                        meta.next_permission += 1;
                        txn.put(keys::meta(), encode(&meta)?);
                        // Under the user's rid, as the service lays it out.
                        let user_rid = user_record["_rid"]
                            .as_str()
                            .and_then(rid::decode)
                            .and_then(|b| <[u8; 8]>::try_from(b).ok())
                            .unwrap_or_else(|| rid::user(database.rid, 0));
                        rid::encode(&rid::permission(user_rid, meta.next_permission))
                    }
                };
                let user_rid = user_record["_rid"].as_str().unwrap_or_default();
                let mut permission = json!({
                    "id": id,
                    "permissionMode": mode,
                    "resource": resource,
                    "_rid": rid_text,
                    "_self": format!(
                        "dbs/{}/users/{user_rid}/permissions/{rid_text}/",
                        rid::encode(&database.rid)
                    ),
                    "_etag": new_etag(),
                    "_ts": now_seconds(),
                });
                if let Some(key_values) = body.get("resourcePartitionKey").filter(|v| !v.is_null())
                {
                    permission["resourcePartitionKey"] = key_values.clone();
                }
                txn.put(key, encode(&permission)?);
                Ok(permission)
            })
            .await
    }

    pub fn read_permission(&self, db: &str, user: &str, id: &str) -> Result<Value> {
        let snapshot = self.snapshot()?;
        require_user(snapshot.as_ref(), db, user)?;
        snapshot
            .get(&keys::permission(db, user, id))?
            .map(|b| decode(&b))
            .transpose()?
            .ok_or_else(EngineError::not_found)
    }

    pub fn list_permissions(
        &self,
        db: &str,
        user: &str,
        request: &FeedRequest,
    ) -> Result<(FeedPage, String)> {
        let snapshot = self.snapshot()?;
        let user_record = require_user(snapshot.as_ref(), db, user)?;
        let (start, end) = keys::permissions(db, user);
        let page = read_page(snapshot.as_ref(), &start, &end, request, |b| {
            Ok(vec![decode(b)?])
        })?;
        let owner = user_record["_rid"].as_str().unwrap_or_default().to_string();
        Ok((page, owner))
    }

    pub async fn delete_permission(&self, db: &str, user: &str, id: &str) -> Result<()> {
        let key = keys::permission(db, user, id);
        let (db, user) = (db.to_string(), user.to_string());
        self.store
            .transact(move |txn| {
                require_user(txn, &db, &user)?;
                if txn.get(&key)?.is_none() {
                    return Err(EngineError::not_found());
                }
                txn.delete(key);
                Ok(())
            })
            .await
    }
}

/// Deletes a database's users and permissions (with the database).
pub(crate) fn delete_database_users(txn: &mut Txn<'_>, db: &str) -> Result<()> {
    for (start, end) in [keys::users(db), keys::database_permissions(db)] {
        for (key, _) in txn.scan(&start, &end, usize::MAX)? {
            txn.delete(key);
        }
    }
    Ok(())
}
