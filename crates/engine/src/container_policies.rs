//! The container policies that describe vector and full-text search
//! (`vectorEmbeddingPolicy`, `fullTextPolicy` and the `vectorIndexes` and
//! `fullTextIndexes` of the indexing policy), and the shape of
//! `computedProperties`, checked on create and replace as the service checks
//! them, with the service's messages.

use std::collections::HashSet;
use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use crate::error::{EngineError, Result};

/// What the service answers when a property has the wrong JSON type: its
/// deserializer refuses the body before any policy rule runs.
const INVALID_INPUT: &str = "One of the specified inputs is invalid";

const DATA_TYPES: [&str; 4] = ["float32", "float16", "int8", "uint8"];
const DISTANCE_FUNCTIONS: [&str; 3] = ["euclidean", "cosine", "dotproduct"];
const FLAT: &str = "flat";
const INDEX_TYPES: [&str; 3] = [FLAT, "quantizedFlat", "diskANN"];
const QUANTIZER_TYPES: [&str; 2] = ["product", "spherical"];
/// The most dimensions an embedding may have.
const MAX_DIMENSIONS: i64 = 4096;
/// A flat index keeps whole vectors in the regular index, which caps them lower.
const MAX_FLAT_DIMENSIONS: i64 = 505;
/// Product quantization keeps at most this many bytes, and never more than
/// the vector has dimensions.
const MAX_QUANTIZATION_BYTES: i64 = 512;
const INDEXING_SEARCH_LIST_SIZES: RangeInclusive<i64> = 25..=500;
const MAX_SHARD_PATHS: usize = 1;
/// The languages full-text search tokenizes and stems.
const LANGUAGES: [&str; 7] = [
    "en-US", "fr-FR", "de-DE", "it-IT", "pt-BR", "pt-PT", "es-ES",
];

fn invalid_input() -> EngineError {
    EngineError::bad_request(INVALID_INPUT)
}

/// The value of `key` unless absent or null.
fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

fn string_field<'a>(object: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    field(object, key)
        .map(|v| v.as_str().ok_or_else(invalid_input))
        .transpose()
}

fn integer_field(object: &Map<String, Value>, key: &str) -> Result<Option<i64>> {
    field(object, key)
        .map(|v| v.as_i64().ok_or_else(invalid_input))
        .transpose()
}

fn list_field<'a>(object: &'a Map<String, Value>, key: &str) -> Result<&'a [Value]> {
    match field(object, key) {
        None => Ok(&[]),
        Some(v) => v.as_array().map(Vec::as_slice).ok_or_else(invalid_input),
    }
}

/// The object a property holds, if any; any other non-null value is the wrong type.
fn object_field<'a>(
    object: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>> {
    field(object, key)
        .map(|v| v.as_object().ok_or_else(invalid_input))
        .transpose()
}

fn as_object(value: &Value) -> Result<&Map<String, Value>> {
    value.as_object().ok_or_else(invalid_input)
}

/// A path to one property: `/a` or `/a/b`, with no wildcards or empty segments.
fn is_property_path(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|segment| !segment.is_empty() && !segment.contains(['*', '?']))
    })
}

fn one_of(value: &str, allowed: &[&str]) -> bool {
    allowed.iter().any(|a| a.eq_ignore_ascii_case(value))
}

/// One vector embedding, as far as the vector indexes depend on it.
struct Embedding<'a> {
    path: &'a str,
    dimensions: i64,
}

/// Checks a container definition's search policies and the shape of its
/// computed properties; their other rules are checked where they are parsed.
pub(crate) fn check(body: &Value) -> Result<()> {
    let Some(body) = body.as_object() else {
        return Ok(());
    };
    check_computed_properties_shape(body)?;
    let embeddings = vector_embeddings(body)?;
    let full_text_paths = full_text_paths(body)?;
    if let Some(policy) = body.get("indexingPolicy") {
        crate::indexing_policy::check(policy)?;
    }
    if let Some(indexing) = object_field(body, "indexingPolicy")? {
        check_vector_indexes(indexing, &embeddings)?;
        check_full_text_indexes(indexing, &full_text_paths)?;
    }
    Ok(())
}

/// `computedProperties` must be a list of objects with string fields; the
/// service's deserializer refuses anything else before its own rules run.
fn check_computed_properties_shape(body: &Map<String, Value>) -> Result<()> {
    for property in list_field(body, "computedProperties")? {
        let property = as_object(property)?;
        string_field(property, "name")?;
        string_field(property, "query")?;
    }
    Ok(())
}

