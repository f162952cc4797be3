"""Connecting as a Cosmos DB for MongoDB application does: the connection
string the server prints (TLS, replicaSet=globaldb), SCRAM with account keys,
read-only keys, and the handshake commands."""
import socket
import struct

import bson
import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure


def test_the_printed_tls_connection_string_works(server):
    url = server.tls_url
    assert url.startswith("mongodb://") and "replicaSet=globaldb" in url and "ssl=true" in url
    with MongoClient(url, tlsAllowInvalidCertificates=True, serverSelectionTimeoutMS=10000) as c:
        hello = c.admin.command("hello")
        assert hello["setName"] == "globaldb" and hello["isWritablePrimary"] is True
        assert hello["maxWireVersion"] >= 17
        c.tlsdb.things.insert_one({"_id": 1, "over": "tls"})
        assert c.tlsdb.things.find_one({"_id": 1})["over"] == "tls"
        c.drop_database("tlsdb")


def test_the_certificate_is_the_servers(server):
    path = server.data_dir + "/cert.pem"
    with MongoClient(server.tls_url, tlsCAFile=path, serverSelectionTimeoutMS=10000) as c:
        assert c.admin.command("ping")["ok"] == 1


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_every_key_authenticates_with_both_mechanisms(server, mechanism):
    keys = server.keys()
    for kind in ["primary", "secondary", "primaryReadOnly", "secondaryReadOnly"]:
        with MongoClient(f"mongodb://localhost:{server.port()}/", username="localhost",
                         password=keys[kind], authMechanism=mechanism,
                         serverSelectionTimeoutMS=10000) as c:
            assert c.admin.command("listDatabases")["ok"] == 1


def test_a_wrong_key_is_refused(server):
    with MongoClient(f"mongodb://localhost:{server.port()}/", username="localhost",
                     password="bm90IHRoZSBrZXk=", serverSelectionTimeoutMS=10000) as c:
        with pytest.raises(OperationFailure) as err:
            c.admin.command("listDatabases")
        assert err.value.code == 18


def test_without_credentials_only_the_handshake_runs(server):
    with MongoClient(f"mongodb://localhost:{server.port()}/", serverSelectionTimeoutMS=10000) as c:
        assert c.admin.command("ping")["ok"] == 1
        with pytest.raises(OperationFailure) as err:
            c.anything.things.find_one()
        assert err.value.code == 13


def test_a_read_only_key_reads_and_cannot_write(server, client):
    client.rodb.things.insert_one({"_id": "x"})
    with MongoClient(f"mongodb://localhost:{server.port()}/", username="localhost",
                     password=server.keys()["primaryReadOnly"],
                     serverSelectionTimeoutMS=10000) as c:
        assert c.rodb.things.find_one({"_id": "x"}) == {"_id": "x"}
        with pytest.raises(OperationFailure) as err:
            c.rodb.things.insert_one({"_id": "y"})
        assert err.value.code == 13
        with pytest.raises(OperationFailure):
            c.drop_database("rodb")
    assert client.rodb.things.count_documents({}) == 1
    client.drop_database("rodb")


def test_handshake_commands(client):
    info = client.server_info()
    assert info["version"].startswith("6.")
    assert client.admin.command("ping")["ok"] == 1
    assert client.admin.command({"isMaster": 1})["ismaster"] is True
    with pytest.raises(OperationFailure) as err:
        client.admin.command("noSuchCommand")
    assert err.value.code == 59


def _message(request_id, body):
    payload = struct.pack("<I", 0) + b"\x00" + body
    return struct.pack("<iiii", 16 + len(payload), request_id, 0, 2013) + payload


def _reply(sock):
    header = sock.recv(16, socket.MSG_WAITALL)
    length, _, response_to, _ = struct.unpack("<iiii", header)
    body = sock.recv(length - 16, socket.MSG_WAITALL)
    return response_to, bson.decode(body[5:])


def test_malformed_messages_get_errors_and_the_connection_survives(server):
    with socket.create_connection(("127.0.0.1", server.port())) as sock:
        # A document whose length is a lie.
        sock.sendall(_message(1, b"\x40\x00\x00\x00\x10a\x00"))
        to, reply = _reply(sock)
        assert to == 1 and reply["ok"] == 0 and reply["code"] in (17, 22)
        # Bytes that are no BSON at all, inside a well-framed message.
        sock.sendall(_message(2, b"\x0c\x00\x00\x00\x7fzz\x00\x00\x00\x00\x00"))
        to, reply = _reply(sock)
        assert to == 2 and reply["ok"] == 0
        # The connection still answers.
        sock.sendall(_message(3, bson.encode({"ping": 1, "$db": "admin"})))
        to, reply = _reply(sock)
        assert to == 3 and reply["ok"] == 1


def test_an_oversized_message_closes_only_its_connection(server, client):
    with socket.create_connection(("127.0.0.1", server.port())) as sock:
        sock.sendall(struct.pack("<iiii", 60_000_000, 1, 0, 2013))
        sock.settimeout(5)
        assert sock.recv(16) == b""
    assert client.admin.command("ping")["ok"] == 1
