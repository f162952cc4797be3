//! Indexed queries answer exactly as a full scan does, read only what the
//! index names, and stay right as items change.

mod common;

use cosmonaut_engine::partition::PartitionKeyValue;
use cosmonaut_engine::{Engine, ErrorKind, FeedRequest, ItemScope, NewContainer, WriteMode};
use cosmonaut_query::Parameters;
use serde_json::{json, Value};

fn key(v: &str) -> Option<Vec<PartitionKeyValue>> {
    Some(vec![PartitionKeyValue::String(v.into())])
}

fn document(i: usize) -> Value {
    let kinds = ["a", "b", "c", "d"];
    let mut doc = json!({
        "id": format!("i{i}"),
        "pk": format!("p{}", i % 7),
        "kind": kinds[i % 4],
        "n": (i % 50) as f64 - 10.0,
        "tags": [format!("t{}", i % 3), format!("t{}", i % 5)],
        "nested": {"level": i % 6, "flag": i.is_multiple_of(2)},
    });
    if i.is_multiple_of(9) {
        doc["n"] = json!(format!("text{i}"));
    }
    if i.is_multiple_of(11) {
        doc["kind"] = Value::Null;
    }
    if i.is_multiple_of(2) {
        doc["sometimes"] = json!(i % 13);
    }
    // Strings longer than an index entry keeps, sharing their kept prefix.
    match i % 3 {
        0 => doc["long"] = json!(long_string(i % 4)),
        1 => doc["long"] = json!(format!("M{}", i % 5)),
        _ => {}
    }
    doc
}

/// 300 bytes of `L`, then a tail that tells them apart.
fn long_string(tail: usize) -> String {
    format!("{}{}", "L".repeat(300), ["a", "b", "c", "d"][tail])
}

async fn setup(engine: &Engine, indexed: bool, count: usize) -> &'static str {
    let name = if indexed { "indexed" } else { "scanned" };
    let mut new = NewContainer::hashed(name, "/pk");
    new.body["indexingPolicy"] = if indexed {
        json!({"compositeIndexes": [
            [{"path": "/n", "order": "descending"}, {"path": "/id"}],
            [{"path": "/kind"}, {"path": "/nested/level", "order": "descending"}, {"path": "/id"}],
            [{"path": "/kind"}, {"path": "/n"}],
        ]})
    } else {
        json!({"indexingMode": "none", "automatic": false})
    };
    engine.create_container("db", new).await.expect("container");
    for i in 0..count {
        let doc = document(i);
        let pk = doc["pk"].as_str().expect("pk").to_string();
        engine
            .write_item("db", name, WriteMode::Create, doc, key(&pk), None)
            .await
            .expect("item");
    }
    name
}

fn run(engine: &Engine, coll: &str, text: &str, scope: &ItemScope) -> (Vec<Value>, usize, bool) {
    run_paged(engine, coll, text, scope, 7)
}

fn run_paged(
    engine: &Engine,
    coll: &str,
    text: &str,
    scope: &ItemScope,
    page_items: i64,
) -> (Vec<Value>, usize, bool) {
    let query = cosmonaut_query::parse(text).expect(text);
    let params: Parameters = [("@k".to_string(), json!("b")), ("@n".to_string(), json!(5))].into();
    let mut request = FeedRequest {
        max_items: Some(page_items),
        continuation: None,
    };
    let (mut out, mut read, mut used) = (Vec::new(), 0, false);
    loop {
        let page = engine
            .query_items("db", coll, scope, &query, &params, &request)
            .expect(text);
        used |= page.used_index();
        // The two containers give the same documents different system properties.
        out.extend(page.page.items.into_iter().map(|mut v| {
            if let Some(map) = v.as_object_mut() {
                map.retain(|k, _| !k.starts_with('_'));
            }
            v
        }));
        read += page.page.documents_read;
        match page.page.continuation {
            Some(token) => request.continuation = Some(token),
            None => return (out, read, used),
        }
    }
}

