"""Faults at the edges: clients that trickle their bodies, bodies over the
size limit on HTTPS, and a damaged certificate file."""
import signal
import socket
import ssl
import time
import urllib.parse

import pytest
from azure.cosmos import CosmosClient, PartitionKey, exceptions

from conftest import KEY, unique
from disks import fill, grow, tmpfs
from rest import RestClient, sign
from server import Server


def test_a_body_over_the_limit_gets_413_with_its_size(container):
    big = {"id": "big", "pk": "p", "blob": "x" * (2 * 1024 * 1024 + 500_000)}
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        container.create_item(big)
    assert err.value.status_code == 413
    assert "request body is" in err.value.message and "2097152" in err.value.message
    # The connection (and the server) carry on.
    container.create_item({"id": "small", "pk": "p"})


def slow_post(endpoint, link, date):
    """A signed POST whose body never arrives: 8 bytes of 1,000."""
    parsed = urllib.parse.urlparse(endpoint)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((parsed.hostname, parsed.port))
    tls = context.wrap_socket(raw, server_hostname=parsed.hostname)
    auth = sign(KEY, "POST", "docs", link, date)
    head = (f"POST /{link}/docs HTTP/1.1\r\nHost: {parsed.hostname}\r\n"
            f"x-ms-date: {date}\r\nx-ms-version: 2020-07-15\r\nauthorization: {auth}\r\n"
            "x-ms-documentdb-partitionkey: [\"p\"]\r\ncontent-type: application/json\r\n"
            "content-length: 1000\r\n\r\n{\"id\":\"s")
    tls.sendall(head.encode())
    return tls


def test_clients_trickling_bodies_do_not_starve_others(tmp_path):
    from email.utils import formatdate

    server = Server(str(tmp_path / "data"), extra_args=["--max-concurrent-requests", "20"]).start()
    slow = []
    try:
        client = CosmosClient(server.endpoint, KEY, connection_verify=False)
        c = client.create_database(unique("slow")).create_container("c", PartitionKey("/pk"))
        c.create_item({"id": "a", "pk": "p"})
        link = c.container_link.strip("/")
        date = formatdate(usegmt=True)
        slow = [slow_post(server.endpoint, link, date) for _ in range(100)]
        time.sleep(0.5)
        # Five times more stalled uploads than request slots: reads and
        # writes of other clients still go through at once.
        started = time.time()
        for i in range(20):
            assert c.read_item("a", partition_key="p")["id"] == "a"
            c.upsert_item({"id": f"w{i}", "pk": "p"})
        assert time.time() - started < 10
    finally:
        for s in slow:
            s.close()
        server.stop()


def test_a_damaged_certificate_is_named_with_the_fix(tmp_path):
    data_dir = tmp_path / "data"
    server = Server(str(data_dir)).start()
    server.stop()
    (data_dir / "cert.pem").write_text("")
    with pytest.raises(RuntimeError) as refused:
        Server(str(data_dir)).start()
    message = str(refused.value)
    assert "cert.pem" in message and "delete both" in message
    # Deleting both, as told, makes a new certificate.
    (data_dir / "cert.pem").unlink()
    (data_dir / "key.pem").unlink()
    Server(str(data_dir)).start().stop()


def test_server_files_are_replaced_whole(tmp_path):
    data_dir = tmp_path / "data"
    Server(str(data_dir)).start().stop()
    # No partial file is left behind, and the secrets are private.
    assert not list(data_dir.glob("*.new"))
    assert oct((data_dir / "key.pem").stat().st_mode & 0o777) == "0o600"
    assert oct((data_dir / "keys.json").stat().st_mode & 0o777) == "0o600"


@pytest.fixture()
def small_disk(tmp_path):
    """A 24 MiB tmpfs: a disk that fills up for real."""
    with tmpfs(tmp_path / "small", "24m") as mount_point:
        yield mount_point


def test_a_full_disk_refuses_writes_with_503_and_reads_go_on(small_disk):
    import requests

    server = Server(str(small_disk / "data")).start()
    try:
        client = CosmosClient(server.endpoint, KEY, connection_verify=False,
                              retry_total=0, retry_backoff_max=0)
        c = client.create_database("full").create_container("c", PartitionKey("/pk"))
        c.create_item({"id": "first", "pk": "p"})
        blob = "x" * 20000
        refused = None
        for i in range(5000):
            try:
                c.create_item({"id": str(i), "pk": str(i % 10), "b": blob})
            except exceptions.CosmosHttpResponseError as err:
                refused = err
                break
        assert refused is not None, "the disk never filled"
        assert refused.status_code == 503, refused.message
        assert "disk is full" in refused.message
        assert int(refused.response.headers["x-ms-retry-after-ms"]) > 0
        # The store says why it is degraded; reads go on.
        ready = requests.get(server.endpoint + "health/ready", verify=False, timeout=10)
        assert ready.status_code == 503 and "No space left" in ready.json()["checks"]["storage"]
        assert c.read_item("first", partition_key="p")["id"] == "first"
        # Space comes back: writes resume by themselves.
        grow(small_disk, "96m")
        c.create_item({"id": "after", "pk": "p"})
        assert c.read_item("after", partition_key="p")["id"] == "after"
    finally:
        server.kill()


