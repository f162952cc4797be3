//! Query benchmark over a generated container, on the embedded store.
//!
//! ```sh
//! cargo bench -p cosmonaut-engine --bench queries -- --items 100000
//! ```
//!
//! Loads `--items` documents through the engine (durable group-committed
//! writes, indexing on), then times each query over several runs and prints
//! the median and the documents it read; then reads a few large results
//! page by page, 100 items a page, and prints what the first and the last
//! pages took (they match when a page costs what it reads). Not a test: it
//! asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cosmonaut_engine::partition::PartitionKeyValue;
use cosmonaut_engine::{Engine, EngineConfig, FeedRequest, ItemScope, NewContainer, WriteMode};
use cosmonaut_query::Parameters;
use serde_json::json;

const QUERIES: &[(&str, &str)] = &[
    (
        "equality, 1 match",
        "SELECT * FROM c WHERE c.sku = 'sku-4242'",
    ),
    (
        "equality, 1% match",
        "SELECT c.id FROM c WHERE c.category = 'cat-42'",
    ),
    (
        "range, ~0.1% match",
        "SELECT c.id, c.price FROM c WHERE c.price >= 500 AND c.price < 501",
    ),
    (
        "ARRAY_CONTAINS, ~1%",
        "SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(c.tags, 'tag-7')",
    ),
    (
        "ORDER BY with TOP 10",
        "SELECT TOP 10 c.id, c.price FROM c ORDER BY c.price DESC",
    ),
    (
        "ORDER BY with TOP 10, range-bounded",
        "SELECT TOP 10 c.id, c.price FROM c WHERE c.price > 990 ORDER BY c.price",
    ),
    (
        "TOP 100, equality filter, ORDER BY another path",
        "SELECT TOP 100 c.id, c.price FROM c WHERE c.category = 'cat-7' ORDER BY c.price DESC",
    ),
    (
        "ORDER BY strings with TOP 100",
        "SELECT TOP 100 c.id FROM c ORDER BY c.name",
    ),
    (
        "GROUP BY, 100 groups",
        "SELECT c.category, COUNT(1) AS n, AVG(c.price) AS avg FROM c GROUP BY c.category",
    ),
    (
        "GROUP BY one path, COUNT",
        "SELECT c.category, COUNT(1) AS n FROM c GROUP BY c.category",
    ),
    ("COUNT of everything", "SELECT VALUE COUNT(1) FROM c"),
    (
        "COUNT of a range, 50%",
        "SELECT VALUE COUNT(1) FROM c WHERE c.price > 500",
    ),
    (
        "DISTINCT, 5 values",
        "SELECT DISTINCT VALUE c.stock.warehouse FROM c",
    ),
    (
        "COUNT with filter",
        "SELECT VALUE COUNT(1) FROM c WHERE c.category = 'cat-7'",
    ),
];

/// Large results read page by page.
const DEEP: &[(&str, &str)] = &[
    ("every item", "SELECT * FROM c"),
    (
        "equality, 20% match",
        "SELECT * FROM c WHERE c.stock.warehouse = 'w2'",
    ),
    ("range, 50% match", "SELECT * FROM c WHERE c.price > 500"),
];

