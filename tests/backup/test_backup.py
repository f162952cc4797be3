"""Continuous backup against real targets: a folder, Azurite and moto's S3.

Each test runs real `cosmonaut serve` processes with --backup, drives them
with the Python SDK, and restores into empty data dirs."""
import datetime
import os
import random
import subprocess
import threading
import time

import pytest
import requests
from azure.cosmos import CosmosClient, PartitionKey

from server import BINARY, Server

KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
SYSTEM = ("_rid", "_self", "_etag", "_ts", "_attachments")


def backup_server(data_dir, target, *extra, partitions=1, lease_ttl="3s"):
    url, env = target
    args = ["--backup", url, "--lease-ttl", lease_ttl, *extra]
    return Server(str(data_dir), partitions=partitions, extra_args=args, env=env)


def cosmos(server):
    return CosmosClient(server.endpoint, KEY, connection_verify=False)


def container_of(server, db="shop", coll="orders"):
    return cosmos(server).get_database_client(db).get_container_client(coll)


def create_container(server, **options):
    db = cosmos(server).create_database("shop")
    return db.create_container("orders", PartitionKey("/pk"), **options)


def dump(container):
    """Every item, with its system properties: a restore must bring back the same etags and times."""
    return {d["id"]: d for d in container.query_items("SELECT * FROM c", enable_cross_partition_query=True)}


def cli(*args, env=None):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))


def write_load(container, seconds, prefix, acked, threads=4):
    """Creates, replaces and deletes items from several threads, recording
    (acknowledgement time, id) for every create the server acknowledged and
    kept (deleted ones are left out)."""
    stop = threading.Event()
    lock = threading.Lock()

    def worker(w):
        n = 0
        while not stop.is_set():
            n += 1
            item = {"id": f"{prefix}-{w}-{n}", "pk": f"p{n % 5}", "n": n, "payload": "x" * 300}
            try:
                container.create_item(item)
                if n % 7 == 0:
                    container.delete_item(item["id"], partition_key=item["pk"])
                    continue
                with lock:
                    acked.append((time.time(), item["id"]))
                if n % 4 == 0:
                    container.upsert_item(dict(item, n=-n))
            except Exception:
                return

    pool = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    time.sleep(seconds)
    return stop, pool


def finish(stop, pool):
    stop.set()
    for t in pool:
        t.join(timeout=60)


def test_restore_on_start_brings_back_every_item_and_setting(tmp_path, target):
    source = backup_server(tmp_path / "a", target, partitions=4).start()
    assert any("No backup" in line for line in source.output)
    policy = {"indexingMode": "consistent", "includedPaths": [{"path": "/*"}],
              "excludedPaths": [{"path": "/payload/?"}, {"path": '/"_etag"/?'}]}
    container = create_container(source, indexing_policy=policy, offer_throughput=800)
    acked = []
    finish(*write_load(container, 2.0, "load", acked))
    before = dump(container)
    assert len(before) > 50
    settings = container.read()
    assert source.stop() == 0

    restored = backup_server(tmp_path / "b", target, partitions=4).start()
    assert any("Restored from" in line for line in restored.output), restored.output
    again = container_of(restored)
    assert dump(again) == before
    assert again.read()["indexingPolicy"] == settings["indexingPolicy"]
    assert again.get_throughput().offer_throughput == 800
    # The index came back too: an indexed query finds what a scan finds.
    some = next(iter(before.values()))
    hits = list(again.query_items("SELECT VALUE c.id FROM c WHERE c.n = @n",
                                  parameters=[{"name": "@n", "value": some["n"]}],
                                  enable_cross_partition_query=True))
    assert some["id"] in hits
    again.create_item({"id": "after-restore", "pk": "p0"})
    assert restored.stop() == 0