fn vector_embeddings(body: &Map<String, Value>) -> Result<Vec<Embedding<'_>>> {
    let Some(policy) = object_field(body, "vectorEmbeddingPolicy")? else {
        return Ok(Vec::new());
    };
    let mut embeddings: Vec<Embedding<'_>> = Vec::new();
    for embedding in list_field(policy, "vectorEmbeddings")? {
        let embedding = as_object(embedding)?;
        let path = string_field(embedding, "path")?.unwrap_or_default();
        if !is_property_path(path) {
            return Err(EngineError::bad_request(format!(
                "The Vector Embedding Policy has an invalid Path:{path}."
            )));
        }
        if embeddings.iter().any(|e| e.path == path) {
            return Err(EngineError::bad_request(format!(
                "The Vector Embedding Policy has a duplicate Path:{path}."
            )));
        }
        let data_type = string_field(embedding, "dataType")?.unwrap_or_default();
        if !one_of(data_type, &DATA_TYPES) {
            return Err(EngineError::bad_request(format!(
                "The Vector Embedding Policy has an invalid DataType:{data_type}. Valid data types are \
                 'float32', 'float16', 'int8' and 'uint8'."
            )));
        }
        let dimensions = integer_field(embedding, "dimensions")?.unwrap_or_default();
        if dimensions < 1 {
            return Err(EngineError::bad_request(format!(
                "The Vector Embedding Policy has Dimensions:{dimensions} which is less than the minimum \
                 supported value:1."
            )));
        }
        if dimensions > MAX_DIMENSIONS {
            return Err(EngineError::bad_request(format!(
                "The Vector Embedding Policy has Dimensions:{dimensions} which is more than the maximum \
                 supported value:{MAX_DIMENSIONS}."
            )));
        }
        let distance = string_field(embedding, "distanceFunction")?.unwrap_or_default();
        if !one_of(distance, &DISTANCE_FUNCTIONS) {
            return Err(EngineError::bad_request(format!(
                "The Vector Embedding Policy has an invalid DistanceFunction:{distance}. Valid distance \
                 functions are 'euclidean', 'cosine' and 'dotproduct'."
            )));
        }
        embeddings.push(Embedding { path, dimensions });
    }
    Ok(embeddings)
}

fn check_vector_indexes(indexing: &Map<String, Value>, embeddings: &[Embedding<'_>]) -> Result<()> {
    let mut seen = HashSet::new();
    for index in list_field(indexing, "vectorIndexes")? {
        let index = as_object(index)?;
        let path = string_field(index, "path")?.unwrap_or_default();
        let Some(embedding) = embeddings.iter().find(|e| e.path == path) else {
            return Err(EngineError::bad_request(format!(
                "The Vector Indexing Policy's path::{path} not matching in Embedding's path."
            )));
        };
        if !seen.insert(path) {
            return Err(EngineError::bad_request(format!(
                "The Vector Indexing Policy has a duplicate path::{path}."
            )));
        }
        let index_type = string_field(index, "type")?.unwrap_or_default();
        if !one_of(index_type, &INDEX_TYPES) {
            return Err(EngineError::bad_request(format!(
                "The Vector Indexing Policy's Index Type::{index_type} is invalid, Valid types \
                 are 'flat', 'quantizedFlat' or 'diskANN'."
            )));
        }
        if index_type.eq_ignore_ascii_case(FLAT) && embedding.dimensions > MAX_FLAT_DIMENSIONS {
            return Err(EngineError::bad_request(format!(
                "The Vector Indexing Policy's path::{path} has Dimensions:{} which is more than the \
                 maximum supported value:{MAX_FLAT_DIMENSIONS} for Index Type::{index_type}.",
                embedding.dimensions
            )));
        }
        if let Some(quantizer) = string_field(index, "quantizerType")? {
            if !one_of(quantizer, &QUANTIZER_TYPES) {
                return Err(EngineError::bad_request(format!(
                    "The Vector Indexing Policy has an invalid QuantizerType::{quantizer}. Valid types \
                     are 'product' or 'spherical'."
                )));
            }
        }
        if let Some(bytes) = integer_field(index, "quantizationByteSize")? {
            let allowed = 1..=embedding.dimensions.min(MAX_QUANTIZATION_BYTES);
            check_range("QuantizationByteSize", bytes, &allowed)?;
        }
        if let Some(size) = integer_field(index, "indexingSearchListSize")? {
            check_range("IndexingSearchListSize", size, &INDEXING_SEARCH_LIST_SIZES)?;
        }
        check_shard_paths(index)?;
    }
    Ok(())
}

fn check_range(parameter: &str, value: i64, allowed: &RangeInclusive<i64>) -> Result<()> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(EngineError::bad_request(format!(
        "The Vector Indexing Policy parameter {parameter} value :: {value} is out of range. The \
         allowed range is between {} and {}.",
        allowed.start(),
        allowed.end()
    )))
}

