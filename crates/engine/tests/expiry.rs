//! Time to live: expired items vanish from reads, feeds and queries at
//! once, the purge removes them with their index entries, and an expired
//! id can be created again before the purge runs. The waits are the
//! feature itself (second-granular expiry), not timing measurements.

use std::time::Duration;

mod common;

use cosmonaut_engine::partition::PartitionKeyValue;
use cosmonaut_engine::{Engine, ErrorKind, FeedRequest, ItemScope, NewContainer, WriteMode};
use cosmonaut_query::Parameters;
use serde_json::{json, Value};

fn key(v: &str) -> Option<Vec<PartitionKeyValue>> {
    Some(vec![PartitionKeyValue::String(v.into())])
}

async fn container(engine: &Engine, id: &str, default_ttl: Value) {
    let mut new = NewContainer::hashed(id, "/pk");
    new.body["defaultTtl"] = default_ttl;
    engine.create_container("db", new).await.expect("container");
}

async fn put(engine: &Engine, coll: &str, body: Value) {
    engine
        .write_item("db", coll, WriteMode::Create, body, key("p"), None)
        .await
        .expect("create");
}

fn ids(engine: &Engine, coll: &str) -> Vec<String> {
    let query = cosmonaut_query::parse("SELECT VALUE c.id FROM c ORDER BY c.id").expect("parse");
    let page = engine
        .query_items(
            "db",
            coll,
            &ItemScope::All,
            &query,
            &Parameters::new(),
            &FeedRequest::default(),
        )
        .expect("query");
    let feed = engine
        .read_items("db", coll, &ItemScope::All, &FeedRequest::default())
        .expect("feed");
    assert_eq!(
        feed.page.items.len(),
        page.page.items.len(),
        "feed and query agree"
    );
    page.page
        .items
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn expired_items_vanish_and_are_purged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = common::engine_with_database(dir.path(), 1).await;
    // Expiry counts whole seconds from _ts: a 2-second TTL is still there right after the write.
    container(&engine, "two-seconds", json!(2)).await;
    container(&engine, "opt-in", json!(-1)).await;
    put(&engine, "two-seconds", json!({"id": "a", "pk": "p"})).await;
    put(
        &engine,
        "two-seconds",
        json!({"id": "b", "pk": "p", "ttl": -1}),
    )
    .await;
    put(
        &engine,
        "two-seconds",
        json!({"id": "c", "pk": "p", "ttl": 3600}),
    )
    .await;
    put(&engine, "opt-in", json!({"id": "d", "pk": "p", "ttl": 2})).await;
    put(&engine, "opt-in", json!({"id": "e", "pk": "p"})).await;
    assert_eq!(ids(&engine, "two-seconds"), ["a", "b", "c"]);

    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(ids(&engine, "two-seconds"), ["b", "c"]);
    assert_eq!(ids(&engine, "opt-in"), ["e"]);
    let gone = engine.read_item("db", "two-seconds", "a", &key("p"));
    assert_eq!(gone.expect_err("expired").kind, ErrorKind::NotFound);
    // An expired id is free again before any purge.
    put(
        &engine,
        "two-seconds",
        json!({"id": "a", "pk": "p", "ttl": 3600}),
    )
    .await;
    assert_eq!(ids(&engine, "two-seconds"), ["a", "b", "c"]);

    assert_eq!(
        engine.purge_expired().await.expect("purge"),
        1,
        "only d is left to purge"
    );
    assert_eq!(engine.purge_expired().await.expect("purge"), 0);
    let info = engine.read_container("db", "opt-in").expect("container");
    assert_eq!(info.document_count, 1);
    let info = engine
        .read_container("db", "two-seconds")
        .expect("container");
    assert_eq!(info.document_count, 3);
}

#[tokio::test]
async fn ttl_values_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = common::engine_with_database(dir.path(), 1).await;
    for bad in [json!(0), json!(-2), json!("60"), json!(1.5)] {
        let mut new = NewContainer::hashed("bad", "/pk");
        new.body["defaultTtl"] = bad.clone();
        let err = engine
            .create_container("db", new)
            .await
            .expect_err("bad ttl");
        assert_eq!(err.kind, ErrorKind::BadRequest, "{bad}");
    }
    container(&engine, "c", json!(60)).await;
    let err = engine
        .write_item(
            "db",
            "c",
            WriteMode::Create,
            json!({"id": "x", "pk": "p", "ttl": 0}),
            key("p"),
            None,
        )
        .await
        .expect_err("ttl 0");
    assert_eq!(err.kind, ErrorKind::BadRequest);
}

#[tokio::test]
async fn expiry_shows_in_the_all_versions_feed() {
    use cosmonaut_engine::ChangeFeedStart;

    let dir = tempfile::tempdir().expect("tempdir");
    let engine = common::engine_with_database(dir.path(), 1).await;
    let mut new = NewContainer::hashed("kept", "/pk");
    new.body["defaultTtl"] = json!(1);
    new.body["changeFeedPolicy"] = json!({"retentionDuration": 60});
    engine.create_container("db", new).await.expect("container");
    let start = engine
        .read_all_versions(
            "db",
            "kept",
            &ItemScope::All,
            ChangeFeedStart::Now,
            &FeedRequest::default(),
        )
        .expect("now");
    put(&engine, "kept", json!({"id": "a", "pk": "p"})).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(engine.purge_expired().await.expect("purge"), 1);
    let page = engine
        .read_all_versions(
            "db",
            "kept",
            &ItemScope::All,
            ChangeFeedStart::After(start.lsn),
            &FeedRequest::default(),
        )
        .expect("changes");
    let kinds: Vec<&str> = page
        .items
        .iter()
        .filter_map(|c| c.pointer("/metadata/operationType").and_then(Value::as_str))
        .collect();
    assert_eq!(kinds, ["create", "delete"]);
    assert_eq!(page.items[1]["metadata"]["timeToLiveExpired"], json!(true));
    assert_eq!(
        page.items[1]["metadata"]["partitionKey"],
        json!({"pk": "p"})
    );
}