def test_kill_9_loses_at_most_about_one_shipping_interval(tmp_path, target):
    source = backup_server(tmp_path / "a", target, "--backup-interval", "1s", lease_ttl="2s").start()
    container = create_container(source)
    acked = []
    # A random phase against the one-second shipping tick.
    stop, pool = write_load(container, 3.0 + random.random(), "k", acked)
    killed_at = time.time()
    source.kill()
    finish(stop, pool)
    time.sleep(2.5)  # the dead writer's lease expires

    restored = backup_server(tmp_path / "b", target, lease_ttl="2s").start()
    stored = dump(container_of(restored))
    lost = [(t, i) for t, i in acked if i not in stored]
    window = killed_at - min(t for t, _ in lost) if lost else 0.0
    print(f"\n{target[0].split(':')[0]}: {len(acked)} acknowledged creates, {len(lost)} lost "
          f"in the last {window:.2f} s before kill -9")
    old = [i for t, i in lost if t < killed_at - 3.0]
    assert not old, f"{len(old)} writes acknowledged more than 3 s before the kill were lost"
    assert all("payload" in doc for doc in stored.values())
    assert len(acked) > 50
    assert restored.stop() == 0


def test_point_in_time_restore_between_two_writes(tmp_path, target):
    url, env = target
    source = backup_server(tmp_path / "a", target).start()
    container = create_container(source)
    for i in range(20):
        container.create_item({"id": str(i), "pk": "p", "version": 1})
    time.sleep(1.2)
    between = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.2)
    for i in range(20):
        container.upsert_item({"id": str(i), "pk": "p", "version": 2})
    container.create_item({"id": "later", "pk": "p", "version": 2})
    container.delete_item("0", partition_key="p")
    assert source.stop() == 0

    listing = cli("backup", "list", "--from", url, env=env)
    assert listing.returncode == 0, listing.stderr
    assert "generation 1" in listing.stdout and "snapshot at" in listing.stdout

    restored_dir = tmp_path / "pitr"
    stamp = between.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    result = cli("restore", "--from", url, "--to-time", stamp, "--data-dir", str(restored_dir), env=env)
    assert result.returncode == 0, result.stderr
    server = Server(str(restored_dir)).start()
    items = dump(container_of(server))
    assert sorted(items) == sorted(str(i) for i in range(20))
    assert {d["version"] for d in items.values()} == {1}
    assert server.stop() == 0

    latest_dir = tmp_path / "latest"
    assert cli("restore", "--from", url, "--data-dir", str(latest_dir), env=env).returncode == 0
    server = Server(str(latest_dir)).start()
    items = dump(container_of(server))
    assert "later" in items and "0" not in items
    assert {d["version"] for d in items.values()} == {2}
    assert server.stop() == 0


def test_a_second_instance_refuses_to_become_writer(tmp_path, target):
    first = backup_server(tmp_path / "a", target).start()
    create_container(first).create_item({"id": "x", "pk": "p"})
    second = backup_server(tmp_path / "b", target)
    with pytest.raises(RuntimeError) as refused:
        second.start()
    message = str(refused.value)
    assert "held by another writer" in message
    assert f"pid {first.process.pid}" in message
    assert first.stop() == 0
    # Released at shutdown: the next writer starts at once and restores.
    second = backup_server(tmp_path / "c", target).start()
    assert "x" in dump(container_of(second))
    assert second.stop() == 0


def test_a_restart_on_the_same_data_dir_takes_its_lease_back_at_once(tmp_path, folder_target):
    server = backup_server(tmp_path / "a", folder_target, lease_ttl="60s").start()
    create_container(server).create_item({"id": "x", "pk": "p"})
    server.kill()
    server = backup_server(tmp_path / "a", folder_target, lease_ttl="60s").start()
    assert "x" in dump(container_of(server))
    assert server.stop() == 0


