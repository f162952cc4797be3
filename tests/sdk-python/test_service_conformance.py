"""Behaviours the service has that the official SDKs' own tests rely on: rid
addressing, queries over resource feeds, `Prefer: return=minimal`, upserts of
every resource kind, and the headers and rid layout the SDKs parse."""
import base64
import struct

import pytest
from azure.cosmos import PartitionKey, exceptions

from conftest import unique


def rid_bytes(rid):
    return base64.b64decode(rid.replace("-", "/"))


def test_every_resource_is_addressed_by_its_self_link(database, container, rest):
    doc = container.create_item({"id": "a", "pk": "x", "v": 1})
    # The SDK reads, replaces and deletes by the item's _self when given the item.
    assert container.read_item(doc, partition_key="x")["v"] == 1
    container.replace_item(doc, {"id": "a", "pk": "x", "v": 2})
    assert container.read_item("a", partition_key="x")["v"] == 2
    # The signature covers the leaf rid, lower-cased.
    coll_rid = container.read()["_rid"]
    r = rest.request("GET", f"/{doc['_self']}", "docs", doc["_rid"].lower(),
                     headers={"x-ms-documentdb-partitionkey": '["x"]'})
    assert r.status_code == 200 and r.json()["id"] == "a", r.text
    r = rest.request("GET", f"/dbs/{database.read()['_rid']}/colls/{coll_rid}", "colls", coll_rid.lower())
    assert r.status_code == 200 and r.json()["id"] == container.id
    # A feed signs its parent's rid.
    r = rest.request("GET", f"/dbs/{database.read()['_rid']}/colls/{coll_rid}/docs", "docs", coll_rid.lower())
    assert r.status_code == 200 and r.json()["_count"] == 1
    # A name where a rid belongs is refused; a rid under the wrong parent is not found.
    db_rid = database.read()["_rid"]
    r = rest.request("GET", f"/dbs/{db_rid}/colls/{container.id}", "colls", container.id.lower())
    assert r.status_code == 400, r.text
    other = database.create_container(unique("other"), PartitionKey(path="/pk"))
    other_doc = other.create_item({"id": "b", "pk": "x"})
    r = rest.request("GET", f"/dbs/{db_rid}/colls/{coll_rid}/docs/{other_doc['_rid']}", "docs",
                     other_doc["_rid"].lower(), headers={"x-ms-documentdb-partitionkey": '["x"]'})
    assert r.status_code == 404
    container.delete_item(doc, partition_key="x")
    assert list(container.read_all_items()) == []


def test_scripts_users_and_permissions_by_self_link(database, container, rest):
    sproc = container.scripts.create_stored_procedure(
        {"id": "s", "body": "function () { getContext().getResponse().setBody('hi'); }"})
    r = rest.request("GET", f"/{sproc['_self']}", "sprocs", sproc["_rid"].lower())
    assert r.status_code == 200 and r.json()["id"] == "s"
    user = database.create_user({"id": "u"}).read()
    r = rest.request("GET", f"/{user['_self']}", "users", user["_rid"].lower())
    assert r.status_code == 200 and r.json()["id"] == "u"
    perm = database.get_user_client("u").create_permission(
        {"id": "p", "permissionMode": "Read", "resource": container.container_link}).properties
    r = rest.request("GET", f"/{perm['_self']}", "permissions", perm["_rid"].lower())
    assert r.status_code == 200 and r.json()["id"] == "p"


def test_rids_have_the_service_layout(database, container):
    db_rid = rid_bytes(database.read()["_rid"])
    coll_rid = rid_bytes(container.read()["_rid"])
    assert len(db_rid) == 4 and len(coll_rid) == 8 and coll_rid[:4] == db_rid
    assert coll_rid[4] & 0x80, "a container rid has the top bit of byte 4 set"
    docs = [container.create_item({"id": f"d{i}", "pk": "p"}) for i in range(3)]
    counters = []
    for doc in docs:
        raw = rid_bytes(doc["_rid"])
        assert len(raw) == 16 and raw[:8] == coll_rid
        assert raw[15] >> 4 == 0, "documents carry type 0 in the high half of byte 15"
        counters.append(struct.unpack("<Q", raw[8:])[0])
    assert counters == sorted(counters) and counters[0] > 0
    kinds = {"sprocs": 8, "triggers": 7, "udfs": 6}
    made = {
        "sprocs": container.scripts.create_stored_procedure({"id": "s", "body": "function () {}"}),
        "triggers": container.scripts.create_trigger(
            {"id": "t", "body": "function () {}", "triggerType": "Pre", "triggerOperation": "All"}),
        "udfs": container.scripts.create_user_defined_function({"id": "u", "body": "function () {}"}),
    }
    for kind, script in made.items():
        assert rid_bytes(script["_rid"])[15] >> 4 == kinds[kind], kind
    ranges = list(container.client_connection._ReadPartitionKeyRanges(container.container_link))
    assert all(rid_bytes(r["_rid"])[15] >> 4 == 5 for r in ranges)
    user = rid_bytes(database.create_user({"id": "u"}).read()["_rid"])
    assert len(user) == 8 and not user[4] & 0x80
    perm = database.get_user_client("u").create_permission(
        {"id": "p", "permissionMode": "All", "resource": container.container_link}).properties
    assert rid_bytes(perm["_rid"])[:8] == user


