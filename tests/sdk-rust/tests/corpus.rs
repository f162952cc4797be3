//! The shared query corpus (tests/query-corpus/corpus.json) through the
//! official Rust SDK, over the whole container. This SDK plans queries
//! itself, declares no aggregate, GROUP BY or DISTINCT support to the
//! gateway and refuses some merges on the client; those cases are counted
//! and skipped, and every case the SDK does run must give the expected rows.

use azure_data_cosmos::models::{ContainerProperties, IndexingPolicy};
use azure_data_cosmos::{FeedScope, Query};
use futures::TryStreamExt;
use sdk_rust_conformance::{client, partitions, unique};
use serde_json::{json, Value};

const CORPUS: &str = include_str!("../../query-corpus/corpus.json");

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Rows in a form that compares by value: integral floats as integers.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => json!(f as i64),
            _ => v.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn rows(values: &[Value], ordered: bool) -> Vec<String> {
    let mut out: Vec<String> = values.iter().map(|v| normalized(v).to_string()).collect();
    if !ordered {
        out.sort();
    }
    out
}

/// Whether a query failed because this SDK does not run it: its own
/// refusals (sub-status 20xxx, made on the client) or the gateway's answer
/// to a plan request for features the SDK did not declare.
fn refused_by_sdk(error: &str) -> bool {
    error.contains("400/20") || error.contains("which the calling client does not support")
}

#[tokio::test]
async fn corpus_through_the_rust_sdk() -> TestResult {
    let corpus: Value = serde_json::from_str(CORPUS)?;
    let client = client().await?;
    let db_id = unique("rust-corpus");
    client.create_database(&db_id, None).await?;
    let db = client.database_client(&db_id);
    let mut policy = corpus["indexingPolicy"].clone();
    policy["automatic"] = json!(true);
    let policy: IndexingPolicy = serde_json::from_value(policy)?;
    let pk_path = corpus["partitionKey"].as_str().ok_or("partitionKey")?;
    db.create_container(
        ContainerProperties::new("c", pk_path.to_string().into()).with_indexing_policy(policy),
        None,
    )
    .await?;
    let container = db.container_client("c", None).await?;
    for doc in corpus["documents"].as_array().ok_or("documents")? {
        let pk = doc["pk"].as_str().ok_or("pk")?.to_string();
        let id = doc["id"].as_str().ok_or("id")?;
        container.create_item(pk, id, doc.clone(), None).await?;
    }

    let (mut ran, mut refused, mut failures) = (0, 0, Vec::new());
    for case in corpus["cases"].as_array().ok_or("cases")? {
        let text = case["query"].as_str().ok_or("query")?;
        let flagged = case["engineOnly"] == json!(true) || case["mixedTypeOrderBy"] == json!(true);
        if partitions() > 1 && flagged {
            continue;
        }
        let mut query = Query::from(text);
        for p in case["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().ok_or("parameter name")?;
            query = query.with_parameter(name, p["value"].clone())?;
        }
        let result = async {
            let mut pages = container
                .query_items::<Value>(query, FeedScope::full_container(), None)
                .await?;
            let mut got = Vec::new();
            while let Some(row) = pages.try_next().await? {
                got.push(row);
            }
            Ok::<_, azure_core::Error>(got)
        }
        .await;
        let got = match result {
            Ok(got) => got,
            Err(e) if refused_by_sdk(&e.to_string()) => {
                refused += 1;
                continue;
            }
            Err(e) => {
                failures.push(format!("{text}: {e}"));
                continue;
            }
        };
        ran += 1;
        let ordered = case["ordered"] == json!(true);
        let expected = case["expected"].as_array().ok_or("expected")?;
        let (got, want) = (rows(&got, ordered), rows(expected, ordered));
        if got != want {
            failures.push(format!("{text}: got {got:?}, expected {want:?}"));
        }
    }
    db.delete(None).await?;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("corpus through the Rust SDK: {ran} cases ran, {refused} refused by the SDK");
    assert!(
        ran >= 150,
        "only {ran} corpus cases ran ({refused} refused)"
    );
    Ok(())
}
