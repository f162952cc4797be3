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
