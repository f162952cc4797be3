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
    # Without a previous-image policy no change carries the version it replaced.
    assert all("previous" not in ch for ch in changes)
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


def previous_image_policy(mode, included_paths=None):
    feature = {"mode": mode}
    if included_paths is not None:
        feature["includedPaths"] = included_paths
    return {"supportedFeatures": {"allVersionsAndDeletes": feature}}


def post_container(database, rest, name, **properties):
    """Creates a container with properties the SDK has no parameter for."""
    body = {"id": name, "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}}
    body.update(properties)
    return rest.request("POST", f"/dbs/{database.id}/colls", "colls", f"dbs/{database.id}",
                        body=body)


def all_versions_from_now(c):
    """Starts an all-versions read from now; returns its continuation."""
    list(c.query_items_change_feed(mode="AllVersionsAndDeletes", start_time="Now"))
    return c.client_connection.last_response_headers["etag"]


@pytest.mark.parametrize("mode", [1, 2, 3])
def test_previous_images_where_the_container_opts_in(database, rest, mode):
    # previousImageRetentionPolicy mode flags: 1 keeps replaced versions, 2 deleted ones.
    name = unique("prev")
    created = post_container(database, rest, name, changeFeedPolicy={"retentionDuration": 10},
                             previousImageRetentionPolicy=previous_image_policy(mode))
    assert created.status_code == 201, created.text
    c = database.get_container_client(name)
    assert c.read()["previousImageRetentionPolicy"] == previous_image_policy(mode)
    token = all_versions_from_now(c)
    c.create_item({"id": "x", "pk": "a", "n": 1})
    c.replace_item("x", {"id": "x", "pk": "a", "n": 2})
    c.delete_item("x", partition_key="a")
    create, replace, delete = list(
        c.query_items_change_feed(mode="AllVersionsAndDeletes", continuation=token)
    )
    assert "previous" not in create
    assert (replace.get("previous") or {}).get("n") == (1 if mode & 1 else None)
    assert (delete.get("previous") or {}).get("n") == (2 if mode & 2 else None)
    assert "current" not in delete and delete["metadata"]["id"] == "x"


def test_previous_images_keep_the_included_paths(database, rest):
    name = unique("prevpaths")
    created = post_container(database, rest, name, changeFeedPolicy={"retentionDuration": 10},
                             previousImageRetentionPolicy=previous_image_policy(3, ["/address/city"]))
    assert created.status_code == 201, created.text
    c = database.get_container_client(name)
    token = all_versions_from_now(c)
    c.create_item({"id": "x", "pk": "a", "n": 1, "address": {"city": "Oslo", "zip": "0150"}})
    c.delete_item("x", partition_key="a")
    _, delete = list(c.query_items_change_feed(mode="AllVersionsAndDeletes", continuation=token))
    assert delete["previous"] == {"id": "x", "address": {"city": "Oslo"}}


@pytest.mark.parametrize("mode", [4, -1, "all"])
def test_previous_image_policy_is_checked(database, rest, mode):
    response = post_container(database, rest, unique("badprev"),
                              previousImageRetentionPolicy=previous_image_policy(mode))
    assert response.status_code == 400


def test_all_versions_needs_a_policy(container):
    from azure.cosmos import exceptions

    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        list(container.query_items_change_feed(mode="AllVersionsAndDeletes", start_time="Now"))
    assert err.value.status_code == 400
