//! The engine over real files: resources survive reopening, deletes cascade,
//! feeds page exactly, and physical partitions split the items between them.

use cosmonaut_engine::partition::PartitionKeyValue;
use cosmonaut_engine::{
    Engine, EngineConfig, ErrorKind, FeedRequest, ItemScope, NewContainer, WriteMode,
};
use serde_json::{json, Value};

fn open(dir: &std::path::Path, partitions: u32) -> Engine {
    Engine::open(
        dir,
        EngineConfig {
            partitions_per_container: partitions,
            ..EngineConfig::default()
        },
    )
    .expect("open engine")
}

fn key(v: &str) -> Option<Vec<PartitionKeyValue>> {
    Some(vec![PartitionKeyValue::String(v.into())])
}

async fn create_container(engine: &Engine, body: Value) {
    let new = NewContainer {
        body,
        throughput: None,
    };
    engine.create_container("db", new).await.expect("container");
}

async fn seed(engine: &Engine, items: usize) {
    engine
        .create_database(json!({"id": "db"}))
        .await
        .expect("db");
    let body = json!({"id": "c", "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}});
    create_container(engine, body).await;
    for i in 0..items {
        let pk = format!("p{}", i % 10);
        engine
            .write_item(
                "db",
                "c",
                WriteMode::Create,
                json!({"id": format!("i{i}"), "pk": pk}),
                key(&pk),
                None,
            )
            .await
            .expect("item");
    }
}

fn read_all(engine: &Engine, scope: &ItemScope, page_size: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut request = FeedRequest {
        max_items: Some(page_size),
        continuation: None,
    };
    loop {
        let page = engine
            .read_items("db", "c", scope, &request)
            .expect("feed")
            .page;
        out.extend(page.items);
        match page.continuation {
            Some(token) => request.continuation = Some(token),
            None => return out,
        }
    }
}

#[tokio::test]
async fn everything_survives_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let engine = open(dir.path(), 1);
        seed(&engine, 50).await;
    }
    let engine = open(dir.path(), 1);
    assert_eq!(engine.read_database("db").expect("db")["id"], "db");
    let info = engine.read_container("db", "c").expect("container");
    assert_eq!(info.document_count, 50);
    assert_eq!(info.lsn, 50);
    let item = engine.read_item("db", "c", "i7", &key("p7")).expect("item");
    assert_eq!(item.document["pk"], "p7");
    assert_eq!(read_all(&engine, &ItemScope::All, 7).len(), 50);
}

#[tokio::test]
async fn continuation_tokens_resume_exactly_and_reject_forgeries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path(), 1);
    seed(&engine, 23).await;
    let items = read_all(&engine, &ItemScope::All, 5);
    let mut ids: Vec<_> = items
        .iter()
        .map(|d| d["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 23);
    for forged in ["zz", "00", "ffffffff"] {
        let request = FeedRequest {
            max_items: None,
            continuation: Some(forged.into()),
        };
        let err = engine
            .read_items("db", "c", &ItemScope::All, &request)
            .expect_err("forged token");
        assert_eq!(err.kind, ErrorKind::BadRequest);
    }
}

#[tokio::test]
async fn ranges_partition_the_items() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path(), 4);
    seed(&engine, 200).await;
    let mut total = 0;
    for id in 0..4 {
        let scope = ItemScope::Range {
            id: id.to_string(),
            start: None,
            end: None,
        };
        let items = read_all(&engine, &scope, 1000);
        assert!(
            !items.is_empty() && items.len() < 200,
            "range {id}: {}",
            items.len()
        );
        total += items.len();
    }
    assert_eq!(total, 200);
    let one_key = read_all(
        &engine,
        &ItemScope::PartitionKey(vec![PartitionKeyValue::String("p3".into())]),
        1000,
    );
    assert_eq!(one_key.len(), 20);
}

#[tokio::test]
async fn deletes_cascade_and_ids_are_reusable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path(), 2);
    seed(&engine, 20).await;
    engine
        .delete_container("db", "c")
        .await
        .expect("delete container");
    let err = engine
        .read_item("db", "c", "i1", &key("p1"))
        .expect_err("gone");
    assert_eq!(err.kind, ErrorKind::NotFound);
    let body = json!({"id": "c", "partitionKey": {"paths": ["/pk"]}});
    create_container(&engine, body).await;
    assert!(
        read_all(&engine, &ItemScope::All, 100).is_empty(),
        "old items must not reappear"
    );
    engine.delete_database("db").await.expect("delete db");
    assert_eq!(
        engine.read_container("db", "c").expect_err("gone").kind,
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn refused_writes_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path(), 1);
    seed(&engine, 1).await;
    let before = engine
        .read_item("db", "c", "i0", &key("p0"))
        .expect("item")
        .document;
    let attempts = [
        (
            WriteMode::Create,
            json!({"id": "i0", "pk": "p0", "x": 1}),
            key("p0"),
            None,
        ),
        (
            WriteMode::Replace { id: "i0".into() },
            json!({"id": "i0", "pk": "p0", "x": 2}),
            key("p0"),
            Some("\"stale\"".to_string()),
        ),
        (
            WriteMode::Upsert,
            json!({"id": "i0", "pk": "p0", "x": 3}),
            key("other"),
            None,
        ),
        (
            WriteMode::Upsert,
            json!({"id": "i0", "pk": "p0", "x": "y".repeat(3 * 1024 * 1024)}),
            key("p0"),
            None,
        ),
    ];
    for (mode, body, pk, if_match) in attempts {
        assert!(engine
            .write_item("db", "c", mode, body, pk, if_match)
            .await
            .is_err());
    }
    let after = engine
        .read_item("db", "c", "i0", &key("p0"))
        .expect("item")
        .document;
    assert_eq!(before, after);
    assert_eq!(engine.read_container("db", "c").expect("container").lsn, 1);
}
