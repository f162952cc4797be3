"""Partial document update (patch) through the Python SDK."""
import pytest
from azure.cosmos import PartitionKey, exceptions

from conftest import unique


@pytest.fixture()
def container(database):
    c = database.create_container(unique("patch"), PartitionKey(path="/pk"))
    c.create_item({"id": "a", "pk": "p", "n": 1, "f": 1.5, "tags": ["x"], "o": {"k": "v"}, "gone": True,
                   "huge": 1.7e308})
    return c


def status(call):
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        call()
    return err.value.status_code


def test_every_operation(container):
    before = container.read_item("a", partition_key="p")
    patched = container.patch_item(
        "a",
        partition_key="p",
        patch_operations=[
            {"op": "add", "path": "/tags/0", "value": "first"},
            {"op": "add", "path": "/tags/-", "value": "last"},
            {"op": "set", "path": "/o/k", "value": "w"},
            {"op": "replace", "path": "/n", "value": 10},
            {"op": "remove", "path": "/gone"},
            {"op": "incr", "path": "/n", "value": 5},
            {"op": "incr", "path": "/f", "value": 1},
            {"op": "move", "from": "/o", "path": "/moved"},
        ],
    )
    assert patched["tags"] == ["first", "x", "last"]
    assert patched["moved"] == {"k": "w"} and "o" not in patched and "gone" not in patched
    assert patched["n"] == 15 and patched["f"] == 2.5
    assert patched["_etag"] != before["_etag"] and patched["_rid"] == before["_rid"]
    assert container.read_item("a", partition_key="p") == patched
    # The index follows: the patched value is found by a query.
    assert list(container.query_items("SELECT VALUE c.id FROM c WHERE c.n = 15", partition_key="p")) == ["a"]


def test_conditional_patch(container):
    ops = [{"op": "set", "path": "/state", "value": "done"}]
    assert status(lambda: container.patch_item("a", "p", ops, filter_predicate="FROM c WHERE c.n > 100")) == 412
    assert "state" not in container.read_item("a", partition_key="p")
    patched = container.patch_item("a", "p", ops, filter_predicate="from c where c.n = 1")
    assert patched["state"] == "done"


def test_refused_patches_change_nothing(container):
    before = container.read_item("a", partition_key="p")
    for ops in (
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "remove", "path": "/tags/5"}],
        [{"op": "incr", "path": "/o", "value": 1}],
        # A sum past the largest double would have no JSON form.
        [{"op": "incr", "path": "/huge", "value": 1.7e308}],
        [{"op": "set", "path": "/pk", "value": "other"}],
        [{"op": "set", "path": "/id", "value": "b"}],
        [{"op": "set", "path": "/ok", "value": 1}, {"op": "add", "path": "/no/such", "value": 1}],
        [{"op": "set", "path": f"/k{i}", "value": i} for i in range(11)],
    ):
        assert status(lambda: container.patch_item("a", "p", ops)) == 400, ops
    assert status(lambda: container.patch_item("missing", "p", [{"op": "set", "path": "/x", "value": 1}])) == 404
    assert status(lambda: container.patch_item("a", "p", [{"op": "set", "path": "/x", "value": 1}],
                                               filter_predicate="FROM c WHERE")) == 400
    assert container.read_item("a", partition_key="p") == before