const QUERIES: &[&str] = &[
    "SELECT * FROM c WHERE c.kind = 'a'",
    "SELECT c.id FROM c WHERE c.kind = @k AND c.n > 0",
    "SELECT VALUE c.id FROM c WHERE c.kind = null",
    "SELECT VALUE c.id FROM c WHERE c.n > @n",
    "SELECT VALUE c.id FROM c WHERE c.n >= 5 AND c.n < 20",
    "SELECT VALUE c.id FROM c WHERE 10 > c.n",
    "SELECT VALUE c.id FROM c WHERE c.n BETWEEN -3 AND 3",
    "SELECT VALUE c.id FROM c WHERE c.n > 'text3'",
    "SELECT VALUE c.id FROM c WHERE c.kind IN ('b', 'd', 42)",
    "SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(c.tags, 't4')",
    "SELECT VALUE c.id FROM c WHERE c.nested.level = 3 AND c.nested.flag = true",
    "SELECT VALUE c.id FROM c WHERE c.nested.flag = false",
    "SELECT VALUE c.id FROM c WHERE c.missing = 1",
    "SELECT VALUE c.id FROM c WHERE c.n = '5'",
    "SELECT VALUE COUNT(1) FROM c WHERE c.kind = 'c'",
    "SELECT c.kind, COUNT(1) AS n FROM c WHERE c.n > 30 GROUP BY c.kind",
    "SELECT TOP 5 VALUE c.id FROM c WHERE c.kind = 'a' ORDER BY c.n DESC, c.id",
    "SELECT DISTINCT VALUE c.nested.level FROM c WHERE c.kind = 'b'",
    "SELECT c.id, t FROM c JOIN t IN c.tags WHERE c.kind = 'd' AND t = 't1'",
    "SELECT VALUE c.id FROM c WHERE c.kind = 'a' OR c.kind = 'b'",
    "SELECT c.kind, COUNT(1) AS n, MAX(c.nested.level) AS hi FROM c GROUP BY c.kind",
    "SELECT VALUE SUM(c.n) FROM c WHERE c.n > 3",
    "SELECT VALUE AVG(c.n) FROM c WHERE c.n < 3.5",
    "SELECT DISTINCT VALUE c.kind FROM c",
    "SELECT VALUE COUNT(1) FROM c WHERE c.kind IN ('a', 'a', 'b')",
    "SELECT VALUE MIN(c.sometimes) FROM c",
    "SELECT VALUE COUNT(1) FROM c WHERE c.sometimes > 3",
    "SELECT VALUE COUNT(1) FROM c WHERE c.n >= 5 AND c.n < 20",
    "SELECT VALUE COUNT(c) FROM c WHERE c.n > 'text3'",
    "SELECT VALUE COUNT(1) FROM c WHERE c.long > 'L'",
    "SELECT VALUE COUNT(1) FROM c WHERE c.long = 'M3'",
    "SELECT VALUE COUNT(1) FROM c WHERE c.kind = null",
];

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|x| x.to_string());
    v
}

#[tokio::test]
async fn indexed_answers_match_full_scans() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = common::engine_with_database(dir.path(), 3).await;
    let total = 300;
    let indexed = setup(&engine, true, total).await;
    let scanned = setup(&engine, false, total).await;
    let scopes = [
        ItemScope::All,
        ItemScope::PartitionKey(vec![PartitionKeyValue::String("p3".into())]),
        ItemScope::Range {
            id: "1".into(),
            start: None,
            end: None,
        },
    ];
    for text in QUERIES {
        for scope in &scopes {
            // Cross-partition merges need a plan; the engine answers those whole only on one range.
            let needs_plan = matches!(scope, ItemScope::All)
                && !cosmonaut_query::parse(text).expect("parse").is_streaming();
            if needs_plan {
                continue;
            }
            let (with_index, read, used) = run(&engine, indexed, text, scope);
            let (by_scan, _, _) = run(&engine, scanned, text, scope);
            let ordered = text.contains("ORDER BY");
            let (a, b) = if ordered {
                (with_index.clone(), by_scan)
            } else {
                (sorted(with_index.clone()), sorted(by_scan))
            };
            assert!(
                a == b,
                "{text} in {scope:?}: {} results through the index, {} by scanning",
                a.len(),
                b.len()
            );
            if used && matches!(scope, ItemScope::All) {
                assert!(read < total, "{text}: read {read} of {total}");
            }
        }
    }
    // The lookups the planner should find do use the index.
    let (_, read, used) = run(
        &engine,
        indexed,
        "SELECT * FROM c WHERE c.kind = 'a'",
        &ItemScope::All,
    );
    assert!(used);
    assert_eq!(
        read,
        (0..total).filter(|i| i % 4 == 0 && i % 11 != 0).count()
    );
    let (_, _, used) = run(
        &engine,
        indexed,
        "SELECT * FROM c WHERE c.kind = 'a' OR c.n = 1",
        &ItemScope::All,
    );
    assert!(!used, "a disjunction cannot use one lookup");
    // Aggregates over indexed paths read no document.
    for text in [
        "SELECT VALUE COUNT(1) FROM c WHERE c.kind = 'c'",
        "SELECT c.kind, COUNT(1) AS n, MAX(c.nested.level) AS hi FROM c GROUP BY c.kind",
        "SELECT VALUE COUNT(1) FROM c WHERE c.sometimes > 3",
    ] {
        let one = ItemScope::PartitionKey(vec![PartitionKeyValue::String("p3".into())]);
        let (_, read, used) = run(&engine, indexed, text, &one);
        assert_eq!((read, used), (0, true), "{text}");
    }
}

