"""Unique key policies through the Python SDK: 409 on a duplicate within a logical partition."""
import pytest
from azure.cosmos import PartitionKey, exceptions

from conftest import unique


@pytest.fixture()
def container(database):
    return database.create_container(
        unique("uniq"),
        PartitionKey(path="/pk"),
        unique_key_policy={"uniqueKeys": [{"paths": ["/email"]}, {"paths": ["/first", "/last"]}]},
    )


def test_unique_within_a_logical_partition(container):
    container.create_item({"id": "1", "pk": "a", "email": "x@y", "first": "A", "last": "B"})
    with pytest.raises(exceptions.CosmosResourceExistsError):
        container.create_item({"id": "2", "pk": "a", "email": "x@y"})
    with pytest.raises(exceptions.CosmosResourceExistsError):
        container.upsert_item({"id": "3", "pk": "a", "email": "other", "first": "A", "last": "B"})
    # Another logical partition may hold the same values.
    container.create_item({"id": "2", "pk": "b", "email": "x@y", "first": "A", "last": "B"})
    # Missing values count as null: only one item per partition may lack them.
    container.create_item({"id": "4", "pk": "a", "email": "z@y"})
    with pytest.raises(exceptions.CosmosResourceExistsError):
        container.create_item({"id": "5", "pk": "a", "email": "w@y"})
    # Replacing an item keeps its own values; changing to a free value frees the old one.
    container.replace_item("1", {"id": "1", "pk": "a", "email": "x@y", "first": "A", "last": "B", "n": 1})
    container.replace_item("1", {"id": "1", "pk": "a", "email": "new@y", "first": "A", "last": "C"})
    container.create_item({"id": "6", "pk": "a", "email": "x@y", "first": "Q", "last": "R"})
    # Deleting frees the values.
    container.delete_item("4", partition_key="a")
    container.create_item({"id": "7", "pk": "a", "email": "z@y"})
    assert container.read()["uniqueKeyPolicy"]["uniqueKeys"][0]["paths"] == ["/email"]


def test_unique_keys_cannot_change(container, database, rest):
    props = container.read()
    link = f"dbs/{database.id}/colls/{container.id}"
    changed = {**props, "uniqueKeyPolicy": {"uniqueKeys": [{"paths": ["/other"]}]}}
    r = rest.request("PUT", "/" + link, "colls", link, body=changed)
    assert r.status_code == 400
    # A replace that leaves the policy out keeps it.
    database.replace_container(container, PartitionKey(path="/pk"), default_ttl=100)
    assert container.read()["uniqueKeyPolicy"]["uniqueKeys"][1]["paths"] == ["/first", "/last"]
