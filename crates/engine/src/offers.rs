//! Offers: a container's provisioned throughput as the service exposes it
//! (`/offers`), read and replaced by the SDKs' get/replace throughput.
//! Every container has one, made from its record: the RU/s it was created
//! with, or the service's minimum of 400. Replacing an offer changes the
//! recorded RU/s; the physical partitions stay as they are (a split is not
//! modelled).

use cosmonaut_storage::KvRead;
use serde_json::{json, Value};

use crate::engine::{new_etag, now_seconds, Engine};
use crate::error::{EngineError, Result};
use crate::keys;
use crate::records::{decode, encode, ContainerRecord};
use crate::rid;

/// The service's smallest manual throughput, and the step between values.
pub const MIN_THROUGHPUT: u64 = 400;
const THROUGHPUT_STEP: u64 = 100;

fn offer_of(container: &ContainerRecord) -> Value {
    let id = container.rid_text();
    json!({
        "id": id,
        "_rid": id,
        "_self": format!("offers/{id}/"),
        "_etag": new_etag(),
        "_ts": now_seconds(),
        "offerVersion": "V2",
        "offerType": "Invalid",
        "resource": format!("dbs/{}/colls/{id}/", rid::encode(&container.database_rid)),
        "offerResourceId": id,
        "content": {
            "offerThroughput": container.throughput.unwrap_or(MIN_THROUGHPUT),
            "offerIsRUPerMinuteThroughputEnabled": false,
        },
    })
}

fn all_containers(reader: &dyn KvRead) -> Result<Vec<(Vec<u8>, ContainerRecord)>> {
    let (start, end) = keys::all_containers();
    reader
        .scan(&start, &end, usize::MAX)?
        .into_iter()
        .map(|(key, bytes)| Ok((key, decode(&bytes)?)))
        .collect()
}

fn offer_not_found(id: &str) -> EngineError {
    EngineError::new(
        crate::error::ErrorKind::NotFound,
        format!("The offer '{id}' does not exist."),
    )
}

impl Engine {
    /// Every offer of the account.
    pub fn list_offers(&self) -> Result<Vec<Value>> {
        let snapshot = self.snapshot()?;
        Ok(all_containers(snapshot.as_ref())?
            .iter()
            .map(|(_, c)| offer_of(c))
            .collect())
    }

    pub fn read_offer(&self, id: &str) -> Result<Value> {
        let snapshot = self.snapshot()?;
        all_containers(snapshot.as_ref())?
            .iter()
            .find(|(_, c)| c.rid_text() == id)
            .map(|(_, c)| offer_of(c))
            .ok_or_else(|| offer_not_found(id))
    }

    /// Sets a container's throughput from an offer body's
    /// `content.offerThroughput` (or autoscale `maxThroughput`).
    pub async fn replace_offer(&self, id: &str, body: Value) -> Result<Value> {
        let content = body.get("content");
        let requested = content
            .and_then(|c| c.get("offerThroughput"))
            .filter(|v| !v.is_null())
            .or_else(|| content?.pointer("/offerAutopilotSettings/maxThroughput"))
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                EngineError::bad_request("The offer needs content.offerThroughput (RU/s).")
            })?;
        if requested < MIN_THROUGHPUT || requested % THROUGHPUT_STEP != 0 {
            return Err(EngineError::bad_request(format!(
                "The offer throughput {requested} is invalid: it must be at least {MIN_THROUGHPUT} RU/s \
                 and a multiple of {THROUGHPUT_STEP}."
            )));
        }
        let id = id.to_string();
        self.store
            .transact(move |txn| {
                let (key, mut container) = all_containers(txn)?
                    .into_iter()
                    .find(|(_, c)| c.rid_text() == id)
                    .ok_or_else(|| offer_not_found(&id))?;
                container.throughput = Some(requested);
                txn.put(key, encode(&container)?);
                Ok(offer_of(&container))
            })
            .await
    }
}
