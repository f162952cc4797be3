//! Criterion micro-benchmarks of the query language's hot paths: parsing
//! query text and evaluating a parsed query over documents in memory.
//! `cargo bench -p cosmonaut-query --bench hot_paths`

use std::hint::black_box;

use cosmonaut_query::{parse, Parameters};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

const QUERIES: [(&str, &str); 3] = [
    ("point", "SELECT * FROM c WHERE c.id = @id"),
    (
        "filter_order",
        "SELECT TOP 10 c.id, c.price FROM c WHERE c.price > 10 AND STARTSWITH(c.name, 'Product 1') ORDER BY c.price DESC",
    ),
    (
        "join_group",
        "SELECT c.category, COUNT(1) AS n, AVG(c.price) AS avg FROM c JOIN t IN c.tags \
         WHERE t = 'tag-3' AND IS_DEFINED(c.stock.count) GROUP BY c.category",
    ),
];

fn document(i: usize) -> Value {
    json!({
        "id": format!("item-{i}"),
        "pk": format!("p{}", i % 100),
        "category": format!("cat-{}", i % 10),
        "price": ((i * 7919) % 10_000) as f64 / 100.0,
        "tags": [format!("tag-{}", i % 7), format!("tag-{}", i % 5)],
        "name": format!("Product {i}"),
        "stock": {"warehouse": format!("w{}", i % 5), "count": i % 250},
    })
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (name, text) in QUERIES {
        group.bench_function(name, |b| b.iter(|| parse(black_box(text)).expect("parse")));
    }
    group.finish();
}

fn evaluation(c: &mut Criterion) {
    let documents: Vec<Value> = (0..1_000).map(document).collect();
    let mut parameters = Parameters::new();
    parameters.insert("@id".into(), json!("item-500"));
    let mut group = c.benchmark_group("evaluate_1000_documents");
    group.throughput(Throughput::Elements(documents.len() as u64));
    for (name, text) in QUERIES {
        let query = parse(text).expect("parse");
        group.bench_function(name, |b| {
            b.iter_batched(
                || documents.clone(),
                |docs| query.run(docs, &parameters).expect("run"),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, parsing, evaluation);
criterion_main!(benches);