def test_a_flush_that_finds_the_disk_full_recovers_once_space_returns(small_disk):
    """The background flush of the memtable into the data file hits ENOSPC:
    the store says so, writes are refused with 503 instead of hanging, and
    once space is freed the flush goes through by itself (the data file is
    reopened if the engine demands it), writes resume, shutdown completes,
    and a restart finds every acknowledged write."""
    import requests

    data_dir = str(small_disk / "data")
    server = Server(data_dir).start()
    ready = lambda: requests.get(server.endpoint + "health/ready", verify=False, timeout=10)
    try:
        client = CosmosClient(server.endpoint, KEY, connection_verify=False,
                              retry_total=0, retry_backoff_max=0)
        c = client.create_database("flush").create_container("c", PartitionKey("/pk"))
        acknowledged = set()
        blob = "y" * 2000
        for i in range(3000):
            c.create_item({"id": f"a{i}", "pk": str(i % 10), "b": blob})
            acknowledged.add(f"a{i}")
        filler = fill(small_disk)
        # The next flush (every 10 s) finds no room in the data file.
        deadline = time.time() + 30
        while time.time() < deadline:
            answer = ready()
            if answer.status_code == 503 and "flush" in answer.json()["checks"].get("storage", ""):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the failing flush was never reported: {ready().text}")
        refused = None
        for i in range(5000):
            try:
                c.create_item({"id": f"b{i}", "pk": "p", "b": blob})
                acknowledged.add(f"b{i}")
            except exceptions.CosmosHttpResponseError as err:
                refused = err
                break
        assert refused is not None and refused.status_code == 503, refused
        assert int(refused.response.headers["x-ms-retry-after-ms"]) > 0
        # Space comes back: the flush and writes resume by themselves.
        filler.unlink()
        grow(small_disk, "96m")
        deadline = time.time() + 30
        while True:
            try:
                c.create_item({"id": "after", "pk": "p"})
                acknowledged.add("after")
                break
            except exceptions.CosmosHttpResponseError as err:
                assert err.status_code == 503 and time.time() < deadline, err
                time.sleep(0.5)
        deadline = time.time() + 30
        while ready().status_code != 200:
            assert time.time() < deadline, \
                f"the store stays degraded: {ready().text}\n{server.errors()[-3000:]}"
            time.sleep(0.5)
        ids = {item["id"] for item in c.query_items("SELECT c.id FROM c",
                                                    enable_cross_partition_query=True)}
        assert acknowledged <= ids, sorted(acknowledged - ids)[:10]
        assert server.stop() == 0
        server = Server(data_dir).start()
        client = CosmosClient(server.endpoint, KEY, connection_verify=False)
        c = client.get_database_client("flush").get_container_client("c")
        ids = {item["id"] for item in c.query_items("SELECT c.id FROM c",
                                                    enable_cross_partition_query=True)}
        assert acknowledged <= ids, sorted(acknowledged - ids)[:10]
    finally:
        if server.process.poll() is None:
            server.kill()


def test_shutdown_completes_while_the_flush_cannot_write(small_disk):
    """SIGTERM while the disk is still full: the server exits promptly (the
    last flush fails, the log stays), and once space is back a start
    replays the log and finds every acknowledged write."""
    import requests

    data_dir = str(small_disk / "data")
    server = Server(data_dir).start()
    client = CosmosClient(server.endpoint, KEY, connection_verify=False,
                          retry_total=0, retry_backoff_max=0)
    c = client.create_database("stuck").create_container("c", PartitionKey("/pk"))
    acknowledged = set()
    for i in range(2000):
        c.create_item({"id": f"s{i}", "pk": str(i % 10), "b": "w" * 2000})
        acknowledged.add(f"s{i}")
    filler = fill(small_disk)
    deadline = time.time() + 30
    while "flush" not in requests.get(server.endpoint + "health/ready", verify=False,
                                      timeout=10).json().get("checks", {}).get("storage", ""):
        assert time.time() < deadline, "the failing flush was never reported"
        time.sleep(0.5)
    started = time.time()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=30)
    assert time.time() - started < 20
    filler.unlink()
    grow(small_disk, "96m")
    server = Server(data_dir).start()
    try:
        c = CosmosClient(server.endpoint, KEY, connection_verify=False) \
            .get_database_client("stuck").get_container_client("c")
        ids = {item["id"] for item in c.query_items("SELECT c.id FROM c",
                                                    enable_cross_partition_query=True)}
        assert acknowledged <= ids, sorted(acknowledged - ids)[:10]
    finally:
        server.stop()
