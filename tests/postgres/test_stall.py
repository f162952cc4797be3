"""A PostgreSQL that stops answering (frozen, or cut off without the
connection closing) costs requests that need it a 503 after --store-timeout,
never a hang, and nothing else: health probes answer throughout, and the
gateway recovers by itself once PostgreSQL answers again."""
import os
import signal
import subprocess
import time

import requests

from conftest import KEY
from rest import RestClient
from server import Server
from test_cluster import create, make_container, read


def postgres_pids(postgres):
    cluster = open(os.path.join(postgres.folder, "cluster")).read().strip()
    postmaster = int(open(os.path.join(cluster, "data", "postmaster.pid")).readline())
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
    return [postmaster, *map(int, children)]


def metrics(gateway):
    text = requests.get(gateway.endpoint + "metrics", verify=False, timeout=5).text
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line.startswith("cosmonaut_storage_")}


def test_a_frozen_postgres_is_503_after_the_timeout_and_recovers(postgres, tmp_path):
    url = postgres.database()
    gateway = Server(str(tmp_path / "gw"), extra_args=["--store", url, "--store-timeout", "2s"]).start()
    try:
        rest = RestClient(gateway.endpoint, KEY)
        link = make_container(rest, "frozen")
        assert create(rest, link, {"id": "a", "pk": "p"}).status_code == 201
        before = metrics(gateway)
        assert before["cosmonaut_storage_connections_open"] >= 1
        assert before["cosmonaut_storage_connections_limit"] == 16
        assert before["cosmonaut_storage_degraded"] == 0
        pids = postgres_pids(postgres)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            started = time.time()
            r = read(rest, link, "a", "p")
            took = time.time() - started
            assert r.status_code == 503, r.text
            assert "x-ms-retry-after-ms" in r.headers
            assert took < 10, took
            started = time.time()
            live = requests.get(gateway.endpoint + "health/live", verify=False, timeout=5)
            assert live.status_code == 200 and time.time() - started < 1
            w = create(rest, link, {"id": "b", "pk": "p"})
            assert w.status_code == 503, w.text
            during = metrics(gateway)
            assert during["cosmonaut_storage_unreachable_total"] > before["cosmonaut_storage_unreachable_total"]
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        deadline = time.time() + 20
        while time.time() < deadline:
            r = create(rest, link, {"id": "c", "pk": "p"})
            if r.status_code == 201:
                break
            assert r.status_code == 503, r.text
            time.sleep(0.5)
        assert r.status_code == 201
        assert read(rest, link, "a", "p").status_code == 200
        assert read(rest, link, "c", "p").status_code == 200
        assert metrics(gateway)["cosmonaut_storage_degraded"] == 0
    finally:
        gateway.stop()
