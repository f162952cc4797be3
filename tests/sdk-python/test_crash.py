"""Durability: every acknowledged write survives kill -9 and restart."""
import threading
import time

from conftest import KEY
from rest import RestClient
from server import Server

DB, COLL = "crashdb", "items"
LINK = f"dbs/{DB}/colls/{COLL}"


def setup(rest):
    assert rest.request("POST", "/dbs", "dbs", "", body={"id": DB}).status_code == 201
    body = {"id": COLL, "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}}
    assert rest.request("POST", f"/dbs/{DB}/colls", "colls", f"dbs/{DB}", body=body).status_code == 201


def writer(endpoint, worker, cycle, acked, stop):
    """Creates items and replaces a per-worker counter until the server dies,
    recording only what the server acknowledged."""
    rest = RestClient(endpoint, KEY)
    n = 0
    while not stop.is_set():
        n += 1
        item_id = f"c{cycle}-w{worker}-{n}"
        pk = f"p{n % 7}"
        try:
            r = rest.request("POST", f"/{LINK}/docs", "docs", LINK,
                             body={"id": item_id, "pk": pk, "payload": "x" * 200},
                             headers={"x-ms-documentdb-partitionkey": f'["{pk}"]'})
            if r.status_code == 201:
                acked["items"].append((item_id, pk))
            counter = {"id": f"counter-w{worker}", "pk": "counters", "value": n, "cycle": cycle}
            r = rest.request("POST", f"/{LINK}/docs", "docs", LINK, body=counter,
                             headers={"x-ms-documentdb-partitionkey": '["counters"]',
                                      "x-ms-documentdb-is-upsert": "True"})
            if r.status_code in (200, 201):
                acked["counters"][worker] = (cycle, n)
        except Exception:
            return


def test_acknowledged_writes_survive_kill_9(tmp_path):
    data_dir = str(tmp_path / "data")
    acked = {"items": [], "counters": {}}
    server = Server(data_dir, partitions=4).start()
    setup(RestClient(server.endpoint, KEY))
    for cycle in range(3):
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(server.endpoint, w, cycle, acked, stop)) for w in range(6)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        server.kill()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        server = Server(data_dir, partitions=4).start()
        rest = RestClient(server.endpoint, KEY)
        stored = {}
        token = None
        while True:
            headers = {"x-ms-max-item-count": "1000"}
            if token:
                headers["x-ms-continuation"] = token
            r = rest.request("GET", f"/{LINK}/docs", "docs", LINK, headers=headers)
            assert r.status_code == 200
            for doc in r.json()["Documents"]:
                stored[doc["id"]] = doc
            token = r.headers.get("x-ms-continuation")
            if not token:
                break
        missing = [i for i, _ in acked["items"] if i not in stored]
        assert not missing, f"cycle {cycle}: {len(missing)} acknowledged items lost"
        for worker, (c, n) in acked["counters"].items():
            doc = stored[f"counter-w{worker}"]
            assert (doc["cycle"], doc["value"]) >= (c, n), "an acknowledged replace was lost"
        # Nothing half-written: every stored item is whole.
        for doc in stored.values():
            assert "_etag" in doc and "pk" in doc
    assert len(acked["items"]) > 100, "the load was too light to mean anything"
    assert server.stop() == 0


def test_graceful_shutdown_keeps_everything_and_exits_zero(tmp_path):
    data_dir = str(tmp_path / "data")
    server = Server(data_dir).start()
    rest = RestClient(server.endpoint, KEY)
    setup(rest)
    for i in range(50):
        r = rest.request("POST", f"/{LINK}/docs", "docs", LINK, body={"id": str(i), "pk": "p"},
                         headers={"x-ms-documentdb-partitionkey": '["p"]'})
        assert r.status_code == 201
    assert server.stop() == 0
    server = Server(data_dir).start()
    rest = RestClient(server.endpoint, KEY)
    r = rest.request("GET", f"/{LINK}/docs", "docs", LINK, headers={"x-ms-max-item-count": "-1"})
    assert r.json()["_count"] == 50
    r = rest.request("GET", f"/dbs/{DB}/colls/{COLL}", "colls", LINK)
    assert r.status_code == 200
    assert "documentsCount=50" in r.headers["x-ms-resource-usage"]
    assert server.stop() == 0
