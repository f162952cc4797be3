"""Databases and containers: create, read, list, replace, delete, and errors."""
import pytest
from azure.cosmos import PartitionKey, exceptions

from conftest import unique


def test_database_lifecycle(client, rest):
    db_id = unique("py-db")
    created = client.create_database(db_id)
    props = created.read()
    for key in ("id", "_rid", "_self", "_etag", "_ts", "_colls", "_users"):
        assert key in props
    assert props["_self"] == f"dbs/{props['_rid']}/"
    assert db_id in [d["id"] for d in client.list_databases()]
    with pytest.raises(exceptions.CosmosResourceExistsError):
        client.create_database(db_id)
    client.delete_database(db_id)
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        client.get_database_client(db_id).read()
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        client.delete_database(db_id)


@pytest.mark.parametrize("bad", ["a/b", "a\\b", "a?b", "a#b", "trailing ", "x" * 256])
def test_invalid_database_ids_are_400(rest, bad):
    r = rest.request("POST", "/dbs", "dbs", "", body={"id": bad})
    assert r.status_code == 400
    assert r.json()["code"] == "BadRequest"


def test_database_list_pages(client, rest):
    ids = [unique("page-db") for _ in range(3)]
    for i in ids:
        client.create_database(i)
    try:
        r = rest.request("GET", "/dbs", "dbs", "", headers={"x-ms-max-item-count": "1"})
        assert r.json()["_count"] == 1
        assert r.headers.get("x-ms-continuation")
        seen = []
        token = None
        while True:
            headers = {"x-ms-max-item-count": "2"}
            if token:
                headers["x-ms-continuation"] = token
            r = rest.request("GET", "/dbs", "dbs", "", headers=headers)
            seen += [d["id"] for d in r.json()["Databases"]]
            token = r.headers.get("x-ms-continuation")
            if not token:
                break
        assert set(ids) <= set(seen)
        assert len(seen) == len(set(seen))
    finally:
        for i in ids:
            client.delete_database(i)


def test_container_lifecycle_and_system_properties(database):
    c = database.create_container(unique("c"), PartitionKey(path="/pk"))
    props = c.read()
    assert props["partitionKey"]["paths"] == ["/pk"]
    assert props["partitionKey"]["kind"] == "Hash"
    assert props["partitionKey"]["version"] == 2
    for key in ("_rid", "_self", "_etag", "_ts", "_docs", "_sprocs", "_triggers", "_udfs", "_conflicts"):
        assert key in props, key
    assert props["indexingPolicy"]["indexingMode"] == "consistent"
    assert c.id in [x["id"] for x in database.list_containers()]
    with pytest.raises(exceptions.CosmosResourceExistsError):
        database.create_container(c.id, PartitionKey(path="/pk"))
    database.delete_container(c.id)
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        c.read()


def test_container_replace_changes_settings_but_not_the_partition_key(database):
    c = database.create_container(unique("c"), PartitionKey(path="/pk"))
    policy = {"indexingMode": "consistent", "includedPaths": [{"path": "/a/?"}], "excludedPaths": [{"path": "/*"}]}
    replaced = database.replace_container(c, PartitionKey(path="/pk"), indexing_policy=policy, default_ttl=60)
    props = replaced.read()
    assert props["indexingPolicy"]["includedPaths"] == [{"path": "/a/?"}]
    assert props["defaultTtl"] == 60
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        database.replace_container(c, PartitionKey(path="/other"))
    assert err.value.status_code == 400


def test_partition_key_versions_and_hierarchical_definitions(database):
    v1 = database.create_container(unique("v1"), PartitionKey(path="/pk", version=1))
    assert v1.read()["partitionKey"]["version"] == 1
    h = database.create_container(unique("h"), PartitionKey(path=["/a", "/b", "/c"], kind="MultiHash"))
    assert h.read()["partitionKey"] == {"paths": ["/a", "/b", "/c"], "kind": "MultiHash", "version": 2}


def test_bad_partition_key_definitions_are_400(database, rest):
    link = f"dbs/{database.id}"
    for pk in ({"paths": []}, {"paths": ["nope"]}, {"paths": ["/a", "/b"], "kind": "Hash"},
               {"paths": ["/a", "/b", "/c", "/d"], "kind": "MultiHash", "version": 2}):
        r = rest.request("POST", f"/{link}/colls", "colls", link, body={"id": unique("bad"), "partitionKey": pk})
        assert r.status_code == 400, pk
        assert r.json()["code"] == "BadRequest"


def test_container_in_missing_database_is_404(client):
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        client.get_database_client(unique("missing")).create_container("c", PartitionKey(path="/pk"))


def test_malformed_json_body_is_400(database, rest):
    link = f"dbs/{database.id}"
    r = rest.request("POST", f"/{link}/colls", "colls", link, raw_body="{not json",
                     headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["code"] == "BadRequest"
