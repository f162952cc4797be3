"""Transactional batches through the Python SDK: all operations or none."""
import pytest
from azure.cosmos import PartitionKey, exceptions

from conftest import unique


@pytest.fixture()
def container(database):
    c = database.create_container(unique("batch"), PartitionKey(path="/pk"))
    c.create_item({"id": "old", "pk": "p", "n": 1})
    c.create_item({"id": "gone", "pk": "p"})
    return c


def test_committed_batch(container):
    old = container.read_item("old", partition_key="p")
    results = container.execute_item_batch(
        [
            ("create", ({"id": "a", "pk": "p", "n": 1},)),
            ("upsert", ({"id": "b", "pk": "p"},)),
            ("replace", ("old", {"id": "old", "pk": "p", "n": 2}), {"if_match_etag": old["_etag"]}),
            ("read", ("a",)),
            ("patch", ("a", [{"op": "incr", "path": "/n", "value": 41}])),
            ("delete", ("gone",)),
        ],
        partition_key="p",
    )
    assert [r["statusCode"] for r in results] == [201, 201, 200, 200, 200, 204]
    assert results[3]["resourceBody"]["id"] == "a", "a read sees the batch's own writes"
    assert results[4]["resourceBody"]["n"] == 42
    assert all(r["requestCharge"] > 0 for r in results)
    ids = sorted(container.query_items("SELECT VALUE c.id FROM c", partition_key="p"))
    assert ids == ["a", "b", "old"]


def test_failed_batch_stores_nothing(container):
    before = sorted(
        (d["id"], d["_etag"]) for d in container.query_items("SELECT * FROM c", partition_key="p")
    )
    with pytest.raises(exceptions.CosmosBatchOperationError) as err:
        container.execute_item_batch(
            [
                ("create", ({"id": "new", "pk": "p"},)),
                ("upsert", ({"id": "old", "pk": "p", "n": 99},)),
                ("create", ({"id": "gone", "pk": "p"},)),  # exists: 409
                ("delete", ("old",)),
            ],
            partition_key="p",
        )
    assert err.value.error_index == 2
    assert [r["statusCode"] for r in err.value.operation_responses] == [424, 424, 409, 424]
    after = sorted(
        (d["id"], d["_etag"]) for d in container.query_items("SELECT * FROM c", partition_key="p")
    )
    assert after == before
    # The index was rolled back with the items.
    assert list(container.query_items("SELECT VALUE c.id FROM c WHERE c.n = 99", partition_key="p")) == []


def test_batch_limits_and_keys(container):
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        container.execute_item_batch([("upsert", ({"id": f"i{i}", "pk": "p"},)) for i in range(101)], partition_key="p")
    assert err.value.status_code == 400
    # An item of another partition key fails the batch.
    with pytest.raises(exceptions.CosmosBatchOperationError) as err:
        container.execute_item_batch([("create", ({"id": "x", "pk": "other"},))], partition_key="p")
    assert err.value.operation_responses[0]["statusCode"] == 400


def test_delete_all_items_of_a_partition_key(container):
    for i in range(5):
        container.create_item({"id": f"x{i}", "pk": "q"})
    container.delete_all_items_by_partition_key("q")
    assert list(container.query_items("SELECT * FROM c", partition_key="q")) == []
    # Other partition keys keep their items.
    assert sorted(container.query_items("SELECT VALUE c.id FROM c", partition_key="p")) == ["gone", "old"]


def test_failed_batch_entries_carry_their_charges(container):
    with pytest.raises(exceptions.CosmosBatchOperationError) as err:
        container.execute_item_batch(
            [("create", ({"id": "new", "pk": "p"},)), ("create", ({"id": "gone", "pk": "p"},))],
            partition_key="p",
        )
    entries = err.value.operation_responses
    assert [e["statusCode"] for e in entries] == [424, 409]
    assert entries[0]["requestCharge"] == 0 and entries[1]["requestCharge"] > 0
    charged = float(container.client_connection.last_response_headers["x-ms-request-charge"])
    assert charged == pytest.approx(sum(e["requestCharge"] for e in entries), abs=0.1)


def test_bulk_refuses_an_unreadable_operation_alone(database, container, rest):
    # A bulk request (non-atomic batch) as the .NET and JavaScript SDKs send
    # it: each operation names its partition key; the second one's key is not JSON.
    link = f"dbs/{database.id}/colls/{container.id}"
    response = rest.request(
        "POST",
        f"/{link}/docs",
        "docs",
        link,
        body=[
            {"operationType": "Create", "partitionKey": '["p"]', "resourceBody": {"id": "b1", "pk": "p"}},
            {"operationType": "Create", "partitionKey": "not json", "resourceBody": {"id": "b2", "pk": "p"}},
            {"operationType": "Create", "partitionKey": '["p"]', "resourceBody": {"id": "b3", "pk": "p", "ttl": 0}},
            {"operationType": "Create", "partitionKey": '["p"]', "resourceBody": {"id": "b4", "pk": "p"}},
        ],
        headers={
            "x-ms-cosmos-is-batch-request": "True",
            "x-ms-cosmos-batch-atomic": "False",
            "x-ms-cosmos-batch-continue-on-error": "True",
            "x-ms-documentdb-partitionkeyrangeid": "0",
            "content-type": "application/json",
        },
    )
    assert response.status_code == 207, response.text
    entries = response.json()
    assert [e["statusCode"] for e in entries] == [201, 400, 400, 201]
    assert "The input ttl '0' is invalid" in entries[2]["message"]
    ids = sorted(container.query_items("SELECT VALUE c.id FROM c WHERE STARTSWITH(c.id, 'b')", partition_key="p"))
    assert ids == ["b1", "b4"]
