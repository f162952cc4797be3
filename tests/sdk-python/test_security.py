"""Security through the SDK and raw HTTP, each against a server of its own:
read-only keys, key rotation without restart, resource tokens (scope,
partition key, mode, expiry, revocation), the IP firewall and bring-your-own TLS."""
import os
import socket
import ssl
import subprocess
import time

import pytest
import requests
from azure.cosmos import CosmosClient, PartitionKey, exceptions

from conftest import KEY
from rest import RestClient
from server import BINARY, Server


def keys_of(data_dir):
    out = subprocess.run([BINARY, "keys", "list", "--data-dir", data_dir], capture_output=True,
                         text=True, check=True).stdout
    return dict(line.split() for line in out.splitlines())


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("secured"))
    server = Server(data_dir).start()
    server.data_dir = data_dir
    client = CosmosClient(server.endpoint, KEY, connection_verify=False)
    db = client.create_database("sec")
    orders = db.create_container("orders", PartitionKey(path="/pk"))
    db.create_container("secrets", PartitionKey(path="/pk"))
    for pk in ("p1", "p2"):
        orders.create_item({"id": f"o-{pk}", "pk": pk})
    yield server
    server.stop()


def test_read_only_keys_read_and_query_but_never_write(secured):
    keys = keys_of(secured.data_dir)
    assert keys["primary"] == KEY
    assert len({keys[k] for k in keys}) == 4
    for name in ("primary-readonly", "secondary-readonly"):
        reader = CosmosClient(secured.endpoint, keys[name], connection_verify=False)
        orders = reader.get_database_client("sec").get_container_client("orders")
        assert orders.read_item("o-p1", partition_key="p1")["pk"] == "p1"
        assert len(list(orders.query_items("SELECT * FROM c", enable_cross_partition_query=True))) == 2
        with pytest.raises(exceptions.CosmosHttpResponseError) as err:
            orders.create_item({"id": "nope", "pk": "p1"})
        assert err.value.status_code == 403
        assert "read-only" in err.value.message or "can only read" in err.value.message
        with pytest.raises(exceptions.CosmosHttpResponseError) as err:
            reader.create_database("nope")
        assert err.value.status_code == 403
    # Nothing was written.
    admin = CosmosClient(secured.endpoint, KEY, connection_verify=False)
    assert [d["id"] for d in admin.list_databases()] == ["sec"]


def test_keys_rotate_without_a_restart(secured):
    old = keys_of(secured.data_dir)["secondary"]
    rest_old = RestClient(secured.endpoint, old)
    assert rest_old.request("GET", "/dbs", "dbs", "").status_code == 200
    out = subprocess.run([BINARY, "keys", "rotate", "secondary", "--data-dir", secured.data_dir],
                         capture_output=True, text=True, check=True).stdout
    new = out.split()[-1]
    assert new != old and keys_of(secured.data_dir)["secondary"] == new
    keys_file = os.path.join(secured.data_dir, "keys.json")
    assert os.stat(keys_file).st_mode & 0o077 == 0, "the keys file must be private"
    deadline = time.time() + 5
    while rest_old.request("GET", "/dbs", "dbs", "").status_code != 401:
        assert time.time() < deadline, "the old key still works"
        time.sleep(0.2)
    assert RestClient(secured.endpoint, new).request("GET", "/dbs", "dbs", "").status_code == 200
    # The primary was untouched.
    assert RestClient(secured.endpoint, KEY).request("GET", "/dbs", "dbs", "").status_code == 200


def permission(secured, user_id, body, expiry=None):
    admin = CosmosClient(secured.endpoint, KEY, connection_verify=False)
    db = admin.get_database_client("sec")
    try:
        user = db.create_user({"id": user_id})
    except exceptions.CosmosResourceExistsError:
        user = db.get_user_client(user_id)
    headers = {"x-ms-documentdb-expiry-seconds": str(expiry)} if expiry else None
    created = user.create_permission(body)
    if headers:
        rest = RestClient(secured.endpoint, KEY)
        link = f"dbs/sec/users/{user_id}/permissions/{body['id']}"
        return rest.request("GET", f"/{link}", "permissions", link, headers=headers).json()["_token"]
    return created.properties["_token"]


def token_client(secured, resource, token):
    return CosmosClient(secured.endpoint, {resource: token}, connection_verify=False)


