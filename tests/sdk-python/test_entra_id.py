"""Entra ID (AAD) tokens with data-plane RBAC, through the Python SDK's
TokenCredential support, against a server that trusts a test issuer whose
keys the test holds."""
import base64
import json
import subprocess
import time
import uuid

import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.cosmos import CosmosClient, PartitionKey, exceptions
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import KEY
from rest import RestClient
from server import BINARY, Server

TENANT = str(uuid.uuid4())
ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
AUDIENCE = "https://cosmos.azure.com"
READER = "00000000-0000-0000-0000-000000000001"
CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"


def b64(n):
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Issuer:
    """A test token issuer: an RSA key, its JWKS and tokens signed with it."""

    def __init__(self, kid="test-key"):
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self):
        numbers = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
                          "n": b64(numbers.n), "e": b64(numbers.e)}]}

    def token(self, oid, **overrides):
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "tid": TENANT, "oid": oid,
                  "iat": now, "nbf": now, "exp": now + 3600}
        claims.update(overrides)
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


class StaticCredential:
    """A TokenCredential, as DefaultAzureCredential is to the SDK."""

    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture(scope="module")
def entra(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("entra"))
    issuer = Issuer()
    jwks = tmp_path_factory.mktemp("jwks") / "jwks.json"
    jwks.write_text(json.dumps(issuer.jwks()))
    server = Server(data_dir, extra_args=["--aad-jwks", str(jwks), "--aad-issuer", ISSUER,
                                          "--aad-tenant", TENANT]).start()
    admin = CosmosClient(server.endpoint, KEY, connection_verify=False)
    db = admin.create_database("shop")
    for name in ("orders", "audit"):
        db.create_container(name, PartitionKey(path="/pk")).create_item({"id": "seed", "pk": "p"})
    server.issuer, server.data_dir = issuer, data_dir
    yield server
    server.stop()


def rbac(server, *args):
    return subprocess.run([BINARY, "rbac", *args, "--data-dir", server.data_dir],
                          capture_output=True, text=True, check=True).stdout


def assign(server, oid, role, scope):
    rbac(server, "assign", "--principal", oid, "--role", role, "--scope", scope)
    time.sleep(1.5)  # the server rereads rbac.json within a second


def orders_as(server, token, container="orders"):
    client = CosmosClient(server.endpoint, StaticCredential(token), connection_verify=False, retry_total=0)
    return client.get_database_client("shop").get_container_client(container)


def test_without_a_role_even_the_account_is_refused_by_name(entra):
    oid = str(uuid.uuid4())
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        orders_as(entra, entra.issuer.token(oid)).read_item("seed", partition_key="p")
    assert err.value.status_code == 403
    assert oid in err.value.message and "readMetadata" in err.value.message


def test_data_reader_reads_and_queries_but_cannot_write(entra):
    oid = str(uuid.uuid4())
    assign(entra, oid, READER, "/dbs/shop")
    orders = orders_as(entra, entra.issuer.token(oid))
    assert orders.read_item("seed", partition_key="p")["id"] == "seed"
    assert [d["id"] for d in orders.query_items("SELECT * FROM c", partition_key="p")] == ["seed"]
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        orders.create_item({"id": "x", "pk": "p"})
    assert err.value.status_code == 403 and "items/create" in err.value.message


def test_contributor_at_container_scope_writes_there_only(entra):
    oid = str(uuid.uuid4())
    assign(entra, oid, CONTRIBUTOR, "/dbs/shop/colls/orders")
    token = entra.issuer.token(oid)
    orders = orders_as(entra, token)
    orders.upsert_item({"id": "by-aad", "pk": "p"})
    orders.delete_item("by-aad", partition_key="p")
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        orders_as(entra, token, "audit").create_item({"id": "x", "pk": "p"})
    assert err.value.status_code == 403
    # Management operations are not the data plane's, whatever the role.
    client = CosmosClient(entra.endpoint, StaticCredential(token), connection_verify=False, retry_total=0)
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        client.create_database("nope")
    assert err.value.status_code == 403 and "management operation" in err.value.message


def test_custom_roles_with_not_data_actions(entra):
    out = rbac(entra, "create-role", "--name", "no-deletes", "--data-actions",
               "Microsoft.DocumentDB/databaseAccounts/readMetadata,"
               "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/*",
               "--not-data-actions",
               "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/delete")
    assert "created" in out
    oid = str(uuid.uuid4())
    assign(entra, oid, "no-deletes", "/")
    orders = orders_as(entra, entra.issuer.token(oid))
    orders.create_item({"id": "kept", "pk": "p"})
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        orders.delete_item("kept", partition_key="p")
    assert err.value.status_code == 403 and "items/delete" in err.value.message
    assert "no-deletes" in rbac(entra, "list")


