"""Failover: gateways over a PostgreSQL primary with a synchronous streaming
standby. The primary stops, the standby is promoted, and the gateways carry
on by themselves (503 with a retry hint meanwhile, never 500), with every
acknowledged write on the new primary."""
import subprocess
import threading
import time

import pytest

from conftest import HERE, Postgres
from server import Server
from test_cluster import make_container, read, write_until


@pytest.fixture()
def primary_and_standby(tmp_path):
    primary = Postgres(str(tmp_path / "primary"))
    standby_dir = str(tmp_path / "standby")
    port = subprocess.run(["bash", f"{HERE}/pg.sh", "standby", standby_dir, primary.folder],
                          check=True, capture_output=True, text=True).stdout.strip()
    # A commit returns only once the standby has it.
    subprocess.run(["psql", primary.url, "-qc", "ALTER SYSTEM SET synchronous_standby_names = 'standby'"],
                   check=True)
    subprocess.run(["psql", primary.url, "-qc", "SELECT pg_reload_conf()"], check=True)
    standby = Postgres.__new__(Postgres)
    standby.folder, standby.url = standby_dir, primary.url.rsplit(":", 1)[0] + f":{port}/postgres"
    yield primary, standby, port
    for server in (standby, primary):
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass


def test_promoting_the_standby_loses_no_acknowledged_write(primary_and_standby, tmp_path):
    primary, standby, standby_port = primary_and_standby
    database = primary.database()
    # Both servers in the URL; only the writable one is used.
    host, rest = database.split("@", 1)[1].split("/", 1)
    url = (f"postgres://cosmonaut@{host},127.0.0.1:{standby_port}/{rest}"
           "&target_session_attrs=read-write")
    deadline = time.time() + 10
    while subprocess.run(["psql", standby.url.replace("/postgres", "/" + rest.split("?")[0]),
                          "-qc", "SELECT 1"], capture_output=True).returncode != 0:
        assert time.time() < deadline, "the new database did not reach the standby"
        time.sleep(0.2)
    gateways = [Server(str(tmp_path / f"gw{i}"), extra_args=["--store", url, "--store-wait", "5s"]).start()
                for i in range(2)]
    try:
        from conftest import Cluster
        cluster = Cluster(gateways, url)
        link = make_container(cluster.rests[0], "failover")
        stop = threading.Event()
        acked = [[], []]
        errors = [[], []]
        writers = [threading.Thread(target=write_until, args=(rest, link, f"g{i}", stop, acked[i], errors[i]))
                   for i, rest in enumerate(cluster.rests)]
        for w in writers:
            w.start()
        time.sleep(2)
        primary.stop()
        time.sleep(1)
        before = sum(map(len, acked))
        subprocess.run(["bash", f"{HERE}/pg.sh", "promote", standby.folder], check=True)
        deadline = time.time() + 30
        while time.time() < deadline and sum(map(len, acked)) < before + 20:
            time.sleep(0.2)
        stop.set()
        for w in writers:
            w.join()
        assert sum(map(len, acked)) >= before + 20, "writes did not resume on the promoted standby"
        for seen in errors:
            assert {status for status, _ in seen} <= {503}, seen[:5]
        for written in acked:
            for item in written:
                assert read(cluster.rests[1], link, item["id"], item["pk"]).status_code == 200, item
    finally:
        for g in gateways:
            g.stop()
