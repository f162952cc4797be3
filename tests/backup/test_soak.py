"""A bounded soak: writers run for a few minutes while the server is killed
with SIGKILL, its disk fills up and empties, and its backup target (a real
Azurite) goes away and comes back. At the end every write the server
acknowledged is in the data dir and in a restore from the backup.

COSMONAUT_SOAK_SECONDS sets how long the faults go on (default 150)."""
import os
import random
import subprocess
import threading
import time

import pytest
import requests
from azure.cosmos import CosmosClient, PartitionKey

from conftest import HERE, azure_target, free_port, stop, wait_for_port
from disks import fill, tmpfs
from server import BINARY, Server

KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
SECONDS = float(os.environ.get("COSMONAUT_SOAK_SECONDS", "150"))


class Azurite:
    """An Azurite of the test's own, on a fixed port and folder, so that it
    can be stopped and started again with its blobs kept."""

    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.process = None

    def start(self):
        binary = os.path.join(HERE, "node_modules", ".bin", "azurite-blob")
        self.process = subprocess.Popen(
            [binary, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location",
             str(self.workdir), "--skipApiVersionCheck", "--silent"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, "azurite")

    def stop(self):
        stop(self.process)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


class Writers:
    """Threads that create items as fast as the server takes them and
    record each one it acknowledged; refusals and dropped connections
    while the server is down or its disk is full are expected."""

    def __init__(self, threads=3):
        self.acked = set()
        self.lock = threading.Lock()
        self.endpoint = None
        self.stopping = threading.Event()
        self.pool = [threading.Thread(target=self.run, args=(w,)) for w in range(threads)]

    def run(self, w):
        n = 0
        container, seen = None, None
        while not self.stopping.is_set():
            endpoint = self.endpoint
            if endpoint is None:
                time.sleep(0.1)
                continue
            if endpoint != seen:
                client = CosmosClient(endpoint, KEY, connection_verify=False,
                                      retry_total=0, connection_timeout=5)
                container = client.get_database_client("soak").get_container_client("items")
                seen = endpoint
            n += 1
            item = {"id": f"w{w}-{n}", "pk": f"p{n % 7}", "payload": "z" * 400}
            try:
                container.create_item(item)
            except Exception:
                time.sleep(0.05)
                continue
            with self.lock:
                self.acked.add(item["id"])

    def start(self):
        for t in self.pool:
            t.start()

    def finish(self):
        self.stopping.set()
        for t in self.pool:
            t.join(timeout=60)


def ids_of(endpoint):
    client = CosmosClient(endpoint, KEY, connection_verify=False)
    container = client.get_database_client("soak").get_container_client("items")
    return {d for d in container.query_items("SELECT VALUE c.id FROM c",
                                            enable_cross_partition_query=True)}


@pytest.fixture
def small_disk(tmp_path):
    with tmpfs(tmp_path / "disk", "320m") as mount_point:
        yield mount_point


def test_soak_kill_9_full_disk_and_backup_outages_lose_nothing(tmp_path, small_disk):
    azurite = Azurite(tmp_path / "azurite")
    azurite.start()
    target_url, env = azure_target(azurite.url)
    data_dir = str(small_disk / "data")
    args = ["--backup", target_url, "--lease-ttl", "3s", "--backup-interval", "500ms",
            "--snapshot-interval", "20s"]

    def start_server():
        return Server(data_dir, partitions=2, extra_args=args, env=env).start()

    server = start_server()
    CosmosClient(server.endpoint, KEY, connection_verify=False).create_database("soak") \
        .create_container("items", PartitionKey("/pk"))
    writers = Writers()
    writers.endpoint = server.endpoint
    writers.start()
    rng = random.Random(7)
    faults = {"kill": 0, "disk": 0, "backup": 0}
    # Each round of three brings every fault once, in a random order.
    order = []
    try:
        deadline = time.time() + SECONDS
        while time.time() < deadline:
            time.sleep(rng.uniform(3, 8))
            if not order:
                order = sorted(faults)
                rng.shuffle(order)
            fault = order.pop()
            faults[fault] += 1
            if fault == "kill":
                writers.endpoint = None
                server.kill()
                server = start_server()
                writers.endpoint = server.endpoint
            elif fault == "disk":
                filler = fill(small_disk)
                time.sleep(rng.uniform(2, 5))
                filler.unlink()
            else:
                azurite.stop()
                time.sleep(rng.uniform(2, 6))
                azurite.start()
        writers.finish()
        # Once the disk has room, everything settles: the store is ready.
        deadline = time.time() + 60
        while requests.get(server.endpoint + "health/ready", verify=False).status_code != 200:
            assert time.time() < deadline, (
                requests.get(server.endpoint + "health/ready", verify=False).text,
                subprocess.run(["du", "-a", str(small_disk)], capture_output=True,
                               text=True).stdout)
            time.sleep(0.5)
        assert len(writers.acked) > 100, faults
        local = ids_of(server.endpoint)
        assert writers.acked <= local, sorted(writers.acked - local)[:10]
        assert server.stop() == 0
        restored_dir = tmp_path / "restored"
        restored = subprocess.run([BINARY, "restore", "--from", target_url, "--data-dir",
                                   str(restored_dir)], capture_output=True, text=True, timeout=300,
                                  env=dict(os.environ, **env))
        assert restored.returncode == 0, restored.stderr
        check = Server(str(restored_dir), partitions=2).start()
        try:
            from_backup = ids_of(check.endpoint)
        finally:
            check.stop()
        assert writers.acked <= from_backup, sorted(writers.acked - from_backup)[:10]
        print(f"soak: {len(writers.acked)} acknowledged writes, faults {faults}")
    finally:
        writers.finish()
        if server.process.poll() is None:
            server.kill()
        azurite.stop()
