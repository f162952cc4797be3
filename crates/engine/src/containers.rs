use cosmonaut_storage::{KvRead, Txn};
use serde_json::{json, Map, Value};

use crate::engine::{load_container, load_database, new_etag, now_seconds, Engine};
use crate::error::{EngineError, Result};
use crate::feed::{read_page, scan_each, FeedPage, FeedRequest};
use crate::index::{self, IndexPolicy};
use crate::keys;
use crate::offers::Throughput;
use crate::partition::{range_boundaries, PartitionKeyDefinition, PartitionKeyRange};
use crate::records::{decode, encode, ContainerRecord, Counters, DatabaseRecord, Meta};
use crate::ttl;
use crate::{container_policies, previous_images, rid, validation};
use cosmonaut_query::ComputedProperty;

/// RU/s one physical partition serves; provisioning more adds partitions, as
/// in the service.
const RU_PER_PARTITION: u64 = 6000;

/// A container to create: its properties and optional provisioned RU/s.
#[derive(Debug, Clone)]
pub struct NewContainer {
    pub body: Value,
    /// Dedicated throughput; without it the container shares its
    /// database's, if the database has any.
    pub throughput: Option<Throughput>,
}

impl NewContainer {
    /// A container partitioned on one path with hash version 2 (what the SDKs
    /// create by default), no provisioned throughput, default policies.
    pub fn hashed(id: &str, partition_key_path: &str) -> Self {
        Self {
            body: json!({"id": id, "partitionKey": {"paths": [partition_key_path], "kind": "Hash", "version": 2}}),
            throughput: None,
        }
    }
}

/// A container's properties with its live usage.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub body: Value,
    pub rid: String,
    pub document_count: u64,
    pub document_bytes: u64,
    pub lsn: u64,
    /// The RU/s it may spend: its own throughput's ceiling, else its
    /// database's shared one, else the service's minimum.
    pub throughput: u64,
}

/// The service's cap on computed properties per container.
const MAX_COMPUTED_PROPERTIES: usize = 20;

/// A container's `computedProperties`, checked: each a name and a
/// `SELECT VALUE <expr> FROM <alias>` query.
pub(crate) fn computed_properties(body: &Value) -> Result<Vec<ComputedProperty>> {
    let Some(list) = body.get("computedProperties").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .filter(|l| l.len() <= MAX_COMPUTED_PROPERTIES)
        .ok_or_else(|| {
            EngineError::bad_request(format!(
                "computedProperties must be a list of at most {MAX_COMPUTED_PROPERTIES} definitions."
            ))
        })?;
    list.iter()
        .map(|p| {
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            let query = p.get("query").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() || name.starts_with('_') || name == "id" {
                return Err(EngineError::bad_request(format!(
                    "The computed property name '{name}' is not allowed."
                )));
            }
            ComputedProperty::parse(name, query).map_err(|why| {
                EngineError::bad_request(format!(
                    "The computed property '{name}' is invalid: {why}."
                ))
            })
        })
        .collect()
}

fn default_indexing_policy() -> Value {
    json!({
        "indexingMode": "consistent",
        "automatic": true,
        "includedPaths": [{"path": "/*"}],
        "excludedPaths": [{"path": "/\"_etag\"/?"}],
    })
}

/// An indexing policy as the service stores and returns it: what the client
/// left out filled in, every indexed container excluding `_etag`, and the
/// legacy per-path `indexes` (kinds and precisions) dropped, since every
/// path is range-indexed.
fn complete_indexing_policy(policy: &Value) -> Value {
    let Some(given) = policy.as_object() else {
        return default_indexing_policy();
    };
    let mut out = given.clone();
    let mode = given
        .get("indexingMode")
        .and_then(Value::as_str)
        .unwrap_or("consistent")
        .to_ascii_lowercase();
    let indexed = !mode.eq_ignore_ascii_case("none");
    out.insert("indexingMode".into(), json!(mode));
    out.entry("automatic").or_insert(json!(indexed));
    let paths = |key: &str| -> Option<Vec<Value>> {
        given.get(key).and_then(Value::as_array).map(|list| {
            list.iter()
                .map(|p| {
                    let mut p = p.clone();
                    if let Some(map) = p.as_object_mut() {
                        map.remove("indexes");
                    }
                    p
                })
                .collect()
        })
    };
    let default_included = if indexed {
        vec![json!({"path": "/*"})]
    } else {
        Vec::new()
    };
    let included = paths("includedPaths").unwrap_or(default_included);
    let mut excluded = paths("excludedPaths").unwrap_or_default();
    let etag = json!({"path": "/\"_etag\"/?"});
    if indexed && !excluded.iter().any(|p| p.get("path") == etag.get("path")) {
        excluded.push(etag);
    }
    out.insert("includedPaths".into(), Value::Array(included));
    out.insert("excludedPaths".into(), Value::Array(excluded));
    Value::Object(out)
}

