"""Items: CRUD, upsert, optimistic concurrency, id and size rules, feeds."""
import json

import pytest
from azure.core import MatchConditions
from azure.cosmos import CosmosClient, PartitionKey, exceptions
from azure.cosmos.partition_key import NonePartitionKeyValue

from conftest import ENDPOINT, KEY, unique


def last_headers(container):
    return container.client_connection.last_response_headers


def test_create_read_replace_upsert_delete(container):
    created = container.create_item({"id": "a", "pk": "p", "n": 1})
    for key in ("_rid", "_self", "_etag", "_ts", "_attachments"):
        assert key in created
    headers = last_headers(container)
    assert float(headers["x-ms-request-charge"]) > 0
    assert headers["x-ms-session-token"]
    assert headers["etag"] == created["_etag"]
    assert container.read_item("a", partition_key="p")["n"] == 1
    replaced = container.replace_item("a", {"id": "a", "pk": "p", "n": 2})
    assert replaced["n"] == 2 and replaced["_etag"] != created["_etag"]
    assert replaced["_rid"] == created["_rid"]
    upserted = container.upsert_item({"id": "a", "pk": "p", "n": 3})
    assert upserted["n"] == 3
    fresh = container.upsert_item({"id": "b", "pk": "p"})
    assert fresh["id"] == "b"
    container.delete_item("a", partition_key="p")
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        container.read_item("a", partition_key="p")
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        container.delete_item("a", partition_key="p")


def test_upsert_status_codes(container, rest):
    link = container.container_link.strip("/")
    headers = {"x-ms-documentdb-is-upsert": "True", "x-ms-documentdb-partitionkey": '["p"]'}
    first = rest.request("POST", f"/{link}/docs", "docs", link, body={"id": "u", "pk": "p"}, headers=headers)
    assert first.status_code == 201
    second = rest.request("POST", f"/{link}/docs", "docs", link, body={"id": "u", "pk": "p"}, headers=headers)
    assert second.status_code == 200


def test_create_conflict_is_409(container):
    container.create_item({"id": "dup", "pk": "p"})
    with pytest.raises(exceptions.CosmosResourceExistsError) as err:
        container.create_item({"id": "dup", "pk": "p"})
    assert err.value.status_code == 409
    # The same id under another partition key is another item.
    container.create_item({"id": "dup", "pk": "q"})


def test_if_match_guards_replace_and_delete(container):
    item = container.create_item({"id": "e", "pk": "p", "v": 1})
    container.replace_item("e", {"id": "e", "pk": "p", "v": 2}, etag=item["_etag"],
                           match_condition=MatchConditions.IfNotModified)
    with pytest.raises(exceptions.CosmosAccessConditionFailedError) as err:
        container.replace_item("e", {"id": "e", "pk": "p", "v": 3}, etag=item["_etag"],
                               match_condition=MatchConditions.IfNotModified)
    assert err.value.status_code == 412
    with pytest.raises(exceptions.CosmosAccessConditionFailedError):
        container.delete_item("e", partition_key="p", etag=item["_etag"],
                              match_condition=MatchConditions.IfNotModified)
    assert container.read_item("e", partition_key="p")["v"] == 2


def test_if_none_match_star_on_create_and_etag_on_read(container, rest):
    link = container.container_link.strip("/")
    headers = {"If-None-Match": "*", "x-ms-documentdb-partitionkey": '["p"]'}
    r = rest.request("POST", f"/{link}/docs", "docs", link, body={"id": "n", "pk": "p"}, headers=headers)
    assert r.status_code == 201
    etag = r.json()["_etag"]
    r = rest.request("POST", f"/{link}/docs", "docs", link, body={"id": "n", "pk": "p"}, headers=headers)
    assert r.status_code == 409
    r = rest.request("GET", f"/{link}/docs/n", "docs", f"{link}/docs/n",
                     headers={"If-None-Match": etag, "x-ms-documentdb-partitionkey": '["p"]'})
    assert r.status_code == 304