def test_queries_over_resource_feeds(client, database, container):
    assert [d["id"] for d in client.query_databases(
        {"query": "SELECT * FROM root r WHERE r.id = @id", "parameters": [{"name": "@id", "value": database.id}]})
    ] == [database.id]
    assert [c["id"] for c in database.query_containers(f"SELECT * FROM r WHERE r.id = '{container.id}'")] \
        == [container.id]
    for i in range(3):
        database.create_user({"id": f"u{i}"})
    pages = list(database.query_users("SELECT * FROM r", max_item_count=2).by_page())
    assert [len(list(p)) for p in pages] == [2, 1]
    database.get_user_client("u0").create_permission(
        {"id": "p", "permissionMode": "Read", "resource": container.container_link})
    perms = list(database.get_user_client("u0").query_permissions("SELECT * FROM r WHERE r.id = 'p'"))
    assert len(perms) == 1 and perms[0]["_token"]
    container.scripts.create_stored_procedure({"id": "s", "body": "function () {}"})
    assert [s["id"] for s in container.scripts.query_stored_procedures("SELECT * FROM r")] == ["s"]


def test_minimal_responses_on_write(container, rest):
    link = container.container_link.strip("/")
    headers = {"x-ms-documentdb-partitionkey": '["p"]', "prefer": "return=minimal"}
    r = rest.request("POST", f"/{link}/docs", "docs", link, body={"id": "m", "pk": "p"}, headers=headers)
    assert r.status_code == 201 and r.content == b"" and r.headers["etag"]
    r = rest.request("PUT", f"/{link}/docs/m", "docs", f"{link}/docs/m", body={"id": "m", "pk": "p", "v": 2},
                     headers=headers)
    assert r.status_code == 200 and r.content == b""
    # Queries and reads still answer with their results.
    r = rest.request("POST", f"/{link}/docs", "docs", link, body={"query": "SELECT * FROM c", "parameters": []},
                     headers={**headers, "x-ms-documentdb-isquery": "True",
                              "content-type": "application/query+json"})
    assert r.status_code == 200 and r.json()["_count"] == 1
    assert container.read_item("m", partition_key="p")["v"] == 2


def test_upserts_of_users_replace_them(database):
    first = database.upsert_user({"id": "u"}).read()
    second = database.upsert_user({"id": "u"}).read()
    assert first["_rid"] == second["_rid"] and first["_etag"] != second["_etag"]


def test_resource_bodies_keep_the_clients_casing(database, container):
    database.create_user({"id": "u"})
    perm = database.get_user_client("u").create_permission(
        {"id": "p", "permissionMode": "read", "resource": container.container_link}).properties
    assert perm["permissionMode"] == "read"


def test_replace_may_change_the_id(container):
    container.create_item({"id": "old", "pk": "p", "v": 1})
    replaced = container.replace_item("old", {"id": "new", "pk": "p", "v": 2})
    assert replaced["id"] == "new"
    assert container.read_item("new", partition_key="p")["v"] == 2
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        container.read_item("old", partition_key="p")
    container.create_item({"id": "taken", "pk": "p"})
    with pytest.raises(exceptions.CosmosResourceExistsError):
        container.replace_item("new", {"id": "taken", "pk": "p"})
    assert container.read_item("new", partition_key="p")["v"] == 2


def test_upsert_with_if_match_of_a_missing_item_creates_it(container):
    from azure.core import MatchConditions
    doc = container.upsert_item({"id": "fresh", "pk": "p"}, etag='"nope"',
                                match_condition=MatchConditions.IfNotModified)
    assert doc["id"] == "fresh"


def test_invalid_ttls_are_refused_whether_or_not_ttl_is_on(database):
    with_ttl = database.create_container(unique("ttl"), PartitionKey(path="/pk"), default_ttl=10)
    without = database.create_container(unique("nottl"), PartitionKey(path="/pk"))
    for c in (with_ttl, without):
        for ttl in (None, 0, -10, 2**31, "5"):
            with pytest.raises(exceptions.CosmosHttpResponseError) as err:
                c.create_item({"id": "a", "pk": "p", "ttl": ttl})
            assert err.value.status_code == 400
            assert "Ensure to provide a nonzero positive integer" in err.value.message
        c.create_item({"id": "never", "pk": "p", "ttl": -1})
        c.create_item({"id": "later", "pk": "p", "ttl": 3600})


