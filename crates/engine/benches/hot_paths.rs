//! Criterion micro-benchmarks of the engine's hot paths over a real store in
//! a temporary directory: a point read, an indexed equality lookup, and
//! the JSON work every item request does (parse and print a 1 KB item).
//! `cargo bench -p cosmonaut-engine --bench hot_paths`

use std::hint::black_box;
use std::sync::Arc;

use cosmonaut_engine::partition::PartitionKeyValue;
use cosmonaut_engine::{Engine, EngineConfig, FeedRequest, ItemScope, NewContainer, WriteMode};
use cosmonaut_query::Parameters;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

const ITEMS: usize = 10_000;

fn document(i: usize) -> Value {
    json!({
        "id": format!("item-{i}"),
        "pk": format!("p{}", i % 100),
        "sku": format!("sku-{i}"),
        "category": format!("cat-{}", i % 100),
        "price": ((i * 7919) % 100_000) as f64 / 100.0,
        "name": format!("Product number {i}"),
        "payload": "x".repeat(800),
    })
}

fn key(i: usize) -> Option<Vec<PartitionKeyValue>> {
    Some(vec![PartitionKeyValue::String(format!("p{}", i % 100))])
}

/// An engine in `dir` holding `ITEMS` items, written by concurrent writers.
fn loaded_engine(runtime: &tokio::runtime::Runtime, dir: &std::path::Path) -> Arc<Engine> {
    let engine = Arc::new(Engine::open(dir, EngineConfig::default()).expect("open"));
    runtime.block_on(async {
        engine
            .create_database(json!({"id": "db"}))
            .await
            .expect("db");
        engine
            .create_container("db", NewContainer::hashed("c", "/pk"))
            .await
            .expect("container");
        let writers: Vec<_> = (0..32)
            .map(|w| {
                let engine = Arc::clone(&engine);
                tokio::spawn(async move {
                    for i in (w..ITEMS).step_by(32) {
                        engine
                            .write_item("db", "c", WriteMode::Create, document(i), key(i), None)
                            .await
                            .expect("write");
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.expect("writer");
        }
    });
    engine
}

fn engine_paths(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = loaded_engine(&runtime, dir.path());

    let mut i = 0usize;
    c.bench_function("point_read", |b| {
        b.iter(|| {
            i = (i + 7919) % ITEMS;
            engine
                .read_item_text("db", "c", &format!("item-{i}"), &key(i))
                .expect("read")
        })
    });

    let query = cosmonaut_query::parse("SELECT * FROM c WHERE c.sku = @sku").expect("parse");
    let request = FeedRequest::default();
    c.bench_function("indexed_equality_query", |b| {
        b.iter(|| {
            i = (i + 7919) % ITEMS;
            let mut parameters = Parameters::new();
            parameters.insert("@sku".into(), json!(format!("sku-{i}")));
            let page = engine
                .query_items("db", "c", &ItemScope::All, &query, &parameters, &request)
                .expect("query");
            assert_eq!(page.page.items.len(), 1);
            page
        })
    });
}

fn json_paths(c: &mut Criterion) {
    let item = document(42);
    let text = serde_json::to_vec(&item).expect("print");
    c.bench_function("json_parse_1kb_item", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&text)).expect("parse"))
    });
    c.bench_function("json_print_1kb_item", |b| {
        b.iter(|| serde_json::to_vec(black_box(&item)).expect("print"))
    });
    // What stored documents and replies are printed with.
    c.bench_function("json_print_1kb_item_cosmonaut", |b| {
        b.iter(|| cosmonaut_engine::json::to_vec(black_box(&item)))
    });
}

criterion_group!(benches, engine_paths, json_paths);
criterion_main!(benches);
