"""Time to live through the Python SDK: expired items vanish at once."""
import time

import pytest
from azure.cosmos import PartitionKey, exceptions

from conftest import unique


def test_items_expire(database):
    # Expiry counts whole seconds from _ts, so a 2-second TTL is still readable right after the write.
    c = database.create_container(unique("ttl"), PartitionKey(path="/pk"), default_ttl=2)
    assert c.read()["defaultTtl"] == 2
    c.create_item({"id": "short", "pk": "p"})
    c.create_item({"id": "forever", "pk": "p", "ttl": -1})
    c.create_item({"id": "long", "pk": "p", "ttl": 3600})
    assert c.read_item("short", partition_key="p")["id"] == "short"
    time.sleep(3.1)
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        c.read_item("short", partition_key="p")
    assert sorted(c.query_items("SELECT VALUE c.id FROM c", enable_cross_partition_query=True)) == ["forever", "long"]
    assert sorted(d["id"] for d in c.read_all_items()) == ["forever", "long"]
    # The id is free again.
    c.create_item({"id": "short", "pk": "p", "ttl": 3600})
    assert c.read_item("short", partition_key="p")["ttl"] == 3600


def test_ttl_is_opt_in_per_item_with_minus_one(database):
    c = database.create_container(unique("ttl"), PartitionKey(path="/pk"), default_ttl=-1)
    c.create_item({"id": "kept", "pk": "p"})
    c.create_item({"id": "brief", "pk": "p", "ttl": 1})
    time.sleep(2.1)
    assert [d["id"] for d in c.read_all_items()] == ["kept"]
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        c.create_item({"id": "bad", "pk": "p", "ttl": 0})
    assert err.value.status_code == 400
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        database.create_container(unique("ttl"), PartitionKey(path="/pk"), default_ttl=0)
    assert err.value.status_code == 400
