"""Vector embedding, vector index and full-text policies, and the shape of
computed properties, refused on create and replace as the service refuses them."""
import pytest
from azure.cosmos import PartitionKey, exceptions

from conftest import unique


def embedding(path="/v", dimensions=256, data_type="float32", distance="euclidean"):
    return {"path": path, "dataType": data_type, "dimensions": dimensions, "distanceFunction": distance}


def refused(call):
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        call()
    assert err.value.status_code == 400
    return err.value.http_error_message


def test_valid_vector_policies_round_trip(database):
    policy = {"vectorEmbeddings": [embedding("/a"), embedding("/b", 1024, "int8", "cosine")]}
    indexes = [
        {"path": "/a", "type": "flat"},
        {"path": "/b", "type": "diskANN", "quantizerType": "product", "quantizationByteSize": 512,
         "indexingSearchListSize": 25, "vectorIndexShardKey": ["/country/city"]},
    ]
    c = database.create_container(
        unique("vec"), PartitionKey(path="/pk"),
        vector_embedding_policy=policy, indexing_policy={"vectorIndexes": indexes})
    props = c.read()
    assert props["vectorEmbeddingPolicy"] == policy
    assert props["indexingPolicy"]["vectorIndexes"] == indexes


@pytest.mark.parametrize("entry, expected", [
    (embedding(data_type="float33"), "Vector Embedding Policy has an invalid DataType"),
    (embedding(dimensions=8000), "Vector Embedding Policy has Dimensions:8000 which is more than the maximum"),
    (embedding(dimensions=0), "The Vector Embedding Policy has Dimensions:0"),
    (embedding(distance="handMeasured"), "invalid DistanceFunction:handMeasured"),
    (embedding(path="v"), "invalid Path:v"),
])
def test_invalid_embeddings_are_refused(database, entry, expected):
    message = refused(lambda: database.create_container(
        unique("vec"), PartitionKey(path="/pk"), vector_embedding_policy={"vectorEmbeddings": [entry]}))
    assert expected in message


@pytest.mark.parametrize("index, expected", [
    ({"path": "/w", "type": "flat"}, "The Vector Indexing Policy's path::/w not matching in Embedding's path."),
    ({"path": "/v", "type": "hnsw"}, "Index Type::hnsw is invalid"),
    ({"path": "/v", "type": "quantizedFlat", "quantizationByteSize": 257},
     "QuantizationByteSize value :: 257 is out of range. The allowed range is between 1 and 256."),
    ({"path": "/v", "type": "diskANN", "indexingSearchListSize": 501},
     "IndexingSearchListSize value :: 501 is out of range. The allowed range is between 25 and 500."),
    ({"path": "/v", "type": "diskANN", "vectorIndexShardKey": ["city"]}, "invalid Shard Path: city."),
    ({"path": "/v", "type": "diskANN", "vectorIndexShardKey": ["/a", "/b"]},
     "The number of shard paths defined in the Vector Indexing Policy: 2 exceeds the maximum: 1."),
    ({"path": "/v", "type": "diskANN", "vectorIndexShardKey": "/a"}, "One of the specified inputs is invalid"),
])
def test_invalid_vector_indexes_are_refused(database, index, expected):
    message = refused(lambda: database.create_container(
        unique("vec"), PartitionKey(path="/pk"),
        vector_embedding_policy={"vectorEmbeddings": [embedding()]},
        indexing_policy={"vectorIndexes": [index]}))
    assert expected in message


def test_flat_indexes_hold_at_most_505_dimensions(database):
    refused(lambda: database.create_container(
        unique("vec"), PartitionKey(path="/pk"),
        vector_embedding_policy={"vectorEmbeddings": [embedding(dimensions=506)]},
        indexing_policy={"vectorIndexes": [{"path": "/v", "type": "flat"}]}))
    database.create_container(
        unique("vec"), PartitionKey(path="/pk"),
        vector_embedding_policy={"vectorEmbeddings": [embedding(dimensions=506)]},
        indexing_policy={"vectorIndexes": [{"path": "/v", "type": "quantizedFlat"}]})


def test_replace_keeps_existing_vector_embeddings_and_indexes(database):
    policy = {"vectorEmbeddings": [embedding()]}
    indexing = {"vectorIndexes": [{"path": "/v", "type": "flat"}]}
    c = database.create_container(
        unique("vec"), PartitionKey(path="/pk"), vector_embedding_policy=policy, indexing_policy=indexing)
    replace = lambda **kw: database.replace_container(c, PartitionKey(path="/pk"), **kw)
    assert "path::/v not matching in Embedding's path." in refused(lambda: replace(indexing_policy=indexing))
    assert "Paths in existing vector indexing policy cannot be modified in Collection Replace" in refused(
        lambda: replace(vector_embedding_policy=policy,
                        indexing_policy={"vectorIndexes": [{"path": "/v", "type": "diskANN"}]}))
    assert "Paths in existing embedding policy cannot be modified in Collection Replace" in refused(
        lambda: replace(vector_embedding_policy={"vectorEmbeddings": [embedding(dimensions=384)]},
                        indexing_policy=indexing))
    # Unchanged policies, and new embeddings and indexes beside them, are accepted.
    grown = {"vectorEmbeddings": [embedding(), embedding("/w", 8)]}
    grown_indexing = {"vectorIndexes": indexing["vectorIndexes"] + [{"path": "/w", "type": "flat"}]}
    replace(vector_embedding_policy=grown, indexing_policy=grown_indexing, default_ttl=60)
    props = c.read()
    assert props["vectorEmbeddingPolicy"] == grown
    assert props["defaultTtl"] == 60


