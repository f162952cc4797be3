//! Atomic writes across partition keys and containers, and reads at a
//! point in time (what a front end's transactions are built on).

mod common;

use cosmonaut_engine::partition::PartitionKeyValue;
use cosmonaut_engine::{
    AtomicStep, BatchOperation, BatchStep, ErrorKind, FeedRequest, ItemScope, NewContainer,
    WriteMode,
};
use serde_json::json;

fn key(v: &str) -> Option<Vec<PartitionKeyValue>> {
    Some(vec![PartitionKeyValue::String(v.into())])
}

fn create(container: &str, id: &str, if_match: Option<String>) -> AtomicStep {
    AtomicStep {
        database: "db".into(),
        container: container.into(),
        key: key(id),
        step: BatchStep {
            operation: BatchOperation::Create {
                body: json!({"id": id, "v": 1}),
            },
            if_match,
        },
    }
}

#[tokio::test]
async fn steps_on_many_partitions_and_containers_commit_together_or_not_at_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = common::engine_with_database(dir.path(), 2).await;
    for name in ["a", "b"] {
        engine
            .create_container("db", NewContainer::hashed(name, "/id"))
            .await
            .expect("container");
    }
    let written = engine
        .write_atomically(vec![
            create("a", "1", None),
            create("a", "2", None),
            create("b", "1", None),
        ])
        .await
        .expect("store")
        .expect("steps");
    assert_eq!(written.len(), 3);

    // The last step fails (the item exists): nothing of the write is stored.
    let failed = engine
        .write_atomically(vec![
            create("a", "3", None),
            create("b", "2", None),
            create("a", "1", None),
        ])
        .await
        .expect("store")
        .expect_err("a conflict");
    assert_eq!(failed.index, 2);
    assert_eq!(failed.error.kind, ErrorKind::Conflict);
    for (container, id) in [("a", "3"), ("b", "2")] {
        let read = engine.read_item("db", container, id, &key(id));
        assert_eq!(read.expect_err("absent").kind, ErrorKind::NotFound);
    }

    // A replace whose etag is stale fails the whole write too.
    let stale = AtomicStep {
        step: BatchStep {
            operation: BatchOperation::Replace {
                id: "2".into(),
                body: json!({"id": "2", "v": 2}),
            },
            if_match: Some("\"not-the-etag\"".into()),
        },
        ..create("a", "2", None)
    };
    let failed = engine
        .write_atomically(vec![create("b", "9", None), stale])
        .await
        .expect("store")
        .expect_err("precondition");
    assert_eq!(failed.error.kind, ErrorKind::PreconditionFailed);
    assert!(engine.read_item("db", "b", "9", &key("9")).is_err());
}

#[tokio::test]
async fn a_read_point_sees_the_store_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = common::engine_with_database(dir.path(), 1).await;
    engine
        .create_container("db", NewContainer::hashed("c", "/id"))
        .await
        .expect("container");
    engine
        .write_item(
            "db",
            "c",
            WriteMode::Create,
            json!({"id": "old", "v": 1}),
            key("old"),
            None,
        )
        .await
        .expect("create");
    let point = engine.read_point().expect("point");
    engine
        .write_item(
            "db",
            "c",
            WriteMode::Create,
            json!({"id": "new"}),
            key("new"),
            None,
        )
        .await
        .expect("create");
    engine
        .write_item(
            "db",
            "c",
            WriteMode::Upsert,
            json!({"id": "old", "v": 2}),
            key("old"),
            None,
        )
        .await
        .expect("upsert");

    let old = engine
        .read_item_at(Some(&point), "db", "c", "old", &key("old"))
        .expect("read");
    assert_eq!(old.document["v"], 1);
    assert!(engine
        .read_item_at(Some(&point), "db", "c", "new", &key("new"))
        .is_err());
    let all = FeedRequest {
        max_items: Some(-1),
        continuation: None,
    };
    let then = engine
        .read_items_at(Some(&point), "db", "c", &ItemScope::All, &all)
        .expect("feed");
    assert_eq!(then.page.items.len(), 1);
    let count = engine
        .read_container_at(Some(&point), "db", "c")
        .expect("container");
    assert_eq!(count.document_count, 1);
    // Now, without the point: both items, the new version.
    assert_eq!(
        engine
            .read_container("db", "c")
            .expect("container")
            .document_count,
        2
    );
    assert_eq!(
        engine
            .read_item("db", "c", "old", &key("old"))
            .expect("read")
            .document["v"],
        2
    );
}