def test_a_replacement_with_the_same_instance_id_takes_the_lease_at_once(tmp_path, folder_target):
    # A Kubernetes pod replaced on a fresh volume keeps its name: with
    # --instance-id set to it, the new pod need not wait for the lease to expire.
    server = backup_server(tmp_path / "a", folder_target, "--instance-id", "cosmonaut-0",
                           lease_ttl="60s").start()
    create_container(server).create_item({"id": "x", "pk": "p"})
    time.sleep(2)  # shipped (the interval is 1 s)
    server.kill()
    started = time.time()
    server = backup_server(tmp_path / "fresh", folder_target, "--instance-id", "cosmonaut-0",
                           lease_ttl="60s").start()
    assert time.time() - started < 30
    assert "x" in dump(container_of(server))
    assert server.stop() == 0
    # Another identity still has to wait for a lease that was not released.
    other = backup_server(tmp_path / "other", folder_target, "--instance-id", "cosmonaut-1",
                          lease_ttl="60s")
    holder = backup_server(tmp_path / "fresh", folder_target, "--instance-id", "cosmonaut-0",
                           lease_ttl="60s").start()
    holder.kill()
    with pytest.raises(RuntimeError) as refused:
        other.start()
    assert "held by another writer" in str(refused.value)


def test_a_new_volume_at_the_same_path_takes_the_lease_at_once(tmp_path, folder_target):
    # Without --instance-id the identity is the host name and the data dir's
    # path: a pod replaced on a new, empty volume mounted where the old one was.
    import shutil

    server = backup_server(tmp_path / "a", folder_target, lease_ttl="60s").start()
    create_container(server).create_item({"id": "x", "pk": "p"})
    time.sleep(2)  # shipped (the interval is 1 s)
    server.kill()
    shutil.rmtree(tmp_path / "a")
    server = backup_server(tmp_path / "a", folder_target, lease_ttl="60s").start()
    assert "x" in dump(container_of(server))
    assert server.stop() == 0


def test_a_gap_in_the_backup_log_is_shown_and_refused(tmp_path, folder_target):
    url, _ = folder_target
    server = backup_server(tmp_path / "a", folder_target, "--backup-interval", "1s").start()
    container = create_container(server)
    for wave in range(4):
        for i in range(5):
            container.create_item({"id": f"{wave}-{i}", "pk": "p"})
        time.sleep(1.5)  # each wave ships as its own segment
    assert server.stop() == 0
    segments = sorted((tmp_path / "backup" / "segments").iterdir())  # zero-padded: commit order
    assert len(segments) >= 3
    lost = segments[1]
    lost.unlink()

    listed = cli("backup", "list", "--from", url)
    assert listed.returncode == 0 and "MISSING: commits" in listed.stdout, listed.stdout
    # A restore that cannot reach the newest state fails, leaves nothing and names the point.
    result = cli("restore", "--from", url, "--data-dir", str(tmp_path / "r"))
    assert result.returncode != 0
    assert "missing segments after commit" in result.stderr and "--allow-partial-restore" in result.stderr
    assert not (tmp_path / "r" / "cosmonaut.redb").exists()
    # So does the restore on start: the server does not start on a cut-down state.
    with pytest.raises(RuntimeError) as refused:
        backup_server(tmp_path / "s", folder_target).start()
    assert "missing segments after commit" in str(refused.value)
    # Told to accept it, the restore stops before the gap.
    result = cli("restore", "--from", url, "--data-dir", str(tmp_path / "r"), "--allow-partial-restore")
    assert result.returncode == 0, result.stderr
    assert "warning: the log is missing segments" in result.stdout