def test_resource_tokens_reach_their_resource_only(secured):
    link = "dbs/sec/colls/orders"
    reader = permission(secured, "reader", {"id": "read-orders", "permissionMode": "Read", "resource": link})
    orders = token_client(secured, link, reader).get_database_client("sec").get_container_client("orders")
    assert orders.read_item("o-p1", partition_key="p1")["id"] == "o-p1"
    assert len(list(orders.query_items("SELECT * FROM c", partition_key="p2"))) == 1
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        orders.upsert_item({"id": "o-p1", "pk": "p1", "changed": True})
    assert err.value.status_code == 403 and "Read permission" in err.value.message
    # A token for one container does not open another.
    rest = RestClient(secured.endpoint, KEY)
    other = "dbs/sec/colls/secrets"
    r = requests.get(f"{secured.endpoint}{other}/docs", verify=False, headers={
        "authorization": requests.utils.quote(reader, safe=""), "x-ms-version": "2020-07-15",
        "x-ms-date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())})
    assert r.status_code == 403 and "grants access to 'dbs/sec/colls/orders' only" in r.json()["message"]
    assert rest.request("GET", "/dbs/sec/colls/orders/docs/o-p1", "docs", "dbs/sec/colls/orders/docs/o-p1",
                        headers={"x-ms-documentdb-partitionkey": '["p1"]'}).json().get("changed") is None


def test_partition_scoped_tokens_and_all_mode(secured):
    link = "dbs/sec/colls/orders"
    token = permission(secured, "writer", {"id": "p1-only", "permissionMode": "All", "resource": link,
                                           "resourcePartitionKey": ["p1"]})
    orders = token_client(secured, link, token).get_database_client("sec").get_container_client("orders")
    orders.upsert_item({"id": "new", "pk": "p1"})
    assert orders.read_item("new", partition_key="p1")["pk"] == "p1"
    for action in (lambda: orders.read_item("o-p2", partition_key="p2"),
                   lambda: orders.create_item({"id": "x", "pk": "p2"})):
        with pytest.raises(exceptions.CosmosHttpResponseError) as err:
            action()
        assert err.value.status_code == 403 and "limited to partition key" in err.value.message


def test_expired_deleted_and_rotated_tokens_are_refused(secured):
    link = "dbs/sec/colls/orders"
    short = permission(secured, "brief", {"id": "brief", "permissionMode": "Read", "resource": link}, expiry=1)
    time.sleep(2.1)
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        token_client(secured, link, short).get_database_client("sec").get_container_client("orders") \
            .read_item("o-p1", partition_key="p1")
    assert err.value.status_code == 401 and "expired" in err.value.message

    token = permission(secured, "gone", {"id": "gone", "permissionMode": "Read", "resource": link})
    orders = token_client(secured, link, token).get_database_client("sec").get_container_client("orders")
    assert orders.read_item("o-p1", partition_key="p1")
    CosmosClient(secured.endpoint, KEY, connection_verify=False).get_database_client("sec") \
        .get_user_client("gone").delete_permission("gone")
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        orders.read_item("o-p1", partition_key="p1")
    assert err.value.status_code == 401 and "no longer exists" in err.value.message


@pytest.fixture(scope="module")
def firewalled(tmp_path_factory):
    server = Server(str(tmp_path_factory.mktemp("fw")), extra_args=["--allow-ip", "10.1.2.3,192.168.0.0/16"]).start()
    yield server
    server.stop()


def test_the_firewall_names_the_blocked_address(firewalled):
    r = RestClient(firewalled.endpoint, KEY).request("GET", "/dbs", "dbs", "")
    assert r.status_code == 403
    message = r.json()["message"]
    assert "127.0.0.1" in message and "firewall" in message
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        CosmosClient(firewalled.endpoint, KEY, connection_verify=False, retry_total=0).list_databases()
        raise AssertionError("the firewall let the SDK in")
    assert err.value.status_code == 403


def test_an_allowed_range_gets_in(tmp_path):
    server = Server(str(tmp_path / "d"), extra_args=["--allow-ip", "127.0.0.0/8"]).start()
    assert RestClient(server.endpoint, KEY).request("GET", "/dbs", "dbs", "").status_code == 200
    assert server.stop() == 0


def test_bring_your_own_certificate_tls_12_and_up(tmp_path):
    source = str(tmp_path / "cert-source")
    # A certificate made by another server, exported as clients would trust it.
    Server(source).start().stop()
    subprocess.run([BINARY, "cert", "export", "--data-dir", source, "--out", str(tmp_path / "ca.pem")], check=True)
    server = Server(str(tmp_path / "d"), extra_args=[
        "--tls-cert", os.path.join(source, "cert.pem"), "--tls-key", os.path.join(source, "key.pem")]).start()
    # The server presents exactly the certificate it was given.
    r = requests.get(server.endpoint, verify=str(tmp_path / "ca.pem"))
    assert r.status_code == 401
    port = int(server.endpoint.rstrip("/").rsplit(":", 1)[1])
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            with old.wrap_socket(sock):
                pass
    assert server.stop() == 0


def test_a_client_that_trickles_its_headers_is_cut_off(tmp_path):
    server = Server(str(tmp_path / "d"), extra_args=["--http-port", "0"]).start()
    line = ""
    while "listening on http://" not in line:
        line = server.process.stdout.readline()
        assert line, "no plain HTTP listener"
    port = int(line.strip().rstrip("/").rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /dbs HTTP/1.1\r\nHost: x\r\n")
        sock.settimeout(20)
        started = time.time()
        try:
            data = sock.recv(1024)
        except ConnectionResetError:
            data = b""
        assert time.time() - started < 15, "the server waited on a slow client"
        assert not data or data.startswith(b"HTTP/1.1 408")
    assert server.stop() == 0


def test_queries_past_the_time_limit_get_408(tmp_path):
    server = Server(str(tmp_path / "d"), extra_args=["--query-timeout", "0s"]).start()
    client = CosmosClient(server.endpoint, KEY, connection_verify=False, retry_total=0)
    container = client.create_database("q").create_container("c", PartitionKey(path="/pk"))
    container.create_item({"id": "1", "pk": "p"})
    assert container.read_item("1", partition_key="p")["id"] == "1"
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        list(container.query_items("SELECT * FROM c", partition_key="p"))
    assert err.value.status_code == 408 and "time limit" in err.value.message
    assert server.stop() == 0


def test_connections_beyond_the_limit_are_closed(tmp_path):
    server = Server(str(tmp_path / "d"), extra_args=["--max-connections", "2"]).start()
    port = int(server.endpoint.rstrip("/").rsplit(":", 1)[1])
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
    time.sleep(0.2)
    extra = socket.create_connection(("127.0.0.1", port))
    extra.settimeout(5)
    try:
        assert extra.recv(1) == b"", "a third connection was kept open"
    except ConnectionResetError:
        pass
    extra.close()
    for sock in held:
        sock.close()
    time.sleep(0.2)
    assert RestClient(server.endpoint, KEY).request("GET", "/dbs", "dbs", "").status_code == 200
    assert server.stop() == 0