@pytest.mark.parametrize("policy, expected", [
    ({"defaultLanguage": "en-US", "fullTextPaths": [{"path": "abstract"}]},
     "The Full Text Policy contains an invalid Path: abstract"),
    ({"defaultLanguage": "xx-XX"}, "The Full Text Policy contains an unsupported language xx-XX"),
    ({"defaultLanguage": "en-US", "fullTextPaths": [{"path": "/a", "language": "xx-XX"}]},
     "unsupported language xx-XX"),
])
def test_invalid_full_text_policies_are_refused(database, policy, expected):
    message = refused(lambda: database.create_container(
        unique("ft"), PartitionKey(path="/pk"), full_text_policy=policy))
    assert expected in message


@pytest.mark.parametrize("index", [{"path": "/other"}, {"path": "abstract"}, {"not_path": "/abstract"}])
def test_full_text_indexes_must_name_a_full_text_path(database, index):
    refused(lambda: database.create_container(
        unique("ft"), PartitionKey(path="/pk"),
        full_text_policy={"defaultLanguage": "en-US", "fullTextPaths": [{"path": "/abstract"}]},
        indexing_policy={"fullTextIndexes": [index]}))


def test_full_text_policies_may_change_on_replace(database):
    c = database.create_container(
        unique("ft"), PartitionKey(path="/pk"),
        full_text_policy={"defaultLanguage": "en-US", "fullTextPaths": [{"path": "/a"}]},
        indexing_policy={"fullTextIndexes": [{"path": "/a"}]})
    policy = {"defaultLanguage": "fr-FR", "fullTextPaths": [{"path": "/b", "language": "de-DE"}]}
    database.replace_container(
        c, PartitionKey(path="/pk"), full_text_policy=policy,
        indexing_policy={"fullTextIndexes": [{"path": "/b"}]})
    assert c.read()["fullTextPolicy"] == policy


def test_computed_properties_of_the_wrong_type_are_invalid_input(database):
    c = database.create_container(unique("cp"), PartitionKey(path="/pk"))
    definition = {"name": "cp_lower", "query": "SELECT VALUE LOWER(c.name) FROM c"}
    for call in (
        lambda: database.replace_container(c, PartitionKey(path="/pk"), computed_properties=definition),
        lambda: database.create_container(unique("cp"), PartitionKey(path="/pk"), computed_properties=definition),
    ):
        assert "One of the specified inputs is invalid" in refused(call)


@pytest.mark.parametrize("policy, expected", [
    ({"indexingMode": "bogus"}, "The indexing mode 'bogus' is invalid"),
    ({"indexingMode": "none", "automatic": True}, "cannot be 'none' when automatic"),
    ({"includedPaths": [{"path": "/*"}], "excludedPaths": [{"path": "/expiration"}]},
     "failed near position '11'"),
    ({"includedPaths": [{"path": "/a/?"}], "excludedPaths": []},
     'The special mandatory indexing path "/" is not provided'),
    ({"compositeIndexes": [[{"path": "/a"}]]}, "at least 2 paths"),
    ({"spatialIndexes": [{"path": "/loc/*", "types": []}]},
     "The spatial data types array cannot be empty"),
])
def test_invalid_indexing_policies_are_refused_and_nothing_is_made(database, policy, expected):
    name = unique("bad-policy")
    with pytest.raises(exceptions.CosmosHttpResponseError) as refused:
        database.create_container(name, PartitionKey("/pk"), indexing_policy=policy)
    assert refused.value.status_code == 400
    assert expected in refused.value.message
    assert name not in [c["id"] for c in database.list_containers()]


def test_replacing_a_container_with_an_invalid_policy_keeps_the_old_one(database):
    container = database.create_container(unique("keep-policy"), PartitionKey("/pk"))
    before = container.read()["indexingPolicy"]
    with pytest.raises(exceptions.CosmosHttpResponseError) as refused:
        database.replace_container(container, PartitionKey("/pk"),
                                   indexing_policy={"excludedPaths": [{"path": "no-slash"}]})
    assert refused.value.status_code == 400
    assert container.read()["indexingPolicy"] == before
    # Mode names are read whatever their case, and kept lowercase.
    database.replace_container(container, PartitionKey("/pk"),
                               indexing_policy={"indexingMode": "Consistent"})
    assert container.read()["indexingPolicy"]["indexingMode"] == "consistent"