def test_partition_key_paths_to_objects_are_undefined(database, rest):
    c = database.create_container(unique("nested"), PartitionKey(path="/address"))
    doc = c.create_item({"id": "a", "address": {"city": "x"}})
    items = list(c.query_items("SELECT * FROM c", enable_cross_partition_query=True))
    assert [i["id"] for i in items] == ["a"]
    link = c.container_link.strip("/")
    r = rest.request("GET", f"/{link}/docs/a", "docs", f"{link}/docs/a",
                     headers={"x-ms-documentdb-partitionkey": "[{}]"})
    assert r.status_code == 200, r.text


def test_every_answer_has_its_duration_and_404s_their_session(container, rest):
    link = container.container_link.strip("/")
    r = rest.request("GET", f"/{link}/docs/missing", "docs", f"{link}/docs/missing",
                     headers={"x-ms-documentdb-partitionkey": '["p"]'})
    assert r.status_code == 404
    assert float(r.headers["x-ms-request-duration-ms"]) >= 0
    assert r.headers["x-ms-session-token"] and r.headers["lsn"]
    assert r.headers["x-ms-documentdb-partitionkeyrangeid"]
    # A plain 404 names no sub-status.
    assert "x-ms-substatus" not in r.headers
    r = rest.request("GET", "/dbs", "dbs", "")
    assert float(r.headers["x-ms-request-duration-ms"]) >= 0


def test_a_batch_advances_the_lsn_once(container):
    for i in range(3):
        container.upsert_item({"id": f"b{i}", "pk": "p"})
    lsn = int(container.read_item("b0", partition_key="p").get_response_headers()["lsn"])
    result = container.execute_item_batch([
        ("create", ({"id": "new", "pk": "p"},)),
        ("replace", ("b1", {"id": "b1", "pk": "p", "v": 1})),
        ("read", ("b0",)),
        ("delete", ("b2",)),
    ], partition_key="p")
    assert int(result.get_response_headers()["lsn"]) == lsn + 1
    # The change feed still sees each write once.
    changed = {d["id"] for d in container.query_items_change_feed(is_start_from_beginning=True,
                                                                   partition_key="p")}
    assert changed == {"b0", "b1", "new"}


def test_batch_size_errors_use_the_services_words(container):
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        container.execute_item_batch([], partition_key="p")
    assert err.value.status_code == 400 and "Batch request has no operations." in err.value.message
    ops = [("create", ({"id": f"i{i}", "pk": "p"},)) for i in range(101)]
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        container.execute_item_batch(ops, partition_key="p")
    assert "Batch request has more operations than what is supported." in err.value.message


def test_too_many_partition_key_paths(database):
    for kind, paths in (("MultiHash", ["/a", "/b", "/c", "/d"]), ("Hash", ["/a", "/b"])):
        with pytest.raises(exceptions.CosmosHttpResponseError) as err:
            database.create_container(unique("pk"), PartitionKey(path=paths, kind=kind))
        assert err.value.status_code == 400 and "Too many partition key paths" in err.value.message


def test_the_conflicts_feed_is_empty(container):
    assert list(container.list_conflicts()) == []
    assert list(container.query_conflicts("SELECT * FROM c", partition_key="p")) == []
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        list(container.query_conflicts("SELECT * FROM c"))
    assert err.value.status_code == 400
    for call in (container.get_conflict, container.delete_conflict):
        with pytest.raises(exceptions.CosmosResourceNotFoundError):
            call("none", partition_key="p")


def test_queries_without_a_partition_key_must_allow_fan_out(container):
    container.create_item({"id": "a", "pk": "p"})
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        list(container.query_items("SELECT * FROM c"))
    assert err.value.status_code == 400 and "Cross partition query is required" in err.value.message
    assert len(list(container.query_items("SELECT * FROM c", enable_cross_partition_query=True))) == 1
    assert len(list(container.query_items("SELECT * FROM c", partition_key="p"))) == 1


def test_container_reads_report_statistics_and_index_progress(container):
    for i in range(5):
        container.create_item({"id": f"s{i}", "pk": f"p{i}"})
    props = container.read(populate_partition_key_range_statistics=True, populate_quota_info=True)
    headers = container.client_connection.last_response_headers
    assert headers["x-ms-documentdb-collection-index-transformation-progress"] == "100"
    assert sum(s["documentCount"] for s in props["statistics"]) == 5