#[tokio::test]
async fn index_follows_updates_deletes_and_policy_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = common::engine_with_database(dir.path(), 1).await;
    let coll = setup(&engine, true, 20).await;
    let ids = |text: &str| -> Vec<String> {
        let (values, _, _) = run(&engine, coll, text, &ItemScope::All);
        let mut v: Vec<String> = values
            .into_iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        ids("SELECT VALUE c.id FROM c WHERE c.kind = 'zzz'"),
        Vec::<String>::new()
    );
    let mut doc = document(1);
    doc["kind"] = json!("zzz");
    engine
        .write_item("db", coll, WriteMode::Upsert, doc, key("p1"), None)
        .await
        .expect("upsert");
    assert_eq!(
        ids("SELECT VALUE c.id FROM c WHERE c.kind = 'zzz'"),
        vec!["i1"]
    );
    assert!(
        !ids("SELECT VALUE c.id FROM c WHERE c.kind = 'b'").contains(&"i1".to_string()),
        "old entry removed"
    );
    engine
        .delete_item("db", coll, "i1", &key("p1"), None)
        .await
        .expect("delete");
    assert_eq!(
        ids("SELECT VALUE c.id FROM c WHERE c.kind = 'zzz'"),
        Vec::<String>::new()
    );
    // A count of every item, from the container's counter or by reading,
    // follows creates and deletes.
    for text in [
        "SELECT VALUE COUNT(1) FROM c",
        "SELECT VALUE COUNT(c) FROM c",
        "SELECT VALUE COUNT(c.id) FROM c",
    ] {
        let (count, _, _) = run(&engine, coll, text, &ItemScope::All);
        assert_eq!(count, vec![json!(19)], "{text}");
    }
    let p3 = ItemScope::PartitionKey(vec![PartitionKeyValue::String("p3".into())]);
    let (count, _, _) = run(&engine, coll, "SELECT VALUE COUNT(1) FROM c", &p3);
    assert_eq!(count, vec![json!(3)]);

    // Excluding a path drops its entries; queries still answer, by scanning.
    let mut body = engine.read_container("db", coll).expect("read").body;
    body["indexingPolicy"] = json!({"indexingMode": "consistent", "includedPaths": [{"path": "/*"}], "excludedPaths": [{"path": "/kind/?"}]});
    engine
        .replace_container("db", coll, body, None)
        .await
        .expect("replace");
    let (values, _, used) = run(
        &engine,
        coll,
        "SELECT VALUE c.id FROM c WHERE c.kind = 'c'",
        &ItemScope::All,
    );
    assert!(!used);
    assert_eq!(
        values.len(),
        (0..20).filter(|i| i % 4 == 2 && i % 11 != 0).count()
    );
    let (_, _, used) = run(
        &engine,
        coll,
        "SELECT VALUE c.id FROM c WHERE c.nested.level = 2",
        &ItemScope::All,
    );
    assert!(used, "other paths stay indexed after the rebuild");
}

/// `ORDER BY` queries whose rows never tie in what they return (unique
/// keys, or only the ordered values selected), so any correct order is one order.
const ORDERED: &[&str] = &[
    "SELECT VALUE c.id FROM c ORDER BY c.id",
    "SELECT VALUE c.id FROM c ORDER BY c.id DESC",
    "SELECT VALUE c.n FROM c ORDER BY c.n",
    "SELECT VALUE c.n FROM c ORDER BY c.n DESC",
    "SELECT TOP 4 VALUE c.kind FROM c ORDER BY c.kind",
    "SELECT VALUE c.n FROM c WHERE c.kind = 'b' ORDER BY c.n DESC",
    "SELECT VALUE c.n FROM c WHERE c.kind = 'a' ORDER BY c.n",
    "SELECT TOP 3 VALUE c.n FROM c WHERE c.kind = 'c' ORDER BY c.n DESC",
    "SELECT VALUE c.n FROM c WHERE c.kind = null ORDER BY c.n",
    "SELECT VALUE c.n FROM c WHERE c.n > 5 ORDER BY c.n",
    "SELECT VALUE c.n FROM c WHERE c.n BETWEEN 'text' AND 'textz' ORDER BY c.n DESC",
    "SELECT VALUE c.id FROM c WHERE c.nested.flag ORDER BY c.id OFFSET 3 LIMIT 9",
    "SELECT TOP 11 c.id, c.n FROM c ORDER BY c.n DESC, c.id",
    "SELECT c.id FROM c ORDER BY c.n ASC, c.id DESC",
    "SELECT VALUE [c.kind, c.nested.level, c.id] FROM c ORDER BY c.kind, c.nested.level DESC, c.id",
    "SELECT VALUE c.id FROM c ORDER BY c.kind DESC, c.nested.level, c.id DESC",
    "SELECT VALUE c.sometimes FROM c ORDER BY c.sometimes",
    "SELECT VALUE c.sometimes FROM c ORDER BY c.sometimes DESC",
    "SELECT VALUE t FROM c JOIN t IN c.tags ORDER BY c.id",
    "SELECT VALUE c.id FROM c ORDER BY c[\"id\"] DESC",
];