/// The partition key definition as the service returns it: as the client
/// sent it, with `kind` filled in; `version` only where the client gave one
/// (the SDKs read a missing version as 1, as the hashing does).
fn partition_key_as_sent(body: &Value, pk: &PartitionKeyDefinition) -> Value {
    let mut full = pk.to_json();
    let version_sent = body
        .pointer("/partitionKey/version")
        .is_some_and(|v| !v.is_null());
    if !version_sent {
        if let Some(map) = full.as_object_mut() {
            map.remove("version");
        }
    }
    full
}

/// User properties of a container body with the service's defaults filled in.
fn container_properties(body: &Value, pk: &PartitionKeyDefinition) -> Map<String, Value> {
    let mut props = body.as_object().cloned().unwrap_or_default();
    props.retain(|k, _| !k.starts_with('_'));
    props.insert("partitionKey".into(), partition_key_as_sent(body, pk));
    if let Some(policy) = props.get("indexingPolicy").filter(|p| !p.is_null()) {
        let completed = complete_indexing_policy(policy);
        props.insert("indexingPolicy".into(), completed);
    }
    let defaults = [
        ("indexingPolicy", default_indexing_policy()),
        ("uniqueKeyPolicy", json!({"uniqueKeys": []})),
        (
            "conflictResolutionPolicy",
            json!({"mode": "LastWriterWins", "conflictResolutionPath": "/_ts", "conflictResolutionProcedure": ""}),
        ),
        ("geospatialConfig", json!({"type": "Geography"})),
    ];
    for (key, value) in defaults {
        if props.get(key).is_none_or(Value::is_null) {
            props.insert(key.into(), value);
        }
    }
    props
}

fn system_properties(props: &mut Map<String, Value>, db_rid: &[u8; 4], rid: &[u8; 8]) {
    let rid_text = rid::encode(rid);
    let entries = [
        ("_rid", json!(rid_text)),
        ("_ts", json!(now_seconds())),
        (
            "_self",
            json!(format!("dbs/{}/colls/{rid_text}/", rid::encode(db_rid))),
        ),
        ("_etag", json!(new_etag())),
        ("_docs", json!("docs/")),
        ("_sprocs", json!("sprocs/")),
        ("_triggers", json!("triggers/")),
        ("_udfs", json!("udfs/")),
        ("_conflicts", json!("conflicts/")),
    ];
    for (key, value) in entries {
        props.insert(key.into(), value);
    }
}

fn parse_partition_key(body: &Value) -> Result<PartitionKeyDefinition> {
    match body.get("partitionKey") {
        Some(def) if !def.is_null() => PartitionKeyDefinition::from_json(def),
        _ => Err(EngineError::bad_request(
            "A partition key definition is required: set 'partitionKey' with its 'paths'.",
        )),
    }
}

impl ContainerRecord {
    pub(crate) fn partition_key(&self) -> Result<PartitionKeyDefinition> {
        if let Some(def) = self.derived.partition_key.get() {
            return Ok(def.clone());
        }
        let def = parse_partition_key(&self.body)?;
        Ok(self.derived.partition_key.get_or_init(|| def).clone())
    }

    pub(crate) fn ranges(&self) -> Result<&[PartitionKeyRange]> {
        if let Some(ranges) = self.derived.ranges.get() {
            return Ok(ranges);
        }
        let ranges = range_boundaries(&self.partition_key()?, self.partition_count);
        Ok(self.derived.ranges.get_or_init(|| ranges))
    }

    /// The indexing policy (with TTL and unique keys) the body sets.
    pub(crate) fn index_policy(&self) -> &IndexPolicy {
        self.derived
            .index_policy
            .get_or_init(|| IndexPolicy::from_container(&self.body))
    }

    pub(crate) fn ttl(&self) -> ttl::Ttl {
        self.index_policy().ttl
    }

    /// Replaces the properties, forgetting what was derived from the old ones.
    pub(crate) fn set_body(&mut self, body: Value) {
        self.body = body;
        self.derived = Default::default();
    }

