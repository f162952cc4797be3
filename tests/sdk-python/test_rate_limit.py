"""The opt-in rate limiter: a container that spends more than its RU/s gets 429
with x-ms-retry-after-ms, and the SDK's own retries carry a burst through."""
import pytest
from azure.cosmos import CosmosClient, PartitionKey

from conftest import KEY, unique
from rest import RestClient
from server import Server


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    server = Server(str(tmp_path_factory.mktemp("limited")), extra_args=["--rate-limit"]).start()
    yield server
    server.stop()


def test_overspending_gets_429_and_sdk_retries(limited):
    client = CosmosClient(limited.endpoint, KEY, connection_verify=False)
    db = client.create_database(unique("rl"))
    c = db.create_container("c", PartitionKey(path="/pk"), offer_throughput=400)
    rest = RestClient(limited.endpoint, KEY)
    link = f"dbs/{db.id}/colls/c"
    statuses, throttled = [], None
    pad = "x" * 10_000  # about 57 RU a create
    for i in range(40):
        r = rest.request("POST", f"/{link}/docs", "docs", link, body={"id": f"raw{i}", "pk": "p", "pad": pad},
                         headers={"x-ms-documentdb-partitionkey": '["p"]'})
        statuses.append(r.status_code)
        if r.status_code == 429 and throttled is None:
            throttled = r
    assert 429 in statuses, "about 2,300 RU against a 400 RU/s budget must be throttled"
    assert set(statuses) <= {201, 429}
    assert int(throttled.headers["x-ms-retry-after-ms"]) >= 1
    assert throttled.headers["x-ms-substatus"] == "3200"
    # Only what was admitted is stored.
    stored = list(c.query_items("SELECT VALUE COUNT(1) FROM c", partition_key="p"))
    assert stored == [statuses.count(201)]
    # The SDK waits as told and retries: every create of a burst lands.
    for i in range(15):
        c.create_item({"id": f"sdk{i}", "pk": "q", "pad": pad})
    assert list(c.query_items("SELECT VALUE COUNT(1) FROM c", partition_key="q")) == [15]
