"""Durability: every acknowledged write survives kill -9 and restart, and
nothing unacknowledged is half there (batches are whole, indexes agree)."""
import os
import signal
import socket
import subprocess
import threading
import time

import requests
from azure.cosmos import CosmosClient

from conftest import KEY
from rest import RestClient
from server import BINARY, Server

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
                             body={"id": item_id, "pk": pk, "w": worker, "payload": "x" * 200},
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


def batch_writer(endpoint, cycle, acked, stop):
    """Writes pairs of items in transactional batches: after a crash each pair
    is there whole or not at all."""
    container = CosmosClient(endpoint, KEY, connection_verify=False, retry_total=0) \
        .get_database_client(DB).get_container_client(COLL)
    n = 0
    while not stop.is_set():
        n += 1
        pair = [f"b{cycle}-{n}-a", f"b{cycle}-{n}-b"]
        try:
            container.execute_item_batch(
                [("create", ({"id": i, "pk": "batch", "payload": "y" * 100},)) for i in pair],
                partition_key="batch")
            acked["pairs"].append(pair)
        except Exception:
            return


def test_acknowledged_writes_survive_kill_9(tmp_path):
    data_dir = str(tmp_path / "data")
    acked = {"items": [], "counters": {}, "pairs": []}
    server = Server(data_dir, partitions=4).start()
    setup(RestClient(server.endpoint, KEY))
    cycles = int(os.environ.get("COSMONAUT_CRASH_CYCLES", "8"))
    for cycle in range(cycles):
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(server.endpoint, w, cycle, acked, stop)) for w in range(5)]
        threads.append(threading.Thread(target=batch_writer, args=(server.endpoint, cycle, acked, stop)))
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
        # Nothing half-written: every stored item is whole...
        for doc in stored.values():
            assert "_etag" in doc and "pk" in doc
        # ...every batch is all there or not at all...
        for pair in acked["pairs"]:
            assert pair[0] in stored and pair[1] in stored, f"acknowledged batch {pair} lost"
        halves = {i[:-2] for i in stored if i.startswith("b")}
        for stem in halves:
            assert f"{stem}-a" in stored and f"{stem}-b" in stored, f"batch {stem} is half applied"
        # ...and the index agrees with the items.
        for w in (0, 3):
            # A query across partitions answers one physical partition per
            # page, as the service's gateway does: follow the continuations.
            indexed, token = set(), None
            while True:
                headers = {"content-type": "application/query+json", "x-ms-documentdb-isquery": "True",
                           "x-ms-documentdb-query-enablecrosspartition": "True", "x-ms-max-item-count": "-1"}
                if token:
                    headers["x-ms-continuation"] = token
                r = rest.request("POST", f"/{LINK}/docs", "docs", LINK,
                                 body={"query": f"SELECT VALUE c.id FROM c WHERE c.w = {w}", "parameters": []},
                                 headers=headers)
                assert r.status_code == 200, r.text
                indexed.update(r.json()["Documents"])
                token = r.headers.get("x-ms-continuation")
                if not token:
                    break
            scanned = {i for i, d in stored.items() if d.get("w") == w}
            assert indexed == scanned, f"index and items disagree for w={w}"
    assert len(acked["items"]) > 100, "the load was too light to mean anything"
    assert len(acked["pairs"]) > 10, "too few batches to mean anything"
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


def test_a_page_cache_smaller_than_the_data_loses_nothing(tmp_path):
    """--cache-mib bounds the memory for B-tree pages; with less than the
    data takes, everything still reads back after a restart."""
    data_dir = str(tmp_path / "data")
    small = ["--cache-mib", "16"]
    server = Server(data_dir, extra_args=small).start()
    rest = RestClient(server.endpoint, KEY)
    setup(rest)
    for i in range(300):
        r = rest.request("POST", f"/{LINK}/docs", "docs", LINK,
                         body={"id": str(i), "pk": f"p{i % 5}", "pad": f"{i}-" + "z" * 60_000},
                         headers={"x-ms-documentdb-partitionkey": f'["p{i % 5}"]'})
        assert r.status_code == 201
    assert server.stop() == 0
    server = Server(data_dir, extra_args=small).start()
    rest = RestClient(server.endpoint, KEY)
    r = rest.request("GET", f"/dbs/{DB}/colls/{COLL}", "colls", LINK)
    assert "documentsCount=300" in r.headers["x-ms-resource-usage"]
    for i in range(0, 300, 7):
        r = rest.request("GET", f"/{LINK}/docs/{i}", "docs", f"{LINK}/docs/{i}",
                         headers={"x-ms-documentdb-partitionkey": f'["p{i % 5}"]'})
        assert r.status_code == 200 and r.json()["pad"].startswith(f"{i}-")
    assert server.stop() == 0
    refused = Server(data_dir, extra_args=["--cache-mib", "1"])
    try:
        refused.start()
        raise AssertionError("a 1 MiB page cache was accepted")
    except RuntimeError as err:
        assert "--cache-mib" in str(err), str(err)


