"""The change feed (latest version) through the Python SDK."""
from datetime import datetime, timedelta, timezone

import pytest
from azure.cosmos import PartitionKey

from conftest import unique


@pytest.fixture()
def container(database):
    return database.create_container(unique("feed"), PartitionKey(path="/pk"))


def ids(pages):
    return [d["id"] for d in pages]


def test_changes_from_the_beginning_and_after_a_continuation(container):
    for i in range(12):
        container.create_item({"id": f"i{i}", "pk": f"p{i % 4}", "n": i})
    container.upsert_item({"id": "i3", "pk": "p3", "n": 300})
    container.delete_item("i5", partition_key="p1")

    feed = container.query_items_change_feed(start_time="Beginning")
    seen = list(feed)
    # Each item once, at its latest version; deletes are not in this mode.
    assert sorted(ids(seen)) == sorted(f"i{i}" for i in range(12) if i != 5)
    assert next(d for d in seen if d["id"] == "i3")["n"] == 300
    assert all("_lsn" in d for d in seen)
    continuation = container.client_connection.last_response_headers["etag"]

    container.create_item({"id": "late", "pk": "p0"})
    container.upsert_item({"id": "i0", "pk": "p0", "n": -1})
    later = list(container.query_items_change_feed(continuation=continuation))
    assert sorted(ids(later)) == ["i0", "late"]
    # Nothing new: an empty read.
    again = container.client_connection.last_response_headers["etag"]
    assert list(container.query_items_change_feed(continuation=again)) == []


def test_changes_for_one_partition_key_and_from_now(container):
    for i in range(6):
        container.create_item({"id": f"i{i}", "pk": f"p{i % 2}"})
    one = list(container.query_items_change_feed(start_time="Beginning", partition_key="p1"))
    assert sorted(ids(one)) == ["i1", "i3", "i5"]

    now = container.query_items_change_feed(start_time="Now")
    assert list(now) == []
    token = container.client_connection.last_response_headers["etag"]
    container.create_item({"id": "after", "pk": "p0"})
    assert ids(container.query_items_change_feed(continuation=token)) == ["after"]


def test_changes_since_a_point_in_time(container):
    container.create_item({"id": "old", "pk": "p"})
    start = datetime.now(timezone.utc) + timedelta(seconds=2)
    old = list(container.query_items_change_feed(start_time=start))
    assert old == []


def test_all_versions_and_deletes(database):
    c = database.create_container(
        unique("avad"), PartitionKey(path="/pk"), change_feed_policy={"retentionDuration": 10}
    )
    c.create_item({"id": "before", "pk": "a"})
    assert list(c.query_items_change_feed(mode="AllVersionsAndDeletes", start_time="Now")) == []
    token = c.client_connection.last_response_headers["etag"]
    now_b = c.query_items_change_feed(mode="AllVersionsAndDeletes", start_time="Now", partition_key="b")
    assert list(now_b) == []
    token_b = c.client_connection.last_response_headers["etag"]
    c.create_item({"id": "x", "pk": "a", "n": 1})
    c.upsert_item({"id": "x", "pk": "a", "n": 2})
    c.replace_item("x", {"id": "x", "pk": "a", "n": 3})
    c.create_item({"id": "y", "pk": "b"})
    c.delete_item("x", partition_key="a")
    every = list(c.query_items_change_feed(mode="AllVersionsAndDeletes", continuation=token))
    assert len(every) == 5
    # In LSN order within a partition (the SDK visits physical partitions in turn).
    changes = [ch for ch in every if (ch.get("current") or ch["metadata"]).get("id") == "x"]
    kinds = [(ch["metadata"]["operationType"], (ch.get("current") or {}).get("n")) for ch in changes]
    assert kinds == [("create", 1), ("replace", 2), ("replace", 3), ("delete", None)]
    # Replaces and deletes carry the version they replaced (the previous image).
    assert [(ch.get("previous") or {}).get("n") for ch in changes] == [None, 1, 2, 3]
    deleted = changes[-1]["metadata"]
    assert deleted["id"] == "x" and deleted["partitionKey"] == {"pk": "a"}
    assert deleted["timeToLiveExpired"] is False
    assert deleted["previousImageLSN"] == changes[2]["metadata"]["lsn"]
    lsns = [ch["metadata"]["lsn"] for ch in changes]
    assert lsns == sorted(lsns) and all(ch["metadata"]["crts"] > 0 for ch in changes)
    # One partition key's changes only.
    only_b = list(
        c.query_items_change_feed(mode="AllVersionsAndDeletes", continuation=token_b)
    )
    assert [ch["current"]["id"] for ch in only_b] == ["y"]
    # Latest-version mode still shows each live item once.
    assert sorted(d["id"] for d in c.query_items_change_feed(start_time="Beginning")) == ["before", "y"]


def test_all_versions_needs_a_policy(container):
    from azure.cosmos import exceptions

    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        list(container.query_items_change_feed(mode="AllVersionsAndDeletes", start_time="Now"))
    assert err.value.status_code == 400