#[tokio::test]
async fn ordered_walks_match_full_sorts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = common::engine_with_database(dir.path(), 3).await;
    let total = 200;
    let indexed = setup(&engine, true, total).await;
    let scanned = setup(&engine, false, total).await;
    let scopes = [
        ItemScope::PartitionKey(vec![PartitionKeyValue::String("p3".into())]),
        ItemScope::Range {
            id: "2".into(),
            start: None,
            end: None,
        },
    ];
    for text in ORDERED {
        for scope in &scopes {
            for page_items in [1, 5, 1000] {
                let (walked, _, _) = run_paged(&engine, indexed, text, scope, page_items);
                let (sorted, _, _) = run_paged(&engine, scanned, text, scope, page_items);
                assert_eq!(walked, sorted, "{text} in {scope:?}, {page_items} per page");
            }
        }
    }

    // TOP reads only what it returns when no item lacks the ordered value.
    let range = &scopes[1];
    let (rows, read, used) = run(
        &engine,
        indexed,
        "SELECT TOP 3 * FROM c ORDER BY c.id DESC",
        range,
    );
    assert_eq!((rows.len(), read, used), (3, 3, true));
    let (_, read, used) = run(
        &engine,
        indexed,
        "SELECT TOP 3 * FROM c ORDER BY c.n DESC, c.id",
        range,
    );
    assert_eq!((read, used), (3, true), "composite walk");
    // An equality on a composite's first path walks its entries of that value.
    let (_, read, used) = run(
        &engine,
        indexed,
        "SELECT TOP 3 * FROM c WHERE c.kind = 'b' ORDER BY c.n DESC",
        range,
    );
    assert_eq!((read, used), (3, true), "equality then order");
    // Items without the value must come first, so the index cannot give the order alone.
    let (_, read, used) = run(
        &engine,
        indexed,
        "SELECT TOP 3 * FROM c ORDER BY c.sometimes",
        range,
    );
    assert!(!used && read > 3);

    // The presence counters follow writes: drop `n` from one item, then put it back.
    let walks = |engine: &Engine| {
        run(
            engine,
            indexed,
            "SELECT TOP 1 c.id FROM c ORDER BY c.n",
            range,
        )
        .2
    };
    assert!(walks(&engine));
    let mut doc = document(5);
    doc.as_object_mut().expect("object").remove("n");
    engine
        .write_item(
            "db",
            indexed,
            WriteMode::Replace { id: "i5".into() },
            doc,
            key("p5"),
            None,
        )
        .await
        .expect("replace");
    assert!(!walks(&engine), "one item lacks n");
    engine
        .write_item(
            "db",
            indexed,
            WriteMode::Replace { id: "i5".into() },
            document(5),
            key("p5"),
            None,
        )
        .await
        .expect("replace");
    assert!(walks(&engine), "every item has n again");
    engine
        .delete_item("db", indexed, "i5", &key("p5"), None)
        .await
        .expect("delete");
    assert!(walks(&engine), "deletes keep the count");
}