    /// How many minutes of all versions and deletes the change feed keeps
    /// (`changeFeedPolicy.retentionDuration`); none when it keeps none.
    pub(crate) fn version_retention_minutes(&self) -> Option<u64> {
        self.body
            .pointer("/changeFeedPolicy/retentionDuration")
            .and_then(Value::as_u64)
            .filter(|m| *m > 0)
    }

    /// Whether writes go to the all-versions-and-deletes log.
    pub(crate) fn keeps_versions(&self) -> bool {
        self.version_retention_minutes().is_some()
    }

    pub(crate) fn rid_text(&self) -> String {
        rid::encode(&self.rid)
    }
}

pub(crate) fn read_counters(reader: &dyn KvRead, rid: &[u8; 8]) -> Result<Counters> {
    counters_from(reader.get(&keys::counters(rid))?)
}

/// A container's counters from their stored bytes (none before its first write).
pub(crate) fn counters_from(stored: Option<Vec<u8>>) -> Result<Counters> {
    match stored {
        Some(bytes) => Counters::from_bytes(&bytes),
        None => Ok(Counters::default()),
    }
}

pub(crate) fn write_counters(txn: &mut Txn<'_>, rid: &[u8; 8], counters: &Counters) {
    txn.put(keys::counters(rid), counters.to_bytes());
}

/// Removes a container's items, index and counters (its record is the caller's).
pub(crate) fn delete_container_data(txn: &mut Txn<'_>, container: &ContainerRecord) -> Result<()> {
    clear(txn, keys::items(&container.rid))?;
    clear(txn, keys::index(&container.rid))?;
    clear(txn, keys::all_changes(&container.rid))?;
    clear(txn, keys::all_scripts(&container.rid))?;
    txn.delete(keys::counters(&container.rid));
    Ok(())
}

/// Deletes every key in `[start, end)`.
fn clear(txn: &mut Txn<'_>, (start, end): (Vec<u8>, Vec<u8>)) -> Result<()> {
    for (key, _) in txn.scan(&start, &end, usize::MAX)? {
        txn.delete(key);
    }
    Ok(())
}

/// Rewrites a container's index from its items, after its policy changed.
pub(crate) fn rebuild_index(txn: &mut Txn<'_>, container: &ContainerRecord) -> Result<()> {
    clear(txn, keys::index(&container.rid))?;
    let policy = container.index_policy();
    let (start, end) = keys::items(&container.rid);
    for (item_key, bytes) in txn.scan(&start, &end, usize::MAX)? {
        let document: Value = decode(&bytes)?;
        let entries = index::entries(&container.rid, &item_key, &document, policy);
        index::apply(txn, &Default::default(), entries)?;
    }
    Ok(())
}

impl Engine {
    pub async fn create_container(&self, db: &str, new: NewContainer) -> Result<Value> {
        let id = validation::body_id(&new.body, validation::MAX_RESOURCE_ID_CHARS, false)?;
        ttl::check_default_ttl(&new.body)?;
        container_policies::check(&new.body)?;
        previous_images::check(&new.body)?;
        computed_properties(&new.body)?;
        let pk = parse_partition_key(&new.body)?;
        let mut props = container_properties(&new.body, &pk);
        let throughput = new.throughput.map(Throughput::check).transpose()?;
        let by_throughput =
            throughput.map_or(1, |t| t.ceiling().div_ceil(RU_PER_PARTITION).min(64) as u32);
        let (ru, autoscale, increment_percent) = throughput.map_or((None, false, 0), |t| {
            let s = t.stored();
            (s.ru, s.autoscale, s.increment_percent)
        });
        let partition_count = self.config.partitions_per_container.max(by_throughput);
        let db = db.to_string();
        self.store
            .transact(move |txn| {
                let database: DatabaseRecord = match txn.get(&keys::database(&db))? {
                    Some(bytes) => decode(&bytes)?,
                    None => return Err(EngineError::not_found()),
                };
                let key = keys::container(&db, &id);
                if txn.get(&key)?.is_some() {
                    return Err(EngineError::conflict());
                }
                let mut meta = Meta::read(txn)?;
                meta.next_container += 1;
                let rid = rid::container(database.rid, meta.next_container);
                system_properties(&mut props, &database.rid, &rid);
                let record = ContainerRecord {
                    database: db,
                    database_rid: database.rid,
                    rid,
                    partition_count,
                    throughput: ru,
                    autoscale,
                    autoscale_increment_percent: increment_percent,
                    body: Value::Object(props),
                    derived: Default::default(),
                };
                txn.put(keys::meta(), encode(&meta)?);
                txn.put(key, encode(&record)?);
                Ok(record.body)
            })
            .await
    }