def test_a_damaged_data_file_is_refused_at_start(tmp_path):
    data_dir = str(tmp_path / "data")
    server = Server(data_dir).start()
    rest = RestClient(server.endpoint, KEY)
    setup(rest)
    for i in range(300):
        rest.request("POST", f"/{LINK}/docs", "docs", LINK, body={"id": str(i), "pk": "p", "pad": "y" * 500},
                     headers={"x-ms-documentdb-partitionkey": '["p"]'})
    assert server.stop() == 0
    path = tmp_path / "data" / "cosmonaut.redb"
    data = bytearray(path.read_bytes())
    for offset in range(8192, len(data), 4096):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    damaged = Server(data_dir)
    try:
        damaged.start()
        raise AssertionError("a damaged data file was served")
    except RuntimeError as err:
        message = str(err)
    assert "is damaged" in message and "cosmonaut restore" in message, message
    assert "panicked" not in message


def newest_log_records(data_dir):
    """The newest write-ahead log file and the (offset, length) of each of
    its records: a 16-byte file header, then records of a 16-byte header
    (body length first) and a body."""
    logs = [name for name in os.listdir(data_dir) if name.startswith("cosmonaut.redb-wal.")
            and name.rsplit(".", 1)[1].isdigit()]
    path = os.path.join(data_dir, max(logs, key=lambda n: int(n.rsplit(".", 1)[1])))
    data = open(path, "rb").read()
    assert data[:8] == b"CSMNWAL2"
    records, at = [], 16
    while at + 16 <= len(data):
        length = int.from_bytes(data[at:at + 4], "little")
        if at + 16 + length > len(data):
            break
        records.append((at, 16 + length))
        at += 16 + length
    return path, records


def test_a_damaged_last_log_record_is_refused_unless_dropped_on_purpose(tmp_path):
    """A whole record at the end of the log that fails its checksum held
    acknowledged writes: the server refuses to start and names it, instead
    of dropping them with a warning; --discard-damaged-log-tail drops it. A
    record cut short (a crash mid-append, never acknowledged) is just the
    end of the log."""
    data_dir = str(tmp_path / "data")
    server = Server(data_dir).start()
    rest = RestClient(server.endpoint, KEY)
    setup(rest)
    for i in range(20):
        rest.request("POST", f"/{LINK}/docs", "docs", LINK, body={"id": str(i), "pk": "p"},
                     headers={"x-ms-documentdb-partitionkey": '["p"]'})
    server.kill()
    path, records = newest_log_records(data_dir)
    last_at, last_len = records[-1]
    intact = open(path, "rb").read()
    damaged = bytearray(intact)
    damaged[last_at + last_len - 3] ^= 0x10
    open(path, "wb").write(bytes(damaged))
    refused = Server(data_dir)
    try:
        refused.start()
        raise AssertionError("a damaged log record was dropped silently")
    except RuntimeError as err:
        message = str(err)
    assert "--discard-damaged-log-tail" in message and f"byte {last_at}" in message, message
    # Dropped on purpose: the server starts without the last write.
    server = Server(data_dir, extra_args=["--discard-damaged-log-tail"]).start()
    rest = RestClient(server.endpoint, KEY)
    ids = {d["id"] for d in rest.request("GET", f"/{LINK}/docs", "docs", LINK).json()["Documents"]}
    assert ids == {str(i) for i in range(19)}, sorted(ids)
    rest.request("POST", f"/{LINK}/docs", "docs", LINK, body={"id": "cut", "pk": "p"},
                 headers={"x-ms-documentdb-partitionkey": '["p"]'})
    server.kill()
    # A record cut short is the end of the log: no flag needed. (Had it been
    # acknowledged, its sync would have made it whole.)
    path, records = newest_log_records(data_dir)
    at, length = records[-1]
    with open(path, "r+b") as log:
        log.truncate(at + length - 5)
    server = Server(data_dir).start()
    rest = RestClient(server.endpoint, KEY)
    ids = {d["id"] for d in rest.request("GET", f"/{LINK}/docs", "docs", LINK).json()["Documents"]}
    assert ids == {str(i) for i in range(19)}, sorted(ids)
    assert server.stop() == 0


def test_a_closed_stdout_does_not_stop_the_server(tmp_path):
    """Whoever starts the server may stop reading its output: the ready
    banner then fails to print, and the server must go on serving."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [BINARY, "serve", "--data-dir", str(tmp_path / "data"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    process.stdout.close()
    try:
        rest = RestClient(f"https://127.0.0.1:{port}/", KEY)
        deadline = time.time() + 30
        status = None
        while time.time() < deadline and process.poll() is None:
            try:
                status = rest.request("GET", "/dbs", "dbs", "").status_code
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert process.poll() is None, f"the server exited with {process.returncode}"
        assert status == 200
        # Still up after the banner had its chance to fail.
        time.sleep(0.5)
        assert rest.request("POST", "/dbs", "dbs", "", body={"id": DB}).status_code == 201
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