#[tokio::test]
async fn order_by_needs_the_service_s_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = common::engine_with_database(dir.path(), 1).await;
    let mut new = NewContainer::hashed("c", "/pk");
    new.body["indexingPolicy"] = json!({
        "includedPaths": [{"path": "/*"}],
        "excludedPaths": [{"path": "/secret/?"}],
        "compositeIndexes": [[{"path": "/a"}, {"path": "/b", "order": "descending"}]],
    });
    engine.create_container("db", new).await.expect("container");
    let query = |text: &str| {
        engine.query_items(
            "db",
            "c",
            &ItemScope::All,
            &cosmonaut_query::parse(text).expect("parse"),
            &Parameters::new(),
            &FeedRequest::default(),
        )
    };
    for ok in [
        "SELECT * FROM c ORDER BY c.a, c.b DESC",
        "SELECT * FROM c ORDER BY c.a DESC, c.b",
        "SELECT * FROM c ORDER BY c.x",
    ] {
        assert!(query(ok).is_ok(), "{ok}");
    }
    for (text, message) in [
        ("SELECT * FROM c ORDER BY c.a, c.b", "composite index"),
        ("SELECT * FROM c ORDER BY c.b DESC, c.a", "composite index"),
        ("SELECT * FROM c ORDER BY c.a, c.x", "composite index"),
        ("SELECT * FROM c ORDER BY c.secret", "range index"),
    ] {
        let err = query(text).expect_err(text);
        assert_eq!(err.kind, ErrorKind::BadRequest, "{text}");
        assert!(err.to_string().contains(message), "{text}: {err}");
    }
}

#[tokio::test]
async fn long_strings_are_found_ordered_and_counted_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = common::engine_with_database(dir.path(), 1).await;
    let total = 240;
    let indexed = setup(&engine, true, total).await;
    let scanned = setup(&engine, false, total).await;
    let b = long_string(1);
    let queries = [
        format!("SELECT * FROM c WHERE c.long = '{b}'"),
        format!("SELECT * FROM c WHERE c.long > '{b}'"),
        format!("SELECT * FROM c WHERE c.long >= '{b}'"),
        format!("SELECT * FROM c WHERE c.long < '{b}'"),
        format!("SELECT * FROM c WHERE c.long IN ('{b}', 'M3')"),
        // Ties may come in any order: compare the ordered values.
        "SELECT VALUE c.long FROM c ORDER BY c.long".to_string(),
        "SELECT VALUE c.long FROM c ORDER BY c.long DESC".to_string(),
        "SELECT DISTINCT VALUE c.long FROM c".to_string(),
        "SELECT c.long, COUNT(1) AS n FROM c GROUP BY c.long".to_string(),
        "SELECT VALUE COUNT(1) FROM c WHERE c.long > 'L'".to_string(),
    ];
    let scope = ItemScope::PartitionKey(vec![PartitionKeyValue::String("p3".into())]);
    for text in &queries {
        let (with_index, _, _) = run(&engine, indexed, text, &scope);
        let (by_scan, _, _) = run(&engine, scanned, text, &scope);
        let (a, b) = if text.contains("ORDER BY") {
            (with_index, by_scan)
        } else {
            (sorted(with_index), sorted(by_scan))
        };
        assert_eq!(a, b, "{text}");
    }
    // An equality on a long string still narrows the read to its kept prefix.
    let (rows, read, used) = run(&engine, indexed, &queries[0], &ItemScope::All);
    let with_prefix = (0..total).filter(|i| i % 3 == 0).count();
    assert!(used && read == with_prefix, "read {read} of {total}");
    assert_eq!(
        rows.len(),
        (0..total).filter(|i| i % 3 == 0 && i % 4 == 1).count()
    );

    // Unique keys compare long strings whole.
    let mut new = NewContainer::hashed("unique-long", "/pk");
    new.body["uniqueKeyPolicy"] = json!({"uniqueKeys": [{"paths": ["/long"]}]});
    engine.create_container("db", new).await.expect("container");
    for (id, tail) in [("x", 0), ("y", 1)] {
        let doc = json!({"id": id, "pk": "p", "long": long_string(tail)});
        engine
            .write_item("db", "unique-long", WriteMode::Create, doc, key("p"), None)
            .await
            .expect("different long strings are different keys");
    }
    let twin = json!({"id": "z", "pk": "p", "long": long_string(1)});
    let err = engine
        .write_item("db", "unique-long", WriteMode::Create, twin, key("p"), None)
        .await
        .expect_err("the same long string twice");
    assert_eq!(err.kind, ErrorKind::Conflict);
}

#[tokio::test]
async fn stored_data_is_upgraded_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = common::engine_with_database(dir.path(), 1).await;
    setup(&engine, true, 20).await;
    assert_eq!(engine.upgrade_stored_data().await.expect("upgrade"), 1);
    assert_eq!(engine.upgrade_stored_data().await.expect("again"), 0);
    let (rows, _, _) = run(
        &engine,
        "indexed",
        "SELECT * FROM c WHERE c.kind = 'a'",
        &ItemScope::All,
    );
    assert_eq!(
        rows.len(),
        (0..20).filter(|i| i % 4 == 0 && i % 11 != 0).count()
    );
}
