"""Gateways over one PostgreSQL agree with each other and survive faults:
optimistic concurrency and patches across gateways, a gateway killed under
load, and PostgreSQL itself crashing and coming back."""
import json
import threading
import time
import uuid

import pytest

DB = "clusterdb"


def make_container(rest, name):
    rest.request("POST", "/dbs", "dbs", "", body={"id": DB})
    body = {"id": name, "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}}
    r = rest.request("POST", f"/dbs/{DB}/colls", "colls", f"dbs/{DB}", body=body)
    assert r.status_code == 201, r.text
    return f"dbs/{DB}/colls/{name}"


def pk_header(pk):
    return {"x-ms-documentdb-partitionkey": json.dumps([pk])}


def create(rest, link, item):
    return rest.request("POST", f"/{link}/docs", "docs", link, body=item, headers=pk_header(item["pk"]))


def read(rest, link, item_id, pk):
    doc = f"{link}/docs/{item_id}"
    return rest.request("GET", f"/{doc}", "docs", doc, headers=pk_header(pk))


def test_a_write_through_one_gateway_is_read_through_every_other(cluster):
    first, *others = cluster.rests
    link = make_container(first, "seen")
    r = create(first, link, {"id": "a", "pk": "p", "v": 1})
    assert r.status_code == 201, r.text
    for rest in others:
        got = read(rest, link, "a", "p")
        assert got.status_code == 200 and got.json()["v"] == 1
        assert got.json()["_etag"] == r.json()["_etag"]
    # A continuation made by one gateway resumes on another.
    for n in range(5):
        assert create(first, link, {"id": f"q{n}", "pk": "p"}).status_code == 201
    query = {"query": "SELECT c.id FROM c ORDER BY c.id", "parameters": []}
    headers = {**pk_header("p"), "x-ms-documentdb-isquery": "true", "x-ms-max-item-count": "2",
               "content-type": "application/query+json"}
    ids, continuation, turn = [], None, 0
    while True:
        rest = cluster.rests[turn % len(cluster.rests)]
        turn += 1
        h = dict(headers)
        if continuation:
            h["x-ms-continuation"] = continuation
        page = rest.request("POST", f"/{link}/docs", "docs", link, raw_body=json.dumps(query), headers=h)
        assert page.status_code == 200, page.text
        ids += [d["id"] for d in page.json()["Documents"]]
        continuation = page.headers.get("x-ms-continuation")
        if not continuation:
            break
    assert ids == ["a", "q0", "q1", "q2", "q3", "q4"]
    assert turn >= 3
    # The change feed has one order whichever gateway reads it.
    feeds = []
    for rest in cluster.rests:
        r = rest.request("GET", f"/{link}/docs", "docs", link,
                         headers={"a-im": "Incremental feed", "x-ms-documentdb-partitionkeyrangeid": "0",
                                  "x-ms-max-item-count": "100"})
        assert r.status_code == 200, r.text
        feeds.append([(d["id"], d["_lsn"]) for d in r.json()["Documents"]])
    assert feeds[0] == feeds[1] == feeds[2]
    assert [i for i, _ in feeds[0]] == ["a", "q0", "q1", "q2", "q3", "q4"]


def test_etag_checks_and_patches_agree_across_gateways(cluster):
    """Clients on every gateway update a few items at once, by If-Match
    read-modify-write and by incr patches; each final value equals the
    number of updates the gateways acknowledged."""
    link = make_container(cluster.rests[0], "counters")
    items = ["x", "y", "z"]
    for item in items:
        assert create(cluster.rests[0], link, {"id": item, "pk": item, "rmw": 0, "incr": 0}).status_code == 201
    acked = {item: {"rmw": 0, "incr": 0} for item in items}
    lock = threading.Lock()
    failures = []

    def worker(rest, seed):
        for n in range(40):
            item = items[(seed + n) % len(items)]
            doc = f"{link}/docs/{item}"
            if n % 2:
                r = rest.request("PATCH", f"/{doc}", "docs", doc, headers=pk_header(item),
                                 body={"operations": [{"op": "incr", "path": "/incr", "value": 1}]})
                if r.status_code == 200:
                    with lock:
                        acked[item]["incr"] += 1
                elif r.status_code != 429:
                    failures.append((r.status_code, r.text))
                continue
            got = read(rest, link, item, item)
            if got.status_code != 200:
                failures.append((got.status_code, got.text))
                continue
            body = got.json()
            body["rmw"] += 1
            r = rest.request("PUT", f"/{doc}", "docs", doc, body=body,
                             headers={**pk_header(item), "if-match": body["_etag"]})
            if r.status_code == 200:
                with lock:
                    acked[item]["rmw"] += 1
            elif r.status_code not in (412, 429):
                failures.append((r.status_code, r.text))

    threads = [threading.Thread(target=worker, args=(rest, seed))
               for seed, rest in enumerate(cluster.rests * 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    for item in items:
        for rest in cluster.rests:
            body = read(rest, link, item, item).json()
            assert body["rmw"] == acked[item]["rmw"], (item, body, acked[item])
            assert body["incr"] == acked[item]["incr"], (item, body, acked[item])
    assert sum(a["rmw"] for a in acked.values()) > 0


def write_until(rest, link, prefix, stop, acked, errors):
    """Creates items until told to stop, recording those acknowledged and
    every answer that is neither a success nor a retryable refusal."""
    n = 0
    while not stop.is_set():
        n += 1
        item = {"id": f"{prefix}-{n}", "pk": f"p{n % 5}", "payload": "x" * 100}
        try:
            r = create(rest, link, item)
        except Exception as err:  # the gateway is gone, or the connection broke
            errors.append(("connection", str(err)[:200]))
            time.sleep(0.05)
            continue
        if r.status_code == 201:
            acked.append(item)
        elif r.status_code in (429, 503):
            assert "x-ms-retry-after-ms" in r.headers, r.headers
            errors.append((r.status_code, r.text[:200]))
            time.sleep(0.05)
        else:
            errors.append((r.status_code, r.text[:200]))


def test_a_gateway_killed_under_load_costs_the_others_nothing(cluster):
    link = make_container(cluster.rests[0], "killed")
    stop = threading.Event()
    acked = [[] for _ in cluster.rests]
    errors = [[] for _ in cluster.rests]
    threads = [threading.Thread(target=write_until, args=(rest, link, f"g{i}", stop, acked[i], errors[i]))
               for i, rest in enumerate(cluster.rests)]
    for t in threads:
        t.start()
    time.sleep(2)
    victim = cluster.gateways[0]
    victim.kill()
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join()
    # Clients of the other gateways saw nothing go wrong.
    assert errors[1] == [] and errors[2] == [], (errors[1][:3], errors[2][:3])
    assert len(acked[1]) > 10 and len(acked[2]) > 10
    survivor = cluster.rests[1]
    for written in acked:
        for item in written:
            assert read(survivor, link, item["id"], item["pk"]).status_code == 200, item
    # The killed gateway comes back on the same database and sees it all.
    victim.start()
    back = cluster.rests[0]
    for item in acked[2][-5:]:
        assert read(back, link, item["id"], item["pk"]).status_code == 200


def test_postgres_crash_gives_503_then_recovers_without_losing_a_write(cluster, postgres):
    link = make_container(cluster.rests[0], "pgcrash")
    stop = threading.Event()
    acked, errors = [], []
    writer = threading.Thread(target=write_until, args=(cluster.rests[1], link, "w", stop, acked, errors))
    writer.start()
    time.sleep(1.5)
    postgres.kill()
    time.sleep(3)
    during = len(acked)
    postgres.restart()
    deadline = time.time() + 30
    while time.time() < deadline and len(acked) <= during + 5:
        time.sleep(0.2)
    stop.set()
    writer.join()
    assert len(acked) > during + 5, "writes did not resume after PostgreSQL came back"
    statuses = {status for status, _ in errors}
    assert statuses and statuses <= {503, "connection"}, errors[:5]
    assert 503 in statuses
    # Readiness recovers by itself on every gateway (a probe goes out when
    # it is asked while degraded), and every acknowledged write is there.
    import requests
    deadline = time.time() + 15
    for gateway in cluster.gateways:
        while requests.get(gateway.endpoint + "health/ready", verify=False).status_code != 200:
            assert time.time() < deadline, f"{gateway.endpoint} stayed not ready"
            time.sleep(0.3)
    for item in acked:
        assert read(cluster.rests[2], link, item["id"], item["pk"]).status_code == 200, item


def test_keys_rotated_and_tokens_issued_on_one_gateway_hold_on_every_gateway(cluster):
    import subprocess
    import urllib.parse
    from server import BINARY
    from rest import RestClient

    first = cluster.gateways[0]

    def key_list(gateway):
        out = subprocess.run([BINARY, "keys", "list", "--data-dir", gateway.data_dir],
                             capture_output=True, text=True, check=True).stdout
        return dict(line.split() for line in out.splitlines())

    old = key_list(first)["secondary"]
    assert all(key_list(g)["secondary"] == old for g in cluster.gateways)
    subprocess.run([BINARY, "keys", "rotate", "secondary", "--data-dir", first.data_dir],
                   capture_output=True, text=True, check=True)
    new = key_list(first)["secondary"]
    assert new != old
    # Each gateway picks the change up within a few seconds.
    deadline = time.time() + 15
    for gateway in cluster.gateways:
        while RestClient(gateway.endpoint, new).request("GET", "/dbs", "dbs", "").status_code != 200:
            assert time.time() < deadline, f"{gateway.endpoint} did not take the rotated key"
            time.sleep(0.2)
        assert RestClient(gateway.endpoint, old).request("GET", "/dbs", "dbs", "").status_code == 401

    # A resource token one gateway hands out is honoured by the others.
    rest = cluster.rests[0]
    link = make_container(rest, "tokens")
    assert create(rest, link, {"id": "t", "pk": "p"}).status_code == 201
    user = f"dbs/{DB}/users/reader"
    assert rest.request("POST", f"/dbs/{DB}/users", "users", f"dbs/{DB}", body={"id": "reader"}).status_code == 201
    permission = rest.request("POST", f"/{user}/permissions", "permissions", user,
                              body={"id": "read", "permissionMode": "Read", "resource": link})
    assert permission.status_code == 201, permission.text
    token = permission.json()["_token"]
    doc = f"{link}/docs/t"
    for other in cluster.rests[1:]:
        r = other.request("GET", f"/{doc}", "docs", doc,
                          headers={**pk_header("p"), "authorization": urllib.parse.quote(token, safe="")})
        assert r.status_code == 200, r.text