@pytest.mark.parametrize("problem, overrides, message", [
    ("wrong audience", {"aud": "https://storage.azure.com"}, "audience"),
    ("wrong issuer", {"iss": "https://evil.example/v2.0"}, "issuer"),
    ("expired", {"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200}, "expired"),
    ("wrong tenant", {"tid": str(uuid.uuid4())}, "tenant"),
])
def test_bad_tokens_get_401_saying_why(entra, problem, overrides, message):
    oid = str(uuid.uuid4())
    token = entra.issuer.token(oid, **overrides)
    r = RestClient(entra.endpoint, KEY).session.get(
        entra.endpoint + "dbs", verify=False,
        headers={"authorization": f"type%3Daad%26ver%3D1.0%26sig%3D{token}",
                 "x-ms-date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
                 "x-ms-version": "2020-07-15"})
    assert r.status_code == 401, problem
    assert message in r.json()["message"], r.json()["message"]


def test_a_token_signed_by_another_key_is_refused(entra):
    forger = Issuer(kid="test-key")
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        orders_as(entra, forger.token(str(uuid.uuid4()))).read_item("seed", partition_key="p")
    assert err.value.status_code == 401 and "signature" in err.value.message
    stranger = Issuer(kid="unknown")
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        orders_as(entra, stranger.token(str(uuid.uuid4()))).read_item("seed", partition_key="p")
    assert err.value.status_code == 401 and "not in the configured key set" in err.value.message


def test_the_dev_issuer_serves_default_azure_credential(tmp_path, monkeypatch):
    """`serve --aad-dev-issuer`: DefaultAzureCredential gets tokens from the
    server's managed-identity endpoint, and role assignments apply to them."""
    from azure.identity import DefaultAzureCredential

    data_dir = str(tmp_path / "data")
    server = Server(data_dir, extra_args=["--aad-dev-issuer", "--http-port", "0"]).start()
    try:
        settings = {}
        while "IDENTITY_HEADER" not in settings:
            line = server.process.stdout.readline()
            assert line, "no dev issuer line"
            for part in line.split():
                if part.startswith(("IDENTITY_ENDPOINT=", "IDENTITY_HEADER=")):
                    name, value = part.split("=", 1)
                    settings[name] = value
        assert settings["IDENTITY_ENDPOINT"].startswith("http://")
        for name in ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
                     "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT", "MSI_SECRET"]:
            monkeypatch.delenv(name, raising=False)
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        admin = CosmosClient(server.endpoint, KEY, connection_verify=False)
        db = admin.create_database("devdb")
        db.create_container("c", PartitionKey("/pk"))
        credential = DefaultAzureCredential(
            exclude_shared_token_cache_credential=True, exclude_visual_studio_code_credential=True,
            exclude_cli_credential=True, exclude_powershell_credential=True,
            exclude_developer_cli_credential=True)
        principal = "c05a0a07-0000-4000-8000-000000000001"

        def assign(role):
            subprocess.run([BINARY, "rbac", "assign", "--principal", principal, "--role", role,
                            "--data-dir", data_dir], check=True, capture_output=True)
            time.sleep(1.5)  # the server rereads the assignments when the file changes

        assign(READER)
        client = CosmosClient(server.endpoint, credential, connection_verify=False)
        container = client.get_database_client("devdb").get_container_client("c")
        # A reader's valid token reads but may not write.
        assert list(container.query_items("SELECT * FROM c", partition_key="p")) == []
        with pytest.raises(exceptions.CosmosHttpResponseError) as err:
            container.create_item({"id": "a", "pk": "p"})
        assert err.value.status_code == 403
        assign(CONTRIBUTOR)
        deadline = time.time() + 10
        while True:
            try:
                container.create_item({"id": "a", "pk": "p"})
                break
            except exceptions.CosmosHttpResponseError as e:
                if e.status_code != 403 or time.time() > deadline:
                    raise
                time.sleep(0.2)
        assert container.read_item("a", partition_key="p")["id"] == "a"
        # `rbac dev-token` prints a token for another principal, which has no role.
        token = subprocess.run([BINARY, "rbac", "dev-token", "--principal", "someone-else",
                                "--data-dir", data_dir], check=True, capture_output=True,
                               text=True).stdout.strip()
        with pytest.raises(exceptions.CosmosHttpResponseError) as err:
            other = CosmosClient(server.endpoint, StaticCredential(token), connection_verify=False)
            other.get_database_client("devdb").get_container_client("c").read_item("a", partition_key="p")
        assert err.value.status_code == 403 and "someone-else" in err.value.message
    finally:
        server.stop()