fn check_shard_paths(index: &Map<String, Value>) -> Result<()> {
    let paths = list_field(index, "vectorIndexShardKey")?;
    if paths.len() > MAX_SHARD_PATHS {
        return Err(EngineError::bad_request(format!(
            "The number of shard paths defined in the Vector Indexing Policy: {} exceeds the \
             maximum: {MAX_SHARD_PATHS}.",
            paths.len()
        )));
    }
    for path in paths {
        let path = path.as_str().ok_or_else(invalid_input)?;
        if !is_property_path(path) {
            return Err(EngineError::bad_request(format!(
                "The Vector Indexing Policy has an invalid Shard Path: {path}."
            )));
        }
    }
    Ok(())
}

fn check_language(language: &str) -> Result<()> {
    if one_of(language, &LANGUAGES) {
        return Ok(());
    }
    Err(EngineError::bad_request(format!(
        "The Full Text Policy contains an unsupported language {language}. Supported languages \
         are: {}.",
        LANGUAGES.join(", ")
    )))
}

/// The paths the full-text policy declares, after checking it.
fn full_text_paths(body: &Map<String, Value>) -> Result<Vec<&str>> {
    let Some(policy) = object_field(body, "fullTextPolicy")? else {
        return Ok(Vec::new());
    };
    if let Some(language) = string_field(policy, "defaultLanguage")? {
        check_language(language)?;
    }
    let mut paths: Vec<&str> = Vec::new();
    for entry in list_field(policy, "fullTextPaths")? {
        let entry = as_object(entry)?;
        let path = string_field(entry, "path")?.unwrap_or_default();
        if !is_property_path(path) {
            return Err(EngineError::bad_request(format!(
                "The Full Text Policy contains an invalid Path: {path}."
            )));
        }
        if paths.contains(&path) {
            return Err(EngineError::bad_request(format!(
                "The Full Text Policy contains a duplicate Path: {path}."
            )));
        }
        if let Some(language) = string_field(entry, "language")? {
            check_language(language)?;
        }
        paths.push(path);
    }
    Ok(paths)
}

fn check_full_text_indexes(indexing: &Map<String, Value>, policy_paths: &[&str]) -> Result<()> {
    let mut seen = HashSet::new();
    for index in list_field(indexing, "fullTextIndexes")? {
        let index = as_object(index)?;
        let Some(path) = string_field(index, "path")? else {
            return Err(EngineError::bad_request(
                "The Full Text Indexing Policy contains an index without a Path.",
            ));
        };
        if !is_property_path(path) {
            return Err(EngineError::bad_request(format!(
                "The Full Text Indexing Policy contains an invalid Path: {path}."
            )));
        }
        if !policy_paths.contains(&path) {
            return Err(EngineError::bad_request(format!(
                "The Full Text Indexing Policy's path::{path} not matching in Full Text Policy's path."
            )));
        }
        if !seen.insert(path) {
            return Err(EngineError::bad_request(format!(
                "The Full Text Indexing Policy contains a duplicate Path: {path}."
            )));
        }
    }
    Ok(())
}

/// Checks that a replace keeps what the service never changes in place:
/// every existing vector embedding and every existing vector index, as it
/// was. New ones may be added.
pub(crate) fn check_replace(existing: &Value, requested: &Value) -> Result<()> {
    let embeddings =
        |body: &Value| entries(body.pointer("/vectorEmbeddingPolicy/vectorEmbeddings"));
    if !keeps_all(&embeddings(existing), &embeddings(requested)) {
        return Err(EngineError::bad_request(
            "Paths in existing embedding policy cannot be modified in Collection Replace.",
        ));
    }
    let indexes = |body: &Value| entries(body.pointer("/indexingPolicy/vectorIndexes"));
    if !keeps_all(&indexes(existing), &indexes(requested)) {
        return Err(EngineError::bad_request(
            "Paths in existing vector indexing policy cannot be modified in Collection Replace.",
        ));
    }
    Ok(())
}

