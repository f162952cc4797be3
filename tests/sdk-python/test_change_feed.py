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