@pytest.mark.parametrize("bad", ["a/b", "a\\b", "a?b", "a#b", "x" * 1024, ""])
def test_invalid_item_ids_are_400(container, rest, bad):
    # The SDK refuses some of these itself, so send them raw.
    link = container.container_link.strip("/")
    r = rest.request("POST", f"/{link}/docs", "docs", link, body={"id": bad, "pk": "p"},
                     headers={"x-ms-documentdb-partitionkey": '["p"]'})
    assert r.status_code == 400
    assert "invalid" in r.json()["message"]


def test_id_must_be_a_string_and_present(container, rest):
    link = container.container_link.strip("/")
    for body in ({"pk": "p"}, {"id": 5, "pk": "p"}, ["not", "an", "object"]):
        r = rest.request("POST", f"/{link}/docs", "docs", link, body=body,
                         headers={"x-ms-documentdb-partitionkey": '["p"]'})
        assert r.status_code == 400, body
        assert r.json()["code"] == "BadRequest"


def test_longest_id_is_accepted(container):
    long_id = "x" * 1023
    container.create_item({"id": long_id, "pk": "p"})
    assert container.read_item(long_id, partition_key="p")["id"] == long_id


def test_item_over_two_megabytes_is_413_and_nothing_is_stored(container):
    big = {"id": "big", "pk": "p", "blob": "x" * (2 * 1024 * 1024)}
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        container.create_item(big)
    assert err.value.status_code == 413
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        container.read_item("big", partition_key="p")
    # Just under the limit is fine.
    container.create_item({"id": "almost", "pk": "p", "blob": "x" * (2 * 1024 * 1024 - 1024)})


def test_partition_key_header_must_match_the_body(container, rest):
    link = container.container_link.strip("/")
    r = rest.request("POST", f"/{link}/docs", "docs", link, body={"id": "m", "pk": "p"},
                     headers={"x-ms-documentdb-partitionkey": '["other"]'})
    assert r.status_code == 400
    assert r.headers["x-ms-substatus"] == "1001"
    for bad in ("not json", '{"a":1}', "[[1]]", '["a","b"]'):
        r = rest.request("POST", f"/{link}/docs", "docs", link, body={"id": "m", "pk": "p"},
                         headers={"x-ms-documentdb-partitionkey": bad})
        assert r.status_code == 400, bad
    r = rest.request("GET", f"/{link}/docs/m", "docs", f"{link}/docs/m")
    assert r.status_code == 400, "point reads need a partition key"


def test_missing_and_null_partition_key_values(container):
    container.create_item({"id": "nopk"})
    assert container.read_item("nopk", partition_key=NonePartitionKeyValue)["id"] == "nopk"
    container.create_item({"id": "nullpk", "pk": None})
    assert container.read_item("nullpk", partition_key=None)["id"] == "nullpk"
    # Undefined and null are different keys.
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        container.read_item("nopk", partition_key=None)


def test_numeric_and_boolean_partition_keys(database):
    c = database.create_container(unique("typed"), PartitionKey(path="/k"))
    for i, key in enumerate([0, 1.5, -7, True, False, "1"]):
        c.create_item({"id": f"i{i}", "k": key})
        assert c.read_item(f"i{i}", partition_key=key)["k"] == key


def test_nested_partition_key_path(database):
    c = database.create_container(unique("nested"), PartitionKey(path="/a/b"))
    c.create_item({"id": "x", "a": {"b": "deep"}})
    assert c.read_item("x", partition_key="deep")["a"]["b"] == "deep"


def test_read_feed_pages_with_continuation(container):
    for i in range(25):
        container.create_item({"id": f"f{i:02}", "pk": f"p{i % 5}"})
    pages = list(container.read_all_items(max_item_count=7).by_page())
    items = [doc for page in pages for doc in page]
    assert len(items) == 25
    assert len({d["id"] for d in items}) == 25
    assert len(pages) >= 4