/// The objects of a policy list, with null properties dropped, since a null
/// and an absent setting mean the same.
fn entries(list: Option<&Value>) -> Vec<Map<String, Value>> {
    list.and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_object)
                .map(|entry| {
                    let mut entry = entry.clone();
                    entry.retain(|_, v| !v.is_null());
                    entry
                })
                .collect()
        })
        .unwrap_or_default()
}

fn keeps_all(existing: &[Map<String, Value>], requested: &[Map<String, Value>]) -> bool {
    existing.iter().all(|entry| requested.contains(entry))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn embedding(path: &str, dimensions: i64) -> Value {
        json!({"path": path, "dataType": "float32", "dimensions": dimensions, "distanceFunction": "euclidean"})
    }

    fn with_vectors(embeddings: Vec<Value>, indexes: Vec<Value>) -> Value {
        json!({
            "id": "c",
            "vectorEmbeddingPolicy": {"vectorEmbeddings": embeddings},
            "indexingPolicy": {"vectorIndexes": indexes},
        })
    }

    fn refusal(body: &Value) -> String {
        match check(body) {
            Ok(()) => panic!("accepted {body}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn valid_vector_and_full_text_policies_are_accepted() {
        let body = with_vectors(
            vec![
                embedding("/v1", 256),
                embedding("/v2", 600),
                embedding("/v3", 4096),
            ],
            vec![
                json!({"path": "/v1", "type": "flat"}),
                json!({"path": "/v2", "type": "quantizedFlat", "quantizerType": "product", "quantizationByteSize": 512}),
                json!({"path": "/v3", "type": "diskANN", "indexingSearchListSize": 500, "vectorIndexShardKey": ["/country/city"]}),
            ],
        );
        check(&body).expect("valid vector policies");
        let body = json!({
            "fullTextPolicy": {"defaultLanguage": "en-US", "fullTextPaths": [{"path": "/a"}, {"path": "/b/c", "language": "fr-FR"}]},
            "indexingPolicy": {"fullTextIndexes": [{"path": "/a"}]},
        });
        check(&body).expect("valid full-text policies");
        check(&json!({"fullTextPolicy": {"defaultLanguage": "de-DE"}})).expect("language only");
    }

    #[test]
    fn embeddings_are_checked() {
        let mut bad_type = embedding("/v", 8);
        bad_type["dataType"] = json!("float33");
        let mut bad_distance = embedding("/v", 8);
        bad_distance["distanceFunction"] = json!("handMeasured");
        let cases = [
            (bad_type, "has an invalid DataType:float33"),
            (
                embedding("/v", 8000),
                "Dimensions:8000 which is more than the maximum supported value",
            ),
            (
                embedding("/v", -1),
                "The Vector Embedding Policy has Dimensions:-1",
            ),
            (bad_distance, "has an invalid DistanceFunction:handMeasured"),
            (embedding("v", 8), "has an invalid Path:v"),
            (
                json!({"path": "/v", "dataType": "int8", "dimensions": "8", "distanceFunction": "cosine"}),
                INVALID_INPUT,
            ),
        ];
        for (entry, expected) in cases {
            let message = refusal(&with_vectors(vec![entry], vec![]));
            assert!(message.contains(expected), "{message}");
        }
        let twice = refusal(&with_vectors(
            vec![embedding("/v", 8), embedding("/v", 9)],
            vec![],
        ));
        assert!(twice.contains("duplicate Path:/v"), "{twice}");
    }

    #[test]
    fn vector_indexes_are_checked_against_their_embeddings() {
        let cases = [
            (json!({"path": "/v2", "type": "flat"}), "The Vector Indexing Policy's path::/v2 not matching in Embedding's path."),
            (json!({"path": "/v", "type": "notFlat"}), "Index Type::notFlat is invalid"),
            (json!({"path": "/v", "type": "quantizedFlat", "quantizationByteSize": 0}),
             "QuantizationByteSize value :: 0 is out of range. The allowed range is between 1 and 256."),
            (json!({"path": "/v", "type": "diskANN", "indexingSearchListSize": 5}),
             "IndexingSearchListSize value :: 5 is out of range. The allowed range is between 25 and 500."),
            (json!({"path": "/v", "type": "diskANN", "vectorIndexShardKey": ["country"]}),
             "The Vector Indexing Policy has an invalid Shard Path: country."),
            (json!({"path": "/v", "type": "diskANN", "vectorIndexShardKey": ["/a", "/b", "/c"]}),
             "The number of shard paths defined in the Vector Indexing Policy: 3 exceeds the maximum: 1."),
            (json!({"path": "/v", "type": "diskANN", "vectorIndexShardKey": "/country"}), INVALID_INPUT),
            (json!({"path": "/v", "type": "diskANN", "quantizerType": "scalar"}), "invalid QuantizerType::scalar"),
        ];
        for (index, expected) in cases {
            let message = refusal(&with_vectors(vec![embedding("/v", 256)], vec![index]));
            assert!(message.contains(expected), "{message}");
        }
        let wide = with_vectors(
            vec![embedding("/v", 550)],
            vec![json!({"path": "/v", "type": "quantizedFlat", "quantizationByteSize": 513})],
        );
        assert!(refusal(&wide).contains("between 1 and 512"));
        let flat = with_vectors(
            vec![embedding("/v", 506)],
            vec![json!({"path": "/v", "type": "flat"})],
        );
        assert!(refusal(&flat).contains("maximum supported value:505"));
        let unembedded =
            json!({"indexingPolicy": {"vectorIndexes": [{"path": "/vector1", "type": "flat"}]}});
        assert!(refusal(&unembedded).contains("vector1 not matching in Embedding's path"));
    }

    #[test]
    fn full_text_policies_and_indexes_are_checked() {
        let policy = json!({"defaultLanguage": "en-US", "fullTextPaths": [{"path": "/abstract"}]});
        let cases = [
            (
                json!({"fullTextPolicy": {"fullTextPaths": [{"path": "abstract"}]}}),
                "The Full Text Policy contains an invalid Path: abstract",
            ),
            (
                json!({"fullTextPolicy": {"defaultLanguage": "spa-SPA"}}),
                "unsupported language spa-SPA",
            ),
            (
                json!({"fullTextPolicy": {"fullTextPaths": [{"path": "/a", "language": "spa-SPA"}]}}),
                "unsupported language spa-SPA",
            ),
            (
                json!({"indexingPolicy": {"fullTextIndexes": [{"path": "/path"}]}}),
                "path::/path not matching",
            ),
            (
                json!({"fullTextPolicy": policy, "indexingPolicy": {"fullTextIndexes": [{"path": "abstract"}]}}),
                "invalid Path: abstract",
            ),
            (
                json!({"fullTextPolicy": policy, "indexingPolicy": {"fullTextIndexes": [{"not_path": "abstract"}]}}),
                "without a Path",
            ),
        ];
        for (body, expected) in cases {
            let message = refusal(&body);
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn computed_properties_of_the_wrong_type_are_invalid_input() {
        for computed in [
            json!({"name": "cp", "query": "SELECT VALUE 1 FROM c"}),
            json!(["SELECT VALUE 1 FROM c"]),
            json!([{"name": 3, "query": "SELECT VALUE 1 FROM c"}]),
        ] {
            assert_eq!(
                refusal(&json!({"computedProperties": computed})),
                INVALID_INPUT
            );
        }
        check(&json!({"computedProperties": [{"name": "cp", "query": "SELECT VALUE 1 FROM c"}]}))
            .expect("a list of definitions");
    }

    #[test]
    fn replace_keeps_existing_vector_embeddings_and_indexes() {
        let flat = json!({"path": "/v", "type": "flat"});
        let existing = with_vectors(vec![embedding("/v", 256)], vec![flat.clone()]);
        check_replace(&existing, &existing).expect("unchanged");
        let added = with_vectors(
            vec![embedding("/v", 256), embedding("/w", 8)],
            vec![
                flat.clone(),
                json!({"path": "/w", "type": "diskANN", "quantizerType": null}),
            ],
        );
        check_replace(&existing, &added).expect("additions");
        let resized = with_vectors(vec![embedding("/v", 384)], vec![flat.clone()]);
        let message = check_replace(&existing, &resized).map_err(|e| e.message);
        assert_eq!(
            message,
            Err(
                "Paths in existing embedding policy cannot be modified in Collection Replace."
                    .into()
            )
        );
        let retyped = with_vectors(
            vec![embedding("/v", 256)],
            vec![json!({"path": "/v", "type": "quantizedFlat"})],
        );
        let message = check_replace(&existing, &retyped).map_err(|e| e.message);
        assert_eq!(
            message,
            Err("Paths in existing vector indexing policy cannot be modified in Collection Replace."
                .into())
        );
        check_replace(&json!({"id": "c"}), &existing).expect("vector search added to a container");
    }
}
