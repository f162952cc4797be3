use cosmonaut_storage::KvRead;
use serde_json::{json, Value};

use crate::engine::{load_database, new_etag, now_seconds, Engine};
use crate::error::{EngineError, Result};
use crate::feed::{read_page, FeedPage, FeedRequest};
use crate::keys;
use crate::offers::Throughput;
use crate::records::{decode, encode, ContainerRecord, DatabaseRecord, Meta};
use crate::{rid, validation};

impl Engine {
    pub async fn create_database(&self, body: Value) -> Result<Value> {
        self.create_database_with_throughput(body, None).await
    }

    /// Creates a database, with shared throughput if `throughput` is given.
    pub async fn create_database_with_throughput(
        &self,
        body: Value,
        throughput: Option<Throughput>,
    ) -> Result<Value> {
        let id = validation::body_id(&body, validation::MAX_RESOURCE_ID_CHARS, false)?;
        let stored = throughput
            .map(Throughput::check)
            .transpose()?
            .map(Throughput::stored);
        let (ru, autoscale, increment_percent) = stored.map_or((None, false, 0), |s| {
            (s.ru, s.autoscale, s.increment_percent)
        });
        self.store
            .transact(move |txn| {
                let key = keys::database(&id);
                if txn.get(&key)?.is_some() {
                    return Err(EngineError::conflict());
                }
                let mut meta = Meta::read(txn)?;
                meta.next_database += 1;
                let rid = rid::database(meta.next_database);
                let rid_text = rid::encode(&rid);
                let body = json!({
                    "id": id,
                    "_rid": rid_text,
                    "_self": format!("dbs/{rid_text}/"),
                    "_etag": new_etag(),
                    "_colls": "colls/",
                    "_users": "users/",
                    "_ts": now_seconds(),
                });
                txn.put(keys::meta(), encode(&meta)?);
                txn.put(
                    key,
                    encode(&DatabaseRecord {
                        rid,
                        body: body.clone(),
                        throughput: ru,
                        autoscale,
                        autoscale_increment_percent: increment_percent,
                    })?,
                );
                Ok(body)
            })
            .await
    }

    pub fn read_database(&self, id: &str) -> Result<Value> {
        let snapshot = self.snapshot()?;
        load_database(snapshot.as_ref(), id)?
            .map(|r| r.body)
            .ok_or_else(EngineError::not_found)
    }

    pub fn list_databases(&self, request: &FeedRequest) -> Result<FeedPage> {
        let snapshot = self.snapshot()?;
        let (start, end) = keys::databases();
        read_page(snapshot.as_ref(), &start, &end, request, |bytes| {
            Ok(vec![decode::<DatabaseRecord>(bytes)?.body])
        })
    }

    /// Deletes the database with all its containers and items, atomically.
    pub async fn delete_database(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.store
            .transact(move |txn| {
                let key = keys::database(&id);
                if txn.get(&key)?.is_none() {
                    return Err(EngineError::not_found());
                }
                let (start, end) = keys::containers(&id);
                for (container_key, bytes) in txn.scan(&start, &end, usize::MAX)? {
                    let container: ContainerRecord = decode(&bytes)?;
                    crate::containers::delete_container_data(txn, &container)?;
                    txn.delete(container_key);
                }
                crate::users::delete_database_users(txn, &id)?;
                txn.delete(key);
                Ok(())
            })
            .await
    }
}
