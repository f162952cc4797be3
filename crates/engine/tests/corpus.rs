//! The shared query corpus (tests/query-corpus/corpus.json) through the
//! engine, on containers of 1 and 3 physical partitions, scoped to the whole
//! container and to each partition key.

mod common;

use cosmonaut_engine::partition::PartitionKeyValue;
use cosmonaut_engine::{Engine, FeedRequest, ItemScope, NewContainer, WriteMode};
use cosmonaut_query::Parameters;
use serde_json::{json, Value};

const CORPUS: &str = include_str!("../../../tests/query-corpus/corpus.json");

/// A comparable spelling: integral numbers as integers, object keys sorted.
fn canonical(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        Value::Object(map) => {
            let mut keys: Vec<_> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .iter()
                .map(|k| format!("{k:?}:{}", canonical(&map[*k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        other => other.to_string(),
    }
}

fn run_all(
    engine: &Engine,
    text: &str,
    parameters: &Parameters,
    scope: &ItemScope,
) -> Result<Vec<Value>, String> {
    let query = cosmonaut_query::parse(text).map_err(|e| e.to_string())?;
    let mut request = FeedRequest {
        max_items: Some(2),
        continuation: None,
    };
    let mut out = Vec::new();
    loop {
        let page = engine
            .query_items("db", "c", scope, &query, parameters, &request)
            .map_err(|e| e.to_string())?;
        out.extend(page.page.items);
        match page.page.continuation {
            Some(t) => request.continuation = Some(t),
            None => return Ok(out),
        }
    }
}

#[tokio::test]
async fn corpus_through_the_engine() {
    let corpus: Value = serde_json::from_str(CORPUS).expect("corpus json");
    let documents = corpus["documents"].as_array().expect("documents");
    let cases = corpus["cases"].as_array().expect("cases");
    assert!(cases.len() >= 250, "the corpus shrank to {}", cases.len());
    let mut failures = Vec::new();
    for partitions in [1, 3] {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = common::engine_with_database(dir.path(), partitions).await;
        engine
            .create_container("db", {
                let mut new = NewContainer::hashed("c", "/pk");
                new.body["indexingPolicy"] = corpus["indexingPolicy"].clone();
                new
            })
            .await
            .expect("container");
        for doc in documents {
            let pk = doc["pk"]
                .as_str()
                .map(|s| vec![PartitionKeyValue::String(s.into())]);
            engine
                .write_item("db", "c", WriteMode::Create, doc.clone(), pk, None)
                .await
                .expect("doc");
        }
        for case in cases {
            let text = case["query"].as_str().expect("query");
            let parameters: Parameters = case["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            (
                                p["name"].as_str().unwrap_or_default().to_string(),
                                p["value"].clone(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let Ok(query) = cosmonaut_query::parse(text) else {
                failures.push(format!("{text}: does not parse"));
                continue;
            };
            // A merging query over several partitions is the client's job (query plan).
            if partitions > 1 && !query.is_streaming() {
                continue;
            }
            let got = match run_all(&engine, text, &parameters, &ItemScope::All) {
                Ok(got) => got,
                Err(e) => {
                    failures.push(format!("{text}: {e}"));
                    continue;
                }
            };
            let expected = case["expected"].as_array().expect("expected");
            let (mut got, mut want): (Vec<String>, Vec<String>) = (
                got.iter().map(canonical).collect(),
                expected.iter().map(canonical).collect(),
            );
            if case["ordered"] != json!(true) {
                got.sort();
                want.sort();
            }
            if got != want {
                failures.push(format!(
                    "{text} on {partitions} partition(s): got {got:?}, expected {want:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