def test_a_permission_replace_may_rename_it(database, container):
    user = database.create_user({"id": "u"})
    user.create_permission({"id": "old", "permissionMode": "Read", "resource": container.container_link})
    renamed = user.replace_permission("old", {"id": "new", "permissionMode": "All",
                                              "resource": container.container_link})
    assert renamed.id == "new"
    assert [p["id"] for p in user.list_permissions()] == ["new"]


def test_a_recreated_container_is_told_apart_by_its_rid(database, rest):
    name = unique("again")
    first = database.create_container(name, PartitionKey(path="/pk"))
    first.create_item({"id": "a", "pk": "p"})
    old_rid = first.read()["_rid"]
    database.delete_container(name)
    database.create_container(name, PartitionKey(path="/pk"))
    link = f"dbs/{database.id}/colls/{name}"
    r = rest.request("POST", f"/{link}/docs", "docs", link, body={"id": "b", "pk": "p"},
                     headers={"x-ms-documentdb-partitionkey": '["p"]',
                              "x-ms-cosmos-intended-collection-rid": old_rid})
    assert r.status_code == 400 and r.headers["x-ms-substatus"] == "1024", r.text
    # The SDK refreshes its cache on that answer and retries with the new rid.
    first.create_item({"id": "b", "pk": "p"})
    assert [i["id"] for i in first.read_all_items()] == ["b"]


def test_partition_key_version_is_returned_only_when_sent(database, rest):
    link = f"dbs/{database.id}"
    for sent, shown in (({"paths": ["/pk"]}, None), ({"paths": ["/pk"], "version": 2}, 2),
                        ({"paths": ["/pk"], "kind": "Hash", "version": 1}, 1)):
        name = unique("v")
        r = rest.request("POST", f"/{link}/colls", "colls", link, body={"id": name, "partitionKey": sent})
        assert r.status_code == 201, r.text
        assert r.json()["partitionKey"].get("version") == shown and r.json()["partitionKey"]["kind"] == "Hash"
        # A replace without the partition key keeps it as it was.
        coll = f"{link}/colls/{name}"
        r = rest.request("PUT", f"/{coll}", "colls", coll, body={"id": name, "defaultTtl": 5})
        assert r.status_code == 200 and r.json()["partitionKey"].get("version") == shown, r.text


def test_limits_are_refused_in_the_services_words(client, database, container):
    from azure.cosmos import ThroughputProperties

    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        client.create_database("d" * 256)
    assert "less than '255' characters" in err.value.message
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        container.create_item({"id": "i" * 1024, "pk": "p"})
    assert "less than '1024' characters" in err.value.message
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        database.create_container(unique("a"), PartitionKey(path="/pk"),
                                  offer_throughput=ThroughputProperties(auto_scale_max_throughput=-200))
    assert "Requested throughput -200 is less than required minimum throughput 1000" in err.value.message


def test_an_invalid_continuation_is_named(container, rest):
    link = container.container_link.strip("/")
    r = rest.request("GET", f"/{link}/docs", "docs", link, headers={"x-ms-continuation": "ffff"})
    assert r.status_code == 400 and "Invalid continuation token 'ffff'" in r.json()["message"], r.text
    r = rest.request("GET", f"/{link}/docs", "docs", link, headers={"x-ms-continuation": "ab" * 500})
    assert r.status_code == 400 and len(r.json()["message"]) < 200


def test_the_empty_partition_key_addresses_no_item(container, rest):
    # `[]` is the key of legacy containers without partition key paths; on a
    # container with paths an item without them is `[{}]` (undefined).
    container.create_item({"id": "keyless"})
    container.create_item({"id": "a", "pk": "x"})
    link = container.container_link.strip("/")
    r = rest.request("GET", f"/{link}/docs/keyless", "docs", f"{link}/docs/keyless",
                     headers={"x-ms-documentdb-partitionkey": "[]"})
    assert r.status_code == 400 and r.headers.get("x-ms-substatus") == "1001", r.text
    r = rest.request("GET", f"/{link}/docs/keyless", "docs", f"{link}/docs/keyless",
                     headers={"x-ms-documentdb-partitionkey": "[{}]"})
    assert r.status_code == 200 and r.json()["id"] == "keyless", r.text
    # A query with the empty key names no partition: it spans them all, so
    # it needs the client's consent to fan out.
    query = {"x-ms-documentdb-isquery": "True", "content-type": "application/query+json",
             "x-ms-documentdb-partitionkey": "[]"}
    r = rest.request("POST", f"/{link}/docs", "docs", link, body={"query": "SELECT * FROM c"}, headers=query)
    assert r.status_code == 400 and "Cross partition query is required" in r.text, r.text