    /// The container's `_rid`, `None` when there is no such container: a
    /// cheap check made on item requests that name the rid they expect.
    pub fn container_rid(&self, db: &str, id: &str) -> Result<Option<String>> {
        let snapshot = self.snapshot()?;
        Ok(load_container(snapshot.as_ref(), db, id)?.map(|r| r.rid_text()))
    }

    pub fn read_container(&self, db: &str, id: &str) -> Result<ContainerInfo> {
        self.read_container_at(None, db, id)
    }

    /// A container as of `at` (see [`Engine::read_point`]), or now.
    pub fn read_container_at(
        &self,
        at: Option<&crate::ReadPoint>,
        db: &str,
        id: &str,
    ) -> Result<ContainerInfo> {
        let snapshot = self.reader(at)?;
        let record = match load_container(snapshot.as_ref(), db, id)? {
            Some(r) => r,
            None => return Err(EngineError::not_found()),
        };
        let counters = read_counters(snapshot.as_ref(), &record.rid)?;
        Ok(ContainerInfo {
            rid: record.rid_text(),
            body: record.body.clone(),
            document_count: counters.document_count,
            document_bytes: counters.document_bytes,
            lsn: counters.lsn,
            throughput: crate::offers::container_ceiling(snapshot.as_ref(), &record)?,
        })
    }

    pub fn list_containers(&self, db: &str, request: &FeedRequest) -> Result<(FeedPage, String)> {
        let snapshot = self.snapshot()?;
        let database = load_database(snapshot.as_ref(), db)?.ok_or_else(EngineError::not_found)?;
        let (start, end) = keys::containers(db);
        let page = read_page(snapshot.as_ref(), &start, &end, request, |bytes| {
            Ok(vec![decode::<ContainerRecord>(bytes)?.body])
        })?;
        Ok((page, rid::encode(&database.rid)))
    }

    /// Replaces a container's settable properties; the partition key is fixed.
    pub async fn replace_container(
        &self,
        db: &str,
        id: &str,
        body: Value,
        if_match: Option<String>,
    ) -> Result<Value> {
        let body_id = validation::body_id(&body, validation::MAX_RESOURCE_ID_CHARS, false)?;
        if body_id != id {
            return Err(EngineError::bad_request(format!(
                "The id '{body_id}' in the body does not match the container '{id}' addressed."
            )));
        }
        ttl::check_default_ttl(&body)?;
        container_policies::check(&body)?;
        previous_images::check(&body)?;
        computed_properties(&body)?;
        let (db, id) = (db.to_string(), id.to_string());
        self.store
            .transact(move |txn| {
                let key = keys::container(&db, &id);
                let mut record: ContainerRecord = match txn.get(&key)? {
                    Some(bytes) => decode(&bytes)?,
                    None => return Err(EngineError::not_found()),
                };
                if let Some(tag) = &if_match {
                    if record.body.get("_etag").and_then(Value::as_str) != Some(tag.as_str()) {
                        return Err(EngineError::precondition_failed());
                    }
                }
                let pk = record.partition_key()?;
                let mut body = body;
                match body.get("partitionKey").filter(|v| !v.is_null()) {
                    Some(requested) => {
                        if PartitionKeyDefinition::from_json(requested)? != pk {
                            return Err(EngineError::bad_request(
                                "The partition key of a container cannot be changed.",
                            ));
                        }
                    }
                    // Kept as stored, so an omitted version stays as it was.
                    None => {
                        if let (Some(map), Some(stored)) =
                            (body.as_object_mut(), record.body.get("partitionKey"))
                        {
                            map.insert("partitionKey".into(), stored.clone());
                        }
                    }
                }
                container_policies::check_replace(&record.body, &body)?;
                let unique = "uniqueKeyPolicy";
                let kept = record.body.get(unique).cloned().unwrap_or(Value::Null);
                match body.get(unique) {
                    None | Some(Value::Null) => {
                        if let Some(map) = body.as_object_mut() {
                            map.insert(unique.into(), kept);
                        }
                    }
                    Some(requested) if *requested != kept => {
                        return Err(EngineError::bad_request(
                            "The unique key policy of a container cannot be changed.",
                        ))
                    }
                    Some(_) => {}
                }
                let mut props = container_properties(&body, &pk);
                system_properties(&mut props, &record.database_rid, &record.rid);
                // Expiry times and indexed computed properties are kept as index
                // entries, so a new defaultTtl or computedProperties rebuilds too.
                let policy_changed = ["indexingPolicy", "defaultTtl", "computedProperties"]
                    .iter()
                    .any(|k| props.get(*k) != record.body.get(*k));
                record.set_body(Value::Object(props));
                if policy_changed {
                    rebuild_index(txn, &record)?;
                }
                txn.put(key, encode(&record)?);
                Ok(record.body)
            })
            .await
    }