def test_read_feed_of_one_partition_key(container):
    for i in range(6):
        container.create_item({"id": f"k{i}", "pk": "a" if i % 2 else "b"})
    got = list(container.query_items("SELECT * FROM c", partition_key="a"))
    assert sorted(d["id"] for d in got) == ["k1", "k3", "k5"]


def test_simple_queries_with_parameters(container):
    for i in range(10):
        container.create_item({"id": f"q{i}", "pk": f"p{i % 3}", "color": "red" if i < 4 else "blue", "n": i})
    red = list(container.query_items("SELECT * FROM c WHERE c.color = @c",
                                     parameters=[{"name": "@c", "value": "red"}],
                                     enable_cross_partition_query=True))
    assert sorted(d["n"] for d in red) == [0, 1, 2, 3]
    one = list(container.query_items("SELECT * FROM c WHERE c.color = 'blue' AND c.n = 7", partition_key="p1"))
    assert [d["id"] for d in one] == ["q7"]


def test_query_syntax_error_is_400_with_position(container):
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        list(container.query_items("SELECT * FORM c", partition_key="p"))
    assert err.value.status_code == 400
    assert "FORM" in err.value.message


def test_operations_on_missing_containers_are_404(database):
    ghost = database.get_container_client(unique("ghost"))
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        ghost.create_item({"id": "x", "pk": "p"})
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        ghost.read_item("x", partition_key="p")


def test_error_body_shape(container, rest):
    link = container.container_link.strip("/")
    r = rest.request("GET", f"/{link}/docs/none", "docs", f"{link}/docs/none",
                     headers={"x-ms-documentdb-partitionkey": '["p"]'})
    assert r.status_code == 404
    body = r.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == "NotFound"
    # The service names no sub-status for a plain 404.
    assert "x-ms-substatus" not in r.headers
    assert r.headers["x-ms-activity-id"]


def test_unicode_and_special_ids_round_trip(container):
    for item_id in ["café", "with space", "emoji-🚀", "percent%20sign", "plus+sign"]:
        container.create_item({"id": item_id, "pk": "p"})
        assert container.read_item(item_id, partition_key="p")["id"] == item_id
        container.delete_item(item_id, partition_key="p")


def test_documents_keep_their_json(container):
    doc = {"id": "j", "pk": "p", "nested": {"arr": [1, 2.5, None, True, {"x": "y"}]}, "big": 2**53, "neg": -0.5}
    container.create_item(doc)
    read = container.read_item("j", partition_key="p")
    for key, value in doc.items():
        assert read[key] == value
    assert json.dumps(read)


def test_consistency_levels_and_session_tokens(container, rest):
    container.create_item({"id": "c", "pk": "p", "v": 1})
    token = container.client_connection.last_response_headers["x-ms-session-token"]
    # Another client, handed the writer's session token, reads the write.
    other = CosmosClient(ENDPOINT, KEY, connection_verify=False)
    mirror = other.get_database_client(container.container_link.split("/")[1]).get_container_client(container.id)
    assert mirror.read_item("c", partition_key="p", session_token=token)["v"] == 1
    eventual = CosmosClient(ENDPOINT, KEY, connection_verify=False, consistency_level="Eventual")
    weak = eventual.get_database_client(container.container_link.split("/")[1]).get_container_client(container.id)
    assert weak.read_item("c", partition_key="p")["v"] == 1
    link = f"{container.container_link}/docs/c"
    for level, status in [("Session", 200), ("ConsistentPrefix", 200), ("Eventual", 200),
                          ("Strong", 400), ("BoundedStaleness", 400), ("Linearizable", 400)]:
        r = rest.request("GET", f"/{link}", "docs", link,
                         headers={"x-ms-documentdb-partitionkey": '["p"]', "x-ms-consistency-level": level})
        assert r.status_code == status, (level, r.text)
        if status == 400:
            assert "x-ms-consistency-level" in r.json()["message"] or "stronger" in r.json()["message"]
