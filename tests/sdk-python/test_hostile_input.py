"""Bad input gets a 4xx, never crashes the server, and changes nothing stored."""
import pytest

from conftest import unique

BINARY_GARBAGE = [b"\x80", b"\x80\xc2\xff\xff\xff\xff", b"\x80" + b"\xe1" * 300 + b"\xd0",
                  b"\x80\xc3\x00", b"\x80\x7b", b"\x80\xd0\xd0"]


@pytest.fixture()
def seeded(container, rest):
    container.create_item({"id": "keep", "pk": "p", "v": 1})
    return container, container.container_link.strip("/")


def assert_intact(container):
    assert container.read_item("keep", partition_key="p")["v"] == 1


def test_malformed_headers(seeded, rest):
    container, link = seeded
    bad_headers = [
        {"x-ms-documentdb-partitionkey": "[" * 10000},
        {"x-ms-documentdb-partitionkey": '["' + "x" * 3000 + '"]'},
        {"x-ms-documentdb-partitionkey": "[1e999]"},
        {"x-ms-max-item-count": "99999999999999999999999"},
        {"x-ms-max-item-count": "ten"},
        {"x-ms-continuation": "not-hex"},
        {"x-ms-continuation": "00" * 5000},
        {"x-ms-documentdb-partitionkeyrangeid": "0", "x-ms-start-epk": "XYZ"},
    ]
    for headers in bad_headers:
        r = rest.request("GET", f"/{link}/docs", "docs", link, headers=headers)
        assert 400 <= r.status_code < 500, (headers, r.status_code, r.text)
        assert set(r.json()) == {"code", "message"}
    assert_intact(container)


def test_malformed_bodies(seeded, rest):
    container, link = seeded
    headers = {"x-ms-documentdb-partitionkey": '["p"]', "content-type": "application/json"}
    bodies = [b"", b"null", b"[]", b"\"str\"", b"{", b'{"id": "keep", "pk": "p", "v": 2',
              b"{" * 100000, b'{"id": "x", "pk": "p", "n": 1e999}', b"\xff\xfe", *BINARY_GARBAGE]
    for body in bodies:
        for verb, path, rlink in (("POST", f"/{link}/docs", link),
                                  ("PUT", f"/{link}/docs/keep", f"{link}/docs/keep")):
            r = rest.request(verb, path, "docs", rlink, raw_body=body, headers=headers)
            assert 400 <= r.status_code < 500, (body[:20], r.status_code, r.text)
    assert_intact(container)


def test_bad_throughput_header(database, rest):
    link = f"dbs/{database.id}"
    body = {"id": unique("c"), "partitionKey": {"paths": ["/pk"]}}
    for value in ("-5", "lots", "1e9"):
        r = rest.request("POST", f"/{link}/colls", "colls", link, body=body, headers={"x-ms-offer-throughput": value})
        assert r.status_code == 400, value


def test_hostile_paths(rest):
    for path in ["/dbs/%", "/dbs/%FF%FE", "/dbs/a/colls/b/docs/c/d/e", "/" + "a/" * 500,
                 "/dbs/" + "x" * 5000, "/dbs//colls"]:
        r = rest.request("GET", path, "dbs", path.strip("/"))
        assert 400 <= r.status_code < 500, (path[:40], r.status_code)


def test_deep_and_wide_documents(container):
    deep = {"id": "deep", "pk": "p"}
    node = deep
    for _ in range(200):
        node["n"] = {}
        node = node["n"]
    with pytest.raises(Exception):
        container.create_item(deep)
    wide = {"id": "wide", "pk": "p", **{f"k{i}": i for i in range(20000)}}
    assert container.create_item(wide)["k19999"] == 19999


def query(rest, link, text):
    return rest.request("POST", f"/{link}/docs", "docs", link, body={"query": text, "parameters": []},
                        headers={"content-type": "application/query+json", "x-ms-documentdb-isquery": "True",
                                 "x-ms-documentdb-partitionkey": '["p"]'})


def test_query_limits(seeded, rest):
    container, link = seeded
    huge = "SELECT * FROM c WHERE " + " OR ".join(["c.v = 1"] * 80_000)
    r = query(rest, link, huge)
    assert r.status_code == 413 and "limit is 524288 bytes" in r.json()["message"]
    joins = " ".join(f"JOIN t{i} IN c.tags" for i in range(11))
    r = query(rest, link, f"SELECT c.id FROM c {joins}")
    assert r.status_code == 400 and "at most 10" in r.json()["message"]
    ten = " ".join(f"JOIN t{i} IN c.tags" for i in range(10))
    assert query(rest, link, f"SELECT c.id FROM c {ten}").status_code == 200
    assert_intact(container)


def test_long_and_deep_expressions(seeded, rest):
    container, link = seeded
    # read_items sends disjunctions of up to a thousand terms; they are served.
    terms = " OR ".join(f"(c.id = 'k{i}' AND c.pk = 'p')" for i in range(999)) + " OR c.id = 'keep'"
    r = query(rest, link, f"SELECT * FROM c WHERE {terms}")
    assert r.status_code == 200 and [d["id"] for d in r.json()["Documents"]] == ["keep"], r.text
    # Chains and nestings of every kind, just past what the server accepts:
    # each is refused with 400 rather than overflowing a request thread.
    deep = [
        "SELECT VALUE 1" + " + 1" * 3000,
        "SELECT VALUE c" + ".a" * 3000,
        "SELECT VALUE c" + "[0]" * 3000,
        "SELECT * FROM c WHERE " + "c.v = 1 ?? " * 200 + "true",
        "SELECT * FROM c WHERE " + "NOT " * 3000 + "true",
        "SELECT * FROM c WHERE " + "(" * 3000 + "true" + ")" * 3000,
        "SELECT VALUE " + "ABS(" * 3000 + "1" + ")" * 3000,
        "SELECT * FROM c WHERE EXISTS(" * 100 + "SELECT VALUE 1" + ")" * 100,
    ]
    for text in deep:
        r = query(rest, link, text)
        assert r.status_code == 400, (text[:40], r.status_code, r.text[:200])
    # The deepest accepted tree, in the filter and the projection.
    r = query(rest, link, "SELECT VALUE 1" + " + 1" * 120)
    assert r.status_code == 200 and r.json()["Documents"] == [121], r.text[:200]
    r = query(rest, link, "SELECT * FROM c WHERE c.v" + " + 0" * 120 + " = 1")
    assert r.status_code == 200 and len(r.json()["Documents"]) == 1, r.text[:200]
    assert_intact(container)


def test_too_many_headers_are_refused(rest):
    headers = {f"x-junk-{i}": "y" for i in range(150)}
    r = rest.request("GET", "/dbs", "dbs", "", headers=headers)
    assert r.status_code == 431


def test_server_still_serves(client):
    db = client.create_database(unique("alive"))
    client.delete_database(db.id)