    pub async fn delete_container(&self, db: &str, id: &str) -> Result<()> {
        let (db, id) = (db.to_string(), id.to_string());
        self.store
            .transact(move |txn| {
                let key = keys::container(&db, &id);
                let record: ContainerRecord = match txn.get(&key)? {
                    Some(bytes) => decode(&bytes)?,
                    None => return Err(EngineError::not_found()),
                };
                delete_container_data(txn, &record)?;
                txn.delete(key);
                Ok(())
            })
            .await
    }

    /// What each physical partition holds, as `statistics` in a container
    /// read that asks for them: `{id, sizeInKB, documentCount}` per range.
    /// Counted by scanning, so only asked for by tools, not on every read.
    pub fn partition_statistics(&self, db: &str, id: &str) -> Result<Vec<Value>> {
        let snapshot = self.snapshot()?;
        let record = crate::engine::require_container(snapshot.as_ref(), db, id)?;
        let mut out = Vec::new();
        for range in record.ranges()? {
            let (start, end) = keys::epk_range(&record.rid, &range.min, range.max.as_ref());
            let (mut count, mut bytes) = (0u64, 0u64);
            scan_each(snapshot.as_ref(), &start, &end, false, |_, value| {
                count += 1;
                bytes += value.len() as u64;
                Ok(true)
            })?;
            out.push(json!({
                "id": range.id,
                "sizeInKB": bytes.div_ceil(1024),
                "documentCount": count,
                "partitionKeys": [],
            }));
        }
        Ok(out)
    }

    /// The container's physical partitions as `/pkranges` lists them, and its `_rid`.
    pub fn partition_key_ranges(&self, db: &str, id: &str) -> Result<(Vec<Value>, String)> {
        let snapshot = self.snapshot()?;
        let record = crate::engine::require_container(snapshot.as_ref(), db, id)?;
        let coll_rid = record.rid_text();
        let ranges = record
            .ranges()?
            .iter()
            .enumerate()
            .map(|(i, r)| {
                // Range rids extend the collection rid, as in the service.
                let range_rid = rid::encode(&rid::child(
                    record.rid,
                    rid::ChildKind::PartitionKeyRange,
                    i as u64 + 1,
                ));
                json!({
                    "_rid": range_rid,
                    "id": r.id,
                    "_etag": format!("\"{coll_rid}-{}\"", r.id),
                    "minInclusive": r.min_hex(),
                    "maxExclusive": r.max_hex(),
                    "ridPrefix": i,
                    "_self": format!("{}pkranges/{range_rid}/", record.body.get("_self").and_then(Value::as_str).unwrap_or_default()),
                    "throughputFraction": 1.0 / f64::from(record.partition_count),
                    "status": "online",
                    "parents": [],
                    "_ts": record.body.get("_ts").cloned().unwrap_or(Value::Null),
                    "_lsn": 1,
                })
            })
            .collect();
        Ok((ranges, coll_rid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexing_policies_are_completed_as_the_service_completes_them() {
        let etag = json!({"path": "/\"_etag\"/?"});
        for partial in [
            json!({}),
            json!({"indexingMode": "consistent", "automatic": true}),
        ] {
            let full = complete_indexing_policy(&partial);
            assert_eq!(full, default_indexing_policy(), "{partial}");
        }
        let legacy = complete_indexing_policy(&json!({
            "includedPaths": [{"path": "/", "indexes": [{"kind": "Hash", "precision": 2}]}],
            "excludedPaths": [{"path": "/\"systemMetadata\"/*"}],
        }));
        assert_eq!(legacy["includedPaths"], json!([{"path": "/"}]));
        assert_eq!(legacy["excludedPaths"][1], etag);
        assert_eq!(legacy["automatic"], json!(true));
        let once = complete_indexing_policy(&json!({"excludedPaths": [etag.clone()]}));
        assert_eq!(once["excludedPaths"], json!([etag]));
        let none = complete_indexing_policy(&json!({"indexingMode": "none", "automatic": false}));
        assert_eq!(none["includedPaths"], json!([]));
        assert_eq!(none["excludedPaths"], json!([]));
    }
}