def test_the_shipper_notices_a_lost_segment_and_covers_it(tmp_path, folder_target):
    url, _ = folder_target
    server = backup_server(tmp_path / "a", folder_target, "--backup-interval", "1s",
                           "--backup-verify-interval", "1s").start()
    container = create_container(server)
    for wave in range(3):
        for i in range(5):
            container.create_item({"id": f"{wave}-{i}", "pk": "p"})
        time.sleep(1.5)
    segments = sorted((tmp_path / "backup" / "segments").iterdir())
    assert len(segments) >= 2
    segments[0].unlink()  # the target loses a shipped segment
    snapshots_before = len(list((tmp_path / "backup" / "snapshots").iterdir()))
    deadline = time.time() + 15
    lost = 0
    while time.time() < deadline and not lost:
        time.sleep(0.5)
        metrics = requests.get(server.endpoint + "metrics", verify=False).text
        lost = sum(float(line.split()[1]) for line in metrics.splitlines()
                   if line.startswith("cosmonaut_backup_segments_lost_total"))
    assert lost >= 1
    # A snapshot taken since covers what the lost segment held.
    assert len(list((tmp_path / "backup" / "snapshots").iterdir())) > snapshots_before
    assert server.stop() == 0
    result = cli("restore", "--from", url, "--data-dir", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    restored = backup_server(tmp_path / "r", folder_target).start()
    assert len(dump(container_of(restored))) == 15
    assert restored.stop() == 0


def test_chunks_the_target_lost_are_uploaded_again(tmp_path, folder_target):
    """A target that drops objects it had accepted (a store that restarted)
    must not leave the newest snapshot naming chunks it no longer holds:
    they are found missing and uploaded again, at the latest at shutdown."""
    url, _ = folder_target
    server = backup_server(tmp_path / "a", folder_target, "--backup-interval", "1s").start()
    container = create_container(server)
    for i in range(20):
        container.create_item({"id": f"i{i}", "pk": "p", "payload": "x" * 200})
    time.sleep(1.5)
    chunks = tmp_path / "backup" / "chunks"
    for chunk in chunks.iterdir():
        chunk.unlink()  # the target loses every chunk of the base snapshot
    container.create_item({"id": "last", "pk": "p"})
    assert server.stop() == 0
    assert any(chunks.iterdir())
    result = cli("restore", "--from", url, "--data-dir", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    restored = backup_server(tmp_path / "r", folder_target).start()
    assert len(dump(container_of(restored))) == 21
    assert restored.stop() == 0


def test_a_missing_bucket_or_container_is_named_in_one_line(tmp_path, azurite, moto):
    env = {"AZURE_STORAGE_USE_EMULATOR": "true", "AZURITE_BLOB_STORAGE_URL": azurite}
    result = cli("backup", "list", "--from", "az://no-such-container/x", env=env)
    assert result.returncode != 0
    assert "the Azure Blob container 'no-such-container' does not exist" in result.stderr
    assert "<Error>" not in result.stderr and "az storage container create" in result.stderr
    # A writer with the account's shared key creates the container, and backs up into it.
    url = "az://made-by-cosmonaut/backups"
    server = backup_server(tmp_path / "a", (url, env)).start()
    create_container(server).create_item({"id": "x", "pk": "p"})
    assert server.stop() == 0
    restored = backup_server(tmp_path / "b", (url, env)).start()
    assert "x" in dump(container_of(restored))
    assert restored.stop() == 0
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT": moto, "AWS_ALLOW_HTTP": "true"}
    refused = Server(str(tmp_path / "s"), extra_args=["--backup", "s3://no-such-bucket/x"], env=env)
    with pytest.raises(RuntimeError) as err:
        refused.start()
    assert "the S3 bucket 'no-such-bucket' does not exist" in str(err.value)
    assert "<Error>" not in str(err.value)


def test_corrupt_backup_objects_are_refused(tmp_path, folder_target):
    url, _ = folder_target
    server = backup_server(tmp_path / "a", folder_target).start()
    container = create_container(server)
    for i in range(10):
        container.create_item({"id": str(i), "pk": "p"})
    assert server.stop() == 0
    segments = tmp_path / "backup" / "segments"
    victim = sorted(segments.iterdir())[-1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x20
    victim.write_bytes(bytes(data))

    result = cli("restore", "--from", url, "--data-dir", str(tmp_path / "r"))
    assert result.returncode != 0
    assert "corrupt backup object segments/" in result.stderr and "checksum" in result.stderr
    assert not (tmp_path / "r" / "cosmonaut.redb").exists()
    refused = backup_server(tmp_path / "s", folder_target)
    with pytest.raises(RuntimeError) as err:
        refused.start()
    assert "corrupt backup object" in str(err.value)


def test_skip_restore_starts_empty_and_metrics_show_progress(tmp_path, folder_target):
    server = backup_server(tmp_path / "a", folder_target).start()
    container = create_container(server)
    for i in range(5):
        container.create_item({"id": str(i), "pk": "p"})
    time.sleep(1.5)
    metrics = requests.get(server.endpoint + "metrics", verify=False).text
    values = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
              if line and not line.startswith("#")}
    assert values["cosmonaut_backup_last_shipped_sequence"] >= 6
    assert values["cosmonaut_backup_snapshots_total"] >= 1
    assert values["cosmonaut_backup_lease_epoch"] == 1
    assert values["cosmonaut_backup_failures_total"] == 0
    assert values["cosmonaut_backup_lag_milliseconds"] < 5000
    assert server.stop() == 0

    fresh = backup_server(tmp_path / "b", folder_target, "--skip-restore").start()
    assert list(cosmos(fresh).list_databases()) == []
    assert fresh.stop() == 0


def test_two_instances_racing_for_an_empty_location_one_wins(tmp_path, target):
    servers = [backup_server(tmp_path / f"r{i}", target) for i in range(3)]
    outcomes = [None] * len(servers)

    def race(i):
        try:
            servers[i].start()
            outcomes[i] = "writer"
        except RuntimeError as err:
            outcomes[i] = str(err)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(servers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [i for i, o in enumerate(outcomes) if o == "writer"]
    assert len(winners) == 1, outcomes
    for i, outcome in enumerate(outcomes):
        if i not in winners:
            assert "held by another writer" in outcome, outcome
    assert servers[winners[0]].stop() == 0


ENCRYPTION_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
OWN_KEY = "b3duLWtleS1mb3ItdGhpcy1hY2NvdW50LW9ubHktMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="


def test_a_restore_brings_back_keys_roles_and_certificate_encrypted(tmp_path, target):
    """A pod restored on a fresh volume comes up as the account it was: its
    keys, role assignments and certificate come from the backup, which holds
    them (and the documents) only encrypted."""
    url, env = target
    source_dir = tmp_path / "a"
    source = backup_server(source_dir, target, "--key", OWN_KEY,
                           "--backup-encryption-key", ENCRYPTION_KEY).start()
    assigned = cli("rbac", "assign", "--principal", "restored-principal",
                   "--role", "00000000-0000-0000-0000-000000000001", "--data-dir", str(source_dir))
    assert assigned.returncode == 0, assigned.stderr
    client = CosmosClient(source.endpoint, OWN_KEY, connection_verify=False)
    container = client.create_database("shop").create_container("orders", PartitionKey("/pk"))
    container.create_item({"id": "1", "pk": "a", "secret": "plain-text-marker-4711"})
    time.sleep(2.5)  # the role assignment and the item ship within a second or two
    assert source.stop() == 0
    if url.startswith("file://"):
        stored = b"".join(p.read_bytes() for p in (tmp_path / "backup").rglob("*") if p.is_file())
        assert b"plain-text-marker-4711" not in stored
        assert OWN_KEY.encode() not in stored and b"restored-principal" not in stored
        assert b"BEGIN CERTIFICATE" not in stored and b"PRIVATE KEY" not in stored

    without_key = cli("restore", "--from", url, "--data-dir", str(tmp_path / "c"), env=env)
    assert without_key.returncode != 0
    assert "--backup-encryption-key" in without_key.stderr, without_key.stderr

    restored_dir = tmp_path / "b"
    restored = backup_server(restored_dir, target, "--backup-encryption-key", ENCRYPTION_KEY).start()
    try:
        assert any("Restored the account's" in line for line in restored.output), restored.output
        again = CosmosClient(restored.endpoint, OWN_KEY, connection_verify=False)
        item = again.get_database_client("shop").get_container_client("orders").read_item("1", "a")
        assert item["secret"] == "plain-text-marker-4711"
        well_known = requests.get(restored.endpoint, verify=False, headers={"x-ms-version": "2020-07-15"})
        assert well_known.status_code == 401
        listed = cli("rbac", "list", "--data-dir", str(restored_dir))
        assert "restored-principal" in listed.stdout, listed.stdout
        assert (restored_dir / "cert.pem").read_bytes() == (source_dir / "cert.pem").read_bytes()
        assert (restored_dir / "key.pem").stat().st_mode & 0o077 == 0
    finally:
        restored.stop()