fn document(i: usize) -> serde_json::Value {
    json!({
        "id": format!("item-{i}"),
        "pk": format!("p{}", i % 1000),
        "sku": format!("sku-{i}"),
        "category": format!("cat-{}", i % 100),
        "price": ((i * 7919) % 100_000) as f64 / 100.0,
        "tags": [format!("tag-{}", i % 97), format!("tag-{}", i % 13)],
        "name": format!("Product number {i}"),
        "stock": {"warehouse": format!("w{}", i % 5), "count": i % 250},
    })
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let items = arg("--items", 100_000);
    let runs = arg("--runs", 7);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Arc::new(Engine::open(dir.path(), EngineConfig::default()).expect("engine"));

    let loaded = runtime.block_on(load(Arc::clone(&engine), items));
    let stats = engine.storage_stats();
    println!(
        "loaded {items} items in {:.1} s ({:.0} durable creates/s, {} transactions in {} commits and {} syncs)",
        loaded.as_secs_f64(),
        items as f64 / loaded.as_secs_f64(),
        stats.transactions,
        stats.commits,
        stats.syncs
    );
    let size: u64 = std::fs::read_dir(dir.path())
        .expect("data dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!("data dir: {:.1} MB", size as f64 / 1e6);
    println!("| query | median | documents read | results |");
    println!("| --- | --- | --- | --- |");
    for (label, text) in QUERIES {
        let query = cosmonaut_query::parse(text).expect("query");
        let mut times = Vec::new();
        let (mut read, mut results) = (0, 0);
        for _ in 0..runs {
            let start = Instant::now();
            let mut request = FeedRequest {
                max_items: Some(-1),
                continuation: None,
            };
            (read, results) = (0, 0);
            loop {
                let page = engine
                    .query_items(
                        "db",
                        "c",
                        &ItemScope::All,
                        &query,
                        &Parameters::new(),
                        &request,
                    )
                    .expect("query");
                read += page.page.documents_read;
                results += page.page.items.len();
                match page.page.continuation {
                    Some(token) => request.continuation = Some(token),
                    None => break,
                }
            }
            times.push(start.elapsed());
        }
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "| {label} | {:.2} ms | {read} | {results} |",
            median.as_secs_f64() * 1000.0
        );
    }
    println!();
    println!("| read page by page | results | pages | first tenth, per page | last tenth, per page | all pages |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (label, text) in DEEP {
        deep_paging(&engine, label, text);
    }
}

/// Reads `text`'s whole result 100 items a page on one partition range
/// (as an SDK does through the query plan) and prints what pages took.
fn deep_paging(engine: &Engine, label: &str, text: &str) {
    let query = cosmonaut_query::parse(text).expect("query");
    let scope = ItemScope::Range {
        id: "0".into(),
        start: None,
        end: None,
    };
    let mut request = FeedRequest {
        max_items: Some(100),
        continuation: None,
    };
    let mut times = Vec::new();
    let started = Instant::now();
    let mut results = 0;
    loop {
        let page_started = Instant::now();
        let page = engine
            .query_items("db", "c", &scope, &query, &Parameters::new(), &request)
            .expect("query");
        times.push(page_started.elapsed());
        results += page.page.items.len();
        match page.page.continuation {
            Some(token) => request.continuation = Some(token),
            None => break,
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let tenth = (times.len() / 10).max(1);
    let mean = |part: &[Duration]| ms(part.iter().sum::<Duration>()) / part.len().max(1) as f64;
    println!(
        "| {label} | {results} | {} | {:.2} ms | {:.2} ms | {:.0} ms |",
        times.len(),
        mean(&times[..tenth]),
        mean(&times[times.len() - tenth..]),
        ms(started.elapsed()),
    );
}

async fn load(engine: Arc<Engine>, items: usize) -> Duration {
    engine
        .create_database(json!({"id": "db"}))
        .await
        .expect("db");
    engine
        .create_container("db", {
            let mut new = NewContainer::hashed("c", "/pk");
            // The composite index a GROUP BY over category averaging price wants.
            new.body["indexingPolicy"] = json!({"compositeIndexes": [
                [{"path": "/category"}, {"path": "/price"}],
            ]});
            new
        })
        .await
        .expect("container");
    let start = Instant::now();
    // Many writers at once, as many clients would be: group commit folds them.
    let writers = 64;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let engine = Arc::clone(&engine);
        tasks.push(tokio::spawn(async move {
            for i in (w..items).step_by(writers) {
                let doc = document(i);
                let pk = Some(vec![PartitionKeyValue::String(format!("p{}", i % 1000))]);
                engine
                    .write_item("db", "c", WriteMode::Create, doc, pk, None)
                    .await
                    .expect("write");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    start.elapsed()
}
