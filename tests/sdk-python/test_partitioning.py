"""Physical partitions: /pkranges, routing by effective partition key, and
requests addressed to one range."""
import pytest
from azure.cosmos import PartitionKey

from conftest import PARTITIONS, unique


def ranges_of(rest, container):
    link = container.container_link.strip("/")
    r = rest.request("GET", f"/{link}/pkranges", "pkranges", link)
    assert r.status_code == 200
    return r, r.json()["PartitionKeyRanges"]


def test_pkranges_cover_the_epk_space(container, rest):
    r, ranges = ranges_of(rest, container)
    assert len(ranges) == PARTITIONS
    assert ranges[0]["minInclusive"] == ""
    assert ranges[-1]["maxExclusive"] == "FF"
    for a, b in zip(ranges, ranges[1:]):
        assert a["maxExclusive"] == b["minInclusive"]
    for rng in ranges:
        for key in ("id", "_rid", "_etag", "_self", "ridPrefix", "throughputFraction", "status", "parents"):
            assert key in rng
    # An incremental read with the etag we got means nothing changed.
    link = container.container_link.strip("/")
    again = rest.request("GET", f"/{link}/pkranges", "pkranges", link,
                         headers={"A-IM": "Incremental feed", "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_feed_ranges_match_physical_partitions(container):
    assert len(list(container.read_feed_ranges())) == PARTITIONS


def test_reads_by_range_are_disjoint_and_complete(container, rest):
    ids = {f"r{i}" for i in range(60)}
    for i in ids:
        container.create_item({"id": i, "pk": i})
    _, ranges = ranges_of(rest, container)
    link = container.container_link.strip("/")
    seen = []
    for rng in ranges:
        r = rest.request("GET", f"/{link}/docs", "docs", link,
                         headers={"x-ms-documentdb-partitionkeyrangeid": rng["id"], "x-ms-max-item-count": "1000"})
        assert r.status_code == 200
        assert r.headers["x-ms-session-token"].startswith(rng["id"] + ":")
        docs = r.json()["Documents"]
        if PARTITIONS > 1:
            assert len(docs) < len(ids), "items should spread over ranges"
        seen += [d["id"] for d in docs]
    assert sorted(seen) == sorted(ids)
    r = rest.request("GET", f"/{link}/docs", "docs", link, headers={"x-ms-documentdb-partitionkeyrangeid": "999"})
    assert r.status_code == 410


def test_session_tokens_name_the_owning_range(container):
    container.create_item({"id": "s", "pk": "s"})
    token = container.client_connection.last_response_headers["x-ms-session-token"]
    range_id, lsn = token.split(":")
    assert int(range_id) < PARTITIONS
    assert lsn.startswith("-1#") and int(lsn.split("#")[1]) >= 1


@pytest.mark.parametrize("version", [1, 2])
def test_hash_versions_route_consistently(database, version):
    c = database.create_container(unique(f"v{version}"), PartitionKey(path="/pk", version=version))
    keys = [f"key-{i}" for i in range(40)] + [7, 2.5, True, None]
    for i, key in enumerate(keys):
        c.create_item({"id": str(i), "pk": key})
    for i, key in enumerate(keys):
        assert c.read_item(str(i), partition_key=key)["id"] == str(i)
    assert len(list(c.read_all_items())) == len(keys)


def test_hierarchical_partition_keys(database):
    c = database.create_container(unique("hpk"), PartitionKey(path=["/tenant", "/user"], kind="MultiHash"))
    for t in ("contoso", "fabrikam"):
        for u in range(5):
            c.create_item({"id": f"{t}-{u}", "tenant": t, "user": f"u{u}"})
    assert c.read_item("contoso-3", partition_key=["contoso", "u3"])["user"] == "u3"
    # A prefix of the key addresses every item under it.
    prefix = list(c.query_items("SELECT * FROM c", partition_key=["contoso"]))
    assert sorted(d["id"] for d in prefix) == [f"contoso-{u}" for u in range(5)]
    full = list(c.query_items("SELECT * FROM c", partition_key=["fabrikam", "u1"]))
    assert [d["id"] for d in full] == ["fabrikam-1"]
    c.delete_item("contoso-3", partition_key=["contoso", "u3"])
    assert len(list(c.read_all_items())) == 9


def test_throughput_adds_partitions(database, rest):
    c = database.create_container(unique("ru"), PartitionKey(path="/pk"), offer_throughput=30000)
    _, ranges = ranges_of(rest, c)
    assert len(ranges) == max(PARTITIONS, 5)
