"""Role assignments made on one gateway hold on the others: an Entra ID
principal given the Data Reader role through one gateway's `cosmonaut rbac`
reads through another within seconds, and still cannot write."""
import json
import subprocess
import time
import uuid

from azure.cosmos import CosmosClient, PartitionKey, exceptions

from conftest import KEY
from server import BINARY, Server
from test_entra_id import ISSUER, READER, TENANT, Issuer, StaticCredential


def test_a_role_assigned_on_one_gateway_holds_on_another(postgres, tmp_path):
    url = postgres.database()
    issuer = Issuer()
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(issuer.jwks()))
    aad = ["--aad-jwks", str(jwks), "--aad-issuer", ISSUER, "--aad-tenant", TENANT]
    gateways = [Server(str(tmp_path / f"gw{i}"), extra_args=["--store", url, *aad]).start()
                for i in range(2)]
    try:
        admin = CosmosClient(gateways[0].endpoint, KEY, connection_verify=False)
        admin.create_database("shop").create_container("orders", PartitionKey(path="/pk")) \
            .create_item({"id": "seed", "pk": "p"})
        oid = str(uuid.uuid4())
        subprocess.run([BINARY, "rbac", "assign", "--principal", oid, "--role", READER,
                        "--scope", "/dbs/shop", "--data-dir", gateways[0].data_dir],
                       capture_output=True, text=True, check=True)
        deadline = time.time() + 15
        while True:
            try:
                # The client reads the account as it starts: that needs the role too.
                other = CosmosClient(gateways[1].endpoint, StaticCredential(issuer.token(oid)),
                                     connection_verify=False, retry_total=0)
                orders = other.get_database_client("shop").get_container_client("orders")
                assert orders.read_item("seed", partition_key="p")["id"] == "seed"
                break
            except exceptions.CosmosHttpResponseError as err:
                assert err.status_code == 403, err.message
                assert time.time() < deadline, "the role did not reach the other gateway"
                time.sleep(0.3)
        try:
            orders.create_item({"id": "x", "pk": "p"})
            raise AssertionError("a reader wrote")
        except exceptions.CosmosHttpResponseError as err:
            assert err.status_code == 403
    finally:
        for g in gateways:
            g.stop()
