"""`cosmonaut migrate` between a data dir and PostgreSQL, both ways: items
keep their etags and timestamps, scripts and keys come along, a non-empty
target is refused, and an interrupted copy resumes."""
import json
import signal
import subprocess
import time

from rest import RestClient
from server import BINARY, Server

OWN_KEY = "dGhpcyBpcyBhIHRlc3Qga2V5IGZvciB0aGUgbWlncmF0aW9uIHRlc3QgYW5kIG5vdGhpbmcgZWxzZS4uLi4u"
DB, COLL = "migrated", "items"
LINK = f"dbs/{DB}/colls/{COLL}"
SPROC = "function count() { getContext().getResponse().setBody(42); }"


def fill(endpoint, items):
    rest = RestClient(endpoint, OWN_KEY)
    assert rest.request("POST", "/dbs", "dbs", "", body={"id": DB}).status_code == 201
    body = {"id": COLL, "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}}
    assert rest.request("POST", f"/dbs/{DB}/colls", "colls", f"dbs/{DB}", body=body).status_code == 201
    assert rest.request("POST", f"/{LINK}/sprocs", "sprocs", LINK,
                        body={"id": "count", "body": SPROC}).status_code == 201
    written = {}
    for n in range(items):
        pk = f"p{n % 7}"
        r = rest.request("POST", f"/{LINK}/docs", "docs", LINK, body={"id": f"i{n}", "pk": pk, "n": n},
                         headers={"x-ms-documentdb-partitionkey": json.dumps([pk])})
        assert r.status_code == 201
        written[f"i{n}"] = r.json()
    return written


def check(endpoint, written):
    """Every item is there as written, under the account's own key."""
    rest = RestClient(endpoint, OWN_KEY)
    for item_id, body in written.items():
        doc = f"{LINK}/docs/{item_id}"
        r = rest.request("GET", f"/{doc}", "docs", doc,
                         headers={"x-ms-documentdb-partitionkey": json.dumps([body["pk"]])})
        assert r.status_code == 200, (item_id, r.text)
        got = r.json()
        for key in ("_etag", "_ts", "_rid", "n"):
            assert got[key] == body[key], (key, got, body)
    sproc = f"{LINK}/sprocs/count"
    r = rest.request("POST", f"/{sproc}", "sprocs", sproc, body=[],
                     headers={"x-ms-documentdb-partitionkey": '["p0"]'})
    assert r.status_code == 200 and r.json() == 42, r.text


def account_in_a_data_dir(tmp_path, items):
    """A data dir holding an account with its own key, and what was written."""
    origin = str(tmp_path / "origin")
    server = Server(origin, extra_args=["--key", OWN_KEY]).start()
    written = fill(server.endpoint, items)
    assert server.stop() == 0
    return origin, written


def migrate(source, target, *extra):
    return subprocess.run([BINARY, "migrate", "--from", source, "--to", target, *extra],
                          capture_output=True, text=True)


def test_an_account_moves_to_postgres_and_back(postgres, tmp_path):
    origin, written = account_in_a_data_dir(tmp_path, 60)
    url = postgres.database()
    done = migrate(origin, url)
    assert done.returncode == 0, done.stderr
    assert "verified" in done.stdout

    # A gateway with a fresh data dir serves it all, under the account's key.
    gateway = Server(str(tmp_path / "gateway"), extra_args=["--store", url]).start()
    try:
        check(gateway.endpoint, written)
    finally:
        gateway.stop()

    # Into a database that holds data: refused, and nothing changes.
    again = migrate(origin, url)
    assert again.returncode != 0 and "already holds data" in again.stderr

    back = str(tmp_path / "back")
    done = migrate(url, back)
    assert done.returncode == 0, done.stderr
    server = Server(back).start()
    try:
        check(server.endpoint, written)
    finally:
        server.stop()


def test_an_interrupted_copy_resumes(postgres, tmp_path):
    origin, written = account_in_a_data_dir(tmp_path, 150)
    url = postgres.database()
    # One key per transaction, killed part-way.
    copy = subprocess.Popen([BINARY, "migrate", "--from", origin, "--to", url, "--batch", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.7)
    copy.send_signal(signal.SIGKILL)
    copy.wait()
    done = migrate(origin, url)
    assert done.returncode == 0, done.stderr
    assert "verified" in done.stdout
    if copy.returncode == -signal.SIGKILL:
        assert "resuming" in done.stdout, done.stdout
    gateway = Server(str(tmp_path / "gateway"), extra_args=["--store", url]).start()
    try:
        check(gateway.endpoint, written)
    finally:
        gateway.stop()
